#!/bin/bash
# Several Rspamd and API servers: failover, shared dead-host memory, revival
# after dead_time, skip lists, counters and --selftest.
. "$(dirname "$0")/lib.sh"
need_rspamd
A=$RSPAMD_URL
# a second real rspamd
start_extra_rspamd "$T/rspamdB"
pB=$EXTRA_RSPAMD_PORT
B=http://127.0.0.1:$pB
KEY=up-key-$$
start_spot_api "$KEY" clean; API1=$SPOT_URL/in; DIR1=$SPOT_DIR; REC1=$SPOT_RECORD
start_spot_api "$KEY" clean; API2=$SPOT_URL/in; DIR2=$SPOT_DIR; REC2=$SPOT_RECORD
plan 31

printf '%s\n' "$KEY" > "$T/key"; chmod 600 "$T/key"
M=$ROOT/tests/fixtures/mail
part() { "$PY" "$ROOT/tests/msgpart.py" "$@"; }
mkdir -p "$T/state"
scanned() { # scanned PORT: messages rspamd on PORT has scanned (controller /stat)
	http_req GET "http://127.0.0.1:$(($1 + 1))/stat" > /dev/null && json_get "$T/http.body" scanned
}
n=0
sd() {
	n=$((n + 1))
	"$BIN" --log stderr -c /dev/null -o state_dir="$T/state" -o max_errors=2 -o error_time=60 \
		-o dead_time=3 --queue-id "U$n$$" --api-key-file "$T/key" "$@"
}
count_recs() { ls "$1" | grep -c 'json$'; }
stats() { "$BIN" -c /dev/null -o state_dir="$T/state" --stats; }
is_dead() { stats | grep -qx "spot_deliver_upstream_dead{upstream=\"$1\"} 1"; }
not_dead() { stats | grep -qx "spot_deliver_upstream_dead{upstream=\"$1\"} 0"; }

# both up: the load is spread over both
for i in $(seq 16); do sd --rspamd-url "$A, $B" < "$M/ham.eml" > /dev/null 2>&1; done
check "spread: the second rspamd got some of 16 messages" test "$(scanned "$pB")" -ge 1
check "spread: ... and so did the first" test "$(scanned "${A##*:}")" -ge 1

# B killed: every message is still scanned (failover), B is remembered as dead
"$ROOT/scripts/rspamd-local" stop "$T/rspamdB" > /dev/null 2>&1
# (each delivery starts at a random member: 20 make B-first all but certain)
ok_all=0
for i in $(seq 20); do
	sd --rspamd-url "$B, $A" --on-timeout block < "$M/ham.eml" > "$T/fo.$i" 2>"$T/fo.$i.err" || ok_all=1
done
check_eq "failover: 20 of 20 delivered with B down (on_timeout block)" "$ok_all" 0
check_grep "failover: scanned by A" '^X-Spam-Score: ' "$T/fo.20"
check "dead-host memory: --stats shows B dead" is_dead "$B"
stats > "$T/stats.fo"
check_grep "counters: upstream errors for B" "^spot_deliver_upstream_errors_total\\{upstream=\"$B\"\\} [1-9][0-9]*\$" "$T/stats.fo"
check_exit "--selftest with B down: 69" 69 "$BIN" -c /dev/null --rspamd-url "$A, $B" --selftest -- /bin/cat
check_grep "--selftest: FAIL line for B" "^FAIL rspamd $B" "$out"
check_grep "--selftest: ok line for A" "^ok +rspamd $A" "$out"

# B back: after dead_time it is used again and forgiven
restart_b() { "$ROOT/scripts/rspamd-local" start "$T/rspamdB" "$pB" > "$T/rB.log" 2>&1; }
restart_b || { sleep 2; restart_b; } || bail_out "restart B: $(tail -5 "$T/rB.log")"
before=$(scanned "$pB")
sd --rspamd-url "$B" < "$M/ham.eml" > /dev/null 2>&1
check_eq "while dead: B alone is still tried (all dead means try them all)" "$(scanned "$pB")" $((before + 1))
sleep 3.2
for i in $(seq 16); do sd --rspamd-url "$A, $B" < "$M/ham.eml" > /dev/null 2>&1; done
check "revival: B scans again after dead_time" test "$(scanned "$pB")" -ge $((before + 2))
check "revival: B is no longer dead in --stats" not_dead "$B"

# memory: with a hanging B, the first deliveries wait, the later ones do not
"$ROOT/scripts/rspamd-local" stop "$T/rspamdB" > /dev/null 2>&1
"$PY" -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
print("ready", flush=True); time.sleep(120)' "$pB" > "$T/hang.out" 2>&1 &
hang=$!
at_exit kill "$hang"
for i in $(seq 50); do grep -q ready "$T/hang.out" && break; sleep 0.1; done
timed() { # timed FILE: one delivery to FILE, prints its wall time in ms
	local s e
	s=$(date +%s%N); sd --rspamd-url "$B, $A" --timeout-ms 1000 < "$M/ham.eml" > "$1" 2>/dev/null; e=$(date +%s%N)
	echo $(((e - s) / 1000000))
}
: > "$T/times"
for i in $(seq 30); do
	is_dead "$B" && break
	timed "$T/h.$i" >> "$T/times"
done
: > "$T/after"
for i in 1 2 3 4 5 6; do timed "$T/after.$i" >> "$T/after"; done
diag "hanging B: until dead $(tr '\n' ' ' < "$T/times")ms; after $(tr '\n' ' ' < "$T/after")ms"
check "hanging B: a delivery that asked B first waited for B's share of the deadline" \
	test "$(sort -n "$T/times" | tail -n 1)" -ge 400
check "hanging B: once B is dead, no delivery waits for it" test "$(sort -n "$T/after" | tail -n 1)" -lt 400
check_grep "hanging B: still scanned by A" '^X-Spam-Score: ' "$T/after.6"
kill "$hang" 2>/dev/null

# two APIs, one stopped mid-run
# each delivery starts at a random member: 20 make "only one" all but impossible
for i in $(seq 20); do sd --no-rspamd --api-url "$API1 $API2" < "$M/ham.eml" > /dev/null 2>&1; done
check "two APIs: both got requests" test "$(count_recs "$REC1")" -ge 1 -a "$(count_recs "$REC2")" -ge 1
"$ROOT/scripts/spot-api-local" stop "$DIR1" > /dev/null 2>&1
before=$(count_recs "$REC2")
fails=0
for i in $(seq 4); do
	sd --no-rspamd --api-url "$API1 $API2" --on-timeout block < "$M/ham.eml" > "$T/a.$i" 2>/dev/null || fails=$((fails + 1))
done
check_eq "API 1 down: all 4 analyzed by API 2" "$fails" 0
check_eq "API 1 down: ... each once" "$(($(count_recs "$REC2") - before))" 4
check_eq "API 1 down: analyzed" "$(part header X-SPOT-Status "$T/a.4")" analyzed

# skip lists
before=$(count_recs "$REC2")
check_exit "skip_networks (IPv4): delivered" 0 sd --rspamd-url "$A" --api-url "$API2" \
	-o skip_networks="10.0.0.0/8, 192.0.2.0/24" --client-address 192.0.2.77 < "$M/ham.eml"
check_eq "skip_networks: X-SPOT-Status skipped" "$(part header X-SPOT-Status "$out")" skipped
check_eq "skip_networks: X-Spam-Scanner says why" "$(part header X-Spam-Scanner "$out")" "rspamd; skipped, skip_networks"
check_eq "skip_networks: the API was not asked" "$(count_recs "$REC2")" "$before"
check_exit "skip_networks (IPv6)" 0 sd --rspamd-url "$A" -o skip_networks=2001:db8::/32 --client-address 2001:db8::25 < "$M/ham.eml"
check_grep "skip_networks (IPv6): skipped" '^X-Spam-Scanner: rspamd; skipped, skip_networks$' "$out"
sd --rspamd-url "$A" -o skip_networks=2001:db8::/32 --client-address 2001:db9::25 < "$M/ham.eml" > "$T/v6no" 2>/dev/null
check_grep "skip_networks (IPv6): another network is scanned" '^X-Spam-Score: ' "$T/v6no"
sd --rspamd-url "$A" -o skip_senders=@Example.ORG -f alice@example.org < "$M/ham.eml" > "$T/ss" 2>/dev/null
check_grep "skip_senders (@domain, any case): skipped" 'skipped, skip_senders$' "$T/ss"
sd --rspamd-url "$A" -o scan_recipients=bob@example.net -r carol@example.net < "$M/ham.eml" > "$T/sr" 2>/dev/null
check_grep "scan_recipients: a recipient not listed is not scanned" 'skipped, scan_recipients$' "$T/sr"
check_exit "a bad skip_networks entry is a config error" 78 "$BIN" -c /dev/null -o skip_networks=192.0.2.0/33 --check-config

# counters
"$BIN" -c /dev/null -o state_dir="$T/state" --stats > "$T/stats"
check_grep "--stats: messages counted" '^spot_deliver_messages_total [1-9][0-9]*$' "$T/stats"
check_grep "--stats: skipped counted" '^spot_deliver_skipped_total [1-9]$' "$T/stats"
