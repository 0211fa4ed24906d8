#!/usr/bin/env python3
"""Load for tests/lab/test_upgrade.sh, run in the client pod until DIR/stop appears.

Four clients at once, each counting successes and failures (a reset, a refused or timed-out
connect, a short or wrong answer):
  kernel   a new connection per request to the echo pod on the client's node (kernel path)
  punt     a new connection per request to the echo pod on the other node (punted, HBONE)
  long     ONE connection to the other node's echo port for the whole run, a small echo every
           20 ms; it must never break, and must carry bytes after DIR/mark appears
  l7       HTTP/1.1 keep-alive to the web pod on the other node, whose skiffd relays every
           request through its L7 filter (AuthorizationPolicy on HTTP fields); a new
           connection every 50 requests
  routed   HTTP/1.1 keep-alive to the `routed` Service, whose VirtualService (retries) makes
           this node's skiffd route each request (its L7 router); a draining skiffd ends the
           connection with `Connection: close` after a response, which the client honours as
           any HTTP/1.1 client does
Writes DIR/started once every client has succeeded once, and DIR/result.json at the end.
"""
import json
import os
import socket
import sys
import threading
import time

D = sys.argv[1]
ECHO1, ECHO2, WEB2 = sys.argv[2:5]
TIMEOUT = 15.0  # a TCG guest (make vmtest) may take seconds for a first HBONE handshake
stats = {k: {"ok": 0, "fail": 0, "errors": []} for k in ("kernel", "punt", "long", "l7", "routed")}
stats["long"]["bytes_after_mark"] = 0
lock = threading.Lock()


def done():
    return os.path.exists(os.path.join(D, "stop"))


def record(kind, ok, err=None):
    with lock:
        s = stats[kind]
        if ok:
            s["ok"] += 1
        else:
            s["fail"] += 1
            if len(s["errors"]) < 10:
                s["errors"].append("%.3f %s" % (time.time(), err))


def read_response(f, fields=None):
    """One HTTP/1.1 response from file f: (status, body); its fields into `fields` if given."""
    line = f.readline()
    if not line:
        raise EOFError("connection closed before a response")
    status = int(line.split()[1])
    length = 0
    while True:
        h = f.readline()
        if not h:
            raise EOFError("connection closed in the headers")
        if h in (b"\r\n", b"\n"):
            break
        k, _, v = h.decode().partition(":")
        if fields is not None:
            fields[k.strip().lower()] = v.strip().lower()
        if k.strip().lower() == "content-length":
            length = int(v)
    body = f.read(length) if length else b""
    if len(body) != length:
        raise EOFError("short body")
    return status, body


def one_shot(kind, addr, port):
    while not done():
        try:
            with socket.create_connection((addr, port), timeout=TIMEOUT) as s:
                s.sendall(b"GET /%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" %
                          kind.encode())
                status, _ = read_response(s.makefile("rb"))
            record(kind, status == 200, "status %d" % status)
        except Exception as e:  # every failure counts, whatever it is
            record(kind, False, repr(e))
        time.sleep(0.01)


def long_lived(addr):
    try:
        s = socket.create_connection((addr, 9000), timeout=TIMEOUT)
    except Exception as e:
        record("long", False, repr(e))
        return
    msg = b"x" * 63 + b"\n"
    while not done():
        try:
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                b = s.recv(len(msg) - len(got))
                if not b:
                    raise EOFError("the long-lived connection was closed")
                got += b
            ok = got == msg
            record("long", ok, "echo differs")
            if not ok:
                return
            if os.path.exists(os.path.join(D, "mark")):
                with lock:
                    stats["long"]["bytes_after_mark"] += len(got)
        except Exception as e:
            record("long", False, repr(e))
            return
        time.sleep(0.02)
    s.close()


def keep_alive(addr):
    while not done():
        try:
            with socket.create_connection((addr, 8080), timeout=TIMEOUT) as s:
                f = s.makefile("rb")
                for _ in range(50):
                    if done():
                        break
                    s.sendall(b"GET /l7 HTTP/1.1\r\nHost: web\r\n\r\n")
                    status, _ = read_response(f)
                    record("l7", status == 200, "status %d" % status)
                    time.sleep(0.01)
        except Exception as e:
            record("l7", False, repr(e))
            time.sleep(0.01)


def routed(name):
    while not done():
        try:
            with socket.create_connection((name, 80), timeout=TIMEOUT) as s:
                f = s.makefile("rb")
                for _ in range(50):
                    if done():
                        break
                    s.sendall(b"GET /routed HTTP/1.1\r\nHost: routed\r\n\r\n")
                    fields = {}
                    status, _ = read_response(f, fields)
                    record("routed", status == 200, "status %d" % status)
                    if fields.get("connection") == "close":
                        break
                    time.sleep(0.01)
        except Exception as e:
            record("routed", False, repr(e))
            time.sleep(0.01)


threads = [threading.Thread(target=one_shot, args=("kernel", ECHO1, 8080)),
           threading.Thread(target=one_shot, args=("punt", ECHO2, 8080)),
           threading.Thread(target=long_lived, args=(ECHO2,)),
           threading.Thread(target=keep_alive, args=(WEB2,)),
           threading.Thread(target=routed, args=("routed",))]
for t in threads:
    t.start()
while not done():
    with lock:
        if all(stats[k]["ok"] for k in stats):
            open(os.path.join(D, "started"), "w").close()
    time.sleep(0.1)
for t in threads:
    t.join()
with open(os.path.join(D, "result.json"), "w") as f:
    json.dump(stats, f)
