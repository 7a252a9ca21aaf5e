#!/bin/bash
# The test library's promises about skipping and about the tree: with SPOT_TEST_REQUIRE=1 (what
# .ci/run sets) skip_all and skip fail instead of passing, and only skip_wrapped still skips,
# under a wrapper; no test file skips by hand; a test run leaves the tracked files alone (the
# fault tables go to build-report/, not docs/reliability.md).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

plan 11

# t NAME BODY: a test script that sources lib.sh and runs BODY
t() {
	printf '#!/bin/bash\n. %q\n%s\n' "$ROOT/tests/lib.sh" "$2" >"$T/$1.t"
	chmod 755 "$T/$1.t"
}
t skipall 'skip_all "no such program"'
t skip 'plan 2; ok 0 "first"; skip "second" "no such program"'
t wrapped 'plan 1; skip_wrapped "under valgrind" "cannot apply"'

check_exit "skip_all without SPOT_TEST_REQUIRE: a skipped file" 0 env -u SPOT_TEST_REQUIRE "$T/skipall.t"
check_exit "skip_all with SPOT_TEST_REQUIRE=1: the file fails" 1 env SPOT_TEST_REQUIRE=1 "$T/skipall.t"
check_grep "skip_all with SPOT_TEST_REQUIRE=1: a plan with one \"not ok\"" '^not ok 1 .*no such program' "$out"
check_exit "prove fails a skip_all under SPOT_TEST_REQUIRE=1" 1 env SPOT_TEST_REQUIRE=1 prove "$T/skipall.t"
check_exit "skip without SPOT_TEST_REQUIRE: the file passes" 0 env -u SPOT_TEST_REQUIRE "$T/skip.t"
check_exit "skip with SPOT_TEST_REQUIRE=1: the file fails" 1 env SPOT_TEST_REQUIRE=1 "$T/skip.t"
check_exit "skip_wrapped without a wrapper: the file fails" 1 env -u SPOT_TEST_WRAPPER "$T/wrapped.t"
check_exit "skip_wrapped under a wrapper, SPOT_TEST_REQUIRE=1: skipped" 0 \
	env SPOT_TEST_REQUIRE=1 SPOT_TEST_WRAPPER=env "$T/wrapped.t"

hand=$(cd "$ROOT" && grep -l -r -E '1\.\.0|# SKIP' tests --include='*.t' --include='*.sh' --include='*.py' |
	grep -v -x -F -e tests/lib.sh -e tests/0002-lib.t)
check_eq "no test file or helper writes a skip of its own (only tests/lib.sh)" "$hand" ""
check_grep ".ci/run exports SPOT_TEST_REQUIRE=1" '^export SPOT_TEST_REQUIRE=1$' "$ROOT/.ci/run"

# A fault test run with the default settings: docs/reliability.md is neither rewritten nor
# replaced (report.py would rename a new file over it), and git sees no change.
before=$(stat -c '%i %Y' "$ROOT/docs/reliability.md")
status=$(cd "$ROOT" && git status --porcelain 2>/dev/null)
env -u SPOT_FAULTS_REPORT -u SPOT_FAULTS_REPORT_DOC -u SPOT_FAULTS_COMBOS \
	"$ROOT/tests/faults/0720-injection.t" >"$T/fault.out" 2>&1
after=$(stat -c '%i %Y' "$ROOT/docs/reliability.md")
check_eq "a fault test run leaves docs/reliability.md and the git status alone" \
	"$after $(cd "$ROOT" && git status --porcelain 2>/dev/null)" "$before $status"
