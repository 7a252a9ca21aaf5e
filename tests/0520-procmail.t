#!/bin/bash
# procmail end to end, as a test user created for the run (home under $T, removed at exit):
#  1. spot-deliver as a filter in ~/.procmailrc (tests/mta/procmailrc, the README's): the
#     phishing verdict of the stand-in API files into .Spam, GTUBE (tag-only) into .Junk, a
#     forged X-SPOT-Is-Phishing never reaches the recipes, nor do forged fields behind an empty
#     line in the other line ending (tests/eolmatrix.py), a failing filter keeps the mail queued;
#  2. procmail as the LDA after spot-deliver, run by a private Postfix's local(8) through the
#     README's mailbox_command (tests/mta/main.cf.procmail) with tests/mta/procmailrc.lda.
. "$(dirname "$0")/lib.sh"
MTA_USER=spotpm$$
. "$ROOT/tests/mta/mta.sh"
need_mta procmail postfix postqueue swaks useradd userdel setpriv
need_rspamd
SPOT_KEY=pm-key-$$
start_spot_api "$SPOT_KEY" clean
HOME_U=$T/home
useradd -M -d "$HOME_U" -s /bin/sh -U "$MTA_USER" || bail_out "useradd $MTA_USER failed"
at_exit userdel "$MTA_USER"
# procmail creates the user's system mailbox when it starts (it stays empty)
at_exit rm -f "/var/mail/$MTA_USER"
mkdir -p "$HOME_U/Maildir/new" "$HOME_U/Maildir/cur" "$HOME_U/Maildir/tmp"
chown -R "$MTA_USER:$MTA_USER" "$HOME_U"
spot_conf_init
pf_init
pf_main "mydestination = local.test" "local_transport = local" \
	"local_recipient_maps = proxy:unix:passwd.byname"
recipe main.cf.procmail >>"$PF/etc/main.cf"
pf_start
plan 83

M=$ROOT/tests/fixtures/mta
MD=$HOME_U/Maildir
part() { "$PY" "$ROOT/tests/msgpart.py" "$@" 2>/dev/null; }
like() { printf '%s\n' "$3" >"$T/like"; check_grep "$1" "$2" "$T/like"; }
msg() { sed "s/MSGID/$2/" "$M/$1" >"$T/$2.eml"; echo "$T/$2.eml"; }
# in FOLDER ID: copies of <ID@sender.example> in the Maildir folder ("" is INBOX)
copies() { maildir_grep "<$2@sender\.example>" "$MD/$1"; }
file_of() { grep -l -F "<$2@sender.example>" $(maildir_files "$MD/$1") /dev/null | head -n 1; }
all_mail() { find "$MD" -type f \( -path '*/new/*' -o -path '*/cur/*' \) | wc -l; }
# as_user CMD...: what local(8) or a .forward does: run CMD as the user, in a clean environment
as_user() {
	setpriv --reuid="$MTA_USER" --regid="$MTA_USER" --init-groups \
		env -i HOME="$HOME_U" LOGNAME="$MTA_USER" USER="$MTA_USER" SHELL=/bin/sh \
		PATH=/usr/bin:/bin ${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} \
		${UBSAN_OPTIONS:+UBSAN_OPTIONS=$UBSAN_OPTIONS} "$@"
}

check "README holds the procmail filter recipe" readme_has procmailrc
check "README holds the mailbox_command line" readme_has main.cf.procmail
check "README holds the .procmailrc for procmail after spot-deliver" readme_has procmailrc.lda

# ---- 1. spot-deliver as a procmail filter
recipe procmailrc >"$HOME_U/.procmailrc"
chown "$MTA_USER" "$HOME_U/.procmailrc"
chmod 644 "$HOME_U/.procmailrc"
check_grep "filter: the test's .procmailrc runs the built spot-deliver" "^\| $BIN -c $SPOT_CONF --mode tag-only$" "$HOME_U/.procmailrc"

{ printf 'X-Test-Spot: phishing level=high\n'; cat "$(msg ham.eml pm1)"; } >"$T/phish.eml"
check_exit "filter, phishing: procmail exits 0" 0 as_user procmail <"$T/phish.eml"
check_eq "filter, phishing: filed into .Spam" "$(copies .Spam pm1)" 1
check_eq "filter, phishing: not in INBOX" "$(copies "" pm1)" 0
got=$(file_of .Spam pm1)
[ -n "$got" ] || got=$T/missing
check_eq "filter, phishing: X-SPOT-Is-Phishing: yes" "$(part header X-SPOT-Is-Phishing "$got")" yes
check_eq "filter, phishing: X-SPOT-Threat-Level: high" "$(part header X-SPOT-Threat-Level "$got")" high
check_eq "filter, phishing: Rspamd's headers too" "$(part header X-Spam-Scanner "$got")" rspamd

f=$(msg ham.eml pm2) # carries a forged X-SPOT-Is-Phishing: yes
check_exit "filter, ham with a forged X-SPOT-Is-Phishing: yes: procmail exits 0" 0 as_user procmail <"$f"
check_eq "filter, forged header: the recipe never saw it (INBOX, not .Spam)" "$(copies "" pm2)/$(copies .Spam pm2)" 1/0
got=$(file_of "" pm2)
[ -n "$got" ] || got=$T/missing
check_eq "filter, forged header: replaced by the API's no" "$(part header X-SPOT-Is-Phishing "$got")" no
# procmail feeds a filter the message with one more newline at its end (with "| cat" too)
{ part body "$f"; echo; } >"$T/pm2.body.sent"
part body "$got" >"$T/pm2.body.got"
check_cmp "filter: the body arrived byte for byte (plus procmail's newline)" "$T/pm2.body.sent" "$T/pm2.body.got"

f=$(msg gtube.eml pm3)
check_exit "filter, GTUBE: procmail exits 0 (tag-only)" 0 as_user procmail <"$f"
check_eq "filter, GTUBE: filed into .Junk" "$(copies .Junk pm3)" 1
check_eq "filter, GTUBE: X-Spam: Yes" "$(part header X-Spam "$(file_of .Junk pm3)")" Yes

# the filter fails (a configuration error: 75): procmail exits 75, nothing is delivered
spot_conf_set bogus_key 1
before=$(all_mail)
f=$(msg ham.eml pm4)
check_exit "filter fails: procmail exits 75 (the MTA keeps the mail)" 75 as_user procmail <"$f"
check_eq "filter fails: nothing delivered, not even the unfiltered message" "$(all_mail)" "$before"
check_grep "filter fails: procmail's log has spot-deliver's 4.3.5, not the config file's name" '4\.3\.5 Mail system configuration error$' "$err"
sed -i '/^bogus_key/d' "$SPOT_CONF"
check_exit "filter works again: procmail exits 0" 0 as_user procmail <"$f"
check_eq "filter works again: delivered once" "$(copies "" pm4)" 1

# hostile line endings (tests/eolmatrix.py): an empty line in the other ending, forged
# verdicts around it; the README's recipes and one for any X-Spam*/X-SPOT-* field that says
# "forged" must see none of them, and the body must arrive as it was. Without Rspamd, which
# would score the forged X-Spam: Yes itself; the API's X-SPOT-* fields are added.
spot_conf_set rspamd no
{ recipe procmailrc; printf ':0\n* ^X-(Spam|SPOT-)[^:]*: *forged\n.Forged/\n'; } >"$HOME_U/.procmailrc"
"$PY" "$ROOT/tests/eolmatrix.py" "$T" pmx >"$T/pmx.list"
while IFS=$'\t' read -r id label; do
	as_user procmail <"$T/$id.eml"
	rc=$?
	got=$(file_of "" "$id")
	body=$(grep -c -a 'X-Spam: Yes in the body' "$T/$id.eml")
	check_eq "line endings, $label: exit/INBOX/.Spam/.Junk/.Forged/body" \
		"$rc/$(copies "" "$id")/$(copies .Spam "$id")/$(copies .Junk "$id")/$(copies .Forged "$id")/$(grep -c -a 'X-Spam: Yes in the body' "${got:-/dev/null}")" \
		"0/1/0/0/0/$body"
done <"$T/pmx.list"
# a NUL in the header block, a block longer than spool_threshold (tests/blockend.py): the
# forged fields behind them reach none of the recipes
spot_conf_set spool_threshold 64K
"$PY" "$ROOT/tests/blockend.py" "$T" pmb >"$T/pmb.list"
while IFS=$'\t' read -r id label; do
	as_user procmail <"$T/$id.eml"
	rc=$?
	got=$(file_of "" "$id")
	check_eq "block end, $label: exit/INBOX/.Spam/.Junk/.Forged/body" \
		"$rc/$(copies "" "$id")/$(copies .Spam "$id")/$(copies .Junk "$id")/$(copies .Forged "$id")/$(grep -c -a 'X-Spam: Yes in the body' "${got:-/dev/null}")" \
		"0/1/0/0/0/1"
done <"$T/pmb.list"
spot_conf_set spool_threshold 1M
spot_conf_set rspamd yes
recipe procmailrc >"$HOME_U/.procmailrc"

# ---- 2. procmail as the LDA after spot-deliver: Postfix local(8) runs the mailbox_command
recipe procmailrc.lda >"$HOME_U/.procmailrc"
check_grep "lda: main.cf runs the built spot-deliver" "^mailbox_command = $BIN -c $SPOT_CONF -f \"\\\$SENDER\"" "$PF/etc/main.cf"
to=$MTA_USER@local.test
f=$(msg ham.eml pm5)
qid=$(swaks_send "$f" alice@sender.example "$to")
like "lda, ham: local(8) delivered it to the command" "relay=local, .*status=sent \(delivered to command: " "$(pf_wait_status "$qid")"
check_eq "lda, ham: in INBOX once" "$(copies "" pm5)" 1
got=$(file_of "" pm5)
[ -n "$got" ] || got=$T/missing
check_eq "lda, ham: X-Spam-Scanner: rspamd" "$(part header X-Spam-Scanner "$got")" rspamd
check_eq "lda, ham: forged X-SPOT-Is-Phishing replaced" "$(part header X-SPOT-Is-Phishing "$got")" no
rec=$(grep -l -F '<pm5@sender.example>' "$SPOT_RECORD"/*.body | head -n 1)
rec=${rec%.body}.json
check_grep "lda: \$SENDER reached the API as X-Envelope-From" '\["X-Envelope-From", "alice@sender\.example"\]' "$rec"
check_grep "lda: \$RECIPIENT as X-Envelope-To" "\[\"X-Envelope-To\", \"$to\"\]" "$rec"

{ printf 'X-Test-Spot: phishing\n'; cat "$(msg ham.eml pm6)"; } >"$T/phish6.eml"
qid=$(swaks_send "$T/phish6.eml" alice@sender.example "$to")
like "lda, phishing: delivered" "relay=local, .*status=sent" "$(pf_wait_status "$qid")"
check_eq "lda, phishing: procmail filed it into .Spam" "$(copies .Spam pm6)" 1

before=$(all_mail)
f=$(msg gtube.eml pm7)
qid=$(swaks_send "$f" alice@sender.example "$to")
like "lda, GTUBE in blocking mode: bounced with dsn=5.7.1 and the text" \
	"relay=local, .*dsn=5\.7\.1, status=bounced \(.*Gtube pattern" "$(pf_wait_status "$qid")"
check_eq "lda, GTUBE: procmail never got it" "$(all_mail)" "$before"

spot_conf_set rspamd_url "$(closed_url)"
f=$(msg ham.eml pm8)
qid=$(swaks_send "$f" alice@sender.example "$to")
like "lda, Rspamd down: deferred with dsn=4.7.0" "relay=local, .*dsn=4\.7\.0, status=deferred \(.*Spam scanner unavailable" "$(pf_wait_status "$qid")"
check "lda, Rspamd down: queued" pf_queue_has "$qid"
check_eq "lda, Rspamd down: not delivered" "$(copies "" pm8)" 0
spot_conf_set rspamd_url "$RSPAMD_URL"
pf_flush >/dev/null
wait_for 20 sh -c "grep -q -E ' $qid: to=<.*status=sent' '$PF/maillog'"
check_grep "lda, Rspamd back, postqueue -f: sent" " $qid: to=<$to>, relay=local, .*status=sent" "$PF/maillog"
check_eq "lda, Rspamd back: delivered exactly once" "$(copies "" pm8)" 1
pf_queue >"$T/queue"
check_grep "the queue is empty" '^Mail queue is empty' "$T/queue"
