#!/bin/bash
# The test infrastructure itself: the private Rspamd (scripts/rspamd-local + tests/dnsstub.py)
# and the stand-in SPOT API (tests/spot-api.py + scripts/spot-api-local).
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

need_rspamd
KEY=test-key-$$
start_spot_api "$KEY"
plan 42

now=$(date -R)
auth="Authorization: Bearer $KEY"

# ---------------------------------------------------------------- Rspamd
cat >"$T/ham.eml" <<EOF
From: Alice Example <alice@example.org>
To: Bob Example <bob@example.net>
Subject: Lunch on Thursday
Date: $now
Message-ID: <lunch.$$@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 7bit

Hi Bob,

are we still on for lunch on Thursday? The new place near the station
opens at noon, and I could book a table for two.

Cheers,
Alice
EOF
sed 's/^are we still on.*/XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X/' \
	"$T/ham.eml" >"$T/gtube.eml"

st=$(rspamd_scan "$T/ham.eml")
check_eq "rspamd answers /checkv2 for ham" "$st" 200
check_eq "ham gets no action" "$(json_get "$T/http.body" action)" "no action"

# Envelope data from a real domain makes Rspamd resolve SPF, DMARC, rDNS, RBLs: every lookup must
# get its NXDOMAIN from the stub at once (a lost reply costs 1 s: timeout 0.5 s, one retransmit).
st=$(rspamd_scan "$T/ham.eml" "IP: 209.85.221.41" "Helo: mail-wr1-f41.google.com" \
	"From: carol@gmail.com" "Rcpt: bob@example.net")
check_eq "ham with envelope data is scanned" "$st" 200
check_ne "ham with envelope data is not rejected" "$(json_get "$T/http.body" action)" reject
ms=$(cat "$T/http.ms")
ok "$([ "$ms" -lt 500 ]; echo $?)" "a scan that needs DNS takes under 500 ms (took $ms ms)"

st=$(rspamd_scan "$T/gtube.eml")
check_eq "GTUBE is rejected" "$st $(json_get "$T/http.body" action)" "200 reject"
check_eq "GTUBE smtp_message" "$(json_get "$T/http.body" messages smtp_message)" "Gtube pattern"

# ---------------------------------------------------------------- DNS stub
dport=$(free_port)
"$PY" "$ROOT/tests/dnsstub.py" --port "$dport" --pidfile "$T/dns.pid" </dev/null >"$T/dns.out" 2>&1 &
at_exit kill "$!"
for _ in $(seq 50); do grep -q '^ready' "$T/dns.out" && break; sleep 0.1; done
check "dnsstub answers NXDOMAIN over UDP and TCP, echoing id and question" "$PY" - "$dport" <<'EOF'
import socket, struct, sys
port = int(sys.argv[1])
q = struct.pack("!HHHHHH", 0xBEEF, 0x0100, 1, 0, 0, 0) + b"\x05gmail\x03com\x00" + struct.pack("!HH", 1, 1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(2)
u.sendto(q, ("127.0.0.1", port)); r = u.recv(512)
t = socket.create_connection(("127.0.0.1", port), timeout=2)
t.sendall(struct.pack("!H", len(q)) + q); n = struct.unpack("!H", t.recv(2))[0]; r2 = t.recv(n)
for rep in (r, r2):
    qid, flags, qd = struct.unpack("!HHH", rep[:6])
    assert qid == 0xBEEF and flags & 0x8000 and flags & 0xF == 3 and qd == 1, rep
    assert rep[12:12 + len(q) - 12] == q[12:], "question not echoed"
    assert len(rep) > 28, "librdns drops replies of 28 bytes or less"
print("ok")
EOF

# ---------------------------------------------------------------- SPOT stand-in: sync verdict
# CRLF lines, 8-bit bytes, a NUL and no final newline: the record must keep every byte.
printf 'From: "Pay Pal" <service@paypa1.example>\r\nTo: bob@example.net\r\nSubject: =?utf-8?q?K=C3=B6nto?=\r\nX-Test-Spot: phishing level=high confidence=0.91\r\n\r\nVerify h\xc3\xa9r\xff\x00e: http://paypa1.example/login\r\nno newline at the end' >"$T/phish.eml"
st=$(http_req POST "$SPOT_URL/internal/ingest" "$T/phish.eml" "$auth" \
	"Content-Type: message/rfc822" "X-Envelope-From: service@paypa1.example" \
	"X-Envelope-To: bob@example.net" "X-Envelope-To: carol@example.net" "X-Queue-Id: 4ABC123")
cp "$T/http.body" "$T/phish.reply"
check_eq "sync: 200" "$st" 200
check_eq "sync: status analyzed" "$(json_get "$T/phish.reply" status)" analyzed
check_eq "sync: is_phishing true" "$(json_get "$T/phish.reply" is_phishing)" true
check_eq "sync: threat_level high" "$(json_get "$T/phish.reply" threat_level)" high
check_eq "sync: confidence 0.91" "$(json_get "$T/phish.reply" confidence)" 0.91
job=$(json_get "$T/phish.reply" job_id)
check_cmp "record 1 holds the body byte for byte" "$SPOT_RECORD/0001.body" "$T/phish.eml"
rec=$(spot_record 1)
check_eq "record 1: method, path, status" \
	"$(json_get "$rec" method) $(json_get "$rec" path) $(json_get "$rec" status)" "POST /internal/ingest 200"
check_eq "record 1: the job id it answered" "$(json_get "$rec" job_id)" "$job"
check_eq "record 1: both X-Envelope-To headers, in order" "$("$PY" -c '
import json, sys
h = json.load(open(sys.argv[1]))["headers"]
print(",".join(v for k, v in h if k.lower() == "x-envelope-to"))' "$rec")" \
	"bob@example.net,carol@example.net"

# ---------------------------------------------------------------- keys
n0=$(spot_count)
st=$(http_req POST "$SPOT_URL/internal/ingest" "$T/phish.eml" "Authorization: Bearer wrong-$KEY")
check_eq "a wrong key gets 401 (whatever the directives)" "$st" 401
st=$(http_req POST "$SPOT_URL/internal/ingest" "$T/phish.eml")
check_eq "a missing key gets 401" "$st" 401
check_eq "both refusals are recorded with status 401" \
	"$(spot_count) $(json_get "$(spot_record $((n0 + 2)))" status)" "$((n0 + 2)) 401"

# ---------------------------------------------------------------- async with polling
printf 'From: a@example.org\nX-Test-Spot: async=2\n clean\nSubject: async\n\nbody\n' >"$T/async.eml"
st=$(http_req POST "$SPOT_URL/internal/ingest" "$T/async.eml" "$auth")
check_eq "async: POST gets 202 accepted" "$st $(json_get "$T/http.body" status)" "202 accepted"
ajob=$(json_get "$T/http.body" job_id)
loc=$(sed -n 's/^Location: //p' "$T/http.headers" | tr -d '\r')
check_eq "async: Location is /jobs/<job_id>" "$loc" "/jobs/$ajob"
st=$(http_req GET "$SPOT_URL$loc" - "$auth")
check_eq "async: poll 1 is 200 accepted" "$st $(json_get "$T/http.body" status)" "200 accepted"
st=$(http_req GET "$SPOT_URL$loc" - "Authorization: Bearer nope")
check_eq "async: a poll with a wrong key gets 401" "$st" 401
st=$(http_req GET "$SPOT_URL$loc" - "$auth")
check_eq "async: poll 2 gives the verdict (clean)" \
	"$st $(json_get "$T/http.body" status) $(json_get "$T/http.body" is_phishing) $(json_get "$T/http.body" job_id)" \
	"200 analyzed false $ajob"

printf 'X-Test-Spot: async=1 no-location phishing\n\nbody\n' >"$T/noloc.eml"
st=$(http_req POST "$SPOT_URL/internal/ingest" "$T/noloc.eml" "$auth")
njob=$(json_get "$T/http.body" job_id)
check_eq "no-location: 202 without a Location header" "$st $(grep -ci '^Location:' "$T/http.headers")" "202 0"
st=$(http_req GET "$SPOT_URL/internal/ingest/$njob" - "$auth")
check_eq "no-location: GET <api_url>/<job_id> gives the verdict" \
	"$st $(json_get "$T/http.body" is_phishing)" "200 true"

# ---------------------------------------------------------------- Idempotency-Key
printf 'X-Test-Spot: clean\n\nbody\n' >"$T/clean.eml"
http_req POST "$SPOT_URL/i" "$T/clean.eml" "$auth" "Idempotency-Key: idem-$$-1" >/dev/null
j1=$(json_get "$T/http.body" job_id)
http_req POST "$SPOT_URL/i" "$T/clean.eml" "$auth" "Idempotency-Key: idem-$$-1" >/dev/null
j2=$(json_get "$T/http.body" job_id)
n=$(spot_count)
check_eq "same Idempotency-Key, same job id" "$j2" "$j1"
check_eq "the repeat is recorded as a duplicate" "$(json_get "$(spot_record "$n")" duplicate)" true
http_req POST "$SPOT_URL/i" "$T/clean.eml" "$auth" "Idempotency-Key: idem-$$-2" >/dev/null
check_ne "another Idempotency-Key, another job id" "$(json_get "$T/http.body" job_id)" "$j1"

# ---------------------------------------------------------------- failure directives
printf 'X-Test-Spot: delay=400 phishing\n\nbody\n' >"$T/delay.eml"
st=$(http_req POST "$SPOT_URL/i" "$T/delay.eml" "$auth")
ms=$(cat "$T/http.ms")
ok "$([ "$st" = 200 ] && [ "$ms" -ge 400 ] && [ "$ms" -lt 3000 ]; echo $?)" "delay=400 answers after 400 ms (took $ms ms, status $st)"

printf 'X-Test-Spot: status=503 retry-after=7\n\nbody\n' >"$T/503.eml"
st=$(http_req POST "$SPOT_URL/i" "$T/503.eml" "$auth")
check_eq "status=503 retry-after=7" "$st $(sed -n 's/^Retry-After: //p' "$T/http.headers" | tr -d '\r')" "503 7"

for d in garbage truncated; do
	printf 'X-Test-Spot: %s\n\nbody\n' "$d" >"$T/$d.eml"
	st=$(http_req POST "$SPOT_URL/i" "$T/$d.eml" "$auth")
	ok "$([ "$st" = 200 ] && [ -s "$T/http.body" ] && ! "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/http.body" 2>/dev/null; echo $?)" \
		"$d: 200 with a body that is not JSON"
done
printf 'X-Test-Spot: wrongshape\n\nbody\n' >"$T/wrong.eml"
st=$(http_req POST "$SPOT_URL/i" "$T/wrong.eml" "$auth")
check_eq "wrongshape: 200 with a JSON list" "$st $("$PY" -c 'import json,sys; print(type(json.load(open(sys.argv[1]))).__name__)' "$T/http.body")" "200 list"

printf 'X-Test-Spot: final=timeout\n\nbody\n' >"$T/ftimeout.eml"
st=$(http_req POST "$SPOT_URL/i" "$T/ftimeout.eml" "$auth")
check_eq "final=timeout: status timeout, no verdict fields" \
	"$st $(json_get "$T/http.body" status) $(json_get "$T/http.body" is_phishing || echo absent)" "200 timeout absent"

# ---------------------------------------------------------------- /_control
printf 'Subject: no test header\n\nbody\n' >"$T/plain.eml"
spot_control "phishing level=low confidence=0.6"
http_req POST "$SPOT_URL/i" "$T/plain.eml" "$auth" >/dev/null
check_eq "/_control sets the default for messages without X-Test-Spot" \
	"$(json_get "$T/http.body" is_phishing) $(json_get "$T/http.body" threat_level) $(json_get "$T/http.body" confidence)" \
	"true low 0.6"
printf 'bogus=1' >"$T/bogus"
st=$(http_req POST "$SPOT_URL/_control" "$T/bogus")
check_eq "/_control refuses an unknown directive with 400" "$st" 400
spot_control ""

# ---------------------------------------------------------------- hang
printf 'X-Test-Spot: hang\n\nbody\n' >"$T/hang.eml"
mkdir "$T/bg"
(
	# shellcheck disable=SC2030 # T is meant to change only in this subshell
	hang_eml=$T/hang.eml T=$T/bg
	export HTTP_TIMEOUT=60
	http_req POST "$SPOT_URL/i" "$hang_eml" "$auth" >"$T/status" 2>/dev/null
) &
hang_pid=$!
n=$(spot_count)
for _ in $(seq 50); do [ "$(spot_count)" -gt "$n" ] && break; sleep 0.1; done
st=$(http_req POST "$SPOT_URL/i" "$T/clean.eml" "$auth")
ms=$(cat "$T/http.ms")
ok "$([ "$st" = 200 ] && [ "$ms" -lt 1000 ]; echo $?)" "a hanging request does not block another one ($st in $ms ms)"
hrec=$(grep -l '"hang": true' "$SPOT_RECORD"/*.json 2>/dev/null | head -n 1)
check_eq "the hanging request is recorded with no status" \
	"$(json_get "${hrec:-/dev/null}" status) $(json_get "${hrec:-/dev/null}" directives)" "null hang"
t0=$(date +%s%N)
rc=0
"$ROOT/scripts/spot-api-local" stop "$SPOT_DIR" 2>"$err" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
ok "$([ "$rc" = 0 ] && [ "$ms" -lt 3000 ]; echo $?)" \
	"the stand-in stops on SIGTERM while a request hangs (exit $rc after $ms ms)" || diag_file "$err"
wait "$hang_pid"
check_eq "the hanging client sees the connection close" "$(cat "$T/bg/status")" 000
