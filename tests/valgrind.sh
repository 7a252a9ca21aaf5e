#!/bin/bash
# tests/valgrind.sh UNIT_DIR TEST...: make check's valgrind memcheck pass.
#
# 1. Every unit test binary in UNIT_DIR (test-*) runs under valgrind and must exit 0.
# 2. prove runs the TEST files with SPOT_TEST_WRAPPER set (tests/lib.sh): every run of
#    spot-deliver goes through valgrind.
# 3. Every valgrind log must be empty: no invalid read or write, no use of uninitialised
#    memory, no definitely lost block (possibly lost and still reachable blocks are not
#    errors: GLib, GMime and libcurl keep their one-time allocations until exit).
#
# Logs go to $VALGRIND_LOGS (default build-valgrind/logs), one per process; the first ones
# that hold errors are shown. SPOT_TEST_SLACK_MS defaults to 4000 here: a run under valgrind
# starts about 0.7 s later than a native one, and the fault tests bound every run by its
# deadline plus that slack.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
unit_dir=$1
shift
logs=${VALGRIND_LOGS:-$root/build-valgrind/logs}
rm -rf "$logs"
mkdir -p "$logs"
vg="valgrind -q --error-exitcode=98 --leak-check=full --errors-for-leak-kinds=definite"
vg="$vg --show-leak-kinds=definite --num-callers=40 --child-silent-after-fork=yes"
vg="$vg --suppressions=$root/tests/valgrind.supp --log-file=$logs/%p.log"
rc=0

echo "valgrind: unit tests in $unit_dir"
for t in "$unit_dir"/test-*; do
	[ -x "$t" ] && [ ! -d "$t" ] || continue
	case $t in *.c | *.o) continue ;; esac
	(cd "$root" && $vg "$t" >"$logs/unit-$(basename "$t").out" 2>&1 </dev/null)
	st=$?
	if [ "$st" -ne 0 ]; then
		echo "valgrind: $(basename "$t") exited $st"
		tail -n 20 "$logs/unit-$(basename "$t").out"
		rc=1
	fi
done

# tests/faults/ bound every run by its deadline plus the slack: they run two at a time;
# the others, which have tighter timing checks of their own, one at a time.
serial=()
parallel=()
for t in "$@"; do
	case $t in
	*tests/faults/*) parallel+=("$t") ;;
	*) serial+=("$t") ;;
	esac
done
export SPOT_TEST_WRAPPER=$vg SPOT_TEST_SLACK_MS=${SPOT_TEST_SLACK_MS:-4000} SPOT_FAULTS_REPORT=0
if [ ${#serial[@]} -gt 0 ]; then
	echo "valgrind: prove ${serial[*]}"
	prove "${serial[@]}" || rc=1
fi
if [ ${#parallel[@]} -gt 0 ]; then
	echo "valgrind: prove -j2 ${parallel[*]}"
	prove -j2 "${parallel[@]}" || rc=1
fi

bad=$(find "$logs" -name '*.log' -size +0 | sort)
if [ -n "$bad" ]; then
	echo "valgrind: $(wc -l <<<"$bad") process(es) with errors; the first ones:"
	for f in $(head -n 3 <<<"$bad"); do
		echo "--- $f"
		head -n 60 "$f"
	done
	rc=1
else
	echo "valgrind: no errors, no definitely lost blocks"
fi
exit "$rc"
