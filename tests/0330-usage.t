#!/bin/bash
# A careless master.cf: slips in the argv of a delivery defer (75, a 4.3.5
# line) instead of exiting 0 with nothing delivered: "--" and no delivery
# agent after it, -h (for --helo) or -V among other arguments, --check with
# a delivery agent, a tool mode (--check-config, --stats, --selftest) with an
# envelope. What people type by hand still works: --help and --version
# alone, filter mode, --check with an envelope, the tool modes alone.
. "$(dirname "$0")/lib.sh"
plan 40

printf 'From: a@example.org\nTo: bob@example.net\nSubject: usage\n\nhello\n' > "$T/msg.eml"
cat > "$T/lda" <<'LDA'
#!/bin/sh
cat > "$(dirname "$0")/delivered"
LDA
chmod 755 "$T/lda"
sd() { "$BIN" -c /dev/null --log stderr --no-rspamd -o state_dir="$T/state" "$@" < "$T/msg.eml"; }
delivered() { test -f "$T/delivered"; }

# slip ARGS...: 75, a 4.3.5 line, nothing delivered, no message on stdout
slip() {
	local what=$1
	shift
	rm -f "$T/delivered"
	check_exit "$what: defers (75)" 75 sd "$@"
	cat "$out" "$err" > "$T/both"
	check_grep "$what: ... with a 4.3.5 line" '^4\.3\.5 ' "$T/both"
	check "$what: ... nothing delivered" eval '! delivered && ! grep -q "^Subject: usage" "$T/both"'
}

slip 'pipe(8) argv, "--" and no LDA' -f s@example.org -r bob@example.net --queue-id 4Q1xYz2AbCd --
slip '-h HOST (for --helo) in front of the LDA' -h client.example -- "$T/lda"
slip '-V in front of the LDA' -V -f s@example.org -- "$T/lda"
slip '--help among envelope options' --help -f s@example.org
slip '--check with an LDA' --check -f s@example.org -- "$T/lda"
slip '--stats with an envelope' --stats -f s@example.org -r bob@example.net
slip '--check-config with a queue id' --check-config --queue-id 4Q1xYz2AbCd
slip '--selftest with an envelope' --selftest -r bob@example.net -- "$T/lda"
check_grep "the slip is named" 'delivers nothing|take no envelope|goes alone|no delivery agent' "$T/both"

# by hand: these still exit 0
check_exit "--help alone: 0" 0 "$BIN" --help
check_grep "... the usage" '^usage: spot-deliver' "$out"
check_exit "-V alone: 0" 0 "$BIN" -V
check_grep "... the version" '^spot-deliver [0-9]' "$out"
check_exit "filter mode (spot-deliver < msg): 0" 0 sd
check_grep "... the message on stdout" '^Subject: usage' "$out"
check_exit "procmail's | spot-deliver --mode tag-only: 0" 0 sd --mode tag-only -f s@example.org
check_grep "... the message on stdout" '^Subject: usage' "$out"
check_exit '"-f --": a sender "--" is not the end of the options' 0 sd -f -- -r bob@example.net
check_grep "... filter mode" '^Subject: usage' "$out"
check_exit "--check -f a -r b < msg: 0" 0 sd --check -f a@example.org -r b@example.net
check_eq "... JSON with the decision" "$(json_get "$out" decision)" deliver
rm -f "$T/delivered"
check_exit "-- LDA: delivered, 0" 0 sd -f s@example.org -- "$T/lda"
check "... the LDA got the message" grep -q '^Subject: usage' "$T/delivered"
check_exit "--check-config alone: 0" 0 sd --check-config
