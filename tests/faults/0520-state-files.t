#!/bin/bash
# The state files during a delivery. One shortened under the map (its
# owner may truncate it) while the delivery waits for a hanging Rspamd:
# the delivery goes on, to the LDA or to the API, and exits 0 with one
# warning, never with a signal (SIGBUS) after the hand-off's 2xx. And the
# first-deferral memory frees a delivery's slot once it is delivered,
# scanned or, after defer_max_age, unscanned.
. "$(dirname "$0")/faultlib.sh"
plan 24

start_bad
printf 'state-key-%s\n' "$$" >"$T/key"
chmod 600 "$T/key"
printf 'From: a@example.org\nTo: bob@example.net\nSubject: state\n\nhello\n' >"$T/msg.eml"
ST=$T/state
mkdir -m 700 "$ST"

# shrink_during NAME FILE ARGS...: runs a delivery; once its Rspamd request
# has arrived, truncates FILE under state_dir; the exit code in $T/NAME.rc
shrink_during() {
	local name=$1 file=$2 i
	shift 2
	"$BIN" "${SD[@]}" --rspamd-url "$BAD/hang/$name" --timeout-ms 1500 --on-timeout allow \
		"$@" <"$T/msg.eml" >"$T/$name.out" 2>"$T/$name.err" &
	local pid=$!
	for i in $(seq 200); do
		grep -q "^POST /hang/$name" "$BAD_REC" 2>/dev/null && break
		sleep 0.02
	done
	truncate -s 0 "$ST/$file"
	local rc=0
	wait "$pid" || rc=$?
	echo "$rc" >"$T/$name.rc"
}

shrink_during s1 upstreams.db -- "$LDA" "$T/s1.cap"
check_eq "upstreams.db shortened during an LDA delivery: exit 0, no signal" "$(cat "$T/s1.rc")" 0
check "... the LDA got the message" grep -q '^Subject: state' "$T/s1.cap"
check_grep "... one warning that says so" 'warning: .*shortened' "$T/s1.err"
check_eq "... and only one" "$(grep -c 'shortened' "$T/s1.err")" 1

rm -f "$ST"/*.db
shrink_during s2 upstreams.db --api-url "$BAD/good/s2" --api-key-file "$T/key" --handoff --queue-id S2Q
check_eq "upstreams.db shortened during a hand-off: exit 0 after the API's 2xx" "$(cat "$T/s2.rc")" 0
sleep 0.05
check_eq "... the API got it once" "$(grep -c '^POST /good/s2' "$BAD_REC")" 1
check_grep "... and the warning" 'warning: .*shortened' "$T/s2.err"

rm -f "$ST"/*.db
shrink_during s3 counters.db -- "$LDA" "$T/s3.cap"
check_eq "counters.db shortened (not yet mapped): exit 0" "$(cat "$T/s3.rc")" 0
check "... delivered" grep -q '^Subject: state' "$T/s3.cap"

# live: the first-deferral slots in use (deferrals2.db, or the older deferrals.db)
live() {
	"$PY" - "$ST" <<'PYEOF'
import os, struct, sys
d = sys.argv[1]
for name in ("deferrals2.db", "deferrals.db"):
    p = os.path.join(d, name)
    if os.path.exists(p):
        data = open(p, "rb").read()[32:]
        keys = [struct.unpack_from("<Q", data, i)[0] for i in range(0, len(data) - 23, 24)]
        print(sum(1 for k in keys if k not in (0, 2**64 - 1, 2**64 - 2)))
        break
else:
    print("none")
PYEOF
}
rm -f "$ST"/*.db
CLOSED=$(closed_url)
age=(-o defer_max_age=2s --on-timeout block)
deliver() { "$BIN" "${SD[@]}" "${age[@]}" "$@" -- "$LDA" "$T/d.cap" <"$T/msg.eml"; }
agecheck() { "$BIN" "${SD[@]}" "${age[@]}" --rspamd-url "$CLOSED" --check <"$T/msg.eml"; }

check_exit "Rspamd down, on_timeout = block: deferred" 75 deliver --rspamd-url "$CLOSED"
check_eq "... its first deferral takes a slot" "$(live)" 1
sleep 1.1
agecheck >"$T/c1.json" 2>/dev/null
check_ne "... --check sees its age" "$(json_get "$T/c1.json" age seconds)" 0
check_exit "Rspamd back: delivered, scanned" 0 deliver --rspamd-url "$BAD/good/d1"
check_eq "... and its slot is free" "$(live)" 0
agecheck >"$T/c2.json" 2>/dev/null
check_eq "... --check: the clock starts again" "$(json_get "$T/c2.json" age seconds)" 0

check_exit "deferred again" 75 deliver --rspamd-url "$CLOSED"
check_eq "... a slot" "$(live)" 1
sleep 2.2
check_exit "after defer_max_age: delivered unscanned" 0 deliver --rspamd-url "$CLOSED"
check "... to the LDA" grep -q '^Subject: state' "$T/d.cap"
check_eq "... and its slot is free" "$(live)" 0
check_eq "deferrals2.db is 1.5 MiB (65536 slots)" "$(stat -c %s "$ST/deferrals2.db" 2>/dev/null)" $((32 + 65536 * 24))

# shrunk while the API answers a hand-off slowly: the 2xx comes after it
rm -f "$ST"/*.db
"$BIN" "${SD[@]}" --rspamd-url "$BAD/good/s4" --api-url "$BAD/slow/s4" --api-key-file "$T/key" \
	--handoff --queue-id S4Q --analysis-timeout-ms 20000 <"$T/msg.eml" >"$T/s4.out" 2>"$T/s4.err" &
pid=$!
for i in $(seq 200); do
	grep -q "^POST /slow/s4" "$BAD_REC" 2>/dev/null && break
	sleep 0.02
done
truncate -s 0 "$ST/upstreams.db"
rc=0
wait "$pid" || rc=$?
check_eq "upstreams.db shortened while the API hands off: exit 0 after its 2xx" "$rc" 0
check_grep "... the warning" 'warning: .*shortened' "$T/s4.err"
check_eq "... handed off once" "$(grep -c '^POST /slow/s4' "$BAD_REC")" 1
