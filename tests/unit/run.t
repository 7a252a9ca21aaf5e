#!/bin/bash
# Runs the C unit test binaries and reports them to prove as one TAP stream:
# one test per binary, its own TAP output indented below "# Subtest: NAME".
# A binary passes when it exits 0, printed a plan that matches its number of
# results, printed no "not ok", and wrote no sanitizer report on stderr. A
# missing binary fails.
#
#   make unit && prove tests/unit/run.t
#   make asan && SPOT_UNIT_DIR=build-asan/tests/unit prove tests/unit/run.t
#
# The binaries run with the repository root as working directory, so the
# fixtures are at tests/fixtures/...; SPOT_UNIT_DIR, when relative, is taken
# from the directory prove was started in.
set -u

names=(test-config test-rspamd test-rewrite test-decide test-spot test-state test-age test-identity test-upstream)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) || exit 1
root=$(cd "$here/../.." && pwd) || exit 1
dir=${SPOT_UNIT_DIR:-$root/tests/unit}
case $dir in
/*) ;;
*) dir=$PWD/$dir ;;
esac

# Sanitizer builds: leaks and undefined behaviour are failures.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# The units read no configuration of the machine they run on.
unset SPOT_API_KEY
while read -r var; do
	unset "$var"
done < <(compgen -e | grep '^SPOT_DELIVER_' || true)

work=$(mktemp -d "${TMPDIR:-/tmp}/spot-unit.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

limit=()
if command -v timeout >/dev/null 2>&1; then
	limit=(timeout 600)
fi

cd "$root" || exit 1
echo "1..${#names[@]}"
n=0
for name in "${names[@]}"; do
	n=$((n + 1))
	bin=$dir/$name
	echo "# Subtest: $name"
	if [ ! -x "$bin" ] || [ -d "$bin" ]; then
		echo "not ok $n - $name: $bin is missing (make unit, or make asan)"
		echo "$name: $bin is missing" >&2
		continue
	fi
	TMPDIR=$work "${limit[@]}" "$bin" >"$work/out" 2>"$work/err" </dev/null
	rc=$?
	sed 's/^/    /' "$work/out"
	sed 's/^/    # stderr: /' "$work/err"

	why=()
	[ "$rc" -eq 0 ] || why+=("exit status $rc")
	results=$(grep -cE '^(not )?ok [0-9]+' "$work/out")
	failed=$(grep -cE '^not ok [0-9]+' "$work/out")
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$work/out" | head -n 1)
	[ "$failed" -eq 0 ] || why+=("$failed failed")
	if [ -z "$plan" ]; then
		why+=("no plan")
	elif [ "$plan" -ne "$results" ]; then
		why+=("planned $plan, ran $results")
	elif [ "$plan" -eq 0 ]; then
		why+=("no tests")
	fi
	if grep -qE 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:|SUMMARY: [A-Za-z]+Sanitizer' \
	    "$work/err"; then
		why+=("sanitizer report")
	fi

	if [ ${#why[@]} -eq 0 ]; then
		echo "ok $n - $name ($results tests)"
	else
		reason=${why[0]}
		for w in "${why[@]:1}"; do
			reason="$reason; $w"
		done
		echo "not ok $n - $name ($reason)"
		# prove shows stderr even when not verbose: the failures and the
		# sanitizer report go there
		{
			echo "--- $name: $reason"
			awk '/^not ok / { p = 1; print; next } p && /^#/ { print; next } { p = 0 }' \
			    "$work/out" | head -n 400
			head -n 200 "$work/err"
		} >&2
	fi
done
exit 0
