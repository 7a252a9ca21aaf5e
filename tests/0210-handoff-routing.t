#!/bin/bash
# Hand-off mode (the API's 2xx is the delivery) and routing by verdict
# (spam_lda_args, phishing_lda_args) into a real dovecot-lda Maildir.
. "$(dirname "$0")/lib.sh"
need_rspamd
KEY=handoff-key-$$
start_spot_api "$KEY" "clean"
plan 37

M=$ROOT/tests/fixtures/mail
LDA=$ROOT/tests/lda-capture
part() { "$PY" "$ROOT/tests/msgpart.py" "$@"; }
printf '%s\n' "$KEY" > "$T/key"; chmod 600 "$T/key"
API=$SPOT_URL/v1/email
n=0
handoff() {
	n=$((n + 1))
	"$BIN" --log stderr -c /dev/null --rspamd-url "$RSPAMD_URL" --api-url "$API" \
		--api-key-file "$T/key" --queue-id "H$n$$" --handoff "$@"
}

# success: exit 0, the API holds the message byte for byte (minus a From_ line)
check_exit "hand-off: 2xx is a delivery, exit 0" 0 handoff -f alice@example.org -r bob@example.net < "$M/crlf.eml"
rec=$(spot_record "$(spot_count)")
check_cmp "hand-off: the API got the message byte for byte" "${rec%.json}.body" "$M/crlf.eml"
check_grep "hand-off: with the envelope" '"X-Envelope-To", "bob@example.net"' "$rec"
check_eq "hand-off: nothing on stdout" "$(wc -c < "$out")" 0
check_exit "hand-off with a From_ line: exit 0" 0 handoff < "$M/fromline.eml"
rec=$(spot_record "$(spot_count)")
tail -n +2 "$M/fromline.eml" > "$T/nofrom"
check_cmp "hand-off: the From_ line is not sent" "${rec%.json}.body" "$T/nofrom"

# One queue file, two recipients: with a recipient limit of 1 (the README's spotapi transport)
# Postfix runs one hand-off per recipient, with the same ${queue_id} and the same bytes. Each
# is a delivery of its own: its own Idempotency-Key, its own job. A retry of one of them is the
# same delivery: the same key, the same job, a duplicate.
idem_of() { grep -o '"Idempotency-Key", "[^"]*"' "$1"; }
qf=QF$$
qf_handoff() { # qf_handoff SENDER RCPT...
	local sender=$1 r=()
	shift
	for a in "$@"; do r+=(-r "$a"); done
	"$BIN" --log stderr -c /dev/null --rspamd-url "$RSPAMD_URL" --api-url "$API" \
		--api-key-file "$T/key" --queue-id "$qf" --handoff -f "$sender" "${r[@]}" < "$M/ham.eml"
}
check_exit "one queue file: the hand-off for bob, exit 0" 0 qf_handoff alice@example.org bob@example.net
bob=$(spot_record "$(spot_count)")
check_exit "one queue file: the hand-off for carol, exit 0" 0 qf_handoff alice@example.org carol@example.net
carol=$(spot_record "$(spot_count)")
check_grep "one queue file: carol's POST names carol" '"X-Envelope-To", "carol@example.net"' "$carol"
check_ne "one queue file: two recipients, two Idempotency-Keys" "$(idem_of "$carol")" "$(idem_of "$bob")"
check_ne "one queue file: two recipients, two jobs" "$(json_get "$carol" job_id)" "$(json_get "$bob" job_id)"
check_eq "one queue file: carol's job is new, not bob's folded in" "$(json_get "$carol" duplicate)" false
check_exit "one queue file: Postfix retries bob's delivery, exit 0" 0 qf_handoff alice@example.org bob@example.net
retry=$(spot_record "$(spot_count)")
check_eq "one queue file: the retry has bob's key" "$(idem_of "$retry")" "$(idem_of "$bob")"
check_eq "one queue file: the retry is bob's job, a duplicate" \
	"$(json_get "$retry" job_id) $(json_get "$retry" duplicate)" "$(json_get "$bob" job_id) true"
qf_handoff alice@example.org bob@example.net carol@example.net > /dev/null 2>&1
two=$(spot_record "$(spot_count)")
qf_handoff alice@example.org carol@example.net bob@example.net > /dev/null 2>&1
check_eq "one queue file: the recipients' order does not change the key" \
	"$(idem_of "$(spot_record "$(spot_count)")")" "$(idem_of "$two")"
qf_handoff mallory@example.org bob@example.net > /dev/null 2>&1
check_ne "one queue file: another envelope sender, another key" \
	"$(idem_of "$(spot_record "$(spot_count)")")" "$(idem_of "$bob")"

# failures: 75, so that the MTA keeps the message
spot_control "status=503"
check_exit "hand-off, API 503: 75" 75 handoff < "$M/ham.eml"
check_grep "hand-off, API 503: 4.x.x reason" '^4\.4\.1 Delivery failed, try again later$' "$out"
spot_control "status=500"
check_exit "hand-off, API 500: 75" 75 handoff < "$M/ham.eml"
spot_control "clean"
printf 'bad-%s\n' "$$" > "$T/badkey"; chmod 600 "$T/badkey"
check_exit "hand-off, key refused: 75" 75 handoff --api-key-file "$T/badkey" < "$M/ham.eml"
check_grep "hand-off, key refused: 4.7.0" '^4\.7\.0 ' "$out"
closed=http://127.0.0.1:$(free_port)/v1/email
check_exit "hand-off, API down: 75" 75 "$BIN" --log stderr -c /dev/null --no-rspamd --api-url "$closed" \
	--api-key-file "$T/key" --handoff < "$M/ham.eml"
before=$(spot_count)
check_exit "hand-off, GTUBE: Rspamd still rejects (77)" 77 handoff < "$M/gtube.eml"
check_eq "hand-off, GTUBE: the API never got it" "$(spot_count)" "$before"

# routing by verdict: extra LDA arguments
{ printf 'X-Test-Spot: phishing\n'; cat "$M/phish.eml"; } > "$T/phish.eml"
check_exit "routing: phishing adds phishing_lda_args" 0 "$BIN" --log stderr -c /dev/null --rspamd-url "$RSPAMD_URL" \
	--api-url "$SPOT_URL/x" --api-key-file "$T/key" --queue-id R1$$ \
	-o "phishing_lda_args=-m Phish" -o "spam_lda_args=-m Junk" -- "$LDA" "$T/r1" 0 < "$T/phish.eml"
check_eq "routing: argv ends with -m Phish" "$(tail -n 2 "$T/r1.argv" | tr '\n' ' ')" "-m Phish "
check_exit "routing: ham gets no extra arguments" 0 "$BIN" --log stderr -c /dev/null --rspamd-url "$RSPAMD_URL" \
	-o "spam_lda_args=-m Junk" -- "$LDA" "$T/r2" 0 < "$M/ham.eml"
check_eq "routing: argv unchanged for ham" "$(cat "$T/r2.argv" | tr '\n' ' ')" "$T/r2 0 "

# routing into a real Maildir with dovecot-lda, as an unprivileged user
if [ -x /usr/lib/dovecot/dovecot-lda ] && command -v setpriv >/dev/null; then
	mkdir -p "$T/home"; chown nobody:nogroup "$T/home"
	as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$T/home" "$@"; }
	lda=(/usr/lib/dovecot/dovecot-lda -o "mail_location=maildir:$T/home/Maildir" -o lda_mailbox_autocreate=yes)
	check_exit "dovecot: GTUBE in tag-only goes to .Junk" 0 as_nobody "$BIN" --log stderr -c /dev/null \
		--rspamd-url "$RSPAMD_URL" --mode tag-only -o "spam_lda_args=-m Junk" -- "${lda[@]}" < "$M/gtube.eml"
	check_eq "dovecot: one message in .Junk/new" "$(ls "$T/home/Maildir/.Junk/new" 2>/dev/null | wc -l)" 1
	check_exit "dovecot: ham goes to INBOX" 0 as_nobody "$BIN" --log stderr -c /dev/null \
		--rspamd-url "$RSPAMD_URL" --mode tag-only -o "spam_lda_args=-m Junk" -- "${lda[@]}" < "$M/ham.eml"
	check_eq "dovecot: one message in INBOX new" "$(ls "$T/home/Maildir/new" 2>/dev/null | wc -l)" 1
else
	for i in 1 2 3 4; do skip "dovecot routing" "dovecot-lda or setpriv missing"; done
fi

# hand-off has no LDA: a second recipient word (Postfix's "-r ${recipient}"
# with several recipients) must not be dropped silently
before=$(spot_count)
check_exit "hand-off with a stray argument: 75, nothing handed off" 75 \
	handoff -r a@example.net b@example.net < "$M/ham.eml"
check_grep "hand-off with a stray argument: 4.3.5 on stdout" '^4\.3\.5 Mail system configuration error$' "$out"
check_grep "hand-off with a stray argument: the log names it" 'error: H[0-9]+: 4\.3\.5 --handoff takes no delivery agent, but "b@example.net"' "$err"
check_eq "hand-off with a stray argument: the API got nothing" "$(spot_count)" "$before"
