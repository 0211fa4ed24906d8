#!/usr/bin/env python3
"""Run inside a lab pod: one abusive HTTP/1.1 client against IP:PORT, printing what happened.

  abuse_probe.py IP PORT CASE
    ok        a well-formed GET: "STATUS"
    smuggle   Content-Length and Transfer-Encoding together: "STATUS closed" once the
              connection ended (the status line of the answer, "-" when none came)
    slowhead  a request head trickled a byte every half second: "closed SECONDS" (from the first
              byte), or "open" when it was still open after 40 s
    sniff     two capital letters, then nothing: "closed SECONDS BYTES" (bytes received), or
              "open" after 40 s
"""
import socket
import sys
import time

ip, port, case = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.create_connection((ip, port), timeout=40)


def read_to_end():
    """Everything until the peer ends the connection (FIN or RST), or None after 40 s."""
    got = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return got
            got += b
    except ConnectionResetError:
        return got
    except socket.timeout:
        return None


def status(b):
    return b.split(b" ", 2)[1].decode() if b and b.startswith(b"HTTP/1.1 ") else "-"


if case == "ok":
    s.sendall(b"GET /api/payments/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    print(status(read_to_end()))
elif case == "smuggle":
    s.sendall(b"POST /api/payments/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    got = read_to_end()
    print(status(got), "open" if got is None else "closed")
elif case == "slowhead":
    head = b"GET /api/payments/1 HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 200 + b"\r\n\r\n"
    t0 = time.monotonic()
    s.settimeout(0.5)
    for i in range(len(head)):
        if time.monotonic() - t0 > 40:
            break
        try:
            s.sendall(head[i:i + 1])
            if s.recv(65536) == b"":
                print("closed %d" % round(time.monotonic() - t0))
                sys.exit(0)
        except socket.timeout:
            continue
        except (BrokenPipeError, ConnectionResetError):
            print("closed %d" % round(time.monotonic() - t0))
            sys.exit(0)
    print("open")
elif case == "sniff":
    t0 = time.monotonic()
    s.sendall(b"GE")
    got = read_to_end()
    if got is None:
        print("open")
    else:
        print("closed %d %d" % (round(time.monotonic() - t0), len(got)))
else:
    sys.exit("unknown case " + case)
