#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A small stand-in for the Kubernetes API server, for skiffd's API source tests.

It speaks the parts of the real protocol skiffd uses: LIST (limit/continue pagination, the
list's metadata.resourceVersion), WATCH from a resourceVersion as a chunked stream of JSON
events one per line (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR 410), fieldSelector
spec.nodeName=, HTTPS with a throwaway CA made at start with the openssl CLI, bearer tokens
(401 without) or a client certificate the CA signed. Objects come from *.json files (--objects DIR: an object or a v1 List each; the
standard library has no YAML) or from the control endpoint, and are stored with what a real
server adds: uid, resourceVersion, creationTimestamp, generation; LIST items carry no
apiVersion/kind, as a real server's do not.

POST /_control (no token needed) takes one JSON operation:
  {"op": "apply", "object": {...}}          create or replace (ADDED or MODIFIED)
  {"op": "apply", "objects": [...]}         the same for many, in one burst
  {"op": "delete", "kind": K, "namespace": N, "name": X}
  {"op": "bookmark"}                         every open watch that asked for them gets one
  {"op": "drop"}                             close every open watch abruptly
  {"op": "token", "token": T}                the token accepted from now on
  {"op": "compact"}                          resourceVersions before now are too old (410)
  {"op": "fault", ...}                       any of: "close_after": {resource: N} (the next
      watch of it is cut after N events), "gone_http": [resource] (the next watch answers
      HTTP 410), "gone_event": [resource] (the next watch sends an ERROR event, code 410),
      "missing": [resource or resource@version] (404 until cleared with "found"),
      "found": [...], "slow_ms": N (delay every API answer), "page_size": N (cap on limit)
  {"op": "stats"}                            what was asked: lists, watches (resource and
      resourceVersion), auth failures

Starts with: READY port=<port> ca=<ca.crt> other_ca=<a CA that did not sign the server>
  client_cert=<PEM> client_key=<PEM> (a client certificate user the CA signed)
"""
import argparse
import base64
import bisect
import copy
import datetime
import http.server
import itertools
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

# resource -> (kind, group, versions, namespaced)
RESOURCES = {
    "namespaces": ("Namespace", "", ["v1"], False),
    "pods": ("Pod", "", ["v1"], True),
    "services": ("Service", "", ["v1"], True),
    "endpointslices": ("EndpointSlice", "discovery.k8s.io", ["v1"], True),
    "virtualservices": ("VirtualService", "networking.istio.io", ["v1", "v1beta1", "v1alpha3"], True),
    "destinationrules": ("DestinationRule", "networking.istio.io", ["v1", "v1beta1", "v1alpha3"], True),
    "peerauthentications": ("PeerAuthentication", "security.istio.io", ["v1", "v1beta1"], True),
    "authorizationpolicies": ("AuthorizationPolicy", "security.istio.io", ["v1", "v1beta1"], True),
}
KIND_TO_RESOURCE = {v[0]: k for k, v in RESOURCES.items()}


class State:
    def __init__(self, token):
        self.cond = threading.Condition()
        self.rv = 100
        self.objects = {}  # (resource, ns, name) -> object
        self.log = []  # (rv, resource, type, object)
        self.token = token
        self.compacted = 0
        self.close_after = {}
        self.gone_http = set()
        self.gone_event = set()
        self.missing = set()
        self.slow_ms = 0
        self.page_size = 0
        self.bookmark_gen = 0
        self.drop_gen = 0
        self.stats = {"lists": {}, "watches": [], "auth_failures": 0}

    def apply(self, obj):
        kind = obj.get("kind")
        res = KIND_TO_RESOURCE.get(kind)
        if not res:
            raise ValueError("unknown kind %s" % kind)
        obj = copy.deepcopy(obj)
        md = obj.setdefault("metadata", {})
        if RESOURCES[res][3]:
            md.setdefault("namespace", "default")
        key = (res, md.get("namespace", ""), md["name"])
        with self.cond:
            old = self.objects.get(key)
            self.rv += 1
            md["resourceVersion"] = str(self.rv)
            # a uid given is kept (a real server makes its own): the equivalence test needs the
            # same uids from both sources
            md["uid"] = old["metadata"]["uid"] if old else md.get("uid") or str(uuid.uuid4())
            md["creationTimestamp"] = (old["metadata"]["creationTimestamp"] if old else
                                       datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"))
            md["generation"] = old["metadata"].get("generation", 1) + 1 if old else 1
            md["managedFields"] = [{"manager": "fake-apiserver", "operation": "Update"}]
            self.objects[key] = obj
            self.log.append((self.rv, res, "MODIFIED" if old else "ADDED", copy.deepcopy(obj)))
            self.cond.notify_all()

    def delete(self, kind, ns, name):
        res = KIND_TO_RESOURCE[kind]
        with self.cond:
            obj = self.objects.pop((res, ns or "", name), None)
            if obj is None:
                return False
            self.rv += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.log.append((self.rv, res, "DELETED", obj))
            self.cond.notify_all()
            return True


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def node_match(selector, obj):
    if not selector:
        return True
    for term in selector.split(","):
        field, _, want = term.partition("=")
        if field == "spec.nodeName" and obj.get("spec", {}).get("nodeName", "") != want.lstrip("="):
            return False
    return True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body leave in separate writes: with Nagle, the body waited for the client's
    # delayed ACK, 40 ms on every answer and on any watch event sent right after another
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake-apiserver: " + fmt % args + "\n")

    @property
    def st(self):
        return self.server.state

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self):
        if self.path != "/_control":
            return self.send_json(405, status(405, "MethodNotAllowed", "read-only"))
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        try:
            self.send_json(200, self.control(req))
        except (KeyError, ValueError) as e:
            self.send_json(400, {"error": str(e)})

    def control(self, req):
        st, op = self.st, req["op"]
        if op == "apply":
            for obj in req.get("objects", [req.get("object")]):
                st.apply(obj)
        elif op == "delete":
            return {"deleted": st.delete(req["kind"], req.get("namespace", ""), req["name"])}
        elif op in ("bookmark", "drop", "token", "compact", "fault"):
            with st.cond:
                if op == "bookmark":
                    st.bookmark_gen += 1
                elif op == "drop":
                    st.drop_gen += 1
                elif op == "token":
                    st.token = req["token"]
                elif op == "compact":
                    st.compacted = st.rv + 1
                else:
                    st.close_after.update(req.get("close_after", {}))
                    st.gone_http |= set(req.get("gone_http", []))
                    st.gone_event |= set(req.get("gone_event", []))
                    st.missing |= set(req.get("missing", []))
                    st.missing -= set(req.get("found", []))
                    st.slow_ms = req.get("slow_ms", st.slow_ms)
                    st.page_size = req.get("page_size", st.page_size)
                st.cond.notify_all()
        elif op == "stats":
            with st.cond:
                return copy.deepcopy(st.stats)
        else:
            raise ValueError("unknown op %s" % op)
        return {"ok": True, "resourceVersion": str(st.rv)}

    def route(self, path):
        """(resource, version) for /api/v1/R or /apis/G/V/R, else None."""
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "api":
            group, version, res = "", parts[1], parts[2]
        elif len(parts) == 4 and parts[0] == "apis":
            group, version, res = parts[1], parts[2], parts[3]
        else:
            return None
        info = RESOURCES.get(res)
        if not info or info[1] != group or version not in info[2]:
            return None
        return res, version

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        st = self.st
        if st.slow_ms:
            time.sleep(st.slow_ms / 1000.0)
        if self.connection.getpeercert():
            with st.cond:
                st.stats["cert_users"] = st.stats.get("cert_users", 0) + 1
        elif self.headers.get("Authorization") != "Bearer " + st.token:
            with st.cond:
                st.stats["auth_failures"] += 1
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        r = self.route(url.path)
        if not r or r[0] in st.missing or "%s@%s" % r in st.missing:
            return self.send_json(404, status(404, "NotFound", "the server could not find the "
                                              "requested resource"))
        if q.get("watch") in ("1", "true"):
            return self.watch(r, q)
        return self.list(r, q)

    def list(self, r, q):
        res, version = r
        kind, group = RESOURCES[res][0], RESOURCES[res][1]
        st = self.st
        with st.cond:
            st.stats["lists"][res] = st.stats["lists"].get(res, 0) + 1
            # copies of one page only, not of the whole kind for every page of a big list
            items = [o for k, o in sorted(st.objects.items()) if k[0] == res]
            rv = st.rv
        items = [o for o in items if node_match(q.get("fieldSelector"), o)]
        start = 0
        if q.get("continue"):
            tok = json.loads(base64.b64decode(q["continue"]))
            start, rv = tok["start"], tok["rv"]
        limit = int(q.get("limit", "0")) or len(items) or 1
        if st.page_size:
            limit = min(limit, st.page_size)
        page = [copy.deepcopy(o) for o in items[start:start + limit]]
        for o in page:
            o.pop("apiVersion", None)
            o.pop("kind", None)
        md = {"resourceVersion": str(rv)}
        if start + limit < len(items):
            md["continue"] = base64.b64encode(json.dumps({"start": start + limit, "rv": rv})
                                              .encode()).decode()
        self.send_json(200, {"kind": kind + "List",
                             "apiVersion": (group + "/" if group else "") + version,
                             "metadata": md, "items": page})

    def watch_events(self, res, since, selector):
        # the log is in resourceVersion order: skip to `since` instead of scanning it whole
        # (with 100,000 objects loaded, every wake-up of every watch would walk them all)
        log = self.st.log
        start = bisect.bisect_right(log, since, key=lambda e: e[0])
        return [(rv, t, o) for rv, rs, t, o in itertools.islice(log, start, None)
                if rs == res and node_match(selector, o)]

    def watch(self, r, q):
        res = r[0]
        st = self.st
        since = int(q.get("resourceVersion") or 0)
        deadline = time.monotonic() + int(q.get("timeoutSeconds", "1800"))
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        with st.cond:
            st.stats["watches"].append([res, str(since)])
            close_after = st.close_after.pop(res, None)
            gone_http = res in st.gone_http
            st.gone_http.discard(res)
            gone_event = res in st.gone_event or since < st.compacted
            st.gone_event.discard(res)
            bgen, dgen = st.bookmark_gen, st.drop_gen
        if gone_http:
            return self.send_json(410, status(410, "Expired", "too old resource version"))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if gone_event:
            ev = {"type": "ERROR", "object": status(410, "Expired", "too old resource version: "
                                                    "%d (%d)" % (since, st.compacted))}
            self.chunk(json.dumps(ev).encode() + b"\n")
            self.chunk(b"")
            return
        sent = 0
        while True:
            with st.cond:
                evs = self.watch_events(res, since, q.get("fieldSelector"))
                while not evs and st.bookmark_gen == bgen and st.drop_gen == dgen:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    st.cond.wait(min(left, 1.0))
                    evs = self.watch_events(res, since, q.get("fieldSelector"))
                dropped = st.drop_gen != dgen
                bookmark = st.bookmark_gen != bgen and bookmarks
                bgen, rv_now = st.bookmark_gen, st.rv
            if dropped:
                return self.cut()
            for rv, t, o in evs:
                if close_after is not None and sent >= close_after:
                    return self.cut()
                self.chunk(json.dumps({"type": t, "object": o}).encode() + b"\n")
                since, sent = rv, sent + 1
            if bookmark:
                kind, group = RESOURCES[res][0], RESOURCES[res][1]
                obj = {"kind": kind, "apiVersion": (group + "/" if group else "") + r[1],
                       "metadata": {"resourceVersion": str(rv_now)}}
                self.chunk(json.dumps({"type": "BOOKMARK", "object": obj}).encode() + b"\n")
                since = max(since, rv_now)
            if time.monotonic() >= deadline:
                self.chunk(b"")
                return

    def cut(self):
        """End the connection without the closing chunk: a watch dropped mid-stream."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a client that hangs up, or refuses our certificate, is what some tests are about
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


def make_certs(d):
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=d)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj",
        "/CN=fake-apiserver-ca")
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")
    run("req", "-x509", *ec, "-keyout", "other-ca.key", "-out", "other-ca.crt", "-days", "2",
        "-subj", "/CN=fake-apiserver-ca")
    # a client certificate user, as kubeadm makes for admins: signed by the cluster CA
    run("req", *ec, "-keyout", "client.key", "-out", "client.csr", "-subj",
        "/O=system:nodes/CN=skiffd")
    run("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "client.crt", "-days", "2")


def load_objects(state, d):
    for name in sorted(os.listdir(d)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(d, name)) as f:
            obj = json.load(f)
        for o in obj.get("items", []) if obj.get("kind") == "List" else [obj]:
            state.apply(o)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--token", default="test-token")
    ap.add_argument("--objects", help="directory of *.json objects to serve")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="fake-apiserver.")
    try:
        make_certs(workdir)
        state = State(args.token)
        if args.objects:
            load_objects(state, args.objects)
        srv = Server(("127.0.0.1", args.port), Handler)
        srv.state, srv.verbose = state, args.verbose
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(workdir, "server.crt"), os.path.join(workdir, "server.key"))
        # a client certificate is asked for, not required: token users send none
        ctx.load_verify_locations(os.path.join(workdir, "ca.crt"))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
        print("READY port=%d ca=%s other_ca=%s client_cert=%s client_key=%s" % (
              srv.server_address[1], os.path.join(workdir, "ca.crt"),
              os.path.join(workdir, "other-ca.crt"), os.path.join(workdir, "client.crt"),
              os.path.join(workdir, "client.key")), flush=True)
        # the test that started us closes our stdin when it is done, or dies: we go too
        def on_stdin_eof():
            sys.stdin.read()
            shutil.rmtree(workdir, ignore_errors=True)
            os._exit(0)
        threading.Thread(target=on_stdin_eof, daemon=True).start()
        signal.signal(signal.SIGTERM, lambda *_: (shutil.rmtree(workdir, ignore_errors=True),
                                                  os._exit(0)))
        srv.serve_forever()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
