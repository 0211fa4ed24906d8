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
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from apiserver.main import main  # noqa: E402

if __name__ == "__main__":
    main(__doc__)
