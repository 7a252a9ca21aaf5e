#!/usr/bin/python3
"""report.py DOC ROWS ID TITLE INTRO COLUMN...: put one result table into DOC.

ROWS holds the table's rows, one a line, cells separated by tabs. The table
replaces the section between "<!-- BEGIN ID -->" and "<!-- END ID -->" in
DOC (docs/reliability.md for `make reliability`, else an ignored copy under
build-report/), or is inserted among the other generated
sections in the order of their IDs. Everything outside the markers is left
alone. The file is rewritten under a lock (the plain and the ASan runs
may overlap: its directory is locked), and replaced atomically.
"""
import fcntl
import os
import re
import sys

SKELETON = """# Reliability: faults, hostile input, fuzzing

Generated sections below are written by `make reliability` (tests/faults).

"""


def table(title, intro, columns, rows):
    out = ["### %s" % title, ""]
    if intro:
        out += [intro, ""]
    out.append("| " + " | ".join(columns) + " |")
    out.append("|" + "---|" * len(columns))
    for r in rows:
        cells = [c.replace("|", "\\|") for c in r]
        cells += [""] * (len(columns) - len(cells))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main():
    doc, rows_file, sid, title, intro = sys.argv[1:6]
    columns = sys.argv[6:]
    with open(rows_file, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    begin = "<!-- BEGIN %s -->" % sid
    end = "<!-- END %s -->" % sid
    section = "%s\n%s%s\n" % (begin, table(title, intro, columns, rows), end)

    # the directory is the lock: no lock file is left behind
    lock = os.open(os.path.dirname(os.path.abspath(doc)), os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(doc, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            text = SKELETON
        pat = re.compile(r"<!-- BEGIN (\S+) -->\n.*?<!-- END \1 -->\n", re.S)
        found = [(m.group(1), m.start(), m.end()) for m in pat.finditer(text)]
        mine = [x for x in found if x[0] == sid]
        if mine:
            _, s, e = mine[0]
            text = text[:s] + section + text[e:]
        else:
            later = [x for x in found if x[0] > sid]
            if later:
                s = later[0][1]
                text = text[:s] + section + "\n" + text[s:]
            else:
                if not text.endswith("\n\n"):
                    text += "\n" if text.endswith("\n") else "\n\n"
                text += section
        tmp = "%s.tmp.%d" % (doc, os.getpid())
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.rename(tmp, doc)
    finally:
        os.close(lock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
