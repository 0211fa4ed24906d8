#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A cluster of a given size as API objects, for tests/bench/kube_scale.py.

Writes one v1 List per kind into DIR (the fake API server's --objects format) and prints a JSON
summary of what it made. The mix, seeded so that every run sees the same cluster:
  - NS application namespaces (istio-system too); four in five are in the mesh (ambient label);
  - SERVICES Services spread over them, one port (http 80 -> 8080), one in five a second
    (grpc 9090, by name);
  - ENDPOINTS ready endpoints in total, one EndpointSlice per Service (1 to 40 endpoints, most
    with a handful), each endpoint a Pod of its own on one of NODES nodes, with its labels
    (app, version v1 or v2), status.podIPs, status.hostIPs and Ready;
  - one Service in twenty with a DestinationRule (subsets v1, v2) and a VirtualService splitting
    90/10 over them, and one namespace-wide PeerAuthentication (PERMISSIVE) per mesh namespace.
"""
import argparse
import json
import os
import random


def ip4(base, n):
    return "%d.%d.%d.%d" % (base, (n >> 16) & 255, (n >> 8) & 255, n & 255)


def endpoint_counts(rng, services, endpoints):
    """Endpoints per Service: a skewed mix (many small, some large) summing to `endpoints`."""
    w = [rng.choice((1, 1, 2, 2, 3, 3, 4, 5, 6, 8, 10, 15, 25, 40)) for _ in range(services)]
    scale = endpoints / sum(w)
    n = [max(1, min(40, round(x * scale))) for x in w]
    i = 0
    while sum(n) != endpoints:
        d = 1 if sum(n) < endpoints else -1
        if 1 <= n[i] + d <= 40:
            n[i] += d
        i = (i + 1) % services
    return n


def make(args):
    rng = random.Random(args.seed)
    nss = ["app-%03d" % i for i in range(args.namespaces)]
    objs = {k: [] for k in ("Namespace", "Pod", "Service", "EndpointSlice", "DestinationRule",
                            "VirtualService", "PeerAuthentication")}
    objs["Namespace"].append({"apiVersion": "v1", "kind": "Namespace",
                              "metadata": {"name": "istio-system"}})
    for i, ns in enumerate(nss):
        md = {"name": ns}
        if i % 5 != 4:
            md["labels"] = {"istio.io/dataplane-mode": "ambient"}
            objs["PeerAuthentication"].append({
                "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                "metadata": {"name": "default", "namespace": ns},
                "spec": {"mtls": {"mode": "PERMISSIVE"}}})
        objs["Namespace"].append({"apiVersion": "v1", "kind": "Namespace", "metadata": md})
    counts = endpoint_counts(rng, args.services, args.endpoints)
    pod_n = 0
    summary = {"services": [], "nodes": args.nodes}
    for s in range(args.services):
        ns, name = nss[s % len(nss)], "svc-%05d" % s
        grpc = s % 5 == 0
        ports = [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
        if grpc:
            ports.append({"name": "grpc", "port": 9090, "targetPort": "grpc", "protocol": "TCP"})
        vip = ip4(10, (96 << 16) + 1 + s)
        objs["Service"].append({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": vip, "clusterIPs": [vip], "selector": {"app": name},
                     "ports": ports}})
        eps = []
        for k in range(counts[s]):
            pod_n += 1
            node = rng.randrange(args.nodes)
            pname = "%s-%d" % (name, k)
            ip = ip4(10, (1 << 20) + pod_n)
            cports = [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
            if grpc:
                cports.append({"name": "grpc", "containerPort": 9090, "protocol": "TCP"})
            host = ip4(192, (168 << 16) + node + 1)
            objs["Pod"].append({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pname, "namespace": ns,
                             "uid": "00000000-0000-4000-8000-%012d" % pod_n,
                             "labels": {"app": name, "version": "v2" if k % 4 == 3 else "v1"}},
                "spec": {"nodeName": "node-%d" % node, "serviceAccountName": name,
                         "containers": [{"name": "app", "image": "app:1", "ports": cports}]},
                "status": {"phase": "Running", "hostIPs": [{"ip": host}], "podIP": ip,
                           "podIPs": [{"ip": ip}],
                           "conditions": [{"type": "Ready", "status": "True"}]}})
            eps.append({"addresses": [ip], "conditions": {"ready": True},
                        "nodeName": "node-%d" % node,
                        "targetRef": {"kind": "Pod", "name": pname, "namespace": ns}})
        eports = [{"name": "http", "port": 8080, "protocol": "TCP"}]
        if grpc:
            eports.append({"name": "grpc", "port": 9090, "protocol": "TCP"})
        objs["EndpointSlice"].append({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name + "-abcde", "namespace": ns,
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": eports, "endpoints": eps})
        if s % 20 == 7:
            objs["DestinationRule"].append({
                "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"host": name, "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                                   {"name": "v2", "labels": {"version": "v2"}}]}})
            objs["VirtualService"].append({
                "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"hosts": [name], "http": [{"route": [
                    {"destination": {"host": name, "subset": "v1"}, "weight": 90},
                    {"destination": {"host": name, "subset": "v2"}, "weight": 10}]}]}})
        summary["services"].append({"ns": ns, "name": name, "vip": vip, "grpc": grpc,
                                    "vs": s % 20 == 7, "endpoints": counts[s]})
    summary["pods"] = pod_n
    summary["counts"] = {k: len(v) for k, v in objs.items()}
    os.makedirs(args.dir, exist_ok=True)
    for kind, items in objs.items():
        with open(os.path.join(args.dir, "%s.json" % kind.lower()), "w") as f:
            json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f,
                      separators=(",", ":"))
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--services", type=int, default=10000)
    ap.add_argument("--endpoints", type=int, default=50000)
    ap.add_argument("--namespaces", type=int, default=100)
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.endpoints < args.services or args.endpoints > 40 * args.services:
        ap.error("--endpoints must be between --services and 40 x --services")
    print(json.dumps(make(args)))


if __name__ == "__main__":
    main()
