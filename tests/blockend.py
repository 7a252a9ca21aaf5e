#!/usr/bin/python3
"""blockend.py DIR ID: writes hostile messages whose header block a reader
could take to end somewhere else than spot-deliver does into DIR, one file a
message named ID-N.eml, and prints "ID-N<TAB>label" for each. Every message
forges X-SPOT-Is-Phishing: yes, X-Spam: Yes, X-Spam-Score: forged and
X-SPOT-Threat-Level: forged where spot-deliver does not look (in the body,
or past the first 64K of a longer header block), and its body holds
"X-Spam: Yes in the body". Its Message-ID is <ID-N@sender.example>.

  NUL:   in a kept field (LF, CR LF), in the From_ line, in a field with
         more empty lines behind it
  long:  a header block longer than 64K (spool_threshold = 64K): LF, CR LF,
         with a From_ line, cut inside a folded field
"""
import os
import sys

FORGED = [b"X-SPOT-Is-Phishing: yes", b"X-Spam: Yes", b"X-Spam-Score: forged",
          b"X-SPOT-Threat-Level: forged"]
LONG = 100 * 1024


def top(ident, eol, from_line=b""):
    return (from_line + b"From: Alice <alice@sender.example>" + eol +
            b"To: Bob <bob@example.net>" + eol +
            b"Message-ID: <" + ident.encode() + b"@sender.example>" + eol)


def forged(eol):
    return b"".join(f + eol for f in FORGED)


def body(eol):
    return b"body line" + eol + b"X-Spam: Yes in the body" + eol


def nul(ident, eol, from_line=b"", more_empty=False):
    subject = b"Subject: ab" if b"\0" in from_line else b"Subject: a\0b"
    m = top(ident, eol, from_line) + subject + eol + eol
    if more_empty:
        m += b"B" + eol + eol + b"C" + eol + eol
    return m + forged(eol) + eol + body(eol)


def long_block(ident, eol, from_line=b"", folded=False):
    m = top(ident, eol, from_line) + b"Subject: long" + eol
    i = 0
    if folded:
        m += b"X-Folded: start" + eol
    while len(m) < LONG:
        m += (b" continued " if folded else b"X-Filler-%d: aaaa" % i) + eol
        i += 1
    return m + forged(eol) + eol + body(eol)


def main():
    out, ident = sys.argv[1], sys.argv[2]
    cases = [
        ("NUL in a field, LF", lambda i: nul(i, b"\n")),
        ("NUL in a field, CRLF", lambda i: nul(i, b"\r\n")),
        ("NUL in the From_ line", lambda i: nul(
            i, b"\n", b"From alice\0@sender.example Mon Jan  1 12:00:00 2024\n")),
        ("NUL in a field, empty lines behind", lambda i: nul(i, b"\n", more_empty=True)),
        ("long block, LF", lambda i: long_block(i, b"\n")),
        ("long block, CRLF", lambda i: long_block(i, b"\r\n")),
        ("long block, From_ line", lambda i: long_block(
            i, b"\n", b"From alice@sender.example Mon Jan  1 12:00:00 2024\n")),
        ("long block, cut in a folded field", lambda i: long_block(i, b"\n", folded=True)),
    ]
    for n, (label, make) in enumerate(cases, 1):
        name = "%s-%d" % (ident, n)
        with open(os.path.join(out, name + ".eml"), "wb") as f:
            f.write(make(name))
        print("%s\t%s" % (name, label))


main()
