#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Write the fuzz targets' seed corpora, tests/fuzz/corpus/TARGET/, from the repository's own test
# inputs (Istio's files in tests/conformance/istio, the unit fixtures, the examples, the fake API
# server's objects) and from requests, frames and records spelled out below as the tests write
# them. The corpora are committed; run this again after changing it:
#   tests/fuzz/make_seeds.py BUILD    (BUILD/bin/skiffctl mints the identity seeds)
# Needs python3-yaml (for the API objects as JSON), like tests/kube/yaml2json.py.
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
POD = b"\n--pod--\n"  # FZ_L7_POD in tests/fuzz/fuzz_l7.h


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def repo_yaml():
    pats = ["tests/conformance/istio/**/*.yaml", "tests/conformance/istio/**/*.yaml.tmpl",
            "tests/unit/fixtures/**/*.yaml", "examples/**/*.yaml", "tests/kube/*.yaml"]
    for p in pats:
        for f in sorted(glob.glob(os.path.join(ROOT, p), recursive=True)):
            yield os.path.relpath(f, ROOT)


def seeds_yaml_model():
    for rel in repo_yaml():
        with open(os.path.join(ROOT, rel), "rb") as f:
            put("fuzz_yaml_model", rel.replace("/", "_"), f.read())


def seeds_kube_stream():
    docs = []
    for rel in repo_yaml():
        if rel.endswith(".tmpl"):
            continue
        try:
            with open(os.path.join(ROOT, rel)) as f:
                docs += [d for d in yaml.safe_load_all(f) if isinstance(d, dict)]
        except yaml.YAMLError:
            pass
    for i in range(0, len(docs), 8):
        part = docs[i:i + 8]
        items = []
        for d in part:
            d = json.loads(json.dumps(d, default=str))
            d.setdefault("metadata", {})["resourceVersion"] = str(100 + i)
            items.append(d)
        lst = {"apiVersion": "v1", "kind": "List",
               "metadata": {"resourceVersion": str(100 + i), "continue": ""}, "items": items}
        put("fuzz_kube_stream", "list-%03d.json" % i, json.dumps(lst))
        events = [json.dumps({"type": t, "object": o}) for t, o in
                  zip(["ADDED", "MODIFIED", "DELETED"] * 3, items)]
        events.append(json.dumps({"type": "BOOKMARK", "object": {
            "kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": "999"}}}))
        put("fuzz_kube_stream", "watch-%03d.json" % i, "\n".join(events) + "\n")
    put("fuzz_kube_stream", "watch-gone.json", json.dumps({"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
        "reason": "Expired", "message": "too old resource version"}}) + "\n")
    put("fuzz_kube_stream", "status-401.json", json.dumps({
        "kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "Unauthorized",
        "reason": "Unauthorized", "code": 401}))
    # what the fuzzer found (test_fuzz_found.c)
    put("fuzz_kube_stream", "found-space-after-number", b'""0 ')
    put("fuzz_kube_stream", "found-number-then-quote", b"3''/''\xff\xff\xff''''3''''''''3")
    put("fuzz_kube_stream", "found-comment-after-object", b"{\r\t}\t/\t")


def seeds_authz_path():
    templates = ["", "/exact", "/path/template/{*}", "/{**}/path/template", "/api/{*}/secret",
                 "/files/{**}", "/a/{*}/b/{*}/c/{**}"]
    paths = ["/", "", "/a?b=c", "/a/./b", "/a/../b", "/a/b/..", "/a/b/.", "/../../a",
             "/public/%2E%2E/private", "/public/%2e/%2e%2e/private", "/%41%62%7e%2D",
             "/a%2fb%3f", "/a%zz%4", "/store//cart", "//a///b//", "/a/.hidden/..x",
             "/path/template/x", "/x/y/path/template", "/api/v1/secret?x=1#frag",
             "/files/a/b/c.txt", "/a/1/b/2/c/d/e", "/exact", "/public/%%32%65%%32%65/admin",
             "http://shop.example.com/x", "*"]
    for i, t in enumerate(templates):
        for j, p in enumerate(paths):
            put("fuzz_authz_path", "t%d-p%02d" % (i, j), t + "\n" + p)
    put("fuzz_authz_path", "found-bare-percent",
        b"\n/+/'/'&%52%7e%e\n/+/'/'&%e%63e%6\x04/+\n")


def http1(req, resp=b""):
    return req + (POD + resp if resp else b"")


OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


def seeds_l7_http1():
    H = b"Host: shop.example.com\r\n"
    s = {
        "get": http1(b"GET / HTTP/1.1\r\n" + H + b"\r\n", OK),
        "get-admin": http1(b"GET /admin/users HTTP/1.1\r\n" + H + b"\r\n"),
        "get-dots": http1(b"GET /public/%2e%2e/admin HTTP/1.1\r\n" + H + b"\r\n", OK),
        "pipelined": http1(b"GET /a HTTP/1.1\r\n" + H + b"\r\nGET /admin HTTP/1.1\r\n" + H +
                           b"\r\nHEAD /b HTTP/1.1\r\n" + H + b"\r\n",
                           OK + b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"),
        "post-length": http1(b"POST /items HTTP/1.1\r\n" + H +
                             b"Content-Length: 11\r\n\r\nhello world", OK),
        "post-chunked": http1(b"POST /items HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked"
                              b"\r\n\r\n5;ext=1\r\nhello\r\n0\r\nx-trailer: t\r\n\r\n",
                              b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                              b"2\r\nok\r\n0\r\n\r\n"),
        "denied-body": http1(b"PUT /admin/x HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc"
                             b"GET / HTTP/1.1\r\n" + H + b"\r\n", OK),
        "delete-auth": http1(b"DELETE /items/7 HTTP/1.1\r\n" + H +
                             b"Authorization: Bearer abc\r\n\r\n", OK),
        "x-block": http1(b"GET / HTTP/1.1\r\n" + H + b"x-block: a b\r\n\r\n"),
        "upgrade-ws": http1(b"GET /chat HTTP/1.1\r\n" + H + b"Connection: Upgrade\r\n"
                            b"Upgrade: websocket\r\n\r\nframes",
                            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                            b"Upgrade: websocket\r\n\r\nback"),
        "upgrade-h2c": http1(b"GET / HTTP/1.1\r\n" + H + b"Connection: Upgrade, HTTP2-Settings"
                             b"\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
                             b"\r\n", OK),
        "connect": http1(b"CONNECT shop.example.com:443 HTTP/1.1\r\n" + H + b"\r\n"),
        "absolute": http1(b"GET http://shop.example.com/a?x=1 HTTP/1.1\r\nHost: other\r\n\r\n",
                          OK),
        "http10-keepalive": http1(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                                  b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
                                  b"Content-Length: 2\r\n\r\nok"),
        "expect-100": http1(b"POST /items HTTP/1.1\r\n" + H + b"Expect: 100-continue\r\n"
                            b"Content-Length: 2\r\n\r\nhi",
                            b"HTTP/1.1 100 Continue\r\n\r\n" + OK),
        "close-delimited": http1(b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
                                 b"HTTP/1.1 200 OK\r\n\r\nuntil the end"),
        "not-modified": http1(b"GET / HTTP/1.1\r\n" + H + b"\r\n",
                              b"HTTP/1.1 304 Not Modified\r\ncontent-length: 99\r\n\r\n"),
        "smuggle": http1(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        "bad-fold": http1(b"GET / HTTP/1.1\r\n" + H + b"x: a\r\n b\r\n\r\n"),
        # what the fuzzer found (test_fuzz_found.c)
        "found-refused-upgrade": http1(b"GET / HTTP/1.1\r\n" + H + b"Connection: Upgrade, "
                                       b"HTTP2-Settings\r\nUpgrade: h5c\r\nHTTP2-Settings: "
                                       b"AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", OK),
        "many-fields": http1(b"GET / HTTP/1.1\r\n" + H +
                             b"".join(b"x-%d: v\r\n" % i for i in range(101)) + b"\r\n"),
    }
    for k, v in s.items():
        put("fuzz_l7_http1", k, v)


# ---- HTTP/2 ----

def frame(ftype, flags, sid, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", sid) + payload


def hint(v, prefix, first=0):
    mx = (1 << prefix) - 1
    if v < mx:
        return bytes([first | v])
    out = [first | mx]
    v -= mx
    while v >= 128:
        out.append(0x80 | (v & 0x7F))
        v >>= 7
    out.append(v)
    return bytes(out)


def hstr(s):
    s = s.encode() if isinstance(s, str) else s
    return hint(len(s), 7) + s


def lit(name, value, first=0x00):  # literal, new name: 0x00 not indexed, 0x40 incremental
    return bytes([first]) + hstr(name) + hstr(value)


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS = frame(4, 0, 0, b"")
SETTINGS_ACK = frame(4, 1, 0, b"")
HEADERS, DATA, CONT, RST, WUPD, PING, GOAWAY, PRIO = 1, 0, 9, 3, 8, 6, 7, 2
END_STREAM, END_HEADERS, PADDED, PRIORITY = 1, 4, 8, 0x20


def req(method, path, extra=(), authority="shop.example.com"):
    b = lit(":method", method) + lit(":scheme", "http") + lit(":path", path) + \
        lit(":authority", authority)
    for k, v in extra:
        b += lit(k, v)
    return b


def seeds_l7_h2():
    c = PREFACE + SETTINGS
    s = {
        "get": c + frame(HEADERS, END_STREAM | END_HEADERS, 1, req("GET", "/")),
        "get-admin": c + frame(HEADERS, END_STREAM | END_HEADERS, 1, req("GET", "/admin")),
        "two-streams": c + frame(HEADERS, END_STREAM | END_HEADERS, 1, req("GET", "/a")) +
        frame(HEADERS, END_STREAM | END_HEADERS, 3, req("GET", "/admin/x")) + SETTINGS_ACK,
        "post-data": c + frame(HEADERS, END_HEADERS, 1, req("POST", "/items",
                                                            [("content-length", "5")])) +
        frame(DATA, END_STREAM, 1, b"hello"),
        "denied-data": c + frame(HEADERS, END_HEADERS, 1, req("PUT", "/admin/x")) +
        frame(DATA, 0, 1, b"x" * 100) + frame(WUPD, 0, 1, struct.pack(">I", 1000)) +
        frame(DATA, END_STREAM, 1, b"y"),
        "trailers": c + frame(HEADERS, END_HEADERS, 1, req("POST", "/items")) +
        frame(DATA, 0, 1, b"abc") + frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                          lit("x-trailer", "t")),
        "continuation": c + frame(HEADERS, END_STREAM, 1, req("GET", "/")[:10]) +
        frame(CONT, END_HEADERS, 1, req("GET", "/")[10:]),
        "indexed": c + frame(HEADERS, END_STREAM | END_HEADERS, 1,
                             bytes([0x82, 0x86, 0x84]) + lit(":authority", "shop.example.com",
                                                              0x40) +
                             lit("x-big", "v" * 300, 0x40)) +
        frame(HEADERS, END_STREAM | END_HEADERS, 3, bytes([0x82, 0x86, 0x84, 0xBF, 0xBE])),
        "table-size": c + frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                bytes([0x20]) + hint(100, 5, 0x20) + req("GET", "/")),
        "connect": c + frame(HEADERS, END_HEADERS, 1, lit(":method", "CONNECT") +
                             lit(":authority", "10.0.0.9:443")),
        "priority-padded": c + frame(HEADERS, END_STREAM | END_HEADERS | PADDED | PRIORITY, 1,
                                     bytes([3]) + struct.pack(">I", 0) + bytes([15]) +
                                     req("GET", "/") + b"\0\0\0"),
        "control": c + frame(PING, 0, 0, b"12345678") + frame(PRIO, 0, 1, b"\0\0\0\0\x10") +
        frame(RST, 0, 1, struct.pack(">I", 8)) + frame(WUPD, 0, 0, struct.pack(">I", 65535)) +
        frame(GOAWAY, 0, 0, struct.pack(">II", 0, 0)),
        "malformed": c + frame(HEADERS, END_STREAM | END_HEADERS, 1,
                               req("GET", "/", [("Upper", "x"), ("connection", "close")])),
        "x-block": c + frame(HEADERS, END_STREAM | END_HEADERS, 1,
                             req("GET", "/", [("x-block", "yes")])),
        "pod-raw": c + frame(HEADERS, END_STREAM | END_HEADERS, 1, req("GET", "/")) + POD +
        frame(4, 0, 0, struct.pack(">HI", 1, 8192) + struct.pack(">HI", 5, 32768)) +
        SETTINGS_ACK + frame(HEADERS, END_HEADERS, 1, bytes([0x88])) +
        frame(DATA, END_STREAM, 1, b"ok"),
    }
    for k, v in s.items():
        put("fuzz_l7_h2", k, v)


def seeds_hbone():
    c = PREFACE + SETTINGS

    def connect(auth, extra=()):
        b = lit(":method", "CONNECT") + lit(":authority", auth)
        for k, v in extra:
            b += lit(k, v)
        return b
    fwd = [("forwarded", "for=10.0.0.7"), ("baggage", "k8s.namespace.name=shop"),
           ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
    s = {
        "server-connect": b"\0" + c + frame(HEADERS, END_HEADERS, 1, connect("10.0.0.9:8080",
                                                                            fwd)) +
        frame(DATA, 0, 1, b"hello") + frame(DATA, END_STREAM, 1, b""),
        "server-connect6": b"\0" + c + frame(HEADERS, END_HEADERS, 1, connect(
            "[fd00::9]:8080", [("forwarded", 'for="[fd00::7]"')])) +
        frame(RST, 0, 1, b"\0\0\0\x08"),
        "server-bad-method": b"\0" + c + frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                                req("GET", "/")),
        "server-bad-authority": b"\0" + c + frame(HEADERS, END_HEADERS, 1, connect("pod:80")),
        "server-many": b"\0" + c + b"".join(frame(HEADERS, END_HEADERS, 2 * i + 1,
                                                  connect("10.0.0.9:%d" % (8000 + i)))
                                            for i in range(8)) +
        frame(GOAWAY, 0, 0, struct.pack(">II", 15, 0)),
        "client-200": b"\x01" + SETTINGS + SETTINGS_ACK +
        frame(HEADERS, END_HEADERS, 1, lit(":status", "200")) + frame(DATA, 0, 1, b"data") +
        frame(DATA, END_STREAM, 1, b""),
        "client-401": b"\x01" + SETTINGS + frame(HEADERS, END_STREAM | END_HEADERS, 1,
                                                 lit(":status", "401")),
        "client-reset": b"\x01" + SETTINGS + frame(RST, 0, 1, struct.pack(">I", 7)) +
        frame(WUPD, 0, 0, struct.pack(">I", 1 << 20)),
    }
    for k, v in s.items():
        put("fuzz_hbone", k, v)


def seeds_tls_records():
    def sealed(t, body, pad=0):
        return bytes([0, t, pad]) + struct.pack(">H", len(body)) + body

    def raw(b):
        return bytes([1]) + struct.pack(">H", len(b)) + b

    def send(n):
        return bytes([3]) + struct.pack(">H", n)
    data = sealed(23, b"GET / HTTP/1.1\r\n\r\n")
    s = {
        "data": data + sealed(23, b"", 10) + sealed(23, b"x" * 16384),
        "key-update": data + sealed(22, bytes([24, 0, 0, 1, 0])) + data,
        "key-update-asked": data + sealed(22, bytes([24, 0, 0, 1, 1])) + send(100) + data,
        "ticket": sealed(22, bytes([4, 0, 0, 8]) + b"\0" * 8 +
                         bytes([4, 0, 0, 2, 0, 0])) + data,
        "close": data + sealed(21, bytes([1, 0])),
        "cancel": sealed(21, bytes([1, 90])) + sealed(21, bytes([1, 0])),
        "alert-fatal": sealed(21, bytes([2, 40])),
        "raw-header": raw(bytes([23, 3, 3, 0, 17]) + b"\0" * 17),
        "raw-partial": raw(bytes([23, 3])) + raw(bytes([3, 0x40, 0x11])),
        "tamper": bytes([2, 23, 0]) + struct.pack(">H", 5) + b"hello" + bytes([7]),
        "send": send(40000) + data,
    }
    for k, v in s.items():
        put("fuzz_tls_records", k, v)
        put("fuzz_tls_records", k + "-384", v + b"\x03\x00\x00")  # odd size: the other suite


def seeds_identity():
    skiffctl = os.path.join(ROOT, BUILD, "bin", "skiffctl")
    tmp = tempfile.mkdtemp()
    try:
        subprocess.run([skiffctl, "ca", "init", tmp + "/ca"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([skiffctl, "cert", "mint", "--ca", tmp + "/ca", "--ns", "shop", "--sa",
                        "web", "--out", tmp + "/leaf"], check=True, stdout=subprocess.DEVNULL)
        ca_crt = open(tmp + "/ca/ca.crt", "rb").read()
        ca_key = open(tmp + "/ca/ca.key", "rb").read()
        leaf = sorted(glob.glob(tmp + "/leaf/*"))
        put("fuzz_identity", "ca-dir.pem", ca_crt + ca_key)
        put("fuzz_identity", "ca.crt", ca_crt)
        der = subprocess.run(["openssl", "x509", "-outform", "DER"], input=ca_crt,
                             capture_output=True, check=True).stdout
        put("fuzz_identity", "ca.der", der)
        for f in leaf:
            pem = open(f, "rb").read()
            put("fuzz_identity", "leaf-" + os.path.basename(f), pem)
            if b"CERTIFICATE" in pem:
                der = subprocess.run(["openssl", "x509", "-outform", "DER"], input=pem,
                                     capture_output=True, check=True).stdout
                put("fuzz_identity", "leaf.der", der)
        # the target verifies against this CA, at a time within the leaf's life
        now = int(subprocess.run(["date", "+%s"], capture_output=True, text=True).stdout) + 60
        with open(os.path.join(ROOT, "tests", "fuzz", "fuzz_identity_ca.h"), "w") as h:
            h.write("/* SPDX-License-Identifier: Apache-2.0 */\n"
                    "/* Written by tests/fuzz/make_seeds.py: the mesh root that signed the\n"
                    " * identity seeds, and a time within their life. */\n"
                    "#define FZ_ID_NOW %dL\n" % now)
            for name, pem in (("FZ_ID_CA_CRT", ca_crt), ("FZ_ID_CA_KEY", ca_key)):
                h.write("#define %s \\\n" % name)
                for line in pem.decode().splitlines():
                    h.write('\t"%s\\n" \\\n' % line)
                h.write("\t\"\"\n")
    finally:
        shutil.rmtree(tmp)
    put("fuzz_identity", "spiffe-id", "spiffe://cluster.local/ns/shop/sa/web")
    put("fuzz_identity", "spiffe-bad", "spiffe://Cluster.local/ns/-x/sa/a/b")


def seeds_orig_dst():
    # a peer's sockaddr_storage (128 bytes, as getpeername fills it), then the 20-byte record the
    # kernel filed (skiff_sock_origin: address, port, family 4 or 6, flags in pad): the lab's
    # pod and node addresses, IPv4-mapped peers, a family skiffd refuses, short inputs
    import socket
    import struct

    def sin(ip, port):
        b = struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + socket.inet_aton(ip)
        return b.ljust(128, b"\0")

    def sin6(ip, port):
        b = struct.pack("=H", socket.AF_INET6) + struct.pack("!H", port) + b"\0" * 4
        return (b + socket.inet_pton(socket.AF_INET6, ip) + b"\0" * 4).ljust(128, b"\0")

    def rec4(ip, port, flags=0):
        return socket.inet_aton(ip).ljust(16, b"\0") + struct.pack("!HBB", port, 4, flags)

    def rec6(ip, port, flags=0):
        return socket.inet_pton(socket.AF_INET6, ip) + struct.pack("!HBB", port, 6, flags)

    put("fuzz_orig_dst", "v4-pod", sin("10.244.1.5", 41000) + rec4("10.96.0.10", 80))
    put("fuzz_orig_dst", "v4-fast", sin("10.244.1.5", 41001) + rec4("10.244.2.7", 8080, 1))
    put("fuzz_orig_dst", "v6-pod", sin6("fd00:10:244::5", 41002) + rec6("fd00:10:96::a", 443))
    put("fuzz_orig_dst", "v4mapped-peer",
        sin6("::ffff:10.244.1.5", 41003) + rec4("198.18.0.2", 15008))
    put("fuzz_orig_dst", "v4mapped-dst", sin("10.244.1.5", 41004) + rec6("::ffff:10.96.0.1", 80))
    put("fuzz_orig_dst", "unix-peer", struct.pack("=H", socket.AF_UNIX).ljust(128, b"\0"))
    put("fuzz_orig_dst", "short", sin("10.244.1.5", 1)[:6])


def seeds_found():
    # inputs the fuzzers found bugs with, too long to spell out here (test_fuzz_found.c reads them)
    for f in sorted(glob.glob(os.path.join(ROOT, "tests", "fuzz", "found", "*", "*"))):
        with open(f, "rb") as src:
            put(os.path.basename(os.path.dirname(f)), "found-" + os.path.basename(f), src.read())


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    seeds_found()
    seeds_yaml_model()
    seeds_kube_stream()
    seeds_authz_path()
    seeds_l7_http1()
    seeds_l7_h2()
    seeds_hbone()
    seeds_tls_records()
    seeds_identity()
    seeds_orig_dst()
    for t in sorted(os.listdir(OUT)):
        print("%s: %d seeds" % (t, len(os.listdir(os.path.join(OUT, t)))))


main()
