#!/bin/bash
# Security: the API key never shows up in argv, logs, --check or --check-config output, status
# lines, the requests to Rspamd or to another origin, the LDA's environment; RLIMIT_CORE is 0
# while it is in memory and restored for the LDA; key file permissions are checked; no shell
# runs anything, whatever argv holds; a hard deadline bounds the run whatever the servers do.
. "$(dirname "$0")/faultlib.sh"

plan 33

start_bad other
OTHER_REC=$BAD_REC
OTHER_PORT=${BAD##*:}
start_bad
KEY=Secr3t-Key-$$-$RANDOM
PW=Rspamd-Passw0rd-$$-$RANDOM
printf '%s\n' "$KEY" >"$T/key"
chmod 600 "$T/key"
HAM=$ROOT/tests/fixtures/mail/ham.eml
ulimit -c unlimited 2>/dev/null || ulimit -c "$(ulimit -H -c)" 2>/dev/null || true
CORE=$(ulimit -c)
# ASan sets RLIMIT_CORE to 0 at start-up (disable_coredump=1) unless told not to
NOASANCORE=${ASAN_OPTIONS:+$ASAN_OPTIONS:}disable_coredump=0

# leaks NAME: how many lines of the run's outputs (stdout, stderr, delivered message, LDA records)
# hold the key or the Rspamd password
leaks() {
	cat "$T/$1".out "$T/$1".err "$T/$1".cap* 2>/dev/null | grep -a -c -F -e "$KEY" -e "$PW"
}

# refused DESC NAME ENH: the run NAME ended with 75 and ENH on its status line, and leaked neither
# the key nor the password
refused() {
	local got="$R_KIND $R_CODE $(_status_code "$2")"
	[ "$got" = "exit 75 $3" ] && [ "$(leaks "$2")" = 0 ]
	result "$1" $? "$(cat "$T/$2.res"), $got, $(leaks "$2") leaks"
}

# an LDA that records its environment and its core file size limit, then takes the message
cat >"$T/lda-env" <<'EOF'
#!/bin/sh
env >"$1.env"
ulimit -c >"$1.core"
cat >"$1"
EOF
chmod 755 "$T/lda-env"

api=(--api-url "$BAD/good/sec" --api-key-file "$T/key")

# ---- the key in outputs
ASAN_OPTIONS=$NOASANCORE sd_run k1 -- "${SD[@]}" --rspamd-url "$BAD/good/sec" "${api[@]}" -f a@example.org -r b@example.net \
	-- "$T/lda-env" "$T/k1.cap" <"$HAM"
result "a delivery: the key is not in stdout, stderr, the message, the LDA's argv or environment" \
	"$([ "$R_KIND $R_CODE" = "exit 0" ] && [ "$(leaks k1)" = 0 ]; echo $?)" "$(cat "$T/k1.res"), $(leaks k1) leaks"
result "a delivery: the LDA's core file size limit is the caller's again ($CORE)" \
	"$([ "$(cat "$T/k1.cap.core" 2>/dev/null)" = "$CORE" ]; echo $?)" "LDA had $(cat "$T/k1.cap.core" 2>/dev/null)"

# (SPOT_API_KEY is set only for that one run)
SPOT_API_KEY=$KEY sd_run k2 -- "${SD[@]}" --rspamd-url "$BAD/good/sec" --api-url "$BAD/good/sec" \
	-- "$T/lda-env" "$T/k2.cap" <"$HAM"
result "key from SPOT_API_KEY: delivered, and the LDA does not inherit SPOT_API_KEY" \
	"$([ "$R_KIND $R_CODE" = "exit 0" ] && ! grep -q -F -- "$KEY" "$T/k2.cap.env"; echo $?)" \
	"$(cat "$T/k2.res"); LDA environment: $(grep -c -F -- "$KEY" "$T/k2.cap.env" 2>/dev/null) line(s) with the key"

SPOT_DELIVER_RSPAMD_PASSWORD=$PW sd_run k2b -- "${SD[@]}" --rspamd-url "$BAD/good/sec" \
	-- "$T/lda-env" "$T/k2b.cap" <"$HAM"
result "rspamd_password from SPOT_DELIVER_RSPAMD_PASSWORD: delivered, and the LDA does not inherit it" \
	"$([ "$R_KIND $R_CODE" = "exit 0" ] && ! grep -q -F -- "$PW" "$T/k2b.cap.env"; echo $?)" \
	"$(cat "$T/k2b.res"); LDA environment: $(grep -c -F -- "$PW" "$T/k2b.cap.env" 2>/dev/null) line(s) with the password"

sd_run k3 -- "${SD[@]}" --rspamd-url "$BAD/good/sec" --api-url "$BAD/s401" --api-key-file "$T/key" \
	-- "$LDA" "$T/k3.cap" <"$HAM"
refused "the API refuses the key (401): 75 4.7.0, the key is not in the status line or the log" k3 4.7.0

sd_run k4 -- "${SD[@]}" --rspamd-url "$BAD/good/sec" --api-url "$BAD/hang/sec" --api-key-file "$T/key" \
	--analysis-timeout-ms 300 --on-timeout block -- "$LDA" "$T/k4.cap" <"$HAM"
refused "the API hangs, on_timeout = block: 75 4.7.1 without the key" k4 4.7.1

sd_run k5 -- "${SD[@]}" --rspamd-url "$BAD/good/sec" "${api[@]}" --check <"$HAM"
result "--check: valid JSON without the key" \
	"$([ "$R_KIND $R_CODE" = "exit 0" ] && json_get "$T/k5.out" decision >/dev/null && [ "$(leaks k5)" = 0 ]; echo $?)"

printf 'rspamd_password = %s\napi_url = %s/good/sec\napi_key_file = %s\n' "$PW" "$BAD" "$T/key" >"$T/secret.conf"
sd_run k6 -- --log stderr -c "$T/secret.conf" --check-config
result "--check-config: the API key and rspamd_password masked" \
	"$([ "$R_KIND $R_CODE" = "exit 0" ] && grep -q '^rspamd_password = \*' "$T/k6.out" && [ "$(leaks k6)" = 0 ]; echo $?)" \
	"$(cat "$T/k6.res"), $(leaks k6) leaks"

sd_run k7 -- "${SD[@]}" --rspamd-url "$BAD/good/sec" --api-url "$BAD/s500/sec" --api-key-file "$T/key" \
	--handoff <"$HAM"
refused "hand-off refused (500): 75 4.4.1 without the key" k7 4.4.1

sd_run k8 -- "${SD[@]}" --api-key "$KEY" -- "$LDA" "$T/k8.cap" <"$HAM"
refused "--api-key on the command line: 75 4.3.5, the key not echoed" k8 4.3.5

sd_run k9 -- "${SD[@]}" -o "rspamd_password=$PW" -- "$LDA" "$T/k9.cap" <"$HAM"
refused "-o rspamd_password=... on the command line: 75 4.3.5, not echoed" k9 4.3.5

sd_run k10 -- "${SD[@]}" -o "api_key=$KEY" -- "$LDA" "$T/k10.cap" <"$HAM"
refused "-o api_key=... (no such key): 75 4.3.5, the value not echoed" k10 4.3.5

SPOT_DELIVER_API_KEY=$KEY sd_run k11 -- "${SD[@]}" -- "$LDA" "$T/k11.cap" <"$HAM"
refused "SPOT_DELIVER_API_KEY=... (no such key): 75 4.3.5, the value not echoed" k11 4.3.5

printf '%s with a space\n' "$KEY" >"$T/spacekey"
chmod 600 "$T/spacekey"
sd_run k12 -- "${SD[@]}" --api-url "$BAD/good/sec" --api-key-file "$T/spacekey" -- "$LDA" "$T/k12.cap" <"$HAM"
refused "a key with a space in it: 75 4.3.5, the key not echoed" k12 4.3.5

n_auth=$(grep -c -F "Authorization: Bearer $KEY" "$BAD_REC.headers")
n_rspamd=$(grep -F '/checkv2 ' "$BAD_REC.headers" | grep -c -i -F -e "$KEY" -e 'Authorization:')
n_pw=$(grep -c -F "Password: $PW" "$BAD_REC.headers")
result "the key goes to the API ($n_auth requests), never to Rspamd (which gets its password: $n_pw)" \
	"$([ "$n_auth" -gt 0 ] && [ "$n_rspamd" = 0 ] && [ "$n_pw" -gt 0 ]; echo $?)" "$n_rspamd Rspamd request headers with the key"

sd_run k13 -- "${SD[@]}" --no-rspamd --api-url "$BAD/foreign/$OTHER_PORT" --api-key-file "$T/key" \
	-o poll_interval_ms=50 --analysis-timeout-ms 2000 --on-timeout block -- "$LDA" "$T/k13.cap" <"$HAM"
result "a 202 whose Location is another origin: polled at api_url/<job id>, the other origin gets nothing" \
	"$([ "$R_KIND $R_CODE" = "exit 0" ] && [ ! -s "$OTHER_REC" ] &&
		[ "$(part header X-SPOT-Status "$T/k13.cap")" = analyzed ]; echo $?)" \
	"$(cat "$T/k13.res"); other origin: $(cat "$OTHER_REC")"

closed=$(closed_url)
http_proxy=$closed HTTP_PROXY=$closed https_proxy=$closed HTTPS_PROXY=$closed ALL_PROXY=$closed \
	all_proxy=$closed NO_PROXY= sd_run k14 -- "${SD[@]}" --rspamd-url "$BAD/good/sec" "${api[@]}" \
	--on-timeout block -- "$LDA" "$T/k14.cap" <"$HAM"
result "proxy variables in the environment (a dead proxy): ignored, both scanners reached directly" \
	"$([ "$R_KIND $R_CODE" = "exit 0" ] && [ "$(part header X-SPOT-Status "$T/k14.cap")" = analyzed ] &&
		[ "$(part header X-Spam-Action "$T/k14.cap")" = "no action" ]; echo $?)" "$(cat "$T/k14.res")"

# ---- RLIMIT_CORE and argv while the key is in memory
# limits_of CMD...: starts CMD (both scanners hang), reads /proc/PID/limits and cmdline once both
# requests have arrived, then SIGTERMs it; prints "SOFT CMDLINE_HAS_KEY"
limits_of() {
	local before pid i soft=? has=?
	before=$(wc -l <"$BAD_REC")
	ASAN_OPTIONS=$NOASANCORE "$@" <"$HAM" >/dev/null 2>&1 &
	pid=$!
	for i in $(seq 200); do
		[ "$(wc -l <"$BAD_REC")" -ge $((before + 2)) ] && break
		sleep 0.05
	done
	if [ -r "/proc/$pid/limits" ]; then
		soft=$(awk '/^Max core file size/ {print $5}' "/proc/$pid/limits")
		has=$(tr '\0' ' ' <"/proc/$pid/cmdline" | grep -c -F -- "$KEY")
	fi
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "$soft $has"
}
got=$(limits_of "$BIN" "${SD[@]}" --rspamd-url "$BAD/hang/lim" --api-url "$BAD/hang/lim" \
	--api-key-file "$T/key" --timeout-ms 20000 --analysis-timeout-ms 20000 -- "$LDA" "$T/l1.cap")
result "while the API key is in memory: RLIMIT_CORE 0 (the caller's: $CORE), the key not in /proc/PID/cmdline" \
	"$([ "$got" = "0 0" ]; echo $?)" "core limit, key in cmdline: $got"
printf 'rspamd_password = %s\n' "$PW" >"$T/pw.conf"
got=$(limits_of "$BIN" --log stderr -c "$T/pw.conf" -o "state_dir=$T/state" --rspamd-url "$BAD/hang/lim2" \
	--timeout-ms 20000 -- "$LDA" "$T/l2.cap")
result "while rspamd_password is in memory: RLIMIT_CORE 0" "$([ "${got%% *}" = 0 ]; echo $?)" "core limit: $got"

# ---- key file permissions
for mode in 600 400 640 604 644; do
	chmod "$mode" "$T/key"
	sd_run p$mode -- "${SD[@]}" --no-rspamd "${api[@]}" -- "$LDA" "$T/p$mode.cap" <"$HAM"
	warned=$(grep -c "api_key_file .* has mode 0$mode: " "$T/p$mode.err")
	want=1
	case $mode in 600 | 400) want=0 ;; esac
	result "key file mode $mode: delivered, $([ $want = 1 ] && echo "a warning" || echo "no warning"), the key not in it" \
		"$([ "$R_KIND $R_CODE" = "exit 0" ] && [ "$warned" = "$want" ] && [ "$(leaks p$mode)" = 0 ]; echo $?)" \
		"$(cat "$T/p$mode.res"), warnings: $warned"
done
chmod 600 "$T/key"

# ---- no shell
mkdir "$T/cwd"
cd "$T/cwd" || bail_out "cd"
meta=(-f '$(touch PWNED-f)' -r '`touch PWNED-r`' -r 'x;touch PWNED-r2' --helo '|touch PWNED-helo'
	--queue-id '$(touch PWNED-q)' --client-address '&touch PWNED-ip' --user '>PWNED-user')
sd_run n1 -- "${SD[@]}" --rspamd-url "$BAD/good" "${meta[@]}" -- "$LDA" "$T/n1.cap" 0 \
	'$(touch PWNED-arg)' '; touch PWNED-arg2' '`touch PWNED-arg3`' <"$HAM"
want=$(printf '%s\n' "$T/n1.cap" 0 '$(touch PWNED-arg)' '; touch PWNED-arg2' '`touch PWNED-arg3`')
result "shell syntax in the envelope and the LDA's argv: delivered, argv passed as it is, nothing run" \
	"$([ "$R_KIND $R_CODE" = "exit 0" ] && [ "$(cat "$T/n1.cap.argv")" = "$want" ] &&
		[ -z "$(ls "$T/cwd")" ]; echo $?)" "$(cat "$T/n1.res"); files: $(ls "$T/cwd")"

printf '{"action": "add header", "score": 9.0, "required_score": 15.0, "symbols": {}}\n' >"$T/replies/spam.json"
sd_run n2 -- "${SD[@]}" --rspamd-url "$BAD/file/spam.json" -o 'spam_lda_args=-m "Junk Mail" ;touch PWNED-x $(touch PWNED-y)' \
	-- "$LDA" "$T/n2.cap" 0 <"$HAM"
want=$(printf '%s\n' "$T/n2.cap" 0 -m '"Junk' 'Mail"' ';touch' PWNED-x '$(touch' 'PWNED-y)')
result "spam_lda_args with shell syntax: split at blanks only, nothing run" \
	"$([ "$R_KIND $R_CODE" = "exit 0" ] && [ "$(cat "$T/n2.cap.argv")" = "$want" ] &&
		[ -z "$(ls "$T/cwd")" ]; echo $?)" "$(cat "$T/n2.res"); argv: $(tr '\n' '|' <"$T/n2.cap.argv"); files: $(ls "$T/cwd")"

sd_run n3 -- "${SD[@]}" --rspamd-url "$BAD/good" -- "/nonexistent dir/lda;touch PWNED-lda" <"$HAM"
result "an LDA path with shell syntax: 75 4.3.0, nothing run" \
	"$([ "$R_KIND $R_CODE $(_status_code n3)" = "exit 75 4.3.0" ] && [ -z "$(ls "$T/cwd")" ]; echo $?)" \
	"$(cat "$T/n3.res"); files: $(ls "$T/cwd")"

if command -v strace >/dev/null && [ -z "${SPOT_TEST_WRAPPER:-}" ]; then
	strace -f -qq -e trace=execve -o "$T/strace.out" "$BIN" "${SD[@]}" --rspamd-url "$BAD/good" \
		"${meta[@]}" -- "$LDA" "$T/n4.cap" <"$HAM" >/dev/null 2>&1
	progs=$(grep -o 'execve("[^"]*"' "$T/strace.out" | sed 's/execve("//; s/"$//' | sort -u | tr '\n' ' ')
	# spot-deliver itself, the LDA (a /bin/sh script), and what the LDA runs
	bad=$(grep -o 'execve("[^"]*"' "$T/strace.out" | head -n 2 | sed 's/execve("//; s/"$//' | tr '\n' ' ')
	result "strace: spot-deliver execs only the LDA (execve: $(basename "$BIN"), then the LDA)" \
		"$([ "$bad" = "$BIN $LDA " ]; echo $?)" "first two execve: $bad; all: $progs"
elif wrapped; then
	skip_wrapped "strace: spot-deliver execs only the LDA" "the wrapper execs it"
	row "strace: spot-deliver execs only the LDA" "skipped"
else
	skip "strace: spot-deliver execs only the LDA" "strace is not installed"
	row "strace: spot-deliver execs only the LDA" "skipped"
fi
cd "$ROOT" || bail_out "cd"

# ---- the hard deadline
deadline_case() { # deadline_case DESC BOUND RSPAMD API [ARGS...]
	local desc=$1 bound=$2 r=$3 a=$4
	shift 4
	sd_run dl -- "${SD[@]}" --rspamd-url "$r" --api-url "$a" --api-key-file "$T/key" "$@" \
		-o poll_interval_ms=50 -- "$LDA" "$T/dl.cap" <"$HAM"
	result "$desc: ended within $bound ms + ${SLACK_MS} ms" \
		"$([ "$R_KIND" = exit ] && [ "$R_MS" -le $((bound + SLACK_MS)) ]; echo $?)" "$(cat "$T/dl.res")"
}
deadline_case "Rspamd hangs (300 ms), the API reads slowly (700 ms)" 700 "$BAD/hang" "$BAD/slowread" \
	--timeout-ms 300 --analysis-timeout-ms 700
deadline_case "Rspamd drips (700 ms), the API accepts and every poll hangs (300 ms)" 700 "$BAD/slow" "$BAD/pollhang" \
	--timeout-ms 700 --analysis-timeout-ms 300
deadline_case "both accept and send 50 MB, on_timeout = block" 600 "$BAD/huge" "$BAD/huge" \
	--timeout-ms 600 --analysis-timeout-ms 600 --on-timeout block
deadline_case "connect timeout 200 ms, the rest 600 ms, everything hangs" 600 "$BAD/hang" "$BAD/hang" \
	--connect-timeout-ms 200 --timeout-ms 600 --analysis-timeout-ms 600
sd_run dl2 -- "${SD[@]}" --rspamd-url "$BAD/hang" --api-url "$BAD/slow" --api-key-file "$T/key" --handoff \
	--timeout-ms 400 --analysis-timeout-ms 400 --on-timeout allow <"$HAM"
result "hand-off: Rspamd hangs (400 ms), then the API drips (400 ms): ended within 800 ms + ${SLACK_MS} ms" \
	"$([ "$R_KIND $R_CODE" = "exit 75" ] && [ "$R_MS" -le $((800 + SLACK_MS)) ]; echo $?)" "$(cat "$T/dl2.res")"

write_report faults-0800 "Security" \
"tests/faults/0800-security.t. The key is a random string looked for in every output; \"the caller's\" core file size limit is the one the test runs with (\`ulimit -c unlimited\` where allowed)." \
	"Check" "Result"
