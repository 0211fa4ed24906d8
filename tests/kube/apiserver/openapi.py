# SPDX-License-Identifier: Apache-2.0
"""The least OpenAPI v3 that lets `kubectl apply|create|replace` run with its default
--validate=strict: kubectl reads /openapi/v3 and the group-version document of the kind, finds
the kind's PATCH operation (by x-kubernetes-group-version-kind) and, when that operation takes
the `fieldValidation` query parameter, leaves validation to the server instead of downloading
/openapi/v2 to validate on the client. No schemas are served: like a cluster without Istio's
validating webhook, this server accepts any spec, and skiffd is the one that validates."""
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


def document(path):
    """The document at /openapi/v3[/api/V | /apis/G/V]; None elsewhere (/openapi/v2 is 404,
    which kubectl takes as "no v2" once v3 has answered)."""
    parts = path.strip("/").split("/")
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
