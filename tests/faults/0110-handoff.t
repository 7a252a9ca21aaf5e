#!/bin/bash
# Hand-off faults: the API's 2xx is the delivery (docs/how-it-decides.md, "Hand-off mode"). Any
# 2xx after the whole message was sent, whatever its body, delivers (exit 0, the API got every
# byte once; a 2xx before that is tests/faults/0120-early-answer.t); anything else exits 75
# with 4.4.1 and the MTA retries (the Idempotency-Key makes the retry safe). Every run ends
# within analysis_timeout_ms plus SLACK_MS.
. "$(dirname "$0")/faultlib.sh"

FAULTS_LIST="good refused hang slowread slow s500 s503 empty truncated cut wrongshape wrongtypes huge redirect reset accepted pollhang"
plan $(($(wc -w <<<"$FAULTS_LIST") * NCOMBOS))

start_bad
printf 'handoff-key-%s\n' "$$" >"$T/key"
chmod 600 "$T/key"
DEADLINE=500
WANT_SHA=$(sha256sum <"$MSG" | cut -d' ' -f1)
WANT_LEN=$(wc -c <"$MSG" | tr -d ' ')

describe() {
	case $1 in
	good) echo "200 with a verdict (control)" ;;
	refused) echo "connection refused" ;;
	hang) echo "accepts, reads the message, never answers" ;;
	slowread) echo "reads the message at 512 bytes/s, never answers" ;;
	slow) echo "a 200 answer, one byte every 50 ms" ;;
	s500) echo "HTTP 500" ;;
	s503) echo "HTTP 503 with Retry-After: 120" ;;
	empty) echo "200 with an empty body" ;;
	truncated) echo "200, half of a JSON body" ;;
	cut) echo "200, connection closed halfway through the announced body" ;;
	wrongshape) echo "200 with a JSON list" ;;
	wrongtypes) echo "200, an object of the wrong types" ;;
	huge) echo "200 with a 50 MB answer (more than the 1 MiB kept)" ;;
	redirect) echo "302 (not followed)" ;;
	reset) echo "connection reset while the message is sent" ;;
	accepted) echo "202 accepted" ;;
	pollhang) echo "202 accepted (nothing is polled in hand-off)" ;;
	esac
}

# complete PATH: how many times the API read the whole message, byte for byte, under PATH
complete() {
	grep -c -F -x "body $1 $WANT_LEN $WANT_SHA" "$BAD_REC" || true
}

cell() {
	local name=h$n path=/$fault/h$n url got enh why=()
	url=$BAD$path
	[ "$fault" = refused ] && url=$(closed_url)$path
	sd_run "$name" -- "${SD[@]}" --rspamd-url "$BAD/good" --api-url "$url" --api-key-file "$T/key" \
		--handoff --queue-id "HQ$n" --timeout-ms $DEADLINE --analysis-timeout-ms $DEADLINE \
		--connect-timeout-ms $DEADLINE -o spool_threshold=64K --mode "$mode" --on-timeout "$policy" <"$MSG"
	sleep 0.05 # the server logs the body it read after spot-deliver may have exited
	got=$(complete "$path")
	case $fault in
	good | empty | truncated | wrongshape | wrongtypes | accepted | pollhang)
		[ "$R_KIND $R_CODE" = "exit 0" ] || why+=("ended with $R_KIND $R_CODE, want exit 0")
		[ "$got" = 1 ] || why+=("the API got the whole message $got times, want 1")
		CELL="0, handed off 1×, bytes ≡"
		;;
	*)
		enh=$(_status_code "$name")
		[ "$R_KIND $R_CODE" = "exit 75" ] || why+=("ended with $R_KIND $R_CODE, want exit 75")
		[ "$enh" = 4.4.1 ] || why+=("status line code $enh, want 4.4.1")
		[ "$got" -le 1 ] || why+=("the API got the whole message $got times")
		CELL="75 4.4.1, retried (the API had read it whole ${got}×)"
		;;
	esac
	[ "$R_MS" -le $((DEADLINE + SLACK_MS)) ] || why+=("took longer than $DEADLINE + $SLACK_MS ms")
	verdict "$name" "hand-off $fault, $mode/$policy"
}

n=0
for fault in $FAULTS_LIST; do
	combos cell
	row "$(describe "$fault")" "${CELLS[@]}"
done

write_report faults-0110 "Hand-off faults" \
"tests/faults/0110-handoff.t. \`--handoff\`: the API's 2xx answer is the delivery, whatever its body. The API misbehaves (tests/faults/badserver.py), Rspamd answers clean. \`analysis_timeout_ms\` 500; every run ended within 0.5 s + ${SLACK_MS} ms. \"Handed off 1×, bytes ≡\": the API read the whole message exactly once, byte for byte. After a 75 the MTA sends the message again with the same \`Idempotency-Key\`, so an API that had already read it whole can recognise the retry." \
	Fault "blocking, allow" "blocking, block" "tag-only, allow" "tag-only, block"
