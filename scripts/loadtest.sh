#!/bin/bash
# make loadtest: the load test of docs/scaling.md, four ways (a stopped or a
# hung rspamd, with and without the shared dead-host memory), results written
# to docs/scaling-results.md. Loopback only; stops what it starts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
W=$(mktemp -d /tmp/spot-load.XXXXXX)
chmod 755 "$W"
N=${LOAD_N:-1000}
export RSPAMD_LOCAL_HS_CACHE=${RSPAMD_LOCAL_HS_CACHE:-/tmp/spot-deliver-rspamd-hs}
pA=${LOAD_PORT_A:-24333}
pB=${LOAD_PORT_B:-24343}
trap 'scripts/rspamd-local stop "$W/A" >/dev/null 2>&1; scripts/rspamd-local stop "$W/B" >/dev/null 2>&1; rm -rf "$W"' EXIT
make -s
scripts/rspamd-local start "$W/A" "$pA" >/dev/null
scripts/rspamd-local start "$W/B" "$pB" >/dev/null
out=docs/scaling-results.md
{
	echo "# Load test results"
	echo
	echo "Produced by \`make loadtest\` on $(date -u +%Y-%m-%d), $(nproc) cores: $N deliveries,"
	echo "20 at a time, two private rspamd servers on loopback; B fails after 20% of the"
	echo "messages and comes back after 60%. Each delivery: timeout_ms 2000, on_timeout block,"
	echo "max_errors 3 within 10 s, dead_time 2 s. \"lost\" is the sum of delivery wall times"
	echo "minus that of the run without a fault."
	echo
	echo "| B fails by | dead-host memory | msgs/s | median ms | p99 ms | deferred (75) | retried ok | problems | time lost (s) |"
	echo "|---|---|---|---|---|---|---|---|---|"
} > "$out.tmp"
python3 tests/load/loadtest.py --bin "$ROOT/spot-deliver" --rspamd-dir "$W/B" --rspamd-port "$pB" \
	--other-url "http://127.0.0.1:$pA" --work "$W/base" --n "$N" --fault stop --memory yes \
	--json "$W/base.json" --no-fault >/dev/null
base=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["latency_ms_sum"])' "$W/base.json")
for fault in stop hang; do
	for mem in yes no; do
		python3 tests/load/loadtest.py --bin "$ROOT/spot-deliver" --rspamd-dir "$W/B" --rspamd-port "$pB" \
			--other-url "http://127.0.0.1:$pA" --work "$W/$fault-$mem" --n "$N" --fault "$fault" \
			--memory "$mem" --json "$W/$fault-$mem.json" >/dev/null || true
		python3 - "$W/$fault-$mem.json" "$base" >> "$out.tmp" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
what = {"stop": "stop (refused)", "hang": "SIGSTOP (hung)"}[r["fault"]]
print("| %s | %s | %s | %s | %s | %d | %d | %d | %.1f |" % (
    what, r["memory"], r["msgs_per_s"], r["latency_ms_median"], r["latency_ms_p99"],
    r["deferred_75"], r["retried_ok"], r["problem_count"],
    (r["latency_ms_sum"] - int(sys.argv[2])) / 1000.0))
PY
	done
done
echo >> "$out.tmp"
echo "Baseline without a fault: $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%s msgs/s, median %s ms" % (r["msgs_per_s"], r["latency_ms_median"]))' "$W/base.json")." >> "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
