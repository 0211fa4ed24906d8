# SPDX-License-Identifier: Apache-2.0
"""The least OpenAPI that lets `kubectl apply|create|replace` run with default validation.

kubectl 1.27 and later (--validate=strict) read /openapi/v3 and the group-version document of
the kind, find the kind's PATCH operation (by x-kubernetes-group-version-kind) and, when that
operation takes the `fieldValidation` query parameter, leave validation to the server.
kubectl 1.20 (Debian's kubernetes-client, --validate=true) validates on the client against
/openapi/v2, asked for as protobuf, and skips a kind the document does not define.

So /openapi/v3 lists the PATCH operations with that parameter, and /openapi/v2 is a document
without definitions. No schemas are served: like a cluster without Istio's validating webhook,
this server accepts any spec, and skiffd is the one that validates."""
import hashlib
import json

from .resources import RESOURCES, groups

PARAMS = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
          for n in ("dryRun", "fieldManager", "fieldValidation", "force")]


def _gv_path(group, version):
    return "api/" + version if not group else "apis/%s/%s" % (group, version)


def _gv_doc(group, version):
    paths = {}
    for plural, r in RESOURCES.items():
        if r.group != group or version not in r.versions:
            continue
        gvk = {"group": group, "version": version, "kind": r.kind}
        base = "/" + _gv_path(group, version)
        item = (base + "/namespaces/{namespace}/%s/{name}" if r.namespaced else
                base + "/%s/{name}") % plural
        op = {"x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": "patch",
              "operationId": "patch" + r.kind, "parameters": PARAMS,
              "responses": {"200": {"description": "OK"}}}
        paths[item] = {"patch": op}
    if not paths:
        return None
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "paths": paths, "components": {"schemas": {}}}


def _root():
    paths = {}
    for group, versions in groups().items():
        for v in versions:
            p = _gv_path(group, v)
            h = hashlib.sha256(json.dumps(_gv_doc(group, v), sort_keys=True).encode())
            paths[p] = {"serverRelativeURL": "/openapi/v3/%s?hash=%s" % (p, h.hexdigest()[:32])}
    return {"paths": paths}


V2_JSON = {"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.32.0"},
           "paths": {}, "definitions": {}}
V2_PROTO_TYPE = "application/octet-stream"  # what a real server labels it (Go cannot parse the @)


def _pb_bytes(field, data):
    """One length-delimited protobuf field (lengths here are below 128: one byte)."""
    return bytes([field << 3 | 2, len(data)]) + data


def v2_protobuf():
    """gnostic's openapi_v2.Document with swagger (1) and info (2: title 1, version 2) only."""
    info = _pb_bytes(1, b"Kubernetes") + _pb_bytes(2, b"v1.32.0")
    return _pb_bytes(1, b"2.0") + _pb_bytes(2, info)


def document(path):
    """The JSON document at /openapi/v2 or /openapi/v3[/api/V | /apis/G/V]; None elsewhere."""
    parts = path.strip("/").split("/")
    if parts == ["openapi", "v2"]:
        return V2_JSON
    if parts[:2] != ["openapi", "v3"]:
        return None
    rest = parts[2:]
    if not rest:
        return _root()
    if len(rest) == 2 and rest[0] == "api":
        return _gv_doc("", rest[1])
    if len(rest) == 3 and rest[0] == "apis":
        return _gv_doc(rest[1], rest[2])
    return None
