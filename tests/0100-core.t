#!/bin/bash
# The core: Rspamd scan, header rewrite, exec or stdout delivery, sysexits codes.
. "$(dirname "$0")/lib.sh"
need_rspamd
plan 69

M=$ROOT/tests/fixtures/mail
LDA=$ROOT/tests/lda-capture
part() { "$PY" "$ROOT/tests/msgpart.py" "$@"; }
sd() { "$BIN" --log stderr --rspamd-url "$RSPAMD_URL" -c /dev/null "$@"; }
# closed: a loopback port nobody listens on
closed=http://127.0.0.1:$(free_port)

# ham, filter mode
check_exit "ham: filter mode exits 0" 0 sd -f alice@example.org -r bob@example.net \
	--client-address 127.0.0.1 --queue-id 4711ABC < "$M/ham.eml"
cp "$out" "$T/ham.out"
part body "$M/ham.eml" > "$T/ham.body.in"
part body "$T/ham.out" > "$T/ham.body.out"
check_cmp "ham: every byte after the header block is unchanged" "$T/ham.body.in" "$T/ham.body.out"
check_eq "ham: X-Spam-Scanner added" "$(part header X-Spam-Scanner "$T/ham.out")" rspamd
check_grep "ham: X-Spam-Action added" '^X-Spam-Action: (no action|add header|greylist)$' "$T/ham.out"
check_grep "ham: X-Spam-Score has two decimals" '^X-Spam-Score: -?[0-9]+\.[0-9]{2} / [0-9]+\.[0-9]{2}$' "$T/ham.out"
check_eq "ham: forged X-Spam: No removed, no X-Spam: Yes" "$(part header X-Spam "$T/ham.out")" ""
check_eq "ham: forged X-SPOT-* removed (API off)" "$(grep -ci '^x-spot-' "$T/ham.out")" 0
check_eq "ham: exactly one X-Spam-Score" "$(grep -c '^X-Spam-Score:' "$T/ham.out")" 1
check_eq "ham: new headers at the top of the block" "$(head -n 1 "$T/ham.out" | cut -d: -f1)" X-Spam-Scanner
part without 'X-Spam.*|X-SPOT-.*' "$M/ham.eml" > "$T/kept.in"
part without 'X-Spam.*|X-SPOT-.*' "$T/ham.out" > "$T/kept.out"
check_cmp "ham: the other headers are kept byte for byte, in order" "$T/kept.in" "$T/kept.out"
check_grep "ham: one log line in Postfix's shape" \
	'^spot-deliver: 4711ABC: to=<bob@example.net>, from=<alice@example.org>, msgid=<[^ ]+>, size=[0-9]+, nrcpt=1, rspamd=[a-z_]+/-?[0-9]+\.[0-9]{2}, spot=off, decision=deliver, stripped=[0-9]+, delay=[0-9]+\.[0-9]{3}, status=sent \(written to standard output\)$' "$err"

# GTUBE
check_exit "gtube, blocking: exit 77" 77 sd -- "$LDA" "$T/gtube.delivered" < "$M/gtube.eml"
check_grep "gtube, blocking: 5.7.1 with Rspamd's message on stdout" '^5\.7\.1 Gtube pattern$' "$out"
check "gtube, blocking: the LDA never ran" test ! -e "$T/gtube.delivered"
check_exit "gtube, tag-only: exit 0" 0 sd --mode tag-only < "$M/gtube.eml"
check_eq "gtube, tag-only: X-Spam: Yes" "$(part header X-Spam "$out")" Yes
check_eq "gtube, tag-only: X-Spam-Action: reject" "$(part header X-Spam-Action "$out")" reject
check_grep "gtube, tag-only: X-Spam-Symbols lists GTUBE" '^X-Spam-Symbols: .*GTUBE\(' "$out"
part body "$out" > "$T/g.out"; part body "$M/gtube.eml" > "$T/g.in"
check_cmp "gtube, tag-only: body unchanged" "$T/g.in" "$T/g.out"

# message shapes: body bytes identical
for f in multipart crlf 8bit-headers fromline nobody; do
	check_exit "$f: delivered" 0 sd < "$M/$f.eml"
	cp "$out" "$T/$f.out"
	part body "$M/$f.eml" > "$T/$f.body.in"
	part body "$T/$f.out" > "$T/$f.body.out"
	check_cmp "$f: body bytes identical" "$T/$f.body.in" "$T/$f.body.out"
done
check_grep "multipart: X-Spam inside the message/rfc822 part stays" '^X-Spam: Yes$' "$T/multipart.out"
check_grep "multipart: the inner X-SPOT-Status stays" '^X-SPOT-Status: analyzed$' "$T/multipart.out"
check_eq "multipart: top-level X-Spam-Flag forgery removed" "$(part header X-Spam-Flag "$T/multipart.out")" ""
check_eq "crlf: every added header ends in CRLF" "$(grep -a '^X-Spam-' "$T/crlf.out" | grep -a -c -v $'\r$')" 0
check_eq "crlf: no bare LF line in the output" "$(grep -a -c -v $'\r$' "$T/crlf.out")" 0
part without 'X-Spam.*' "$M/8bit-headers.eml" > "$T/8.in"
part without 'X-Spam.*' "$T/8bit-headers.out" > "$T/8.out"
check_cmp "8bit-headers: raw 8-bit headers kept byte for byte" "$T/8.in" "$T/8.out"
check_eq "fromline: the From_ line is still the first line" "$(head -n 1 "$T/fromline.out")" "$(head -n 1 "$M/fromline.eml")"
check_eq "fromline: our headers right after it" "$(sed -n 2p "$T/fromline.out" | cut -d: -f1)" X-Spam-Scanner
check_eq "fromline: forged X-SPOT-Is-Phishing removed" "$(grep -ci '^x-spot' "$T/fromline.out")" 0
check_grep "nobody: headers added to a message without body" '^X-Spam-Scanner: rspamd$' "$T/nobody.out"

# delivery through an LDA: same bytes as filter mode, seekable stdin, exit code passed on
check_exit "lda: exit 0" 0 sd -- "$LDA" "$T/lda.msg" 0 < "$M/multipart.eml"
check_cmp "lda: the LDA got the same message as filter mode" "$T/lda.msg" "$T/multipart.out"
check_eq "lda: its stdin is a seekable file" "$(cat "$T/lda.msg.seek")" seekable
check_exit "lda exits 75: spot-deliver exits 75" 75 sd -- "$LDA" "$T/lda75.msg" 75 < "$M/ham.eml"
check_exit "lda exits 77: passed through" 77 sd -- "$LDA" "$T/lda77.msg" 77 < "$M/ham.eml"
check_exit "lda missing: 75" 75 sd -- /nonexistent/dovecot-lda -d bob < "$M/ham.eml"
check_eq "lda missing: 4.3.0 on stdout, no path" "$(cat "$out")" "4.3.0 Local delivery failed, try again later"
check_grep "lda missing: the log says why" 'status=deferred \(4\.3\.0 cannot execute /nonexistent/dovecot-lda: ' "$err"
printf 'not a program\n' > "$T/noexec"; chmod 644 "$T/noexec"
check_exit "lda not executable: 75" 75 sd -- "$T/noexec" < "$M/ham.eml"

# Rspamd down
check_exit "rspamd down, block: 75" 75 sd --rspamd-url "$closed" --on-timeout block -- "$LDA" "$T/down.msg" < "$M/ham.eml"
check_grep "rspamd down, block: 4.7.0 reason" '^4\.7\.0 Spam scanner unavailable' "$out"
check "rspamd down, block: nothing delivered" test ! -e "$T/down.msg"
check_exit "rspamd down, allow: delivered" 0 sd --rspamd-url "$closed" --on-timeout allow < "$M/ham.eml"
check_grep "rspamd down, allow: X-Spam-Error header" '^X-Spam-Error: .+' "$out"
check_exit "rspamd down, tag-only with block: still delivered" 0 sd --rspamd-url "$closed" --on-timeout block --mode tag-only < "$M/ham.eml"

# configuration and usage errors: 75 with 4.3.5 in a delivery run, 78 from --check-config
printf 'mode = blocking\nbogus_key = 1\n' > "$T/bad.conf"
check_exit "config error in a delivery run: 75" 75 "$BIN" --log stderr -c "$T/bad.conf" -- "$LDA" "$T/cfg.msg" < "$M/ham.eml"
check_eq "config error: 4.3.5 on stdout, no file name" "$(cat "$out")" "4.3.5 Mail system configuration error"
check_grep "config error: the log names file:line and key" "^spot-deliver: error: NOQUEUE: 4\.3\.5 $T/bad.conf:2: unknown key \"bogus_key\"" "$err"
check "config error: nothing delivered" test ! -e "$T/cfg.msg"
check_exit "config error with --check-config: 78" 78 "$BIN" -c "$T/bad.conf" --check-config
check_exit "missing explicit config file: 75" 75 "$BIN" -c "$T/nope.conf" -- "$LDA" "$T/cfg2.msg" < "$M/ham.eml"
check_exit "unknown option: 75" 75 "$BIN" --frobnicate -- "$LDA" "$T/cfg3.msg" < "$M/ham.eml"
check_grep "unknown option: 4.3.5" '^4\.3\.5 ' "$out"
printf 'mode = tag-only\ntimeout_ms = 1234\n' > "$T/good.conf"
SPOT_DELIVER_TIMEOUT_MS=2345 "$BIN" -c "$T/good.conf" --check-config > "$T/eff" 2>&1
check_grep "precedence: env beats file" '^timeout_ms = 2345$' "$T/eff"
SPOT_DELIVER_TIMEOUT_MS=2345 "$BIN" -c "$T/good.conf" --timeout-ms 3456 --check-config > "$T/eff" 2>&1
check_grep "precedence: command line beats env" '^timeout_ms = 3456$' "$T/eff"
check_grep "precedence: file beats default" '^mode = tag-only$' "$T/eff"

# empty input, --check
check_exit "empty input: 65" 65 sd -- "$LDA" "$T/empty.msg" < /dev/null
check_grep "empty input: says so" '^5\.6\.0 Empty message' "$out"
check_exit "--check: exit 0 even for GTUBE" 0 sd --check < "$M/gtube.eml"
check_eq "--check: valid JSON with the decision" "$(json_get "$out" decision)" reject
