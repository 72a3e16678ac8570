#!/usr/bin/env python3
"""tcp_segment.py: a TCP client in raw sockets, for testing the path gate against crafted
segments (root; run it inside a test namespace whose kernel must not answer the server's
SYN-ACK with a reset: drop outgoing RSTs there first).

usage: tcp_segment.py SRC DST PORT TOKEN MODE
  MODE valid    the challenge request, starting at the stream's first byte
  MODE overlap  a segment that starts 83 bytes before the first byte: the challenge request
                line, which TCP will trim as "already received", then GET /index.html
prints "http:<status line>", "reset" or "timeout"."""
import random
import select
import socket
import struct
import sys
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_packet(src, dst, sport, dport, seq, ack, flags, payload=b""):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, 65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack(
        "!BBH", 0, socket.IPPROTO_TCP, len(hdr) + len(payload))
    csum = checksum(pseudo + hdr + payload)
    return hdr[:16] + struct.pack("!H", csum) + hdr[18:] + payload


def receive(rx, dst, dport, sport, deadline):
    """Next TCP segment from dst:dport to our sport: (flags, seq, payload), or None."""
    while time.time() < deadline:
        ready, _, _ = select.select([rx], [], [], max(0, deadline - time.time()))
        if not ready:
            return None
        pkt = rx.recv(65535)
        ihl = (pkt[0] & 0x0F) * 4
        if socket.inet_ntoa(pkt[12:16]) != dst:
            continue
        sp, dp, seq, _ack, off, flags = struct.unpack("!HHIIBB", pkt[ihl:ihl + 14])
        if sp == dport and dp == sport:
            return flags, seq, pkt[ihl + (off >> 4) * 4:]
    return None


def main():
    src, dst, port, token, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    sport, isn = random.randint(20000, 60000), random.randint(0, 2**32 - 1)
    send = lambda seq, ack, flags, data=b"": tx.sendto(
        tcp_packet(src, dst, sport, port, seq, ack, flags, data), (dst, 0))
    deadline = time.time() + 4
    send(isn, 0, 0x02)  # SYN
    got = receive(rx, dst, port, sport, deadline)
    if not got or got[0] & 0x12 != 0x12:
        print("timeout" if not got else "reset")
        return
    server_next = got[1] + 1
    send(isn + 1, server_next, 0x10)  # ACK
    line = ("GET /.well-known/acme-challenge/%s HTTP/1." % token).encode()
    if mode == "valid":
        seq, data = isn + 1, line + b"1\r\nHost: x\r\nConnection: close\r\n\r\n"
    else:
        seq, data = isn + 1 - len(line), line + b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    send(seq, server_next, 0x18, data)  # PSH|ACK
    while True:
        got = receive(rx, dst, port, sport, deadline)
        if not got:
            print("timeout")
            return
        flags, _seq, payload = got
        if flags & 0x04:
            print("reset")
            return
        if payload:
            print("http:" + payload.split(b"\r\n", 1)[0].decode(errors="replace"))
            try:  # end the connection; the test namespace may drop our own resets
                send(seq + len(data), server_next + len(payload), 0x14)
            except OSError:
                pass
            return


if __name__ == "__main__":
    main()
