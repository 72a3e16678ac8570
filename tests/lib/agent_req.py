#!/usr/bin/env python3
"""agent_req.py: one signed request to acmegate-agent (docs/agent-protocol.md), for the tests.

Prints "STATUS SIGNATURE" on the first line (SIGNATURE: signed, unsigned or bad-signature,
the reply's Acmegate-Signature checked against the request's nonce) and the body on the second.
Hostile variants: --forge (a wrong signature), --time-offset -120 (a stale clock), --replay (the
same signed request twice; the second is reported), --oversize N (a body of N bytes), --json
(any body), --target (a request target other than the signed path), --header (one more header
line, sent after the signed ones, so an Acmegate-* one is a duplicate). Standard library only.
"""
import argparse
import hashlib
import hmac
import http.client
import os
import ssl
import sys
import time
from urllib.parse import urlsplit


def request_sig(secret, method, path, stamp, nonce, body):
    msg = f"acmegate-v1\n{method}\n{path}\n{stamp}\n{nonce}\n".encode() + body
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


def reply_sig(secret, status, nonce, body):
    msg = f"acmegate-v1-reply\n{status}\n{nonce}\n".encode() + body
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()


def tls_context(args):
    if args.insecure:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=args.ca)
    ctx.minimum_version = ssl.TLSVersion[args.tls_min]
    if args.tls_max:
        ctx.maximum_version = ssl.TLSVersion[args.tls_max]
    return ctx


def send(args, secret, headers, body):
    url = urlsplit(args.url)
    conn = http.client.HTTPSConnection(url.hostname, url.port or 443, timeout=args.timeout,
                                       context=tls_context(args))
    target = args.target or args.path
    try:
        if args.header:  # http.client's request() would merge duplicates
            conn.putrequest(args.method, target, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            for line in args.header:
                k, _, v = line.partition(":")
                conn.putheader(k.strip(), v.strip())
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
        elif args.chunked:  # no Content-Length: the agent must count the bytes itself
            conn.request(args.method, target, body=iter([body[i:i + 1000] for i in range(0, len(body), 1000)]),
                         headers=headers, encode_chunked=True)
        else:
            conn.request(args.method, target, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    got = resp.getheader("Acmegate-Signature")
    if got is None:
        state = "unsigned"
    elif hmac.compare_digest(got, reply_sig(secret, resp.status, headers["Acmegate-Nonce"], data)):
        state = "signed"
    else:
        state = "bad-signature"
    return resp.status, state, data


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True, help="https://HOST:PORT")
    ap.add_argument("--ca", help="the agent's certificate (PEM) to pin")
    ap.add_argument("--insecure", action="store_true", help="do not verify the certificate")
    ap.add_argument("--key", required=True, help="key id")
    ap.add_argument("--secret", required=True, help="64 hex digits")
    ap.add_argument("--method", default="GET")
    ap.add_argument("--path", default="/v1/info")
    ap.add_argument("--target", help="the request target sent (default: --path, which is signed)")
    ap.add_argument("--header", action="append", metavar="'NAME: VALUE'",
                    help="one more header line after the signed ones (repeatable)")
    ap.add_argument("--json", help="the body, sent as is")
    ap.add_argument("--oversize", type=int, metavar="N", help="a JSON body of N bytes")
    ap.add_argument("--chunked", action="store_true", help="send the body chunked")
    ap.add_argument("--forge", action="store_true", help="flip the signature's last digit")
    ap.add_argument("--time-offset", type=int, default=0, help="seconds added to the clock")
    ap.add_argument("--nonce", help="this nonce instead of a fresh one")
    ap.add_argument("--replay", action="store_true", help="send the request twice, report the second")
    ap.add_argument("--tls-min", default="TLSv1_2", choices=["TLSv1", "TLSv1_1", "TLSv1_2", "TLSv1_3"])
    ap.add_argument("--tls-max", choices=["TLSv1", "TLSv1_1", "TLSv1_2", "TLSv1_3"])
    ap.add_argument("--timeout", type=float, default=30)
    args = ap.parse_args()

    secret = bytes.fromhex(args.secret)
    body = b""
    if args.json is not None:
        body = args.json.encode()
    elif args.oversize:
        pad = max(args.oversize - len('{"type":"http-01","name":"x","pad":""}'), 0)
        body = ('{"type":"http-01","name":"x","pad":"' + "a" * pad + '"}').encode()
    stamp = str(int(time.time()) + args.time_offset)
    nonce = args.nonce or os.urandom(16).hex()
    sig = request_sig(secret, args.method, args.path, stamp, nonce, body)
    if args.forge:
        sig = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    headers = {"Acmegate-Key": args.key, "Acmegate-Time": stamp, "Acmegate-Nonce": nonce,
               "Acmegate-Signature": sig}
    if body:
        headers["Content-Type"] = "application/json"
    try:
        if args.replay:
            send(args, secret, headers, body)
        status, state, data = send(args, secret, headers, body)
    except (OSError, http.client.HTTPException) as e:
        print(f"000 error {type(e).__name__}: {e}")
        return 1
    print(f"{status} {state}")
    print(data.decode(errors="replace"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
