#!/bin/bash
# Values from Rspamd, the API and the envelope cannot inject a header field or a line break:
# symbols, options, milter headers, subjects, SMTP messages, job ids, threat levels and argv
# values full of CR, LF, CRLF CRLF and Unicode line separators. Checked in the delivered
# message (with topblock.py and with Python's email parser), in the status line (one line), in
# the log (one line per record) and in the HTTP requests spot-deliver sends.
. "$(dirname "$0")/faultlib.sh"

CASES="rspamd-tag rspamd-address rspamd-subject rspamd-reject rspamd-soft spot-tag spot-reject spot-long unicode envelope"
REFUSED="rspamd-reject rspamd-soft spot-reject"
# a delivered case has 7 checks, a refused one 6 (nothing was delivered to look at)
plan $(($(wc -w <<<"$CASES") * 7 - $(wc -w <<<"$REFUSED")))

start_bad
printf 'inject-key-%s\n' "$$" >"$T/key"
chmod 600 "$T/key"
HAM=$ROOT/tests/fixtures/mail/ham.eml
R=$BAD_FILES

"$PY" - "$R" <<'PYEOF'
import json, os, sys
d = sys.argv[1]
def put(name, obj):
    with open(os.path.join(d, name), "w") as f:
        json.dump(obj, f)
inj = lambda n: "\r\nX-Injected: %d" % n
put("rspamd-tag.json", {
    "action": "add header", "score": 7.5, "required_score": 15.0,
    "symbols": {
        "EVIL" + inj(1): {"score": 1.0, "options": ["a" + inj(2), "b\nX-Injected: 3", "c\r\n\r\nbody"]},
        "NORMAL": {"score": 0.5}},
    "milter": {
        "add_headers": {
            "X-Rspamd-Extra": "v" + inj(4) + "\r\n\r\nfake body",
            "X-Bad\r\nName": "x",
            "X-Injected: 5\r\nX-A": "y",
            "X-Multi": [{"value": "m" + inj(6), "order": 0}, "n\nX-Injected: 7"],
            "X-Tabs": "\t\t\t" + " " * 200 + "\r\n" * 50 + "end",
            "X-Long-Token": "t" * 2000},
        "remove_headers": {"X-Injected\r\nFoo": 0, "Subject\r\n": 1}},
    "messages": {"smtp_message": "ok" + inj(8)}})
put("rspamd-address.json", {
    "action": "add header", "score": 7.5, "required_score": 15.0, "symbols": {},
    "milter": {"add_headers": {"X-After": "first", "From": "J\u00fcrgen x",
                               "References": "\u00e4 <a@b>", "Cc": "\u00e4"}}})
put("rspamd-subject.json", {
    "action": "rewrite subject", "score": 9.0, "required_score": 15.0, "symbols": {},
    "subject": "[SPAM] hi" + inj(9) + "\r\n\r\nfake body"})
put("rspamd-reject.json", {
    "action": "reject", "score": 99.0, "required_score": 15.0, "symbols": {},
    "messages": {"smtp_message": "Spam\r\n2.0.0 Ok" + inj(10) + "\n\n4.0.0 more"}})
put("rspamd-soft.json", {
    "action": "soft reject", "score": 9.0, "required_score": 15.0, "symbols": {},
    "messages": {"smtp_message": "later\r\n2.0.0 Ok" + inj(11)}})
put("spot-evil.json", {
    "job_id": "job" + inj(12), "status": "analyzed", "is_phishing": True,
    "threat_level": "high" + inj(13) + "\r\n\r\n", "confidence": 0.9})
put("spot-long.json", {
    "job_id": ("j" * 1000 + inj(14)) * 100, "status": "analyzed", "is_phishing": True,
    "threat_level": ("t" * 500 + inj(15)) * 100, "confidence": 0.9})
put("rspamd-unicode.json", {
    "action": "add header", "score": 7.5, "required_score": 15.0,
    "symbols": {"\u00dcN\u00cfC\u00d6D\u00c9\u2028X-Injected: 16": {"score": 1.0},
                "NEL\u0085X-Injected: 17": {"score": 1.0}},
    "milter": {"add_headers": {"X-Unicode": "\u00e4\u2029X-Injected: 18\u000bX\u000cY"}}})
put("spot-unicode.json", {
    "job_id": "j\u2028X-Injected: 19", "status": "analyzed", "is_phishing": False,
    "threat_level": "n\u0085X-Injected: 20", "confidence": 0.1})
PYEOF

# fields NAME FILE: how many top-level header fields named NAME FILE has, by topblock.py and
# by Python's email parser (which also splits lines at a bare CR), as "A B"
fields() {
	local a b
	a=$("$PY" "$FAULTS/topblock.py" names "$2" | grep -a -c -i -x -F "$1")
	b=$("$PY" - "$1" "$2" <<'PYEOF'
import email, email.policy, sys
m = email.message_from_bytes(open(sys.argv[2], "rb").read(), policy=email.policy.compat32)
print(len(m.get_all(sys.argv[1]) or []))
PYEOF
)
	echo "$a $b"
}

# badlines FILE: the lines of the fields spot-deliver added to FILE's top block (ours, and
# Rspamd's milter ones) that are made up entirely of white space (RFC 5322, 3.2.2: MUST NOT) or
# are longer than 998 bytes (RFC 5322, 2.1.1: MUST NOT)
badlines() {
	"$PY" "$FAULTS/topblock.py" badlines "$1" '(?i)x-(spam|spot)(-.*)?|X-Rspamd-Extra|X-Multi|X-Tabs|X-Long-Token|X-Unicode|Subject'
}

# log_ok NAME: every stderr line of the run is a log record or the status line
log_ok() {
	! grep -a -v -E '^(spot-deliver: |[245]\.[0-9]+\.[0-9]+ )' "$T/$1.err" | grep -q .
}

n=0
for c in $CASES; do
	n=$((n + 1))
	name=j$n
	cap=$T/$name.cap
	env=()
	case $c in
	rspamd-tag) args=(--rspamd-url "$BAD/file/rspamd-tag.json") ;;
	rspamd-address) args=(--rspamd-url "$BAD/file/rspamd-address.json") ;;
	rspamd-subject) args=(--rspamd-url "$BAD/file/rspamd-subject.json") ;;
	rspamd-reject) args=(--rspamd-url "$BAD/file/rspamd-reject.json") ;;
	rspamd-soft) args=(--rspamd-url "$BAD/file/rspamd-soft.json") ;;
	spot-tag) args=(--no-rspamd --api-url "$BAD/file/spot-evil.json" --api-key-file "$T/key") ;;
	spot-reject) args=(--no-rspamd --api-url "$BAD/file/spot-evil.json" --api-key-file "$T/key" --phishing-action reject) ;;
	spot-long) args=(--no-rspamd --api-url "$BAD/file/spot-long.json" --api-key-file "$T/key") ;;
	unicode) args=(--rspamd-url "$BAD/file/rspamd-unicode.json" --api-url "$BAD/file/spot-unicode.json" --api-key-file "$T/key") ;;
	envelope)
		args=(--rspamd-url "$BAD/good/env" --api-url "$BAD/good/env-api" --api-key-file "$T/key"
			-f $'evil@example.org\r\nX-Injected: 21' -r $'bob@example.net\nX-Injected: 22'
			-r $'\r\n\r\nX-Injected: 23' --helo $'helo\r\nX-Injected: 24' --queue-id $'Q1\r\nX-Injected: 25'
			--client-address $'192.0.2.1\nX-Injected: 26' --user $'bob\rX-Injected: 27')
		;;
	esac
	reqs=$(cat "$BAD_REC.headers" 2>/dev/null | wc -l)
	sd_run "$name" -- "${SD[@]}" "${args[@]}" -- "$FAULTS/lda-count" "$cap" <"$HAM"
	case $c in
	rspamd-reject) expect "$name" "$c" refuse 77 5.7.1 ;;
	spot-reject) expect "$name" "$c" refuse 77 5.7.1 ;;
	rspamd-soft) expect "$name" "$c" refuse 75 4.7.1 ;;
	*) expect "$name" "$c" deliver 0 "$HAM" ;;
	esac
	cells=("$CELL")
	refused=no
	case " $REFUSED " in *" $c "*) refused=yes ;; esac

	if [ "$refused" = yes ]; then
		# nothing delivered: what a scanner says reaches only the status line and the log; its
		# text is kept, every line break in it a blank
		case $c in
		rspamd-reject) want='^5\.7\.1 Spam +2\.0\.0 Ok +X-Injected: 10 +4\.0\.0 more$' ;;
		rspamd-soft) want='^4\.7\.1 later +2\.0\.0 Ok +X-Injected: 11$' ;;
		# the SPOT job id is not for the sender: the fixed text only
		spot-reject) want='^5\.7\.1 Message rejected as phishing$' ;;
		esac
		what="the scanner's text is in the status line, its line breaks made blanks"
		[ "$c" = spot-reject ] && what="the status line is the fixed text, without the job id"
		if grep -a -q -E "$want" "$T/$name.out"; then
			ok 0 "$c: $what"
			cells+=("(not delivered)" "(not delivered)")
		else
			ok 1 "$c: $what"
			diag "want /$want/"
			cat -A "$T/$name.out" | head -n 5 | sed 's/^/#   /' >&2
			cells+=("(not delivered)" "**FAIL**: status text")
		fi
		if ! LC_ALL=C grep -a -q -P '[\x00-\x09\x0b-\x1f\x7f]' "$T/$name.out" && [ -s "$T/$name.out" ]; then
			ok 0 "$c: the status line holds no control character"
		else
			ok 1 "$c: the status line holds no control character"
			cat -A "$T/$name.out" | head -n 5 | sed 's/^/#   /' >&2
		fi
	else
		got=$(fields X-Injected "$cap")
		if [ -e "$cap" ] && [ "$got" = "0 0" ]; then
			ok 0 "$c: no X-Injected field in the delivered message"
			cells+=("none")
		else
			ok 1 "$c: no X-Injected field in the delivered message"
			diag "delivered: $([ -e "$cap" ] && echo yes || echo no); topblock.py, email: $got"
			[ -e "$cap" ] && "$PY" "$FAULTS/topblock.py" block "$cap" | cat -A | head -n 30 | sed 's/^/#   /' >&2
			cells+=("**FAIL**: $got")
		fi
		# fields that are not ours (X-Spam*, X-SPOT-*): the input's, and the milter's
		before=$("$PY" "$FAULTS/topblock.py" names "$HAM" | grep -a -c -v -i -E '^x-(spam|spot)(-|$)')
		after=$("$PY" "$FAULTS/topblock.py" names "$cap" 2>/dev/null | grep -a -c -v -i -E '^x-(spam|spot)(-|$)')
		case $c in
		rspamd-tag) milter=5 ;;     # X-Rspamd-Extra, X-Multi twice, X-Tabs, X-Long-Token
		rspamd-address) milter=4 ;; # X-After, From, References, Cc
		unicode) milter=1 ;;        # X-Unicode
		*) milter=0 ;;
		esac
		if [ -e "$cap" ] && [ "$after" = $((before + milter)) ] &&
			"$PY" "$FAULTS/topblock.py" contains "$HAM" "$cap" >"$T/$name.missing"; then
			ok 0 "$c: no field but ours and Rspamd's milter ones added"
		else
			ok 1 "$c: no field but ours and Rspamd's milter ones added"
			diag "fields other than ours: $after, want $before from the input + $milter from the milter" \
				"$(cat "$T/$name.missing" 2>/dev/null)"
			"$PY" "$FAULTS/topblock.py" names "$cap" 2>/dev/null | sed 's/^/#   /' >&2
		fi
		bad=$(badlines "$cap" 2>&1)
		if [ -e "$cap" ] && [ -z "$bad" ]; then
			ok 0 "$c: no added line of only white space or over 998 bytes"
			cells+=("ok")
		else
			ok 1 "$c: no added line of only white space or over 998 bytes"
			diag "$bad"
			cells+=("**FAIL**: $(wc -l <<<"$bad") bad lines")
		fi
	fi

	# the status line: none after a delivery through an LDA, exactly one line after a refusal
	lines=$(grep -a -c '' "$T/$name.out")
	want=0
	[ "$refused" = yes ] && want=1
	if [ "$lines" = "$want" ]; then
		ok 0 "$c: $([ "$want" = 1 ] && echo "the status line is one line" || echo "no status line after a delivery")"
		[ "$want" = 1 ] && cells+=("1 line") || cells+=("(none)")
	else
		ok 1 "$c: the status line: $want line(s)"
		diag_file "$T/$name.out"
		cells+=("**FAIL**: $lines lines")
	fi
	if log_ok "$name" && [ -s "$T/$name.err" ]; then
		ok 0 "$c: one line per log record"
		cells+=("ok")
	else
		ok 1 "$c: one line per log record"
		diag_file "$T/$name.err"
		cells+=("**FAIL**")
	fi
	# the requests this case sent (Rspamd's, the API's, its polls): no header field named
	# X-Injected, whatever argv or a scanner's answer held
	tail -n +$((reqs + 1)) "$BAD_REC.headers" >"$T/$name.req"
	hdrs=$(grep -a -c -i -E '^[A-Z]+ [^ ]+ X-Injected:' "$T/$name.req")
	seen=$(grep -a -c -E '^[A-Z]+ [^ ]+ ' "$T/$name.req")
	if [ "$hdrs" = 0 ] && [ "$seen" -gt 0 ]; then
		ok 0 "$c: no X-Injected field in the requests to Rspamd and the API"
		cells+=("none in $seen header lines")
	else
		ok 1 "$c: no X-Injected field in the requests to Rspamd and the API"
		diag "$hdrs X-Injected fields in $seen header lines"
		grep -a -i 'X-Injected' "$T/$name.req" | head -n 10 | sed 's/^/#   /' >&2
		cells+=("**FAIL**: $hdrs")
	fi
	row "$c" "${cells[@]}"
done

write_report faults-0720 "Injection" \
"tests/faults/0720-injection.t. Rspamd and API answers (served by tests/faults/badserver.py) whose symbols, options, milter headers, subject, SMTP message, job id and threat level hold CR, LF, CRLF CRLF, long runs of white space, 100 KB values and Unicode line and paragraph separators, each followed by \`X-Injected: n\`; and envelope values in argv doing the same. \"Injected fields\": fields named X-Injected in the delivered message's top-level block, as tests/faults/topblock.py and Python's email parser (which also breaks lines at a bare CR) see it. \"Added lines\": no line of the fields spot-deliver adds is made up of white space only (RFC 5322, 3.2.2) or longer than 998 bytes (RFC 5322, 2.1.1). The status line and the log (\`--log stderr\`) must stay one line each." \
	"Case" "Outcome" "Injected fields" "Added lines" "Status line" "Log" "HTTP requests"
