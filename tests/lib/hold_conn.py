#!/usr/bin/env python3
"""hold_conn.py: opens N TCP connections to HOST:PORT, says nothing on them (no TLS hello), and
at each of the given times (seconds after the last connect) prints how many the server still
keeps open, one "T:OPEN" word per time on one line. Tests use it to hold an agent's places.

usage: hold_conn.py HOST PORT N T..."""
import socket
import sys
import time

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
times = [float(t) for t in sys.argv[4:]]
family = socket.AF_INET6 if ":" in host else socket.AF_INET
conns = []
for _ in range(n):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, port))
        conns.append(s)
    except OSError:
        s.close()


def still_open(s):
    """False once the server closed or reset it: end of file (maybe after a TLS alert) or an
    error; True while nothing, or only data, has come."""
    if s.fileno() < 0:
        return False
    s.setblocking(False)
    try:
        while s.recv(4096):
            pass
    except BlockingIOError:
        return True
    except OSError:
        pass
    s.close()
    return False


start = time.monotonic()
words = []
for t in times:
    time.sleep(max(0.0, start + t - time.monotonic()))
    words.append("%g:%d" % (t, sum(still_open(s) for s in conns)))
print(" ".join(words), flush=True)
