#!/bin/bash
# Spooling: a message above spool_threshold goes to an unlinked file in spool_dir (or $TMPDIR).
# When that directory is full, the message is not truncated silently: 75 with 4.3.0, nothing
# delivered, and nothing left behind in the directory. A directory that is missing or not
# writable is found when the configuration is loaded: 75 with 4.3.5 for every message.
. "$(dirname "$0")/faultlib.sh"

CASES="control full readonly missing tmpdirfull tmpdirro onecopy ldacopy small"
plan $(($(wc -w <<<"$CASES") * NCOMBOS * 2))

start_bad
BIG=$T/big.eml
"$PY" - "$BIG" "$BIG.forged" <<'PYEOF'
import sys
lines = [b"From: a@example.org", b"To: b@example.net", b"Subject: big", b"X-Spam: forged", b""]
lines += [(b"%07d " % i) + b"x" * 70 for i in range(13800)]
open(sys.argv[1], "wb").write(b"\n".join(lines) + b"\n")
# 3 KB of forged fields to strip: the new head is shorter than the old one by more than the
# 2 KB of room in front of it, so the LDA needs a copy
forged = [b"X-Spam-Report-%02d: forged " % i + b"x" * 80 for i in range(30)]
open(sys.argv[2], "wb").write(b"\n".join(lines[:3] + forged + lines[3:]) + b"\n")
PYEOF
ROOT_MOUNTS=1
small_tmpfs "$T/full" 64k || ROOT_MOUNTS=
if [ -n "$ROOT_MOUNTS" ]; then
	small_tmpfs "$T/ro" 1m ro
	small_tmpfs "$T/onecopy" 1536k
else
	mkdir -p "$T/ro" && chmod 555 "$T/ro"
fi
mkdir -p "$T/spool"

describe() {
	case $1 in
	control) echo "a writable spool_dir (control)" ;;
	full) echo "spool_dir on a full file system (64 KB tmpfs)" ;;
	readonly) echo "spool_dir not writable (read-only tmpfs, or mode 555 for a non-root user)" ;;
	missing) echo "spool_dir does not exist" ;;
	tmpdirfull) echo "no spool_dir, \$TMPDIR on a full file system" ;;
	tmpdirro) echo "no spool_dir, \$TMPDIR not writable" ;;
	onecopy) echo "room for one copy (1.5 MB tmpfs): the LDA reads the spool file itself" ;;
	ldacopy) echo "room for one copy, 3 KB of forged fields stripped: the LDA needs a copy" ;;
	small) echo "a message below spool_threshold, spool_dir not writable (refused at load)" ;;
	esac
}

# empty DIR: no file left in DIR, and (on a tmpfs) no block still in use
empty() {
	[ -z "$(find "$1" -mindepth 1 2>/dev/null | head -n 1)" ] || return 1
	if mountpoint -q "$1" 2>/dev/null; then
		[ "$(df --output=used "$1" | tail -n 1 | tr -d ' ')" = 0 ] || return 1
	fi
}

cell() {
	name=s$n
	d="spool $c, $mode/$policy"
	msg=$BIG
	env=()
	case $c in
	control) spool=(-o "spool_dir=$T/spool") dir=$T/spool ;;
	full) spool=(-o "spool_dir=$T/full") dir=$T/full ;;
	readonly) spool=(-o "spool_dir=$T/ro") dir=$T/ro ;;
	missing) spool=(-o "spool_dir=$T/nonexistent") dir=$T/nonexistent ;;
	tmpdirfull) spool=() dir=$T/full env=(TMPDIR="$T/full") ;;
	tmpdirro) spool=() dir=$T/ro env=(TMPDIR="$T/ro") ;;
	onecopy) spool=(-o "spool_dir=$T/onecopy") dir=$T/onecopy ;;
	ldacopy) spool=(-o "spool_dir=$T/onecopy") dir=$T/onecopy msg=$BIG.forged ;;
	small) spool=(-o "spool_dir=$T/ro") dir=$T/ro msg=$ROOT/tests/fixtures/mail/ham.eml ;;
	esac
	if { [ "$c" = tmpdirfull ] || [ "$c" = tmpdirro ]; } && wrapped; then
		skip_wrapped "$d" "valgrind needs a writable \$TMPDIR"
		skip_wrapped "$d: nothing left behind" "valgrind"
		CELL="skipped under valgrind"
		return
	fi
	if { [ "$c" = full ] || [ "$c" = tmpdirfull ] || [ "$c" = onecopy ] || [ "$c" = ldacopy ]; } &&
		[ -z "$ROOT_MOUNTS" ]; then
		skip "$d" "needs root and mount(8) for a small tmpfs"
		skip "$d: nothing left behind" "needs root"
		CELL="skipped: needs root for a tmpfs"
		return
	fi
	env "${env[@]}" "$PY" "$FAULTS/run.py" --stdout "$T/$name.out" --stderr "$T/$name.err" -- \
		"$BIN" "${SD[@]}" "${spool[@]}" --rspamd-url "$BAD/good" --mode "$mode" --on-timeout "$policy" \
		-o spool_threshold=64K -- "$FAULTS/lda-count" "$T/$name.cap" <"$msg" >"$T/$name.res"
	read -r R_KIND R_CODE R_MS <"$T/$name.res"
	case $c in
	control | onecopy) expect "$name" "$d" deliver 0 "$msg" ;;
	readonly | missing | tmpdirro | small) expect "$name" "$d" refuse 75 4.3.5 ;;
	*) expect "$name" "$d" refuse 75 4.3.0 ;;
	esac
	empty "$dir"
	also $? "$d: nothing left in $(basename "$dir")" "nothing left behind" "files left behind" \
		"$(ls -la "$dir" 2>&1)" "$(df "$dir" 2>&1)"
}

n=0
for c in $CASES; do
	combos cell
	row "$(describe "$c")" "${CELLS[@]}"
done

write_report faults-0400 "Spooling faults" \
"tests/faults/0400-spool.t. A 1 MB message with \`spool_threshold = 64K\` is spooled to an unlinked file (O_TMPFILE) in \`spool_dir\`, or \`\$TMPDIR\` when \`spool_dir\` is empty, 2 KB into it; the LDA reads that file once the new header block is written over the old one (with an X-SPOT-Pad field of filler), or, when the two differ in length by more than 2 KB, gets another unlinked copy there. \"Nothing left behind\": the directory holds no file afterwards and, on a tmpfs, no block is still in use." \
	"Spool directory" "blocking, allow" "blocking, block" "tag-only, allow" "tag-only, block"
