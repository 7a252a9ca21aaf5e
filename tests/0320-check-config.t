#!/bin/bash
# Every mistake that can be found without sending mail is found when the
# configuration is loaded: --check-config exits 78 and names the file and line,
# a delivery defers (75, 4.3.5) before it asks anybody. --check-config names the
# file it read, -n prints what differs from the defaults and where it was set,
# --selftest opens the files a delivery opens.
. "$(dirname "$0")/lib.sh"
plan 87

# loopback only: nothing listens there, so the old code's deliveries were quick
port=$(free_port)
msg=$T/msg
printf 'From: a@example.org\nTo: b@example.org\nSubject: hi\n\nbody\n' >"$msg"
pem=$T/ca.pem
printf 'not looked at as PEM\n' >"$pem"
: >"$T/a-file"

# conf NAME LINE...: $T/NAME.conf, state_dir off, a short deadline
conf() {
	local name=$1
	shift
	{
		echo "# $name"
		printf '%s\n' "$@"
		echo "state_dir ="
		echo "timeout_ms = 300"
	} >"$T/$name.conf"
}

# bad NAME WHAT KEY=VALUE [ERE]: the setting is on line 2 of $T/NAME.conf
bad() {
	local name=$1 what=$2 setting=$3 re=${4:-}
	conf "$name" "$setting"
	check_exit "$what: --check-config exits 78" 78 env SPOT_API_KEY=k "$BIN" -c "$T/$name.conf" --check-config
	check_grep "$what: the message names $name.conf:2" "^spot-deliver: $T/$name\\.conf:2: .*$re" "$err"
	check_exit "$what: a delivery defers (75)" 75 env SPOT_API_KEY=k "$BIN" -c "$T/$name.conf" -f a@example.org \
		-r b@example.org -- /bin/cat <"$msg"
	check_grep "$what: ... with 4.3.5" '^4\.3\.5 ' "$out"
}

bad quotes 'a quoted URL' 'rspamd_url = "http://127.0.0.1:11333"' 'quotes'
bad ipv6 'an unclosed [::1' 'rspamd_url = http://[::1' 'IPv6'
bad port 'port 99999' 'rspamd_url = http://127.0.0.1:99999' '65535'
bad ftp 'ftp://' 'rspamd_url = ftp://127.0.0.1' 'scheme ftp'
bad space 'a space in the host' 'rspamd_url = http://127.0.0 .1:11333' '"\.1:11333"'
bad checkv2 'a trailing /checkv2' "rspamd_url = http://127.0.0.1:$port/checkv2" 'drop /checkv2'
bad member 'a bad second member' "rspamd_url = http://127.0.0.1:$port, http://[::1" 'IPv6'
bad api 'api_url ftp://' "api_url = ftp://127.0.0.1:$port/v1" 'api_url'
bad spool 'a missing spool_dir' "spool_dir = $T/no-such-dir" 'No such file'
bad spoolfile 'a file as spool_dir' "spool_dir = $T/a-file" 'not a directory'
bad ca 'a missing api_ca_file' "api_ca_file = $T/no-such.pem" 'No such file'

# a setting from the environment is named by its variable, one from argv as such
conf good "rspamd = no"
check_exit "a bad URL in the environment: exit 78" 78 env SPOT_DELIVER_RSPAMD_URL=ftp://127.0.0.1 \
	"$BIN" -c "$T/good.conf" --check-config
check_grep "... the message names the variable" \
	'^spot-deliver: environment SPOT_DELIVER_RSPAMD_URL: rspamd_url: "ftp://127\.0\.0\.1": the scheme ftp' "$err"
check_exit "a bad URL on the command line: exit 78" 78 "$BIN" -c "$T/good.conf" \
	--rspamd-url "http://127.0.0.1:$port/rspamd/checkv2/" --check-config
check_grep "... the message says command line" '^spot-deliver: command line: rspamd_url: .*drop /checkv2' "$err"

# As another user: what root may always do, nobody may not
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	mkdir "$T/root-spool" "$T/nobody-spool"
	chmod 755 "$T/root-spool"
	chown nobody "$T/nobody-spool"
	cp "$pem" "$T/root.pem"
	chmod 600 "$T/root.pem"
	as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
	conf nspool "spool_dir = $T/root-spool"
	check_exit "as nobody, a spool_dir it cannot write: --check-config exits 78" 78 \
		as_nobody "$BIN" -c "$T/nspool.conf" --check-config
	check_grep "... and says so, with the file and line" \
		"^spot-deliver: $T/nspool\\.conf:2: spool_dir $T/root-spool: not writable by uid [0-9]+" "$err"
	check_exit "... a delivery defers" 75 as_nobody "$BIN" -c "$T/nspool.conf" -- /bin/cat <"$msg"
	conf nca "spool_dir = $T/nobody-spool" "api_ca_file = $T/root.pem"
	check_exit "as nobody, an api_ca_file of mode 600: --check-config exits 78" 78 \
		as_nobody "$BIN" -c "$T/nca.conf" --check-config
	check_grep "... and says so, with the file and line" \
		"^spot-deliver: $T/nca\\.conf:3: api_ca_file $T/root\\.pem: Permission denied" "$err"
	check_exit "... --selftest exits 78 too" 78 as_nobody "$BIN" -c "$T/nca.conf" --selftest -- /bin/cat
	check_exit "... a delivery defers" 75 as_nobody "$BIN" -c "$T/nca.conf" -- /bin/cat <"$msg"
else
	for i in 1 2 3 4 5 6 7; do skip "as another user" "needs root and setpriv"; done
fi

# --selftest: the files a delivery opens
conf stself "rspamd = no"
check_exit "--selftest on a missing spool_dir: exit 78" 78 "$BIN" -c "$T/stself.conf" \
	-o spool_dir="$T/no-such-dir" --selftest -- /bin/cat
check_grep "... naming it" "spool_dir $T/no-such-dir: No such file" "$err"
check_exit "--selftest on a missing api_ca_file: exit 78" 78 "$BIN" -c "$T/stself.conf" \
	-o api_ca_file="$T/no-such.pem" --selftest -- /bin/cat
check_grep "... naming it" "api_ca_file $T/no-such\\.pem: No such file" "$err"
mkdir -m 755 "$T/state" "$T/spool"
check_exit "--selftest with everything in place: exit 0" 0 "$BIN" -c "$T/stself.conf" \
	-o state_dir="$T/state" -o spool_dir="$T/spool" -o api_ca_file="$pem" --selftest -- /bin/cat
check_grep "... a spool file was made in spool_dir" "^ok +spool_dir $T/spool: a spool file can be created" "$out"
check_grep "... the CA file was opened" "^ok +api_ca_file $T/ca\\.pem: readable" "$out"
check_grep "... state_dir's three files" "^ok +state_dir $T/state: .*deferrals2\\.db" "$out"
check "... deferrals2.db was created as a delivery would" test -f "$T/state/deferrals2.db"
check_eq "... and no spool file was left behind" "$(ls -A "$T/spool")" ""

# state_dir: a delivery goes on without it, --check-config says how to fix it
mkdir -m 777 "$T/state777"
chmod 777 "$T/state777" # whatever the umask
conf state "rspamd = no"
check_exit "a group/world-writable state_dir: --check-config still exits 0" 0 \
	"$BIN" -c "$T/state.conf" -o state_dir="$T/state777" --check-config
check_grep "... but warns with the install -d line" \
	"install -d -o $(id -un) -m 0755 $T/state777" "$err"
# (--selftest and a delivery on it: tests/0420-state.t)

# which file was read
check "--check-config with a file" "$BIN" -c "$T/state.conf" --check-config
check_eq "... its first line names it" "$(head -n 1 "$out")" "# read $T/state.conf"
check "--check-config with the default path" "$BIN" --check-config
check_grep "... says there is none, or names the one it read" \
	"^# (no config file: /[^ ]*spot-deliver\\.conf does not exist|read /[^ ]*spot-deliver\\.conf$)" "$out"

# -n: three settings from the file, the environment and the command line
cat >"$T/n.conf" <<EOF
# three non-defaults, one of them overridden, one equal to the default
mode = tag-only
timeout_ms = 5000
max_errors = 3
state_dir = /var/lib/spot-deliver
EOF
check "--check-config -n" env SPOT_DELIVER_TIMEOUT_MS=2000 "$BIN" -c "$T/n.conf" \
	--check-config -n --on-timeout block -o max_errors=10
printf '# read %s\n# environment SPOT_DELIVER_TIMEOUT_MS\ntimeout_ms = 2000\n# %s:2\nmode = tag-only\n# command line\non_timeout = block\n' \
	"$T/n.conf" "$T/n.conf" >"$T/n.want"
check_cmp "... prints only what differs from the defaults, each after its origin" "$out" "$T/n.want"
check "-n before --check-config" env SPOT_DELIVER_TIMEOUT_MS=2000 "$BIN" -c "$T/n.conf" \
	-n --on-timeout block -o max_errors=10 --check-config
check_cmp "... the same" "$out" "$T/n.want"
check_exit "-n without --check-config: a delivery defers" 75 "$BIN" -c "$T/state.conf" --log stderr -n -- /bin/cat <"$msg"
check_grep "... with the generic status line" '^4\.3\.5 Mail system configuration error$' "$out"
check_grep "... and the log saying -n goes only with --check-config" 'error: .*4\.3\.5 -n goes only with --check-config' "$err"
check "an -n after the LDA's name is the LDA's" "$BIN" -c "$T/state.conf" -- /bin/cat -n <"$msg"
check_grep "... (cat -n numbered the lines)" '^ +1	From: a@example.org' "$out"
check "... and so without -- (options end at the LDA's name)" "$BIN" -c "$T/state.conf" /bin/cat -n <"$msg"
check_grep "... (cat -n numbered the lines)" '^ +1	From: a@example.org' "$out"

# the contradictions of --help and of the key file warning
check "--help" "$BIN" --help
check_grep "--help lists exit 74" '\<74\>' "$out"
printf 'k3y\n' >"$T/key"
chmod 620 "$T/key"
conf key "rspamd = no" "api_key_file = $T/key"
check "a group-writable key file: --check-config passes" "$BIN" -c "$T/key.conf" --check-config
check_grep "... the warning says group-writable" "api_key_file $T/key has mode 0620: writable by its group" "$err"
cp "$err" "$T/key.err"
check_exit "... and does not call it readable" 1 grep -q readable "$T/key.err"
