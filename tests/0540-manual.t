#!/bin/bash
# By hand: the README's two command lines (tests/mta/by-hand), run by sh in a directory with
# msg.eml, as a person would, with stdin a file and no terminal: "spot-deliver < msg.eml"
# prints the rewritten message, "spot-deliver --check < msg.eml" the verdict as JSON.
# spot-deliver is found in PATH: a wrapper that runs the built binary with the test's config
# (the same substitution as the other recipes).
. "$(dirname "$0")/lib.sh"
MTA_USER=$(id -un)
. "$ROOT/tests/mta/mta.sh"
need_rspamd
SPOT_KEY=mn-key-$$

start_spot_api "$SPOT_KEY" clean
spot_conf_init
plan 39

M=$ROOT/tests/fixtures/mta
part() { "$PY" "$ROOT/tests/msgpart.py" "$@" 2>/dev/null; }
mkdir -p "$T/bin"
printf '#!/bin/sh\nexec %s -c %s "$@"\n' "$BIN" "$SPOT_CONF" >"$T/bin/spot-deliver"
chmod 755 "$T/bin/spot-deliver"
line1=$(sed -n 1p "$MTA/by-hand" | sed 's/ *#.*//')
line2=$(sed -n 3p "$MTA/by-hand" | sed 's/ *#.*//')
# run LINE MESSAGE: the command line, in $T/work with MESSAGE as msg.eml; its stdout and
# stderr in $out and $err; tagged.eml stays in $T/work
run() {
	rm -rf "$T/work"
	mkdir "$T/work"
	cp "$2" "$T/work/msg.eml"
	(cd "$T/work" && PATH=$T/bin:/usr/bin:/bin sh -c "$1") <&- >"$out" 2>"$err"
}
jget() { json_get "$out" "$@"; }

check "README holds the two command lines" readme_has by-hand
check_eq "line 1 is spot-deliver < msg.eml > tagged.eml" "$line1" "spot-deliver < msg.eml > tagged.eml"
check_eq "line 2 is spot-deliver --check < msg.eml" "$line2" "spot-deliver --check < msg.eml"

# ---- ham: the rewritten message
sed 's/MSGID/hand1/' "$M/ham.eml" >"$T/ham.eml"
check_exit "ham: exit 0" 0 run "$line1" "$T/ham.eml"
tagged=$T/work/tagged.eml
cp "$tagged" "$T/ham.tagged"
check_eq "ham: nothing on stdout but the redirect, nothing on stderr" "$(cat "$out" "$err" | wc -c)" 0
check_eq "ham: X-Spam-Scanner: rspamd" "$(part header X-Spam-Scanner "$T/ham.tagged")" rspamd
check_grep "ham: X-Spam-Score" '^X-Spam-Score: -?[0-9]+\.[0-9]{2} / [0-9]+\.[0-9]{2}$' "$T/ham.tagged"
check_eq "ham: X-SPOT-Status: analyzed" "$(part header X-SPOT-Status "$T/ham.tagged")" analyzed
check_eq "ham: the forged X-SPOT-Is-Phishing: yes is now no" "$(part header X-SPOT-Is-Phishing "$T/ham.tagged")" no
check_eq "ham: the forged X-Spam-Flag is gone" "$(part header X-Spam-Flag "$T/ham.tagged")" ""
part without 'X-Spam.*|X-SPOT-.*' "$T/ham.eml" >"$T/kept.in"
part without 'X-Spam.*|X-SPOT-.*' "$T/ham.tagged" >"$T/kept.out"
check_cmp "ham: every other header kept byte for byte, in order" "$T/kept.in" "$T/kept.out"
part body "$T/ham.eml" >"$T/body.in"
part body "$T/ham.tagged" >"$T/body.out"
check_cmp "ham: the body byte for byte" "$T/body.in" "$T/body.out"
check_eq "ham: the input file is untouched" "$(cmp -s "$T/ham.eml" "$T/work/msg.eml" && echo same)" same
check_exit "ham through pipes (cat msg.eml | spot-deliver | cat): exit 0" 0 \
	run "cat msg.eml | spot-deliver | cat > piped.eml" "$T/ham.eml"
check_cmp "ham through pipes: the same message" "$T/ham.tagged" "$T/work/piped.eml"

# ---- ham: the verdict
check_exit "--check, ham: exit 0" 0 run "$line2" "$T/ham.eml"
check_eq "--check, ham: stdout is one JSON object" "$("$PY" -c 'import json,sys; print(type(json.load(open(sys.argv[1]))).__name__)' "$out" 2>&1)" dict
check_eq "--check, ham: decision deliver" "$(jget decision)" deliver
check_eq "--check, ham: exit_code 0" "$(jget exit_code)" 0
check_eq "--check, ham: Rspamd done" "$(jget rspamd state)" done
check_eq "--check, ham: the API done, analyzed" "$(jget api state)/$(jget api status)" done/analyzed
check_eq "--check, ham: four forged headers would be removed" "$(jget removed_headers)" 4
check_eq "--check, ham: nothing on stderr" "$(wc -c <"$err")" 0
check "--check, ham: no tagged.eml, no other file written" test "$(ls "$T/work")" = msg.eml

# ---- GTUBE (blocking mode): no message, the status line on stderr
sed 's/MSGID/hand2/' "$M/gtube.eml" >"$T/gtube.eml"
check_exit "GTUBE: exit 77" 77 run "$line1" "$T/gtube.eml"
check_eq "GTUBE: tagged.eml is empty" "$(wc -c <"$T/work/tagged.eml")" 0
check_grep "GTUBE: 5.7.1 Gtube pattern on stderr" '^5\.7\.1 Gtube pattern$' "$err"
check_exit "--check, GTUBE: exit 0" 0 run "$line2" "$T/gtube.eml"
check_eq "--check, GTUBE: decision reject" "$(jget decision)" reject
check_eq "--check, GTUBE: exit_code 77" "$(jget exit_code)" 77
check_eq "--check, GTUBE: the status line" "$(jget status)" "5.7.1 Gtube pattern"

# ---- phishing (the stand-in's verdict)
{ printf 'X-Test-Spot: phishing level=high confidence=0.88\n'; sed 's/MSGID/hand3/' "$M/ham.eml"; } >"$T/phish.eml"
check_exit "--check, phishing: exit 0" 0 run "$line2" "$T/phish.eml"
check_eq "--check, phishing: phishing true" "$(jget phishing)" true
check_eq "--check, phishing: the API's level and confidence" "$(jget api threat_level)/$(jget api confidence)" high/0.88
check_eq "--check, phishing: delivered (phishing_action = tag)" "$(jget decision)" deliver

# ---- Rspamd down, on_timeout = block
spot_conf_set rspamd_url "$(closed_url)"
check_exit "Rspamd down: exit 75" 75 run "$line1" "$T/ham.eml"
check_grep "Rspamd down: 4.7.0 on stderr" '^4\.7\.0 Spam scanner unavailable' "$err"
check_exit "--check, Rspamd down: exit 0" 0 run "$line2" "$T/ham.eml"
check_eq "--check, Rspamd down: defer, exit_code 75" "$(jget decision)/$(jget exit_code)" defer/75
