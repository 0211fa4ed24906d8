#!/usr/bin/env python3
"""Run inside a lab pod: one HTTP/1.1 request to IP PORT on a kept-alive connection, then wait
(up to LIMIT seconds) for the far end to close it. Prints `status=CODE closed_after=S` (S in
seconds from the end of the answer, or `never`)."""
import socket
import sys
import time

ip, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.create_connection((ip, port), timeout=5)
s.sendall(b"GET /idle HTTP/1.1\r\nHost: web\r\n\r\n")
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(4096)
    if not d:
        break
    buf += d
head, _, body = buf.partition(b"\r\n\r\n")
status = head.split(b" ")[1].decode() if head.startswith(b"HTTP/") else "x"
length = 0
for line in head.split(b"\r\n")[1:]:
    k, _, v = line.partition(b":")
    if k.strip().lower() == b"content-length":
        length = int(v)
while len(body) < length:
    d = s.recv(4096)
    if not d:
        break
    body += d
t0 = time.monotonic()
s.settimeout(limit)
closed = "never"
try:
    while True:
        d = s.recv(4096)
        if not d:
            closed = "%.2f" % (time.monotonic() - t0)
            break
except socket.timeout:
    pass
except OSError:
    closed = "%.2f" % (time.monotonic() - t0)
print("status=%s closed_after=%s" % (status, closed))
