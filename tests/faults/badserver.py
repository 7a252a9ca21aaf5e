#!/usr/bin/python3
"""A loopback HTTP server that misbehaves on purpose, for tests/faults.

Usage:
  /usr/bin/python3 tests/faults/badserver.py --record FILE [--port 0] [--files DIR] [--pidfile F]
      [--rcvbuf BYTES]

Prints "ready PORT" once it listens on 127.0.0.1. It stands in for Rspamd
and for the SPOT API at once: the first segment of the request path picks
the behaviour, and a path that ends in /checkv2 gets Rspamd-shaped JSON,
any other path SPOT-shaped JSON. So

  --rspamd-url http://127.0.0.1:PORT/hang        (spot-deliver adds /checkv2)
  --api-url    http://127.0.0.1:PORT/s500

Behaviours (the first path segment):
  good        200 with a clean verdict
  hang        reads the request, then never answers
  slowread    reads the request body 512 bytes a second, never answers
  slow        answers a complete, valid 200 one byte every 50 ms (about 10 s)
  s500        500 with a JSON error
  s503        503 with Retry-After: 120
  empty       200 with an empty body
  truncated   200 whose body (with a matching Content-Length) is half of the JSON
  cut         200 announcing the whole JSON, sending half of it, closing the connection
  wrongshape  200 with a JSON list instead of an object
  wrongtypes  200 with an object whose fields have the wrong types
  huge        200 with a 50 MB JSON answer
  redirect    302 to /good/... (a client that follows it gets a clean verdict)
  reset       reads the request line and headers, then resets the connection
  accepted    SPOT: 202 "accepted" with a Location under /accepted/, then
              every poll 503 (Retry-After: 1)
  pollhang    SPOT: 202 "accepted", then every poll hangs
  file/NAME   200 with the bytes of DIR/NAME (--files DIR)
  s401        401 with WWW-Authenticate (a refused key)
  early       200 with a clean verdict and "Connection: close" right after the
              request head, before reading the body; then it reads and drops what
              the client still sends, until the client closes
  early4k     the same after reading the first 4 KB of the body
  foreign/PORT  SPOT: 202 "accepted" with a Location on another origin,
              http://127.0.0.1:PORT/stolen; a poll of /foreign/... gets a clean verdict

Every request is recorded on arrival as one line in the record file:
"METHOD PATH"; then, once its body has been read, "body PATH LENGTH SHA256".
Its header fields go to the record file + ".headers", one "METHOD PATH Name: value"
line each (as Python's http.server parsed them).
--rcvbuf sets SO_RCVBUF of the listening socket (its connections inherit it):
with a few KB, a client cannot park a whole message in the kernel's buffers
on loopback, as it cannot on a real network, so an early answer comes while
the upload is still under way.
SIGTERM or SIGINT stops it, even while requests hang.
"""
import argparse
import hashlib
import http.server
import json
import os
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import servelib  # noqa: E402

HUGE = 50 * 1024 * 1024
SLOW_STEP = 0.05


class State:
    def __init__(self, args):
        self.record = args.record
        self.files = args.files
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.seq = 0

    def log(self, line):
        with self.lock:
            with open(self.record, "a") as f:
                f.write(line + "\n")


def rspamd_clean():
    return {"action": "no action", "score": 0.5, "required_score": 15.0,
            "is_skipped": False,
            "symbols": {"FAULT_SERVER": {"name": "FAULT_SERVER", "score": 0.5}},
            "messages": {}}


def spot_clean(job):
    return {"job_id": job, "status": "analyzed", "is_phishing": False,
            "threat_level": "none", "confidence": 0.97}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "badserver/1"

    def log_message(self, fmt, *args):
        pass

    @property
    def st(self):
        return self.server.state

    # ----- plumbing
    def read_body(self, rate=None):
        n = int(self.headers.get("Content-Length") or 0)
        h = hashlib.sha256()
        got = 0
        while got < n and not self.st.stop.is_set():
            want = min(n - got, 512 if rate else 65536)
            chunk = self.rfile.read(want)
            if not chunk:
                break
            h.update(chunk)
            got += len(chunk)
            if rate:
                self.st.stop.wait(1.0)
        self.st.log("body %s %d %s" % (self.path, got, h.hexdigest()))
        return got

    def raw(self, data):
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    def response_bytes(self, code, body, reason="OK", extra=()):
        head = ["HTTP/1.1 %d %s" % (code, reason),
                "Content-Type: application/json",
                "Content-Length: %d" % len(body)]
        head += ["%s: %s" % kv for kv in extra]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    def send(self, code, body, reason="OK", extra=()):
        self.raw(self.response_bytes(code, body, reason, extra))

    def hang(self):
        self.st.stop.wait(24 * 3600)
        self.close_connection = True

    def is_rspamd(self):
        return self.path.split("?")[0].rstrip("/").endswith("/checkv2")

    def clean_json(self):
        if self.is_rspamd():
            obj = rspamd_clean()
        else:
            obj = spot_clean("job-fault-%s" % self.mode)
        return json.dumps(obj).encode() + b"\n"

    # ----- the behaviours
    def do_POST(self):
        self.handle_any(True)

    def do_GET(self):
        self.handle_any(False)

    def handle_any(self, post):
        parts = self.path.split("?")[0].strip("/").split("/")
        self.mode = parts[0] if parts else ""
        self.st.log("%s %s" % (self.command, self.path))
        with self.st.lock:
            with open(self.st.record + ".headers", "a") as f:
                for k, v in self.headers.items():
                    f.write("%s %s %s: %s\n" % (self.command, self.path, k, v))
        mode = self.mode
        if mode == "reset":
            # RST instead of FIN: the client sees "connection reset"
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if mode == "slowread":
            self.read_body(rate=True)
            return self.hang()
        if mode in ("early", "early4k"):
            return self.answer_early(4096 if mode == "early4k" else 0)
        if post:
            self.read_body()
        if mode == "good":
            return self.send(200, self.clean_json())
        if mode == "hang":
            return self.hang()
        if mode == "slow":
            data = self.response_bytes(200, self.clean_json())
            try:
                for i in range(len(data)):
                    if self.st.stop.wait(SLOW_STEP):
                        break
                    self.wfile.write(data[i:i + 1])
                    self.wfile.flush()
            except OSError:
                pass
            self.close_connection = True
            return
        if mode == "s500":
            return self.send(500, b'{"error": "internal error"}\n', "Internal Server Error")
        if mode == "s503":
            return self.send(503, b'{"error": "busy"}\n', "Service Unavailable",
                             [("Retry-After", "120")])
        if mode == "empty":
            return self.send(200, b"")
        if mode == "truncated":
            body = self.clean_json()
            return self.send(200, body[:len(body) // 2])
        if mode == "cut":
            body = self.clean_json()
            head = self.response_bytes(200, body)[:-len(body)]
            return self.raw(head + body[:len(body) // 2])
        if mode == "wrongshape":
            return self.send(200, b'["no action", 0.5, "analyzed", false]\n')
        if mode == "wrongtypes":
            if self.is_rspamd():
                return self.send(200, b'{"action": 5, "score": "high", "symbols": []}\n')
            return self.send(200, b'{"job_id": 7, "status": true, "is_phishing": "no"}\n')
        if mode == "huge":
            return self.send_huge()
        if mode == "redirect":
            rest = self.path.split("/", 2)[2] if self.path.count("/") >= 2 else ""
            return self.send(302, b"", "Found", [("Location", "/good/" + rest)])
        if mode in ("accepted", "pollhang"):
            job = "job-fault-%s" % mode
            if post:
                body = json.dumps({"job_id": job, "status": "accepted"}).encode() + b"\n"
                return self.send(202, body, "Accepted", [("Location", "/%s/jobs/%s" % (mode, job))])
            if mode == "pollhang":
                return self.hang()
            return self.send(503, b'{"error": "busy"}\n', "Service Unavailable",
                             [("Retry-After", "1")])
        if mode == "s401":
            return self.send(401, b'{"error": "bad key"}\n', "Unauthorized",
                             [("WWW-Authenticate", 'Bearer realm="spot"')])
        if mode == "foreign" and len(parts) >= 2:
            if post:
                body = json.dumps({"job_id": "job-fault-foreign", "status": "accepted"}).encode()
                return self.send(202, body + b"\n", "Accepted",
                                 [("Location", "http://127.0.0.1:%s/stolen/job-fault-foreign" % parts[1])])
            return self.send(200, self.clean_json())
        if mode == "file" and len(parts) >= 2 and self.st.files:
            name = os.path.basename(parts[1])
            try:
                with open(os.path.join(self.st.files, name), "rb") as f:
                    return self.send(200, f.read())
            except OSError:
                pass
        return self.send(404, b'{"error": "no such behaviour"}\n', "Not Found")

    def answer_early(self, upto):
        """A whole, valid answer to a request whose body was not read (a proxy's
        or a login page's 200): the client must not take it for the delivery."""
        n = int(self.headers.get("Content-Length") or 0)
        got = len(self.rfile.read(min(upto, n))) if upto else 0
        self.st.log("early %s %d of %d" % (self.path, got, n))
        self.raw(self.response_bytes(200, self.clean_json(), extra=[("Connection", "close")]))
        # Then take what the client still sends until it closes: closing with unread data
        # would reset the connection, and the client would see a reset instead of the answer.
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(10)
            while self.connection.recv(65536):
                pass
        except OSError:
            pass

    def send_huge(self):
        prefix = b'{"action": "no action", "job_id": "x", "status": "analyzed", "pad": "'
        suffix = b'"}\n'
        pad = HUGE - len(prefix) - len(suffix)
        head = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n" % HUGE).encode()
        chunk = b"A" * 65536
        try:
            self.wfile.write(head + prefix)
            left = pad
            while left > 0 and not self.st.stop.is_set():
                n = min(left, len(chunk))
                self.wfile.write(chunk[:n])
                left -= n
            self.wfile.write(suffix)
            self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True


class Server(servelib.HTTPServer):
    rcvbuf = 0

    def server_bind(self):
        if self.rcvbuf:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        super().server_bind()

    def handle_error(self, request, client_address):
        pass  # a client that gave up is the normal case here


def main():
    ap = argparse.ArgumentParser(description="misbehaving HTTP server for tests/faults")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--record", required=True)
    ap.add_argument("--files")
    ap.add_argument("--pidfile")
    ap.add_argument("--rcvbuf", type=int, default=0)
    args = ap.parse_args()
    state = State(args)
    open(args.record, "a").close()
    Server.rcvbuf = args.rcvbuf
    httpd = Server(("127.0.0.1", args.port), Handler)
    httpd.state = state

    servelib.serve(httpd, servelib.stop_on_signals(state.stop), args.pidfile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
