#!/usr/bin/env python3
# The L7 hop bench's configs (tests/bench/l7route.sh), both from one VirtualService:
#   l7route_gen.py vs N                  -> a VirtualService for bench/server with N match rules
#                                           (header x-bench and uri prefix), then a catch-all,
#                                           each with the same retry policy. A request with
#                                           `x-bench: rN` matches rule N only: every rule before
#                                           it is tried and fails on its header.
#   l7route_gen.py haproxy VS.yaml BIND_IP H1_PORT H2_PORT H1_SERVER H2_SERVER
#                                        -> HAProxy (HTTP mode) doing what VS.yaml says: one acl
#                                           pair + use_backend per rule in order, the catch-all
#                                           as default_backend, attempts/retryOn/perTryTimeout
#                                           as retries/retry-on/timeout server; an h1 frontend
#                                           to the h1 server and an h2c one to the h2 server.
# The HAProxy side reads the VirtualService back rather than N, so what it does is what the
# YAML skiffd was given says, not a second copy of the generator's intent.
import sys

import yaml

RETRIES = {"attempts": 2, "perTryTimeout": "2s", "retryOn": "5xx,reset,connect-failure"}

# Istio retryOn -> HAProxy retry-on. reset: the upstream closed or answered nothing usable.
RETRY_ON = {
    "5xx": ["500", "502", "503", "504"],
    "gateway-error": ["502", "503", "504"],
    "reset": ["empty-response", "junk-response"],
    "connect-failure": ["conn-failure"],
}


def vs(n):
    http = []
    # no port: each request goes to the Service port it came to (the h1 one or the h2 one)
    def dest():
        return [{"destination": {"host": "server"}}]
    for i in range(1, n + 1):
        http.append({
            "name": "r%d" % i,
            "match": [{"headers": {"x-bench": {"exact": "r%d" % i}},
                       "uri": {"prefix": "/bench/"}}],
            "route": dest(),
            "retries": dict(RETRIES),
        })
    http.append({"name": "default", "route": dest(), "retries": dict(RETRIES)})
    doc = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "server", "namespace": "bench"},
        "spec": {"hosts": ["server"], "http": http},
    }
    sys.stdout.write("# l7route bench: %d match rules and a catch-all "
                     "(tests/bench/l7route_gen.py)\n" % n)
    yaml.safe_dump(doc, sys.stdout, sort_keys=False)


def seconds(d):
    if d.endswith("ms"):
        return d
    if d.endswith("s"):
        return d
    sys.exit("l7route_gen: perTryTimeout %r: want a duration such as 2s" % d)


def retry_lines(r):
    on = []
    for v in r.get("retryOn", "connect-failure").split(","):
        v = v.strip()
        if v not in RETRY_ON:
            sys.exit("l7route_gen: retryOn %r has no HAProxy equivalent here" % v)
        on += [x for x in RETRY_ON[v] if x not in on]
    # Istio's attempts are retries after the first try; so are HAProxy's.
    return ["    retries %d" % r.get("attempts", 2),
            "    retry-on %s" % " ".join(on),
            "    option redispatch 1",
            "    timeout server %s" % seconds(r.get("perTryTimeout", "2s"))]


def acl_of(i, m):
    """HAProxy acls for one HTTPMatchRequest: names ANDed on use_backend."""
    names, lines = [], []
    for h, cond in (m.get("headers") or {}).items():
        if set(cond) != {"exact"}:
            sys.exit("l7route_gen: header %s: only exact matches are generated" % h)
        names.append("r%d_h" % i)
        lines.append("    acl r%d_h req.hdr(%s) -m str %s" % (i, h, cond["exact"]))
    uri = m.get("uri")
    if uri:
        kind, val = next(iter(uri.items()))
        op = {"exact": "-m str", "prefix": "-m beg", "regex": "-m reg"}.get(kind)
        if not op:
            sys.exit("l7route_gen: uri %s has no HAProxy equivalent here" % kind)
        names.append("r%d_u" % i)
        lines.append("    acl r%d_u path %s %s" % (i, op, val))
    return names, lines


def frontend(name, bind, proto, rules, default):
    out = ["frontend %s" % name, "    bind %s%s" % (bind, proto)]
    for i, (names, lines) in enumerate(rules):
        out += lines
    for i, (names, lines) in enumerate(rules):
        out.append("    use_backend %s_r%d if %s" % (name, i + 1, " ".join(names)))
    out.append("    default_backend %s_%s" % (name, default))
    return out


def backend(name, route, server, proto):
    out = ["backend %s" % name]
    out += retry_lines(route.get("retries") or {})
    out.append("    server pod %s%s" % (server, proto))
    return out


def haproxy(path, bind_ip, h1_port, h2_port, h1_server, h2_server):
    with open(path) as f:
        spec = yaml.safe_load(f)["spec"]
    http = spec["http"]
    rules, routes = [], []
    for i, route in enumerate(http):
        if not route.get("match"):
            continue
        if len(route["match"]) != 1:
            sys.exit("l7route_gen: route %d: one match block per rule is generated" % i)
        rules.append(acl_of(len(rules) + 1, route["match"][0]))
        routes.append(route)
    default = [r for r in http if not r.get("match")]
    if len(default) != 1:
        sys.exit("l7route_gen: want one catch-all route, found %d" % len(default))
    cfg = ["# generated by tests/bench/l7route_gen.py from %s" % path,
           "global", "    maxconn 1000", "    nbthread 1",
           "defaults", "    mode http", "    option http-keep-alive",
           "    timeout connect 5s", "    timeout client 60s", "    timeout server 60s", ""]
    for fe, port, server, proto in (("h1", h1_port, h1_server, ""),
                                    ("h2", h2_port, h2_server, " proto h2")):
        cfg += frontend(fe, "%s:%s" % (bind_ip, port), proto, rules, "default") + [""]
        for i, route in enumerate(routes):
            cfg += backend("%s_r%d" % (fe, i + 1), route, server, proto) + [""]
        cfg += backend("%s_default" % fe, default[0], server, proto) + [""]
    sys.stdout.write("\n".join(cfg))


def main():
    a = sys.argv[1:]
    if len(a) == 2 and a[0] == "vs":
        vs(int(a[1]))
    elif len(a) == 7 and a[0] == "haproxy":
        haproxy(*a[1:])
    else:
        sys.exit("usage: l7route_gen.py vs N | haproxy VS.yaml BIND_IP H1_PORT H2_PORT "
                 "H1_SERVER H2_SERVER")


main()
