#!/bin/bash
# A hostile Rspamd whose milter block writes spot-deliver's namespace (X-SPOT-*, and the X-Spam
# fields spot-deliver writes itself), names of any length, values that cannot be folded, and
# removals aimed at our own fields and at what lies below the top block. Only spot-deliver's own
# verdict may come out; Rspamd's own fields (X-Spamd-Result, X-Rspamd-*) stay; no name longer
# than 76 bytes, no line longer than 998; the removals touch the top block only.
. "$(dirname "$0")/faultlib.sh"

plan 11

start_bad
printf 'milter-key-%s\n' "$$" >"$T/key"
chmod 600 "$T/key"
"$PY" - "$BAD_FILES" <<'PYEOF'
import json, os, sys
long_name = "X-" + "C" * 5000
json.dump({
    "action": "no action", "score": 1.0, "required_score": 15.0, "symbols": {},
    "milter": {
        "add_headers": {
            "X-SPOT-Is-Phishing": "no", "x-spot-status": "analyzed",
            "X-SPOT-Threat-Level": [{"value": "none", "order": 0}],
            "X-Spam": "Yes", "X-Spam-Error": "forged", "X-Spam-Action": "forged",
            "X-Spamd-Result": "default: False [1.00 / 15.00]", "X-Rspamd-Server": "mx",
            long_name: "v5002", "X-" + "L" * 75: "v77", "X-" + "K" * 74: "v76",
            "X-Rspamd-Big": "A" * 100000, "X-Rspamd-Big8": "\u00e4" * 20000,
        },
        "remove_headers": {
            "X-Spam-Scanner": -1, "X-SPOT-Status": 0, "X-Inner": 0, "X-Keep": 5,
            long_name: 0,
        },
    },
}, open(os.path.join(sys.argv[1], "forge.json"), "w"))
PYEOF
# the top block forges a verdict too; the body and an attached message hold the names the
# milter removes
printf '%s\n' 'From: Alice <alice@example.org>' 'To: bob@example.net' 'X-SPOT-Is-Phishing: yes' \
	'X-Keep: kept' 'Subject: milter' 'MIME-Version: 1.0' 'Content-Type: multipart/mixed; boundary="b"' \
	'' 'X-Inner: body text' 'X-Spam-Scanner: body text' '--b' 'Content-Type: message/rfc822' '' \
	'From: inner@example.org' 'X-Inner: inner header' 'X-SPOT-Status: inner' 'Subject: inner' '' \
	'inner body' '--b--' >"$T/in.eml"
top() { "$PY" "$FAULTS/topblock.py" "$@"; }
# count NAME FILE: how many top-level fields named NAME (any case; an ERE) FILE has
count() { top names "$2" | grep -a -c -i -x -E "$1"; }

sd_run m1 -- "${SD[@]}" --rspamd-url "$BAD/file/forge.json" -- "$FAULTS/lda-count" "$T/m1.cap" <"$T/in.eml"
expect m1 "API off: delivered, the body (an attached message too) byte for byte" deliver 0 "$T/in.eml"
cap=$T/m1.cap
[ -e "$cap" ] || : >"$cap"
check_eq "API off: no X-SPOT-* field at the top (the milter's and the forged one gone)" \
	"$(count 'x-spot-.*' "$cap")" 0
check_eq "API off: no X-Spam (not spam), X-Spam-Error or second X-Spam-Action from the milter" \
	"$(count x-spam "$cap")/$(count x-spam-error "$cap")/$(count x-spam-action "$cap")" 0/0/1
check_grep "API off: the X-Spam-Action is ours" '^X-Spam-Action: no action$' "$cap"
check_eq "API off: Rspamd's own X-Spamd-Result, X-Rspamd-Server, X-Rspamd-Big, X-Rspamd-Big8 kept" \
	"$(count x-spamd-result "$cap")/$(count x-rspamd-server "$cap")/$(count x-rspamd-big "$cap")/$(count x-rspamd-big8 "$cap")" 1/1/1/1
check_eq "API off: no field name over 76 bytes; the 76-byte one kept" \
	"$(top names "$cap" | awk 'length($0) > 76' | wc -l)/$(count "X-K{74}" "$cap")" 0/1
top badlines "$cap" '.*' >"$T/m1.bad"
check_eq "API off: no line in the top block over 998 bytes or of white space only" \
	"$(wc -l <"$T/m1.bad")" 0
check_eq "API off: the removals spared our X-Spam-Scanner and the kept X-Keep" \
	"$(count x-spam-scanner "$cap")/$(count x-keep "$cap")" 1/1

sd_run m2 -- "${SD[@]}" --rspamd-url "$BAD/file/forge.json" --api-url "$BAD/good" \
	--api-key-file "$T/key" -- "$FAULTS/lda-count" "$T/m2.cap" <"$T/in.eml"
expect m2 "API on: delivered, the body byte for byte" deliver 0 "$T/in.eml"
cap=$T/m2.cap
[ -e "$cap" ] || : >"$cap"
check_eq "API on: one X-SPOT-Is-Phishing, X-SPOT-Status, X-SPOT-Threat-Level each (the API's)" \
	"$(count x-spot-is-phishing "$cap")/$(count x-spot-status "$cap")/$(count x-spot-threat-level "$cap")" 1/1/1
check_grep "API on: X-SPOT-Status is the API's analyzed" '^X-SPOT-Status: analyzed$' "$cap"
