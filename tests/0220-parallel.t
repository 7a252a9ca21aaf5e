#!/bin/bash
# Rspamd and the API are asked at the same time: with both answering in about
# 500 ms, a delivery takes about the slower of the two, not their sum.
. "$(dirname "$0")/lib.sh"
# A private Rspamd made slow by its resolver: the DNS stub answers every
# query 160 ms late, and a scan with a client address and HELO makes three
# lookups in a row.
RSPAMD_LOCAL_DNS_DELAY_MS=160
export RSPAMD_LOCAL_DNS_DELAY_MS
unset RSPAMD_PORT
need_rspamd
KEY=par-key-$$
start_spot_api "$KEY" "clean delay=500"
plan 6

printf '%s\n' "$KEY" > "$T/key"; chmod 600 "$T/key"
M=$ROOT/tests/fixtures/mail/ham.eml
# elapsed OPTIONS...: prints the wall time of one delivery in ms; the
# message goes to $T/last.
elapsed() {
	local s e
	s=$(date +%s%N)
	"$BIN" --log none -c /dev/null -f alice@example.org --client-address 192.0.2.9 \
		--helo mail.example.org --queue-id "P$s" --api-key-file "$T/key" "$@" < "$M" > "$T/last" || echo "exit $?" >&2
	e=$(date +%s%N)
	echo $(((e - s) / 1000000))
}
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

rs=$(median3 $(elapsed --rspamd-url "$RSPAMD_URL") $(elapsed --rspamd-url "$RSPAMD_URL") $(elapsed --rspamd-url "$RSPAMD_URL"))
api=$(median3 $(elapsed --no-rspamd --api-url "$SPOT_URL/i") $(elapsed --no-rspamd --api-url "$SPOT_URL/i") $(elapsed --no-rspamd --api-url "$SPOT_URL/i"))
both=$(median3 $(elapsed --rspamd-url "$RSPAMD_URL" --api-url "$SPOT_URL/i") $(elapsed --rspamd-url "$RSPAMD_URL" --api-url "$SPOT_URL/i") $(elapsed --rspamd-url "$RSPAMD_URL" --api-url "$SPOT_URL/i"))
diag "median wall time: rspamd only ${rs} ms, API only ${api} ms, both ${both} ms"
check "the slow rspamd takes at least 350 ms" test "$rs" -ge 350
check "the API takes at least 500 ms" test "$api" -ge 500
check "both together take well under the sum (< sum - 250 ms)" test "$both" -lt $((rs + api - 250))
slower=$((rs > api ? rs : api))
check "both together take at most the slower one + 200 ms" test "$both" -le $((slower + 200))
check_grep "both answers are in the delivered message" '^X-SPOT-Status: analyzed' "$T/last"
check_grep "... Rspamd's too" '^X-Spam-Score: ' "$T/last"
