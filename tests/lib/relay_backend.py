#!/usr/bin/env python3
"""relay_backend.py: a stand-in for the local web server behind the responder's relay. It
answers a challenge path by its token's last three characters: "301" a redirect, "BIG" a
body of 5000 bytes, anything else 200 with "host=<the Host header>"; and logs every request
line with its Host to LOG.

usage: relay_backend.py PORT LOG"""
import http.server
import sys

port, log = int(sys.argv[1]), sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, "a") as f:
            f.write("%s %s host=%s\n" % (self.command, self.path, self.headers.get("Host")))
        if self.path.endswith("301"):
            self.send_response(301)
            self.send_header("Location", "https://elsewhere.test/")
            body = b""
        elif self.path.endswith("BIG"):
            self.send_response(200)
            body = b"x" * 5000
        else:
            self.send_response(200)
            body = ("host=%s" % self.headers.get("Host")).encode()
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", port), Handler).serve_forever()
