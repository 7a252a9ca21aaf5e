# tests/lib.sh: a tiny TAP library for the bash test scripts tests/NNNN-name.t.
# In the style of mblaze's t/lib.sh. Source it first:   . "$(dirname "$0")/lib.sh"
#
# Variables it sets:
#   ROOT   the repository root
#   BIN    the binary under test: $SPOT_TEST_BIN, else $ROOT/spot-deliver
#   PY     /usr/bin/python3
#   T      a fresh temporary directory (mode 755), removed at exit unless TEST_KEEP=1
#   out, err   files holding the stdout/stderr of the last check/check_exit command
#
# TAP:
#   plan N                      print the plan "1..N"
#   ok STATUS DESC              "ok"/"not ok": STATUS 0 passes (like a shell exit status)
#   check DESC CMD...           ok if CMD exits 0
#   check_eq DESC GOT WANT      ok if the strings are equal
#   check_ne DESC GOT UNWANTED  ok if the strings differ
#   check_cmp DESC FILE1 FILE2  ok if the files are byte-identical (cmp); diff hint on failure
#   check_grep DESC ERE FILE    ok if grep -E finds ERE in FILE
#   check_exit DESC WANT CMD... ok if CMD exits with WANT; its stdout/stderr stay in $out/$err
#   skip DESC REASON            an "ok N - DESC # SKIP REASON" line
#   skip_all REASON             "1..0 # SKIP REASON" and exit 0 (only before plan)
#   skip_wrapped DESC REASON    a skip for a check that cannot apply under SPOT_TEST_WRAPPER
#                               (valgrind); "not ok" when no wrapper is set
#     With SPOT_TEST_REQUIRE=1 (.ci/run sets it) nothing may be skipped: skip is "not ok" and
#     skip_all a failed plan of one test, so that a missing dependency can never pass; only
#     skip_wrapped still skips (under a wrapper).
#   bail_out REASON             "Bail out! REASON" and exit 1 (stops prove)
#   diag MSG...                 each MSG (and each line in it) as "# line" on stderr
#   at_exit CMD...              run CMD at exit (before $T is removed), last registered first
#
# Services (call them before plan, they may skip_all or bail_out):
#   start_extra_rspamd DIR      another private rspamd under DIR (stopped at exit); sets
#                               EXTRA_RSPAMD_PORT
#   need_rspamd                 sets RSPAMD_PORT and RSPAMD_URL. Uses the instance on
#                               127.0.0.1:$RSPAMD_PORT if RSPAMD_PORT is set (one instance
#                               shared by the whole run: scripts/rspamd-local start DIR PORT;
#                               RSPAMD_PORT=PORT prove tests/), else starts a private one
#                               under $T/rspamd (stopped at exit); skips if rspamd is missing.
#   start_spot_api KEY [DIRECTIVES]   starts the stand-in SPOT API (tests/spot-api.py) under
#                               $T/spot-api-N on a free port, stopped at exit; sets SPOT_PORT,
#                               SPOT_URL (http://127.0.0.1:PORT), SPOT_RECORD (its record dir),
#                               SPOT_DIR.
#   spot_control DIRECTIVES     change the stand-in's default directives (POST /_control)
#   spot_count                  print how many requests the stand-in has recorded
#   spot_record N               print the path of record N (NNNN.json; NNNN.body beside it)
#   free_port                   print a free loopback TCP port (tests/ports.py)
#
# Helpers:
#   http_req METHOD URL [BODYFILE|- [HEADER...]]
#                               one HTTP request (tests/httpreq.py); prints the status code
#                               (000 on a connection error or timeout); the response body goes
#                               to $T/http.body, its headers ("Name: value" lines) to
#                               $T/http.headers, the elapsed milliseconds to $T/http.ms.
#                               HEADER is "Name: value"; HTTP_TIMEOUT (seconds, default 10).
#   json_get FILE KEY...        print a JSON value (strings raw, others as JSON); exit 1 if absent
#                               (tests/jsonget.py)
#   rspamd_scan FILE [HEADER...]  POST FILE to $RSPAMD_URL/checkv2; prints the status code, the
#                               reply in $T/http.body
#
# Environment: SPOT_TEST_BIN, RSPAMD_PORT, TEST_KEEP=1 (keep $T), SPOT_TEST_REQUIRE=1, RSPAMD_LOCAL_HS_CACHE
# (default ${TMPDIR:-/tmp}/spot-deliver-rspamd-hs, so that only the first private Rspamd of a
# machine compiles its hyperscan databases, about 10 s).
# SPOT_TEST_WRAPPER: a command that prefixes every run of the binary under test, e.g.
# "valgrind -q --error-exitcode=98 --leak-check=full" (make check's valgrind pass). BIN then
# names a generated script, $T/wrapped/spot-deliver, that runs: $SPOT_TEST_WRAPPER <binary> "$@"
# (the wrapper's words are split like shell words; the binary's path is made absolute).

set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${SPOT_TEST_BIN:-$ROOT/spot-deliver}
export BIN
PY=/usr/bin/python3
_tools=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) # the tools below: tests/*.py
export LC_ALL=C

T=$(mktemp -d "${TMPDIR:-/tmp}/spot-test.XXXXXX") || { echo "Bail out! mktemp failed"; exit 1; }
chmod 755 "$T" # a private rspamd runs as _rspamd and must reach $T/rspamd
out=$T/out
err=$T/err
: >"$out"
: >"$err"

if [ -n "${SPOT_TEST_WRAPPER:-}" ]; then
	case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
	mkdir -p "$T/wrapped"
	printf '#!/bin/bash\nexec %s %q "$@"\n' "$SPOT_TEST_WRAPPER" "$BIN" >"$T/wrapped/spot-deliver"
	chmod 755 "$T/wrapped/spot-deliver"
	BIN=$T/wrapped/spot-deliver
fi

_tap_n=0
_tap_failed=0
_tap_plan=
_exit_cmds=()

at_exit() {
	local q
	printf -v q '%q ' "$@"
	_exit_cmds+=("$q")
}

_lib_exit() {
	local rc=$? i
	trap - EXIT INT TERM
	for ((i = ${#_exit_cmds[@]} - 1; i >= 0; i--)); do
		eval "${_exit_cmds[i]}" >/dev/null 2>&1 || true
	done
	if [ "${TEST_KEEP:-}" = 1 ]; then
		echo "# kept $T" >&2
	else
		rm -rf "$T"
	fi
	if [ -n "$_tap_plan" ] && [ "$_tap_n" -ne "$_tap_plan" ]; then
		echo "# planned $_tap_plan tests but ran $_tap_n" >&2
		[ "$rc" -ne 0 ] || rc=255
	elif [ -n "$_tap_plan" ]; then
		rc=0 # the plan was run: the TAP lines say how it went, not the last command's status
	fi
	if [ "$_tap_failed" -gt 0 ]; then
		echo "# failed $_tap_failed of $_tap_n tests" >&2
		rc=$((_tap_failed > 254 ? 254 : _tap_failed))
	fi
	exit "$rc"
}
trap _lib_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A watchdog: no test file may hang CI. After TEST_TIMEOUT seconds (default
# 600) it ends the test and the commands it waits for; the exit trap still
# cleans up.
(
	trap - EXIT
	# killed at exit: take the sleep along, it holds prove's pipe open
	trap 'kill "$nap" 2>/dev/null; exit 0' TERM
	sleep "${TEST_TIMEOUT:-600}" &
	nap=$!
	wait "$nap" || exit 0
	echo "Bail out! $(basename "$0") took more than ${TEST_TIMEOUT:-600} s"
	kill -TERM $$         # pending until the foreground command ends...
	pkill -TERM -P $$     # ...which this ends
) >&2 </dev/null &
_watchdog=$!
_exit_cmds+=("kill $_watchdog")

diag() {
	local line
	printf '%s\n' "$@" | while IFS= read -r line; do printf '# %s\n' "$line"; done >&2
}

# diag_file FILE [LINES]: show the first LINES (default 20) lines of FILE as diagnostics.
diag_file() {
	[ -s "$1" ] || return 0
	head -n "${2:-20}" "$1" | sed 's/^/#   /' >&2
}

plan() {
	_tap_plan=$1
	echo "1..$1"
}

skip_all() {
	if [ "${SPOT_TEST_REQUIRE:-}" = 1 ]; then
		echo "1..1"
		echo "not ok 1 - $(basename "$0") cannot run: $* (SPOT_TEST_REQUIRE=1: nothing may be skipped)"
		_tap_plan=
		exit 1
	fi
	echo "1..0 # SKIP $*"
	_tap_plan=
	exit 0
}

bail_out() {
	echo "Bail out! $*"
	exit 1
}

ok() {
	local status=$1
	shift
	_tap_n=$((_tap_n + 1))
	if [ "$status" -eq 0 ]; then
		echo "ok $_tap_n - $*"
	else
		echo "not ok $_tap_n - $*"
		_tap_failed=$((_tap_failed + 1))
	fi
	return "$status"
}

skip() {
	if [ "${SPOT_TEST_REQUIRE:-}" = 1 ]; then
		ok 1 "$1 (not run: ${2:-}; SPOT_TEST_REQUIRE=1: nothing may be skipped)"
		return 1
	fi
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP ${2:-}"
}

skip_wrapped() {
	if [ -z "${SPOT_TEST_WRAPPER:-}" ]; then
		ok 1 "$1 (skip_wrapped, but no SPOT_TEST_WRAPPER is set)"
		return 1
	fi
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $1 # SKIP ${2:-}"
}

check() {
	local desc=$1 rc=0
	shift
	"$@" >"$out" 2>"$err" || rc=$?
	if ! ok "$rc" "$desc"; then
		diag "command: $* (exit $rc)"
		diag_file "$out"
		diag_file "$err"
		return 1
	fi
}

check_eq() {
	if [ "$2" = "$3" ]; then
		ok 0 "$1"
	else
		ok 1 "$1"
		diag "got:  '$2'" "want: '$3'"
		return 1
	fi
}

check_ne() {
	if [ "$2" != "$3" ]; then
		ok 0 "$1"
	else
		ok 1 "$1"
		diag "got '$2', which it should not be"
		return 1
	fi
}

check_cmp() {
	local desc=$1 a=$2 b=$3
	if cmp -s -- "$a" "$b"; then
		ok 0 "$desc"
	else
		ok 1 "$desc"
		diag "$(cmp -- "$a" "$b" 2>&1)"
		diag "sizes: $(wc -c <"$a" 2>/dev/null || echo missing) vs $(wc -c <"$b" 2>/dev/null || echo missing) bytes"
		if command -v diff >/dev/null; then
			diff -u -- "$a" "$b" 2>&1 | head -n 30 | sed 's/^/#   /' >&2
		fi
		return 1
	fi
}

check_grep() {
	local desc=$1 re=$2 file=$3
	if grep -E -q -e "$re" -- "$file" 2>/dev/null; then
		ok 0 "$desc"
	else
		ok 1 "$desc"
		diag "no match for /$re/ in $file:"
		diag_file "$file"
		return 1
	fi
}

check_exit() {
	local desc=$1 want=$2 rc=0
	shift 2
	"$@" >"$out" 2>"$err" || rc=$?
	if [ "$rc" -eq "$want" ]; then
		ok 0 "$desc"
	else
		ok 1 "$desc"
		diag "command: $*" "exit $rc, want $want"
		diag_file "$out"
		diag_file "$err"
		return 1
	fi
}

free_port() {
	"$PY" "$_tools/ports.py"
}

# _ports_free P...: every port is free for TCP and UDP on 127.0.0.1
_ports_free() {
	"$PY" "$_tools/ports.py" "$@"
}

http_req() {
	"$PY" "$_tools/httpreq.py" "$T" "$@"
}

json_get() {
	"$PY" "$_tools/jsonget.py" "$@"
}

# _rspamd_port: a port P with P, P+1 and P+3 free (worker, controller, DNS stub)
_rspamd_port() {
	local p i
	for i in $(seq 20); do
		p=$(free_port)
		[ "$p" -le 65532 ] && _ports_free "$p" $((p + 1)) $((p + 3)) && { echo "$p"; return 0; }
	done
	return 1
}

# start_extra_rspamd DIR: another private rspamd under DIR, stopped at exit;
# sets EXTRA_RSPAMD_PORT (not in a subshell: at_exit must register).
start_extra_rspamd() {
	local dir=$1 p
	export RSPAMD_LOCAL_HS_CACHE=${RSPAMD_LOCAL_HS_CACHE:-${TMPDIR:-/tmp}/spot-deliver-rspamd-hs}
	p=$(_rspamd_port) || bail_out "no free loopback ports for rspamd"
	at_exit "$ROOT/scripts/rspamd-local" stop "$dir"
	"$ROOT/scripts/rspamd-local" start "$dir" "$p" >"$dir.log" 2>&1 || {
		sed 's/^/# /' "$dir.log"
		bail_out "cannot start a private rspamd"
	}
	EXTRA_RSPAMD_PORT=$p
}

need_rspamd() {
	if [ -n "${RSPAMD_PORT:-}" ]; then
		RSPAMD_URL=http://127.0.0.1:$RSPAMD_PORT
		[ "$(rspamd_probe)" = 200 ] || bail_out "RSPAMD_PORT=$RSPAMD_PORT is set but /checkv2 does not answer there"
		export RSPAMD_PORT RSPAMD_URL
		return 0
	fi
	command -v rspamd >/dev/null || skip_all "rspamd is not installed"
	start_extra_rspamd "$T/rspamd"
	RSPAMD_PORT=$EXTRA_RSPAMD_PORT
	RSPAMD_URL=http://127.0.0.1:$RSPAMD_PORT
	export RSPAMD_PORT RSPAMD_URL
}

rspamd_probe() {
	printf 'From: probe@example.org\r\nSubject: probe\r\n\r\nprobe\r\n' >"$T/.probe.eml"
	http_req POST "$RSPAMD_URL/checkv2" "$T/.probe.eml" 2>/dev/null
}

rspamd_scan() {
	local f=$1
	shift
	http_req POST "$RSPAMD_URL/checkv2" "$f" "$@"
}

_spot_n=0
start_spot_api() {
	local key=$1 def=${2:-}
	_spot_n=$((_spot_n + 1))
	SPOT_DIR=$T/spot-api-$_spot_n
	at_exit "$ROOT/scripts/spot-api-local" stop "$SPOT_DIR"
	SPOT_PORT=$("$ROOT/scripts/spot-api-local" start "$SPOT_DIR" 0 "$key" "$def" 2>"$T/spot-start.log") || {
		sed 's/^/# /' "$T/spot-start.log"
		bail_out "cannot start the stand-in SPOT API"
	}
	SPOT_URL=http://127.0.0.1:$SPOT_PORT
	SPOT_RECORD=$SPOT_DIR/requests
	export SPOT_PORT SPOT_URL SPOT_RECORD SPOT_DIR
}

spot_control() {
	printf '%s' "$*" >"$T/.control"
	http_req POST "$SPOT_URL/_control" "$T/.control" >/dev/null
}

spot_count() {
	local f n=0
	for f in "$SPOT_RECORD"/[0-9][0-9][0-9][0-9]*.json; do
		[ -e "$f" ] && n=$((n + 1))
	done
	echo "$n"
}

spot_record() {
	printf '%s/%04d.json\n' "$SPOT_RECORD" "$1"
}
