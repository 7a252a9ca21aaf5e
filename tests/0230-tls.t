#!/bin/bash
# TLS to the API: certificates are verified by default, api_ca_file trusts a
# private CA, api_tls_verify = no works but warns on every message.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || skip_all "openssl is not installed"
plan 9

KEY=tls-key-$$
printf '%s\n' "$KEY" > "$T/key"; chmod 600 "$T/key"
M=$ROOT/tests/fixtures/mail/ham.eml
part() { "$PY" "$ROOT/tests/msgpart.py" "$@"; }

# a private CA and a server certificate for 127.0.0.1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=spot-test-ca \
	-keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$T/srv.key" -out "$T/srv.csr" 2>/dev/null
printf 'subjectAltName = IP:127.0.0.1\n' > "$T/ext"
openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
	-days 2 -extfile "$T/ext" -out "$T/srv.pem" 2>/dev/null
"$PY" "$ROOT/tests/spot-api.py" --port 0 --key "$KEY" --record "$T/rec" --default clean \
	--tls-cert "$T/srv.pem" --tls-key "$T/srv.key" > "$T/api.out" 2>"$T/api.err" &
api_pid=$!
at_exit kill "$api_pid"
for i in $(seq 50); do grep -q '^ready' "$T/api.out" && break; sleep 0.1; done
port=$(sed -n 's/^ready //p' "$T/api.out")
[ -n "$port" ] || bail_out "the TLS stand-in did not start: $(cat "$T/api.err")"
URL=https://127.0.0.1:$port/ingest
sd() { "$BIN" --log stderr -c /dev/null --no-rspamd --api-url "$URL" --api-key-file "$T/key" "$@" < "$M"; }

check_exit "unknown CA, allow: delivered" 0 sd
check_eq "unknown CA: no verdict (the certificate was refused)" "$(part header X-SPOT-Status "$out")" timeout
check_exit "unknown CA, block: 75" 75 sd --on-timeout block -- /bin/true
check_exit "api_ca_file: delivered" 0 sd -o api_ca_file="$T/ca.pem"
check_eq "api_ca_file: analyzed over TLS" "$(part header X-SPOT-Status "$out")" analyzed
check_grep "api_ca_file: the request reached the API" '"Authorization"' "$T/rec/0001.json"
check_exit "api_tls_verify = no: delivered" 0 sd -o api_tls_verify=no
check_eq "api_tls_verify = no: analyzed" "$(part header X-SPOT-Status "$out")" analyzed
check_grep "api_tls_verify = no: a warning on the message" 'warning: [^ ]+: api_tls_verify = no' "$err"
