#!/usr/bin/python3
"""httpreq.py DIR METHOD URL [BODYFILE|- [HEADER...]]: one HTTP request with the stdlib
client, for tests/lib.sh's http_req.

Prints the status code (000 on a connection error or timeout); writes the response body
to DIR/http.body, its headers ("Name: value" lines) to DIR/http.headers, the elapsed
milliseconds to DIR/http.ms. HEADER is "Name: value"; HTTP_TIMEOUT: seconds (default 10).
"""
import http.client
import os
import sys
import time
import urllib.parse

tdir, method, url = sys.argv[1:4]
rest = sys.argv[4:]
body = None
if rest:
    src = rest.pop(0)
    if src != "-":
        with open(src, "rb") as f:
            body = f.read()
hdrs = []
for h in rest:
    k, _, v = h.partition(":")
    hdrs.append((k.strip(), v.strip()))
u = urllib.parse.urlsplit(url)
path = (u.path or "/") + ("?" + u.query if u.query else "")
timeout = float(os.environ.get("HTTP_TIMEOUT", "10"))
t0 = time.monotonic()
status, data, rhdrs = 0, b"", []
try:
    c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    c.putrequest(method, path, skip_accept_encoding=True)
    for k, v in hdrs:
        c.putheader(k, v)
    if body is not None:
        c.putheader("Content-Length", str(len(body)))
    c.endheaders(body)
    r = c.getresponse()
    data = r.read()
    status, rhdrs = r.status, r.getheaders()
except Exception as e:
    sys.stderr.write("http_req: %s %s: %s\n" % (method, url, e))
ms = int((time.monotonic() - t0) * 1000)
with open(os.path.join(tdir, "http.body"), "wb") as f:
    f.write(data)
with open(os.path.join(tdir, "http.headers"), "w") as f:
    f.writelines("%s: %s\n" % kv for kv in rhdrs)
with open(os.path.join(tdir, "http.ms"), "w") as f:
    f.write("%d\n" % ms)
print("%03d" % status)
