#!/bin/bash
# The main job on a local default, from a fresh Debian 12 machine (as root):
# installs the packages, builds spot-deliver, starts a private Rspamd and the
# stand-in SPOT API on loopback, delivers a normal message, a phishing message
# and GTUBE spam through spot-deliver into dovecot-lda and a local Maildir,
# and shows what happened. Everything runs under ./demo/ and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
D=$ROOT/demo
KEY=demo-key-$RANDOM$RANDOM

scripts/install-deps.sh demo
make -s
rm -rf "$D"
mkdir -p "$D/home"
chmod 755 "$D"
chown nobody:nogroup "$D/home"

RSPAMD_PORT=${RSPAMD_PORT:-11433}
scripts/rspamd-local start "$D/rspamd" "$RSPAMD_PORT"
SPOT_PORT=$(scripts/spot-api-local start "$D/spot-api" 0 "$KEY" "clean")
trap 'scripts/spot-api-local stop "$D/spot-api"; scripts/rspamd-local stop "$D/rspamd"' EXIT

# The config an administrator would write (see doc/spot-deliver.conf.example).
printf '%s\n' "$KEY" > "$D/api.key"
chown nobody "$D/api.key"
chmod 600 "$D/api.key"
cat > "$D/spot-deliver.conf" <<CONF
rspamd_url = http://127.0.0.1:$RSPAMD_PORT
api_url = http://127.0.0.1:$SPOT_PORT/internal/ingest
api_key_file = $D/api.key
mode = blocking
on_timeout = allow
phishing_action = tag
spam_lda_args = -m Junk
phishing_lda_args = -m Junk
log = stderr
CONF

# As Postfix's pipe(8) would run it: an unprivileged user, envelope in argv,
# dovecot-lda as the final delivery agent.
deliver() {
	local msg=$1 rcpt=$2 rc=0
	setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$D/home" \
		"$ROOT/spot-deliver" -c "$D/spot-deliver.conf" -f sender@example.org -r "$rcpt" \
		--client-address 127.0.0.1 --queue-id "DEMO$RANDOM" -- \
		/usr/lib/dovecot/dovecot-lda -o "mail_location=maildir:$D/home/Maildir" \
		-o lda_mailbox_autocreate=yes -f sender@example.org < "$msg" || rc=$?
	echo "  exit code $rc"
}

echo
echo "== 1. a normal message (it carries forged X-Spam/X-SPOT headers, which are stripped)"
deliver tests/fixtures/mail/ham.eml bob@example.net
echo "== 2. a phishing message (the stand-in API says phishing, high, 0.97): tagged, filed into Junk"
{ echo "X-Test-Spot: phishing level=high confidence=0.97"; cat tests/fixtures/mail/phish.eml; } > "$D/phish.eml"
deliver "$D/phish.eml" bob@example.net
echo "== 3. GTUBE spam in blocking mode: rejected with 5.7.1 (exit 77), never delivered"
deliver tests/fixtures/mail/gtube.eml bob@example.net

echo
echo "== The Maildir"
(cd "$D/home/Maildir" && find . -path '*/new/*' -type f | sort)
for f in "$D"/home/Maildir/new/* "$D"/home/Maildir/.Junk/new/*; do
	[ -e "$f" ] || continue
	echo
	echo "--- ${f#$D/home/} (header block)"
	sed '/^$/q' "$f"
done
