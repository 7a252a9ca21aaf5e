#!/usr/bin/python3
"""topblock.py block|kept|names|body|ended FILE [SPOOL_THRESHOLD]
   topblock.py badlines FILE NAME_REGEX
   topblock.py contains IN OUT: the top-level header block of a
message as VIOLATIONS.md defines it (an independent model of src/rewrite.c):

- a leading "From " line is not part of the block, if it ends in a newline;
- a field starts at a line that does not begin with a space or a tab and runs through its
  continuation lines; only LF ends a line (a bare CR does not);
- the block ends at the first empty line (LF or CRLF), or at the end of the message;
- a field's name is what precedes its first colon (continuation lines included), white
  space around it removed, up to a NUL; a field without a colon has the name "";
- in a message longer than SPOOL_THRESHOLD (default 1M) only the first SPOOL_THRESHOLD
  bytes are looked at, and a field that reaches that cut belongs to the body; when the block
  does not end before the cut, an empty line (LF) goes out there;
- a NUL in a kept field (or in the From_ line) goes out as a space.

block: the block's fields, byte for byte
kept:  the block's fields as they go out (a NUL as a space), minus those the default
       strip_headers (STRIP below) remove
names: the name of every field of the block, one a line (bytes, as they are)
body:  every byte after the block
ended: the message with the empty line that goes out at the cut, if there is one
contains: exit 0 if every field of IN's block that kept would print, except Subject (which
       a rewrite may replace), is also a field of OUT's block, byte for byte, as often
badlines: the lines of the fields whose name matches NAME_REGEX (Python, whole name) that
       are made up entirely of white space (RFC 5322, 3.2.2 forbids them in a folded
       field) or longer than 998 bytes without their line end (RFC 5322, 2.1.1)
"""
import re
import sys

THRESHOLD = 1024 * 1024


def split(data, threshold=THRESHOLD):
    start = 0
    if data.startswith(b"From ") and b"\n" in data:
        start = data.index(b"\n") + 1
    complete = len(data) <= threshold
    head = data if complete else data[:threshold]
    end = len(head)

    def after_line(p):
        nl = head.find(b"\n", p)
        return end if nl < 0 else nl + 1

    fields = []
    p = start
    while p < end and not (head.startswith(b"\n", p) or head.startswith(b"\r\n", p)):
        nxt = after_line(p)
        while nxt < end and head[nxt:nxt + 1] in (b" ", b"\t"):
            nxt = after_line(nxt)
        if not complete and nxt == end:
            break
        fields.append(head[p:nxt])
        p = nxt
    cut = not complete and not (head.startswith(b"\n", p) or head.startswith(b"\r\n", p))
    return start, fields, p, cut


def name_of(field):
    if b":" not in field:
        return b""
    return field.split(b":", 1)[0].strip(b" \t\n\r\v\f").split(b"\0", 1)[0]


STRIP = [b"x-spam*", b"x-rspamd-*", b"x-spot-*", b"x-virus-scanned", b"x-virus-status",
         b"x-amavis-*", b"x-bogosity", b"x-dspam-*", b"x-crm114-*"]


def stripped(name):
    n = name.lower()
    return any(n.startswith(p[:-1]) if p.endswith(b"*") else n == p for p in STRIP)


def main():
    what, path = sys.argv[1], sys.argv[2]
    if what == "contains":
        from collections import Counter
        _, fin, _, _ = split(open(path, "rb").read())
        _, fout, _, _ = split(open(sys.argv[3], "rb").read())
        want = Counter(f for f in fin if not stripped(name_of(f)) and name_of(f).lower() != b"subject")
        missing = want - Counter(fout)
        for f in missing:
            sys.stdout.buffer.write(b"missing: %r\n" % f[:80])
        sys.exit(1 if missing else 0)
    threshold = int(sys.argv[3]) if len(sys.argv) > 3 and what != "badlines" else THRESHOLD
    data = open(path, "rb").read()
    _, fields, end, cut = split(data, threshold)
    out = sys.stdout.buffer
    if what == "block":
        for f in fields:
            out.write(f)
    elif what == "kept":
        for f in fields:
            if not stripped(name_of(f)):
                out.write(f.replace(b"\0", b" "))
    elif what == "names":
        for f in fields:
            out.write(name_of(f) + b"\n")
    elif what == "badlines":
        pat = re.compile(sys.argv[3].encode())
        for f in fields:
            name = name_of(f)
            if not pat.fullmatch(name):
                continue
            lines = f.split(b"\n")
            if lines[-1] == b"":
                lines.pop()  # after the field's last newline
            for line in lines:
                text = line[:-1] if line.endswith(b"\r") else line
                if text.strip(b" \t") == b"" or len(text) > 998:
                    out.write(b"%s: %r (%d bytes)\n" % (name, text[:60], len(text)))
    elif what == "body":
        out.write(data[end:])
    elif what == "ended":
        out.write(data[:end] + (b"\n" if cut else b"") + data[end:])
    else:
        sys.exit(__doc__)


main()
