#!/bin/bash
# LDA faults. spot-deliver execs the final delivery agent, so once the LDA runs, the MTA sees the
# LDA's own exit status (or the signal that killed it): spot-deliver is no longer there. Before
# that, an LDA that cannot be run is a 75 with 4.3.0, and never a shell: execv(2) only, without
# execvp(3)'s /bin/sh fallback for a file that is not a program.
. "$(dirname "$0")/faultlib.sh"

CASES="missing noexec directory badinterp notaprogram pathmissing exit75 exit1 exit77 killed killedterm partial"
plan $(($(wc -w <<<"$CASES") * NCOMBOS + 1))

start_bad
printf 'not a program\n' >"$T/noexec"
chmod 644 "$T/noexec"
mkdir "$T/ldadir"
printf '#!/nonexistent/interpreter\nexit 0\n' >"$T/badinterp"
chmod 755 "$T/badinterp"
# a text file with execute permission and no #!: execvp(3) would hand it to /bin/sh
printf 'touch %s/pwned\nexit 0\n' "$T" >"$T/notaprogram"
chmod 755 "$T/notaprogram"

describe() {
	case $1 in
	missing) echo "missing (/nonexistent/dovecot-lda)" ;;
	noexec) echo "not executable (mode 644)" ;;
	directory) echo "a directory" ;;
	badinterp) echo "a script whose #! interpreter is missing" ;;
	notaprogram) echo "an executable text file without #! (no /bin/sh fallback)" ;;
	pathmissing) echo "a bare name not found on PATH" ;;
	exit75) echo "exits 75" ;;
	exit1) echo "exits 1" ;;
	exit77) echo "exits 77" ;;
	killed) echo "killed by SIGKILL" ;;
	killedterm) echo "killed by SIGTERM" ;;
	partial) echo "reads only the first 100 bytes of its stdin, exits 0" ;;
	esac
}
postfix() {
	case $1 in
	exit75) echo "defers (EX_TEMPFAIL)" ;;
	exit1) echo "bounces (\"Command died with status 1\")" ;;
	exit77) echo "bounces (EX_NOPERM, 5.7.0)" ;;
	killed | killedterm) echo "defers (4.3.0 \"Command died with signal N\")" ;;
	partial) echo "delivered: what the LDA did with it is its own business" ;;
	*) echo "defers (4.3.0 from the status line)" ;;
	esac
}

# the partial LDA: its stdin had the size of its whole copy, and it read 100 bytes of it
stdin_was_whole_file() {
	[ "$(cat "$T/$1.cap.size" 2>/dev/null)" = "$(wc -c <"$T/$1.cap")" ] &&
		[ "$(wc -c <"$T/$1.cap.part")" = 100 ]
}

cell() {
	local name=l$n cap=$T/l$n.cap d lda
	case $c in
	missing) lda=(/nonexistent/dovecot-lda -d bob) ;;
	noexec) lda=("$T/noexec") ;;
	directory) lda=("$T/ldadir") ;;
	badinterp) lda=("$T/badinterp") ;;
	notaprogram) lda=("$T/notaprogram") ;;
	pathmissing) lda=("no-such-lda-$$") ;;
	exit75) lda=("$FAULTS/lda-fault" "$cap" exit=75) ;;
	exit1) lda=("$FAULTS/lda-fault" "$cap" exit=1) ;;
	exit77) lda=("$FAULTS/lda-fault" "$cap" exit=77) ;;
	killed) lda=("$FAULTS/lda-fault" "$cap" kill=KILL) ;;
	killedterm) lda=("$FAULTS/lda-fault" "$cap" kill=TERM) ;;
	partial) lda=("$FAULTS/lda-fault" "$cap" partial=100) ;;
	esac
	d="LDA $c, $mode/$policy"
	if [ "$c" = badinterp ] && wrapped; then
		skip_wrapped "$d" "valgrind dies when an execve(2) fails this way"
		CELL="skipped under valgrind"
		return
	fi
	sd_run "$name" -- "${SD[@]}" --rspamd-url "$BAD/good" --mode "$mode" --on-timeout "$policy" \
		-o spool_threshold=64K -- "${lda[@]}" <"$MSG"
	case $c in
	exit75) expect "$name" "$d" lda "exit 75" "$MSG" ;;
	exit1) expect "$name" "$d" lda "exit 1" "$MSG" ;;
	exit77) expect "$name" "$d" lda "exit 77" "$MSG" ;;
	killed) expect "$name" "$d" lda "signal 9" "$MSG" ;;
	killedterm) expect "$name" "$d" lda "signal 15" "$MSG" ;;
	partial)
		EXTRA_CHECK=stdin_was_whole_file EXTRA_WHY="stdin was not a regular file of the whole message" \
			EXTRA_CELL="; it read 100 bytes of it" expect "$name" "$d" lda "exit 0" "$MSG"
		;;
	*) expect "$name" "$d" refuse 75 4.3.0 ;;
	esac
}

n=0
for c in $CASES; do
	combos cell
	row "$(describe "$c")" "${CELLS[@]}" "$(postfix "$c")"
done
check "no shell ran the text file without #!" test ! -e "$T/pwned"

write_report faults-0200 "LDA faults" \
"tests/faults/0200-lda.t. Rspamd answers clean (tests/faults/badserver.py), the message is the 150 KB one of the scanner matrix. spot-deliver execs the LDA with the message as its stdin, a regular, seekable file read from offset 0 (a memfd for a message in memory; for a spooled one the unlinked spool file itself, the new header block written in front of the body, or a copy); from then on the MTA sees the LDA's own exit status or signal, exactly as if it had run the LDA itself. \"LDA ran 1× with the whole message\": the LDA (tests/faults/lda-fault) counted one run and its copy of stdin has every byte after the header block unchanged. The last column is what Postfix's pipe(8) makes of that status." \
	"LDA" "blocking, allow" "blocking, block" "tag-only, allow" "tag-only, block" "Postfix pipe(8)"
