#!/usr/bin/python3
"""Stand-in SPOT phishing-analysis API for tests and the demo (see docs/spot-api.md).

Usage:
  /usr/bin/python3 tests/spot-api.py --port PORT --key KEY --record DIR
        [--key KEY2 ...] [--default "DIRECTIVES"] [--pidfile FILE] [--address 127.0.0.1]
        [--tls-cert CERT.pem --tls-key KEY.pem]

PORT 0 picks a free port; "ready PORT" (the real port) is printed on stdout once
the server listens. Every request is recorded in DIR as NNNN.json + NNNN.body.
SIGTERM or SIGINT stops it cleanly, even while requests hang.
"""
import argparse
import hashlib
import http.server
import json
import os
import re
import ssl
import sys
import threading
import time
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the tree
import servelib  # noqa: E402

HANG_SECONDS = 24 * 3600
FLAGS = {"phishing", "clean", "hang", "garbage", "truncated", "wrongshape", "empty", "no-location"}
LEVELS = {"high", "medium", "low", "none"}
FINALS = {"analyzed", "timeout", "rejected"}


class DirectiveError(ValueError):
    pass


def parse_directives(text):
    """Parse "phishing async=2 delay=100 ..." into a dict; raise DirectiveError."""
    d = {}
    for tok in text.split():
        name, eq, val = tok.partition("=")
        name = name.lower()
        if not eq:
            if name not in FLAGS:
                raise DirectiveError("unknown directive %r" % tok)
            if name in ("phishing", "clean"):
                d["phishing"] = name == "phishing"
            else:
                d[name] = True
            continue
        try:
            if name == "level":
                if val not in LEVELS:
                    raise DirectiveError("level must be one of %s" % "|".join(sorted(LEVELS)))
                d["level"] = val
            elif name == "confidence":
                c = float(val)
                if not 0.0 <= c <= 1.0:
                    raise DirectiveError("confidence must be within 0..1")
                d["confidence"] = c
            elif name in ("async", "delay", "retry-after"):
                n = int(val)
                if n < 0:
                    raise DirectiveError("%s must not be negative" % name)
                d[name] = n
            elif name == "status":
                n = int(val)
                if not 100 <= n <= 599:
                    raise DirectiveError("status must be 100..599")
                d["status"] = n
            elif name == "final":
                if val not in FINALS:
                    raise DirectiveError("final must be one of %s" % "|".join(sorted(FINALS)))
                d["final"] = val
            else:
                raise DirectiveError("unknown directive %r" % tok)
        except ValueError as e:
            if isinstance(e, DirectiveError):
                raise
            raise DirectiveError("bad value in %r" % tok)
    return d


def header_block(body):
    """The top-level header block of a raw message (bytes), without the blank line."""
    m = re.search(rb"\r?\n\r?\n", body)
    return body[:m.start()] if m else body


def message_directives(body):
    """Concatenated values of all X-Test-Spot headers, or None when there is none."""
    block = header_block(body)
    if block.startswith(b"From "):  # mbox separator line
        block = block.split(b"\n", 1)[1] if b"\n" in block else b""
    unfolded = re.sub(rb"\r?\n[ \t]+", b" ", block)
    vals = []
    for line in re.split(rb"\r?\n", unfolded):
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"x-test-spot":
            vals.append(value.decode("utf-8", "replace").strip())
    return " ".join(vals) if vals else None


def format_record(rec):
    """JSON with one top-level key per line and one [name, value] header pair per line."""
    out = []
    for k, v in rec.items():
        if k == "headers":
            pairs = ",\n  ".join(json.dumps(h) for h in v)
            out.append(' "headers": [\n  %s\n ]' % pairs if v else ' "headers": []')
        else:
            out.append(" %s: %s" % (json.dumps(k), json.dumps(v)))
    return "{\n" + ",\n".join(out) + "\n}\n"


class Job:
    def __init__(self, job_id, directives, text):
        self.job_id = job_id
        self.d = directives
        self.text = text
        self.polls = 0
        self.posts = 0

    def done(self):
        return self.polls >= self.d.get("async", 0)


class State:
    def __init__(self, args):
        self.keys = set(args.key)
        self.record = args.record
        self.default_text = args.default or ""
        self.default = parse_directives(self.default_text)
        self.lock = threading.Lock()
        self.seq = 0
        self.jobs = {}
        self.stop = threading.Event()


def write_atomic(path, data):
    tmp = "%s.tmp.%d.%d" % (path, os.getpid(), threading.get_ident())
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "spot-api-standin/1"

    # ----- plumbing
    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (time.strftime("%H:%M:%S"), fmt % args))
        sys.stderr.flush()

    @property
    def st(self):
        return self.server.state

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send(self, code, body=b"", ctype="application/json", extra=()):
        try:
            self.send_response(code)
            if code not in (204, 304) and not 100 <= code < 200:
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            if body and code not in (204, 304):
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def send_json(self, code, obj, extra=()):
        self.send(code, json.dumps(obj).encode() + b"\n", extra=extra)

    def record(self, body, job_id, status, **more):
        st = self.st
        with st.lock:
            st.seq += 1
            n = st.seq
        base = os.path.join(st.record, "%04d" % n)
        write_atomic(base + ".body", body)
        rec = {
            "seq": n,
            "time": time.time(),
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_length": len(body),
            "job_id": job_id,
            "status": status,
        }
        rec.update(more)
        write_atomic(base + ".json", format_record(rec).encode())

    def authorized(self):
        auth = self.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        return scheme.lower() == "bearer" and token.strip() in self.st.keys

    def sleep(self, ms):
        if ms:
            self.st.stop.wait(ms / 1000.0)

    # ----- verdicts
    @staticmethod
    def json_resp(code, obj, hdrs=()):
        return (code, json.dumps(obj).encode() + b"\n", "application/json", list(hdrs))

    def final_answer(self, job):
        """The (code, body, content type, headers) the directives make the final answer."""
        d = job.d
        hdrs = []
        if "retry-after" in d:
            hdrs.append(("Retry-After", str(d["retry-after"])))
        if "status" in d:
            code = d["status"]
            return self.json_resp(code, {"error": "stand-in status %d" % code,
                                         "job_id": job.job_id}, hdrs)
        if d.get("garbage"):
            return (200, b"<html><body>Internal gateway page, not JSON</body></html>\n",
                    "text/html", hdrs)
        if d.get("empty"):
            return (200, b"", "application/json", hdrs)
        if d.get("wrongshape"):
            return self.json_resp(200, [job.job_id, "analyzed", d.get("phishing", False)], hdrs)
        verdict = self.verdict(job)
        if d.get("truncated"):
            raw = json.dumps(verdict).encode()
            return (200, raw[:len(raw) // 2], "application/json", hdrs)
        return self.json_resp(200, verdict, hdrs)

    def hang(self):
        """Never answer: sleep until the server stops, then drop the connection."""
        self.st.stop.wait(HANG_SECONDS)
        self.close_connection = True

    @staticmethod
    def verdict(job):
        d = job.d
        final = d.get("final", "analyzed")
        v = {"job_id": job.job_id, "status": final}
        if final == "analyzed":
            phish = d.get("phishing", False)
            v["is_phishing"] = phish
            v["threat_level"] = d.get("level", "high" if phish else "none")
            v["confidence"] = d.get("confidence", 0.91 if phish else 0.97)
        return v

    def pending_answer(self, job, code, location):
        hdrs = [("Location", "/jobs/%s" % job.job_id)] if location else []
        return self.json_resp(code, {"job_id": job.job_id, "status": "accepted"}, hdrs)

    # ----- methods
    def do_POST(self):
        body = self.read_body()
        if self.path.split("?")[0] == "/_control":
            return self.control(body)
        st = self.st
        if not self.authorized():
            self.record(body, None, 401)
            return self.send(*self.unauthorized())
        text = message_directives(body)
        source = "message"
        warnings = []
        if text is None:
            text, source = st.default_text, "default"
        try:
            d = parse_directives(text)
        except DirectiveError as e:
            warnings.append(str(e))
            d = {}
        idem = self.headers.get("Idempotency-Key")
        with st.lock:
            if idem:
                job_id = "job-" + hashlib.sha256(idem.encode()).hexdigest()[:24]
            else:
                job_id = "job-" + uuid.uuid4().hex[:24]
            job = st.jobs.get(job_id)
            duplicate = job is not None
            if job is None:
                job = st.jobs[job_id] = Job(job_id, d, text)
            job.posts += 1
            posts = job.posts
        more = dict(directives=text, directives_from=source, duplicate=duplicate, posts=posts)
        if warnings:
            more["warnings"] = warnings
        self.sleep(job.d.get("delay", 0))
        if job.d.get("hang") and job.done():
            self.record(body, job_id, None, hang=True, **more)
            return self.hang()
        if job.done():
            resp = self.final_answer(job)
        else:
            resp = self.pending_answer(job, 202, not job.d.get("no-location"))
        # Record first: a client that got the answer finds the record complete.
        self.record(body, job_id, resp[0], **more)
        self.send(*resp)

    def do_GET(self):
        path = self.path.split("?")[0]
        st = self.st
        if path == "/_requests":
            with st.lock:
                n = st.seq
            return self.send_json(200, {"count": n})
        if path == "/_control":
            return self.send_json(200, {"default": st.default_text})
        if not self.authorized():
            self.record(b"", None, 401)
            return self.send(*self.unauthorized())
        job_id = path.rstrip("/").rsplit("/", 1)[-1]
        with st.lock:
            job = st.jobs.get(job_id)
            if job is not None and not job.done():
                job.polls += 1
            polls = job.polls if job else 0
        if job is None:
            self.record(b"", None, 404)
            return self.send(*self.json_resp(404, {"error": "unknown job", "job_id": job_id}))
        self.sleep(job.d.get("delay", 0))
        more = dict(directives=job.text, polls=polls)
        if job.d.get("hang") and job.done():
            self.record(b"", job.job_id, None, hang=True, **more)
            return self.hang()
        if job.done():
            resp = self.final_answer(job)
        else:
            resp = self.pending_answer(job, 200, False)
        self.record(b"", job.job_id, resp[0], **more)
        self.send(*resp)

    def unauthorized(self):
        return self.json_resp(401, {"error": "missing or invalid API key"},
                              [("WWW-Authenticate", 'Bearer realm="spot"')])

    def control(self, body):
        text = body.decode("utf-8", "replace").strip()
        try:
            d = parse_directives(text)
        except DirectiveError as e:
            return self.send_json(400, {"error": str(e)})
        with self.st.lock:
            self.st.default_text, self.st.default = text, d
        self.send_json(200, {"default": text})

    def do_PUT(self):
        self.read_body()
        self.send_json(405, {"error": "method not allowed"}, [("Allow", "GET, POST")])

    do_DELETE = do_PATCH = do_PUT


def main():
    ap = argparse.ArgumentParser(description="stand-in SPOT phishing-analysis API")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--key", action="append", required=True,
                    help="accepted Bearer key (repeatable)")
    ap.add_argument("--record", required=True, help="directory for NNNN.json/NNNN.body")
    ap.add_argument("--default", default="", help="directives for messages without X-Test-Spot")
    ap.add_argument("--pidfile")
    ap.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    ap.add_argument("--tls-key", help="the certificate's private key (PEM)")
    args = ap.parse_args()
    try:
        state = State(args)
    except DirectiveError as e:
        ap.error("--default: %s" % e)
    os.makedirs(args.record, exist_ok=True)

    httpd = servelib.HTTPServer((args.address, args.port), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    httpd.state = state
    servelib.serve(httpd, servelib.stop_on_signals(state.stop), args.pidfile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
