#!/usr/bin/env python3
# The lab check of a reader that stops (tests/lab/test_accel.sh): in the client pod, connect to
# the raw TCP echo port, write LEN pattern bytes from a thread while not reading for STOP_S
# seconds (the echo server's writes to us pass the fast path's cap and fall back to TCP, then
# ours do), and after that for as long as the writer still makes progress (a slow machine may
# not have written past the cap yet; a writer that TCP's window stopped, or that has finished,
# ends the wait), then read every byte back and compare it with the pattern, position by position.
# Then, with the connection still open, print how many sockhash entries it still has (polled for
# up to 5 s: both ends leave once their redirected bytes are read), and send one more message
# and read its echo. Prints "ok BYTES ENTRIES_AFTER" or "fail REASON".
#   accel_stop_reader.py HOST PORT LEN STOP_S SOCKHASH_PIN
import json
import socket
import subprocess
import sys
import threading
import time

host, port, length, stop_s, pin = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    float(sys.argv[4]), sys.argv[5]
PAT = bytes((i * 7 + 3) % 251 for i in range(251 * 4096))  # 251: prime, chunks never align


def pattern(off, n):
    out = bytearray()
    while n:
        at = off % len(PAT)
        k = min(n, len(PAT) - at)
        out += PAT[at:at + k]
        off += k
        n -= k
    return bytes(out)


def entries_of(lport):
    """sockhash entries whose local or remote port is this connection's client port"""
    dump = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", pin],
                          capture_output=True, text=True).stdout
    n = 0
    for e in json.loads(dump or "[]"):
        b = [int(x, 16) for x in e["key"]]
        if lport in (b[32] + 256 * b[33], b[34] + 256 * b[35]):
            n += 1
    return n


s = socket.create_connection((host, port), timeout=30)
lport = s.getsockname()[1]
before = entries_of(lport)
err = []


written = [0, time.monotonic()]  # bytes written, when the last write returned


def writer():
    try:
        off = 0
        while off < length:
            n = min(65536, length - off)
            s.sendall(pattern(off, n))
            off += n
            written[:] = [off, time.monotonic()]
    except OSError as e:
        err.append("write: %s" % e)


t = threading.Thread(target=writer)
t.start()
time.sleep(stop_s)
until = time.monotonic() + 300
while t.is_alive() and time.monotonic() - written[1] < 2 and time.monotonic() < until:
    time.sleep(0.2)
got = 0
while got < length:
    b = s.recv(min(1 << 20, length - got))
    if not b:
        print("fail end of stream after %d of %d bytes" % (got, length))
        sys.exit(1)
    if b != pattern(got, len(b)):
        print("fail bytes differ at offset %d" % got)
        sys.exit(1)
    got += len(b)
t.join()
if err:
    print("fail " + err[0])
    sys.exit(1)
after = before
for _ in range(50):
    after = entries_of(lport)
    if after == 0:
        break
    time.sleep(0.1)
s.sendall(b"still here")
echo = b""
while len(echo) < 10:
    b = s.recv(10 - len(echo))
    if not b:
        break
    echo += b
if echo != b"still here":
    print("fail the message after the fall-back came back as %r" % echo)
    sys.exit(1)
s.close()
print("ok %d %d %d" % (got, before, after))
