#!/bin/bash
# What a delivery's requests must not do: send "Expect: 100-continue" on a large POST (a round
# trip lost waiting for a 100 the server may never send), look up a name (no connect to port 53,
# neither resolv.conf nor the hosts file opened, with IP-literal URLs), or start a thread or a
# process before it execs the LDA (strace -f: no clone, clone3, fork or vfork before that
# execve), or read OpenSSL's openssl.cnf when no URL is https (it is read with one). Each check is first run against a control that does the forbidden thing, so that a
# check that cannot fail fails here. The same checks hold for the ASan build (its runtime
# starts no thread before main, and the process execs the LDA instead of exiting); under
# SPOT_TEST_WRAPPER (valgrind) the strace checks are skipped.
. "$(dirname "$0")/faultlib.sh"
command -v strace >/dev/null || skip_all "strace is not installed (scripts/install-deps.sh test)"
command -v curl >/dev/null || skip_all "curl is not installed"
command -v openssl >/dev/null || skip_all "openssl is not installed"
plan 19

need_rspamd
KEY=req-key-$$
start_spot_api "$KEY" clean
printf '%s\n' "$KEY" >"$T/key"
chmod 600 "$T/key"

# a private CA and a certificate for 127.0.0.1: the https stand-in, as in production
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=spot-req-ca \
	-keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$T/srv.key" -out "$T/srv.csr" 2>/dev/null
printf 'subjectAltName = IP:127.0.0.1\n' >"$T/ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
	-days 2 -extfile "$T/ext" -out "$T/srv.pem" 2>/dev/null
"$PY" "$ROOT/tests/spot-api.py" --port 0 --key "$KEY" --record "$T/tlsrec" --default clean \
	--tls-cert "$T/srv.pem" --tls-key "$T/srv.key" >"$T/tls.out" 2>"$T/tls.err" &
at_exit kill "$!"
for _ in $(seq 50); do grep -q '^ready' "$T/tls.out" && break; sleep 0.1; done
tls_port=$(sed -n 's/^ready //p' "$T/tls.out")
[ -n "$tls_port" ] || bail_out "the TLS stand-in did not start: $(cat "$T/tls.err")"

# 2.2 MB: above libcurl's 1 MiB threshold for "Expect: 100-continue"
BIG=$T/big.eml
{ cat "$MSG"; head -c 1600000 /dev/zero | tr '\0' A | fold -w 76; } >"$BIG"
run_sd() { # run_sd API_URL MESSAGE [BIN]: both scanners, the API at API_URL
	"${3:-$BIN}" "${SD[@]}" --rspamd-url "$RSPAMD_URL" --api-url "$1" --api-key-file "$T/key" \
		-o api_ca_file="$T/ca.pem" -f a@example.org -r b@example.net -- "$LDA" "$T/got.eml" <"$2"
}

# expect_in REC: the recorded request of REC carries an Expect header
expect_in() {
	"$PY" -c 'import json, sys
sys.exit(0 if any(h[0].lower() == "expect" for h in json.load(open(sys.argv[1]))["headers"]) else 1)' "$1"
}
curl -sS -o /dev/null -H "Authorization: Bearer $KEY" -H 'Content-Type: message/rfc822' -H 'Expect: 100-continue' \
	--data-binary @"$BIG" "$SPOT_URL/v1/messages"
n=$(spot_count)
check "control: the check sees an Expect header (curl, the same POST)" expect_in "$(spot_record "$n")"
check_exit "a 2.2 MB message is delivered with both scanners" 0 run_sd "$SPOT_URL/v1/messages" "$BIG"
check_eq "the API got all of it" "$(json_get "$(spot_record $((n + 1)))" body_length)" "$(wc -c <"$BIG")"
# no_expect DESC REC: REC records all of $BIG (not a missing or cut request) and no Expect header
no_expect() {
	local len
	len=$(json_get "$2" body_length) || len=none
	if [ "$len" != "$(wc -c <"$BIG")" ]; then
		ok 1 "$1"
		diag "$2: body_length $len"
	elif expect_in "$2"; then
		ok 1 "$1"
		diag "an Expect header in $2"
	else
		ok 0 "$1"
	fi
}
no_expect "no Expect header on the 2.2 MB POST" "$(spot_record $((n + 1)))"

# The strace checks read one trace: F is the file, the LDA's execve ends "before the exec".
# forks_before_lda F: the clone/fork calls before the LDA's execve (none if it never ran: the
# caller checks that it did)
lda_line() { grep -n -m1 "execve(\"$LDA\"" "$1" | cut -d: -f1; }
forks_before_lda() {
	local l
	l=$(lda_line "$1")
	head -n "$((${l:-1} - 1))" "$1" | grep -E '^([0-9]+ +)?(clone3?|v?fork)\(' || true
}
dns_connects() { grep -E 'connect\(.*sin6?_port=htons\(53\)' "$1" || true; }
dns_files() { grep -E 'open(at)?\(.*"/etc/(resolv\.conf|hosts)"' "$1" || true; }
trace() { # trace NAME BIN [MESSAGE]: strace -f one delivery (https API) into $T/NAME.strace
	strace -f -qq -o "$T/$1.strace" -e trace=clone,clone3,fork,vfork,execve,connect,open,openat \
		"$2" "${SD[@]}" --rspamd-url "$RSPAMD_URL" --api-url "https://127.0.0.1:$tls_port/v1/messages" \
		--api-key-file "$T/key" -o api_ca_file="$T/ca.pem" -f a@example.org -r b@example.net \
		-- "$LDA" "$T/got.eml" <"${3:-$MSG}" >"$T/$1.out" 2>"$T/$1.err"
}

# the control: a spot-deliver that first opens the resolver's files, connects a UDP socket
# to port 53 (loopback: connect sends nothing) and runs a process. Not a real lookup (getent,
# getaddrinfo): that would query the machine's nameserver.
cat >"$T/naughty" <<EOF
#!/bin/sh
: </etc/hosts
: </etc/resolv.conf
$PY -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).connect(("127.0.0.1", 53))'
exec "$BIN" "\$@"
EOF
chmod 755 "$T/naughty"
if [ -n "${SPOT_TEST_WRAPPER:-}" ]; then
	for d in "control: a fork before the LDA is seen" "control: a connect to port 53 is seen" \
		"control: opening /etc/hosts or resolv.conf is seen" "delivered under strace (https API, exit 0)" \
		"the LDA was exec'd" "no thread or process started before the exec of the LDA" \
		"no connect to port 53" "neither resolv.conf nor the hosts file opened" \
		"delivered under strace (2.2 MB, exit 0)" "no thread or process before the LDA (2.2 MB)" \
		"no DNS (2.2 MB)" "no Expect on the https POST (2.2 MB)" \
		"control: with the API over https, openssl.cnf is read" \
		"delivered under strace (http API, exit 0)" "with every URL http, openssl.cnf is not read"; do
		skip_wrapped "$d" "the wrapper (valgrind) is its own process picture under strace"
	done
	exit 0
fi
trace control "$T/naughty"
check_ne "control: a fork before the LDA is seen" "$(forks_before_lda "$T/control.strace")" ""
check_ne "control: a connect to port 53 is seen" "$(dns_connects "$T/control.strace")" ""
check_ne "control: opening /etc/hosts or resolv.conf is seen" "$(dns_files "$T/control.strace")" ""

trace small "$BIN"
check_eq "delivered under strace (https API, exit 0)" "$?" 0
check_ne "the LDA was exec'd" "$(lda_line "$T/small.strace")" ""
check_eq "no thread or process started before the exec of the LDA" "$(forks_before_lda "$T/small.strace")" ""
check_eq "no connect to port 53" "$(dns_connects "$T/small.strace")" ""
check_eq "neither resolv.conf nor the hosts file opened" "$(dns_files "$T/small.strace")" ""
# the 2.2 MB message: the large upload is where libcurl would wait for a 100
m=$(find "$T/tlsrec" -name '[0-9]*.json' | wc -l)
trace big "$BIN" "$BIG"
check_eq "delivered under strace (2.2 MB, exit 0)" "$?" 0
check_eq "no thread or process before the LDA (2.2 MB)" "$(forks_before_lda "$T/big.strace")" ""
check_eq "no DNS (2.2 MB)" "$(dns_connects "$T/big.strace")$(dns_files "$T/big.strace")" ""
no_expect "no Expect on the https POST (2.2 MB)" "$(printf '%s/%04d.json' "$T/tlsrec" $((m + 1)))"

# OpenSSL's own configuration: read when a request can go over https (the admin's
# openssl.cnf counts there), not when none can
ssl_conf() { grep -E 'open(at)?\(.*openssl\.cnf' "$1" || true; }
check_ne "control: with the API over https, openssl.cnf is read" "$(ssl_conf "$T/small.strace")" ""
strace -f -qq -o "$T/http.strace" -e trace=open,openat "$BIN" "${SD[@]}" --rspamd-url "$RSPAMD_URL" \
	--api-url "$SPOT_URL/v1/messages" --api-key-file "$T/key" -f a@example.org -r b@example.net \
	-- "$LDA" "$T/got.eml" <"$MSG" >"$T/http.out" 2>"$T/http.err"
check_eq "delivered under strace (http API, exit 0)" "$?" 0
check_eq "with every URL http, openssl.cnf is not read" "$(ssl_conf "$T/http.strace")" ""
