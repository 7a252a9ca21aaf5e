#!/usr/bin/python3
"""ports.py: loopback ports for the tests (tests/lib.sh).

  ports.py          print a free TCP port on 127.0.0.1
  ports.py P...     exit 0 when every port P is free for both TCP and UDP on 127.0.0.1
"""
import socket
import sys


def free(port, kind):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", port))
        return s.getsockname()[1]
    except OSError:
        return None
    finally:
        s.close()


if len(sys.argv) == 1:
    print(free(0, socket.SOCK_STREAM))
    sys.exit(0)
for p in map(int, sys.argv[1:]):
    if free(p, socket.SOCK_STREAM) is None or free(p, socket.SOCK_DGRAM) is None:
        sys.exit(1)
