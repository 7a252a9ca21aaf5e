#!/bin/bash
# tests/fuzz/run.sh BUILD_DIR SECONDS NAME...: runs each libFuzzer target
# BUILD_DIR/tests/fuzz/fuzz-NAME for SECONDS, starting from its seed corpus
# tests/fuzz/corpus-NAME/ (read only: what the fuzzer finds goes to BUILD_DIR/corpus-NAME/).
# Every seed runs first, so a crash kept in the corpus as a fixture fails at once.
# A crash, a leak, undefined behaviour, a broken invariant (tests/fuzz/fuzz.h), a timeout
# (10 s for one input) or 2 GB of memory fails the run; the input that did it is
# BUILD_DIR/crash-NAME-* (or leak-, timeout-, oom-): add it to tests/fuzz/corpus-NAME/.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$1
secs=$2
shift 2
cd "$root" || exit 1
rc=0
for name in "$@"; do
	bin=$dir/tests/fuzz/fuzz-$name
	work=$dir/corpus-$name
	log=$dir/fuzz-$name.log
	mkdir -p "$work"
	if [ ! -x "$bin" ]; then
		echo "fuzz-$name: $bin is missing (make fuzz-build)"
		rc=1
		continue
	fi
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$dir/" -print_final_stats=1 "$work" "tests/fuzz/corpus-$name" \
		>"$log" 2>&1
	st=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	if [ "$st" -eq 0 ]; then
		echo "fuzz-$name: ok, ${runs:-?} inputs in $secs s, corpus $(ls "$work" | wc -l) + $(ls "tests/fuzz/corpus-$name" | wc -l) seeds"
	else
		echo "fuzz-$name: FAILED (exit $st), log $log:"
		grep -E -m 5 'ERROR|runtime error|invariant broken|Test unit written' "$log"
		tail -n 30 "$log"
		rc=1
	fi
done
exit "$rc"
