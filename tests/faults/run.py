#!/usr/bin/python3
"""run.py [OPTIONS] -- CMD [ARG...]: run one command the way a fault needs it.

Prints one line: "exit N MS", "signal N MS" or "timeout - MS" (MS: the
elapsed wall-clock milliseconds from the fork to the end of the command).

  --stdin FILE|closed     FILE (default: run.py's own stdin), or fd 0 not open at all
  --stdout FILE|append:FILE|closed|full|epipe|epipe-after=N
                          FILE (default /dev/null); FILE opened with O_APPEND; fd 1 not open; /dev/full;
                          a pipe whose reading end is closed before the start;
                          a pipe read for N bytes and then closed
  --stderr FILE           default /dev/null
  --signal SIG --when FILE --lines N
                          send SIG (TERM, INT, HUP...) once FILE has N lines
  --kill-after SEC        SIGKILL the command after SEC seconds (default 120):
                          a hang becomes "timeout", never a stuck test
"""
import argparse
import os
import signal
import subprocess
import sys
import time


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stdin", default="-")
    ap.add_argument("--stdout", default="/dev/null")
    ap.add_argument("--stderr", default="/dev/null")
    ap.add_argument("--signal")
    ap.add_argument("--when")
    ap.add_argument("--lines", type=int, default=1)
    ap.add_argument("--kill-after", type=float, default=120.0)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command")

    close = []
    stdin = stdout = None
    reader = writer = None
    read_after = None
    if a.stdin == "closed":
        close.append(0)
        stdin = subprocess.DEVNULL
    elif a.stdin == "-":
        stdin = None
    else:
        stdin = os.open(a.stdin, os.O_RDONLY)  # a directory too: a read error (EISDIR)
    if a.stdout == "closed":
        close.append(1)
        stdout = subprocess.DEVNULL
    elif a.stdout.startswith("append:"):
        stdout = open(a.stdout[len("append:"):], "ab")
    elif a.stdout == "full":
        stdout = open("/dev/full", "wb")
    elif a.stdout == "epipe" or a.stdout.startswith("epipe-after="):
        r, w = os.pipe()
        if a.stdout == "epipe":
            os.close(r)
        else:
            reader = r
            read_after = int(a.stdout.split("=", 1)[1])
        stdout = writer = w
    else:
        stdout = open(a.stdout, "wb")
    stderr = open(a.stderr, "wb")

    def pre():
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        for fd in close:
            os.close(fd)

    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=stderr,
                         preexec_fn=pre, close_fds=True)
    if writer is not None:
        os.close(writer)
    if reader is not None:
        got = 0
        while got < read_after:
            b = os.read(reader, min(65536, read_after - got))
            if not b:
                break
            got += len(b)
        os.close(reader)
    sig = getattr(signal, "SIG" + a.signal) if a.signal else None
    deadline = t0 + a.kill_after
    status = None
    while True:
        if sig is not None and count_lines(a.when) >= a.lines:
            time.sleep(0.05)  # let the request settle into its wait
            p.send_signal(sig)
            sig = None
        rc = p.poll()
        if rc is not None:
            status = rc
            break
        if time.monotonic() >= deadline:
            p.kill()
            p.wait()
            break
        time.sleep(0.005)
    ms = int((time.monotonic() - t0) * 1000)
    if status is None:
        print("timeout - %d" % ms)
    elif status < 0:
        print("signal %d %d" % (-status, ms))
    else:
        print("exit %d %d" % (status, ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
