#!/bin/bash
# dovecot-lda with Sieve (Pigeonhole) after spot-deliver: the README's Dovecot lines
# (tests/mta/dovecot-sieve.conf, included by the private Dovecot's config) and Sieve script
# (tests/mta/junk.sieve as ~/.dovecot.sieve) file X-SPOT-Threat-Level: high and X-Spam: Yes
# into Junk, and a forged one behind an empty line in the other line ending (tests/eolmatrix.py)
# never does. spot-deliver runs as the README's spot transport runs it (the argv of
# tests/mta/master.cf.spot with the ${...} macros filled in), as nobody.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/mta/mta.sh"
need_mta dovecot /usr/lib/dovecot/dovecot-lda /usr/lib/dovecot/modules/lib90_sieve_plugin.so setpriv
need_rspamd
SPOT_KEY=sv-key-$$
start_spot_api "$SPOT_KEY" clean
spot_conf_init
dc_init
HOME_B=$(dc_adduser bob@example.net unused)
dc_start
plan 73

M=$ROOT/tests/fixtures/mta
MD=$HOME_B/Maildir
part() { "$PY" "$ROOT/tests/msgpart.py" "$@" 2>/dev/null; }
msg() { sed "s/MSGID/$2/" "$M/$1" >"$T/$2.eml"; echo "$T/$2.eml"; }
copies() { maildir_grep "<$2@sender\.example>" "$MD/$1"; }
file_of() { grep -l -F "<$2@sender.example>" $(maildir_files "$MD/$1") /dev/null | head -n 1; }

recipe junk.sieve >"$HOME_B/.dovecot.sieve"
chown nobody "$HOME_B/.dovecot.sieve"
# the argv of the README's spot transport, one word a line, the macros filled in
recipe master.cf.spot | tr -s ' \n' '\n\n' | sed -n '/^argv=/,$p' | sed '1s/^argv=//' |
	sed -e 's/\${sender}/alice@sender.example/' -e 's/\${recipient}/bob@example.net/' \
		-e 's/\${client_address}/127.0.0.1/' -e 's/\${client_helo}/client.sender.example/' \
		-e "s/\\\${queue_id}/SV$$/" >"$T/argv"
mapfile -t argv <"$T/argv"
n=0
# deliver FILE: spot-deliver -> dovecot-lda -> Sieve, as nobody; a fresh queue id each time
deliver() {
	n=$((n + 1))
	setpriv --reuid=nobody --regid=nogroup --clear-groups env -i PATH=/usr/bin:/bin \
		${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} ${UBSAN_OPTIONS:+UBSAN_OPTIONS=$UBSAN_OPTIONS} \
		"${argv[@]/SV$$/SV$$-$n}" <"$1"
}

check "README holds the Dovecot lines for Sieve" readme_has dovecot-sieve.conf
check "README holds the Sieve script" readme_has junk.sieve
check_eq "argv: the transport's spot-deliver, then dovecot-lda -d" \
	"$(head -n 1 "$T/argv") ... $(tail -n 8 "$T/argv" | tr '\n' ' ')" \
	"$BIN ... -- /usr/lib/dovecot/dovecot-lda -c $DC/dovecot.conf -f alice@sender.example -d bob@example.net "

# phishing, threat level high: Junk
{ printf 'X-Test-Spot: phishing level=high\n'; cat "$(msg ham.eml sv1)"; } >"$T/high.eml"
check_exit "high: delivered" 0 deliver "$T/high.eml"
check_eq "high: Sieve filed it into Junk" "$(copies .Junk sv1)" 1
check_eq "high: not in INBOX" "$(copies "" sv1)" 0
check_eq "high: X-SPOT-Threat-Level: high" "$(part header X-SPOT-Threat-Level "$(file_of .Junk sv1)")" high
check_grep "high: dovecot's log has Sieve's fileinto" 'sieve: msgid=<sv1@sender\.example>: (fileinto action: )?stored mail into mailbox .Junk.' "$DC/dovecot.log"

# phishing, threat level medium: INBOX (the rule is on the level)
{ printf 'X-Test-Spot: phishing level=medium\n'; cat "$(msg ham.eml sv2)"; } >"$T/medium.eml"
check_exit "medium: delivered" 0 deliver "$T/medium.eml"
check_eq "medium: INBOX" "$(copies "" sv2)" 1
check_eq "medium: X-SPOT-Is-Phishing: yes all the same" "$(part header X-SPOT-Is-Phishing "$(file_of "" sv2)")" yes

# ham that forges X-SPOT-Threat-Level: high: INBOX, with the API's level
check_exit "forged level: delivered" 0 deliver "$(msg ham.eml sv3)"
check_eq "forged level: INBOX, not Junk" "$(copies "" sv3)/$(copies .Junk sv3)" 1/0
check_eq "forged level: X-SPOT-Threat-Level: none" "$(part header X-SPOT-Threat-Level "$(file_of "" sv3)")" none
part body "$T/sv3.eml" >"$T/sv3.body.sent"
part body "$(file_of "" sv3)" >"$T/sv3.body.got"
check_cmp "forged level: the body arrived byte for byte" "$T/sv3.body.sent" "$T/sv3.body.got"

# GTUBE: rejected in blocking mode (Sieve never runs), Junk in tag-only mode
before=$(maildir_count "$MD")
check_exit "GTUBE, blocking: 77" 77 deliver "$(msg gtube.eml sv4)"
check_grep "GTUBE, blocking: 5.7.1 on stdout for pipe(8)" '^5\.7\.1 Gtube pattern' "$out"
check_eq "GTUBE, blocking: nothing delivered" "$(maildir_count "$MD")" "$before"
spot_conf_set mode tag-only
check_exit "GTUBE, tag-only: delivered" 0 deliver "$(msg gtube.eml sv5)"
check_eq "GTUBE, tag-only: X-Spam: Yes put it into Junk" "$(copies .Junk sv5)" 1
check_eq "GTUBE, tag-only: X-Spam: Yes" "$(part header X-Spam "$(file_of .Junk sv5)")" Yes
spot_conf_set mode blocking

# a forged X-Spam: Yes (without Rspamd, which would score the flag itself): INBOX
{ printf 'X-Spam: Yes\n'; cat "$(msg ham.eml sv6)"; } >"$T/forged-spam.eml"
spot_conf_set rspamd no
check_exit "forged X-Spam: Yes: delivered" 0 deliver "$T/forged-spam.eml"
check_eq "forged X-Spam: Yes: INBOX, not Junk" "$(copies "" sv6)/$(copies .Junk sv6)" 1/0
check_eq "forged X-Spam: Yes: gone" "$(part header X-Spam "$(file_of "" sv6)")" ""
spot_conf_set rspamd yes

# ordinary ham: INBOX
check_exit "ham: delivered" 0 deliver "$(msg ham.eml sv7)"
check_eq "ham: INBOX" "$(copies "" sv7)" 1
check_eq "Junk holds exactly the two messages" "$(maildir_count "$MD/.Junk")" 2
check_eq "no errors from the LDA or Sieve" "$(grep -c -E '(lda|sieve).*(Error|Fatal|Panic):' "$DC/dovecot.log")" 0

# hostile line endings (tests/eolmatrix.py): an empty line in the other ending, forged
# verdicts around it; a Sieve script that tests each forged field must see none of them,
# and the body must arrive as it was. Without Rspamd, which would score X-Spam: Yes itself.
cat >"$HOME_B/.dovecot.sieve" <<'SIEVE'
require ["fileinto"];
if anyof (header :is "X-SPOT-Is-Phishing" "yes", header :is "X-Spam" "Yes",
          header :contains ["X-Spam-Score", "X-SPOT-Threat-Level"] "forged") {
  fileinto "Junk";
  stop;
}
SIEVE
spot_conf_set rspamd no
"$PY" "$ROOT/tests/eolmatrix.py" "$T" svx >"$T/svx.list"
while IFS=$'\t' read -r id label; do
	deliver "$T/$id.eml" >/dev/null
	rc=$?
	got=$(file_of "" "$id")
	body=$(grep -c -a 'X-Spam: Yes in the body' "$T/$id.eml")
	check_eq "line endings, $label: exit/INBOX/Junk/body" \
		"$rc/$(copies "" "$id")/$(copies .Junk "$id")/$(grep -c -a 'X-Spam: Yes in the body' "${got:-/dev/null}")" \
		"0/1/0/$body"
done <"$T/svx.list"
# a NUL in the header block, a block longer than spool_threshold (tests/blockend.py): Sieve
# sees none of the forged fields behind them
spot_conf_set spool_threshold 64K
"$PY" "$ROOT/tests/blockend.py" "$T" svb >"$T/svb.list"
while IFS=$'\t' read -r id label; do
	deliver "$T/$id.eml" >/dev/null
	rc=$?
	got=$(file_of "" "$id")
	check_eq "block end, $label: exit/INBOX/Junk/body" \
		"$rc/$(copies "" "$id")/$(copies .Junk "$id")/$(grep -c -a 'X-Spam: Yes in the body' "${got:-/dev/null}")" \
		"0/1/0/1"
done <"$T/svb.list"
spot_conf_set spool_threshold 1M
check_eq "line endings: no errors from the LDA or Sieve" "$(grep -c -E '(lda|sieve).*(Error|Fatal|Panic):' "$DC/dovecot.log")" 0
