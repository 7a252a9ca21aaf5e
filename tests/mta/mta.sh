# tests/mta/mta.sh: helpers for the end-to-end tests with real MTAs (tests/05NN-*.t).
# Source it after tests/lib.sh. Everything runs as root on 127.0.0.1, in private instances
# whose configuration, queue, spool and log files live under $T; at_exit stops them.
#
# The recipe files beside this one (master.cf.spot, main.cf.spot, master.cf.handoff,
# fetchmailrc, procmailrc, procmailrc.lda, main.cf.procmail, dovecot-sieve.conf,
# junk.sieve, by-hand, spot-deliver.conf.outage) are the exact text of README.md's
# "Integration recipes"; readme_has checks that, and recipe FILE gives the text with the
# production paths replaced by the test's:
#   /usr/local/bin/spot-deliver       -> $BIN -c $SPOT_CONF   (a later -c in the recipe wins)
#   /etc/spot-deliver-handoff.conf    -> $T/etc/spot-deliver-handoff.conf
#   /usr/lib/dovecot/dovecot-lda      -> /usr/lib/dovecot/dovecot-lda -c $DC/dovecot.conf
#   /etc/postfix/                     -> $PF/etc/
#   user=vmail                        -> user=$MTA_USER (default nobody)
#
# Functions:
#   need_mta PROGRAM...         skip_all unless root and every PROGRAM exists (call before plan)
#   wait_for SECONDS CMD...     run CMD every 0.1 s until it exits 0; exit 1 after SECONDS
#   recipe FILE                 print tests/mta/FILE with the substitutions above
#   readme_has FILE             exit 0 if README.md holds FILE as an indented code block
#   spot_conf_init              write $SPOT_CONF (Rspamd, the stand-in API, on_timeout = block)
#                               and $T/etc/spot-api.key (owner $MTA_USER, mode 600)
#   spot_conf_set KEY VALUE     set KEY in $SPOT_CONF (replacing it)
#   closed_url                  print http://127.0.0.1:PORT of a loopback port nobody listens on
#   maildir_count DIR           number of messages in DIR/new and DIR/cur
#   maildir_grep ERE DIR        number of messages in DIR/new and DIR/cur that match ERE
#   maildir_files DIR           the message files of DIR/new and DIR/cur, one a line
#   dc_init                     write a private Dovecot config under $DC=$T/dovecot (IMAP and POP3
#                               on free loopback ports $DC_IMAP_PORT, $DC_POP3_PORT; passwd-file
#                               users, all with uid/gid of $MTA_USER; auth-userdb open to the LDA;
#                               the README's dovecot-sieve.conf included); logs to $DC/dovecot.log
#   dc_adduser NAME PASSWORD    add a user (before or after dc_start), home $DC/home/NAME with "@"
#                               as "_at_", owned by $MTA_USER, mail in ~/Maildir; prints the home
#   dc_start, dc_stop           start it (wait for the IMAP banner), stop it (wait for the master)
#   pf_init                     write a private Postfix instance under $PF=$T/postfix: smtpd on
#                               127.0.0.1:$PF_PORT, maillog_file $PF/maillog, no outgoing mail
#                               (default_transport = keep: bounces and every mail without a
#                               transport of its own are kept as files in $PF/kept)
#   pf_start, pf_stop           postfix start (wait for the SMTP banner), stop (wait for master)
#   pf_main LINE...             append lines to main.cf;  pf_master FILE: append FILE to master.cf
#   swaks_send FILE FROM TO [ARG...]  send FILE over SMTP with swaks (Postfix stores FILE byte for
#                                     byte, LF line ends); prints the queue id
#   pf_wait_status QID [SECONDS]      wait until the maillog has a delivery status line for QID;
#                                     prints the last such line
#   pf_queue                    postqueue -p of the private instance
#   pf_flush                    postqueue -f of the private instance
#   pf_queue_has QID            exit 0 if QID is in the queue

MTA=$ROOT/tests/mta
MTA_USER=${MTA_USER:-nobody}
SPOT_CONF=$T/etc/spot-deliver.conf
DC=$T/dovecot
PF=$T/postfix
mkdir -p "$T/etc"

need_mta() {
	[ "$(id -u)" = 0 ] || skip_all "needs root (private Postfix/Dovecot instances, setpriv)"
	local p
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || [ -e "$p" ] || skip_all "$p is not installed (scripts/install-deps.sh test)"
	done
}

_now_ms() { echo $(($(date +%s%N) / 1000000)); }

wait_for() {
	local end=$(($(_now_ms) + $1 * 1000))
	shift
	until "$@" >/dev/null 2>&1; do
		[ "$(_now_ms)" -lt "$end" ] || return 1
		sleep 0.1
	done
}

recipe() {
	sed -e "s#/usr/local/bin/spot-deliver#$BIN -c $SPOT_CONF#g" \
		-e "s#/etc/spot-deliver-handoff.conf#$T/etc/spot-deliver-handoff.conf#g" \
		-e "s#/usr/lib/dovecot/dovecot-lda#/usr/lib/dovecot/dovecot-lda -c $DC/dovecot.conf#g" \
		-e "s#/etc/postfix/#$PF/etc/#g" \
		-e "s#user=vmail#user=$MTA_USER#g" "$MTA/$1"
}

readme_has() {
	"$PY" - "$ROOT/README.md" "$MTA/$1" <<'EOF'
import sys
readme = [l.rstrip() for l in open(sys.argv[1], encoding="utf-8").read().split("\n")]
want = [("    " + l).rstrip() for l in open(sys.argv[2], encoding="utf-8").read().rstrip("\n").split("\n")]
n = len(want)
sys.exit(0 if any(readme[i:i + n] == want for i in range(len(readme) - n + 1)) else 1)
EOF
}

spot_conf_init() {
	printf '%s\n' "$SPOT_KEY" >"$T/etc/spot-api.key"
	chown "$MTA_USER" "$T/etc/spot-api.key"
	chmod 600 "$T/etc/spot-api.key"
	cat >"$SPOT_CONF" <<EOF
# written by tests/mta/mta.sh
rspamd_url = $RSPAMD_URL
api_url = $SPOT_URL/internal/ingest
api_key_file = $T/etc/spot-api.key
on_timeout = block
poll_interval_ms = 100
EOF
	chmod 644 "$SPOT_CONF"
}

spot_conf_set() {
	local tmp=$SPOT_CONF.tmp
	grep -v "^$1 *=" "$SPOT_CONF" >"$tmp" || true
	printf '%s = %s\n' "$1" "$2" >>"$tmp"
	chmod 644 "$tmp"
	mv "$tmp" "$SPOT_CONF"
}

closed_url() { echo "http://127.0.0.1:$(free_port)"; }

maildir_count() {
	local f n=0
	for f in "$1"/new/* "$1"/cur/*; do [ -f "$f" ] && n=$((n + 1)); done
	echo "$n"
}

maildir_grep() {
	local f n=0
	for f in "$2"/new/* "$2"/cur/*; do
		[ -f "$f" ] && grep -E -q -e "$1" "$f" && n=$((n + 1))
	done
	echo "$n"
}

# maildir_files DIR: the message files of DIR/new and DIR/cur, one a line
maildir_files() {
	local f
	for f in "$1"/new/* "$1"/cur/*; do [ -f "$f" ] && echo "$f"; done
	return 0
}

# ------------------------------------------------------------------ Dovecot
dc_init() {
	mkdir -p "$DC/home"
	DC_IMAP_PORT=$(free_port)
	DC_POP3_PORT=$(free_port)
	while [ "$DC_POP3_PORT" = "$DC_IMAP_PORT" ]; do DC_POP3_PORT=$(free_port); done
	local uid gid
	uid=$(id -u "$MTA_USER")
	gid=$(id -g "$MTA_USER")
	: >"$DC/users"
	# one log file for the master (root) and the LDA (run as $MTA_USER): it must be able to append
	: >"$DC/dovecot.log"
	chmod 666 "$DC/dovecot.log"
	cat >"$DC/dovecot.conf" <<EOF
# A private Dovecot for the tests (tests/mta/mta.sh): loopback only, own base_dir and logs.
instance_name = spot-test-$(basename "$T")
base_dir = $DC/run
state_dir = $DC/state
log_path = $DC/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = $uid
last_valid_uid = $uid
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DC/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $DC/users
  default_fields = uid=$uid gid=$gid
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $DC_IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $DC_POP3_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
# dovecot-lda runs as $MTA_USER and asks the auth process for -d USER
service auth {
  unix_listener auth-userdb {
    mode = 0666
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
# README "dovecot-lda with Sieve": the same file
!include $MTA/dovecot-sieve.conf
EOF
}

dc_adduser() {
	local home=$DC/home/${1//@/_at_}
	mkdir -p "$home"
	chown "$MTA_USER:$(id -gn "$MTA_USER")" "$home"
	printf '%s:{PLAIN}%s::::%s::\n' "$1" "$2" "$home" >>"$DC/users"
	echo "$home"
}

_banner() { # _banner PORT WORD: the service on 127.0.0.1:PORT greets with a line holding WORD
	"$PY" - "$1" "$2" <<'EOF'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
    line = s.makefile("rb").readline()
    s.close()
    sys.exit(0 if sys.argv[2].encode() in line else 1)
except OSError:
    sys.exit(1)
EOF
}

_pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

dc_start() {
	at_exit dc_stop
	dovecot -c "$DC/dovecot.conf" >"$T/dovecot-start.log" 2>&1 || {
		diag_file "$T/dovecot-start.log"
		diag_file "$DC/dovecot.log"
		bail_out "cannot start the private dovecot"
	}
	wait_for 15 _banner "$DC_IMAP_PORT" Dovecot || {
		diag_file "$DC/dovecot.log"
		bail_out "the private dovecot does not answer on 127.0.0.1:$DC_IMAP_PORT"
	}
}

dc_stop() {
	local pid
	[ -s "$DC/run/master.pid" ] || return 0
	pid=$(tr -dc 0-9 <"$DC/run/master.pid")
	_pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	wait_for 15 sh -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
	return 0
}

# ------------------------------------------------------------------ Postfix
pf_init() {
	PF_PORT=$(free_port)
	mkdir -p "$PF/etc" "$PF/queue" "$PF/data" "$PF/kept"
	chown postfix "$PF/data"
	chown "$MTA_USER" "$PF/kept"
	cat >"$PF/etc/main.cf" <<EOF
# A private Postfix instance for the tests (tests/mta/mta.sh): loopback only, nothing leaves.
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.test.example
mydomain = test.example
myorigin = \$mydomain
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
# nothing leaves: every destination without a transport of its own is kept as a file
default_transport = keep
relay_transport = keep
local_transport = error:5.1.1 no local delivery in this test instance
maillog_file = $PF/maillog
maillog_file_prefixes = $T
biff = no
smtputf8_enable = no
# retries only when the test flushes the queue
queue_run_delay = 300s
minimal_backoff_time = 300s
maximal_backoff_time = 600s
# the sanitizer settings of "make check" reach spot-deliver under pipe(8) and local(8)
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME ASAN_OPTIONS UBSAN_OPTIONS
export_environment = TZ MAIL_CONFIG LANG ASAN_OPTIONS UBSAN_OPTIONS
EOF
	cat >"$PF/etc/master.cf" <<EOF
# A private Postfix instance for the tests (tests/mta/mta.sh); no chroot.
127.0.0.1:$PF_PORT inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
postlog   unix-dgram n  -       n       -       1       postlogd
# default_transport: bounces and any other mail are kept as files, nothing leaves
keep      unix  -       n       n       -       -       pipe
  flags=R user=$MTA_USER argv=$MTA/save-mail $PF/kept
EOF
}

pf_main() { printf '%s\n' "$@" >>"$PF/etc/main.cf"; }
pf_master() { cat "$@" >>"$PF/etc/master.cf"; }

pf_start() {
	at_exit pf_stop
	if ! postfix -c "$PF/etc" check >"$T/postfix-start.log" 2>&1 ||
		! postfix -c "$PF/etc" start >>"$T/postfix-start.log" 2>&1; then
		diag_file "$T/postfix-start.log"
		diag_file "$PF/maillog" 40
		bail_out "cannot start the private postfix"
	fi
	wait_for 15 _banner "$PF_PORT" ESMTP || {
		diag_file "$PF/maillog" 40
		bail_out "the private postfix does not answer on 127.0.0.1:$PF_PORT"
	}
}

pf_stop() {
	local pid
	[ -s "$PF/queue/pid/master.pid" ] || return 0
	pid=$(tr -dc 0-9 <"$PF/queue/pid/master.pid")
	_pid_alive "$pid" || return 0
	# bounded: "postfix stop" was once seen hanging in "master -t"
	timeout 20 postfix -c "$PF/etc" stop >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null
	wait_for 15 sh -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
	return 0
}

swaks_send() {
	local file=$1 from=$2 to=$3
	shift 3
	# swaks ends the DATA with CRLF . CRLF after the file's last line ending, which adds an
	# empty line to a file that ends in a newline: send it without, so that Postfix stores
	# exactly FILE.
	if [ "$(tail -c 1 "$file" | od -An -c | tr -d ' ')" = '\n' ]; then
		head -c -1 "$file" >"$T/swaks.data"
	else
		cp "$file" "$T/swaks.data"
	fi
	swaks --server "127.0.0.1:$PF_PORT" --helo client.sender.example --from "$from" --to "$to" \
		--data "$T/swaks.data" "$@" </dev/null >"$T/swaks.out" 2>&1
	sed -n 's/^<-  250 2\.0\.0 Ok: queued as \([0-9A-Za-z]*\).*/\1/p' "$T/swaks.out" | tail -n 1
}

_pf_status_line() { grep -E " $1: to=<.*status=(sent|bounced|deferred|expired)" "$PF/maillog"; }

pf_wait_status() {
	wait_for "${2:-20}" _pf_status_line "$1" || true
	_pf_status_line "$1" | tail -n 1
}

pf_queue() { postqueue -c "$PF/etc" -p 2>&1; }
pf_flush() { postqueue -c "$PF/etc" -f 2>&1; }
pf_queue_has() { pf_queue | grep -q "^$1[*! ]"; }
