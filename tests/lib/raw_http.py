#!/usr/bin/env python3
"""raw_http.py: sends hand-made bytes to ADDR:PORT and says what came back, for requests curl
will not make (pipelined, absolute-form, an HTTP/2 preface, a trickle).

usage: raw_http.py ADDR PORT MODE [ARG]
  send TEXT   sends TEXT (with \\r \\n escapes) at once; prints "statuses:<status codes>" of every
              response in the reply, "closed" for none, "reset" or "timeout"
  slow TEXT   sends TEXT one byte per second; prints "closed after N s" (no response),
              "answered <status> after N s", "reset after N s", or "still open after N s" (20 s)"""
import re
import socket
import sys
import time

addr, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
text = sys.argv[4].encode().decode("unicode_escape").encode("latin-1") if len(sys.argv) > 4 else b""
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.settimeout(4)
try:
    s.connect((addr, port))
except OSError as e:
    print("no-connect: %s" % e)
    sys.exit(0)


def read_all():
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def statuses(data):
    return " ".join(m.decode() for m in re.findall(rb"HTTP/\d\.\d (\d{3})", data))


if mode == "send":
    try:
        s.sendall(text)
        data = read_all()
        print("statuses:" + statuses(data) if data else "closed")
    except socket.timeout:
        print("timeout")
    except (ConnectionResetError, BrokenPipeError):
        print("reset")
elif mode == "slow":
    start = time.monotonic()
    s.settimeout(1)
    for b in text:
        try:
            s.send(bytes([b]))
            data = s.recv(4096)
            took = int(time.monotonic() - start)
            print("answered %s after %d s" % (statuses(data) or "-", took) if data
                  else "closed after %d s" % took)
            sys.exit(0)
        except socket.timeout:
            pass
        except (ConnectionResetError, BrokenPipeError):
            print("reset after %d s" % int(time.monotonic() - start))
            sys.exit(0)
        if time.monotonic() - start > 20:
            break
    print("still open after %d s" % int(time.monotonic() - start))
