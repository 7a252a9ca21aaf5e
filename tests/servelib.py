"""servelib.py: what the stand-in servers share (tests/spot-api.py, tests/dnsstub.py,
tests/faults/badserver.py): SIGTERM and SIGINT stop them cleanly, even while requests
hang; a pidfile, written once the signals are handled and removed at the end if it is
still theirs; "ready PORT" on stdout once they listen.
"""
import contextlib
import http.server
import os
import signal
import threading


class HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def stop_on_signals(stop=None):
    """The threading.Event that SIGTERM and SIGINT set (stop, or a new one)."""
    if stop is None:
        stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


@contextlib.contextmanager
def pidfile(path):
    """Writes this process's pid to path (atomically; nothing when path is empty), and
    removes the file at the end if it still holds this pid."""
    me = str(os.getpid())
    if path:
        tmp = "%s.tmp.%s" % (path, me)
        with open(tmp, "w") as f:
            f.write(me + "\n")
        os.rename(tmp, path)
    try:
        yield
    finally:
        if path:
            try:
                with open(path) as f:
                    if f.read().strip() == me:
                        os.unlink(path)
            except OSError:
                pass


def ready(port):
    print("ready %d" % port, flush=True)


def serve(httpd, stop, pidfile_path=None):
    """Serves httpd in a thread until stop is set (by a signal, or a handler), then
    shuts it down."""
    with pidfile(pidfile_path):
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
                         daemon=True).start()
        ready(httpd.server_address[1])
        while not stop.wait(0.5):
            pass
        httpd.shutdown()
        httpd.server_close()
