#!/usr/bin/python3
"""memscan.py --stdin FILE --stderr FILE --needle S [--needle S...] -- CMD [ARG...]

Runs CMD in filter mode with its stdout a pipe that nobody reads, so that it
blocks in write(2) on fd 1 once it has scanned, decided and started to write
the message out. At that moment it reads every mapping of the process's memory
(/proc/PID/mem: heap, stack, environment, libraries' data) and counts each
needle, then kills it. Prints one line: "blocked N N..." (the counts, in the
order of the needles), or "exited CODE" / "timeout" when CMD never blocked.

Mappings larger than --max-map bytes (default 1 GiB) are not read (the shadow
memory of an AddressSanitizer build is terabytes of reserved address space);
their number and size go to stderr. Needs the right to read /proc/PID/mem
(the same user without a ptrace restriction, or root).
"""
import argparse
import os
import signal
import subprocess
import sys
import time


def blocked_on_stdout(pid):
    try:
        with open("/proc/%d/syscall" % pid) as f:
            fields = f.read().split()
    except OSError:
        return False
    # "1 0x1 ...": write(2) on fd 1
    return len(fields) >= 2 and fields[0] == "1" and int(fields[1], 16) == 1


def scan(pid, needles, max_map):
    counts = [0] * len(needles)
    skipped = []
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            name = parts[5] if len(parts) > 5 else ""
            if "r" not in parts[1] or name in ("[vvar]", "[vsyscall]"):
                continue
            if hi - lo > max_map:
                skipped.append(hi - lo)
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except OSError:
                continue
            for i, n in enumerate(needles):
                counts[i] += data.count(n)
    if skipped:
        sys.stderr.write("memscan: %d mappings of %d bytes in all not read\n"
                         % (len(skipped), sum(skipped)))
    return counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stdin", required=True)
    ap.add_argument("--stderr", required=True)
    ap.add_argument("--needle", action="append", required=True)
    ap.add_argument("--max-map", type=int, default=1 << 30)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    needles = [n.encode() for n in a.needle]
    with open(a.stdin, "rb") as fin, open(a.stderr, "wb") as ferr:
        p = subprocess.Popen(cmd, stdin=fin, stdout=subprocess.PIPE, stderr=ferr)
    end = time.monotonic() + a.timeout
    try:
        while True:
            if p.poll() is not None:
                print("exited %d" % p.returncode)
                return 0
            if blocked_on_stdout(p.pid):
                # the same state twice, 50 ms apart: not a write that is just passing
                time.sleep(0.05)
                if blocked_on_stdout(p.pid):
                    break
            if time.monotonic() > end:
                print("timeout")
                return 0
            time.sleep(0.02)
        counts = scan(p.pid, needles, a.max_map)
        print("blocked " + " ".join(str(c) for c in counts))
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
