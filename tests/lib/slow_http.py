#!/usr/bin/env python3
"""slow_http.py: a web server that thinks for DELAY seconds, then answers every GET with 200
"slow". Tests use it for an http-01 check that lasts longer than the agent's idle timeout.

usage: slow_http.py ADDR PORT DELAY"""
import http.server
import socket
import sys
import time

addr, port, delay = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(delay)
        self.send_response(200)
        self.send_header("Content-Length", "4")
        self.end_headers()
        self.wfile.write(b"slow")

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET


Server((addr, port), Handler).serve_forever()
