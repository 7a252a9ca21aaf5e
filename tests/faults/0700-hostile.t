#!/bin/bash
# Hostile and odd input (tests/fixtures/hostile/, the big ones made by gen.py under $T): every
# message is delivered, exactly once, with every byte after its header block unchanged, every
# header field it keeps unchanged, and the scanners got the message (without a From_ line) byte
# for byte, or, above scan_max_size, were not asked. Nothing may crash, hang or leak (the ASan
# and valgrind passes run this too).
. "$(dirname "$0")/faultlib.sh"

H=$ROOT/tests/fixtures/hostile
"$PY" "$H/gen.py" big "$T/big" || bail_out "gen.py big failed"
FILES=()
for f in "$H"/*.eml "$T"/big/*.eml; do FILES+=("$f"); done
plan $((${#FILES[@]} * 3))

start_bad
printf 'hostile-key-%s\n' "$$" >"$T/key"
chmod 600 "$T/key"

describe() {
	case $(basename "$1" .eml) in
	no-header-block) echo "no header block (starts with an empty line)" ;;
	headers-only) echo "headers only, no empty line, no body" ;;
	headers-only-no-newline) echo "headers only, the last one without a newline" ;;
	nul-bytes) echo "NUL bytes in header names, values and the body" ;;
	invalid-utf8) echo "invalid UTF-8 and raw 8-bit bytes in headers and body" ;;
	rfc2047) echo "RFC 2047 encoded words, broken ones, an encoded CRLF" ;;
	bare-cr) echo "bare CR in header fields and the body" ;;
	mixed-eol) echo "CRLF and LF mixed" ;;
	from-only) echo "only a From_ line" ;;
	from-only-no-newline) echo "only a From_ line, without its newline" ;;
	one-byte) echo "a single byte" ;;
	colonless) echo "header lines without a colon, \`>From \`" ;;
	whitespace-lines) echo "a line of blanks inside the header block" ;;
	headers-10000) echo "10,000 header fields (forged ones among them)" ;;
	folded-100k) echo "a 100 KB folded Received: and a 100 KB folded forged X-SPOT-Status" ;;
	lines-1m) echo "1 MB lines: a header field, body lines, no final newline" ;;
	mime-depth-1000) echo "MIME nested 1,000 levels deep" ;;
	attachment-30m) echo "a 30 MB attachment (above \`scan_max_size\`)" ;;
	*) basename "$1" ;;
	esac
}

# sha FILE: "LENGTH SHA256" of what the scanners must get: the message without a From_ line
sha() {
	"$PY" - "$1" <<'PYEOF'
import hashlib, sys
d = open(sys.argv[1], "rb").read()
if d.startswith(b"From ") and b"\n" in d:
    d = d[d.index(b"\n") + 1:]
print(len(d), hashlib.sha256(d).hexdigest())
PYEOF
}

n=0
for f in "${FILES[@]}"; do
	n=$((n + 1))
	name=x$n
	base=$(basename "$f" .eml)
	size=$(wc -c <"$f" | tr -d ' ')
	sd_run "$name" --kill-after 60 -- "${SD[@]}" --rspamd-url "$BAD/good/x$n" --api-url "$BAD/good/x$n-api" \
		--api-key-file "$T/key" --queue-id "X$n" -- "$FAULTS/lda-count" "$T/$name.cap" <"$f"
	# a block longer than spool_threshold ends at the cut: the rest is body
	"$PY" "$FAULTS/topblock.py" ended "$f" >"$T/$name.ended"
	BOUND_MS=30000 expect "$name" "$base: delivered" deliver 0 "$T/$name.ended" "X-Spam-Scanner: .+"
	rm -f "$T/$name.ended"
	cell=$CELL

	if [ -e "$T/$name.cap" ] && cmp -s <("$PY" "$FAULTS/topblock.py" kept "$f") \
		<("$PY" "$FAULTS/topblock.py" kept "$T/$name.cap"); then
		ok 0 "$base: every other header field kept byte for byte"
		cell="$cell, other fields ≡"
	else
		ok 1 "$base: every other header field kept byte for byte"
		cell="$cell, **FAIL**: other fields changed"
	fi

	want=$(sha "$f")
	if [ "$size" -gt $((20 * 1024 * 1024)) ]; then
		got=$(grep -c -e "^POST /good/x$n/" -e "^POST /good/x$n-api" "$BAD_REC")
		if [ "$got" = 0 ] && part header X-Spam-Scanner "$T/$name.cap" 2>/dev/null | grep -q skipped; then
			ok 0 "$base: above scan_max_size, no scanner asked"
			cell="$cell, scanners not asked (\`X-Spam-Scanner: rspamd; skipped\`)"
		else
			ok 1 "$base: above scan_max_size, no scanner asked"
			cell="$cell, **FAIL**: scanners asked $got times"
		fi
	else
		r=$(grep -c -F -x "body /good/x$n/checkv2 $want" "$BAD_REC")
		a=$(grep -c -F -x "body /good/x$n-api $want" "$BAD_REC")
		if [ "$r $a" = "1 1" ]; then
			ok 0 "$base: Rspamd and the API got it byte for byte"
			cell="$cell, scanners got it ≡"
		else
			ok 1 "$base: Rspamd and the API got it byte for byte"
			diag "want: $want" "$(grep "x$n[/-]" "$BAD_REC")"
			cell="$cell, **FAIL**: scanners got it $r/$a times"
		fi
	fi
	row "$(describe "$f")" "$size" "$cell"
done

write_report faults-0700 "Hostile and odd input" \
"tests/faults/0700-hostile.t. The small messages are tests/fixtures/hostile/*.eml, the big ones are written by tests/fixtures/hostile/gen.py at test time. Each goes through spot-deliver (default settings, both scanners answering clean) to an LDA. \"Other fields ≡\": the header block minus the X-Spam*/X-SPOT-* fields is byte for byte the same before and after (tests/msgpart.py). \"Scanners got it ≡\": Rspamd and the API each received the message, without its From_ line, byte for byte (length and SHA-256)." \
	"Message" "Bytes" "Result"
