#!/bin/bash
# Long outages, end to end: with on_timeout = block and defer_max_age = 20s, a message that
# meets a dead scanner is deferred (75, 4.7.x) while it is young and delivered marked
# "not scanned" into unscanned_lda_args' folder once it has waited 20 s; a message that
# comes while the scanner is back is scanned as always. Through the private Postfix of
# tests/0500 (README's spot transport, swaks, postqueue -f) and fetchmail over IMAP from
# the private Dovecot (README's .fetchmailrc), first with Rspamd down, then with the API
# down. Nothing is lost, nothing is delivered twice; the timeline goes out as diagnostics.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/mta/mta.sh"
need_mta postfix postqueue swaks fetchmail dovecot /usr/lib/dovecot/dovecot-lda
need_rspamd
SPOT_KEY=outage-key-$$
start_spot_api "$SPOT_KEY" clean
spot_conf_init
mkdir -p "$T/state" "$T/state-fm" "$T/state-direct"
chown "$MTA_USER" "$T/state"
chmod 700 "$T/state"
# the README's lines, with 20 s for 4 h
grep -v '^on_timeout' "$SPOT_CONF" >"$SPOT_CONF.tmp"
recipe spot-deliver.conf.outage >>"$SPOT_CONF.tmp"
mv "$SPOT_CONF.tmp" "$SPOT_CONF"
chmod 644 "$SPOT_CONF"
spot_conf_set defer_max_age 20s
spot_conf_set state_dir "$T/state"
dc_init
BOB=$(dc_adduser bob@example.net unused)/Maildir
SERVER=$(dc_adduser alice secret-$$)/Maildir
LOCAL=$(dc_adduser alice@example.net unused)/Maildir
for d in "$BOB" "$BOB/.Quarantine" "$LOCAL" "$LOCAL/.Quarantine" "$SERVER"; do
	mkdir -p "$d/new" "$d/cur" "$d/tmp"
done
chown -R "$MTA_USER:$(id -gn "$MTA_USER")" "$BOB" "$LOCAL" "$SERVER"
dc_start
pf_init
recipe main.cf.spot >>"$PF/etc/main.cf"
pf_main "local_header_rewrite_clients ="
recipe master.cf.spot >>"$PF/etc/master.cf"
printf 'bob@example.net ok\n' >"$PF/etc/vmailbox"
: >"$PF/etc/transport"
pf_start
plan 79

M=$ROOT/tests/fixtures/mta
AGE=20
part() { "$PY" "$ROOT/tests/msgpart.py" "$@" 2>/dev/null; }
like() { printf '%s\n' "$3" >"$T/like"; check_grep "$1" "$2" "$T/like"; }
msg() { sed "s/MSGID/$2/" "$M/$1" >"$T/$2.eml"; echo "$T/$2.eml"; }
file_of() { # file_of DIR ID: the delivered copy of <ID@sender.example> in the Maildir DIR
	local f
	f=$(grep -l -F "<$2@sender.example>" $(maildir_files "$1") /dev/null 2>/dev/null | head -n 1)
	echo "${f:-$T/missing}"
}
copies() { maildir_grep "<$1@sender\.example>" "$2"; }
# sleep_until EPOCH: wait for that second to pass
sleep_until() { while [ "$(date +%s)" -lt "$1" ]; do sleep 0.2; done; }
deferrals() { grep -c -E " $1: to=<.*status=deferred" "$PF/maillog"; }
TIMELINE=$T/timeline
event() { printf '%s %s\n' "$(date '+%b %d %T')" "$*" >>"$TIMELINE"; }

# fetchmail: one IMAP poll of alice's server mailbox with the README's rc (as root: its
# own state_dir, given through the environment)
rc() {
	recipe fetchmailrc | sed -e "s/^poll mail\.example\.org protocol imap/poll 127.0.0.1 service $DC_IMAP_PORT protocol imap/" \
		-e "s/\"secret\"/\"secret-$$\"/"
	echo "    sslproto ''"
}
rc >"$T/fetchmailrc"
chmod 600 "$T/fetchmailrc"
mkdir -p "$T/fmhome"
fetch() {
	local rc=0
	HOME=$T/fmhome SPOT_DELIVER_STATE_DIR=$T/state-fm timeout 60 fetchmail --nosyslog -v \
		-f "$T/fetchmailrc" --pidfile "$T/fetchmail.pid" -i "$T/fetchids" </dev/null \
		>"$T/fetch.log" 2>&1 || rc=$?
	if grep -q 'MDA returned nonzero status 75' "$T/fetch.log"; then
		event "$1: fetchmail poll, the MDA exited 75: $(grep -m 1 -E '^4\.[0-9]\.[0-9] ' "$T/fetch.log")"
	else
		event "$1: fetchmail poll (exit $rc)"
	fi
}
n=0
put() { # put FIXTURE ID: a copy of the fixture on alice's IMAP server, unread
	n=$((n + 1))
	sed "s/MSGID/$2/" "$M/$1" >"$T/$2.eml"
	cp "$T/$2.eml" "$SERVER/tmp/$n.$$.test"
	chown "$MTA_USER" "$SERVER/tmp/$n.$$.test"
	mv "$SERVER/tmp/$n.$$.test" "$SERVER/new/$n.$$.test"
	event "$2: put on the IMAP server"
}
on_server() { maildir_grep "<$1@sender\.example>" "$SERVER"; }
seen_on_server() { ls "$SERVER/cur" | grep -c ':2,[A-Z]*S' || true; }

check "README holds the defer_max_age lines" readme_has spot-deliver.conf.outage
check_grep "the test runs them: unscanned_lda_args" '^unscanned_lda_args = -m Quarantine$' "$SPOT_CONF"

# ---- Rspamd down: a Postfix message and a fetchmail message, both young, then old
spot_conf_set rspamd_url "$(closed_url)"
t0=$(date +%s)
f=$(msg ham.eml out1)
q1=$(swaks_send "$f" alice@sender.example bob@example.net)
check_ne "rspamd down: smtpd queued it" "$q1" ""
like "rspamd down, young: deferred with dsn=4.7.0" "relay=spot, .*dsn=4\.7\.0, status=deferred \(Spam scanner unavailable, try again later" "$(pf_wait_status "$q1")"
pf_queue >"$T/queue"
check_grep "rspamd down, young: postqueue -p shows the 4.7.0 text" '^ +\(Spam scanner unavailable, try again later' "$T/queue"
check_eq "rspamd down, young: not delivered" "$(copies out1 "$BOB")$(copies out1 "$BOB/.Quarantine")" 00
put ham.eml fm1
fetch fm1
check_grep "fetchmail, rspamd down, young: the MDA's 75" 'MDA returned nonzero status 75' "$T/fetch.log"
check_grep "fetchmail, rspamd down, young: with the 4.7.0 reason" '^4\.7\.0 Spam scanner unavailable' "$T/fetch.log"
check_eq "fetchmail, young: still on the server" "$(on_server fm1)" 1
check_eq "fetchmail, young: not marked \\Seen" "$(seen_on_server)" 0

sleep_until $((t0 + 8))
pf_flush >/dev/null
wait_for 20 sh -c "[ \$(grep -c -E ' $q1: to=<.*status=deferred' '$PF/maillog') -ge 2 ]"
check_eq "rspamd down, 8 s: a flush defers it again" "$(deferrals "$q1")" 2
check "rspamd down, 8 s: still queued" pf_queue_has "$q1"
fetch fm1
check_grep "fetchmail, 8 s: 75 again" 'MDA returned nonzero status 75' "$T/fetch.log"
check_eq "fetchmail, 8 s: still on the server" "$(on_server fm1)" 1
check_eq "fetchmail, 8 s: not delivered" "$(copies fm1 "$LOCAL")$(copies fm1 "$LOCAL/.Quarantine")" 00

sleep_until $((t0 + AGE + 2))
pf_flush >/dev/null
wait_for 20 sh -c "grep -q -E ' $q1: to=<.*status=sent' '$PF/maillog'"
check_grep "rspamd down, old: postqueue -f delivers it" " $q1: to=<bob@example\.net>, relay=spot, .*status=sent" "$PF/maillog"
check "rspamd down, old: no longer queued" sh -c "! postqueue -c '$PF/etc' -p | grep -q '^$q1'"
check_eq "rspamd down, old: once, into unscanned_lda_args' folder (Quarantine)" "$(copies out1 "$BOB/.Quarantine")" 1
check_eq "rspamd down, old: not into INBOX" "$(copies out1 "$BOB")" 0
got=$(file_of "$BOB/.Quarantine" out1)
event "out1: in bob's Quarantine with $(grep -m 1 '^X-Spam-Error:' "$got")"
check_grep "rspamd down, old: X-Spam-Error: not scanned: Rspamd unavailable for N s" '^X-Spam-Error: not scanned: Rspamd unavailable for (2[0-9]|[3-5][0-9])s$' "$got"
check_eq "rspamd down, old: X-Spam-Scanner: rspamd" "$(part header X-Spam-Scanner "$got")" rspamd
check_eq "rspamd down, old: no Rspamd verdict" "$(part header X-Spam-Score "$got")" ""
check_eq "rspamd down, old: the API's verdict is there" "$(part header X-SPOT-Status "$got")" analyzed
check_eq "rspamd down, old: forged X-SPOT-Threat-Level replaced" "$(part header X-SPOT-Threat-Level "$got")" none
part body "$f" >"$T/out1.sent"
part body "$got" >"$T/out1.got"
check_cmp "rspamd down, old: the body byte for byte" "$T/out1.sent" "$T/out1.got"
fetch fm1
check_eq "fetchmail, old: delivered once into Quarantine" "$(copies fm1 "$LOCAL/.Quarantine")" 1
check_eq "fetchmail, old: gone from the server" "$(on_server fm1)" 0
got=$(file_of "$LOCAL/.Quarantine" fm1)
event "fm1: in alice's Quarantine with $(grep -m 1 '^X-Spam-Error:' "$got")"
check_grep "fetchmail, old: X-Spam-Error: not scanned" '^X-Spam-Error: not scanned: Rspamd unavailable for (2[0-9]|[3-5][0-9])s$' "$got"
part body "$T/fm1.eml" >"$T/fm1.sent"
part body "$got" >"$T/fm1.got"
check_cmp "fetchmail, old: the body byte for byte" "$T/fm1.sent" "$T/fm1.got"

# the arrival time Postfix wrote: the delivered copy still carries Postfix's own Received
cp "$(file_of "$BOB/.Quarantine" out1)" "$T/out1.delivered"
"$BIN" -c "$SPOT_CONF" -o state_dir="$T/state-direct" --log none --check --queue-id "$q1" \
	-f alice@sender.example -r bob@example.net <"$T/out1.delivered" >"$T/check.json" 2>"$T/check.err"
age=$(json_get "$T/check.json" age seconds)
check "--check, Postfix's Received with our queue id: the age since queue entry" test "${age:-0}" -ge "$AGE"
check_ne "--check: the arrival time is shown" "$(json_get "$T/check.json" age arrival)" ""
check_eq "--check: old enough, delivered" "$(json_get "$T/check.json" decision)" deliver
check_eq "--check: unscanned by Rspamd" "$(json_get "$T/check.json" age unscanned)" '["rspamd"]'
"$BIN" -c "$SPOT_CONF" -o state_dir="$T/state-direct" --log none --check --queue-id XYZ123 \
	-f alice@sender.example -r bob@example.net <"$T/out1.delivered" >"$T/check.json" 2>"$T/check.err"
check_eq "--check, another queue id: Received not believed, age 0" "$(json_get "$T/check.json" age seconds)" 0
check_eq "--check, age 0: deferred" "$(json_get "$T/check.json" decision)" defer
check_eq "--check, age 0: after defer_max_age it would deliver" "$(json_get "$T/check.json" age after_defer_max_age)" deliver
check_eq "--check, age 0: in defer_max_age seconds" "$(json_get "$T/check.json" age unscanned_in)" "$AGE"

# ---- Rspamd back: the next message is scanned as always
spot_conf_set rspamd_url "$RSPAMD_URL"
f=$(msg ham.eml out2)
q2=$(swaks_send "$f" alice@sender.example bob@example.net)
like "rspamd back: sent at once" "relay=spot, .*dsn=2\.0\.0, status=sent" "$(pf_wait_status "$q2")"
check_eq "rspamd back: into INBOX" "$(copies out2 "$BOB")" 1
got=$(file_of "$BOB" out2)
check_grep "rspamd back: Rspamd's X-Spam-Score" '^X-Spam-Score: -?[0-9]+\.[0-9]{2} / ' "$got"
check_eq "rspamd back: no X-Spam-Error" "$(part header X-Spam-Error "$got")" ""
put ham.eml fm2
fetch fm2
check_eq "fetchmail, rspamd back: into INBOX" "$(copies fm2 "$LOCAL")" 1
check_grep "fetchmail, rspamd back: X-Spam-Score" '^X-Spam-Score: ' "$(file_of "$LOCAL" fm2)"

# ---- the API down, Rspamd up: the same, with X-SPOT-Status: timeout and X-SPOT-Error
spot_conf_set api_url "$(closed_url)/internal/ingest"
t0=$(date +%s)
f=$(msg ham.eml out3)
q3=$(swaks_send "$f" alice@sender.example bob@example.net)
like "api down, young: deferred with dsn=4.7.1" "relay=spot, .*dsn=4\.7\.1, status=deferred \(Phishing analysis did not finish, try again later" "$(pf_wait_status "$q3")"
pf_queue >"$T/queue"
check_grep "api down, young: postqueue -p shows the 4.7.1 text" '^ +\(Phishing analysis did not finish, try again later' "$T/queue"
put ham.eml fm3
fetch fm3
check_grep "fetchmail, api down, young: 4.7.1" '^4\.7\.1 Phishing analysis did not finish' "$T/fetch.log"
check_eq "fetchmail, api down, young: still on the server" "$(on_server fm3)" 1
sleep_until $((t0 + 8))
pf_flush >/dev/null
wait_for 20 sh -c "[ \$(grep -c -E ' $q3: to=<.*status=deferred' '$PF/maillog') -ge 2 ]"
check_eq "api down, 8 s: deferred again" "$(deferrals "$q3")" 2
fetch fm3
check_eq "fetchmail, api down, 8 s: still on the server" "$(on_server fm3)" 1
sleep_until $((t0 + AGE + 2))
pf_flush >/dev/null
wait_for 20 sh -c "grep -q -E ' $q3: to=<.*status=sent' '$PF/maillog'"
check_grep "api down, old: postqueue -f delivers it" " $q3: to=<bob@example\.net>, relay=spot, .*status=sent" "$PF/maillog"
check_eq "api down, old: once, into Quarantine" "$(copies out3 "$BOB/.Quarantine")$(copies out3 "$BOB")" 10
got=$(file_of "$BOB/.Quarantine" out3)
event "out3: in bob's Quarantine with $(grep -m 1 '^X-SPOT-Error:' "$got")"
check_eq "api down, old: X-SPOT-Status keeps timeout" "$(part header X-SPOT-Status "$got")" timeout
check_grep "api down, old: X-SPOT-Error: not scanned: API unavailable for N s" '^X-SPOT-Error: not scanned: API unavailable for (2[0-9]|[3-5][0-9])s$' "$got"
check_eq "api down, old: no verdict from the API" "$(part header X-SPOT-Is-Phishing "$got")" ""
check_grep "api down, old: Rspamd's headers are there" '^X-Spam-Score: -?[0-9]+\.[0-9]{2} / ' "$got"
check_eq "api down, old: no X-Spam-Error" "$(part header X-Spam-Error "$got")" ""
part body "$f" >"$T/out3.sent"
part body "$got" >"$T/out3.got"
check_cmp "api down, old: the body byte for byte" "$T/out3.sent" "$T/out3.got"
fetch fm3
check_eq "fetchmail, api down, old: delivered once into Quarantine" "$(copies fm3 "$LOCAL/.Quarantine")" 1
check_eq "fetchmail, api down, old: gone from the server" "$(on_server fm3)" 0
check_grep "fetchmail, api down, old: X-SPOT-Error" '^X-SPOT-Error: not scanned: API unavailable for ' "$(file_of "$LOCAL/.Quarantine" fm3)"

# ---- the API back
spot_conf_set api_url "$SPOT_URL/internal/ingest"
f=$(msg ham.eml out4)
q4=$(swaks_send "$f" alice@sender.example bob@example.net)
like "api back: sent at once" "relay=spot, .*dsn=2\.0\.0, status=sent" "$(pf_wait_status "$q4")"
check_eq "api back: into INBOX, analyzed" "$(part header X-SPOT-Status "$(file_of "$BOB" out4)")" analyzed
check_eq "api back: no X-SPOT-Error" "$(part header X-SPOT-Error "$(file_of "$BOB" out4)")" ""

# ---- a direct run: the warning line, --arrival-time
spot_conf_set rspamd_url "$(closed_url)"
args=(-c "$SPOT_CONF" -o state_dir="$T/state-direct" --log stderr -f a@sender.example -r b@example.net)
"$BIN" "${args[@]}" --arrival-time "$(date -R -d '-1 hour')" <"$T/out2.eml" >"$T/direct.out" 2>"$T/direct.err"
check_eq "--arrival-time an hour ago: delivered (exit 0)" "$?" 0
check_grep "--arrival-time: X-Spam-Error says for 1h0m" '^X-Spam-Error: not scanned: Rspamd unavailable for 1h0m$' "$T/direct.out"
check_grep "the warning line" '^spot-deliver: warning: NOQUEUE: delivered not scanned by Rspamd after 1h0m \(defer_max_age = 20s\): ' "$T/direct.err"
"$BIN" "${args[@]}" --arrival-time "$(($(date +%s) + 3600))" <"$T/out4.eml" >"$T/direct.out" 2>"$T/direct.err"
check_eq "--arrival-time in the future: not believed, deferred (75)" "$?" 75
"$BIN" "${args[@]}" --arrival-time "last week" <"$T/out4.eml" >"$T/direct.out" 2>"$T/direct.err"
check_eq "--arrival-time garbage: 75, the mail waits" "$?" 75
check_grep "--arrival-time garbage: 4.3.5 for the sender" "^4\.3\.5 Mail system configuration error$" "$T/direct.err"
check_grep "--arrival-time garbage: the log says why" "^spot-deliver: error: NOQUEUE: 4\.3\.5 --arrival-time last week: " "$T/direct.err"

# ---- nothing lost, nothing twice; the counters
"$BIN" -c "$SPOT_CONF" --stats >"$T/stats" 2>&1
check_grep "--stats: spot_deliver_degraded_total 2 (Postfix)" '^spot_deliver_degraded_total 2$' "$T/stats"
"$BIN" -c "$SPOT_CONF" -o state_dir="$T/state-fm" --stats >"$T/stats" 2>&1
check_grep "--stats: spot_deliver_degraded_total 2 (fetchmail)" '^spot_deliver_degraded_total 2$' "$T/stats"
check_eq "bob: two messages in INBOX, two in Quarantine" "$(maildir_count "$BOB") $(maildir_count "$BOB/.Quarantine")" "2 2"
check_eq "alice: one in INBOX, two in Quarantine" "$(maildir_count "$LOCAL") $(maildir_count "$LOCAL/.Quarantine")" "1 2"
sent=0 got=0
for id in out1 out2 out3 out4 fm1 fm2 fm3; do
	[ -f "$T/$id.eml" ] || continue
	part body "$T/$id.eml" | wc -c >"$T/n"
	sent=$((sent + $(cat "$T/n")))
done
for f in $(maildir_files "$BOB") $(maildir_files "$BOB/.Quarantine") $(maildir_files "$LOCAL") $(maildir_files "$LOCAL/.Quarantine"); do
	got=$((got + $(part body "$f" | wc -c)))
done
check_eq "the body bytes delivered are the body bytes sent" "$got" "$sent"
check_eq "every message once" "$(for id in out1 out2 out3 out4 fm1 fm2 fm3; do cat $(maildir_files "$BOB") $(maildir_files "$BOB/.Quarantine") $(maildir_files "$LOCAL") $(maildir_files "$LOCAL/.Quarantine") | grep -c "^Message-ID: <$id@sender.example>"; done | tr '\n' ' ')" "1 1 1 1 1 1 1 "
check_eq "the server mailbox is empty" "$(maildir_count "$SERVER")" 0
pf_queue >"$T/queue"
check_grep "the Postfix queue is empty" '^Mail queue is empty' "$T/queue"
check_eq "no bounces" "$(ls "$PF/kept" | wc -l)" 0

# ---- the timeline: Postfix's log lines for the four queue ids, and the fetchmail polls
timeline_of() { # QID LABEL
	grep -E " $1: (client=|to=<)" "$PF/maillog" | sed -E \
		-e "s/^([^ ]+ +[^ ]+ +[^ ]+) .* $1: client=.*/\1 $2: queued by smtpd/" \
		-e "s/^([^ ]+ +[^ ]+ +[^ ]+) .* $1: to=<[^>]*>.*(status=[a-z]+) \(([^)]{0,60}).*/\1 $2: \2 (\3)/"
}
{
	timeline_of "$q1" "out1 (Postfix, Rspamd down)"
	timeline_of "$q2" "out2 (Postfix, Rspamd back)"
	timeline_of "$q3" "out3 (Postfix, API down)"
	timeline_of "$q4" "out4 (Postfix, API back)"
	cat "$TIMELINE"
} | sort -s -k3,3 >"$T/timeline.sorted"
diag "timeline (defer_max_age = ${AGE}s):"
diag_file "$T/timeline.sorted" 100
