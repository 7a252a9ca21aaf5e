#!/bin/bash
# A server that answers before it has read the message: a proxy's or a login page's 200, a
# broken API, a hostile peer. It reads the request head (or the first 4 KB of the body), sends
# a complete, valid-looking 200 (a clean Rspamd or SPOT verdict) with "Connection: close" and
# closes. Such an answer is about a message the server never saw: a scanner that gives it has
# failed (on_timeout decides), a hand-off that gets it has not delivered (75, 4.4.1).
#
# On loopback (MTU 65536) the kernel takes a whole 200 KB message into its socket buffers before
# any answer can come back, as no real network does; so the test runs in a network namespace of
# its own whose loopback has a real network's MTU (1500), the server's receive buffer is 4 KB,
# and the upload is still under way when the early answer arrives. Nothing else is reachable
# from that namespace.
if [ "${SPOT_EARLY_NETNS:-}" != 1 ]; then
	if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
		SPOT_EARLY_NETNS=1 exec unshare -n "$BASH" "$0" "$@"
	fi
	. "$(dirname "$0")/faultlib.sh"
	skip_all "needs root and network namespaces (unshare -n)"
fi
. "$(dirname "$0")/faultlib.sh"
ip link set lo mtu 1500 up 2>/dev/null ||
	skip_all "cannot set up loopback in the private network namespace"

FAULTS_LIST="early early4k"
TARGETS="Rspamd API hand-off"
plan $((3 + 3 * 2 * NCOMBOS))

start_bad bad --rcvbuf 4096
KEY=early-key-$$
printf '%s\n' "$KEY" >"$T/key"
chmod 600 "$T/key"
DEADLINE=1000

# 200 KB: the size of the message the early 200 was seen with
BIG=$T/big.eml
{
	printf 'From: Alice <alice@example.org>\r\nTo: Bob <bob@example.net>\r\n'
	printf 'Subject: early answer\r\nMessage-ID: <early-%s@example.org>\r\n\r\n' "$$"
	head -c 195000 /dev/zero | tr '\0' 'x' | fold -w 76 | sed 's/$/\r/'
} >"$BIG"

describe() {
	case $1 in
	early) echo "200 with a verdict right after the request head, body unread, then closes" ;;
	early4k) echo "the same after reading 4 KB of the body" ;;
	esac
}

# run NAME TARGET FAULT MODE POLICY
run() {
	local name=$1 target=$2 fault=$3 mode=$4 policy=$5 urls lda=(-- "$FAULTS/lda-count" "$T/$1.cap")
	case $target in
	Rspamd) urls=(--rspamd-url "$BAD/$fault/$name" --api-url "$BAD/good/$name") ;;
	API) urls=(--rspamd-url "$BAD/good/$name" --api-url "$BAD/$fault/$name") ;;
	hand-off) urls=(--rspamd-url "$BAD/good/$name" --api-url "$BAD/$fault/$name" --handoff) lda=() ;;
	esac
	sd_run "$name" -- "${SD[@]}" "${urls[@]}" --api-key-file "$T/key" --queue-id "E$name" \
		-f alice@example.org -r bob@example.net \
		--timeout-ms $DEADLINE --analysis-timeout-ms $DEADLINE --connect-timeout-ms $DEADLINE \
		-o spool_threshold=64K --mode "$mode" --on-timeout "$policy" "${lda[@]}" <"$BIG"
}

# The log line names what happened: the answer came after part of the message.
said_early() {
	grep -a -q -E 'HTTP 200 after [0-9]+ of [0-9]+ bytes of the message' "$T/$1.err"
}
EXTRA_WHY="no 'HTTP 200 after N of M bytes' in the log"

# Controls: the same server, namespace and message, answering after reading it all.
BOUND_MS=$DEADLINE
run c1 Rspamd good blocking block
expect c1 "control: Rspamd reads it all, clean" deliver 0 "$BIG" "X-Spam-Symbols: .*FAULT_SERVER"
run c2 API good blocking block
expect c2 "control: the API reads it all, clean" deliver 0 "$BIG" "X-SPOT-Status: analyzed"
run c3 hand-off good blocking block
sleep 0.05 # the server logs the body it read after spot-deliver may have exited
if [ "$R_KIND $R_CODE" = "exit 0" ] && [ "$(count_runs "$T/c3.cap")" = 0 ] &&
	grep -q -F "body /good/c3 $(wc -c <"$BIG" | tr -d ' ') " "$BAD_REC"; then
	ok 0 "control: hand-off, the API reads it all: 0, handed off"
else
	ok 1 "control: hand-off, the API reads it all"
	diag "run: $(cat "$T/c3.res")"
	diag_file "$T/c3.err" 5
fi

cell() {
	local name=e$n
	run "$name" "$target" "$fault" "$mode" "$policy"
	if [ "$target" = hand-off ]; then
		EXTRA_CHECK=said_early expect "$name" "$target $fault, $mode/$policy" refuse 75 4.4.1
	else
		EXTRA_CHECK=said_early expect_down "$name" "$target $fault, $mode/$policy" "$target" "$BIG"
	fi
}

n=0
for target in $TARGETS; do
	for fault in $FAULTS_LIST; do
		combos cell
		row "$target" "$(describe "$fault")" "${CELLS[@]}"
	done
done

write_report faults-0120 "Early answers" \
"tests/faults/0120-early-answer.t. A server (tests/faults/badserver.py) answers a complete, valid-looking 200 (a clean verdict) with \`Connection: close\` before it has read the message, then closes; the other scanner answers clean. In a private network namespace whose loopback has MTU 1500 and a server receive buffer of 4 KB, so that the upload of the 200 KB message is still under way when the answer comes, as on a real network. Deadlines 1 s. Such an answer is never a verdict and never a delivery: the log says \`HTTP 200 after N of M bytes of the message\`." \
	Target Fault "blocking, allow" "blocking, block" "tag-only, allow" "tag-only, block"
