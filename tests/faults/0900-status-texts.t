#!/bin/bash
# Nothing internal in a bounce: Postfix copies the status line into delay and bounce notices
# for outside senders. Each failure path a delivery can take here must print one of the texts
# listed in docs/how-it-decides.md, with no path, URL, file name, user name or library error,
# while the log line (log = stderr) has the detail and the queue id.
. "$(dirname "$0")/faultlib.sh"

start_bad
DOC=$ROOT/docs/how-it-decides.md
USERNAME=mailuser$$
KEY=status-key-$$
printf '%s\n' "$KEY" >"$T/key"
chmod 600 "$T/key"
printf 'mode = blocking\nbogus_key = 1\n' >"$T/sd-bad.conf"
printf 'not a program\n' >"$T/noexec"
chmod 644 "$T/noexec"
CLOSED=$(closed_url)
PATH_URL="$CLOSED/some/path"
cat >"$BAD_FILES/phish.json" <<'JSON'
{"job_id": "job-secret-4242", "status": "analyzed", "is_phishing": true, "threat_level": "high", "confidence": 0.99}
JSON

# the status texts of the doc's table: "| `4.3.5` | Mail system configuration error | ..."
sed -n 's/^| `\([245]\.[0-9]*\.[0-9]*\)` | \([^|`*][^|]*[^ |]\) *|.*/\1 \2/p' "$DOC" >"$T/texts"

# name|code|log detail (ERE)|stdin|args...
cases=(
	"badconf|4.3.5|sd-bad\.conf:2: unknown key|$MSG|--log stderr -c $T/sd-bad.conf -- $LDA $T/x.cap"
	"nokey|4.3.5|$T/missing-key|$MSG|${SD[*]} --api-url $BAD/good --api-key-file $T/missing-key -- $LDA $T/x.cap"
	"rspamd|4.7.0|Rspamd unavailable: .*[Cc]onnect|$MSG|${SD[*]} --rspamd-url $PATH_URL --on-timeout block -- $LDA $T/x.cap"
	"api500|4.7.1|SPOT API: no verdict: .*500|$MSG|${SD[*]} --no-rspamd --api-url $BAD/s500/some/path --api-key-file $T/key --on-timeout block -- $LDA $T/x.cap"
	"noexec|4.3.0|cannot execute $T/noexec: Permission denied|$MSG|${SD[*]} --no-rspamd -- $T/noexec"
	"nospool|4.3.5|spool_dir $T/no-such-dir: No such file|$MSG|${SD[*]} --no-rspamd -o spool_threshold=64K -o spool_dir=$T/no-such-dir -- $LDA $T/x.cap"
	"handoff|4.4.1|hand-off to the API failed: .*500|$MSG|${SD[*]} --no-rspamd --api-url $BAD/s500/some/path --api-key-file $T/key --handoff"
	"phish|5.7.1|job-secret-4242|$MSG|${SD[*]} --no-rspamd --api-url $BAD/file/phish.json --api-key-file $T/key --phishing-action reject -- $LDA $T/x.cap"
	"phishdefer|4.7.1|job-secret-4242|$MSG|${SD[*]} --no-rspamd --api-url $BAD/file/phish.json --api-key-file $T/key --phishing-action defer -- $LDA $T/x.cap"
	"empty|5.6.0|empty message|/dev/null|${SD[*]} --no-rspamd -- $LDA $T/x.cap"
	"toobig|5.3.4|max_size|$MSG|${SD[*]} --no-rspamd -o max_size=64K -- $LDA $T/x.cap"
	"stdout|4.3.0|standard output is closed|$MSG|${SD[*]} --no-rspamd"
)
plan $((${#cases[@]} * 2 + 2))

# the spool is full: a write beyond RLIMIT_FSIZE fails with EFBIG
full_run() {
	(ulimit -f 64; exec "$BIN" "${SD[@]}" --no-rspamd -o spool_threshold=64K -o spool_dir="$T" \
		-f "the sender@example.org" -r "$USERNAME@example.net" --user "$USERNAME" --queue-id QFULL \
		-- "$LDA" "$T/x.cap" <"$MSG" >"$T/full.out" 2>"$T/full.err")
}
full_run
check_grep "spool full: the log says File too large, with the queue id" \
	'^spot-deliver: (error: )?QFULL: .*File too large' "$T/full.err"
check_eq "spool full: the status line says no more" "$(cat "$T/full.out")" \
	"4.3.0 Local delivery failed, try again later"

n=0
for c in "${cases[@]}"; do
	IFS='|' read -r name code detail input args <<<"$c"
	n=$((n + 1))
	qid=Q${n}X$$
	read -r -a argv <<<"$args"
	# stdout is closed for the "stdout" case only: filter mode would write into nothing.
	# Under a wrapper (valgrind) the wrapper's own files take the closed descriptor.
	if [ "$name" = stdout ] && [ -n "${SPOT_TEST_WRAPPER:-}" ]; then
		skip_wrapped "$name: one status line, $code" "the wrapper reopens a closed stdout"
		skip_wrapped "$name: the log line has the queue id and the detail" "as above"
		continue
	elif [ "$name" = stdout ]; then
		timeout 30 "$BIN" -f "\"the sender\"@example.org" -r "$USERNAME@example.net" \
			--user "$USERNAME" --queue-id "$qid" "${argv[@]}" <"$input" >&- 2>"$T/$name.err"
		: >"$T/$name.out"
	else
		timeout 30 "$BIN" -f "\"the sender\"@example.org" -r "$USERNAME@example.net" \
			--user "$USERNAME" --queue-id "$qid" "${argv[@]}" <"$input" >"$T/$name.out" 2>"$T/$name.err"
	fi
	grep -h -a -E '^[245]\.[0-9]+\.[0-9]+( |$)' "$T/$name.out" "$T/$name.err" >"$T/$name.status"
	line=$(head -n 1 "$T/$name.status")
	bad=
	[ "$(wc -l <"$T/$name.status") ${line%% *}" = "1 $code" ] || bad="not one line with $code"
	case $line in
	*/* | *://* | *sd-bad* | *.conf* | *"$USERNAME"* | *key* | *job-*)
		bad="${bad:+$bad, }internal" ;;
	*[Cc]ouldn* | *"No such"* | *[Pp]ermission* | *"too large"* | *"HTTP "* | *[Rr]efused* | *[Tt]imed*)
		bad="${bad:+$bad, }library" ;;
	esac
	grep -q -x -F -e "$line" "$T/texts" || bad="${bad:+$bad, }not in the doc's table"
	check_eq "$name: one status line, $code, a text of the table, nothing internal (${line})" "${bad:-clean}" clean
	check_grep "$name: the log line has the queue id and the detail" \
		"^spot-deliver: (error: |warning: )?$qid: .*$detail" "$T/$name.err"
done
