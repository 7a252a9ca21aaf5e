# tests/faults/faultlib.sh: what the fault tests (tests/faults/NNNN-*.t) share.
# Source it instead of tests/lib.sh (it sources lib.sh itself):
#     . "$(dirname "$0")/faultlib.sh"
#
# Sets, besides what tests/lib.sh sets (with ROOT fixed to the repository root):
#   FAULTS     this directory
#   SLACK_MS   how long after its deadline a run may end ($SPOT_TEST_SLACK_MS, default 1000)
#   MSG        a 150 KB test message (multipart, CRLF, an attachment): with -o spool_threshold=64K
#              it is spooled, and its upload to a scanner takes more than one write
#   COMBOS     the mode/on_timeout pairs each fault runs with: "blocking/allow blocking/block
#              tag-only/allow tag-only/block", or $SPOT_FAULTS_COMBOS (the valgrind pass runs two
#              of them only); NCOMBOS: how many
#   SD         the options every run starts with: --log stderr, no config file, and a private
#              state_dir (no dead-upstream memory shared with other tests or the host)
#
# Functions:
#   start_bad [ID [OPTIONS...]] starts tests/faults/badserver.py (OPTIONS are its own, e.g.
#                               --rcvbuf 4096); sets BAD (http://127.0.0.1:PORT), BAD_REC (its
#                               record file, $T/ID.record), BAD_FILES (the directory of its
#                               file/NAME answers, $T/replies)
#   closed_url                  prints a loopback URL nobody listens on
#   sd_run NAME [RUNOPTS...] -- ARGS...
#                               runs "$BIN" ARGS through tests/faults/run.py (RUNOPTS are its options:
#                               --stdin, --stdout, --signal...; stdout and stderr default to
#                               $T/NAME.out and $T/NAME.err); sets R_KIND (exit, signal, timeout),
#                               R_CODE and R_MS
#   body_same A B               A and B have the same bytes after their top header block (msgpart.py)
#   enh_code FILE               the enhanced status code of the first line of FILE that starts
#                               with one, or "-"
#   expect NAME DESC KIND ...   one TAP line for the run NAME, and the table cell in CELL:
#       expect NAME DESC deliver CODE INPUT [MARK]
#           exit CODE, delivered exactly once (T/NAME.cap.count has one line), the bytes after
#           the header block identical to INPUT's, and MARK ("Name: ERE") among the headers
#       expect NAME DESC refuse CODE ENH
#           exit CODE (not 0), the LDA never ran, the status line starts with ENH
#       expect NAME DESC lda STATUS INPUT
#           STATUS ("exit N" or "signal N") is what the LDA itself ended with, it ran once, and it
#           was given the whole message
#     BOUND_MS, when set, also requires the run to end within BOUND_MS + SLACK_MS; EXTRA_CHECK, when
#     set, names a function that is called with NAME and must succeed (else EXTRA_WHY is the
#     failure), and EXTRA_CELL is added to the cell.
#   expect_down NAME DESC SCANNER INPUT [STATUS]
#                               the run NAME had SCANNER (Rspamd or API) fail: with blocking/block
#                               ($combo) it is refused, 75 4.7.0 for Rspamd, 75 4.7.1 for the API;
#                               else delivered, with X-Spam-Error or X-SPOT-Status: STATUS (default
#                               timeout)
#   verdict NAME DESC           the TAP line of a cell from the failures in the caller's why array:
#                               "ok DESC: CELL" when there are none, else "not ok", the reasons and
#                               the run's output, and CELL is "**FAIL**: reasons" (expect ends so)
#   also STATUS DESC GOOD BAD [DIAG...]
#                               one more TAP line about the current cell: STATUS 0 adds "; GOOD" to
#                               CELL, else "; **FAIL**: BAD", with DIAG as diagnostics
#   combos FN                   calls FN once per mode/on_timeout pair of COMBOS, with combo, mode
#                               and policy set and n counted up; CELLS: the CELL each call left
#   result DESC STATUS [DIAG...]
#                               one TAP line and a table row "DESC | ok" (or "**FAIL**", with DIAG)
#   row SECTION CELLS...        one result table row (tab-separated) for write_report
#   write_report ID TITLE INTRO COLUMNS...
#                               replaces the section ID of $REPORT_DOC with a table of this run's
#                               rows (not when SPOT_FAULTS_REPORT=0, nor with SPOT_FAULTS_COMBOS).
#                               REPORT_DOC is $SPOT_FAULTS_REPORT_DOC, else build-report/reliability.md
#                               (ignored by git): a test run never changes a tracked file; `make
#                               reliability` points it at docs/reliability.md.
FAULTS=$(cd "$(dirname "$0")" && pwd)
_faults_root=$(cd "$FAULTS/../.." && pwd)
case ${SPOT_TEST_BIN:-} in
'') SPOT_TEST_BIN=$_faults_root/spot-deliver ;;
/*) ;;
*) SPOT_TEST_BIN=$PWD/$SPOT_TEST_BIN ;;
esac
export SPOT_TEST_BIN
# shellcheck source=tests/lib.sh
. "$FAULTS/../lib.sh"
ROOT=$_faults_root
unset SPOT_API_KEY
while read -r _v; do unset "$_v"; done < <(compgen -e | grep '^SPOT_DELIVER_' || true)

SLACK_MS=${SPOT_TEST_SLACK_MS:-1000}
ALL_COMBOS="blocking/allow blocking/block tag-only/allow tag-only/block"
COMBOS=${SPOT_FAULTS_COMBOS:-$ALL_COMBOS}
NCOMBOS=$(wc -w <<<"$COMBOS")
LDA=$ROOT/tests/lda-capture
SD=(--log stderr -c /dev/null -o "state_dir=$T/state")
RESULTS=$T/results.tsv
: >"$RESULTS"

part() { "$PY" "$ROOT/tests/msgpart.py" "$@"; }

MSG=$T/msg.eml
"$PY" "$FAULTS/matrixmsg.py" "$MSG"

start_bad() {
	local id=${1:-bad}
	[ $# -gt 0 ] && shift
	BAD_REC=$T/$id.record
	BAD_FILES=$T/replies
	mkdir -p "$BAD_FILES"
	"$PY" "$FAULTS/badserver.py" --record "$BAD_REC" --files "$BAD_FILES" "$@" \
		</dev/null >"$T/$id.out" 2>"$T/$id.log" &
	# at exit: kill, then wait, so that its last records are written before $T goes
	at_exit wait "$!"
	at_exit kill "$!"
	local i
	for i in $(seq 100); do
		grep -q '^ready' "$T/$id.out" 2>/dev/null && break
		sleep 0.05
	done
	grep -q '^ready' "$T/$id.out" || bail_out "badserver did not start: $(cat "$T/$id.log")"
	BAD=http://127.0.0.1:$(sed -n 's/^ready //p' "$T/$id.out")
}

closed_url() {
	echo "http://127.0.0.1:$(free_port)"
}

sd_run() {
	local name=$1 line
	shift
	local opts=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	line=$("$PY" "$FAULTS/run.py" --stdout "$T/$name.out" --stderr "$T/$name.err" "${opts[@]}" \
		-- "$BIN" "$@")
	read -r R_KIND R_CODE R_MS <<<"$line"
	printf '%s\n' "$line" >"$T/$name.res"
}

body_same() {
	cmp -s <(part body "$1") <(part body "$2")
}

enh_code() {
	local w
	w=$(grep -a -m 1 -E '^[245]\.[0-9]{1,3}\.[0-9]{1,3}( |$)' "$1" 2>/dev/null | awk '{print $1}')
	echo "${w:--}"
}

count_runs() {
	if [ -e "$1.count" ]; then wc -l <"$1.count" | tr -d ' '; else echo 0; fi
}

# The enhanced status code of the run NAME's status line: on stdout with an LDA, on stderr in
# filter mode.
_status_code() {
	local c
	c=$(enh_code "$T/$1.out")
	[ "$c" != - ] || c=$(enh_code "$T/$1.err")
	echo "$c"
}

expect() {
	local name=$1 desc=$2 kind=$3 why=() cap=$T/$1.cap n enh
	shift 3
	n=$(count_runs "$cap")
	case $kind in
	deliver)
		local code=$1 input=$2 mark=${3:-}
		[ "$R_KIND $R_CODE" = "exit $code" ] || why+=("ended with $R_KIND $R_CODE, want exit $code")
		[ "$n" = 1 ] || why+=("delivered $n times")
		if [ -e "$cap" ] && ! body_same "$input" "$cap"; then why+=("body changed"); fi
		if [ -n "$mark" ] && [ -e "$cap" ] && ! part head "$cap" | grep -a -q -E "^$mark"; then
			why+=("no $mark header")
		fi
		local shown=$mark
		[ "${mark#*: }" = ".+" ] && shown=${mark%%:*}
		CELL="$code, delivered 1×, body ≡${mark:+, \`$shown\`}"
		;;
	refuse)
		local code=$1 want=$2
		enh=$(_status_code "$name")
		[ "$R_KIND $R_CODE" = "exit $code" ] || why+=("ended with $R_KIND $R_CODE, want exit $code")
		[ "$n" = 0 ] || why+=("delivered $n times, want none")
		[ "$enh" = "$want" ] || why+=("status line code $enh, want $want")
		CELL="$code $want, not delivered"
		;;
	lda)
		local status=$1 input=$2
		[ "$R_KIND $R_CODE" = "$status" ] || why+=("ended with $R_KIND $R_CODE, want $status")
		[ "$n" = 1 ] || why+=("the LDA ran $n times")
		if [ -e "$cap" ] && ! body_same "$input" "$cap"; then why+=("the LDA did not get the whole body"); fi
		CELL="${status#exit } (the LDA's), LDA ran 1× with the whole message"
		;;
	*)
		bail_out "expect: unknown kind $kind"
		;;
	esac
	if [ -n "${EXTRA_CHECK:-}" ] && ! "$EXTRA_CHECK" "$name"; then
		why+=("$EXTRA_WHY")
	fi
	if [ -n "${BOUND_MS:-}" ] && [ "$R_MS" -gt $((BOUND_MS + SLACK_MS)) ]; then
		why+=("took longer than $BOUND_MS + $SLACK_MS ms")
	fi
	CELL=$CELL${EXTRA_CELL:-}
	verdict "$name" "$desc"
}

verdict() {
	if [ ${#why[@]} -eq 0 ]; then
		ok 0 "$2: $CELL"
	else
		ok 1 "$2"
		diag "${why[@]}" "run: $(cat "$T/$1.res" 2>/dev/null)"
		diag_file "$T/$1.out" 5
		diag_file "$T/$1.err" 10
		CELL="**FAIL**: ${why[*]}"
	fi
}

expect_down() {
	local name=$1 desc=$2 scanner=$3 input=$4 status=${5:-timeout}
	if [ "$combo" = blocking/block ] && [ "$scanner" = Rspamd ]; then
		expect "$name" "$desc" refuse 75 4.7.0
	elif [ "$combo" = blocking/block ]; then
		expect "$name" "$desc" refuse 75 4.7.1
	elif [ "$scanner" = Rspamd ]; then
		expect "$name" "$desc" deliver 0 "$input" "X-Spam-Error: .+"
	else
		expect "$name" "$desc" deliver 0 "$input" "X-SPOT-Status: $status"
	fi
}

also() {
	local st=$1 desc=$2 good=$3 bad=$4
	shift 4
	if ok "$st" "$desc"; then
		CELL="$CELL; $good"
	else
		[ $# -gt 0 ] && diag "$@"
		CELL="$CELL; **FAIL**: $bad"
	fi
}

combos() {
	CELLS=()
	for combo in $COMBOS; do
		mode=${combo%/*} policy=${combo#*/}
		n=$((n + 1))
		"$1"
		CELLS+=("$CELL")
	done
}

result() {
	local desc=$1 st=$2
	shift 2
	if ok "$st" "$desc"; then
		row "$desc" "ok"
	else
		row "$desc" "**FAIL**"
		[ $# -gt 0 ] && diag "$@"
	fi
	return 0
}

# wrapped: true when every run goes through SPOT_TEST_WRAPPER (valgrind). Valgrind cannot run a
# few faults: an execve(2) that fails after its own checks (an LDA whose #! interpreter is
# missing) kills it, it needs a writable $TMPDIR, and it takes the lowest free descriptor for its
# log when fd 0 or 1 is closed. Those cases are skipped there.
wrapped() {
	[ -n "${SPOT_TEST_WRAPPER:-}" ]
}

row() {
	local IFS=$'\t'
	printf '%s\n' "$*" >>"$RESULTS"
}

REPORT_DOC=${SPOT_FAULTS_REPORT_DOC:-$ROOT/build-report/reliability.md}
write_report() {
	# the tables show complete runs only
	[ "${SPOT_FAULTS_REPORT:-1}" = 0 ] && return 0
	[ "$COMBOS" = "$ALL_COMBOS" ] || return 0
	mkdir -p "$(dirname "$REPORT_DOC")" &&
		"$PY" "$FAULTS/report.py" "$REPORT_DOC" "$RESULTS" "$@" ||
		diag "could not write $REPORT_DOC"
}

# small_tmpfs DIR SIZE [ro]: mounts a tmpfs of SIZE (e.g. 64k) on DIR, unmounted at exit; fails
# (and mounts nothing) when this is not root or mount(8) is not allowed here.
small_tmpfs() {
	local dir=$1 size=$2 opts="size=$2,mode=1777"
	[ "${3:-}" = ro ] && opts="$opts,ro"
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] || return 1
	mount -t tmpfs -o "$opts" spot-faults "$dir" 2>/dev/null || return 1
	at_exit umount -l "$dir"
}
