#!/bin/bash
# The README's quick start, run as written: every block between "<!-- quickstart:begin NAME -->"
# and "<!-- quickstart:end -->" but "install" (tests/0310-package.t installs the package) runs
# under bash -e, in order, as root, against a private Postfix, a private Dovecot, a private
# Rspamd and the stand-in SPOT API. The test then checks what the README says happens.
#
# The blocks' text is the README's; only these strings are replaced, so that nothing of the
# machine's own configuration is touched:
#   /usr/bin/spot-deliver          -> $T/bin/spot-deliver, which runs $BIN -c $T/etc/spot-deliver.conf;
#                                     $T/bin comes first in PATH, for the bare "spot-deliver"
#   /etc/spot-deliver.conf, .key   -> $T/etc/spot-deliver.conf, $T/etc/spot-deliver.key
#   /etc/postfix                   -> $PF/etc, and MAIL_CONFIG=$PF/etc for postconf and postfix
#   /var/lib/spot-deliver          -> $T/state
#   /usr/lib/dovecot/dovecot-lda   -> the same with -c $DC/dovecot.conf (the private Dovecot)
#   http://127.0.0.1:11333         -> $RSPAMD_URL
#   https://spot.example.net       -> $SPOT_URL;  YOUR-API-KEY -> the stand-in's key
#   127.0.0.1:25                   -> 127.0.0.1:$PF_PORT
# The "user" block creates the system user vmail, as the README says; the test refuses to run
# when a vmail user or group exists already, and removes both at exit.
. "$(dirname "$0")/lib.sh"
MTA_USER=vmail
. "$ROOT/tests/mta/mta.sh"
need_mta postfix postconf postqueue swaks dovecot /usr/lib/dovecot/dovecot-lda useradd userdel runuser
if getent passwd vmail >/dev/null || getent group vmail >/dev/null; then
	skip_all "a vmail user or group exists already; this test creates its own and removes it"
fi
# swaks says HELO with the host's name, which it looks up: from /etc/hosts, never from DNS
grep -q -w -F "$(hostname)" /etc/hosts ||
	skip_all "$(hostname) is not in /etc/hosts: swaks would ask DNS for it"
need_rspamd
SPOT_KEY=qs-key-$$
start_spot_api "$SPOT_KEY" clean

QS=$T/qs
mkdir -p "$QS" "$T/bin" "$T/work"
printf '#!/bin/sh\nexec %s -c %s "$@"\n' "$BIN" "$SPOT_CONF" >"$T/bin/spot-deliver"
chmod 755 "$T/bin/spot-deliver"
PF_PORT=unset

# what the machine has before: the test must leave it so
machine_state() {
	find /etc/postfix /var/lib/spot-deliver /etc/spot-deliver.conf /etc/spot-deliver.key \
		-printf '%p %U %G %m %s %T@\n' 2>/dev/null | sort
}
machine_before=$(machine_state)

# block NAME: print the README's quick-start block NAME, with the replacements above
block() {
	"$PY" - "$ROOT/README.md" "$1" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
found = re.findall(r"^<!-- quickstart:begin (\S+) -->\n```sh\n(.*?)^```\n<!-- quickstart:end -->$",
                   text, re.S | re.M)
blocks = [body for name, body in found if name == sys.argv[2]]
if len(blocks) != 1:
    sys.exit("README.md has %d quick-start blocks named %s" % (len(blocks), sys.argv[2]))
sys.stdout.write(blocks[0])
EOF
}
subst() {
	sed -e "s#/usr/bin/spot-deliver#$T/bin/spot-deliver#g" \
		-e "s#/etc/spot-deliver\.conf#$T/etc/spot-deliver.conf#g" \
		-e "s#/etc/spot-deliver\.key#$T/etc/spot-deliver.key#g" \
		-e "s#/etc/postfix#$PF/etc#g" \
		-e "s#/var/lib/spot-deliver#$T/state#g" \
		-e "s#/usr/lib/dovecot/dovecot-lda#/usr/lib/dovecot/dovecot-lda -c $DC/dovecot.conf#g" \
		-e "s#http://127\.0\.0\.1:11333#$RSPAMD_URL#g" \
		-e "s#https://spot\.example\.net#$SPOT_URL#g" \
		-e "s#YOUR-API-KEY#$SPOT_KEY#g" \
		-e "s#127\.0\.0\.1:25\b#127.0.0.1:$PF_PORT#g"
}
# run NAME: run block NAME under bash -e; its output in $QS/NAME.out, its exit status in
# $QS/NAME.rc. A block that still names a file of the machine after the replacements (a
# README change the list above does not cover) is not run: exit status 98.
run() {
	local rc=0
	if block "$1" >"$QS/$1.readme" 2>"$QS/$1.out"; then
		subst <"$QS/$1.readme" >"$QS/$1.sh"
		if sed "s#$T#@T@#g" "$QS/$1.sh" | grep -n -E \
			'(^|[^-A-Za-z0-9_.@])/(etc|var/lib|var/spool|var/mail|var/log|home|root|srv)(/|[^-A-Za-z0-9_.]|$)' \
			>"$QS/$1.out"; then
			rc=98
		else
			(cd "$T/work" && PATH=$T/bin:$PATH MAIL_CONFIG=$PF/etc bash -e -o pipefail "$QS/$1.sh") \
				</dev/null >"$QS/$1.out" 2>&1 || rc=$?
		fi
	else
		rc=99
	fi
	echo "$rc" >"$QS/$1.rc"
	[ "$rc" = 0 ] || { diag "quick start block $1 exited $rc:"; diag_file "$QS/$1.out" 30; }
}
rc_of() { cat "$QS/$1.rc"; }

# The user first: Dovecot's and Postfix's private instances run their deliveries as vmail.
run user
if [ "$(rc_of user)" = 0 ] || getent passwd vmail >/dev/null; then
	at_exit groupdel vmail
	at_exit userdel vmail
fi
getent passwd vmail >/dev/null || bail_out "the quick start's user block made no vmail user"
dc_init
BOB=$(dc_adduser bob@example.net unused)/Maildir
dc_start
pf_init
pf_start
plan 28

check "README: the install block is there" block install
check_grep "README: the install block builds and installs the package" \
	'^apt-get install -y \./build-deb/spot-deliver_\*\.deb$' "$out"
check_grep "README: and make deb" '^scripts/install-deps\.sh deb && make deb$' "$out"
check "README: make install PREFIX=/usr installs into /usr/bin, as the README says" \
	sh -c "grep -q 'make install PREFIX=/usr' '$ROOT/README.md' &&
		make -s -n -C '$ROOT' install PREFIX=/usr DESTDIR=/qs-nowhere | grep -q ' /qs-nowhere/usr/bin/spot-deliver'"

check_eq "user: the block exits 0" "$(rc_of user)" 0
check_eq "user: vmail is a system user" "$(($(id -u vmail) < 1000))" 1
check_eq "user: the state_dir belongs to vmail, mode 755" "$(stat -c '%U %a' "$T/state" 2>&1)" "vmail 755"

run config
check_eq "config: the block exits 0 (--check-config passes)" "$(rc_of config)" 0
check_eq "config: the key file belongs to vmail, mode 600" "$(stat -c '%U %a' "$T/etc/spot-deliver.key" 2>&1)" "vmail 600"
check_eq "config: it holds the key" "$(cat "$T/etc/spot-deliver.key")" "$SPOT_KEY"
check_grep "config: --check-config shows on_timeout = block" '^on_timeout = block$' "$QS/config.out"
check_grep "config: and the state_dir" "^state_dir = $T/state\$" "$QS/config.out"

run selftest
check_eq "selftest: exits 0 as vmail" "$(rc_of selftest)" 0
check_grep "selftest: the last line says selftest passed" '^selftest passed$' "$QS/selftest.out"
check_eq "selftest: no check failed" "$(grep -c '^FAIL' "$QS/selftest.out")" 0
check_grep "selftest: the API took the key" '^ok +api .*key accepted' "$QS/selftest.out"
check_grep "selftest: the state_dir is usable" "^ok +state_dir $T/state" "$QS/selftest.out"

run postfix
check_eq "postfix: the block exits 0 (postconf -e, postfix reload)" "$(rc_of postfix)" 0
check_eq "postfix: spot_destination_recipient_limit = 1" \
	"$(postconf -c "$PF/etc" -h spot_destination_recipient_limit 2>&1)" 1
check_grep "postfix: the spot transport is in master.cf" '^spot +unix .* pipe' "$PF/etc/master.cf"

run send
check_eq "send: both swaks runs exit 0" "$(rc_of send)" 0
sed -n 's/^<-  250 2\.0\.0 Ok: queued as \([0-9A-Za-z]*\).*/\1/p' "$QS/send.out" >"$QS/qids"
check_eq "send: Postfix queued two messages" "$(wc -l <"$QS/qids")" 2
ham=$(sed -n 1p "$QS/qids")
gtube=$(sed -n 2p "$QS/qids")
printf '%s\n' "$(pf_wait_status "${ham:-none}")" >"$QS/ham.status"
printf '%s\n' "$(pf_wait_status "${gtube:-none}")" >"$QS/gtube.status"
check_grep "send: the normal message: relay=spot, status=sent" 'relay=spot, .*status=sent' "$QS/ham.status"
check_eq "send: it is in bob's mailbox, once" "$(maildir_count "$BOB")" 1
got=$(maildir_files "$BOB" | head -n 1)
check_grep "send: with X-Spam-Scanner: rspamd" '^X-Spam-Scanner: rspamd$' "${got:-/dev/null}"
check_grep "send: and X-SPOT-Status: analyzed" '^X-SPOT-Status: analyzed$' "${got:-/dev/null}"
check_grep "send: GTUBE: dsn=5.7.1, status=bounced (Gtube pattern" \
	'relay=spot, .*dsn=5\.7\.1, status=bounced \(Gtube pattern' "$QS/gtube.status"

check_eq "the machine's /etc/postfix, /var/lib/spot-deliver and /etc/spot-deliver.* are as before" \
	"$(machine_state)" "$machine_before"
