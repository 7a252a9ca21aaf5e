#!/bin/bash
# Postfix end to end: a private Postfix instance (smtpd on a loopback port) delivers through
# the README's "spot" pipe transport (spot-deliver -> dovecot-lda -d ${recipient}, as an
# unprivileged user, through a private Dovecot's userdb) and hands off through the README's
# "spotapi" transport (spot-deliver --handoff -> the stand-in API). swaks sends the mail.
# The master.cf/main.cf lines are tests/mta/*.spot and *.handoff, the README's text.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/mta/mta.sh"
need_mta postfix postqueue swaks dovecot /usr/lib/dovecot/dovecot-lda
need_rspamd
SPOT_KEY=pf-key-$$
start_spot_api "$SPOT_KEY" clean
spot_conf_init
cat >"$T/etc/spot-deliver-handoff.conf" <<EOF
rspamd_url = $RSPAMD_URL
api_url = $SPOT_URL/v1/email
api_key_file = $T/etc/spot-api.key
handoff = yes
EOF
dc_init
BOB=$(dc_adduser bob@example.net unused)/Maildir
DAVE=$(dc_adduser dave@example.net unused)/Maildir
dc_start
pf_init
{ recipe main.cf.spot; recipe main.cf.handoff; } >>"$PF/etc/main.cf"
# swaks counts as a remote client: Postfix leaves its headers alone
pf_main "local_header_rewrite_clients ="
{ recipe master.cf.spot; recipe master.cf.handoff; } >>"$PF/etc/master.cf"
printf 'bob@example.net ok\ndave@example.net ok\n' >"$PF/etc/vmailbox"
printf 'api.example.net spotapi:\n' >"$PF/etc/transport"
pf_start
plan 66

M=$ROOT/tests/fixtures/mta
part() { "$PY" "$ROOT/tests/msgpart.py" "$@" 2>/dev/null; }
like() { printf '%s\n' "$3" >"$T/like"; check_grep "$1" "$2" "$T/like"; }
# msg FIXTURE ID: a copy of tests/fixtures/mta/FIXTURE with Message-ID <ID@sender.example>
msg() { sed "s/MSGID/$2/" "$M/$1" >"$T/$2.eml"; echo "$T/$2.eml"; }
# records QID: the stand-in's records (.json) of requests with X-Queue-Id QID
records() { grep -l -F "[\"X-Queue-Id\", \"$1\"]" "$SPOT_RECORD"/*.json 2>/dev/null; }
delivered() { grep -l -F "<$2@sender.example>" $(maildir_files "$1") /dev/null 2>/dev/null; }

check "README holds the master.cf lines of the spot transport" readme_has master.cf.spot
check "README holds the main.cf lines of the spot transport" readme_has main.cf.spot
check "README holds the master.cf lines of the hand-off transport" readme_has master.cf.handoff
check "README holds the main.cf lines of the hand-off transport" readme_has main.cf.handoff

# ---- ham: delivered once, with verdict headers, forged ones gone, body untouched
f=$(msg ham.eml ham1)
qid=$(swaks_send "$f" alice@sender.example bob@example.net)
check_ne "ham: smtpd queued it" "$qid" ""
like "ham: pipe(8) reports it sent through the spot transport" "relay=spot, .*dsn=2\.0\.0, status=sent" "$(pf_wait_status "$qid")"
check_eq "ham: exactly one copy in bob's Maildir" "$(maildir_grep '<ham1@sender\.example>' "$BOB")" 1
got=$(delivered "$BOB" ham1 | head -n 1)
[ -n "$got" ] || got=$T/missing
check_eq "ham: X-Spam-Scanner: rspamd" "$(part header X-Spam-Scanner "$got")" rspamd
check_grep "ham: X-Spam-Score from Rspamd" '^X-Spam-Score: -?[0-9]+\.[0-9]{2} / [0-9]+\.[0-9]{2}$' "$got"
check_eq "ham: X-SPOT-Status: analyzed (the API was asked)" "$(part header X-SPOT-Status "$got")" analyzed
check_eq "ham: forged X-SPOT-Is-Phishing: yes replaced by the API's no" "$(part header X-SPOT-Is-Phishing "$got")" no
check_eq "ham: forged X-SPOT-Threat-Level: high replaced by none" "$(part header X-SPOT-Threat-Level "$got")" none
check_eq "ham: forged X-Spam-Flag removed" "$(part header X-Spam-Flag "$got")" ""
check_eq "ham: one X-Spam-Score only" "$(grep -c '^X-Spam-Score:' "$got")" 1
check_eq "ham: Return-Path from flags=R" "$(part header Return-Path "$got")" "<alice@sender.example>"
check_eq "ham: Delivered-To from flags=D" "$(part header Delivered-To "$got")" "bob@example.net"
part body "$f" >"$T/ham1.body.sent"
part body "$got" >"$T/ham1.body.got"
check_cmp "ham: the body arrived byte for byte (dot lines, From line, 8-bit, blanks)" "$T/ham1.body.sent" "$T/ham1.body.got"
rec=$(records "$qid" | head -n 1)
[ -n "$rec" ] || rec=$T/missing
check_grep "argv: \${sender} reached the API as X-Envelope-From" '\["X-Envelope-From", "alice@sender.example"\]' "$rec"
check_grep "argv: \${recipient} as X-Envelope-To" '\["X-Envelope-To", "bob@example.net"\]' "$rec"
check_grep "argv: \${client_address} as X-Client-Address" '\["X-Client-Address", "127.0.0.1"\]' "$rec"
check_grep "argv: \${client_helo} as X-Client-Helo" '\["X-Client-Helo", "client.sender.example"\]' "$rec"
check_grep "argv: \${queue_id} starts the Idempotency-Key" "\[\"Idempotency-Key\", \"$qid-[0-9a-f]{64}\"\]" "$rec"

# ---- two recipients: spot_destination_recipient_limit = 1 gives one run per recipient
f=$(msg ham.eml two1)
qid=$(swaks_send "$f" alice@sender.example bob@example.net,dave@example.net)
wait_for 20 sh -c "[ \$(grep -c -E ' $qid: to=<.*status=sent' '$PF/maillog') -ge 2 ]"
check_eq "two recipients: bob got one copy" "$(maildir_grep '<two1@sender\.example>' "$BOB")" 1
check_eq "two recipients: dave got one copy" "$(maildir_grep '<two1@sender\.example>' "$DAVE")" 1
check_eq "two recipients: two scans, each with one X-Envelope-To" \
	"$(records "$qid" | xargs grep -c '"X-Envelope-To"' | cut -d: -f2 | tr '\n' ' ')" "1 1 "
check_eq "two recipients: dave's copy says Delivered-To: dave" \
	"$(part header Delivered-To "$(delivered "$DAVE" two1 | head -n 1)")" dave@example.net

# ---- a null sender (a bounce from elsewhere): pipe(8) passes ${sender} as MAILER-DAEMON
f=$(msg ham.eml null1)
qid=$(swaks_send "$f" '<>' bob@example.net)
check_grep "null sender: smtpd got MAIL FROM:<>" '^ -> MAIL FROM:<>' "$T/swaks.out"
like "null sender: delivered" "relay=spot, .*dsn=2\.0\.0, status=sent" "$(pf_wait_status "$qid")"
check_eq "null sender: once in bob's Maildir" "$(maildir_grep '<null1@sender\.example>' "$BOB")" 1
check_grep "null sender: X-Envelope-From MAILER-DAEMON" '\["X-Envelope-From", "MAILER-DAEMON"\]' "$(records "$qid" | head -n 1)"

# ---- GTUBE in blocking mode: bounced with 5.7.1 and Rspamd's text
before=$(maildir_count "$BOB")
qid=$(swaks_send "$ROOT/tests/fixtures/mail/gtube.eml" alice@sender.example bob@example.net)
check_ne "gtube: smtpd queued it" "$qid" ""
line=$(pf_wait_status "$qid")
like "gtube: pipe(8) bounced it with dsn=5.7.1" "relay=spot, .*dsn=5\.7\.1, status=bounced \(Gtube pattern" "$line"
check_eq "gtube: nothing delivered" "$(maildir_count "$BOB")" "$before"
wait_for 20 sh -c "grep -l -F 'X-Postfix-Queue-ID: $qid' '$PF'/kept/*.eml" || true
dsn=$(grep -l -F "X-Postfix-Queue-ID: $qid" "$PF"/kept/*.eml 2>/dev/null | head -n 1)
[ -n "$dsn" ] || dsn=$T/missing
check_grep "gtube: the sender's bounce says Status: 5.7.1" '^Status: 5\.7\.1$' "$dsn"
check_grep "gtube: and Diagnostic-Code: x-unix; Gtube pattern" '^Diagnostic-Code: x-unix; Gtube pattern' "$dsn"
check_grep "gtube: the notice names the recipient and the reason" '^<bob@example\.net>: Gtube pattern' "$dsn"

# ---- flags=D: a message that was already delivered to bob loops back: bounced, never scanned
{ printf 'Delivered-To: bob@example.net\n'; cat "$(msg ham.eml loop1)"; } >"$T/loop.eml"
scans=$(spot_count)
qid=$(swaks_send "$T/loop.eml" alice@sender.example bob@example.net)
like "loop: bounced as a mail forwarding loop (dsn=5.4.6)" "dsn=5\.4\.6, status=bounced \(mail forwarding loop for bob@example\.net" "$(pf_wait_status "$qid")"
check_eq "loop: spot-deliver never ran (no request to the API)" "$(spot_count)" "$scans"
check_eq "loop: not delivered" "$(maildir_grep '<loop1@sender\.example>' "$BOB")" 0

# ---- Rspamd unreachable with on_timeout = block: deferred 4.7.0, kept, then delivered once
spot_conf_set rspamd_url "$(closed_url)"
f=$(msg ham.eml down1)
qid=$(swaks_send "$f" alice@sender.example bob@example.net)
like "rspamd down: deferred with dsn=4.7.0 and the reason" "relay=spot, .*dsn=4\.7\.0, status=deferred \(Spam scanner unavailable, try again later" "$(pf_wait_status "$qid")"
check "rspamd down: postqueue -p lists it" pf_queue_has "$qid"
pf_queue >"$T/queue"
check_grep "rspamd down: with the 4.7.0 text as the reason" '^ +\(Spam scanner unavailable, try again later' "$T/queue"
check_eq "rspamd down: not delivered" "$(maildir_grep '<down1@sender\.example>' "$BOB")" 0
pf_flush >/dev/null
wait_for 20 sh -c "[ \$(grep -c -E ' $qid: to=<.*status=deferred' '$PF/maillog') -ge 2 ]"
check_eq "rspamd still down: a flush defers it again" "$(grep -c -E " $qid: to=<.*status=deferred" "$PF/maillog")" 2
check "rspamd still down: still queued" pf_queue_has "$qid"
spot_conf_set rspamd_url "$RSPAMD_URL"
pf_flush >/dev/null
wait_for 20 sh -c "grep -q -E ' $qid: to=<.*status=sent' '$PF/maillog'"
check_grep "rspamd back, postqueue -f: sent" " $qid: to=<bob@example\.net>, relay=spot, .*status=sent" "$PF/maillog"
check "rspamd back: no longer queued" sh -c "! postqueue -c '$PF/etc' -p | grep -q '^$qid'"
check_eq "rspamd back: delivered exactly once" "$(maildir_grep '<down1@sender\.example>' "$BOB")" 1
check_eq "rspamd back: with Rspamd's verdict" "$(part header X-Spam-Scanner "$(delivered "$BOB" down1 | head -n 1)")" rspamd

# ---- hand-off: the API gets the message byte for byte, after Postfix's two header lines
f=$(msg handoff.eml api1)
qid=$(swaks_send "$f" jane@sender.example carol@api.example.net)
like "hand-off: sent through the spotapi transport" "relay=spotapi, .*dsn=2\.0\.0, status=sent" "$(pf_wait_status "$qid")"
rec=$(records "$qid" | head -n 1)
[ -n "$rec" ] || rec=$T/missing.json
check_grep "hand-off: POSTed with the envelope" '\["X-Envelope-To", "carol@api\.example\.net"\]' "$rec"
check_eq "hand-off: the API answered 200" "$(json_get "$rec" status)" 200
"$PY" - "${rec%.json}.body" "$f" >"$T/exact" 2>&1 <<'EOF'
import re, sys
got = open(sys.argv[1], "rb").read()
sent = open(sys.argv[2], "rb").read()
# pipe(8) flags=R adds Return-Path, smtpd adds one (folded) Received: exactly these two
m = re.match(rb"Return-Path: <jane@sender\.example>\n"
             rb"Received: from client\.sender\.example \([^\n]*\[127\.0\.0\.1\]\)\n(?:[ \t][^\n]*\n)*", got)
if not m:
    sys.exit("no Return-Path + Received at the start: %r" % got[:200])
if got[m.end():] != sent:
    sys.exit("differs after Postfix's two fields:\n%r\n%r" % (got[m.end():][:300], sent[:300]))
EOF
check_eq "hand-off: byte-exact (forged headers, folding, 8-bit, dot lines kept)" "$(cat "$T/exact")" ""

# ---- hand-off to two recipients: spotapi_destination_recipient_limit = 1 gives one hand-off
# per recipient, same queue id, same bytes; each is its own delivery, so its own job (an API
# that folded them by a shared Idempotency-Key would take only one of them)
f=$(msg handoff.eml api3)
qid=$(swaks_send "$f" jane@sender.example carol@api.example.net,erin@api.example.net)
wait_for 20 sh -c "[ \$(grep -c -E ' $qid: to=<.*relay=spotapi, .*status=sent' '$PF/maillog') -ge 2 ]"
check_eq "hand-off, two recipients: both sent through spotapi" \
	"$(grep -c -E " $qid: to=<.*relay=spotapi, .*status=sent" "$PF/maillog")" 2
check_eq "hand-off, two recipients: two POSTs, two Idempotency-Keys" \
	"$(records "$qid" | xargs grep -h '"Idempotency-Key"' | sort -u | wc -l)" 2
check_eq "hand-off, two recipients: two jobs" \
	"$(for r in $(records "$qid"); do json_get "$r" job_id; done | sort -u | wc -l)" 2
check_eq "hand-off, two recipients: neither is a duplicate of the other" \
	"$(records "$qid" | xargs grep -h '"duplicate"' | sort -u | tr -d ' \n')" '"duplicate":false,'

# ---- hand-off: a 5xx from the API defers; the retry carries the same Idempotency-Key
spot_control "status=503"
f=$(msg handoff.eml api2)
qid=$(swaks_send "$f" jane@sender.example carol@api.example.net)
like "hand-off, API 503: deferred with dsn=4.4.1" "relay=spotapi, .*dsn=4\.4\.1, status=deferred \(Delivery failed, try again later" "$(pf_wait_status "$qid")"
check "hand-off, API 503: postqueue -p lists it" pf_queue_has "$qid"
pf_flush >/dev/null
wait_for 20 sh -c "[ \$(grep -c -E ' $qid: to=<.*status=deferred' '$PF/maillog') -ge 2 ]"
check_eq "hand-off, retry: the same Idempotency-Key" \
	"$(records "$qid" | xargs grep -h '"Idempotency-Key"' | sort -u | wc -l)" 1
# The stand-in answers a known Idempotency-Key from its first job (503 again), so the API
# "comes back" as a new process on the same port.
port=$SPOT_PORT
"$ROOT/scripts/spot-api-local" stop "$SPOT_DIR" >/dev/null 2>&1
SPOT_DIR=$T/spot-api-back
at_exit "$ROOT/scripts/spot-api-local" stop "$SPOT_DIR"
"$ROOT/scripts/spot-api-local" start "$SPOT_DIR" "$port" "$SPOT_KEY" clean >/dev/null 2>"$T/spot-back.log" ||
	diag_file "$T/spot-back.log"
SPOT_RECORD=$SPOT_DIR/requests
pf_flush >/dev/null
wait_for 20 sh -c "grep -q -E ' $qid: to=<.*status=sent' '$PF/maillog'"
check_grep "hand-off, API back, postqueue -f: sent" " $qid: to=<carol@api\.example\.net>, relay=spotapi, .*status=sent" "$PF/maillog"
check_eq "hand-off, API back: handed off exactly once" "$(records "$qid" | wc -l)" 1
check "hand-off, API back: no longer queued" sh -c "! postqueue -c '$PF/etc' -p | grep -q '^$qid'"

# ---- nothing else happened
pf_queue >"$T/queue"
check_grep "the queue is empty" '^Mail queue is empty' "$T/queue"
check_eq "nothing but the two bounces went to the keep transport" "$(ls "$PF/kept" | wc -l)" 2
check_eq "no fatal, panic or error lines from Postfix" "$(grep -c -E 'postfix/[a-z]+\[[0-9]+\]: (fatal|panic|error):' "$PF/maillog")" 0
