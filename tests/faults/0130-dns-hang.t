#!/bin/bash
# A name lookup that never ends: the scanners and the API are configured by host name and the
# resolver never answers. The deadline still holds: every run ends within its deadline plus
# 500 ms, whatever the resolver does, with the outcome on_timeout says (delivered with the
# marks of an unscanned message, or 75); the hand-off defers (75, 4.4.1); --selftest fails
# the probe (69).
#
# The test runs in a mount namespace of its own, where /etc/resolv.conf names one nameserver,
# a loopback address on which tests/dnsstub.py --silent reads every question and answers none,
# /etc/nsswitch.conf says "hosts: files dns" and /etc/hosts knows localhost only. Nothing
# leaves loopback.
if [ "${SPOT_DNS_MOUNTNS:-}" != 1 ]; then
	if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
		SPOT_DNS_MOUNTNS=1 exec unshare -m "$BASH" "$0" "$@"
	fi
	. "$(dirname "$0")/faultlib.sh"
	skip_all "needs root and mount namespaces (unshare -m)"
fi
. "$(dirname "$0")/faultlib.sh"

# an address of its own for each run: two runs at once (another checkout) must not collide
HOLE=127.83.$(($$ / 250 % 250)).$(($$ % 250 + 1))
NAME_R=rspamd.example.test
NAME_A=spot.example.test
DEADLINE=1000
# The promise is 500 ms; a run under valgrind starts later (tests/valgrind.sh sets SLACK_MS).
LATE=500
wrapped && LATE=$SLACK_MS
plan 11

# The private resolver configuration, bound over the machine's in this namespace only.
printf 'nameserver %s\noptions timeout:5 attempts:2\n' "$HOLE" >"$T/resolv.conf"
printf 'hosts: files dns\n' >"$T/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$T/hosts"
for f in resolv.conf nsswitch.conf hosts; do
	mount --bind "$T/$f" "/etc/$f" || bail_out "cannot bind $T/$f over /etc/$f"
done
"$PY" "$ROOT/tests/dnsstub.py" --silent --address "$HOLE" --port 53 --log "$T/questions" \
	</dev/null >"$T/dns.out" 2>"$T/dns.err" &
at_exit kill "$!"
for _ in $(seq 100); do
	grep -q '^ready' "$T/dns.out" 2>/dev/null && break
	sleep 0.05
done
grep -q '^ready' "$T/dns.out" || bail_out "the silent resolver did not start: $(cat "$T/dns.err")"

# The set-up itself: the names are not in /etc/hosts, and the question goes to the silent
# resolver, which does not answer.
if timeout 2 getent hosts "$NAME_R" >/dev/null; then
	ok 1 "set-up: $NAME_R must not resolve"
else
	for _ in $(seq 40); do
		grep -q " $NAME_R\.\$" "$T/questions" 2>/dev/null && break
		sleep 0.05
	done
	check_grep "set-up: the lookup of $NAME_R goes to the silent resolver, and hangs" " $NAME_R\.\$" "$T/questions"
fi

printf 'dns-key-%s\n' "$$" >"$T/key"
chmod 600 "$T/key"
LDA=$FAULTS/lda-count
TIMES=(--timeout-ms $DEADLINE --analysis-timeout-ms $DEADLINE --connect-timeout-ms $DEADLINE)
COMMON=("${SD[@]}" --api-key-file "$T/key" -f alice@example.org -r bob@example.net "${TIMES[@]}")
R_URL=http://$NAME_R:11333
A_URL=http://$NAME_A/ingest

# in_time NAME BOUND: the run ended within BOUND ms
in_time() {
	[ "$R_MS" -lt "$2" ] || { EXTRA_WHY="took $R_MS ms, want less than $2"; return 1; }
}
bound() { in_time "$1" $((DEADLINE + LATE)); }
bound2() { in_time "$1" $((2 * DEADLINE + LATE)); }

EXTRA_CHECK=bound
EXTRA_WHY=
sd_run r1 -- "${COMMON[@]}" --rspamd-url "$R_URL" --on-timeout allow -- "$LDA" "$T/r1.cap" <"$MSG"
expect r1 "Rspamd by name, allow: delivered unscanned in time ($R_MS ms)" deliver 0 "$MSG" "X-Spam-Error: .+"
sd_run r2 -- "${COMMON[@]}" --rspamd-url "$R_URL" --on-timeout block -- "$LDA" "$T/r2.cap" <"$MSG"
expect r2 "Rspamd by name, block: 75 in time ($R_MS ms)" refuse 75 4.7.0
sd_run b1 -- "${COMMON[@]}" --rspamd-url "$R_URL" --api-url "$A_URL" --on-timeout allow \
	-- "$LDA" "$T/b1.cap" <"$MSG"
expect b1 "Rspamd and API by name, allow: delivered unscanned in time ($R_MS ms)" \
	deliver 0 "$MSG" "X-SPOT-Status: timeout"
part head "$T/b1.cap" | grep -a -q '^X-Spam-Error: '
ok $? "Rspamd and API by name, allow: X-Spam-Error too"
sd_run b2 -- "${COMMON[@]}" --rspamd-url "$R_URL" --api-url "$A_URL" --on-timeout block \
	-- "$LDA" "$T/b2.cap" <"$MSG"
expect b2 "Rspamd and API by name, block: 75 in time ($R_MS ms)" refuse 75 4.7.0
sd_run h1 -- "${COMMON[@]}" --no-rspamd --api-url "$A_URL" --handoff --queue-id DNSH1 <"$MSG"
expect h1 "hand-off to the API by name: 75 in time ($R_MS ms)" refuse 75 4.4.1
# Rspamd first (timeout_ms), then the hand-off (analysis_timeout_ms): each its own deadline.
EXTRA_CHECK=bound2
sd_run h2 -- "${COMMON[@]}" --rspamd-url "$R_URL" --on-timeout allow --api-url "$A_URL" --handoff \
	--queue-id DNSH2 <"$MSG"
expect h2 "Rspamd, then the hand-off, by name: 75 within both deadlines ($R_MS ms)" refuse 75 4.4.1
EXTRA_CHECK=

# selftest_case NAME DESC ARGS...: --selftest ends in time with 69 and a FAIL line (it takes
# no envelope: with one it would be a slip in a pipe(8) argv)
selftest_case() {
	local name=$1 desc=$2
	shift 2
	sd_run "$name" -- "${SD[@]}" --api-key-file "$T/key" "${TIMES[@]}" "$@" --selftest \
		-- "$LDA" "$T/$name.cap" </dev/null
	local why=()
	[ "$R_KIND $R_CODE" = "exit 69" ] || why+=("ended with $R_KIND $R_CODE, want exit 69")
	grep -q '^FAIL ' "$T/$name.out" || why+=("no FAIL line")
	[ "$R_MS" -lt $((DEADLINE + LATE)) ] || why+=("took $R_MS ms, want less than $((DEADLINE + LATE))")
	CELL="69 in time ($R_MS ms)"
	verdict "$name" "$desc"
}
selftest_case s1 "--selftest, Rspamd by name" --rspamd-url "$R_URL"
selftest_case s2 "--selftest, the API by name" --no-rspamd --api-url "$A_URL"

# Every process that asked was one of ours, and every question went to the hole.
check "the silent resolver saw only the test's names" \
	sh -c "! grep -v -E ' ($NAME_R|$NAME_A)\.\$' '$T/questions'"
