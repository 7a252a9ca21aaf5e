#!/bin/bash
# The SPOT API client: verdicts, polling, policy, key handling, hand-off.
. "$(dirname "$0")/lib.sh"
need_rspamd
KEY=test-key-$$-s3cr3t
start_spot_api "$KEY" "clean"
plan 67

M=$ROOT/tests/fixtures/mail
LDA=$ROOT/tests/lda-capture
part() { "$PY" "$ROOT/tests/msgpart.py" "$@"; }
printf '%s\n' "$KEY" > "$T/key"; chmod 600 "$T/key"
API=$SPOT_URL/internal/ingest
n=0
# sd MSGFILE [OPTIONS...]: one delivery in filter mode with a fresh queue id
# (the stand-in keeps jobs by idempotency key, which includes the queue id).
sd() {
	local msg=$1
	shift
	n=$((n + 1))
	"$BIN" --log stderr -c /dev/null --rspamd-url "$RSPAMD_URL" --api-url "$API" \
		--api-key-file "$T/key" --queue-id "Q$n$$" -o poll_interval_ms=50 "$@" < "$msg"
}
with_spot() { # with_spot DIRECTIVES FILE > NEWFILE: the message with an X-Test-Spot header
	{ printf 'X-Test-Spot: %s\n' "$1"; cat "$2"; }
}
last_json() { spot_record "$(spot_count)"; }

# a clean synchronous verdict
check_exit "clean: delivered" 0 sd "$M/ham.eml" -f alice@example.org -r bob@example.net -r carol@example.net \
	--client-address 192.0.2.7 --helo mail.example.org
cp "$out" "$T/clean.out"
check_eq "clean: X-SPOT-Status analyzed" "$(part header X-SPOT-Status "$T/clean.out")" analyzed
check_eq "clean: X-SPOT-Is-Phishing no" "$(part header X-SPOT-Is-Phishing "$T/clean.out")" no
check_eq "clean: X-SPOT-Confidence with three decimals" "$(part header X-SPOT-Confidence "$T/clean.out")" 0.970
check_grep "clean: X-SPOT-Job-Id from the API" '^X-SPOT-Job-Id: job-[0-9a-f]{24}$' "$T/clean.out"
check_eq "clean: the forged X-SPOT-Status is gone, ours is the only one" "$(grep -ci '^x-spot-status:' "$T/clean.out")" 1
check_grep "clean: Rspamd headers too" '^X-Spam-Scanner: rspamd$' "$T/clean.out"
rec=$(last_json)
check_grep "request: Bearer key" "\"Authorization\", \"Bearer $KEY\"" "$rec"
check_grep "request: Content-Type message/rfc822" '"Content-Type", "message/rfc822"' "$rec"
check_grep "request: X-Envelope-From" '"X-Envelope-From", "alice@example.org"' "$rec"
check_eq "request: one X-Envelope-To per recipient" "$(grep -c '"X-Envelope-To"' "$rec")" 2
check_grep "request: X-Client-Address" '"X-Client-Address", "192.0.2.7"' "$rec"
check_grep "request: X-Client-Helo" '"X-Client-Helo", "mail.example.org"' "$rec"
check_grep "request: X-Queue-Id" "\"X-Queue-Id\", \"Q1$$\"" "$rec"
check_grep "request: Idempotency-Key starts with the queue id" "\"Idempotency-Key\", \"Q1$$-[0-9a-f]{64}\"" "$rec"
check_cmp "request: the body is the message, byte for byte" "${rec%.json}.body" "$M/ham.eml"
check_eq "no key in stdout or stderr" "$(cat "$T/clean.out" "$err" | grep -c -- "$KEY")" 0

# the From_ line is not sent
check_exit "from line: delivered" 0 sd "$M/fromline.eml"
tail -n +2 "$M/fromline.eml" > "$T/fromline.nofrom"
check_cmp "from line: the API got the message without it" "$(last_json | sed 's/json$/body/')" "$T/fromline.nofrom"
check_eq "from line: still first in the delivered message" "$(head -n 1 "$out")" "$(head -n 1 "$M/fromline.eml")"

# idempotency key: stable across retries of the same message, different for another
for i in 1 2; do
	"$BIN" --log none -c /dev/null --no-rspamd --api-url "$API" --api-key-file "$T/key" \
		--queue-id RETRY1 < "$M/ham.eml" > /dev/null
	grep -o '"Idempotency-Key", "[^"]*"' "$(last_json)" > "$T/idem.$i"
done
check_cmp "idempotency key: the same for a retry" "$T/idem.1" "$T/idem.2"
"$BIN" --log none -c /dev/null --no-rspamd --api-url "$API" --api-key-file "$T/key" \
	--queue-id RETRY1 < "$M/multipart.eml" > /dev/null
grep -o '"Idempotency-Key", "[^"]*"' "$(last_json)" > "$T/idem.3"
check "idempotency key: another message, another key" sh -c "! cmp -s '$T/idem.1' '$T/idem.3'"
check_grep "idempotency key: the stand-in saw the retry as a duplicate" '"duplicate": true' "$(spot_record $(($(spot_count) - 1)))"
# without a queue id: only a Received field on top (a fetcher's, with the time of its poll) is
# left out of the key; the ones below it, the client's address and HELO name are part of it
idem() { # idem NAME FILE [OPTIONS...]: the Idempotency-Key of one delivery of FILE
	local name=$1 file=$2
	shift 2
	"$BIN" --log none -c /dev/null --no-rspamd --api-url "$API" --api-key-file "$T/key" \
		-f alice@example.org -r bob@example.net "$@" < "$file" > /dev/null
	grep -o '"Idempotency-Key", "[^"]*"' "$(last_json)" > "$T/idem.$name"
}
{ printf 'Received: by mx.example.net; Tue, 1 Dec 2026 21:00:00 +0000\n'
  printf 'Received: from a.example.org by b.example.org; Mon, 30 Nov 2026 10:00:00 +0000\n'
  cat "$M/ham.eml"; } > "$T/lower.a"
sed '2s/10:00:00/10:00:01/' "$T/lower.a" > "$T/lower.b"
for t in 21:05:00 21:10:00; do
	{ printf 'Received: from imap.example.net by localhost with IMAP (fetchmail-6.4.37) for <bob>; Tue, 01 Dec 2026 %s +0000\n' "$t"
	  cat "$T/lower.a"; } > "$T/lower.fetched.$t"
done
idem a "$T/lower.a"
idem b "$T/lower.b"
check "idempotency key: messages that differ in a lower Received field, two keys" \
	sh -c "! cmp -s '$T/idem.a' '$T/idem.b'"
check_grep "idempotency key: the second one is a new job, not a duplicate" '"duplicate": false' "$(last_json)"
idem poll1 "$T/lower.fetched.21:05:00"
idem poll2 "$T/lower.fetched.21:10:00"
check_cmp "idempotency key: a fetcher's Received on top, another poll, the same key" \
	"$T/idem.poll1" "$T/idem.poll2"
idem client "$T/lower.a" --client-address 198.51.100.9 --helo other.example.org
check "idempotency key: another client, another key" sh -c "! cmp -s '$T/idem.a' '$T/idem.client'"

# phishing, per policy
with_spot "phishing level=high confidence=0.91" "$M/phish.eml" > "$T/phish91.eml"
check_exit "phishing, tag: delivered" 0 sd "$T/phish91.eml"
check_eq "phishing, tag: X-SPOT-Is-Phishing yes" "$(part header X-SPOT-Is-Phishing "$out")" yes
check_eq "phishing, tag: X-SPOT-Threat-Level high" "$(part header X-SPOT-Threat-Level "$out")" high
check_eq "phishing, tag: X-SPOT-Confidence 0.910" "$(part header X-SPOT-Confidence "$out")" 0.910
check_exit "phishing, reject: 77" 77 sd "$T/phish91.eml" --phishing-action reject -- "$LDA" "$T/p.msg"
check_eq "phishing, reject: 5.7.1, no job id for the sender" "$(cat "$out")" "5.7.1 Message rejected as phishing"
check "phishing, reject: the LDA never ran" test ! -e "$T/p.msg"
check_exit "phishing, defer: 75" 75 sd "$T/phish91.eml" --phishing-action defer -- "$LDA" "$T/p.msg"
check_grep "phishing, defer: 4.7.1" '^4\.7\.1 ' "$out"
check_exit "phishing, reject in tag-only: delivered" 0 sd "$T/phish91.eml" --phishing-action reject --mode tag-only
check_exit "confidence below phishing_min_confidence: delivered" 0 sd "$T/phish91.eml" \
	--phishing-action reject -o phishing_min_confidence=0.95
check_exit "confidence at the threshold: rejected" 77 sd "$T/phish91.eml" \
	--phishing-action reject -o phishing_min_confidence=0.91

# asynchronous: 202, then polling
with_spot "phishing async=3" "$M/phish.eml" > "$T/async.eml"
before=$(spot_count)
check_exit "async: delivered after polling" 0 sd "$T/async.eml"
check_eq "async: final status analyzed" "$(part header X-SPOT-Status "$out")" analyzed
check_eq "async: verdict from the last poll" "$(part header X-SPOT-Is-Phishing "$out")" yes
methods=$(for i in $(seq $((before + 1)) "$(spot_count)"); do json_get "$(spot_record "$i")" method; done)
check_eq "async: one POST and three GETs" "$(echo $methods)" "POST GET GET GET"
with_spot "phishing async=1000" "$M/phish.eml" > "$T/pending.eml"
check_exit "async, tag-only, no verdict by the deadline: delivered" 0 sd "$T/pending.eml" --mode tag-only --analysis-timeout-ms 400
check_eq "async, tag-only: X-SPOT-Status accepted" "$(part header X-SPOT-Status "$out")" accepted
check_exit "async, blocking, allow: delivered" 0 sd "$T/pending.eml" --analysis-timeout-ms 400
check_eq "async, blocking, allow: X-SPOT-Status timeout" "$(part header X-SPOT-Status "$out")" timeout
check_exit "async, blocking, block: 75" 75 sd "$T/pending.eml" --analysis-timeout-ms 400 --on-timeout block -- "$LDA" "$T/x.msg"
check_grep "async, blocking, block: 4.7.1" '^4\.7\.1 ' "$out"

# timeouts and errors
with_spot "delay=5000" "$M/ham.eml" > "$T/slow.eml"
t0=$(date +%s%N)
check_exit "slow API, allow: delivered" 0 sd "$T/slow.eml" --analysis-timeout-ms 300
t1=$(date +%s%N)
check_eq "slow API, allow: X-SPOT-Status timeout" "$(part header X-SPOT-Status "$out")" timeout
check "slow API: the deadline holds (under 2 s)" test $(((t1 - t0) / 1000000)) -lt 2000
check_exit "slow API, block: 75" 75 sd "$T/slow.eml" --analysis-timeout-ms 300 --on-timeout block -- "$LDA" "$T/x.msg"
check_exit "tag-only, block: a slow API never holds mail" 0 sd "$T/slow.eml" --analysis-timeout-ms 300 --on-timeout block --mode tag-only
with_spot "status=503 retry-after=5" "$M/ham.eml" > "$T/503.eml"
check_exit "503, block: 75" 75 sd "$T/503.eml" --on-timeout block -- "$LDA" "$T/x.msg"
check_exit "503, allow: delivered with timeout status" 0 sd "$T/503.eml"
check_eq "503, allow: X-SPOT-Status timeout" "$(part header X-SPOT-Status "$out")" timeout
with_spot "garbage" "$M/ham.eml" > "$T/garbage.eml"
check_exit "garbage JSON, block: 75" 75 sd "$T/garbage.eml" --on-timeout block -- "$LDA" "$T/x.msg"
with_spot "status=413" "$M/ham.eml" > "$T/413.eml"
check_exit "413: delivered even with block" 0 sd "$T/413.eml" --on-timeout block
check_eq "413: X-SPOT-Status rejected" "$(part header X-SPOT-Status "$out")" rejected

# a wrong key: 75 with 4.7.0, and the key is nowhere in the output
printf 'wrong-key-%s\n' "$$" > "$T/badkey"; chmod 600 "$T/badkey"
check_exit "wrong key: 75" 75 sd "$M/ham.eml" --api-key-file "$T/badkey" -- "$LDA" "$T/x.msg"
check_grep "wrong key: 4.7.0" '^4\.7\.0 ' "$out"
check_eq "wrong key: neither key appears in stdout or stderr" "$(cat "$out" "$err" | grep -c -e "wrong-key-$$" -e "$KEY")" 0
check_exit "--api-key on the command line: refused with 75" 75 "$BIN" --api-key "$KEY" -- "$LDA" "$T/x.msg" < "$M/ham.eml"
check_eq "--api-key: the key is not echoed" "$(cat "$out" "$err" | grep -c -- "$KEY")" 0
chmod 644 "$T/key"
check_exit "key file readable by others: still works" 0 sd "$M/ham.eml"
check_grep "key file readable by others: warning" 'mode 0644: readable by its group and by others' "$err"
chmod 600 "$T/key"
