#!/usr/bin/python3
"""eolmatrix.py DIR ID: writes hostile messages with an empty line in the
"other" line ending into DIR, one file a message named ID-N.eml, and prints
"ID-N<TAB>label" for each. Every message forges X-SPOT-Is-Phishing: yes,
X-Spam: Yes, X-Spam-Score: forged and X-SPOT-Threat-Level: forged before and
after that line, and its body (when it has one) holds "X-Spam: Yes in the
body", in the message's own ending. Its Message-ID is <ID-N@sender.example>.

  line endings: LF with a CR LF empty line; CR LF with a bare LF empty line;
                a CR LF first line, then LF with a CR LF empty line
  From_ line:   none, or one
  odd line:     after Subject, as the very first line, or none at all
  body:         none, or two lines
"""
import os
import sys

FAMILIES = [
    ("LF", b"\n", b"\n", b"\r\n"),
    ("CRLF", b"\r\n", b"\r\n", b"\n"),
    ("CRLF first line, then LF", b"\r\n", b"\n", b"\r\n"),
]


def message(ident, first, eol, odd, from_line, odd_at, body):
    forged = [b"X-SPOT-Is-Phishing: yes", b"X-Spam: Yes", b"X-Spam-Score: forged",
              b"X-SPOT-Threat-Level: forged"]
    m = b""
    if from_line:
        m += b"From alice@sender.example Mon Jan  1 12:00:00 2024\n"
    if odd_at == "first":
        m += odd
    m += b"From: Alice <alice@sender.example>" + (eol if odd_at == "first" else first)
    m += b"To: Bob <bob@example.net>" + eol
    m += b"Message-ID: <" + ident.encode() + b"@sender.example>" + eol
    m += b"".join(f + eol for f in forged)
    m += b"Subject: line endings" + eol
    if odd_at == "after Subject":
        m += odd
    m += b"".join(f + eol for f in forged)
    if body:
        m += eol + b"body line" + eol + b"X-Spam: Yes in the body" + eol
    return m


def main():
    out, prefix = sys.argv[1], sys.argv[2]
    n = 0
    for label, first, eol, odd in FAMILIES:
        for from_line in (False, True):
            for odd_at in ("after Subject", "first", "none"):
                for body in (False, True):
                    n += 1
                    ident = "%s-%d" % (prefix, n)
                    with open(os.path.join(out, ident + ".eml"), "wb") as f:
                        f.write(message(ident, first, eol, odd, from_line, odd_at, body))
                    print("%s\t%s%s, odd empty line %s, %s" % (
                        ident, label, ", From_ line" if from_line else "",
                        odd_at if odd_at != "none" else "absent",
                        "body" if body else "no body"))


main()
