#!/bin/bash
# The fault matrix for the two scanners: every fault of tests/faults/badserver.py (and a
# refused connection), first as Rspamd with a working API, then as the API with a working
# Rspamd; each in both modes and with both timeout policies. Every run delivers through an
# LDA and must end either delivered exactly once with the body intact, or not delivered with
# the documented sysexits code; and always within the deadline plus SLACK_MS.
. "$(dirname "$0")/faultlib.sh"

RSPAMD_FAULTS="refused hang slowread slow s500 s503 empty truncated cut wrongshape wrongtypes huge redirect reset"
API_FAULTS="$RSPAMD_FAULTS accepted pollhang"
nr=$(wc -w <<<"$RSPAMD_FAULTS")
na=$(wc -w <<<"$API_FAULTS")
plan $(((nr + na) * NCOMBOS))

start_bad
KEY=fault-key-$$
printf '%s\n' "$KEY" >"$T/key"
chmod 600 "$T/key"
DEADLINE=500

describe() {
	case $1 in
	refused) echo "connection refused" ;;
	hang) echo "accepts, reads the request, never answers" ;;
	slowread) echo "reads the request at 512 bytes/s, never answers" ;;
	slow) echo "a valid 200 answer, one byte every 50 ms" ;;
	s500) echo "HTTP 500" ;;
	s503) echo "HTTP 503 with Retry-After: 120" ;;
	empty) echo "200 with an empty body" ;;
	truncated) echo "200, half of the JSON (Content-Length matching)" ;;
	cut) echo "200, connection closed halfway through the announced body" ;;
	wrongshape) echo "200 with a JSON list" ;;
	wrongtypes) echo "200, an object whose fields have the wrong types" ;;
	huge) echo "200 with a 50 MB answer" ;;
	redirect) echo "302 to a clean verdict (must not be followed)" ;;
	reset) echo "connection reset while the request is sent" ;;
	accepted) echo "202 accepted, then every poll 503" ;;
	pollhang) echo "202 accepted, then every poll hangs" ;;
	esac
}

url_of() { # url_of FAULT
	if [ "$1" = refused ]; then closed_url; else echo "$BAD/$1"; fi
}

cell() {
	local name=run$n urls status=timeout
	if [ "$target" = Rspamd ]; then
		urls=(--rspamd-url "$(url_of "$fault")" --api-url "$BAD/good")
	else
		urls=(--rspamd-url "$BAD/good" --api-url "$(url_of "$fault")")
	fi
	sd_run "$name" -- "${SD[@]}" "${urls[@]}" --api-key-file "$T/key" \
		--timeout-ms $DEADLINE --analysis-timeout-ms $DEADLINE --connect-timeout-ms $DEADLINE \
		-o poll_interval_ms=100 -o spool_threshold=64K --mode "$mode" --on-timeout "$policy" \
		-- "$FAULTS/lda-count" "$T/$name.cap" <"$MSG"
	case $mode/$fault in tag-only/accepted | tag-only/pollhang) status=accepted ;; esac
	BOUND_MS=$DEADLINE expect_down "$name" "$target $fault, $mode/$policy" "$target" "$MSG" "$status"
}

n=0
for target in Rspamd API; do
	faults=$RSPAMD_FAULTS
	[ "$target" = API ] && faults=$API_FAULTS
	for fault in $faults; do
		combos cell
		row "$target" "$(describe "$fault")" "${CELLS[@]}"
	done
done

write_report faults-0100 "Scanner faults" \
"tests/faults/0100-scanners.t. One scanner misbehaves (tests/faults/badserver.py, or a port nobody listens on), the other answers clean at once. The message (150 KB, CRLF, multipart, spooled with \`spool_threshold = 64K\`) is delivered through an LDA that counts its runs (tests/faults/lda-count). Deadlines: \`timeout_ms\`, \`analysis_timeout_ms\` and \`connect_timeout_ms\` 500; every run, whatever the fault, ended within 0.5 s + ${SLACK_MS} ms. A cell: the exit code, the enhanced status code of the status line when not delivered, whether the LDA ran exactly once, whether every byte after the header block arrived unchanged (≡), and the header that says the scanner failed." \
	Scanner Fault "blocking, allow" "blocking, block" "tag-only, allow" "tag-only, block"
