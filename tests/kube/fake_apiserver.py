#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A small stand-in for the Kubernetes API server, for skiffd's API source tests and the lab.

It speaks the parts of the real protocol skiffd and kubectl use (the code is in apiserver/):
LIST (limit/continue pagination, the list's metadata.resourceVersion, fieldSelector and
labelSelector equalities), WATCH from a resourceVersion as a chunked stream of JSON events one
per line (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR 410); GET, POST (409 AlreadyExists), PUT
(409 Conflict on a stale resourceVersion), PATCH (merge, strategic merge approximated by merge,
JSON patch: apiserver/patch.py) and DELETE of one object, with metav1.Status errors; discovery
(/version, /api, /apis, APIResourceLists with short names), Table answers for `kubectl get`, and
the OpenAPI kubectl's validation asks for (apiserver/openapi.py). HTTPS with a throwaway CA made
at start with the openssl CLI, bearer tokens (401 without) or a client certificate the CA
signed. Objects come from *.json files (--objects DIR: an object or a v1 List each; the standard
library has no YAML), the API, or the control endpoint, and are stored with what a real server
adds: uid, resourceVersion, creationTimestamp, generation; LIST items carry no apiVersion/kind,
as a real server's do not. Every write takes the next resourceVersion and reaches open watches;
a write that changes nothing is not an event.

POST /_control (no token needed) takes one JSON operation:
  {"op": "apply", "object": {...}}          create or replace (ADDED or MODIFIED)
  {"op": "apply", "objects": [...]}         the same for many, in one burst
  {"op": "delete", "kind": K, "namespace": N, "name": X}
  {"op": "sync", "owner": O, "objects": [...]}  the objects O publishes become exactly these
      (what a controller does: created, replaced when changed, the ones no longer listed deleted)
  {"op": "get", "resource": R}               every stored object of resource R
  {"op": "bookmark"}                         every open watch that asked for them gets one
  {"op": "drop"}                             close every open watch abruptly
  {"op": "token", "token": T}                the token accepted from now on
  {"op": "token", "tokens": [T1, T2]}        several at once (a rotation's overlap)
  {"op": "compact"}                          resourceVersions before now are too old (410)
  {"op": "fault", ...}                       any of: "close_after": {resource: N} (the next
      watch of it is cut after N events), "gone_http": [resource] (the next watch answers
      HTTP 410), "gone_event": [resource] (the next watch sends an ERROR event, code 410),
      "missing": [resource or resource@version] (404 until cleared with "found"),
      "found": [...], "slow_ms": N (delay every API answer), "page_size": N (cap on limit)
  {"op": "stats"}                            what was asked: lists, watches (resource and
      resourceVersion), auth failures

Listens on 127.0.0.1:--port, or accepts on every socket passed with --listen-fd (skiff-lab up
--api passes one per network namespace). Without --daemon it ends when its stdin closes.
Starts with: READY port=<port> ca=<ca.crt> other_ca=<a CA that did not sign the server>
  client_cert=<PEM> client_key=<PEM> (a client certificate user the CA signed)
"""
import os
import sys

# no __pycache__ in the source tree: the server is started from it by tests and the lab
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apiserver.main import main  # noqa: E402

if __name__ == "__main__":
    main(__doc__)
