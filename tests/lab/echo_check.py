#!/usr/bin/env python3
"""Send SIZE random bytes to a TCP echo server at HOST PORT, shut down writing, read the echo
until EOF; print whether the bytes came back equal. A lab helper (python3 is on every node)."""
import hashlib
import os
import socket
import sys
import threading

host, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = os.urandom(size)
# a guard against a hang, not a speed limit: 32 MiB under QEMU TCG with two guests running
# can take well over 20 s
sock = socket.create_connection((host, port), timeout=90)


def send():
    sock.sendall(data)
    sock.shutdown(socket.SHUT_WR)


writer = threading.Thread(target=send)
writer.start()
digest, got = hashlib.sha256(), 0
while True:
    chunk = sock.recv(1 << 16)
    if not chunk:
        break
    digest.update(chunk)
    got += len(chunk)
writer.join()
print("sent", size, "echoed", got, "equal", digest.digest() == hashlib.sha256(data).digest())
