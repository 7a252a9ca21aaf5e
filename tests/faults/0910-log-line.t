#!/bin/bash
# The log line in Postfix's shape, byte for byte: deliver (filter mode and LDA), defer,
# reject, hand-off and --check, with a sender that has a blank and quotes, a Message-ID with
# a blank, two recipients and no queue id; and a hostile queue id and sender.
. "$(dirname "$0")/faultlib.sh"
plan 16

start_bad
R=$BAD_FILES
printf '%s\n' '{"action": "no action", "score": 1.2, "required_score": 15, "symbols": {}, "messages": {}}' >"$R/ham.json"
printf '%s\n' '{"action": "soft reject", "score": 9, "required_score": 15, "symbols": {}, "messages": {"smtp_message": "Ratelimit reached"}}' >"$R/soft.json"
printf '%s\n' '{"action": "reject", "score": 20.5, "required_score": 15, "symbols": {}, "messages": {"smtp_message": "Gtube pattern"}}' >"$R/reject.json"
printf '%s\n' '{"job_id": "job-log-1", "status": "analyzed", "is_phishing": false, "threat_level": "none", "confidence": 0.97}' >"$R/clean.json"
printf '%s\n' '{"job_id": "job-log-2", "status": "analyzed", "is_phishing": true, "threat_level": "high", "confidence": 0.99}' >"$R/phish.json"
printf 'key-%s\n' "$$" >"$T/key"
chmod 600 "$T/key"

M=$T/m.eml
printf 'From: John <john@example.org>\nTo: bob@example.net\nMessage-ID: <two words@example.org>\nX-Spam: Yes\nSubject: log line\n\nbody\n' >"$M"
SIZE=$(wc -c <"$M")
SENDER='"john doe"@example.org'
ENV=(-f "$SENDER" -r bob@example.net -r carol@example.net)
HEAD='spot-deliver: NOQUEUE: to=<bob@example.net>, to=<carol@example.net>, from="<\"john doe\"@example.org>", msgid="<two words@example.org>", size='$SIZE', nrcpt=2'
CLEAN='spot=clean/0.970, job=job-log-1'

# run NAME ARGS...: the log lines of one run, delay= made D
run() {
	local name=$1
	shift
	timeout 30 "$BIN" "${SD[@]}" "$@" <"$M" >"$T/$name.out" 2>"$T/$name.err"
	echo $? >"$T/$name.rc"
	grep -a '^spot-deliver: ' "$T/$name.err" | sed -E 's/, delay=[0-9]+\.[0-9]{3},/, delay=D,/' >"$T/$name.log"
}
api=(--api-url "$BAD/file/clean.json" --api-key-file "$T/key")

run filter "${ENV[@]}" --rspamd-url "$BAD/file/ham.json" "${api[@]}"
check_eq "filter mode: the line" "$(cat "$T/filter.log")" \
	"$HEAD, rspamd=no_action/1.20, $CLEAN, decision=deliver, stripped=1, delay=D, status=sent (written to standard output)"

run lda "${ENV[@]}" --rspamd-url "$BAD/file/ham.json" "${api[@]}" -- "$LDA" "$T/lda.cap"
check_eq "lda: delivered, the line" "$(cat "$T/lda.rc") $(cat "$T/lda.log")" \
	"0 $HEAD, rspamd=no_action/1.20, $CLEAN, decision=deliver, stripped=1, delay=D, status=sent (delivered via lda-capture)"

run soft "${ENV[@]}" --rspamd-url "$BAD/file/soft.json" "${api[@]}" -- "$LDA" "$T/soft.cap"
check_eq "soft reject: 75, the line, status=deferred" "$(cat "$T/soft.rc") $(cat "$T/soft.log")" \
	"75 $HEAD, rspamd=soft_reject/9.00, $CLEAN, decision=defer, stripped=1, delay=D, status=deferred (4.7.1 Ratelimit reached)"

run reject "${ENV[@]}" --rspamd-url "$BAD/file/reject.json" "${api[@]}" -- "$LDA" "$T/reject.cap"
check_eq "reject: 77, the line, status=bounced" "$(cat "$T/reject.rc") $(cat "$T/reject.log")" \
	"77 $HEAD, rspamd=reject/20.50, $CLEAN, decision=reject, stripped=1, delay=D, status=bounced (5.7.1 Gtube pattern)"

run phish "${ENV[@]}" --rspamd-url "$BAD/file/ham.json" --api-url "$BAD/file/phish.json" \
	--api-key-file "$T/key" --phishing-action reject -- "$LDA" "$T/phish.cap"
check_eq "phishing reject: the line has the job and the confidence" "$(cat "$T/phish.log")" \
	"$HEAD, rspamd=no_action/1.20, spot=phishing/0.990, job=job-log-2, decision=reject, stripped=1, delay=D, status=bounced (5.7.1 phishing (confidence 0.990, SPOT job job-log-2))"

run down "${ENV[@]}" --rspamd-url "$(closed_url)" --on-timeout block "${api[@]}" -- "$LDA" "$T/down.cap"
check_grep "rspamd down: status=deferred with the detail, no delivery= field" \
	"^spot-deliver: NOQUEUE: to=<bob@example.net>, .*, rspamd=failed, rspamd_error=\"[^\"]+\", $CLEAN, decision=defer, stripped=1, delay=D, status=deferred \\(4\\.7\\.0 Rspamd unavailable: .+\\)$" "$T/down.log"

run handoff "${ENV[@]}" --rspamd-url "$BAD/file/ham.json" --api-url "$BAD/good" \
	--api-key-file "$T/key" --handoff
check_eq "hand-off: delivered, the line (nothing stripped)" "$(cat "$T/handoff.rc") $(cat "$T/handoff.log")" \
	"0 $HEAD, rspamd=no_action/1.20, spot=off, decision=deliver, stripped=0, delay=D, status=sent (handed off to the API)"

run check "${ENV[@]}" --rspamd-url "$BAD/file/reject.json" "${api[@]}" --check
check_eq "--check: exit 0, the line, status=checked" "$(cat "$T/check.rc") $(cat "$T/check.log")" \
	"0 $HEAD, rspamd=reject/20.50, $CLEAN, decision=reject, stripped=1, delay=D, status=checked (5.7.1 Gtube pattern)"
run checkham "${ENV[@]}" --rspamd-url "$BAD/file/ham.json" "${api[@]}" --check
check_eq "--check, ham: nothing delivered" "$(sed 's/.*, status=//' "$T/checkham.log")" "checked (nothing delivered)"

# defer_max_age let it through: age= in the line, and the warning after it
run aged "${ENV[@]}" --rspamd-url "$(closed_url)" --on-timeout block -o defer_max_age=20s \
	--arrival-time "$(($(date +%s) - 3600))" "${api[@]}"
check_grep "aged: age=1h0m, delivered" ", decision=deliver, stripped=1, delay=D, age=1h0m, status=sent \\(written to standard output\\)$" "$T/aged.log"
check_grep "aged: warning: NOQUEUE: delivered not scanned" '^spot-deliver: warning: NOQUEUE: delivered not scanned by Rspamd after 1h0m \(defer_max_age = 20s\): ' "$T/aged.log"

# no Message-ID, no recipient, an empty sender
printf 'Subject: none\n\nbody\n' >"$T/bare.eml"
timeout 30 "$BIN" "${SD[@]}" --no-rspamd --queue-id 4711ABC <"$T/bare.eml" >/dev/null 2>"$T/bare.err"
check_eq "bare: from=<>, msgid=\"\", nrcpt=0" \
	"$(sed -E 's/, delay=[0-9.]+,/, delay=D,/' "$T/bare.err")" \
	"spot-deliver: 4711ABC: from=<>, msgid=\"\", size=$(wc -c <"$T/bare.eml"), nrcpt=0, rspamd=off, spot=off, decision=deliver, stripped=0, delay=D, status=sent (written to standard output)"

# hostile: a queue id and a sender that try to forge fields or a line
timeout 30 "$BIN" "${SD[@]}" --no-rspamd --queue-id 'A B, to=<x>' -f $'e>vil\n, decision=deliver "x' \
	-r 'a,b@example.net' <"$M" >/dev/null 2>"$T/hostile.err"
check_eq "hostile: one line, its queue id letters, digits and ?" \
	"$(wc -l <"$T/hostile.err") $(grep -c '^spot-deliver: A?B??to??x?: to=' "$T/hostile.err")" "1 1"
check_grep "hostile: the addresses are quoted, the newline escaped" \
	'to="<a,b@example\.net>", from="<e>vil\\x0a, decision=deliver \\"x>", msgid=' "$T/hostile.err"
check_eq "hostile: outside the quotes, one decision= field" \
	"$(sed -E 's/"([^"\\]|\\.)*"//g' "$T/hostile.err" | grep -o 'decision=' | wc -l)" 1

# warnings: Postfix's order, "warning: QUEUEID: ..."
timeout 30 "$BIN" --log stderr -c /dev/null -o state_dir="$M" --no-rspamd --queue-id W1 \
	<"$M" >/dev/null 2>"$T/warn.err"
check_grep "warning: the prefix, then the queue id" "^spot-deliver: warning: W1: state_dir $M: " "$T/warn.err"
