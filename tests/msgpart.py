#!/usr/bin/python3
"""msgpart.py head|body|header NAME|without REGEX FILE: print a part of a message.

head: the top header block (after a leading "From " line), body: every byte
after the empty line that ends the block (what spot-deliver must never
change; it writes that line itself, as a bare LF), header NAME: the unfolded values of every NAME field, one a line,
without REGEX: the head byte for byte minus the fields whose name matches."""
import re
import sys


def split(data):
    start = 0
    if data.startswith(b"From "):
        nl = data.find(b"\n")
        start = len(data) if nl < 0 else nl + 1
    pos = start
    while pos < len(data):
        if data.startswith(b"\n", pos) or data.startswith(b"\r\n", pos):
            break
        nl = data.find(b"\n", pos)
        pos = len(data) if nl < 0 else nl + 1
    return data[:start], data[start:pos], data[pos:]


def raw_fields(head):
    return re.split(rb"(?<=\n)(?![ \t])", head)


def fields(head):
    out = []
    for line in re.split(rb"\r?\n(?![ \t])", head):
        if b":" in line:
            name, value = line.split(b":", 1)
            out.append((name.strip().decode("latin-1"),
                        re.sub(rb"\r?\n", b"", value).strip()))
    return out


def main():
    what, path = sys.argv[1], sys.argv[-1]
    with open(path, "rb") as f:
        _, head, body = split(f.read())
    out = sys.stdout.buffer
    if what == "head":
        out.write(head)
    elif what == "body":
        out.write(body[2:] if body.startswith(b"\r\n") else body[1:])
    elif what == "without":
        drop = re.compile(sys.argv[2].encode(), re.I)
        for field in raw_fields(head):
            name = field.split(b":", 1)[0].strip() if b":" in field else None
            if name is None or not drop.fullmatch(name):
                out.write(field)
    elif what == "header":
        for name, value in fields(head):
            if name.lower() == sys.argv[2].lower():
                out.write(value + b"\n")
    else:
        sys.exit(__doc__)


main()
