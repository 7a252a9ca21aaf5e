#!/bin/bash
# 1,000 deliveries, 20 at a time, while one of two rspamd servers is stopped
# and started again: every message delivered exactly once with its bytes
# intact, or deferred (75) and delivered by the retry run.
. "$(dirname "$0")/lib.sh"
need_rspamd
start_extra_rspamd "$T/rspamdB"
pB=$EXTRA_RSPAMD_PORT
plan 3

check "1000 messages, 20 at a time, rspamd B stopped and restarted: none lost or doubled" \
	"$PY" "$ROOT/tests/load/loadtest.py" --bin "$BIN" --rspamd-dir "$T/rspamdB" --rspamd-port "$pB" \
	--other-url "$RSPAMD_URL" --work "$T/load" --n "${LOAD_N:-1000}" --concurrency 20 --fault stop --json "$T/report.json"
diag "$(cat "$T/report.json")"
check_eq "no problem reported" "$(json_get "$T/report.json" problem_count)" 0
check_eq "every deferred message was delivered by the retry run" \
	"$(json_get "$T/report.json" retried_ok)" "$(json_get "$T/report.json" deferred_75)"
