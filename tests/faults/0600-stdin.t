#!/bin/bash
# stdin faults: a message cut short is delivered as it came (spot-deliver cannot tell it from a
# short one); no input at all is 65 (5.6.0); more than max_size is 65 (5.3.4), exactly
# max_size is delivered; a read error is 75 (4.3.0).
. "$(dirname "$0")/faultlib.sh"

CASES="truncated closed empty atmax overmax overmaxspool pipe pipeovermax readerror"
plan $(($(wc -w <<<"$CASES") * NCOMBOS))

start_bad
SIZE=$(wc -c <"$MSG" | tr -d ' ')
head -c 70001 "$MSG" >"$T/truncated.eml" # ends inside a base64 line
BIG=$T/big.eml
"$PY" - "$BIG" <<'PYEOF'
import sys
lines = [b"From: a@example.org", b"Subject: big", b""] + [b"z" * 79] * 13200
open(sys.argv[1], "wb").write(b"\n".join(lines) + b"\n")
PYEOF

describe() {
	case $1 in
	truncated) echo "cut short in the middle of a line (70001 of $SIZE bytes)" ;;
	closed) echo "fd 0 not open at all" ;;
	empty) echo "empty (/dev/null)" ;;
	atmax) echo "exactly \`max_size\` bytes" ;;
	overmax) echo "one byte more than \`max_size\` (in memory)" ;;
	overmaxspool) echo "1 MB with \`max_size = 512K\` (while spooling)" ;;
	pipe) echo "1 MB from a pipe (spliced into the spool)" ;;
	pipeovermax) echo "1 MB from a pipe with \`max_size = 512K\` (while splicing)" ;;
	readerror) echo "a read error (stdin is a directory: EISDIR)" ;;
	esac
}

cell() {
	name=i$n
	d="stdin $c, $mode/$policy"
	if [ "$c" = closed ] && wrapped; then
		skip_wrapped "$d" "valgrind takes the closed descriptor for its log"
		CELL="skipped under valgrind"
		return
	fi
	in=$MSG
	extra=(-o spool_threshold=64K)
	case $c in
	truncated) in=$T/truncated.eml ;;
	closed) in=closed ;;
	empty) in=/dev/null ;;
	atmax) extra=(-o "max_size=$SIZE") ;;
	overmax) extra=(-o "max_size=$((SIZE - 1))") ;;
	overmaxspool) in=$BIG extra=(-o spool_threshold=64K -o max_size=512K) ;;
	pipe) in=- ;;
	pipeovermax) in=- extra=(-o spool_threshold=64K -o max_size=512K) ;;
	readerror) in=$T ;;
	esac
	# a pipe (- is run.py's own stdin) for the pipe cases, else a file
	sd_run "$name" --stdin "$in" -- "${SD[@]}" --rspamd-url "$BAD/good" --mode "$mode" \
		--on-timeout "$policy" "${extra[@]}" -- "$FAULTS/lda-count" "$T/$name.cap" < <(cat "$BIG")
	case $c in
	truncated) expect "$name" "$d" deliver 0 "$T/truncated.eml" ;;
	atmax) expect "$name" "$d" deliver 0 "$MSG" ;;
	pipe) expect "$name" "$d" deliver 0 "$BIG" ;;
	closed | empty) expect "$name" "$d" refuse 65 5.6.0 ;;
	overmax | overmaxspool | pipeovermax) expect "$name" "$d" refuse 65 5.3.4 ;;
	readerror) expect "$name" "$d" refuse 75 4.3.0 ;;
	esac
}

n=0
for c in $CASES; do
	combos cell
	row "$(describe "$c")" "${CELLS[@]}"
done

write_report faults-0600 "stdin faults" \
"tests/faults/0600-stdin.t. The 150 KB message (1 MB for the pipe cases, through \`cat |\`) through an LDA, Rspamd answering clean. A message cut short cannot be told from a short message: it is delivered exactly as it came, and it is the writer's job (Postfix's pipe(8) checks its own writes) to know that it did not send everything. 65 makes Postfix bounce; 75 makes it retry." \
	"stdin" "blocking, allow" "blocking, block" "tag-only, allow" "tag-only, block"
