#!/usr/bin/python3
"""matrixmsg.py FILE: writes the fault tests' message (tests/faults/faultlib.sh's MSG) to FILE.

150 KB, CRLF, multipart with a 140 KB base64 attachment, a forged X-Spam-Flag and
X-SPOT-Status in the top block, a message/rfc822 part with its own X-Spam header.
"""
import base64, sys
att = base64.encodebytes(bytes((i * 7 + 3) % 256 for i in range(105000))).replace(b"\n", b"\r\n")
parts = [
    b"From: Alice <alice@example.org>",
    b"To: Bob <bob@example.net>",
    b"Subject: fault matrix",
    b"Date: Mon, 02 Feb 2026 10:00:00 +0000",
    b"Message-ID: <fault-matrix@example.org>",
    b"X-Spam-Flag: YES",
    b"X-SPOT-Status: analyzed",
    b"MIME-Version: 1.0",
    b'Content-Type: multipart/mixed; boundary="b1"',
    b"",
    b"--b1",
    b"Content-Type: text/plain; charset=utf-8",
    b"",
    b"Hello Bob,\r\nthe attachment follows.",
    b"--b1",
    b"Content-Type: message/rfc822",
    b"",
    b"From: inner@example.org\r\nX-Spam: Yes\r\nSubject: inner\r\n\r\ninner body",
    b"--b1",
    b"Content-Type: application/octet-stream",
    b"Content-Transfer-Encoding: base64",
    b'Content-Disposition: attachment; filename="data.bin"',
    b"",
    att + b"--b1--",
    b"",
]
open(sys.argv[1], "wb").write(b"\r\n".join(parts))
