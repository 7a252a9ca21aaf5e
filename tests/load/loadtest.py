#!/usr/bin/python3
"""Load test: N deliveries through spot-deliver, C at a time (as under Postfix's
process limit), against two Rspamd servers of which one fails in the middle of
the run and comes back. Every message must end delivered exactly once with its
bytes intact, or with exit 75 and then delivered by a retry run.

usage: loadtest.py --bin BIN --rspamd-dir DIR --rspamd-port P --other-url URL
                   --work DIR [--n 1000] [--concurrency 20] [--fault stop|hang]
                   [--memory yes|no] [--json FILE]

--fault stop: the instance in --rspamd-dir is stopped (scripts/rspamd-local stop)
after 20% of the messages and started again after 60% (connections refused).
--fault hang: it is frozen with SIGSTOP instead and thawed with SIGCONT (it
accepts connections and never answers: the case a dead-host memory is for).
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_message(i):
    return ("From: load%d@example.org\nTo: rcpt%d@example.net\nSubject: load test %d\n"
            "Message-ID: <load-%d@example.org>\nDate: Tue, 24 Nov 2026 12:00:00 +0000\n"
            "X-Spam: forged\n\nMessage %d of the load test.\n%s\n"
            % (i, i, i, i, i, "x" * (i % 200))).encode()


def body_of(data):
    pos = 0
    while pos < len(data) and not data.startswith(b"\n", pos):
        nl = data.find(b"\n", pos)
        pos = len(data) if nl < 0 else nl + 1
    return data[pos:]


def rspamd_pids(rdir):
    try:
        main = int(open(os.path.join(rdir, "run", "rspamd.pid")).read().strip())
    except (OSError, ValueError):
        return []
    kids = subprocess.run(["pgrep", "-P", str(main)], capture_output=True, text=True).stdout.split()
    return [main] + [int(k) for k in kids]


def fault(args, on):
    script = os.path.join(ROOT, "scripts", "rspamd-local")
    if args.fault == "stop":
        cmd = ["start", args.rspamd_dir, str(args.rspamd_port)] if not on else ["stop", args.rspamd_dir]
        subprocess.run([script] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    else:
        for pid in rspamd_pids(args.rspamd_dir):
            try:
                os.kill(pid, signal.SIGSTOP if on else signal.SIGCONT)
            except OSError:
                pass


def deliver(args, i, attempt, results):
    msgdir = os.path.join(args.work, "msgs")
    out = os.path.join(args.work, "delivered", "%04d.%d" % (i, attempt))
    state = os.path.join(args.work, "state") if args.memory == "yes" else "/nonexistent/spot-deliver"
    cmd = [args.bin, "--log", "none", "-c", "/dev/null",
           "--rspamd-url", "%s, http://127.0.0.1:%d" % (args.other_url, args.rspamd_port),
           "--timeout-ms", "2000", "--on-timeout", "block",
           "-o", "state_dir=" + state, "-o", "max_errors=3", "-o", "error_time=10",
           "-o", "dead_time=2",
           "--queue-id", "L%d" % i, "--", os.path.join(ROOT, "tests", "lda-capture"), out]
    t0 = time.monotonic()
    with open(os.path.join(msgdir, "%04d.eml" % i), "rb") as f:
        rc = subprocess.run(cmd, stdin=f, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    results[i] = (rc, time.monotonic() - t0)


def run_round(args, todo, attempt, inject):
    results = {}
    sem = threading.Semaphore(args.concurrency)
    threads = []
    n = len(todo)
    marks = {int(n * 0.2): True, int(n * 0.6): False} if inject else {}
    faults = []
    t0 = time.monotonic()
    for k, i in enumerate(todo):
        if k in marks:  # in the background: deliveries go on meanwhile
            if faults:
                faults[-1].join()
            faults.append(threading.Thread(target=fault, args=(args, marks[k])))
            faults[-1].start()
        sem.acquire()

        def work(i=i):
            try:
                deliver(args, i, attempt, results)
            finally:
                sem.release()
        t = threading.Thread(target=work)
        t.start()
        threads.append(t)
    for t in threads + faults:
        t.join()
    return results, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rspamd-dir", required=True)
    ap.add_argument("--rspamd-port", type=int, required=True)
    ap.add_argument("--other-url", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--fault", choices=("stop", "hang"), default="stop")
    ap.add_argument("--memory", choices=("yes", "no"), default="yes")
    ap.add_argument("--json")
    ap.add_argument("--no-fault", action="store_true", help="a baseline run")
    args = ap.parse_args()
    for d in ("msgs", "delivered", "state"):
        os.makedirs(os.path.join(args.work, d), exist_ok=True)
    for i in range(args.n):
        with open(os.path.join(args.work, "msgs", "%04d.eml" % i), "wb") as f:
            f.write(make_message(i))

    results, wall = run_round(args, list(range(args.n)), 1, not args.no_fault)
    fault(args, False)  # whatever happened, the instance is back
    deferred = sorted(i for i, (rc, _) in results.items() if rc == 75)
    other = sorted(i for i, (rc, _) in results.items() if rc not in (0, 75))
    retry = {}
    if deferred:
        retry, _ = run_round(args, deferred, 2, False)
    lat = sorted(t for _, t in results.values())

    problems = []
    for i in range(args.n):
        files = [f for f in os.listdir(os.path.join(args.work, "delivered"))
                 if f.startswith("%04d." % i) and f.count(".") == 1]
        if len(files) != 1:
            problems.append("message %d delivered %d times" % (i, len(files)))
            continue
        got = open(os.path.join(args.work, "delivered", files[0]), "rb").read()
        if body_of(got) != body_of(make_message(i)):
            problems.append("message %d: body changed" % i)
        if b"X-Spam: forged" in got:
            problems.append("message %d: forged header kept" % i)
    problems += ["message %d: exit %d" % (i, results[i][0]) for i in other]
    problems += ["message %d: exit %d on retry" % (i, retry[i][0]) for i in retry if retry[i][0] != 0]
    report = {
        "n": args.n, "concurrency": args.concurrency, "fault": args.fault, "memory": args.memory,
        "wall_s": round(wall, 2), "msgs_per_s": round(args.n / wall, 1),
        "latency_ms_median": round(statistics.median(lat) * 1000, 1),
        "latency_ms_p99": round(lat[int(len(lat) * 0.99) - 1] * 1000, 1),
        "latency_ms_sum": round(sum(lat) * 1000),
        "deferred_75": len(deferred), "retried_ok": sum(1 for rc, _ in retry.values() if rc == 0),
        "problems": problems[:20], "problem_count": len(problems),
    }
    print(json.dumps(report))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f)
    sys.exit(1 if problems else 0)


main()
