#!/bin/bash
# Forged verdict headers in every spelling, ours and other scanners'
# (tests/fixtures/hostile/forged-every-spelling.eml):
# each field marked STRIPME-n is removed from the top-level header block, each KEEPME-n stays
# there byte for byte, each INNER-n (the body, a MIME part, an attached message/rfc822) stays
# where it is; and the only X-SPOT-Status left at the top is spot-deliver's own. Whatever the
# scanners did: answered, failed, or were not asked.
. "$(dirname "$0")/faultlib.sh"

SCENARIOS="good crlf failed none tagreject"
plan $(($(wc -w <<<"$SCENARIOS") * 5))

start_bad
printf 'forged-key-%s\n' "$$" >"$T/key"
chmod 600 "$T/key"
LF=$ROOT/tests/fixtures/hostile/forged-every-spelling.eml
CRLF=$T/forged-crlf.eml
"$PY" -c 'import sys; d = open(sys.argv[1], "rb").read(); open(sys.argv[2], "wb").write(d.replace(b"\n", b"\r\n"))' "$LF" "$CRLF"
top() { "$PY" "$FAULTS/topblock.py" "$@"; }
nstrip=$(grep -a -o 'STRIPME-[0-9]*' "$LF" | sort -u | wc -l)
nkeep=$(grep -a -o 'KEEPME-[0-9]*' "$LF" | sort -u | wc -l)
ninner=$(grep -a -o 'INNER-[0-9]*' "$LF" | sort -u | wc -l)
closed=$(closed_url)

describe() {
	case $1 in
	good) echo "LF; Rspamd and the API answer" ;;
	crlf) echo "CRLF; Rspamd and the API answer" ;;
	failed) echo "LF; both scanners unreachable (\`on_timeout = allow\`)" ;;
	none) echo "LF; filter mode, no scanner configured" ;;
	tagreject) echo "LF; filter mode, \`mode = tag-only\`, Rspamd says reject" ;;
	esac
}

printf '{"action": "reject", "score": 99.0, "required_score": 15.0, "symbols": {}, "messages": {"smtp_message": "spam"}}\n' \
	>"$T/replies/reject.json"

n=0
for sc in $SCENARIOS; do
	n=$((n + 1))
	name=v$n
	in=$LF
	api=1
	case $sc in
	good) args=(--rspamd-url "$BAD/good" --api-url "$BAD/good" --api-key-file "$T/key" --) ;;
	crlf) in=$CRLF args=(--rspamd-url "$BAD/good" --api-url "$BAD/good" --api-key-file "$T/key" --) ;;
	failed) args=(--rspamd-url "$closed" --api-url "$closed" --api-key-file "$T/key" --on-timeout allow --) ;;
	none) api= args=(--no-rspamd) ;;
	tagreject) api= args=(--rspamd-url "$BAD/file/reject.json" --mode tag-only) ;;
	esac
	if [ "${args[-1]}" = -- ]; then
		sd_run "$name" -- "${SD[@]}" "${args[@]}" "$FAULTS/lda-count" "$T/$name.cap" <"$in"
	else
		sd_run "$name" --stdout "$T/$name.cap" -- "${SD[@]}" "${args[@]}" <"$in"
		[ "$R_KIND $R_CODE" = "exit 0" ] && echo run >"$T/$name.cap.count"
	fi
	d=$(describe "$sc")
	expect "$name" "$sc: delivered" deliver 0 "$in"
	cells=("$CELL")

	left=$(grep -a -o 'STRIPME-[0-9]*' "$T/$name.cap" 2>/dev/null | sort -u | tr '\n' ' ')
	if [ -e "$T/$name.cap" ] && [ -z "$left" ]; then
		ok 0 "$sc: all $nstrip forged fields gone (from the whole message: they were only in the top block)"
		cells+=("$nstrip/$nstrip gone")
	else
		ok 1 "$sc: all $nstrip forged fields gone (from the whole message: they were only in the top block)"
		diag "still there: $left"
		cells+=("**FAIL**: left $left")
	fi
	if [ -e "$T/$name.cap" ] && cmp -s <(top kept "$in") <(top kept "$T/$name.cap") &&
		[ "$(top block "$T/$name.cap" | grep -a -o 'KEEPME-[0-9]*' | sort -u | wc -l)" = "$nkeep" ]; then
		ok 0 "$sc: the $nkeep look-alikes kept byte for byte"
		cells+=("$nkeep/$nkeep kept ≡")
	else
		ok 1 "$sc: the $nkeep look-alikes kept byte for byte"
		diff <(top kept "$in") <(top kept "$T/$name.cap") | head -n 20 | sed 's/^/#   /' >&2
		cells+=("**FAIL**: look-alikes changed")
	fi
	got=$(top body "$T/$name.cap" 2>/dev/null | grep -a -o 'INNER-[0-9]*' | sort -u | wc -l)
	if [ "$got" = "$ninner" ]; then
		ok 0 "$sc: the $ninner fields below the top block untouched"
		cells+=("$ninner/$ninner untouched")
	else
		ok 1 "$sc: the $ninner fields below the top block untouched"
		cells+=("**FAIL**: $got/$ninner below the top block")
	fi
	want=0
	[ -n "$api" ] && want=1
	got=$(top names "$T/$name.cap" 2>/dev/null | grep -a -c -i -x 'x-spot-status')
	if [ "$got" = "$want" ]; then
		ok 0 "$sc: $want X-SPOT-Status at the top (ours)"
		if [ "$want" = 1 ]; then cells+=("1 (ours)"); else cells+=("none (the API is not asked)"); fi
	else
		ok 1 "$sc: $want X-SPOT-Status at the top (ours)"
		cells+=("**FAIL**: $got")
	fi
	row "$d" "${cells[@]}"
done

write_report faults-0710 "Forged verdict headers" \
"tests/faults/0710-forged.t, on tests/fixtures/hostile/forged-every-spelling.eml: X-Spam*/X-SPOT-* fields in every case, folded, with white space before the colon or at the start of the first line, without a space after the colon, with a NUL or a bare CR in them, duplicated, first and last, and the other scanners' verdict fields of the default \`strip_headers\` (\`X-Spamd-Result\`, \`X-Rspamd-*\`, Exim's \`X-Spam_score\`, \`X-Virus-Status\`, \`X-Bogosity\`, \`X-DSPAM-*\`, \`X-CRM114-*\`...); look-alikes that must stay (\`X-Spa\`, \`X-Spotlight\`, \`X-SPOTS\`, \`X-Rspamd\`, \`X-Virus-Scanner\`, \`Authentication-Results\`, a bare CR inside a Subject, a continuation line of another field...); and the same names in the body, in a MIME part's header and in an attached message/rfc822. The top-level block is read with tests/faults/topblock.py, a model of the rules in VIOLATIONS.md." \
	"Scenario" "Delivery" "Forged fields" "Look-alikes" "Below the top block" "X-SPOT-Status at the top"
