# SPDX-License-Identifier: Apache-2.0
"""The object store: every write takes the next resourceVersion and goes into the event log that
watches read, as etcd's revision does for a real server."""
import copy
import datetime
import threading
import uuid

from .resources import KIND_TO_RESOURCE, RESOURCES

# what the server owns in an object: a write that differs only here changes nothing
SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields")


class ApiError(Exception):
    """An answer other than success: HTTP code, metav1.Status reason, message."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details


def status(code, reason, message, details=None):
    st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
          "message": message, "reason": reason, "code": code}
    if details:
        st["details"] = details
    return st


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _user_part(obj):
    o = copy.deepcopy(obj)
    md = o.get("metadata", {})
    for f in SERVER_FIELDS:
        md.pop(f, None)
    o.pop("apiVersion", None)
    return o


def _spec_part(obj):
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class State:
    def __init__(self, token):
        self.cond = threading.Condition()
        self.rv = 100
        self.objects = {}  # (resource, ns, name) -> object
        self.log = []  # (rv, resource, type, object)
        self.owned = {}  # owner -> set of keys it published with "sync"
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

    def tokens(self):
        """The bearer tokens accepted now: one, or the list a rotation overlaps."""
        return self.token if isinstance(self.token, list) else [self.token]

    @staticmethod
    def key_of(obj):
        kind = obj.get("kind")
        res = KIND_TO_RESOURCE.get(kind)
        if not res:
            raise ApiError(400, "BadRequest", "unknown kind %r" % kind)
        md = obj.get("metadata") or {}
        if not md.get("name"):
            raise ApiError(422, "Invalid", "%s: metadata.name: Required value" % kind)
        ns = md.get("namespace") or "default" if RESOURCES[res].namespaced else ""
        return res, ns, md["name"]

    def _store(self, key, obj, old):
        """Store `obj` under `key` (caller holds cond); no event when nothing but server fields
        would change. Returns the stored object."""
        if old is not None and _user_part(old) == _user_part(obj):
            return old
        md = obj.setdefault("metadata", {})
        if key[1]:
            md["namespace"] = key[1]
        self.rv += 1
        md["resourceVersion"] = str(self.rv)
        # a uid given is kept (a real server makes its own): the equivalence test needs the same
        # uids from both sources
        md["uid"] = old["metadata"]["uid"] if old else md.get("uid") or str(uuid.uuid4())
        md["creationTimestamp"] = old["metadata"]["creationTimestamp"] if old else _now()
        gen = old["metadata"].get("generation", 1) if old else 1
        if old and _spec_part(old) != _spec_part(obj):
            gen += 1
        md["generation"] = gen
        md["managedFields"] = [{"manager": "fake-apiserver", "operation": "Update"}]
        self.objects[key] = obj
        self.log.append((self.rv, key[0], "MODIFIED" if old else "ADDED", copy.deepcopy(obj)))
        self.cond.notify_all()
        return obj

    def apply(self, obj):
        """Create or replace, whatever is stored (the control endpoint's apply)."""
        obj = copy.deepcopy(obj)
        key = self.key_of(obj)
        with self.cond:
            return copy.deepcopy(self._store(key, obj, self.objects.get(key)))

    def get(self, key):
        with self.cond:
            obj = self.objects.get(key)
            if obj is None:
                raise not_found(key)
            return copy.deepcopy(obj)

    def create(self, key, obj):
        with self.cond:
            if key in self.objects:
                raise ApiError(409, "AlreadyExists",
                               '%s "%s" already exists' % (qualified(key[0]), key[2]),
                               {"name": key[2], "group": RESOURCES[key[0]].group,
                                "kind": key[0]})
            if key[1] and ("namespaces", "", key[1]) not in self.objects:
                raise ApiError(404, "NotFound", 'namespaces "%s" not found' % key[1])
            obj.get("metadata", {}).pop("resourceVersion", None)
            return copy.deepcopy(self._store(key, obj, None))

    def update(self, key, obj, fn=None):
        """Replace (PUT, with the optimistic concurrency check) or, with `fn`, patch."""
        with self.cond:
            old = self.objects.get(key)
            if old is None:
                raise not_found(key)
            if fn:
                obj = fn(copy.deepcopy(old))
                obj.setdefault("metadata", {})["resourceVersion"] = old["metadata"][
                    "resourceVersion"]
            want = (obj.get("metadata") or {}).get("resourceVersion")
            if want and want != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict",
                               'Operation cannot be fulfilled on %s "%s": the object has been '
                               "modified; please apply your changes to the latest version and "
                               "try again" % (qualified(key[0]), key[2]))
            md = obj.setdefault("metadata", {})
            if md.get("name", key[2]) != key[2]:
                raise ApiError(400, "BadRequest", "the name of the object (%s) does not match "
                               "the name on the URL (%s)" % (md.get("name"), key[2]))
            md["name"] = key[2]
            obj["kind"] = RESOURCES[key[0]].kind
            return copy.deepcopy(self._store(key, obj, old))

    def delete_key(self, key):
        with self.cond:
            obj = self.objects.pop(key, None)
            if obj is None:
                return None
            for keys in self.owned.values():
                keys.discard(key)
            self.rv += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.log.append((self.rv, key[0], "DELETED", obj))
            self.cond.notify_all()
            return copy.deepcopy(obj)

    def delete(self, kind, ns, name):
        res = KIND_TO_RESOURCE[kind]
        ns = (ns or "default") if RESOURCES[res].namespaced else ""
        return self.delete_key((res, ns, name)) is not None

    def sync(self, owner, objs):
        """What a controller does: the objects `owner` publishes become exactly `objs` (created,
        replaced when changed, and the ones it published before and no longer lists deleted)."""
        keys = set()
        for o in objs:
            keys.add(self.key_of(o))
        with self.cond:
            before = self.owned.get(owner, set())
            # namespaces first, so that a watch never sees a pod in a namespace not yet there
            for o in sorted(objs, key=lambda o: o["kind"] != "Namespace"):
                key = self.key_of(o)
                self._store(key, copy.deepcopy(o), self.objects.get(key))
            self.owned[owner] = keys
        for key in sorted(before - keys, key=lambda k: k[0] == "namespaces"):
            self.delete_key(key)
        return len(keys)


def qualified(res):
    """virtualservices.networking.istio.io, as a real server names a resource in messages."""
    g = RESOURCES[res].group
    return res + "." + g if g else res


def not_found(key):
    return ApiError(404, "NotFound", '%s "%s" not found' % (qualified(key[0]), key[2]),
                    {"name": key[2], "group": RESOURCES[key[0]].group, "kind": key[0]})
