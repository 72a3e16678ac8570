#!/usr/bin/env python3
"""idle_conn.py: connects to ADDR:80, stays idle for WAIT seconds, then sends a request for
/index.html and prints "http:<status line>", "reset" or "timeout". Tests use it to prove that
a connection opened during a window does not outlive the window.

usage: idle_conn.py ADDR WAIT"""
import socket
import sys
import time

addr, wait = sys.argv[1], float(sys.argv[2])
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.settimeout(4)
try:
    s.connect((addr, 80))
except OSError:
    print("no-connect")
    sys.exit(0)
time.sleep(wait)
try:
    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = s.recv(200)
    print("http:" + data.split(b"\r\n", 1)[0].decode(errors="replace") if data else "closed")
except socket.timeout:
    print("timeout")
except ConnectionResetError:
    print("reset")
