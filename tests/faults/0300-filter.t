#!/bin/bash
# Filter mode (no LDA: the rewritten message goes to stdout, for procmail, maildrop, a pipe):
# when stdout cannot take the whole message, spot-deliver exits 75 with 4.3.0 on stderr, so the
# caller keeps the original. SIGPIPE is ignored: a closed reader is a write error (EPIPE), not a
# death by signal.
. "$(dirname "$0")/faultlib.sh"

CASES="control append epipe epipe1000 devfull diskfull closed"
plan $(($(wc -w <<<"$CASES") * NCOMBOS))

start_bad
if small_tmpfs "$T/full" 64k; then FULL_OK=1; else FULL_OK=; fi

describe() {
	case $1 in
	control) echo "a regular file (control)" ;;
	append) echo "a file opened for appending (sendfile(2) refuses it: copied by hand)" ;;
	epipe) echo "a pipe whose reader has already gone (EPIPE at the first write)" ;;
	epipe1000) echo "a pipe whose reader reads 1000 bytes, then closes it" ;;
	devfull) echo "/dev/full (ENOSPC)" ;;
	diskfull) echo "a file on a full file system (64 KB tmpfs)" ;;
	closed) echo "not open at all (fd 1 closed)" ;;
	esac
}

cell() {
	name=f$n
	d="filter, stdout $c, $mode/$policy"
	if [ "$c" = closed ] && wrapped; then
		skip_wrapped "$d" "valgrind takes the closed descriptor for its log"
		CELL="skipped under valgrind"
		return
	fi
	if [ "$c" = diskfull ] && [ -z "$FULL_OK" ]; then
		skip "$d" "needs root and mount(8) for a small tmpfs"
		CELL="skipped: needs root for a tmpfs"
		return
	fi
	case $c in
	control) so=$T/$name.cap ;;
	append) so=append:$T/$name.cap ;;
	epipe) so=epipe ;;
	epipe1000) so=epipe-after=1000 ;;
	devfull) so=full ;;
	diskfull) so=$T/full/$name.out ;;
	closed) so=closed ;;
	esac
	sd_run "$name" --stdout "$so" -- "${SD[@]}" --rspamd-url "$BAD/good" --mode "$mode" \
		--on-timeout "$policy" -o spool_threshold=64K <"$MSG"
	if [ "$c" = control ] || [ "$c" = append ]; then
		echo run >"$T/$name.cap.count"
		expect "$name" "$d" deliver 0 "$MSG" "X-Spam-Scanner: rspamd"
	else
		expect "$name" "$d" refuse 75 4.3.0
	fi
	rm -f "$T/full/$name.out"
}

n=0
for c in $CASES; do
	combos cell
	row "$(describe "$c")" "${CELLS[@]}"
done

write_report faults-0300 "Filter mode: stdout faults" \
"tests/faults/0300-filter.t. No LDA: the rewritten 150 KB message goes to stdout, and the status line to stderr. Rspamd answers clean. Any stdout that does not take the whole message must end in 75 (4.3.0), so that procmail or maildrop keeps the original." \
	"stdout" "blocking, allow" "blocking, block" "tag-only, allow" "tag-only, block"
