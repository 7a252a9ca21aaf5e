#!/bin/bash
# Outages that show: a refused Rspamd is a warning naming the server and the
# system's error; its first failure, the moment it is marked dead and its
# first answer after that are logged once across deliveries sharing a
# state_dir; --stats has its counters and state; -v tells each step on
# stderr and never a secret.
. "$(dirname "$0")/faultlib.sh"
plan 20

M=$ROOT/tests/fixtures/mail/ham.eml
mkdir -p "$T/state"
P=$(free_port)
URL=http://127.0.0.1:$P/good
# under valgrind four runs take longer than 2 s: the dead time must outlast them
DEAD=2
wrapped && DEAD=10
n=0
sd() { # sd NAME ARGS...: one delivery to standard output, its stderr in T/NAME.err
	local name=$1
	shift
	n=$((n + 1))
	"$BIN" --log stderr -c /dev/null -o max_errors=3 -o error_time=60 -o dead_time=$DEAD \
		--queue-id "Q$n" --rspamd-url "$URL" "$@" <"$M" >"$T/$name.out" 2>"$T/$name.err"
}
mem() { sd "$@" -o state_dir="$T/state"; }
count() { grep -c -- "$1" "$2" || true; }
stats() { "$BIN" -c /dev/null -o state_dir="$T/state" --stats; }

mem r1
check_grep "first failure: a warning with the server and the system's error" \
	"^spot-deliver: warning: Q1: rspamd $URL: connect: Connection refused \\([0-9]+ ms\\): first failure\$" \
	"$T/r1.err"
mem r2
mem r3
check_grep "max_errors reached: marked dead, once" \
	"^spot-deliver: warning: Q3: rspamd $URL: connect: Connection refused \\([0-9]+ ms\\): marked dead for $DEAD s after 3 errors\$" \
	"$T/r3.err"
mem r4
cat "$T"/r[1-4].err >"$T/down.err"
check_eq "four failures: one first-failure line" "$(count ': first failure$' "$T/down.err")" 1
check_eq "four failures: one marked-dead line" "$(count ': marked dead for ' "$T/down.err")" 1
check_eq "four failures: no other warning about the server" \
	"$(count "warning: Q[0-9]*: rspamd $URL: " "$T/down.err")" 2
stats >"$T/stats.dead" 2>"$T/stats.dead.err"
check_grep "--stats: the errors of the refused server" \
	"^spot_deliver_upstream_errors_total\\{upstream=\"$URL\"\\} 4\$" "$T/stats.dead"
check_grep "--stats: it is dead" "^spot_deliver_upstream_dead\\{upstream=\"$URL\"\\} 1\$" "$T/stats.dead"

# the server comes up on the same port; after dead_time it answers
start_bad up --port "$P"
sleep "$DEAD.2"
mem r5
check_grep "first answer after dead: alive again, once" \
	"^spot-deliver: Q5: rspamd $URL: alive again\$" "$T/r5.err"
check_grep "first answer after dead: scanned" '^X-Spam-Score: ' "$T/r5.out"
mem r6
cat "$T"/r[56].err >"$T/up.err"
check_eq "two answers: one alive-again line" "$(count ': alive again$' "$T/up.err")" 1
stats >"$T/stats.alive"
check_grep "--stats: alive again" "^spot_deliver_upstream_dead\\{upstream=\"$URL\"\\} 0\$" "$T/stats.alive"

# no state_dir: no memory to tell a first failure, each one is logged
URL=$(closed_url)
sd n1 -o state_dir=
sd n2 -o state_dir=
check_grep "no state_dir: the failure is logged" \
	"^spot-deliver: warning: Q[0-9]+: rspamd $URL: connect: Connection refused \\([0-9]+ ms\\)\$" "$T/n1.err"
check_grep "no state_dir: ... and the next one too" \
	"^spot-deliver: warning: Q[0-9]+: rspamd $URL: connect: Connection refused \\([0-9]+ ms\\)\$" "$T/n2.err"

# --stats on a state_dir it cannot read says why
"$BIN" -c /dev/null -o state_dir="$T/nowhere" --stats >"$T/stats.none" 2>"$T/stats.none.err"
check_grep "--stats without its files: why, on stderr" "^spot-deliver: --stats: $T/nowhere: No such file or directory: counted as 0\$" \
	"$T/stats.none.err"

# -v: the steps with timings on stderr, nothing on stdout but the message, no secret
KEY=verbose-secret-key-$$
printf '%s\n' "$KEY" >"$T/key"
chmod 600 "$T/key"
URL=$BAD/good
printf 'rspamd_password = verbose-rspamd-pass-%s\n' "$$" >"$T/v.conf"
chmod 600 "$T/v.conf"
sd v1 -v -o state_dir= -c "$T/v.conf" --api-url "$BAD/good" --api-key-file "$T/key"
check_grep "-v: the config file" "^spot-deliver: verbose: [0-9]+ ms: config $T/v.conf read\$" "$T/v1.err"
check_grep "-v: each request with its status and time" \
	"^spot-deliver: verbose: [0-9]+ ms: rspamd $URL: HTTP 200 \\([0-9]+ ms\\)\$" "$T/v1.err"
check_grep "-v: the decision and the header edits" \
	'^spot-deliver: verbose: [0-9]+ ms: decision: deliver; added: .*X-Spam-Score.*; stripped: X-Spam, X-Spam-Score, X-SPOT-Status, X-SPOT-Is-Phishing$' "$T/v1.err"
check "-v: steps told, and no secret on stderr or stdout" \
	eval "grep -q verbose: '$T/v1.err' && ! grep -q -e '$KEY' -e 'verbose-rspamd-pass-$$' '$T/v1.err' '$T/v1.out'"
check "-v: stdout is the message alone" eval "! grep -q verbose '$T/v1.out' && grep -q '^X-Spam-Score:' '$T/v1.out'"
sd v2 -v -o state_dir= -o strip_headers=X-Spam-Flag -- "$LDA" "$T/v2.cap"
check_grep "-v: the LDA and its argv" "^spot-deliver: verbose: [0-9]+ ms: lda: exec '$LDA' '$T/v2.cap'\$" "$T/v2.err"
