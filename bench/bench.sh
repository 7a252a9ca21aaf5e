#!/bin/bash
# make bench: spot-deliver against rspamc and cat, and against curl doing the API's https POST,
# in one run. Usage: bench/bench.sh SPOT-DELIVER (QUICK=1: 2 runs of each, to try it out).
# It only arranges runs: hyperfine (wall, user+system CPU), /usr/bin/time (peak RSS), callgrind
# (instructions), xargs -P (throughput); bench/report.py turns what they wrote into
# bench/results.md. Everything lives under bench/work/ (git-ignored); the private rspamd comes
# from scripts/rspamd-local (loopback DNS stub), the API stand-ins from tests/spot-api.py.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
W=$HERE/work
KEY=bench-key-0123456789abcdef
SENDER=bob@sender.example.org RCPT=alice@example.com
export LC_ALL=C

# verify CASE MSG OUT: OUT is MSG delivered by CASE: the size, the body byte for byte, the
# scanners' headers in the top block (curl: the API's answer)
verify() {
	local c=$1 msg=$2 out=$3 n got k h
	[ "$c" != floor-curl ] || return 0 # it delivers nothing
	[ -s "$out" ] || { echo "bench: $c: nothing delivered to $out" >&2; return 1; }
	case $c in curl*) grep -q '"verdict"\|"status"' "$out" && return 0
		echo "bench: $c: no verdict in the API's answer" >&2; return 1 ;; esac
	n=$(stat -c %s "$msg") got=$(stat -c %s "$out") k=$(cat "$msg.body")
	if [ "$got" -lt "$n" ] || [ "$got" -gt $((n + 8192)) ]; then
		echo "bench: $c: $got bytes delivered for $n" >&2
		return 1
	fi
	cmp -s <(tail -c "$k" "$msg") <(tail -c "$k" "$out") ||
		{ echo "bench: $c: the body changed in $out" >&2; return 1; }
	case $c in sd-*) ! head -c 16384 "$out" | sed '/^$/q' | grep -q '(forged)$' ||
		{ echo "bench: $c: the forged X-SPOT field was not stripped in $out" >&2; return 1; } ;; esac
	for h in $(want "$c" "$msg"); do
		head -c 16384 "$out" | sed '/^$/q' | grep -q "^${h//_/ }" ||
			{ echo "bench: $c: no '${h//_/ }' in $out" >&2; return 1; }
	done
}
want() { # the header lines CASE's delivery must carry (_ stands for a space)
	case $1 in
	rspamc) echo X-Spam-Scanner:_rspamc ;;
	sd-rspamd) [ "${2##*/}" = 25m.eml ] && echo 'X-Spam-Scanner:_rspamd;_skipped' || echo 'X-Spam-Scanner:_rspamd$' ;;
	sd-rspamd-30M) echo 'X-Spam-Scanner:_rspamd$' ;;
	sd-both*) echo 'X-Spam-Scanner:_rspamd$ X-SPOT-Status:_analyzed' ;;
	sd-api*) echo 'X-SPOT-Status:_analyzed' ;;
	esac
}
[ "${1:-}" = verify ] && { shift; verify "$@"; exit; }

BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
# the commands below are shell strings built from these paths: no word may split or glob
case $W$BIN in *[!A-Za-z0-9/._+-]*) echo "bench: $W or $BIN has a character the harness does not quote" >&2; exit 1 ;; esac
for t in hyperfine /usr/bin/time valgrind rspamc rspamd curl openssl python3 xargs cc readelf; do
	command -v "$t" >/dev/null || { echo "bench: $t is missing: scripts/install-deps.sh bench" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "bench: $BIN is not built" >&2; exit 1; }
rm -rf "$W/out" "$W/cg" "$W/tp" "$W/floor"
mkdir -p "$W"/{msg,out,hf,rss,cg,tp,conf,floor}
chmod 755 "$W" # the private rspamd (user _rspamd) reads under it
uptime >"$W/load-start"
date -u '+%Y-%m-%d %H:%M UTC' >"$W/date"

# --- messages: a 1.5 KB header block (with a forged X-SPOT field spot-deliver strips), text
# and HTML parts, a base64 attachment of seeded random bytes making up the size
python3 - "$W/msg" <<'EOF'
import base64, random, sys
for name, size in (("5k", 5 << 10), ("100k", 100 << 10), ("1m", 1 << 20), ("25m", 25 << 20)):
    rng = random.Random(name)
    hops = "".join("Received: from mx%d.relay.example.net (mx%d.relay.example.net [192.0.2.%d])\n"
                   "\tby mx%d.example.com with ESMTPS id %08X; Tue, 1 Dec 2026 10:0%d:00 +0000\n"
                   % (i, i, 10 + i, i + 1, rng.getrandbits(32), i) for i in range(5))
    head = (hops + "DKIM-Signature: v=1; a=rsa-sha256; d=sender.example.org; s=s1; b=%s\n"
            "From: Bob <bob@sender.example.org>\nTo: Alice <alice@example.com>\n"
            "Subject: quarterly figures\nDate: Tue, 1 Dec 2026 10:00:00 +0000\n"
            "Message-ID: <%s@sender.example.org>\nX-SPOT-Is-Phishing: no (forged)\nMIME-Version: 1.0\n"
            "Content-Type: multipart/mixed; boundary=b1\n\n" % ("A" * 340, name))
    text = "please find attached the latest figures for our meeting next week\n" * 20
    parts = ("--b1\nContent-Type: text/plain\n\n%s--b1\nContent-Type: text/html\n\n<p>%s</p>\n"
             "--b1\nContent-Type: application/pdf; name=r.pdf\nContent-Transfer-Encoding: base64\n\n"
             % (text, text))
    room = size - len(head) - len(parts) - len("--b1--\n")
    raw = base64.encodebytes(rng.randbytes(max(room, 0) * 3 // 4)).decode()[:room]
    msg = head + parts + raw.rstrip("\n") + "\n--b1--\n"
    open("%s/%s.eml" % (sys.argv[1], name), "w").write(msg)
    open("%s/%s.eml.body" % (sys.argv[1], name), "w").write("%d\n" % (len(msg) - len(head) + 1))
EOF

# --- the link floors: a main() that does nothing but exec the LDA, linked with exactly the
# libraries spot-deliver's binary names (its NEEDED entries), and an empty main() linked with
# libcurl alone, curl's own set: what the dynamic loader and the libraries' constructors cost
echo 'int main(int c, char **v) { (void)c; execv(v[1], v + 1); return 127; }' >"$W/floor/exec.c"
echo 'int main(void) { return 0; }' >"$W/floor/empty.c"
cc -O2 -include unistd.h -o "$W/floor/sd-libs" "$W/floor/exec.c" -Wl,--no-as-needed \
	$(readelf -d "$BIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/-l:\1/p')
cc -O2 -o "$W/floor/curl-libs" "$W/floor/empty.c" -Wl,--no-as-needed -lcurl

# --- servers: rspamd, the API over http and, behind a private CA, over https (20 ms answers)
stop() {
	local pid
	pid=$(cat "$W/tls.pid" 2>/dev/null) || true
	# only the stand-in this harness started: a stale pid file may name another process now
	grep -q spot-api.py "/proc/$pid/cmdline" 2>/dev/null && kill "$pid"
	"$ROOT/scripts/spot-api-local" stop "$W/api" >/dev/null 2>&1
	"$ROOT/scripts/rspamd-local" stop "$W/rspamd" >/dev/null 2>&1
	rm -f "$W/tls.pid"
}
trap stop EXIT
stop || true
RPORT=$(python3 -c 'import socket
for p in range(23400, 24400, 10):
    try:
        for q in (p, p + 1, p + 3):
            for k in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                socket.socket(socket.AF_INET, k).bind(("127.0.0.1", q))
        print(p); break
    except OSError: pass')
RSPAMD_LOCAL_HS_CACHE=$W/hs-cache "$ROOT/scripts/rspamd-local" start "$W/rspamd" "$RPORT"
rm -rf "$W/api" "$W/tlsrec"
APORT=$("$ROOT/scripts/spot-api-local" start "$W/api" 0 "$KEY" delay=20)
C=$W/conf
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench-ca -keyout "$C/ca.key" \
	-out "$C/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$C/srv.key" -out "$C/srv.csr" 2>/dev/null
echo 'subjectAltName = IP:127.0.0.1' >"$C/ext"
openssl x509 -req -in "$C/srv.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -days 2 \
	-extfile "$C/ext" -out "$C/srv.pem" 2>/dev/null
setsid python3 "$ROOT/tests/spot-api.py" --port 0 --key "$KEY" --record "$W/tlsrec" --default delay=20 \
	--tls-cert "$C/srv.pem" --tls-key "$C/srv.key" --pidfile "$W/tls.pid" >"$W/tls.out" 2>"$W/tls.log" </dev/null &
for _ in $(seq 100); do grep -q '^ready' "$W/tls.out" && break; sleep 0.1; done
TPORT=$(sed -n 's/^ready //p' "$W/tls.out")
[ -n "$TPORT" ] || { echo "bench: the https stand-in did not start" >&2; exit 1; }
until [ -s "$W/tls.pid" ]; do sleep 0.1; done

# --- the configurations (state_dir as on a mail host, log at its default: syslog)
printf '%s\n' "$KEY" >"$C/key"
chmod 600 "$C/key"
mkdir -p "$W/state"
R="rspamd_url = http://127.0.0.1:$RPORT
state_dir = $W/state"
H="api_url = http://127.0.0.1:$APORT/v1/messages
api_key_file = $C/key"
S="api_url = https://127.0.0.1:$TPORT/v1/messages
api_key_file = $C/key
api_ca_file = $C/ca.pem"
printf '%s\n' "$R" >"$C/rspamd.conf"
printf '%s\n%s\n' "$R" "$H" >"$C/both.conf"
printf '%s\n%s\n' "$R" "$S" >"$C/both-https.conf"
printf 'rspamd = no\nstate_dir = %s\n%s\n' "$W/state" "$S" >"$C/api-https.conf"

# cmd CASE MSG OUT: the shell command of one delivery (the LDA: dd into OUT)
cmd() {
	local c=$1 m=$2 o=$3 lda="/bin/dd of=$3 bs=64k status=none" conf=${1#sd-} extra=
	case $c in *-30M) conf=${conf%-30M} extra="-o scan_max_size=30M" ;; esac
	case $c in
	cat) echo "cat < $m > $o" ;;
	dd) echo "$lda < $m" ;;
	floor-sd) echo "$W/floor/sd-libs $lda < $m" ;;
	floor-curl) echo "$W/floor/curl-libs" ;;
	rspamc) echo "rspamc -h 127.0.0.1:$RPORT -F $SENDER -r $RCPT --mime --exec \"$lda\" < $m" ;;
	sd-*) echo "$BIN -c $C/$conf.conf $extra -f $SENDER -r $RCPT -- $lda < $m" ;;
	curl-https) echo "curl -fsS --cacert $C/ca.pem -H 'Authorization: Bearer $KEY' -H 'Content-Type: message/rfc822' --data-binary @$m -o $o https://127.0.0.1:$TPORT/v1/messages" ;;
	curl-http) echo "curl -fsS -H 'Authorization: Bearer $KEY' -H 'Content-Type: message/rfc822' --data-binary @$m -o $o http://127.0.0.1:$APORT/v1/messages" ;;
	esac
}
cases() {
	case $1 in
	25m) echo cat dd rspamc sd-rspamd sd-rspamd-30M sd-both-https-30M curl-https ;;
	5k) echo cat floor-sd floor-curl rspamc sd-rspamd sd-both sd-both-https sd-api-https curl-https curl-http ;;
	*) echo cat rspamc sd-rspamd sd-both sd-both-https sd-api-https curl-https curl-http ;;
	esac
}
runs() { [ -z "${QUICK:-}" ] || { echo 2; return; }; case $1 in 5k) echo 40 ;; 100k) echo 30 ;; 1m) echo 20 ;; 25m) echo 10 ;; esac; }
CLEAN="rm -f $W/api/requests/*.body $W/tlsrec/*.body"

for s in 5k 100k 1m 25m; do
	m=$W/msg/$s.eml args=()
	for c in $(cases $s); do
		o=$W/out/$s-$c.eml
		args+=(-n "$c" -p "[ ! -e $o ] || $HERE/bench.sh verify $c $m $o; rm -f $o; $CLEAN" "$(cmd "$c" "$m" "$o")")
	done
	echo "bench: $s: hyperfine, $(runs $s) runs of each"
	hyperfine -w 1 -r "$(runs $s)" --style basic --export-json "$W/hf/$s.json" "${args[@]}" >"$W/hf/$s.log" 2>&1 ||
		{ tail -n 20 "$W/hf/$s.log" >&2; exit 1; }
	grep -E '^(Benchmark|  Time)' "$W/hf/$s.log"
	for c in $(cases $s); do
		o=$W/out/$s-$c.eml
		"$HERE/bench.sh" verify "$c" "$m" "$o"
		rm -f "$W/rss/$s-$c"
		for _ in 1 2 3; do
			/usr/bin/time -a -o "$W/rss/$s-$c" -f %M sh -c "$(cmd "$c" "$m" "$o")"
			"$HERE/bench.sh" verify "$c" "$m" "$o"
		done
		# instructions of the client process alone (spot-deliver: until it execs the LDA)
		rm -f "$W/cg/$s-$c".*
		sh -c "echo \$\$ > $W/cg/$s-$c.pid; exec valgrind -q --tool=callgrind --trace-children=no \
			--dump-before=execve --callgrind-out-file=$W/cg/$s-$c.%p $(cmd "$c" "$m" "$o")" 2>>"$W/cg/log"
		"$HERE/bench.sh" verify "$c" "$m" "$o"
		eval "$CLEAN"
	done
done

# --- throughput: 200 deliveries of 5k, 20 at a time
for c in cat rspamc sd-rspamd sd-both sd-both-https curl-https; do
	rm -rf "$W/tp/$c" && mkdir -p "$W/tp/$c"
	echo "bench: throughput, $c"
	t0=$(date +%s.%N)
	seq 200 | /usr/bin/time -o "$W/tp/$c.cpu" -f '%U %S' \
		xargs -P 20 -n 1 sh -c "$(cmd "$c" "$W/msg/5k.eml" "$W/tp/$c/\$1.eml")" sh
	echo "$t0 $(date +%s.%N)" >"$W/tp/$c.wall"
	for f in "$W/tp/$c"/*.eml; do "$HERE/bench.sh" verify "$c" "$W/msg/5k.eml" "$f"; done
	[ "$(find "$W/tp/$c" -name '*.eml' | wc -l)" = 200 ] || { echo "bench: $c: not 200 deliveries" >&2; exit 1; }
	eval "$CLEAN"
done

# --- the TLS handshake's share of curl's https POST (curl -w), 20 runs on 5k
for _ in $(seq 20); do
	eval "$(cmd curl-https "$W/msg/5k.eml" /dev/null) -w '%{time_connect} %{time_appconnect} %{time_total}\n'"
done >"$W/handshake"
eval "$CLEAN"

uptime >"$W/load-end"
python3 "$HERE/report.py" "$W" >"$W/results.md" # git describe in it must see the tree clean
mv "$W/results.md" "$HERE/results.md"
echo "bench: wrote bench/results.md"
