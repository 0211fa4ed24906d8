#!/usr/bin/env python3
"""Instantiate one of Istio's authz test templates (Go text/template, tests/conformance/istio/
tests/integration/security/testdata/authz/*.yaml.tmpl) with the lab's workloads, the way Istio's
harness fills them (Allowed = a in namespace 1, Denied = a in namespace 2, To = b in
namespace 1), and give every object without a namespace the one the harness applies it to.

  authz_render.py TEMPLATE NAMESPACE KEY=VALUE... > out.yaml

KEY=VALUE pairs are the lab-specific values (pod addresses as JSON lists); a placeholder the
table does not know is an error, so a template we cannot fill is never applied half-filled."""
import re
import sys

tmpl_path, default_ns = sys.argv[1], sys.argv[2]
extra = dict(arg.split("=", 1) for arg in sys.argv[3:])
NS1, NS2, SYSTEM = "authz-1", "authz-2", "istio-system"
ports = {"http": "18080", "http2": "18085", "grpc": "17070", "tcp": "19090"}
values = {
    ".To.ServiceName": "b",
    ".To.NamespaceName": NS1,
    ".To.ClusterLocalFQDN": "b.%s.svc.cluster.local" % NS1,
    ".To.Config.Namespace.Prefix": NS1,
    ".Namespace.Prefix": NS1,
    ".Allowed.NamespaceName": NS1,
    ".Allowed.ServiceName": "a",
    ".Allowed.NamespacedName": NS1 + "/a",
    ".Allowed.SpiffeIdentity": "cluster.local/ns/%s/sa/a" % NS1,
    ".Denied.NamespaceName": NS2,
    ".Denied.ServiceName": "a",
    ".Denied.NamespacedName": NS2 + "/a",
    ".Denied.SpiffeIdentity": "cluster.local/ns/%s/sa/a" % NS2,
    ".SystemNamespace.Name": SYSTEM,
}
values.update(extra)


def fill(m):
    expr = m.group(1).strip()
    port = re.fullmatch(r'\(\s*\.To\.PortForName\s+[`"](\w+)[`"]\s*\)\.(WorkloadPort|ServicePort)',
                        expr)
    if port:
        name, kind = port.groups()
        return ports[name] if kind == "WorkloadPort" else {"http": "80"}[name]
    key = re.sub(r"\s*\|\s*toJson$", "", expr)
    if key in values:
        return values[key]
    sys.exit("%s: no value for {{ %s }}" % (tmpl_path, expr))


text = re.sub(r"\{\{(.*?)\}\}", fill, open(tmpl_path).read())
out = []
for doc in re.split(r"(?m)^---[ \t]*$", text):
    lines = doc.split("\n")
    has_ns = any(re.match(r"^  namespace:", l) for l in lines)
    for i, line in enumerate(lines):
        out_line = line
        if line.startswith("metadata:") and not has_ns:
            out_line = line + "\n  namespace: " + default_ns
        lines[i] = out_line
    out.append("\n".join(lines))
sys.stdout.write("\n---\n".join(d.strip("\n") for d in out) + "\n")
