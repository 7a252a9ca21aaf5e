#!/usr/bin/python3
"""Generate the benchmark messages (deterministic, stdlib only).

Usage: bench/genmail.py OUTDIR NAME=BYTES [NAME=BYTES ...]

Each message has an ordinary top header block (Received chain, DKIM-Signature,
Message-ID, ... about 2 KB) and a multipart/mixed body: a text/plain and
text/html alternative (about 3 KB of prose) and, to reach the size asked for, a
base64 application/pdf attachment of seeded random bytes. Sizes are met to
within a few bytes. A file that already exists with the right size and the
same generator version is kept.
"""
import base64
import os
import random
import sys

VERSION = "3"
WORDS = ("account invoice meeting schedule project report budget quarterly review "
         "please find attached the latest figures for our discussion next week thanks "
         "regards team update customer delivery order shipment confirmed tomorrow "
         "morning office agenda minutes notes draft final version comments").split()


def prose(rng, n):
    out, line = [], []
    while sum(len(w) + 1 for w in out) < n:
        w = rng.choice(WORDS)
        out.append(w)
    text, col = [], 0
    for w in out:
        if col + len(w) + 1 > 72:
            text.append("\n")
            col = 0
        elif col:
            text.append(" ")
            col += 1
        text.append(w)
        col += len(w)
    return "".join(text) + "\n"


def headers(rng, name):
    h = []
    hops = [("mx1.example.net", "203.0.113.25", "mail.sender.example.org"),
            ("relay2.example.net", "198.51.100.7", "mx1.example.net"),
            ("smtp.sender.example.org", "192.0.2.10", "client.sender.example.org")]
    for i, (by, ip, frm) in enumerate(hops):
        h.append("Received: from %s (%s [%s])\n\tby %s (Postfix) with ESMTPS id 4Z%07X\n"
                 "\tfor <alice@example.com>; Tue, 25 Nov 2025 10:%02d:%02d +0000 (UTC)"
                 % (frm, frm, ip, by, rng.getrandbits(28), 10 + i, rng.randrange(60)))
    h.append("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=sender.example.org;\n"
             "\ts=mail; t=1764065400; bh=%s;\n\th=From:To:Subject:Date:Message-ID;\n\tb=%s"
             % (base64.b64encode(rng.randbytes(32)).decode(),
                "\n\t  ".join(base64.b64encode(rng.randbytes(256)).decode()[i:i + 70]
                              for i in range(0, 344, 70))))
    h.append("From: Bob Sender <bob@sender.example.org>")
    h.append("To: Alice Example <alice@example.com>")
    h.append("Subject: Quarterly figures and agenda (%s)" % name)
    h.append("Date: Tue, 25 Nov 2025 10:12:00 +0000")
    h.append("Message-ID: <%s.%s@sender.example.org>" % (name, rng.getrandbits(64)))
    h.append("MIME-Version: 1.0")
    h.append('Content-Type: multipart/mixed; boundary="=_mixed_%s"' % name)
    h.append("X-Mailer: bench-genmail %s" % VERSION)
    h.append("X-SPOT-Is-Phishing: no")  # a forged header spot-deliver strips
    return "\n".join(h) + "\n\n"


def message(name, size):
    rng = random.Random("%s-%d" % (name, size))
    text = prose(rng, 1200)
    html = "<html><body>\n" + "".join("<p>%s</p>\n" % p for p in prose(rng, 1100).split("\n") if p) \
        + "</body></html>\n"
    mb = "=_mixed_%s" % name
    ab = "=_alt_%s" % name
    head = headers(rng, name)
    body = ("This is a multi-part message in MIME format.\n\n--%s\n"
            'Content-Type: multipart/alternative; boundary="%s"\n\n'
            "--%s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n%s\n"
            "--%s\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n%s\n"
            "--%s--\n" % (mb, ab, ab, text, ab, html, ab))
    tail = "--%s--\n" % mb
    msg = head + body
    room = size - len(msg) - len(tail)
    att_head = ("--%s\nContent-Type: application/pdf; name=\"figures.pdf\"\n"
                "Content-Disposition: attachment; filename=\"figures.pdf\"\n"
                "Content-Transfer-Encoding: base64\n\n" % mb)
    if room > len(att_head) + 200:
        b64room = room - len(att_head) - 1
        nlines, rest = divmod(b64room, 77)  # 76 chars + LF
        raw = rng.randbytes((nlines * 76 + 76) // 4 * 3 + 3)
        enc = base64.b64encode(raw).decode()
        lines = [enc[i * 76:(i + 1) * 76] for i in range(nlines)]
        last = enc[nlines * 76:nlines * 76 + max(rest - 1, 0)]
        last = last[:len(last) // 4 * 4]
        if last:
            lines.append(last)
        msg += att_head + "\n".join(lines) + "\n\n"
    else:
        msg += "\n" * max(room, 0)
    msg += tail
    return msg.encode()


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for spec in sys.argv[2:]:
        name, _, size = spec.partition("=")
        size = int(size)
        path = os.path.join(out, name + ".eml")
        stamp = path + ".v"
        try:
            with open(stamp) as f:
                ok = f.read().strip() == "%s %d" % (VERSION, size)
        except OSError:
            ok = False
        if ok and os.path.exists(path):
            continue
        data = message(name, size)
        with open(path + ".tmp", "wb") as f:
            f.write(data)
        os.rename(path + ".tmp", path)
        with open(stamp, "w") as f:
            f.write("%s %d\n" % (VERSION, size))
        print("generated %s (%d bytes)" % (path, len(data)))


if __name__ == "__main__":
    main()
