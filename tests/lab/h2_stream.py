#!/usr/bin/env python3
# A gRPC-shaped HTTP/2 client over a raw socket (h2c prior knowledge, stdlib only) for what nghttp
# cannot do: talk back and forth on one stream, or reset it mid-response.
#   h2_stream.py pingpong HOST PORT N   send message i only after message i-1 came back; prints
#                                       "pongs K" (answers read), "ended 1" when the response
#                                       ended, or "stuck at I" when an answer did not come in 5 s
#   h2_stream.py cancel HOST PORT PATH  one message, then RST_STREAM(CANCEL) once the first
#                                       response message came; prints "first_data 1" or "none"
#   h2_stream.py sized HOST PORT PATH N a GET with a body of N bytes; prints "request R data D
#                                       ended E": R its size as Istio's proxies count it (the
#                                       header list as RFC 9113 6.5.2 sizes it, plus the body), D
#                                       the response DATA read, E 1 when the response ended,
#                                       0 when the connection closed first; then "pod P", the
#                                       "pod" of skiff-echo's JSON answer
# Field blocks are sent as HPACK literals without indexing or Huffman; received ones are skipped.
import re
import socket
import struct
import sys
import time

DATA, HEADERS, RST, SETTINGS, PING, GOAWAY, WINDOW = 0, 1, 3, 4, 6, 7, 8
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", sid) + payload


def literal(name, value):
    n, v = name.encode(), value.encode()
    assert len(n) < 127 and len(v) < 127
    return b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v


def grpc_msg(text):
    b = text.encode()
    return b"\x00" + struct.pack(">I", len(b)) + b


class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=10)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(SETTINGS, 0, 0))

    def request(self, sid, host, path, end=False):
        block = b"".join(literal(k, v) for k, v in [
            (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", host),
            ("content-type", "application/grpc"), ("te", "trailers")])
        self.s.sendall(frame(HEADERS, END_HEADERS | (END_STREAM if end else 0), sid, block))

    def send(self, data):
        self.s.sendall(data)

    def read_frame(self, deadline):
        """The next frame (type, flags, sid, payload), answering SETTINGS and PING and giving
        back window for DATA; None when the deadline passes or the peer closes."""
        while True:
            if len(self.buf) >= 9:
                n = struct.unpack(">I", b"\x00" + self.buf[:3])[0]
                if len(self.buf) >= 9 + n:
                    t, fl = self.buf[3], self.buf[4]
                    sid = struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
                    p = self.buf[9:9 + n]
                    self.buf = self.buf[9 + n:]
                    if t == SETTINGS and not fl & ACK:
                        self.s.sendall(frame(SETTINGS, ACK, 0))
                    elif t == PING and not fl & ACK:
                        self.s.sendall(frame(PING, ACK, 0, p))
                    elif t == DATA and n:
                        inc = struct.pack(">I", n)
                        self.s.sendall(frame(WINDOW, 0, 0, inc) + frame(WINDOW, 0, sid, inc))
                    return t, fl, sid, p
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                b = self.s.recv(65536)
            except socket.timeout:
                return None
            if not b:
                return None
            self.buf += b


def pingpong(host, port, n):
    c = Conn(host, port)
    c.request(1, host, "/pingpong")
    got, pongs, ended = b"", 0, False
    for i in range(1, n + 1):
        want = grpc_msg("ping %d" % i)
        c.send(frame(DATA, 0, 1, want))
        deadline = time.monotonic() + 5
        while not got.startswith(want):
            f = c.read_frame(deadline)
            if f is None or (f[0] == RST and f[2] == 1) or f[0] == GOAWAY:
                print("pongs", pongs)
                print("stuck at", i)
                return
            if f[0] == DATA and f[2] == 1:
                got += f[3]
        got = got[len(want):]
        pongs += 1
    c.send(frame(DATA, END_STREAM, 1))
    deadline = time.monotonic() + 5
    while not ended:
        f = c.read_frame(deadline)
        if f is None:
            break
        ended = f[2] == 1 and f[0] in (DATA, HEADERS) and bool(f[1] & END_STREAM)
    print("pongs", pongs)
    print("ended", int(ended))


def cancel(host, port, path):
    c = Conn(host, port)
    c.request(1, host, path)
    c.send(frame(DATA, END_STREAM, 1, grpc_msg("go")))
    deadline = time.monotonic() + 5
    while True:
        f = c.read_frame(deadline)
        if f is None:
            print("none")
            return
        if f[0] == DATA and f[2] == 1 and f[3]:
            break
    c.send(frame(RST, 0, 1, struct.pack(">I", 8)))  # CANCEL
    print("first_data 1")
    time.sleep(0.5)


def sized(host, port, path, n):
    c = Conn(host, port)
    fields = [(":method", "GET"), (":scheme", "http"), (":path", path), (":authority", host),
              ("content-length", str(n))]
    head = sum(len(k) + len(v) + 32 for k, v in fields)
    c.send(frame(HEADERS, END_HEADERS, 1, b"".join(literal(k, v) for k, v in fields)))
    body = b"b" * n
    while len(body) > 16384:
        c.send(frame(DATA, 0, 1, body[:16384]))
        body = body[16384:]
    c.send(frame(DATA, END_STREAM, 1, body))
    deadline = time.monotonic() + 5
    data, ended = b"", 0
    while not ended:
        f = c.read_frame(deadline)
        if f is None:
            break
        if f[2] == 1 and f[0] == DATA:
            data += f[3]
        if f[2] == 1 and f[0] in (DATA, HEADERS) and f[1] & END_STREAM:
            ended = 1
    pod = re.search(rb'"pod":"([^"]*)"', data)
    print("request %d data %d ended %d pod %s" % (head + n, len(data), ended,
                                                  pod.group(1).decode() if pod else "-"))


if __name__ == "__main__":
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "pingpong":
        pingpong(host, port, int(sys.argv[4]))
    elif mode == "sized":
        sized(host, port, sys.argv[4], int(sys.argv[5]))
    else:
        cancel(host, port, sys.argv[4])
