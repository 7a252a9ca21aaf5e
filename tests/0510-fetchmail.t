#!/bin/bash
# fetchmail end to end: a private Dovecot on loopback holds alice's mail (IMAP and POP3);
# fetchmail, with the README's .fetchmailrc (tests/mta/fetchmailrc), fetches it through
# spot-deliver into dovecot-lda (alice@example.net's Maildir, through the same Dovecot's userdb).
# When spot-deliver exits 75 (Rspamd down, on_timeout = block) or 77 (GTUBE in blocking mode)
# the message stays on the server, unread, and the next poll fetches it.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/mta/mta.sh"
need_mta fetchmail dovecot /usr/lib/dovecot/dovecot-lda
need_rspamd
SPOT_KEY=fm-key-$$
start_spot_api "$SPOT_KEY" clean
spot_conf_init
dc_init
SERVER=$(dc_adduser alice secret-$$)/Maildir
LOCAL=$(dc_adduser alice@example.net unused)/Maildir
dc_start
plan 38

M=$ROOT/tests/fixtures/mta
part() { "$PY" "$ROOT/tests/msgpart.py" "$@" 2>/dev/null; }
mkdir -p "$SERVER/new" "$SERVER/cur" "$SERVER/tmp" "$T/fmhome"
chown -R nobody:nogroup "$SERVER"
n=0
# put FIXTURE ID: a copy of the fixture with Message-ID <ID@sender.example> on the server
put() {
	n=$((n + 1))
	sed "s/MSGID/$2/" "$M/$1" >"$T/$2.eml"
	cp "$T/$2.eml" "$SERVER/tmp/$n.$$.test"
	chown nobody:nogroup "$SERVER/tmp/$n.$$.test"
	mv "$SERVER/tmp/$n.$$.test" "$SERVER/new/$n.$$.test"
}
# rc PROTOCOL PORT: the README's .fetchmailrc, polling the private Dovecot without TLS
rc() {
	recipe fetchmailrc | sed -e "s/^poll mail\.example\.org protocol imap/poll 127.0.0.1 service $2 protocol $1/" \
		-e "s/\"secret\"/\"secret-$$\"/"
	echo "    sslproto ''"
}
rc imap "$DC_IMAP_PORT" >"$T/fetchmailrc.imap"
rc pop3 "$DC_POP3_PORT" >"$T/fetchmailrc.pop3"
chmod 600 "$T"/fetchmailrc.*
# fetch PROTOCOL: one poll, no daemon, no syslog; the transcript in $T/fetch.log
fetch() {
	HOME=$T/fmhome timeout 60 fetchmail --nosyslog -v -f "$T/fetchmailrc.$1" \
		--pidfile "$T/fetchmail.pid" -i "$T/fetchids" </dev/null >"$T/fetch.log" 2>&1
}
on_server() { maildir_grep "<$1@sender\.example>" "$SERVER"; }
local_copies() { maildir_grep "<$1@sender\.example>" "$LOCAL"; }
seen_on_server() { # messages on the server flagged \Seen (maildir info ":2,...S...")
	ls "$SERVER/cur" | grep -c ':2,[A-Z]*S' || true
}

check "README holds the .fetchmailrc" readme_has fetchmailrc
check_grep "the test's rc runs the built spot-deliver" "mda \"$BIN -c $SPOT_CONF -f %F -r %T -- /usr/lib/dovecot/dovecot-lda" "$T/fetchmailrc.imap"

# ---- IMAP: fetched, scanned, delivered once, removed from the server
put ham.eml fm1
check "imap: fetchmail polls" fetch imap
check_eq "imap: delivered exactly once" "$(local_copies fm1)" 1
got=$(grep -l -F '<fm1@sender.example>' $(maildir_files "$LOCAL") /dev/null | head -n 1)
[ -n "$got" ] || got=$T/missing
check_eq "imap: X-Spam-Scanner: rspamd" "$(part header X-Spam-Scanner "$got")" rspamd
check_grep "imap: X-Spam-Score" '^X-Spam-Score: ' "$got"
check_eq "imap: X-SPOT-Status: analyzed" "$(part header X-SPOT-Status "$got")" analyzed
check_eq "imap: forged X-SPOT-Threat-Level replaced" "$(part header X-SPOT-Threat-Level "$got")" none
check_grep "imap: fetchmail's Received: line is there" '^Received: from 127\.0\.0\.1 .*' "$got"
part body "$T/fm1.eml" >"$T/fm1.body.sent"
part body "$got" >"$T/fm1.body.got"
check_cmp "imap: the body arrived byte for byte" "$T/fm1.body.sent" "$T/fm1.body.got"
rec=$(grep -l -F '<fm1@sender.example>' "$SPOT_RECORD"/*.body | head -n 1)
rec=${rec%.body}.json
check_grep "imap: %F reached the API as X-Envelope-From" '\["X-Envelope-From", "alice@sender\.example"\]' "$rec"
check_grep "imap: %T as X-Envelope-To" '\["X-Envelope-To", "alice@example\.net"\]' "$rec"
check_eq "imap: gone from the server" "$(on_server fm1)" 0

# ---- IMAP, spot-deliver exits 75 (Rspamd down, on_timeout = block): left on the server, unread
spot_conf_set rspamd_url "$(closed_url)"
put ham.eml fm2
fetch imap
cp "$T/fetch.log" "$T/fetch-75.log"
check_grep "imap, 75: fetchmail saw the MDA's 75" 'MDA returned nonzero status 75' "$T/fetch-75.log"
check_grep "imap, 75: with spot-deliver's reason" '^4\.7\.0 Spam scanner unavailable' "$T/fetch-75.log"
check_eq "imap, 75: not delivered" "$(local_copies fm2)" 0
check_eq "imap, 75: still on the server" "$(on_server fm2)" 1
check_eq "imap, 75: not marked \\Seen" "$(seen_on_server)" 0
fetch imap
check_eq "imap, 75 again: still on the server" "$(on_server fm2)" 1
check_eq "imap, 75 again: still not delivered" "$(local_copies fm2)" 0
spot_conf_set rspamd_url "$RSPAMD_URL"
check "imap, Rspamd back: the next poll" fetch imap
check_eq "imap, Rspamd back: delivered exactly once" "$(local_copies fm2)" 1
check_eq "imap, Rspamd back: gone from the server" "$(on_server fm2)" 0

# ---- IMAP, GTUBE in blocking mode (77): left on the server too; tag-only delivers it
put gtube.eml fm3
fetch imap
check_grep "imap, GTUBE: fetchmail saw 77" 'MDA returned nonzero status 77' "$T/fetch.log"
check_grep "imap, GTUBE: with 5.7.1 and Rspamd's text" '^5\.7\.1 Gtube pattern' "$T/fetch.log"
check_eq "imap, GTUBE: still on the server" "$(on_server fm3)" 1
check_eq "imap, GTUBE: not marked \\Seen" "$(seen_on_server)" 0
spot_conf_set mode tag-only
fetch imap
check_eq "imap, GTUBE with mode = tag-only: delivered" "$(local_copies fm3)" 1
check_eq "imap, GTUBE with mode = tag-only: with X-Spam: Yes" \
	"$(part header X-Spam "$(grep -l -F "<fm3@sender.example>" $(maildir_files "$LOCAL") | head -n 1)")" Yes
check_eq "imap, GTUBE: gone from the server" "$(on_server fm3)" 0
spot_conf_set mode blocking

# ---- POP3: the same for a 75
spot_conf_set rspamd_url "$(closed_url)"
put ham.eml fm4
fetch pop3
check_grep "pop3, 75: fetchmail saw the MDA's 75" 'MDA returned nonzero status 75' "$T/fetch.log"
check_eq "pop3, 75: still on the server" "$(on_server fm4)" 1
check_eq "pop3, 75: not delivered" "$(local_copies fm4)" 0
spot_conf_set rspamd_url "$RSPAMD_URL"
check "pop3, Rspamd back: the next poll" fetch pop3
check_eq "pop3, Rspamd back: delivered exactly once" "$(local_copies fm4)" 1
check_eq "pop3: gone from the server" "$(on_server fm4)" 0

# ---- and in all: every message once, nothing left behind
check_eq "the server mailbox is empty" "$(maildir_count "$SERVER")" 0
check_eq "alice@example.net has the four messages" "$(maildir_count "$LOCAL")" 4
