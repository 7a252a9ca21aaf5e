#!/usr/bin/python3
"""make bench: spot-deliver against rspamc and cat, in one run (issue 8).

Usage: /usr/bin/python3 bench/bench.py --bin PATH [--quick] [--reps-scale X]

Needs: rspamd (rspamd, rspamc), valgrind, gnuplot, cc and the build libraries
(scripts/install-deps.sh bench). Starts its own rspamd (scripts/rspamd-local)
and the stand-in SPOT API (scripts/spot-api-local) on loopback, everything
under bench/work/ (git-ignored), and stops them at the end.

What one "delivery" is, for every client: the message is written into a pipe
(as Postfix's pipe(8) does) by this script; the client reads it from its
standard input; it is started and reaped by bench/runner (a small static
program: see runner.c for why not by Python); the final LDA is bench/lda
(copies its stdin to a file), the same program for all of them:
  cat            cat > FILE                       (the floor: only a copy)
  rspamc         rspamc -h 127.0.0.1:PORT --mime --exec "bench/lda FILE"
  sd-rspamd      spot-deliver (Rspamd only)    -- bench/lda FILE
  sd-both        spot-deliver (Rspamd and API) -- bench/lda FILE
  sd-api         spot-deliver (API only)       -- bench/lda FILE
Client CPU is user + system time of the process tree from wait4(2) (the client
and every descendant it waited for: rspamc's LDA, spot-deliver's exec'd LDA),
wall time is fork to reap (in the runner), peak RSS is wait4's ru_maxrss (the largest process
of the tree; for spot-deliver it covers the time before the exec too).

Writes bench/results.md, bench/results.png and bench/work/results.json, and
prints the table.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work")
SENDER = "bob@sender.example.org"
RCPT = "alice@example.com"
API_KEY = "bench-key-0123456789abcdef"
API_DELAY_MS = 20
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
       "LC_ALL": "C", "HOME": WORK}

# name, bytes, repetitions
SIZES = [("5k", 5 * 1024, 60), ("100k", 100 * 1024, 40), ("1m", 1024 * 1024, 30),
         ("25m", 25 * 1024 * 1024, 15)]
TP_N, TP_CONC, TP_REPS = 200, 20, 7
# empty programs linked against spot-deliver's libraries, one at a time, then all
LINKSETS = [("libc", [], []), ("cjson", ["CJSON"], ["libcjson"]), ("glib", ["GLIB"], ["glib-2.0"]),
            ("gmime", ["GMIME"], ["gmime-3.0"]), ("curl", ["CURL"], ["libcurl"]),
            ("all", ["GMIME", "CURL", "CJSON"], ["gmime-3.0", "libcurl", "libcjson"])]

LABELS = {
    "cat": "cat > file (floor)",
    "rspamc": "rspamc --mime --exec",
    "sd-rspamd": "spot-deliver, Rspamd",
    "sd-both": "spot-deliver, Rspamd + API",
    "sd-api": "spot-deliver, API only",
    "sd-rspamd-30M": "spot-deliver, Rspamd, scan_max_size=30M",
    "sd-both-30M": "spot-deliver, Rspamd + API, scan_max_size=30M",
    "sd-api-30M": "spot-deliver, API only, scan_max_size=30M",
    "linkfloor": "empty main() linked like spot-deliver (no delivery)",
    "sd-rspamd-nostate": "spot-deliver, Rspamd, state_dir empty (no counters)",
}


def log(msg):
    print("bench: %s" % msg, flush=True)


def die(msg):
    print("bench: error: %s" % msg, file=sys.stderr, flush=True)
    sys.exit(1)


# ---------------------------------------------------------------- statistics
def quantile(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    pos = (len(xs) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summary(xs):
    return {"median": statistics.median(xs), "p25": quantile(xs, 0.25),
            "p75": quantile(xs, 0.75), "min": min(xs), "max": max(xs), "n": len(xs)}


# ---------------------------------------------------------------- processes
class Spawner:
    """Starts clients through bench/runner (see runner.c: why not from Python)."""

    def __init__(self, runner, errlog):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen([runner, str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                                     env=ENV, stdin=subprocess.DEVNULL)
        theirs.close()
        self.errfd = os.open(errlog, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)

    def close(self):
        self.sock.close()
        self.proc.wait()
        os.close(self.errfd)

    def spawn(self, argv, data, out_path):
        """Start argv with data on a pipe as stdin and stdout on out_path (or /dev/null).
        Returns (pid, t0_ns, writer thread or None)."""
        rfd, wfd = os.pipe()
        outfd = os.open(out_path or os.devnull,
                        os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        small = len(data) <= 60 * 1024
        if small:  # fits in the pipe: written before the start, no writer thread
            os.write(wfd, data)
            os.close(wfd)
        payload = b"S" + b"".join(a.encode() + b"\0" for a in argv) + b"\0"
        try:
            socket.send_fds(self.sock, [payload], [rfd, outfd, self.errfd])
            rep = self.sock.recv(256).split()
        finally:
            os.close(rfd)
            os.close(outfd)
        if len(rep) != 3 or rep[0] != b"P" or int(rep[1]) <= 0:
            die("runner: cannot start %s: %r" % (argv[0], rep))
        th = None
        if not small:
            th = threading.Thread(target=self._feed, args=(wfd, data), daemon=True)
            th.start()
        return int(rep[1]), int(rep[2]), th

    @staticmethod
    def _feed(wfd, data):
        mv = memoryview(data)
        try:
            while mv:
                n = os.write(wfd, mv[:1 << 20])
                mv = mv[n:]
        except OSError:
            pass  # the client stopped reading: its exit status tells
        finally:
            os.close(wfd)

    def wait(self, pid=0):
        """Reap pid (0: any child): pid, exit code, CPU ms, peak RSS MiB, end time ns."""
        self.sock.send(b"W%d" % pid)
        rep = self.sock.recv(256).split()
        if len(rep) != 7 or rep[0] != b"D" or int(rep[1]) <= 0:
            die("runner: wait failed: %r" % rep)
        _, p, st, ut, stt, rss, t = (int(x) if i else x for i, x in enumerate(rep))
        return {"pid": p, "status": os.waitstatus_to_exitcode(st), "cpu_ms": (ut + stt) / 1000.0,
                "user_ms": ut / 1000.0, "sys_ms": stt / 1000.0, "rss_mib": rss / 1024.0, "t_ns": t}

    def run(self, argv, data, out_path=None):
        pid, t0, th = self.spawn(argv, data, out_path)
        r = self.wait(pid)
        if th is not None:
            th.join()
        r["wall_ms"] = (r.pop("t_ns") - t0) / 1e6
        return r


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, **kw)


def port_free(p):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            return False
        finally:
            s.close()
    return True


def pick_rspamd_port():
    for base in range(23400, 24400, 10):
        if all(port_free(base + i) for i in (0, 1, 3)):
            return base
    die("no free loopback ports for rspamd in 23400..24400")


def busy_ms():
    """CPU time the whole machine spent busy so far (all cores, /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * 1000.0 / os.sysconf("SC_CLK_TCK")


def own_ms():
    """CPU time of this process and of every child it has reaped (runner and all it ran)."""
    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime) * 1000.0


def proc_cpu_ticks(pid):
    """utime + stime (clock ticks) of pid and its direct children (rspamd's workers)."""
    total = 0
    pids = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


# ---------------------------------------------------------------- the bench
class Bench:
    def __init__(self, args):
        self.args = args
        self.bin = os.path.abspath(args.bin)
        self.rspamd_dir = os.path.join(WORK, "rspamd")
        self.api_dir = os.path.join(WORK, "api")
        self.out_dir = os.path.join(WORK, "out")
        self.cg_dir = os.path.join(WORK, "callgrind")
        self.rspamd_port = None
        self.api_port = None
        self.started = []
        self.checks = {}
        self.openssl_cnf_read = None

    # ----- setup
    def check_tools(self):
        missing = [t for t in ("rspamd", "rspamc", "valgrind", "callgrind_annotate", "gnuplot",
                               "cc", "pkg-config", "cat") if shutil.which(t, path=ENV["PATH"]) is None]
        if missing:
            die("missing %s: run scripts/install-deps.sh bench" % ", ".join(missing))
        if not os.access(self.bin, os.X_OK):
            die("%s is not built" % self.bin)

    def build_helpers(self):
        self.runner = os.path.join(WORK, "runner")
        sh(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-static", "-o", self.runner,
            os.path.join(HERE, "runner.c")])
        self.lda = os.path.join(WORK, "lda")
        sh(["cc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", self.lda, os.path.join(HERE, "lda.c")])
        # An empty program with spot-deliver's NEEDED libraries: the startup floor of that
        # link set (dynamic loader, constructors), whatever spot-deliver does after main().
        self.linkfloor = os.path.join(WORK, "linkfloor")
        self.linksets = {}
        for name, defs, pkgs in LINKSETS:
            pc = subprocess.run(["pkg-config", "--cflags", "--libs"] + pkgs, check=True, text=True,
                                capture_output=True).stdout.split() if pkgs else []
            path = os.path.join(WORK, "linkfloor-" + name)
            sh(["cc", "-O2", "-o", path, os.path.join(HERE, "linkfloor.c")] +
               ["-DUSE_%s" % d for d in defs] + pc)
            self.linksets[name] = (path, len(self.loaded(path)))
        shutil.copy(self.linksets["all"][0], self.linkfloor)
        self.linkfloor_same = self.loaded(self.linkfloor) == self.loaded(self.bin)
        if not self.linkfloor_same:
            log("note: linkfloor loads other shared objects than spot-deliver")
        self.cat = shutil.which("cat", path=ENV["PATH"])
        self.rspamc = shutil.which("rspamc", path=ENV["PATH"])

    @staticmethod
    def loaded(path):
        """The shared objects path loads (ldd), without the vdso."""
        out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
        return sorted(l.split()[0] for l in out.splitlines()
                      if "=>" in l or l.strip().startswith("/"))

    def gen_messages(self):
        sh([sys.executable, os.path.join(HERE, "genmail.py"), os.path.join(WORK, "msg")] +
           ["%s=%d" % (n, b) for n, b, _ in SIZES])
        self.msgs = {}
        for n, _, _ in SIZES:
            with open(os.path.join(WORK, "msg", n + ".eml"), "rb") as f:
                self.msgs[n] = f.read()

    def start_servers(self):
        os.chmod(WORK, 0o755)
        self.rspamd_port = pick_rspamd_port()
        env = dict(os.environ, RSPAMD_LOCAL_HS_CACHE=os.path.join(WORK, "hs-cache"))
        log("starting rspamd on 127.0.0.1:%d" % self.rspamd_port)
        subprocess.run([os.path.join(ROOT, "scripts", "rspamd-local"), "stop", self.rspamd_dir],
                       capture_output=True)
        sh([os.path.join(ROOT, "scripts", "rspamd-local"), "start", self.rspamd_dir,
            str(self.rspamd_port)], env=env)
        self.started.append("rspamd")
        if os.path.isdir(self.api_dir):
            subprocess.run([os.path.join(ROOT, "scripts", "spot-api-local"), "stop", self.api_dir],
                           capture_output=True)
            shutil.rmtree(self.api_dir, ignore_errors=True)
        out = sh([os.path.join(ROOT, "scripts", "spot-api-local"), "start", self.api_dir, "0",
                  API_KEY, "delay=%d" % API_DELAY_MS], capture_output=True).stdout
        self.api_port = int(out.split()[-1])
        self.hz = os.sysconf("SC_CLK_TCK")
        with open(os.path.join(self.rspamd_dir, "run", "rspamd.pid")) as f:
            self.rspamd_pid = int(f.read().strip())
        with open(os.path.join(self.api_dir, "spot-api.pid")) as f:
            self.api_pid = int(f.read().strip())
        self.started.append("api")
        log("stand-in SPOT API on 127.0.0.1:%d, answering after %d ms" % (self.api_port, API_DELAY_MS))

    def stop_servers(self):
        if "api" in self.started:
            subprocess.run([os.path.join(ROOT, "scripts", "spot-api-local"), "stop", self.api_dir])
        if "rspamd" in self.started:
            subprocess.run([os.path.join(ROOT, "scripts", "rspamd-local"), "stop", self.rspamd_dir])
        self.started = []

    def write_configs(self):
        conf = os.path.join(WORK, "conf")
        os.makedirs(conf, exist_ok=True)
        key = os.path.join(conf, "api.key")
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, (API_KEY + "\n").encode())
        os.close(fd)
        os.chmod(key, 0o600)
        self.state_dir = os.path.join(WORK, "state")
        shutil.rmtree(self.state_dir, ignore_errors=True)
        os.makedirs(self.state_dir)
        # state_dir exists, as it would on a mail host: counters and dead-host memory are
        # written as in production
        rspamd = "rspamd_url = http://127.0.0.1:%d\nstate_dir = %s\n" % (self.rspamd_port, self.state_dir)
        api = "api_url = http://127.0.0.1:%d/v1/messages\napi_key_file = %s\n" % (self.api_port, key)
        api_only = "rspamd = no\nstate_dir = %s\n" % self.state_dir + api
        # log stays at its default (syslog), as deployed
        self.conf = {}
        for name, text in (("rspamd", rspamd), ("both", rspamd + api), ("api", api_only),
                           ("rspamd-nostate", rspamd.replace("state_dir = %s" % self.state_dir, "state_dir ="))):
            path = os.path.join(conf, name + ".conf")
            with open(path, "w") as f:
                f.write("# generated by bench/bench.py\n" + text)
            self.conf[name] = path

    # ----- the cases
    def argv(self, case, out):
        lda = [self.lda, out]
        sd = lambda conf, extra=(): [self.bin, "-c", self.conf[conf], *extra, "-f", SENDER,
                                      "-r", RCPT, "--", *lda]
        big = ("-o", "scan_max_size=30M")
        return {
            "cat": [self.cat],
            "rspamc": [self.rspamc, "-h", "127.0.0.1:%d" % self.rspamd_port, "-F", SENDER,
                       "-r", RCPT, "--mime", "--exec", " ".join(lda)],
            "sd-rspamd": sd("rspamd"),
            "sd-both": sd("both"),
            "sd-api": sd("api"),
            "sd-rspamd-nostate": sd("rspamd-nostate"),
            "sd-rspamd-30M": sd("rspamd", big),
            "sd-both-30M": sd("both", big),
            "sd-api-30M": sd("api", big),
            "linkfloor": [self.linkfloor],
        }[case]

    @staticmethod
    def cases_for(size):
        if size == "5k":
            return ["cat", "rspamc", "sd-rspamd", "sd-both", "sd-api", "linkfloor"]
        if size == "25m":
            return ["cat", "rspamc", "sd-rspamd", "sd-both", "sd-rspamd-30M", "sd-both-30M",
                    "sd-api-30M"]
        return ["cat", "rspamc", "sd-rspamd", "sd-both", "sd-api"]

    @staticmethod
    def stdout_is_out(case):
        return case == "cat"

    def verify(self, case, size, out, res):
        """Every run must have delivered the whole message, scanned as expected."""
        if res["status"] != 0:
            die("%s on %s exited %d (see %s)" % (case, size, res["status"],
                                                  os.path.join(WORK, "stderr.log")))
        if case == "linkfloor":
            return
        n = len(self.msgs[size])
        got = os.path.getsize(out)
        if got < n or got > n + 8192:
            die("%s on %s delivered %d bytes for a %d-byte message" % (case, size, got, n))
        with open(out, "rb") as f:
            head = f.read(16384)
        msg = self.msgs[size]
        k = min(len(msg) - msg.index(b"\n\n"), 65536)  # the end of the body
        with open(out, "rb") as f:
            f.seek(got - k)
            tail_ok = f.read() == msg[-k:]
        if not tail_ok:
            die("%s on %s: the body was not delivered unchanged" % (case, size))
        want = []
        scanned = size != "25m" or case.endswith("-30M")
        if case == "rspamc":
            want = [b"\nX-Spam-Scanner: rspamc"]
        elif case.startswith("sd-"):
            if not scanned:
                want = [b"X-Spam-Scanner: rspamd; skipped"]
            else:
                if "api" not in case:
                    want.append(b"X-Spam-Scanner: rspamd\n")
                if "both" in case or "api" in case:
                    want.append(b"X-SPOT-Status: analyzed\n")
        for w in want:
            if w not in head:
                die("%s on %s: %r missing from the delivered header block" % (case, size, w))

    # ----- timed runs
    def timed(self):
        sp = self.sp
        shutil.rmtree(self.out_dir, ignore_errors=True)
        os.makedirs(self.out_dir)
        self.timings = {}
        for size, _, reps in SIZES:
            reps = max(3, int(round(reps * self.args.reps_scale)))
            cases = self.cases_for(size)
            data = self.msgs[size]
            log("%s (%d bytes): %d cases x %d interleaved repetitions (+1 warm-up)"
                % (size, len(data), len(cases), reps))
            res = {c: [] for c in cases}
            for rep in range(reps + 1):
                k = rep % len(cases)
                for case in cases[k:] + cases[:k]:  # a rotating order
                    out = os.path.join(self.out_dir, "%s.eml" % case)
                    s0 = self.server_ms()
                    r = sp.run(self.argv(case, out), data, out if self.stdout_is_out(case) else None)
                    s1 = self.server_ms()
                    r["rspamd_ms"], r["api_ms"] = s1[0] - s0[0], s1[1] - s0[1]
                    self.verify(case, size, out, r)
                    if rep > 0:
                        res[case].append(r)
                self.clean_api_records()
            self.timings[size] = {c: {m: summary([r[m] for r in rs])
                                      for m in ("cpu_ms", "wall_ms", "rss_mib")} |
                                  {m: statistics.mean([r[m] for r in rs]) for m in ("rspamd_ms", "api_ms")}
                                  for c, rs in res.items()}

    def server_ms(self):
        """CPU ms used so far by rspamd (main process and workers) and by the stand-in API."""
        return (proc_cpu_ticks(self.rspamd_pid) * 1000.0 / self.hz,
                proc_cpu_ticks(self.api_pid) * 1000.0 / self.hz)

    def all_servers_ms(self):
        """rspamd, the API and rspamd's DNS stub: CPU ms so far."""
        total = sum(self.server_ms())
        try:
            with open(os.path.join(self.rspamd_dir, "run", "dnsstub.pid")) as f:
                total += proc_cpu_ticks(int(f.read().strip())) * 1000.0 / self.hz
        except (OSError, ValueError):
            pass
        return total

    def counted(self):
        """Deliveries counted so far in state_dir/counters (spot-deliver --stats' source)."""
        try:
            with open(os.path.join(self.state_dir, "counters")) as f:
                for line in f:
                    v, _, k = line.rstrip("\n").partition(" ")
                    if k == "processing_seconds_count":
                        return int(v)
        except (OSError, ValueError):
            pass
        return 0

    def clean_api_records(self):
        d = os.path.join(self.api_dir, "requests")
        for name in os.listdir(d):
            if name.endswith(".body"):
                try:
                    os.unlink(os.path.join(d, name))
                except OSError:
                    pass

    # ----- callgrind
    def callgrind(self):
        sp = self.sp
        shutil.rmtree(self.cg_dir, ignore_errors=True)
        os.makedirs(self.cg_dir)
        self.instr = {}
        self.cg_pid = {}
        for size, _, _ in SIZES:
            cases = [c for c in self.cases_for(size) if c not in ("sd-api", "sd-api-30M")]
            if self.args.quick and size == "25m":
                cases = ["cat", "sd-rspamd", "sd-rspamd-30M"]
            log("callgrind, %s: %s" % (size, " ".join(cases)))
            self.instr[size] = {}
            for case in cases:
                tag = "%s-%s" % (size, case)
                out = os.path.join(self.out_dir, "cg-%s.eml" % case)
                # --dump-before=execve: spot-deliver execs the LDA; the part of the
                # process before that is the client. With --trace-children=no the
                # LDA (and rspamc's forked LDA after its exec) runs natively.
                vg = ["/usr/bin/valgrind", "--tool=callgrind", "--trace-children=no",
                      "--dump-before=execve", "--callgrind-out-file=%s/%s.%%p" % (self.cg_dir, tag)]
                r = sp.run(vg + self.argv(case, out), self.msgs[size],
                           out if self.stdout_is_out(case) else None)
                self.verify(case, size, out, r)
                self.cg_pid[tag] = r["pid"]
                self.instr[size][case] = self.cg_total(tag)
        self.check_tls_init()

    def cg_files(self, tag):
        """The client's own profile files: tag.PID and tag.PID.N of the spawned process
        (rspamc's forked child has another pid and is left out)."""
        top = self.cg_pid[tag]
        names = [n for n in os.listdir(self.cg_dir)
                 if n == "%s.%d" % (tag, top) or n.startswith("%s.%d." % (tag, top))]
        if not names:
            die("no callgrind output for %s" % tag)
        return [os.path.join(self.cg_dir, n) for n in names]

    def cg_total(self, tag):
        total = 0
        for path in self.cg_files(tag):
            with open(path, errors="replace") as f:
                for line in f:
                    if line.startswith("summary:") or line.startswith("totals:"):
                        total += int(line.split()[1])
                        break
        return total

    def inclusive(self, tag, pattern):
        """Inclusive Ir of the first function matching pattern in the client's profile."""
        best = 0
        for path in self.cg_files(tag):
            if os.path.getsize(path) == 0:
                continue
            out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
                                 capture_output=True, text=True).stdout
            for line in out.splitlines():
                m = re.match(r"\s*([\d,]+)\s+\(.*?\)\s+(.*)$", line)
                if m and re.search(pattern, m.group(2)):
                    best = max(best, int(m.group(1).replace(",", "")))
        return best

    def check_tls_init(self):
        tag = "5k-sd-rspamd"
        self.profile = {
            "total": self.instr["5k"]["sd-rspamd"],
            "dynamic loader (_dl_start)": self.inclusive(tag, r":_dl_start "),
            "of which symbol relocation (_dl_relocate_object)": self.inclusive(tag, r":_dl_relocate_object "),
            "library constructors (_dl_init)": self.inclusive(tag, r":_dl_init "),
            "main()": self.inclusive(tag, r"spot-deliver\.c:main "),
            "http_global_init -> curl_global_init": self.inclusive(tag, r":http_global_init "),
            "of which OPENSSL_init_ssl": self.inclusive(tag, r"OPENSSL_init_ssl "),
            "hdr_format (GMime: g_mime_init, header list)": self.inclusive(tag, r":hdr_format "),
            "scan_run (both requests, replies)": self.inclusive(tag, r":scan_run "),
            "upstream_memory_open (state_dir: upstreams.db mapped)": self.inclusive(tag, r":upstream_memory_open "),
            "stats_count (counters.db: map, atomic additions)": self.inclusive(tag, r":stats_count "),
            "deliver_exec (memfd copy, exec)": self.inclusive(tag, r":deliver_exec "),
        }

    # ----- the cost of the link set
    def link_costs(self):
        sp = self.sp
        log("link sets: %s" % " ".join(n for n, _, _ in LINKSETS))
        reps = max(5, int(round(20 * self.args.reps_scale)))
        res = {n: [] for n, _, _ in LINKSETS}
        for rep in range(reps + 1):
            for name, _, _ in LINKSETS:
                r = sp.run([self.linksets[name][0]], b"")
                if r["status"] != 0:
                    die("linkfloor-%s exited %d" % (name, r["status"]))
                if rep:
                    res[name].append(r)
        self.links = {}
        for name, _, _ in LINKSETS:
            tag = "link-" + name
            r = sp.run(["/usr/bin/valgrind", "--tool=callgrind", "--callgrind-out-file=%s/%s.%%p"
                        % (self.cg_dir, tag), self.linksets[name][0]], b"")
            self.cg_pid[tag] = r["pid"]
            self.links[name] = {"objects": self.linksets[name][1], "instr": self.cg_total(tag)} | {
                m: summary([x[m] for x in res[name]]) for m in ("cpu_ms", "rss_mib")}

    # ----- request checks (Expect, DNS, threads)
    def rspamd_verdicts(self):
        """rspamd's own verdict on each message (rspamc -j): scanned or skipped, action."""
        self.scans = {}
        for size, _, _ in SIZES:
            out = subprocess.run([self.rspamc, "-h", "127.0.0.1:%d" % self.rspamd_port, "-j",
                                  "-F", SENDER, "-r", RCPT], input=self.msgs[size], capture_output=True)
            try:
                j = json.loads(out.stdout)
                self.scans[size] = {"is_skipped": bool(j.get("is_skipped")), "action": j.get("action"),
                                    "score": j.get("score"), "symbols": len(j.get("symbols") or {}),
                                    "time_real": j.get("time_real")}
            except ValueError:
                self.scans[size] = {"error": out.stdout[:200].decode("utf-8", "replace")}
        self.big_scan = self.scans["25m"]

    def request_checks(self):
        self.rspamd_verdicts()
        sp = self.sp
        out = os.path.join(self.out_dir, "check.eml")
        d = os.path.join(self.api_dir, "requests")
        for n in os.listdir(d):
            os.unlink(os.path.join(d, n))
        r = sp.run(self.argv("sd-both", out), self.msgs["1m"])
        self.verify("sd-both", "1m", out, r)
        hdrs = []
        for n in sorted(os.listdir(d)):
            if n.endswith(".json"):
                with open(os.path.join(d, n)) as f:
                    hdrs += [h[0].lower() for h in json.load(f)["headers"]]
        self.checks["no Expect header on a 1 MB POST (API request as recorded)"] = "expect" not in hdrs
        strace = shutil.which("strace", path=ENV["PATH"])
        if strace:
            trace = os.path.join(WORK, "strace.txt")
            r = sp.run([strace, "-f", "-qq", "-o", trace, "-e",
                        "trace=clone,clone3,fork,vfork,connect,openat"] + self.argv("sd-both", out),
                       self.msgs["5k"])
            self.verify("sd-both", "5k", out, r)
            with open(trace) as f:
                t = f.read()
            self.checks["no thread or process started before the exec (strace: clone/fork)"] = \
                not re.search(r"\b(clone3?|v?fork)\(", t)
            self.checks["no DNS: no connect to port 53, resolv.conf/hosts not opened (strace)"] = \
                not re.search(r"htons\(53\)|resolv\.conf|/etc/hosts", t)
            self.openssl_cnf_read = "openssl.cnf" in t

    # ----- throughput
    def throughput(self):
        data = self.msgs["5k"]
        cases = ["cat", "rspamc", "sd-rspamd", "sd-both", "sd-rspamd-nostate"]
        log("throughput: %d deliveries of %s, %d at a time, %s x %d" % (TP_N, "5k", TP_CONC,
                                                                         " ".join(cases), TP_REPS))
        sp = self.sp
        res = {c: [] for c in cases}
        self.tp_counted = [0, 0]
        for rep in range(TP_REPS):
            for case in cases[rep % len(cases):] + cases[:rep % len(cases)]:
                free = list(range(TP_CONC))
                running = {}
                started = done = 0
                cpu = 0.0
                srv0 = self.server_ms()
                n0 = self.counted()
                t0 = time.perf_counter()
                while done < TP_N:
                    while started < TP_N and free:
                        slot = free.pop()
                        out = os.path.join(self.out_dir, "tp-%02d.eml" % slot)
                        pid, _, _ = sp.spawn(self.argv(case, out), data,
                                             out if self.stdout_is_out(case) else None)
                        running[pid] = (slot, out)
                        started += 1
                    r = sp.wait(0)
                    if r["pid"] not in running:
                        continue
                    slot, out = running.pop(r["pid"])
                    self.verify(case, "5k", out, r)
                    cpu += r["cpu_ms"]
                    free.append(slot)
                    done += 1
                wall = time.perf_counter() - t0
                srv = self.server_ms()
                if case in ("sd-rspamd", "sd-both"):
                    self.tp_counted[0] += self.counted() - n0
                    self.tp_counted[1] += TP_N
                res[case].append({"msgs_per_s": TP_N / wall, "cpu_ms_per_msg": cpu / TP_N,
                                  "rspamd_cpu_ms_per_msg": (srv[0] - srv0[0]) / TP_N,
                                  "api_cpu_ms_per_msg": (srv[1] - srv0[1]) / TP_N, "wall_s": wall})
            self.clean_api_records()
        self.tp = {c: {k: statistics.median([r[k] for r in rs]) for k in rs[0]} |
                   {"runs": [round(r["msgs_per_s"], 1) for r in rs]} for c, rs in res.items()}

    # ----- report
    def machine(self):
        def pkgver(p):
            return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", p],
                                  capture_output=True, text=True).stdout or "?"
        cpu = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
        try:
            deb = open("/etc/debian_version").read().strip()
        except OSError:
            deb = "?"
        return {"cpu": cpu, "cores": os.cpu_count(), "mem_gib": round(mem, 1),
                "kernel": platform.release(), "debian": deb,
                "rspamd": pkgver("rspamd"), "libcurl": pkgver("libcurl4"),
                "gmime": pkgver("libgmime-3.0-0"), "valgrind": pkgver("valgrind"),
                "python": platform.python_version()}

    def evaluate(self):
        t, ins = self.timings, self.instr
        med = lambda s, c, m="cpu_ms": t[s][c][m]["median"]
        tg = []
        c5, r5, cat5 = med("5k", "sd-rspamd"), med("5k", "rspamc"), med("5k", "cat")
        cb5 = med("5k", "sd-both")
        tg.append(("CPU per 5 KB message <= 1/5 of rspamc's",
                   c5 <= r5 / 5, "%.2f ms = %.2fx rspamc (%.2f ms); limit %.2f ms; with the API too "
                   "%.2f ms = %.2fx" % (c5, c5 / r5, r5, r5 / 5, cb5, cb5 / r5)))
        tg.append(("CPU per 5 KB message <= 3x the bare copy (cat)",
                   c5 <= 3 * cat5, "%.2f ms = %.1fx cat (%.2f ms); limit %.2f ms"
                   % (c5, c5 / cat5, cat5, 3 * cat5)))
        i5 = ins["5k"]["sd-rspamd"]
        tg.append(("<= 5 M instructions per delivery (callgrind, 5 KB)",
                   i5 <= 5e6, "%.1f M (rspamc %.1f M, cat %.2f M; an empty main() with "
                   "spot-deliver's libraries: %.1f M)" % (i5 / 1e6, ins["5k"]["rspamc"] / 1e6,
                                                        ins["5k"]["cat"] / 1e6,
                                                        ins["5k"]["linkfloor"] / 1e6)))
        cat25 = med("25m", "cat")
        dcat = cat25 - cat5
        for case, small, what in (
                ("sd-rspamd", "sd-rspamd", "not scanned (default scan_max_size 20M)"),
                ("sd-rspamd-30M", "sd-rspamd", "scanned by Rspamd (scan_max_size=30M)"),
                ("sd-both-30M", "sd-both", "scanned by Rspamd and the API (scan_max_size=30M)")):
            c = med("25m", case)
            d = c - med("5k", small)
            tg.append(("25 MB message: CPU <= 3x cat's (\"a small multiple\"), %s" % what,
                       c <= 3 * cat25,
                       "%.1f ms = %.1fx cat (%.1f ms), rspamc %.1f ms; the body alone (25 MB "
                       "minus 5 KB): +%.1f ms = %.1fx cat's +%.1f ms"
                       % (c, c / cat25, cat25, med("25m", "rspamc"), d, d / dcat, dcat)))
        for case in ("sd-rspamd", "sd-both", "sd-rspamd-30M", "sd-both-30M"):
            rss = t["25m"][case]["rss_mib"]["max"]
            tg.append(("25 MB message: peak RSS <= 32 MiB (%s)" % LABELS[case], rss <= 32,
                       "max %.1f MiB over the runs (rspamc %.1f MiB)" % (rss, t["25m"]["rspamc"]["rss_mib"]["max"])))
        for size, _, _ in SIZES:
            both = "sd-both-30M" if size == "25m" else "sd-both"
            rs = "sd-rspamd-30M" if size == "25m" else "sd-rspamd"
            api = "sd-api-30M" if size == "25m" else "sd-api"
            wb, wr, wa = med(size, both, "wall_ms"), med(size, rs, "wall_ms"), med(size, api, "wall_ms")
            lim = max(wr, wa) + 10
            tg.append(("wall with both scanners <= slower of the two + 10 ms (%s)" % size, wb <= lim,
                       "%.1f ms; Rspamd only %.1f ms, API only %.1f ms (API delay %d ms): limit %.1f ms"
                       % (wb, wr, wa, API_DELAY_MS, lim)))
        for k, v in self.checks.items():
            tg.append((k, v, "yes" if v else "no"))
        tls = self.profile.get("of which OPENSSL_init_ssl", 0)
        how = []
        if tls:
            how.append("callgrind: OPENSSL_init_ssl runs inside curl_global_init(CURL_GLOBAL_NOTHING), "
                       "%.2f M instructions" % (tls / 1e6))
        if self.openssl_cnf_read:
            how.append("strace: /usr/lib/ssl/openssl.cnf is opened")
        tg.append(("TLS initialised only when an https URL is used (http:// URLs only here)",
                   not tls and not self.openssl_cnf_read,
                   "; ".join(how) or "OpenSSL not initialised"))
        s, r = self.tp["sd-rspamd"]["msgs_per_s"], self.tp["rspamc"]["msgs_per_s"]
        b = self.tp["sd-both"]["msgs_per_s"]
        tg.append(("throughput at %d concurrent deliveries >= rspamc's" % TP_CONC, s >= r,
                   "%.1f msg/s = %.2fx rspamc (%.1f msg/s); with the API too %.1f msg/s"
                   % (s, s / r, r, b)))
        self.targets = tg

    def report(self):
        t, ins = self.timings, self.instr
        L = []
        now = datetime.datetime.now(datetime.timezone.utc)
        m = self.machine()
        L.append("# make bench: spot-deliver against rspamc and cat\n")
        L.append("Generated by `make bench` (bench/bench.py) on %s UTC. Do not edit by hand.\n"
                 % now.strftime("%Y-%m-%d %H:%M"))
        L.append("Machine: %s, %d cores, %.0f GiB, Linux %s, Debian %s; rspamd %s, libcurl %s, "
                 "GMime %s, valgrind %s, Python %s.\n"
                 % (m["cpu"], m["cores"], m["mem_gib"], m["kernel"], m["debian"], m["rspamd"],
                    m["libcurl"], m["gmime"], m["valgrind"], m["python"]))
        fo = self.foreign
        L.append("Other load: while this ran (%.0f s), processes outside the benchmark used %.0f%% of "
                 "the machine's CPU (/proc/stat busy time minus the benchmark's own: harness, clients, "
                 "rspamd, API, DNS stub); load average %.1f at the start. %s\n"
                 % (fo["elapsed_s"], 100 * fo["share"], fo["load_start"][0],
                    "The machine was shared: wall times and throughput are noisier than on an idle "
                    "host; instruction counts are not affected." if fo["share"] > 0.05 else
                    "The machine was otherwise quiet."))
        L.append("## How it was measured\n")
        L.append(
            "- One private rspamd (scripts/rspamd-local, one normal worker, loopback DNS stub) and "
            "the stand-in SPOT API (tests/spot-api.py, `delay=%d`: every answer comes %d ms after "
            "the request) on 127.0.0.1. All of them run on the same %d cores as the clients.\n"
            "- Messages from bench/genmail.py: a 1.5 KB header block (Received chain, DKIM-Signature, "
            "a forged `X-SPOT-Is-Phishing` that spot-deliver strips), text and HTML parts, and a "
            "base64 PDF attachment making up the size. Rspamd's verdicts (rspamc -j): %s.\n"
            "- Each delivery: this script writes the message into a pipe (as Postfix's pipe(8) "
            "does); the client reads it on stdin; bench/runner (a small static program, so "
            "that no client inherits the Python harness's memory in its ru_maxrss) forks it and "
            "reaps it with wait4(2); the final LDA is `bench/lda FILE` (copies stdin "
            "to a file, no fsync) for rspamc and spot-deliver, and `cat > FILE` is the floor. "
            "Every delivered file is checked (size, unchanged body, the scanners' headers).\n"
            "- CPU = user + system time of the client's process tree from wait4(2) (rspamc and the "
            "LDA it forks; spot-deliver and the LDA it execs); wall = fork to reap; peak RSS = "
            "wait4's ru_maxrss (the largest process of the tree, spot-deliver's before its exec "
            "included). Cases run interleaved in a rotating order; one warm-up round is dropped; "
            "the tables give the median and the interquartile range [p25-p75] (RSS: the maximum).\n"
            "- Instructions: `valgrind --tool=callgrind --trace-children=no --dump-before=execve`, "
            "one delivery, user-space instructions (Ir) of the client process only, from its first "
            "instruction (dynamic loader included): for spot-deliver everything before it execs "
            "the LDA (the same LDA-mode command line as the timed runs); for rspamc the parent "
            "process (the forked LDA runs natively and is not counted); for cat the whole "
            "process (it is its own LDA). The kernel's work (copying the bytes) is not in Ir.\n"
            "- `scan_max_size` defaults to 20 MiB: **the 25 MB message is delivered by "
            "spot-deliver without any scan** (`X-Spam-Scanner: rspamd; skipped ...`, "
            "`X-SPOT-Status: skipped`); the `scan_max_size=30M` rows scan it. rspamc has no such "
            "limit and sends all 25 MB to rspamd, and rspamd's own size limit does not stop it "
            "either: %s.\n"
            % (API_DELAY_MS, API_DELAY_MS, m["cores"],
               ", ".join("%s `%s` (score %s)" % (k, v.get("action"), v.get("score")) if "error" not in v
                         else "%s: %s" % (k, v["error"]) for k, v in self.scans.items()),
               "rspamc -j on the 25 MB message: is_skipped %s, action `%s`, %d symbols, %.0f ms "
               "in rspamd" % (str(self.big_scan["is_skipped"]).lower(), self.big_scan["action"],
                              self.big_scan["symbols"], 1000 * (self.big_scan["time_real"] or 0))
               if "error" not in self.big_scan else "rspamc -j failed: %s" % self.big_scan["error"]))
        L.append("## Per delivery\n")
        L.append("| size | client | CPU ms | CPU / cat | CPU / rspamc | wall ms | peak RSS MiB "
                 "| instructions (M) | instr. / cat | instr. / rspamc | servers' CPU ms (rspamd + API; mean, 10 ms ticks) |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|")
        fmt = lambda s, d=2: "%.*f [%.*f-%.*f]" % (d, s["median"], d, s["p25"], d, s["p75"])
        for size, _, _ in SIZES:
            n = len(self.msgs[size])
            cat_cpu = t[size]["cat"]["cpu_ms"]["median"]
            rc_cpu = t[size]["rspamc"]["cpu_ms"]["median"]
            cat_i, rc_i = ins[size].get("cat"), ins[size].get("rspamc")
            for case in self.cases_for(size):
                s = t[size][case]
                c = s["cpu_ms"]["median"]
                i = ins[size].get(case)
                d = 1 if c >= 100 else 2
                L.append("| %s (%s B) | %s | %s | %s | %s | %s | %.1f | %s | %s | %s | %s |" % (
                    size, format(n, ","), LABELS[case], fmt(s["cpu_ms"], d),
                    "%.2fx" % (c / cat_cpu), "%.2fx" % (c / rc_cpu),
                    fmt(s["wall_ms"], 1), s["rss_mib"]["max"],
                    "%.2f" % (i / 1e6) if i else "-",
                    "%.1fx" % (i / cat_i) if i and cat_i else "-",
                    "%.2fx" % (i / rc_i) if i and rc_i else "-",
                    "%.1f + %.1f" % (s["rspamd_ms"], s["api_ms"])))
        L.append("")
        L.append("Repetitions per size: %s. The `linkfloor` row is no delivery: an empty `main()` "
                 "linked against the same shared libraries as spot-deliver (%s), run the same way: "
                 "what any program of that link set pays before its first line of code.\n"
                 % (", ".join("%s %d" % (s, t[s]["cat"]["cpu_ms"]["n"]) for s, _, _ in SIZES),
                    "ldd: the same shared objects" if self.linkfloor_same else "NOTE: ldd lists other shared objects"))
        L.append("## What the link set costs before main()\n")
        L.append("Empty programs (bench/linkfloor.c) linked against spot-deliver's libraries, one at "
                 "a time and all together (`all` loads the same shared objects as spot-deliver):\n")
        L.append("| linked against | shared objects loaded | instructions (M) | CPU ms | peak RSS MiB |")
        L.append("|---|---|---|---|---|")
        names = {"libc": "libc only", "cjson": "libcjson", "glib": "glib-2.0",
                 "gmime": "gmime-3.0 (+ GIO, gpgme, ...)", "curl": "libcurl (Debian: OpenSSL, GnuTLS, Kerberos, LDAP, ...)",
                 "all": "gmime-3.0 + libcurl + libcjson (= spot-deliver)"}
        for name, _, _ in LINKSETS:
            v = self.links[name]
            L.append("| %s | %d | %.2f | %.2f | %.1f |" % (
                names[name], v["objects"], v["instr"] / 1e6, v["cpu_ms"]["median"],
                v["rss_mib"]["max"]))
        L.append("")
        L.append("## Throughput (%d deliveries of the 5 KB message, %d at a time)\n" % (TP_N, TP_CONC))
        L.append("| client | messages/s (median) | runs | / rspamc | client CPU ms/msg | rspamd CPU ms/msg | API CPU ms/msg |")
        L.append("|---|---|---|---|---|---|---|")
        r = self.tp["rspamc"]["msgs_per_s"]
        for case, v in self.tp.items():
            L.append("| %s | %.1f | %s | %.2fx | %.2f | %.2f | %.2f |" % (
                LABELS[case], v["msgs_per_s"], ", ".join("%.1f" % x for x in v["runs"]),
                v["msgs_per_s"] / r, v["cpu_ms_per_msg"], v["rspamd_cpu_ms_per_msg"],
                v["api_cpu_ms_per_msg"]))
        L.append("")
        L.append("The clients, rspamd (one normal worker, scripts/rspamd-local) and the stand-in "
                 "API share the same %d cores, so the CPU per message bounds the rate: %s.\n"
                 % (m["cores"], "; ".join(
                     "%s at most %.0f msg/s (%d cores / %.2f ms)" % (
                         LABELS[c], m["cores"] * 1000.0 / (v["cpu_ms_per_msg"] + v["rspamd_cpu_ms_per_msg"] + v["api_cpu_ms_per_msg"]),
                         m["cores"], v["cpu_ms_per_msg"] + v["rspamd_cpu_ms_per_msg"] + v["api_cpu_ms_per_msg"])
                     for c, v in self.tp.items() if c != "cat")))
        n, m_ = self.tp_counted
        a, b = self.tp["sd-rspamd"], self.tp["sd-rspamd-nostate"]
        L.append("spot-deliver's counters (`state_dir`, `--stats`) recorded %d of the %d spot-deliver "
                 "deliveries of these runs%s. The same deliveries without `state_dir` (no counters): "
                 "%.1f msg/s against %.1f with it (%+.1f%%), client CPU %.2f against %.2f ms/msg.\n"
                 % (n, m_, "" if n == m_ else
                    ": the rest were not counted (src/stats.c:stats_count could not map "
                    "state_dir/counters.db: see the warnings in the log)",
                    b["msgs_per_s"], a["msgs_per_s"], 100.0 * (b["msgs_per_s"] / a["msgs_per_s"] - 1),
                    b["cpu_ms_per_msg"], a["cpu_ms_per_msg"]))
        L.append("## Where one 5 KB delivery's instructions go (spot-deliver, Rspamd only)\n")
        L.append("| part (inclusive, callgrind) | instructions (M) | share |")
        L.append("|---|---|---|")
        tot = self.profile["total"]
        for k, v in self.profile.items():
            L.append("| %s | %.2f | %.0f%% |" % (k, v / 1e6, 100.0 * v / tot))
        L.append("")
        L.append("## Targets (issue 8)\n")
        L.append("| target | result | measured |")
        L.append("|---|---|---|")
        for name, ok, detail in self.targets:
            L.append("| %s | %s | %s |" % (name, "met" if ok else "**missed**", detail))
        L.append("")
        L.append(self.why_missed())
        L.append("Raw numbers: bench/work/results.json (not committed). Plot: bench/results.png "
                 "(CPU and peak RSS against message size, log scales).\n")
        text = "\n".join(L)
        with open(os.path.join(HERE, "results.md"), "w") as f:
            f.write(text)
        with open(os.path.join(WORK, "results.json"), "w") as f:
            json.dump({"timings": t, "instructions": ins, "throughput": self.tp,
                       "profile": self.profile, "checks": self.checks, "machine": m,
                       "links": self.links, "foreign_load": self.foreign, "rspamd_verdicts": self.scans,
                       "throughput_counted": self.tp_counted, "openssl_cnf_read": self.openssl_cnf_read,
                       "targets": [[a, b, c] for a, b, c in self.targets]}, f, indent=1)
        return text

    def why_missed(self):
        p, t, ins, lk = self.profile, self.timings, self.instr, self.links
        med = lambda s, c, m="cpu_ms": t[s][c][m]["median"]
        tot = p["total"]
        missed = [n for n, ok, _ in self.targets if not ok]
        if not missed:
            return "All targets met.\n"
        L = ["### Why targets are missed, and where\n"]
        if any(n.startswith("<= 5 M") or n.startswith("CPU per 5 KB") for n in missed):
            own = p["main()"] - p.get("of which OPENSSL_init_ssl", 0)
            est_i = lk["glib"]["instr"] + own
            est_c = lk["glib"]["cpu_ms"]["median"] + max(
                0.0, med("5k", "sd-rspamd") - lk["all"]["cpu_ms"]["median"])
            L.append(
                "- **5 KB CPU and instructions: the start-up of the link set, not spot-deliver's "
                "own work.** Of %.1f M instructions per delivery, the dynamic loader takes %.1f M "
                "(%.0f%%, nearly all symbol relocation) and the libraries' constructors %.1f M; "
                "main() is %.1f M, of which %.1f M is OpenSSL's initialisation (next point): "
                "spot-deliver's own code (configuration, reading, both HTTP exchanges, JSON, "
                "header rewrite, the copy for the LDA) is about %.1f M. The Makefile links "
                "gmime-3.0, libcurl and libcjson; with Debian's builds that loads %d shared "
                "objects. An empty main() linked the same way costs %.1f M instructions and "
                "%.2f ms CPU (the link-set table), %.0f%% of spot-deliver's %.2f ms; libcurl "
                "alone %.1f M / %.2f ms (it brings OpenSSL, GnuTLS, nettle, Kerberos, LDAP, SASL, "
                "libssh2, librtmp, nghttp2, ...), gmime-3.0 alone %.1f M / %.2f ms (GIO, gpgme, "
                "...). Against that, libc + libcjson cost %.2f M / %.2f ms and glib %.2f M / "
                "%.2f ms. Places: the link line (`PKGS` in the Makefile); GMime is used only by "
                "src/rewrite.c:hdr_format (formatting the added header fields), glib only by "
                "src/identity.c:delivery_identity (SHA-256); libcurl by src/http.c for plain "
                "http:// to loopback as well. Without libcurl and GMime on the link line (a "
                "small HTTP/1.1 client for http://, libcurl loaded with dlopen() only for "
                "https://; the header formatting by hand) one delivery would be near %.1f M "
                "instructions and %.1f ms (the link floor of libc + libcjson + glib plus "
                "spot-deliver's CPU above its current link floor): %s. No tuning inside main() "
                "gets there while the link set stays."
                % (tot / 1e6, p["dynamic loader (_dl_start)"] / 1e6,
                   100.0 * p["dynamic loader (_dl_start)"] / tot,
                   p["library constructors (_dl_init)"] / 1e6, p["main()"] / 1e6,
                   p.get("of which OPENSSL_init_ssl", 0) / 1e6, own / 1e6, self.nlibs,
                   lk["all"]["instr"] / 1e6, lk["all"]["cpu_ms"]["median"],
                   100.0 * lk["all"]["cpu_ms"]["median"] / med("5k", "sd-rspamd"),
                   med("5k", "sd-rspamd"), lk["curl"]["instr"] / 1e6, lk["curl"]["cpu_ms"]["median"],
                   lk["gmime"]["instr"] / 1e6, lk["gmime"]["cpu_ms"]["median"],
                   lk["cjson"]["instr"] / 1e6, lk["cjson"]["cpu_ms"]["median"],
                   lk["glib"]["instr"] / 1e6, lk["glib"]["cpu_ms"]["median"],
                   est_i / 1e6, est_c, "; ".join((
                       "%s the 5 M instruction target" % ("within" if est_i <= 5e6 else "still above"),
                       "%.1fx cat, %s the 3x target" % (est_c / med("5k", "cat"),
                                                        "within" if est_c <= 3 * med("5k", "cat") else "still above"),
                       "%.2fx rspamc, %s the 1/5 target" % (est_c / med("5k", "rspamc"),
                                                           "within" if est_c <= med("5k", "rspamc") / 5 else "still above")))))
        if p.get("of which OPENSSL_init_ssl") or self.openssl_cnf_read:
            L.append(
                "- **OpenSSL is initialised on every run, https or not.** "
                "src/http.c:http_global_init passes CURL_GLOBAL_NOTHING when no URL is https, but "
                "libcurl ignores that flag for TLS since 7.57 (this is %s): curl_global_init() "
                "calls OPENSSL_init_ssl(), which also reads /usr/lib/ssl/openssl.cnf: %.2f M "
                "instructions, %.0f%% of a delivery. (curl_easy_init() would run the same global "
                "init if it were skipped; only not loading libcurl avoids it.)"
                % (self.machine()["libcurl"], p.get("of which OPENSSL_init_ssl", 0) / 1e6,
                   100.0 * p.get("of which OPENSSL_init_ssl", 0) / tot))
        if any(n.startswith("25 MB message: CPU") for n in missed):
            L.append(
                "- **25 MB CPU: the body goes through the kernel about three times as often as "
                "with cat.** strace of an unscanned 25 MB delivery: spot-deliver reads it from the "
                "pipe, writes all but the first MiB to an unlinked spool file in $TMPDIR "
                "(src/msg.c:msg_read, spool_rest), then copies the rewritten message with "
                "sendfile() into a second spool file (src/deliver.c:copy_for_lda, via "
                "deliver_write and src/msg.c:copy_from_spool), which the LDA reads and writes to "
                "its file; cat reads the pipe once and writes once. Each scanner adds one more "
                "pass (src/http.c:on_read preads the spool into libcurl's buffer, then send()). "
                "Unscanned: %.1f ms = %.1fx cat; scanned by Rspamd %.1f ms; both %.1f ms; rspamc "
                "%.1f ms. The second spool copy could go (e.g. spool the body behind a reserved "
                "gap and write the new header block in front of it, handing the LDA the fd at "
                "that offset), at the price of a more complex spool."
                % (med("25m", "sd-rspamd"), med("25m", "sd-rspamd") / med("25m", "cat"),
                   med("25m", "sd-rspamd-30M"), med("25m", "sd-both-30M"), med("25m", "rspamc")))
        for size, _, _ in SIZES:
            if not any(n == "wall with both scanners <= slower of the two + 10 ms (%s)" % size
                       for n in missed):
                continue
            sfx = "-30M" if size == "25m" else ""
            b, r, a = (t[size]["sd-%s%s" % (k, sfx)] for k in ("both", "rspamd", "api"))
            demand = b["cpu_ms"]["median"] + b["rspamd_ms"] + b["api_ms"]
            L.append(
                "- **Wall time with both scanners, %s:** %.1f ms against %.1f (Rspamd only) and "
                "%.1f (API only). The two requests do run at the same time (serially it would be "
                "about %.0f ms), but one client thread pushes the body to both: its CPU is "
                "%.1f ms with both against %.1f with Rspamd alone, and those extra %.1f ms of "
                "copying (src/http.c:on_read, pread into libcurl's buffer, then send(); libcurl "
                "has no zero-copy upload) are on the critical path. On top, the servers compete "
                "with the client for the %d cores: client + rspamd + API use %.0f ms of CPU per "
                "delivery (%.1f + %.1f + %.1f), %.0f%% of %d cores over the measured wall time."
                % (size, b["wall_ms"]["median"], r["wall_ms"]["median"], a["wall_ms"]["median"],
                   r["wall_ms"]["median"] + a["wall_ms"]["median"],
                   b["cpu_ms"]["median"], r["cpu_ms"]["median"],
                   b["cpu_ms"]["median"] - r["cpu_ms"]["median"], os.cpu_count(), demand,
                   b["cpu_ms"]["median"], b["rspamd_ms"], b["api_ms"],
                   100.0 * demand / (os.cpu_count() * b["wall_ms"]["median"]), os.cpu_count()))
        if any(n.startswith("throughput") for n in missed):
            tp = self.tp
            bound = lambda c: os.cpu_count() * 1000.0 / (tp[c]["cpu_ms_per_msg"] + tp[c]["rspamd_cpu_ms_per_msg"]
                                                         + tp[c]["api_cpu_ms_per_msg"])
            L.append(
                "- **Throughput at %d at a time:** spot-deliver (Rspamd) %.1f msg/s against rspamc's "
                "%.1f (runs: %s against %s). Per message spot-deliver uses less CPU (%.2f ms against "
                "%.2f; with rspamd's share the CPU bound is %.0f against %.0f msg/s), so the rate is "
                "not bounded by its CPU here; without state_dir (no counters) it did %.1f msg/s. "
                "Other processes took %.0f%% of the machine during this run%s."
                % (TP_CONC, tp["sd-rspamd"]["msgs_per_s"], tp["rspamc"]["msgs_per_s"],
                   ", ".join("%.0f" % x for x in tp["sd-rspamd"]["runs"]),
                   ", ".join("%.0f" % x for x in tp["rspamc"]["runs"]),
                   tp["sd-rspamd"]["cpu_ms_per_msg"], tp["rspamc"]["cpu_ms_per_msg"],
                   bound("sd-rspamd"), bound("rspamc"), tp["sd-rspamd-nostate"]["msgs_per_s"],
                   100 * self.foreign["share"],
                   ": the runs scatter widely, rerun `make bench` on a quiet host before reading "
                   "anything into this" if self.foreign["share"] > 0.05 else ""))
        if any(n.startswith("25 MB message: peak RSS") for n in missed):
            L.append("- **Peak RSS**: see the per-delivery table.")
        return "\n".join(L) + "\n"

    def plot(self):
        dat = os.path.join(WORK, "plot.dat")
        series = [("cat", "cat > file (floor)"), ("rspamc", "rspamc --mime --exec"),
                  ("sd-rspamd", "spot-deliver, Rspamd (25 MB: not scanned, scan\\_max\\_size 20M)"),
                  ("sd-both", "spot-deliver, Rspamd + API (25 MB: not scanned)")]
        with open(dat, "w") as f:
            for case, _ in series:
                f.write("# %s\n" % case)
                for size, _, _ in SIZES:
                    s = self.timings[size][case]
                    f.write("%d %.4f %.4f %.4f %.3f\n" % (len(self.msgs[size]), s["cpu_ms"]["median"],
                                                          s["cpu_ms"]["p25"], s["cpu_ms"]["p75"],
                                                          s["rss_mib"]["max"]))
                f.write("\n\n")
            for case in ("sd-rspamd-30M", "sd-both-30M"):
                s = self.timings["25m"][case]
                f.write("# %s\n%d %.4f %.4f %.4f %.3f\n\n\n" % (
                    case, len(self.msgs["25m"]), s["cpu_ms"]["median"], s["cpu_ms"]["p25"],
                    s["cpu_ms"]["p75"], s["rss_mib"]["max"]))
        png = os.path.join(HERE, "results.png")
        styles = ["lc rgb '#555555' pt 7", "lc rgb '#d62728' pt 5", "lc rgb '#1f77b4' pt 9",
                  "lc rgb '#2ca02c' pt 11"]
        cpu_plots = ", ".join("'%s' index %d using 1:2:3:4 with yerrorlines %s lw 2 title '%s'"
                              % (dat, i, styles[i], title) for i, (_, title) in enumerate(series))
        cpu_plots += (", '%s' index 4 using 1:2 with points lc rgb '#1f77b4' pt 4 ps 2 "
                      "title 'spot-deliver, Rspamd, 25 MB scanned (scan\\_max\\_size=30M)'"
                      ", '%s' index 5 using 1:2 with points lc rgb '#2ca02c' pt 10 ps 2 "
                      "title 'spot-deliver, Rspamd + API, 25 MB scanned'"
                      ", '%s' index 0 using 1:($2*3) with lines dt 2 lc rgb '#555555' "
                      "title 'target: 3x cat'" % (dat, dat, dat))
        rss_plots = ", ".join("'%s' index %d using 1:5 with linespoints %s lw 2 title '%s'"
                              % (dat, i, styles[i], title) for i, (_, title) in enumerate(series))
        rss_plots += (", '%s' index 4 using 1:5 with points lc rgb '#1f77b4' pt 4 ps 2 notitle"
                      ", '%s' index 5 using 1:5 with points lc rgb '#2ca02c' pt 10 ps 2 notitle"
                      ", 32 with lines dt 2 lc rgb 'black' title 'target: 32 MiB at 25 MB'"
                      % (dat, dat))
        script = """
set terminal pngcairo size 1400,600 font 'DejaVu Sans,10'
set output '%s'
set multiplot layout 1,2 title 'spot-deliver vs rspamc vs cat: one delivery, client side (median, IQR bars), %s%s'
set logscale x
set xrange [3000:45000000]
set xtics ('5 KB' 5120, '100 KB' 102400, '1 MB' 1048576, '25 MB' 26214400)
set xlabel 'message size'
set grid
set key top left
set logscale y
set ylabel 'client CPU per delivery (ms, user+sys of the process tree)'
set title 'CPU time'
plot %s
unset logscale y
set ylabel 'peak RSS (MiB, ru\\_maxrss of the tree)'
set title 'Peak RSS'
set yrange [0:*]
plot %s
unset multiplot
""" % (png, datetime.date.today().isoformat(),
       ", other load on the host %.0f%%" % (100 * self.foreign["share"]) if self.foreign["share"] > 0.05 else "",
       cpu_plots, rss_plots)
        gp = os.path.join(WORK, "plot.gp")
        with open(gp, "w") as f:
            f.write(script)
        sh(["gnuplot", gp])

    def main(self):
        t0 = time.time()
        busy0, own0 = busy_ms(), own_ms()
        self.load_start = os.getloadavg()
        self.check_tools()
        self.build_helpers()
        self.nlibs = len(self.loaded(self.bin))
        self.gen_messages()
        errlog = os.path.join(WORK, "stderr.log")  # the clients' stderr, this run only
        open(errlog, "w").close()
        self.sp = Spawner(self.runner, errlog)
        try:
            self.start_servers()
            self.write_configs()
            self.timed()
            self.throughput()
            self.callgrind()
            self.link_costs()
            self.request_checks()
        finally:
            try:
                servers = self.all_servers_ms() if self.started else 0.0
            except Exception:
                servers = 0.0
            self.stop_servers()
            self.sp.close()
            shutil.rmtree(self.out_dir, ignore_errors=True)  # the delivered copies (~350 MB)
        # CPU the machine spent on anything but this benchmark while it ran: a noise indicator
        elapsed = time.time() - t0
        foreign = busy_ms() - busy0 - (own_ms() - own0) - servers
        self.foreign = {"share": max(0.0, foreign) / (elapsed * 1000.0 * os.cpu_count()),
                        "elapsed_s": elapsed, "load_start": self.load_start,
                        "load_end": os.getloadavg()}
        self.evaluate()
        text = self.report()
        self.plot()
        print()
        print(text)
        log("done in %.0f s: bench/results.md, bench/results.png" % (time.time() - t0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="the spot-deliver binary to measure")
    ap.add_argument("--reps-scale", type=float, default=1.0,
                    help="multiply the repetitions per size (at least 3)")
    ap.add_argument("--quick", action="store_true",
                    help="a fast trial run: a quarter of the repetitions, less callgrind")
    args = ap.parse_args()
    if args.quick:
        args.reps_scale *= 0.25
    os.makedirs(WORK, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    Bench(args).main()


if __name__ == "__main__":
    main()
