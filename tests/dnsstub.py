#!/usr/bin/python3
"""A loopback DNS responder that answers every query at once with NXDOMAIN.

Usage: /usr/bin/python3 tests/dnsstub.py --port PORT [--address 127.0.0.1]
                                         [--pidfile FILE] [--log FILE] [--silent]

It listens on ADDRESS:PORT over UDP and TCP. Every well-formed query gets an
answer with the same id and question, QR=1, RD copied, RA=1, RCODE=3
(NXDOMAIN), no answer records, a root SOA in the authority section (and an
EDNS OPT record when the query had one), so a resolver pointed here (the private Rspamd of
scripts/rspamd-local) never waits for a timeout and never sends a packet off
the machine. Queries too short to carry a header are dropped; a query whose
question cannot be parsed gets FORMERR (rcode 1) with an empty question.
With --log every question is appended as one line "UNIXTIME QTYPE NAME".
With --silent it answers nothing (a resolver that hangs): questions are still
logged, TCP connections are held open until the client closes them.
Prints "ready PORT" on stdout once both sockets are bound; exits on SIGTERM
or SIGINT.
"""
import argparse
import selectors
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the tree
import servelib  # noqa: E402


def parse_question(msg):
    """Return (end offset of the first question, qname text, qtype) or None."""
    if len(msg) < 12:
        return None
    qdcount = struct.unpack("!H", msg[4:6])[0]
    if qdcount < 1:
        return None
    i, labels = 12, []
    while True:
        if i >= len(msg):
            return None
        n = msg[i]
        if n == 0:
            i += 1
            break
        if n & 0xC0:  # compression pointers make no sense in a query
            return None
        label = msg[i + 1:i + 1 + n]
        if len(label) != n:
            return None
        labels.append(label.decode("ascii", "replace"))
        i += 1 + n
    if i + 4 > len(msg):
        return None
    qtype = struct.unpack("!H", msg[i:i + 2])[0]
    return i + 4, ".".join(labels) + ".", qtype


def answer(query, logf=None):
    """Build the NXDOMAIN (or FORMERR) reply to one query, or None to drop."""
    if len(query) < 12:
        return None
    qid, flags = struct.unpack("!HH", query[:4])
    if flags & 0x8000:  # a response, not a query
        return None
    opcode = (flags >> 11) & 0xF
    rd = flags & 0x0100
    q = parse_question(query)
    if q is None or opcode != 0:
        rflags = 0x8000 | (opcode << 11) | rd | 0x0080 | (1 if q is None else 4)
        return struct.pack("!HHHHHH", qid, rflags, 0, 0, 0, 0)
    end, name, qtype = q
    if logf is not None:
        try:
            logf.write("%.3f %d %s\n" % (time.time(), qtype, name))
            logf.flush()
        except OSError:
            pass
    rflags = 0x8000 | rd | 0x0080 | 3  # QR, RD echoed, RA, NXDOMAIN
    # Authority: a root SOA, as a real NXDOMAIN carries one (negative TTL 60 s).
    # It also keeps every reply longer than 28 bytes: Rspamd's librdns silently
    # drops shorter UDP replies (it compares the length with the size of a C
    # struct holding a pointer), so a bare NXDOMAIN for "gmail.com" would time out.
    soa_rdata = b"\x00\x00" + struct.pack("!IIIII", 1, 3600, 600, 86400, 60)
    soa = b"\x00" + struct.pack("!HHIH", 6, 1, 60, len(soa_rdata)) + soa_rdata
    arcount, additional = 0, b""
    if struct.unpack("!H", query[10:12])[0] > 0 and opt_in_additional(query, end):
        arcount, additional = 1, b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    return (struct.pack("!HHHHHH", qid, rflags, 1, 0, 1, arcount) + query[12:end]
            + soa + additional)


def opt_in_additional(query, end):
    """True if the additional section right after the question is an EDNS OPT RR."""
    return len(query) >= end + 11 and query[end] == 0 and \
        struct.unpack("!H", query[end + 1:end + 3])[0] == 41


def recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def serve_tcp_conn(conn, logf, silent):
    try:
        conn.settimeout(None if silent else 5)
        while True:
            hdr = recv_exact(conn, 2)
            if hdr is None:
                return
            query = recv_exact(conn, struct.unpack("!H", hdr)[0])
            if query is None:
                return
            reply = answer(query, logf)
            if reply is None:
                return
            if silent:
                continue
            conn.sendall(struct.pack("!H", len(reply)) + reply)
    except OSError:
        pass
    finally:
        conn.close()


def send_udp(udp, reply, peer):
    try:
        udp.sendto(reply, peer)
    except OSError:
        pass


def serve(stop, udp, tcp, sel, logf, silent, delay):
    while not stop.is_set():
        for key, _ in sel.select(timeout=0.5):
            if key.data == "udp":
                try:
                    query, peer = udp.recvfrom(65535)
                except OSError:
                    continue
                reply = answer(query, logf)
                if reply is not None and not silent:
                    if delay > 0:
                        threading.Timer(delay, send_udp, (udp, reply, peer)).start()
                    else:
                        send_udp(udp, reply, peer)
            else:
                try:
                    conn, _ = tcp.accept()
                except OSError:
                    continue
                threading.Thread(target=serve_tcp_conn, args=(conn, logf, silent),
                                 daemon=True).start()



def main():
    ap = argparse.ArgumentParser(description="NXDOMAIN-for-everything DNS stub")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--pidfile")
    ap.add_argument("--log")
    ap.add_argument("--delay-ms", type=int, default=0,
                    help="answer every query this late (a slow resolver, for a slow Rspamd)")
    ap.add_argument("--silent", action="store_true", help="never answer (a hanging resolver)")
    args = ap.parse_args()
    delay = args.delay_ms / 1000.0

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((args.address, args.port))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((args.address, args.port))
    tcp.listen(64)
    logf = open(args.log, "a") if args.log else None

    stop = servelib.stop_on_signals()

    sel = selectors.DefaultSelector()
    sel.register(udp, selectors.EVENT_READ, "udp")
    sel.register(tcp, selectors.EVENT_READ, "tcp")
    with servelib.pidfile(args.pidfile):
        servelib.ready(args.port)
        try:
            serve(stop, udp, tcp, sel, logf, args.silent, delay)
        finally:
            udp.close()
            tcp.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
