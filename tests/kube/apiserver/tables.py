# SPDX-License-Identifier: Apache-2.0
"""meta.k8s.io Table answers, which `kubectl get` asks for and prints as its columns: the columns
a real server prints for built-in kinds, and those of Istio's CRDs (additionalPrinterColumns)."""
import datetime


def _age(obj):
    ts = obj.get("metadata", {}).get("creationTimestamp")
    try:
        t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return "<unknown>"
    s = int((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())
    if s < 120:
        return "%ds" % s
    if s < 7200:
        return "%dm" % (s // 60)
    return "%dh" % (s // 3600)


def _ports(svc):
    out = []
    for p in svc.get("spec", {}).get("ports", []):
        out.append("%s/%s" % (p.get("port"), p.get("protocol", "TCP")))
    return ",".join(out) or "<none>"


def _pod_ready(pod):
    n = len(pod.get("spec", {}).get("containers", []))
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in pod.get("status", {}).get("conditions", []))
    return "%d/%d" % (n if ready else 0, n)


def _join(v):
    return ",".join(str(x) for x in v) if isinstance(v, list) and v else "<none>"


def _spec(o, *path):
    cur = o.get("spec", {})
    for p in path:
        cur = cur.get(p, {}) if isinstance(cur, dict) else {}
    return cur if cur != {} else None


# resource -> [(column, function of the object[, priority])]; NAME first and AGE last are added.
# Priority 1 columns are the ones `kubectl get -o wide` adds.
COLUMNS = {
    "namespaces": [("Status", lambda o: o.get("status", {}).get("phase", "Active"))],
    "pods": [("Ready", _pod_ready),
             ("Status", lambda o: o.get("status", {}).get("phase", "Unknown")),
             ("Restarts", lambda o: "0"),
             ("IP", lambda o: o.get("status", {}).get("podIP") or "<none>", 1),
             ("Node", lambda o: _spec(o, "nodeName") or "<none>", 1)],
    "services": [("Type", lambda o: _spec(o, "type") or "ClusterIP"),
                 ("Cluster-IP", lambda o: _spec(o, "clusterIP") or "<none>"),
                 ("External-IP", lambda o: "<none>"),
                 ("Port(s)", _ports)],
    "endpointslices": [("AddressType", lambda o: o.get("addressType", "")),
                       ("Ports", lambda o: _join([p.get("port")
                                                  for p in o.get("ports") or []])),
                       ("Endpoints", lambda o: _join([a for e in o.get("endpoints") or []
                                                      for a in e.get("addresses", [])]))],
    "virtualservices": [("Gateways", lambda o: _join(_spec(o, "gateways"))),
                        ("Hosts", lambda o: _join(_spec(o, "hosts")))],
    "destinationrules": [("Host", lambda o: _spec(o, "host") or "")],
    "peerauthentications": [("Mode", lambda o: _spec(o, "mtls", "mode") or "")],
    "authorizationpolicies": [("Action", lambda o: _spec(o, "action") or "ALLOW")],
}


def wants_table(accept):
    return "as=Table" in (accept or "")


def table(res, objs, list_meta, version):
    cols = [("Name", lambda o: o["metadata"]["name"])] + COLUMNS.get(res, []) + [("Age", _age)]
    # a real server sends AGE before the wide columns
    cols = ([c for c in cols if len(c) == 2 and c[0] != "Age"] + [cols[-1]] +
            [c for c in cols if len(c) == 3])
    defs = [{"name": c[0], "type": "string", "format": "name" if c[0] == "Name" else "",
             "description": "", "priority": c[2] if len(c) == 3 else 0} for c in cols]
    rows = []
    for o in objs:
        md = {k: v for k, v in o.get("metadata", {}).items() if k != "managedFields"}
        rows.append({"cells": [c[1](o) for c in cols],
                     "object": {"kind": "PartialObjectMetadata",
                                "apiVersion": "meta.k8s.io/" + version, "metadata": md}})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/" + version, "metadata": list_meta,
            "columnDefinitions": defs, "rows": rows}


def table_version(accept):
    return "v1beta1" if "v=v1beta1" in accept and "v=v1;" not in accept else "v1"
