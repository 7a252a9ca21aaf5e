#!/bin/bash
# state_dir against a hostile local user and under load: planted symbolic
# links, a directory of another user or writable by everyone, huge, garbage
# and overflowing files, and 20 and 100 concurrent deliveries that must not
# lose a single counter update. Filter mode with a closed loopback port as
# the only Rspamd: cheap, and each delivery has exactly one upstream error.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root (a state_dir of another user, root's files as the target)"
plan 61

M=$ROOT/tests/fixtures/mail/ham.eml
CLOSED=http://127.0.0.1:$(free_port)
sd() { # sd DIR [ARGS...]: one delivery in filter mode
	local dir=$1
	shift
	"$BIN" --log stderr -c /dev/null -o state_dir="$dir" --rspamd-url "$CLOSED" "$@" < "$M"
}
stats() { "$BIN" -c /dev/null -o state_dir="$1" --stats; }
metric() { # metric DIR NAME: the value of one --stats line
	stats "$1" 2>/dev/null | awk -v n="spot_deliver_$2" '$1 == n { print $2 }'
}
# the closed port's own outage lines aside (each failure is one without a state_dir)
warnings() { grep -v "warning: [^ ]*: rspamd $CLOSED: " "$1" | grep -c 'warning:'; }
fingerprint() { # the names, types, sizes, links and contents (up to 1 MB) under a directory
	find "$1" -printf '%p %y %s %l\n' | sort
	find "$1" -type f -size -1M -exec md5sum {} + | sort
}
sound_stats() { # sound_stats FILE: every line a comment or a metric line, no control character
	! LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f-\xff]' "$1" &&
	! grep -Evq '^(# .*|spot_deliver_[a-z_]+(\{[a-z]+="(\\.|[^"\\])*"\})? [0-9.]+)$' "$1"
}

# Root's files a hostile owner of state_dir would like root to write.
V=$T/root-home
mkdir -m 700 "$V"
printf 'original profile\n' > "$V/.profile"
printf 'original bashrc\n' > "$V/.bashrc"
plant() { # plant DIR: every name the old and the new code use, as a link into $V
	local d=$1 name
	for name in counters upstreams; do
		ln -s "$V/.profile" "$d/$name.tmp"
		ln -s "$V/$name.lock" "$d/$name.lock"       # to nothing: O_CREAT would make it
		ln -s "$V/.bashrc" "$d/$name.db"
	done
	printf '1 ;touch %s/pwned #\n9223372036854775807 messages_total\n' "$V" > "$d/counters"
	ln -s "$V/upstreams.db" "$d/upstreams"
}

# 1. A state_dir owned by nobody, full of links: root's by-hand run, --check,
# --stats and --selftest write nothing anywhere.
E=$T/evil
mkdir -m 755 "$E"
plant "$E"
chown -hR nobody:nogroup "$E"
fingerprint "$V" > "$T/v.before"
fingerprint "$E" > "$T/e.before"
check_exit "attack: root's delivery in nobody's state_dir exits 0" 0 sd "$E"
check_eq "attack: ... with one warning" "$(warnings "$err")" 1
check_grep "attack: ... that says whose directory it is" 'warning: [^ ]+: state_dir .*: owned by nobody, not by root' "$err"
check_grep "attack: ... and the message is delivered" '^X-Spam-Error: ' "$out"
check_exit "attack: --check exits 0" 0 sd "$E" --check
"$BIN" -c /dev/null -o state_dir="$E" --stats > /dev/null 2>&1
"$BIN" -c /dev/null -o state_dir="$E" --no-rspamd --selftest > "$T/selftest.evil" 2>&1
fingerprint "$V" > "$T/v.after"
fingerprint "$E" > "$T/e.after"
check_cmp "attack: no file of root's written or created" "$T/v.before" "$T/v.after"
check_cmp "attack: nothing changed in state_dir" "$T/e.before" "$T/e.after"
check_grep "attack: --selftest fails state_dir" '^FAIL state_dir .*owned by nobody' "$T/selftest.evil"
check_grep "attack: --selftest says how to fix it" "install -d -o root -m 0755 $E" "$T/selftest.evil"

# 2. The same links in root's own state_dir (planted before, or by root):
# never followed.
R=$T/own
mkdir -m 755 "$R"
plant "$R"
fingerprint "$R" > "$T/r.before"
check_exit "links in our own state_dir: exit 0" 0 sd "$R"
check_grep "links: a warning names the link" 'warning: [^ ]+: state_dir .*: (counters|upstreams)\.db: a symbolic link' "$err"
fingerprint "$V" > "$T/v.after2"
fingerprint "$R" > "$T/r.after"
check_cmp "links: no file of root's written or created" "$T/v.before" "$T/v.after2"
check_cmp "links: state_dir unchanged" "$T/r.before" "$T/r.after"
check_exit "links: --stats exits 74" 74 stats "$R"
check_grep "links: ... and says why on stderr" 'spot-deliver: --stats: .*counters\.db: a symbolic link' "$err"

# A state_dir that is itself a link (its parent's owner could point it at
# any directory of root's): not followed, with or without a trailing slash.
mkdir -m 755 "$T/elsewhere"
ln -s "$T/elsewhere" "$T/linked"
check_exit "a linked state_dir: exit 0" 0 sd "$T/linked/"
check_grep "a linked state_dir: one warning that says so" 'warning: [^ ]+: state_dir .*: a symbolic link' "$err"
check_eq "a linked state_dir: nothing created where it points" "$(ls -A "$T/elsewhere")" ""

# 3. Mode 0777, and owned by another user: ignored with one warning.
W=$T/world
mkdir "$W"
chmod 777 "$W"
check_exit "mode 0777: exit 0" 0 sd "$W"
check_eq "mode 0777: one warning" "$(warnings "$err")" 1
check_grep "mode 0777: ... that says so" 'warning: [^ ]+: state_dir .*: mode 0777: writable by group or others' "$err"
check_eq "mode 0777: nothing written into it" "$(ls -A "$W")" ""
"$BIN" -c /dev/null -o state_dir="$W" --no-rspamd --selftest > "$T/selftest.world" 2>&1
check_grep "mode 0777: --selftest says how to fix it" "^FAIL state_dir $W: mode 0777.*install -d -o root -m 0755 $W|install -d -o root -m 0755 $W" "$T/selftest.world"
N=$T/nobodys
mkdir -m 755 "$N"
chown nobody:nogroup "$N"
check_exit "owned by nobody: exit 0" 0 sd "$N"
check_eq "owned by nobody: one warning" "$(warnings "$err")" 1
check_eq "owned by nobody: nothing written into it" "$(ls -A "$N")" ""

# 4. Huge and garbage files cost no time and never change the exit code.
H=$T/huge
mkdir -m 755 "$H"
"$PY" -c 'import sys
with open(sys.argv[1], "w") as f:
    for i in range(100000): f.write("%d upstream_errors_total{upstream=\"http://h%d\"}\n" % (i, i))' "$H/counters"
cp "$H/counters" "$H/upstreams"
s=$(date +%s%N)
check_exit "100,000-line old files: exit 0" 0 timeout 60 "$BIN" --log stderr -c /dev/null -o state_dir="$H" --no-rspamd < "$M"
ms=$((($(date +%s%N) - s) / 1000000))
diag "a delivery beside 100,000-line old state files: $ms ms"
check "100,000-line old files: the delivery takes less than 1 s" test "$ms" -lt 1000
G=$T/garbage
mkdir -m 755 "$G"
truncate -s 1G "$G/counters.db"
head -c 77920 /dev/urandom > "$G/upstreams.db"
fingerprint "$G" > "$T/g.before"
s=$(date +%s%N)
check_exit "a sparse 1 GB counters.db, random upstreams.db: exit 0" 0 sd "$G"
ms=$((($(date +%s%N) - s) / 1000000))
check_grep "garbage: a warning for counters.db" 'warning: [^ ]+: state_dir .*counters\.db: 1073741824 bytes' "$err"
check "garbage: the delivery takes less than 1 s ($ms ms)" test "$ms" -lt 1000
fingerprint "$G" > "$T/g.after"
check_cmp "garbage: the files are left as they are" "$T/g.before" "$T/g.after"
check_exit "garbage: --stats exits 74" 74 stats "$G"
check_grep "garbage: ... and says why" 'spot-deliver: --stats: .*counters\.db: 1073741824 bytes, not [0-9]+' "$err"
# the right header and random slots: read, used, printed, never trusted
rm "$G/counters.db"
"$PY" - "$G/upstreams.db" <<'EOF'
import os, struct, sys
nwords = 8 + 256 * 38
with open(sys.argv[1], "wb") as f:
    f.write(b"SPOTUPST" + struct.pack("<II", 1, nwords) + bytes(16) + os.urandom(nwords * 8))
EOF
check_exit "random slots in upstreams.db: exit 0" 0 sd "$G"
check_exit "random slots: --stats exits 0" 0 stats "$G"
cp "$out" "$T/stats.random"
check "random slots: every --stats line is a comment or a sound metric line" sound_stats "$T/stats.random"

# 5. Overflow: the largest counter values saturate, and an old file's are
# not read at all.
O=$T/overflow
mkdir -m 755 "$O"
printf '9223372036854775807 messages_total\n9223372036854775807 processing_milliseconds_sum\n' > "$O/counters"
check_exit "old counters file at INT64_MAX: exit 0" 0 sd "$O"
check_eq "old counters file: not read, the count starts at 1" "$(metric "$O" messages_total)" 1
"$PY" - "$O/counters.db" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(32); f.write(b"\xff" * 8)            # messages_total
    f.seek(32 + 8 * 18); f.write(b"\xff" * 8)   # processing_milliseconds_sum
EOF
check_exit "counters.db at UINT64_MAX: exit 0" 0 sd "$O"
check_eq "counters.db at UINT64_MAX: saturates" "$(metric "$O" messages_total)" 18446744073709551615
check_eq "counters.db at UINT64_MAX: the next counter goes on" "$(metric "$O" processing_seconds_count)" 2

# 6. Load: 20 and 100 deliveries at once, several rounds, no update lost,
# per upstream neither.
burst() { # burst DIR N: N deliveries started together; prints how many failed
	local i fails=0 pids=()
	rm -f "$1.go"
	for i in $(seq "$2"); do
		(until [ -e "$1.go" ]; do sleep 0.02; done; sd "$1" > /dev/null 2>> "$1.err") &
		pids+=($!)
	done
	sleep 0.1
	: > "$1.go"
	for i in "${pids[@]}"; do wait "$i" || fails=$((fails + 1)); done
	echo "$fails"
}
for n in 20 100; do
	L=$T/load$n
	mkdir -m 755 "$L"
	fails=0
	for round in 1 2 3 4 5; do fails=$((fails + $(burst "$L" "$n"))); done
	got=$(metric "$L" messages_total)
	diag "$n at once, 5 rounds: $got of $((5 * n)) counted"
	check_eq "$n at once, 5 rounds: all delivered" "$fails" 0
	check_eq "$n at once, 5 rounds: messages_total is exactly $((5 * n))" "$got" $((5 * n))
	check_eq "$n at once, 5 rounds: upstream errors of the closed port exactly $((5 * n))" \
		"$(metric "$L" "upstream_errors_total{upstream=\"$CLOSED\"}")" $((5 * n))
	check_eq "$n at once: the outage said once (first failure, marked dead), no other warning" \
		"$(grep -c warning: "$L.err") $(grep -c ': first failure$' "$L.err") $(grep -c ': marked dead for ' "$L.err")" "2 1 1"
done

# Nothing to wait for: no lock, no sleep in a delivery that counts and
# remembers (the old code took flock(2) and slept between tries).
if command -v strace > /dev/null; then
	strace -f -qq -o "$T/strace" -e trace=flock,nanosleep,clock_nanosleep \
		"$BIN" --log stderr -c /dev/null -o state_dir="$T/load20" --no-rspamd < "$M" > /dev/null 2>&1
	check_eq "a counting delivery takes no lock and never sleeps" \
		"$(grep -cE '(flock|nanosleep)\(' "$T/strace")" 0
else
	skip "a counting delivery takes no lock and never sleeps" "no strace"
fi

# 7. --stats: read-only, and says why it cannot read.
check_exit "--stats on a fresh state_dir exits 0" 0 stats "$T/load20"
fingerprint "$T/load20" > "$T/l.before"
stats "$T/load20" > /dev/null
setpriv --reuid=nobody --regid=nogroup --clear-groups "$BIN" -c /dev/null -o state_dir="$T/load20" --stats > /dev/null 2>&1
fingerprint "$T/load20" > "$T/l.after"
check_cmp "--stats changes nothing" "$T/l.before" "$T/l.after"
P=$T/private
mkdir -m 700 "$P"
printf '1 messages_total\n' > "$P/counters"
sd "$P" > /dev/null 2>&1
chmod 711 "$P"
chmod 600 "$P"/*
U=$T/badup
mkdir -m 755 "$U"
sd "$U" > /dev/null 2>&1
rm "$U/upstreams.db"
ln -s "$V/.bashrc" "$U/upstreams.db"
check_exit "--stats, upstreams.db a link: exit 74" 74 stats "$U"
check_eq "--stats, upstreams.db a link: nothing on standard output" "$(wc -c < "$out")" 0
check_grep "--stats, upstreams.db a link: says why" 'spot-deliver: --stats: .*upstreams\.db: a symbolic link' "$err"
check_exit "--stats as a user who may not read: exit 74" 74 \
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$BIN" -c /dev/null -o state_dir="$P" --stats
check_grep "--stats as a user who may not read: says why" '^spot-deliver: --stats: .*counters.*Permission denied' "$err"
check_exit "--selftest, no state_dir: exit 0" 0 "$BIN" -c /dev/null -o state_dir="$T/sel" --no-rspamd --selftest
mkdir -m 755 "$T/sel"
check_exit "--selftest in a good state_dir: exit 0" 0 "$BIN" -c /dev/null -o state_dir="$T/sel" --no-rspamd --selftest
check_grep "--selftest: ok line for state_dir" "^ok +state_dir $T/sel" "$out"
