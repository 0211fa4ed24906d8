# SPDX-License-Identifier: Apache-2.0
"""HTTP: discovery, LIST/WATCH, GET, POST, PUT, PATCH, DELETE on the kinds of resources.py, and
the /_control endpoint the tests and the lab drive the server with."""
import base64
import bisect
import copy
import http.server
import itertools
import json
import socket
import sys
import time
import urllib.parse

from . import openapi, resources, tables
from .patch import PATCHERS, PatchError
from .resources import RESOURCES
from .selectors import field_match, label_match
from .store import ApiError, not_found, status

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-skiff-fake", "platform":
           "linux/amd64", "goVersion": "go1.23", "compiler": "gc", "buildDate":
           "2025-01-01T00:00:00Z", "gitCommit": "0" * 40, "gitTreeState": "clean"}


class Route:
    """A resource URL: /api/v1[/namespaces/NS]/R[/NAME] or /apis/G/V[/namespaces/NS]/R[/NAME]."""

    def __init__(self, res, version, ns, name):
        self.res, self.version, self.ns, self.name = res, version, ns, name

    @property
    def key(self):
        return self.res, self.ns or "", self.name

    def __iter__(self):  # (resource, version), as the stats and fault names use
        return iter((self.res, self.version))


def parse_route(path):
    parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    if len(rest) not in (1, 2):
        return None
    info = RESOURCES.get(rest[0])
    if not info or info.group != group or version not in info.versions:
        return None
    if ns is not None and not info.namespaced:
        return None
    return Route(rest[0], version, ns, rest[1] if len(rest) == 2 else None)


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

    def send_error_status(self, e):
        self.send_json(e.code, status(e.code, e.reason, e.message, e.details))

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def body(self):
        try:
            return json.loads(self.raw or b"{}")
        except ValueError as e:
            raise ApiError(400, "BadRequest", "the body is not JSON: %s" % e)

    def authorized(self):
        st = self.st
        if self.connection.getpeercert():
            with st.cond:
                st.stats["cert_users"] = st.stats.get("cert_users", 0) + 1
            return True
        if self.headers.get("Authorization") in ["Bearer " + t for t in st.tokens()]:
            return True
        with st.cond:
            st.stats["auth_failures"] += 1
        self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        return False

    def dispatch(self, method):
        # read the body whatever the answer, so that the connection can take the next request
        self.raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if method == "POST" and url.path == "/_control":
            return self.control_request()
        if self.st.slow_ms:
            time.sleep(self.st.slow_ms / 1000.0)
        if not self.authorized():
            return None
        try:
            if method == "GET" and self.discovery(url.path):
                return None
            r = parse_route(url.path)
            if not r or r.res in self.st.missing or "%s@%s" % tuple(r) in self.st.missing:
                raise ApiError(404, "NotFound", "the server could not find the requested "
                               "resource")
            return getattr(self, "api_" + method.lower())(r, q)
        except ApiError as e:
            self.send_error_status(e)
        except PatchError as e:
            self.send_error_status(ApiError(422, "Invalid", str(e)))
        return None

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def discovery(self, path):
        path = "/" + path.strip("/")
        doc = None
        if path == "/version":
            doc = VERSION
        elif path == "/api":
            doc = resources.core_versions()
        elif path == "/apis":
            doc = resources.group_list()
        elif path == "/openapi/v2" and "protobuf" in self.headers.get("Accept", ""):
            body = openapi.v2_protobuf()
            self.send_response(200)
            self.send_header("Content-Type", openapi.V2_PROTO_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return True
        elif path.startswith("/openapi/"):
            doc = openapi.document(path)
            if doc is None:
                raise ApiError(404, "NotFound", "no OpenAPI document at %s" % path)
        else:
            parts = path.strip("/").split("/")
            if parts[0] == "api" and len(parts) == 2:
                doc = resources.resource_list("", parts[1])
            elif parts[0] == "apis" and len(parts) == 2:
                doc = resources.group_doc(parts[1])
            elif parts[0] == "apis" and len(parts) == 3:
                doc = resources.resource_list(parts[1], parts[2])
            else:
                return False
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested "
                               "resource")
        self.send_json(200, doc)
        return True

    # --- reads ---

    def out(self, r, obj):
        obj["apiVersion"] = resources.api_version(r.res, r.version)
        obj["kind"] = RESOURCES[r.res].kind
        return obj

    def api_get(self, r, q):
        if r.name is None:
            if q.get("watch") in ("1", "true"):
                return self.watch(r, q)
            return self.list(r, q)
        obj = self.out(r, self.st.get(r.key))
        accept = self.headers.get("Accept", "")
        if tables.wants_table(accept):
            obj = tables.table(r.res, [obj], {"resourceVersion": obj["metadata"][
                "resourceVersion"]}, tables.table_version(accept))
        return self.send_json(200, obj)

    def selected(self, r, q, obj):
        md = obj.get("metadata", {})
        return ((r.ns is None or md.get("namespace", "") == r.ns) and
                field_match(q.get("fieldSelector"), obj) and
                label_match(q.get("labelSelector"), obj))

    def list(self, r, q):
        res = r.res
        st = self.st
        with st.cond:
            st.stats["lists"][res] = st.stats["lists"].get(res, 0) + 1
            # copies of one page only, not of the whole kind for every page of a big list
            items = [o for k, o in sorted(st.objects.items()) if k[0] == res]
            rv = st.rv
        items = [o for o in items if self.selected(r, q, o)]
        start = 0
        if q.get("continue"):
            tok = json.loads(base64.b64decode(q["continue"]))
            start, rv = tok["start"], tok["rv"]
        limit = int(q.get("limit", "0")) or len(items) or 1
        if st.page_size:
            limit = min(limit, st.page_size)
        page = [copy.deepcopy(o) for o in items[start:start + limit]]
        md = {"resourceVersion": str(rv)}
        if start + limit < len(items):
            md["continue"] = base64.b64encode(json.dumps({"start": start + limit, "rv": rv})
                                              .encode()).decode()
        accept = self.headers.get("Accept", "")
        if tables.wants_table(accept):
            return self.send_json(200, tables.table(res, page, md, tables.table_version(accept)))
        for o in page:
            # LIST items carry no apiVersion/kind, as a real server's do not
            o.pop("apiVersion", None)
            o.pop("kind", None)
        self.send_json(200, {"kind": RESOURCES[res].kind + "List",
                             "apiVersion": resources.api_version(res, r.version),
                             "metadata": md, "items": page})

    def watch_events(self, r, since, q):
        # the log is in resourceVersion order: skip to `since` instead of scanning it whole
        # (with 100,000 objects loaded, every wake-up of every watch would walk them all)
        log = self.st.log
        start = bisect.bisect_right(log, since, key=lambda e: e[0])
        return [(rv, t, o) for rv, rs, t, o in itertools.islice(log, start, None)
                if rs == r.res and self.selected(r, q, o)]

    def watch(self, r, q):
        res = r.res
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
            return None
        sent = 0
        while True:
            with st.cond:
                evs = self.watch_events(r, since, q)
                while not evs and st.bookmark_gen == bgen and st.drop_gen == dgen:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    st.cond.wait(min(left, 1.0))
                    evs = self.watch_events(r, since, q)
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
                obj = {"kind": RESOURCES[res].kind,
                       "apiVersion": resources.api_version(res, r.version),
                       "metadata": {"resourceVersion": str(rv_now)}}
                self.chunk(json.dumps({"type": "BOOKMARK", "object": obj}).encode() + b"\n")
                since = max(since, rv_now)
            if time.monotonic() >= deadline:
                self.chunk(b"")
                return None

    def cut(self):
        """End the connection without the closing chunk: a watch dropped mid-stream."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # --- writes ---

    def checked_body(self, r, obj, name_required):
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the body is not a JSON object")
        info = RESOURCES[r.res]
        if obj.get("kind") != info.kind:
            raise ApiError(400, "BadRequest", "the body's kind %r is not %s, the kind of %s" %
                           (obj.get("kind"), info.kind, r.res))
        md = obj.setdefault("metadata", {})
        if name_required and not md.get("name"):
            raise ApiError(422, "Invalid", "%s: metadata.name: Required value: name is "
                           "required" % info.kind)
        if info.namespaced:
            if md.get("namespace") and r.ns and md["namespace"] != r.ns:
                raise ApiError(400, "BadRequest", "the namespace of the provided object (%s) "
                               "does not match the namespace sent on the request (%s)" %
                               (md["namespace"], r.ns))
            md["namespace"] = r.ns or md.get("namespace") or "default"
        obj["apiVersion"] = resources.api_version(r.res, r.version)
        return obj

    def api_post(self, r, q):
        if r.name is not None:
            raise ApiError(405, "MethodNotAllowed", "POST goes to the collection")
        obj = self.checked_body(r, self.body(), True)
        r.name = obj["metadata"]["name"]
        r.ns = obj["metadata"].get("namespace")
        if q.get("dryRun"):
            return self.send_json(201, obj)
        self.send_json(201, self.out(r, self.st.create(r.key, obj)))

    def api_put(self, r, q):
        if r.name is None:
            raise ApiError(405, "MethodNotAllowed", "PUT goes to one object")
        obj = self.checked_body(r, self.body(), False)
        self.send_json(200, self.out(r, self.st.update(r.key, obj)))

    def api_patch(self, r, q):
        if r.name is None:
            raise ApiError(405, "MethodNotAllowed", "PATCH goes to one object")
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip()
        fn = PATCHERS.get(ctype)
        if not fn:
            raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an "
                           "unknown format - accepted media types include: " +
                           ", ".join(PATCHERS))
        patch = self.body()

        def apply_patch(old):
            new = fn(old, patch)
            if not isinstance(new, dict):
                raise PatchError("the patch made the object something other than an object")
            return self.checked_body(r, new, False)

        self.send_json(200, self.out(r, self.st.update(r.key, None, apply_patch)))

    def api_delete(self, r, q):
        if r.name is None:
            raise ApiError(405, "MethodNotAllowed", "DELETE goes to one object (no "
                           "deletecollection here)")
        # DeleteOptions (propagationPolicy) in the body are not read: nothing here has dependents
        obj = self.st.delete_key(r.key)
        if obj is None:
            raise not_found(r.key)
        self.send_json(200, self.out(r, obj))

    # --- control ---

    def control_request(self):
        try:
            req = self.body()
            self.send_json(200, self.control(req))
        except ApiError as e:
            self.send_json(400, {"error": e.message})
        except (KeyError, ValueError) as e:
            self.send_json(400, {"error": str(e)})

    def control(self, req):
        st, op = self.st, req["op"]
        if op == "apply":
            for obj in req.get("objects", [req.get("object")]):
                st.apply(obj)
        elif op == "delete":
            return {"deleted": st.delete(req["kind"], req.get("namespace", ""), req["name"])}
        elif op == "sync":
            return {"objects": st.sync(req["owner"], req.get("objects", [])),
                    "resourceVersion": str(st.rv)}
        elif op == "get":
            with st.cond:
                return {"items": [copy.deepcopy(o) for k, o in sorted(st.objects.items())
                                  if k[0] == req["resource"]]}
        elif op in ("bookmark", "drop", "token", "compact", "fault"):
            self.control_fault(op, req)
        elif op == "stats":
            with st.cond:
                return copy.deepcopy(st.stats)
        else:
            raise ValueError("unknown op %s" % op)
        return {"ok": True, "resourceVersion": str(st.rv)}

    def control_fault(self, op, req):
        st = self.st
        with st.cond:
            if op == "bookmark":
                st.bookmark_gen += 1
            elif op == "drop":
                st.drop_gen += 1
            elif op == "token":
                # "tokens": a rotation's overlap, when the old token is still valid as well
                st.token = req["tokens"] if "tokens" in req else req["token"]
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
