#!/bin/bash
# tests/unit/run.sh NAME: runs the C unit test binary NAME (test-config, ...)
# for prove, its TAP output passed through as it is, so that prove counts
# every assertion. tests/unit/NAME.t (without "test-") is one line that calls
# this. Beyond what prove checks (exit status, plan, "not ok"), the run fails
# (exit 1) when the binary is missing, ran no test, or wrote a sanitizer
# report on stderr.
#
#   make unit && prove tests/unit/*.t
#   make asan && SPOT_UNIT_DIR=build-asan/tests/unit prove tests/unit/*.t
#
# The binary runs with the repository root as working directory, so the
# fixtures are at tests/fixtures/... and docs/...; SPOT_UNIT_DIR, when
# relative, is taken from the directory prove was started in.
set -u

name=$1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd) || exit 1
dir=${SPOT_UNIT_DIR:-$root/tests/unit}
case $dir in
/*) ;;
*) dir=$PWD/$dir ;;
esac
bin=$dir/$name

# Sanitizer builds: leaks and undefined behaviour are failures.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# The units read no configuration of the machine they run on.
unset SPOT_API_KEY
while read -r var; do
	unset "$var"
done < <(compgen -e | grep '^SPOT_DELIVER_' || true)

if [ ! -x "$bin" ] || [ -d "$bin" ]; then
	echo "1..1"
	echo "not ok 1 - $name: $bin is missing (make unit, or make asan)"
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/spot-unit.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
limit=()
if command -v timeout >/dev/null 2>&1; then
	limit=(timeout 600)
fi

cd "$root" || exit 1
TMPDIR=$work "${limit[@]}" "$bin" </dev/null 2>"$work/err" | tee "$work/out"
rc=${PIPESTATUS[0]}
cat "$work/err" >&2

if grep -qE 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|SUMMARY: [A-Za-z]+Sanitizer' \
    "$work/err"; then
	echo "$name: a sanitizer report (above)" >&2
	[ "$rc" -ne 0 ] || rc=1
fi
if ! grep -qE '^(not )?ok [0-9]+' "$work/out"; then
	echo "$name: no tests ran" >&2
	[ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"
