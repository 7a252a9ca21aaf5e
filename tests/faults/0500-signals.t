#!/bin/bash
# Signals. SIGTERM, SIGINT and SIGHUP while spot-deliver waits for the scanners (both hang) or
# reads its stdin: exit 75 at once, "4.3.0 ... interrupted by a signal", no delivery, nothing
# left in the spool directory. SIGPIPE is ignored: the run goes on to its normal end.
. "$(dirname "$0")/faultlib.sh"

CASES="TERM INT HUP TERM-stdin PIPE"
plan $(($(wc -w <<<"$CASES") * NCOMBOS * 2))

start_bad
printf 'signal-key-%s\n' "$$" >"$T/key"
chmod 600 "$T/key"
BIG=$T/big.eml
"$PY" - "$BIG" <<'PYEOF'
import sys
lines = [b"From: a@example.org", b"To: b@example.net", b"Subject: big", b""]
lines += [(b"%07d " % i) + b"y" * 70 for i in range(13800)]
open(sys.argv[1], "wb").write(b"\n".join(lines) + b"\n")
PYEOF
mkdir -p "$T/spool"

describe() {
	case $1 in
	TERM | INT | HUP) echo "SIG$1 while both scanners hang" ;;
	TERM-stdin) echo "SIGTERM while stdin is still open (the writer stalls after 100 KB)" ;;
	PIPE) echo "SIGPIPE while both scanners hang (deadline 1.5 s): ignored" ;;
	esac
}

interrupted() { grep -q "interrupted by a signal" "$T/$1.err"; }

cell() {
	name=g$n
	d="$c, $mode/$policy"
	deadline=20000
	[ "$c" = PIPE ] && deadline=1500
	args=("${SD[@]}" --rspamd-url "$BAD/hang/g$n" --api-url "$BAD/hang/g$n" --api-key-file "$T/key"
		--timeout-ms $deadline --analysis-timeout-ms $deadline -o "spool_dir=$T/spool"
		-o spool_threshold=64K --mode "$mode" --on-timeout "$policy" -- "$FAULTS/lda-count" "$T/$name.cap")
	before=$(wc -l <"$BAD_REC")
	case $c in
	TERM-stdin)
		exec {feed}< <(head -c 100000 "$BIG"; echo fed >"$T/$name.fed"; sleep 60)
		feeder=$!
		sd_run "$name" --signal TERM --when "$T/$name.fed" --lines 1 --kill-after 30 -- "${args[@]}" <&$feed
		exec {feed}<&-
		kill "$feeder" 2>/dev/null
		;;
	*)
		# two requests arrive, each logged once on arrival and once with its body
		sd_run "$name" --signal "${c%-*}" --when "$BAD_REC" --lines $((before + 4)) --kill-after 30 \
			-- "${args[@]}" <"$BIG"
		;;
	esac
	if [ "$c" = PIPE ]; then
		BOUND_MS=$deadline expect_down "$name" "$d" Rspamd "$BIG"
	else
		BOUND_MS=3000 EXTRA_CHECK=interrupted EXTRA_WHY="no \"interrupted by a signal\" on stderr" \
			expect "$name" "$d" refuse 75 4.3.0
	fi
	[ -z "$(find "$T/spool" -mindepth 1 | head -n 1)" ]
	also $? "$d: nothing left in the spool directory" "nothing left behind" \
		"files left in the spool directory" "$(ls -la "$T/spool")"
}

n=0
for c in $CASES; do
	combos cell
	row "$(describe "$c")" "${CELLS[@]}"
done

write_report faults-0500 "Signals" \
"tests/faults/0500-signals.t. A 1 MB message (spooled in a private \`spool_dir\`), both scanners hang (deadlines 20 s), and the signal comes once both requests have been read by the server; or while the message is still being read from a pipe. Each interrupted run ended within 3 s + ${SLACK_MS} ms, with \`4.3.0 spot-deliver: interrupted by a signal\` on stderr." \
	"Signal" "blocking, allow" "blocking, block" "tag-only, allow" "tag-only, block"
