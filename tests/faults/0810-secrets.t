#!/bin/bash
# Secrets and limits: no core file is ever written before the LDA runs (RLIMIT_CORE is 0 from
# the start); a write beyond RLIMIT_FSIZE defers (75) instead of killing spot-deliver; once the
# requests are done neither the API key nor the Rspamd password is anywhere in its memory (read
# through /proc/PID/mem while it writes the message out, and in the core of a SIGQUIT injected
# at the LDA's execve); no spelling of a secret's variable reaches the LDA's environment; a
# secret with a control character, and a number outside its range, is a configuration error.
. "$(dirname "$0")/faultlib.sh"

LIMITS="max_size=0 max_size=65535 max_size=65537M scan_max_size=1023 scan_max_size=4097M
spool_threshold=65535 spool_threshold=1025M timeout_ms=0 timeout_ms=86400001
analysis_timeout_ms=0 connect_timeout_ms=86400001 poll_interval_ms=9 max_errors=0
max_errors=1000001 error_time=0 error_time=86401 dead_time=0 dead_time=86401
phishing_min_confidence=1.5"
SPELLINGS="SPOT_DELIVER_RSPAMD_PASSWORD SPOT_DELIVER_Rspamd_Password SPOT_DELIVER_rspamd_password"
plan $((22 + $(wc -w <<<"$LIMITS") + $(wc -w <<<"$SPELLINGS")))

start_bad
KEY=Secr3t-Key-$$-$RANDOM
PW=Rspamd-Passw0rd-$$-$RANDOM
printf '%s\n' "$KEY" >"$T/key"
chmod 600 "$T/key"
HAM=$ROOT/tests/fixtures/mail/ham.eml
# ASan sets RLIMIT_CORE to 0 at start-up (disable_coredump=1) unless told not to: these tests
# are about what spot-deliver does itself
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}disable_coredump=0
api=(--api-url "$BAD/good/sec" --api-key-file "$T/key")

skipped() {
	skip "$1" "$2"
	row "$1" "skipped: $2"
}
skipped_wrapped() {
	skip_wrapped "$1" "$2"
	row "$1" "skipped: $2"
}

# in_dir NAME FSIZE -- ARGS...: sd_run NAME in the fresh directory $T/cwd-NAME (where a core
# file would go, core_pattern permitting) with core dumps allowed and `ulimit -f FSIZE`
# (1024-byte blocks, or unlimited)
in_dir() {
	local name=$1 fsize=$2
	shift 2
	mkdir -p "$T/cwd-$name"
	(
		cd "$T/cwd-$name" || exit 1
		ulimit -c unlimited 2>/dev/null || ulimit -c "$(ulimit -H -c)"
		ulimit -f "$fsize"
		sd_run "$name" "$@"
	)
	read -r R_KIND R_CODE R_MS <"$T/$name.res"
}
cores() { find "$T/cwd-$1" -maxdepth 1 -name 'core*' | wc -l; }

# Can a core file be seen here at all? A shell that SIGQUITs itself under the same limits.
mkdir -p "$T/cwd-probe"
{ (cd "$T/cwd-probe" && ulimit -c unlimited 2>/dev/null && exec sh -c 'kill -QUIT $$'); } 2>/dev/null
CORES_SEEN=$([ "$(cores probe)" -gt 0 ] && echo yes || echo no)
NOCORE="core files do not land in the working directory here (core_pattern $(cat /proc/sys/kernel/core_pattern 2>/dev/null), or no ulimit -c)"
# core_checked NAME DESC: "no core file" for the run NAME, or a skip when cores cannot be seen
core_checked() {
	if [ "$CORES_SEEN" = yes ]; then
		result "$2" "$([ "$(cores "$1")" = 0 ]; echo $?)" "$(cores "$1") core file(s) in $T/cwd-$1"
	else
		skipped "$2" "$NOCORE"
	fi
}

# ---- RLIMIT_FSIZE: EFBIG and 75, never SIGXFSZ
# a 20 KB message stays in memory; its copy for the LDA (a memfd) goes beyond 8 KB
"$PY" -c 'import sys; d = open(sys.argv[1], "rb").read(); sys.stdout.buffer.write(d + b"x" * 20000 + b"\n")' \
	"$HAM" >"$T/20k.eml"
in_dir f1 8 -- "${SD[@]}" --rspamd-url "$BAD/good/f1" "${api[@]}" -- "$FAULTS/lda-count" "$T/f1.cap" <"$T/20k.eml"
expect f1 "ulimit -f 8, the copy for the LDA of a 20 KB message beyond it" refuse 75 4.3.0
row "ulimit -f 8, the copy for the LDA beyond it" "$CELL"
core_checked f1 "ulimit -f 8, the copy for the LDA beyond it (the API key set): no core file"
# a 150 KB message spooled from 64K on: the spool file goes beyond 100 KB
in_dir f2 100 -- "${SD[@]}" -o spool_threshold=64K --rspamd-url "$BAD/good/f2" "${api[@]}" \
	-- "$FAULTS/lda-count" "$T/f2.cap" <"$MSG"
expect f2 "ulimit -f 100, the spool file of a 150 KB message beyond it" refuse 75 4.3.0
row "ulimit -f 100, the spool file beyond it" "$CELL"
core_checked f2 "ulimit -f 100, the spool file beyond it: no core file"

# ---- SIGQUIT (a core-dumping signal) while the scanners hang
before=$(wc -l <"$BAD_REC")
in_dir q1 unlimited --signal QUIT --when "$BAD_REC" --lines $((before + 1)) \
	-- "${SD[@]}" --rspamd-url "$BAD/hang/q1" --timeout-ms 20000 -- "$LDA" "$T/q1.cap" <"$HAM"
result "SIGQUIT during the scan, no secret configured at all: killed by it" \
	"$([ "$R_KIND $R_CODE" = "signal 3" ]; echo $?)" "$(cat "$T/q1.res")"
core_checked q1 "SIGQUIT during the scan, no secret configured at all: no core file"
before=$(wc -l <"$BAD_REC")
in_dir q2 unlimited --signal QUIT --when "$BAD_REC" --lines $((before + 2)) \
	-- "${SD[@]}" --rspamd-url "$BAD/hang/q2" --api-url "$BAD/hang/q2" --api-key-file "$T/key" \
	--timeout-ms 20000 --analysis-timeout-ms 20000 -- "$LDA" "$T/q2.cap" <"$HAM"
core_checked q2 "SIGQUIT during the scan with the API key in memory: no core file"

# ---- what the LDA inherits: the caller's core limit, SIGXFSZ and SIGPIPE not ignored
in_dir l1 unlimited -- "${SD[@]}" --rspamd-url "$BAD/good/l1" "${api[@]}" -- "$LDA" "$T/l1.cap" <"$HAM"
core_lda=$(sed -n 's/^core //p' "$T/l1.cap.limits" 2>/dev/null)
ign=$(sed -n 's/^SigIgn:[[:space:]]*//p' "$T/l1.cap.limits" 2>/dev/null)
# SIGPIPE is 13, SIGXFSZ 25: bits 12 and 24 of the mask
ign_bad=$(( 0x${ign:-0} & ((1 << 12) | (1 << 24)) ))
result "the LDA gets the caller's core limit (unlimited) and neither SIGPIPE nor SIGXFSZ ignored" \
	"$([ "$R_KIND $R_CODE" = "exit 0" ] && [ "$core_lda" = unlimited ] && [ -n "$ign" ] && [ "$ign_bad" = 0 ]; echo $?)" \
	"$(cat "$T/l1.res"); LDA: core $core_lda, SigIgn $ign"

# ---- memory once the requests are done
# The password comes from a config file here: an AddressSanitizer build keeps a copy of the
# environment of its own (read from /proc/self/environ at start-up). Wiping the environment is
# checked below, through /proc/PID/environ.
printf 'rspamd_password = %s\nstate_dir = %s\n' "$PW" "$T/state" >"$T/pw.conf"
SDPW=(--log stderr -c "$T/pw.conf")
if wrapped; then
	skipped_wrapped "filter mode, writing the message out: neither secret in memory" "the wrapper's memory is read"
	skipped_wrapped "the same after the polls of an accepted job" "the wrapper's memory is read"
else
	got=$("$PY" "$FAULTS/memscan.py" --stdin "$MSG" --stderr "$T/m1.err" --needle "$KEY" --needle "$PW" \
		-- "$BIN" "${SDPW[@]}" --rspamd-url "$BAD/good/m1" "${api[@]}")
	result "filter mode, blocked writing the message out: neither the API key nor the password anywhere in memory (/proc/PID/mem)" \
		"$([ "$got" = "blocked 0 0" ]; echo $?)" "memscan (key, password): $got" "$(cat "$T/m1.err")"
	# the API accepts (202) and every poll, each with the key, gets 503 until the deadline
	got=$("$PY" "$FAULTS/memscan.py" --stdin "$MSG" --stderr "$T/m2.err" --needle "$KEY" --needle "$PW" \
		-- "$BIN" "${SDPW[@]}" --rspamd-url "$BAD/good/m2" --api-url "$BAD/accepted/m2" --api-key-file "$T/key" \
		-o poll_interval_ms=20 --analysis-timeout-ms 400)
	polls=$(grep -c '^GET /accepted/' "$BAD_REC")
	result "the same after $polls polls of an accepted job: neither secret anywhere in memory" \
		"$([ "$got" = "blocked 0 0" ] && [ "$polls" -ge 3 ]; echo $?)" "memscan (key, password): $got" "$(cat "$T/m2.err")"
fi
if wrapped; then
	skipped_wrapped "SIGQUIT at the LDA's execve: the core holds neither secret" "the wrapper execs the LDA"
elif ! command -v strace >/dev/null; then
	skipped "SIGQUIT at the LDA's execve: the core holds neither secret" "strace is not installed"
else
	mkdir -p "$T/cwd-x1"
	{ (
		cd "$T/cwd-x1" && ulimit -c unlimited 2>/dev/null
		exec strace -qq -o "$T/x1.strace" -e trace=execve \
			-e inject=execve:signal=SIGQUIT:error=ENOENT:when=1 "$BIN" "${SDPW[@]}" \
			--rspamd-url "$BAD/good/x1" "${api[@]}" -- "$LDA" "$T/x1.cap" <"$HAM" >"$T/x1.out" 2>"$T/x1.err"
	); } 2>/dev/null
	core=$(find "$T/cwd-x1" -maxdepth 1 -name 'core*' | head -n 1)
	if [ -z "$core" ]; then
		skipped "SIGQUIT at the LDA's execve: the core holds neither secret" "$NOCORE"
	else
		n=$(grep -a -c -F -e "$KEY" -e "$PW" "$core")
		result "SIGQUIT at the LDA's execve (the caller's core limit is back): the core holds neither secret" \
			"$([ "$n" = 0 ] && grep -q 'INJECTED' "$T/x1.strace"; echo $?)" "$n lines of the core with a secret"
		rm -f "$core"
	fi
fi
# /proc/PID/environ shows the environment spot-deliver started with, whatever unsetenv did
if wrapped; then
	skipped_wrapped "during the scan, /proc/PID/environ holds neither SPOT_API_KEY nor the password" \
		"the process is the wrapper, with an environment of its own"
else
	before=$(wc -l <"$BAD_REC")
	SPOT_API_KEY=$KEY SPOT_DELIVER_RSPAMD_PASSWORD=$PW "$BIN" "${SD[@]}" --rspamd-url "$BAD/hang/e0" \
		--api-url "$BAD/hang/e0" --timeout-ms 20000 --analysis-timeout-ms 20000 -- "$LDA" "$T/e0.cap" <"$HAM" \
		>/dev/null 2>&1 &
	pid=$!
	for i in $(seq 200); do
		[ "$(wc -l <"$BAD_REC")" -ge $((before + 2)) ] && break
		sleep 0.05
	done
	n=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -c -F -e "$KEY" -e "$PW")
	seen=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -c '^PATH=')
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	result "during the scan, /proc/PID/environ holds neither SPOT_API_KEY nor the password" \
		"$([ "$n" = 0 ] && [ "$seen" = 1 ]; echo $?)" "$n lines with a secret, PATH seen: $seen"
fi

# ---- every spelling of a secret's variable: read, and never inherited by the LDA
n=0
for var in $SPELLINGS; do
	n=$((n + 1))
	env "$var=$PW" SPOT_API_KEY="$KEY" "$PY" "$FAULTS/run.py" --stdout "$T/v$n.out" --stderr "$T/v$n.err" \
		-- "$BIN" "${SD[@]}" --rspamd-url "$BAD/good/v$n" --api-url "$BAD/good/v$n" -- "$LDA" "$T/v$n.cap" \
		<"$HAM" >"$T/v$n.res"
	sent=$(grep -c -F -x "POST /good/v$n/checkv2 Password: $PW" "$BAD_REC.headers")
	inherited=$(tr '\0' '\n' <"$T/v$n.cap.env" 2>/dev/null | grep -c -F -e "$KEY" -e "$PW")
	vars=$(tr '\0' '\n' <"$T/v$n.cap.env" 2>/dev/null | grep -c -i -E '^(SPOT_API_KEY|SPOT_DELIVER_RSPAMD_PASSWORD)=')
	result "$var and SPOT_API_KEY: Rspamd gets the password, the LDA's environment has neither" \
		"$([ "$(cut -d' ' -f1,2 "$T/v$n.res")" = "exit 0" ] && [ "$sent" = 1 ] && [ -s "$T/v$n.cap.env" ] &&
			[ "$inherited" = 0 ] && [ "$vars" = 0 ]; echo $?)" \
		"$(cat "$T/v$n.res"); password sent $sent times; LDA environment: $inherited line(s) with a secret, $vars variable(s)"
done

# ---- secrets with control characters
before=$(wc -l <"$BAD_REC")
SPOT_DELIVER_RSPAMD_PASSWORD=$'pw\r\nX-Injected: 1' sd_run c1 -- "${SD[@]}" --rspamd-url "$BAD/good/c1" \
	-- "$FAULTS/lda-count" "$T/c1.cap" <"$HAM"
expect c1 "rspamd_password with CR LF from the environment" refuse 75 4.3.5
row "rspamd_password with CR LF" "$CELL"
result "rspamd_password with CR LF: no request sent, the password not echoed" \
	"$([ "$(wc -l <"$BAD_REC")" = "$before" ] && ! grep -a -q 'X-Injected' "$T/c1.out" "$T/c1.err"; echo $?)"
SPOT_DELIVER_RSPAMD_PASSWORD=$'pw\r\nX-Injected: 1' sd_run c2 -- "${SD[@]}" --check-config
result "rspamd_password with CR LF: --check-config exits 78" "$([ "$R_KIND $R_CODE" = "exit 78" ]; echo $?)" \
	"$(cat "$T/c2.res")"
printf 'rspamd_password = pw\tword\n' >"$T/tab.conf"
sd_run c3 -- --log stderr -c "$T/tab.conf" --check-config
result "rspamd_password with a TAB in the config file: --check-config exits 78 and names the key" \
	"$([ "$R_KIND $R_CODE" = "exit 78" ] && grep -q rspamd_password "$T/c3.err"; echo $?)" "$(cat "$T/c3.res")"
printf '%s\0tail\n' "$KEY" >"$T/nulkey"
chmod 600 "$T/nulkey"
sd_run c4 -- "${SD[@]}" --rspamd-url "$BAD/good/c4" --api-url "$BAD/good/c4" --api-key-file "$T/nulkey" \
	-- "$FAULTS/lda-count" "$T/c4.cap" <"$HAM"
expect c4 "an API key file with a NUL byte (the key would be cut short)" refuse 75 4.3.5
row "an API key file with a NUL byte" "$CELL"
SPOT_API_KEY=$'abc\ndef' sd_run c5 -- "${SD[@]}" --rspamd-url "$BAD/good/c5" --api-url "$BAD/good/c5" \
	-- "$FAULTS/lda-count" "$T/c5.cap" <"$HAM"
expect c5 "SPOT_API_KEY with LF" refuse 75 4.3.5
row "SPOT_API_KEY with LF" "$CELL"

# ---- numbers outside their range: 78 from --check-config
for kv in $LIMITS; do
	sd_run lim -- "${SD[@]}" -o "$kv" --check-config
	result "-o $kv: --check-config exits 78 and names the key" \
		"$([ "$R_KIND $R_CODE" = "exit 78" ] && grep -q -F "${kv%%=*}" "$T/lim.err"; echo $?)" \
		"$(cat "$T/lim.res")" "$(cat "$T/lim.err")"
done
sd_run lim -- "${SD[@]}" -o max_size=64K -o scan_max_size=1K -o spool_threshold=1G -o poll_interval_ms=10 \
	-o timeout_ms=300 -o connect_timeout_ms=300 -o dead_time=86400 --check-config
result "the edges themselves (max_size = 64K, poll_interval_ms = 10, connect = timeout...): accepted" \
	"$([ "$R_KIND $R_CODE" = "exit 0" ]; echo $?)" "$(cat "$T/lim.res")" "$(cat "$T/lim.err")"
sd_run lim -- "${SD[@]}" -o timeout_ms=300 -o connect_timeout_ms=301 --check-config
result "connect_timeout_ms longer than timeout_ms: --check-config exits 78" \
	"$([ "$R_KIND $R_CODE" = "exit 78" ] && grep -q connect_timeout_ms "$T/lim.err"; echo $?)" "$(cat "$T/lim.res")"
# ---- and 75 4.3.5 in a delivery, never a bounce of every message
printf 'max_size = 0\n' >"$T/max0.conf"
sd_run d1 -- --log stderr -c "$T/max0.conf" -o "state_dir=$T/state" --rspamd-url "$BAD/good/d1" \
	-- "$FAULTS/lda-count" "$T/d1.cap" <"$HAM"
expect d1 "max_size = 0 in the config file, a delivery" refuse 75 4.3.5
row "max_size = 0, a delivery" "$CELL"
SPOT_DELIVER_SPOOL_THRESHOLD=2G sd_run d2 -- "${SD[@]}" --rspamd-url "$BAD/good/d2" -- "$FAULTS/lda-count" "$T/d2.cap" <"$HAM"
expect d2 "SPOT_DELIVER_SPOOL_THRESHOLD=2G, a delivery" refuse 75 4.3.5
row "spool_threshold = 2G, a delivery" "$CELL"

write_report faults-0810 "Secrets and limits" \
"tests/faults/0810-secrets.t. Core files are looked for in the working directory of each run (core_pattern \`core\` here), with \`ulimit -c unlimited\`; memory is read through /proc/PID/mem (tests/faults/memscan.py) while spot-deliver, its requests done, blocks writing the message to a pipe nobody reads; the core of a SIGQUIT that strace injects at the LDA's execve is searched for both secrets." \
	"Check" "Result"
