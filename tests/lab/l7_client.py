#!/usr/bin/env python3
# The L7 router's lab client: N requests on ONE keep-alive HTTP/1.1 connection (a new one only if
# the server closes it), then a tally: "code C N", "pod P N", "connects N", "secs S" (wall time of
# the whole run), "max_secs S" (the slowest request), "peers N" (how many different upstream
# connections the pods saw: the echo body's "peer").
#   l7_client.py HOST PORT PATH N [Header:value]...
# A value with "|" in it names alternatives: request i sends alternative i mod their count, and
# the tally adds "pick VALUE POD N" for each value and pod that answered it.
import http.client
import json
import sys
import time

host, port, path, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
fields = dict(h.split(":", 1) for h in sys.argv[5:])
codes, pods, picks, connects, slowest = {}, {}, {}, 0, 0.0
peers = set()
conn = None
start = time.monotonic()
for i in range(n):
    if conn is None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        connects += 1
    headers = {k: v.split("|")[i % len(v.split("|"))] for k, v in fields.items()}
    sent = "|".join(headers[k] for k, v in fields.items() if "|" in v)
    t0 = time.monotonic()
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        code = r.status
        if r.getheader("connection", "").lower() == "close":
            conn.close()
            conn = None
    except (OSError, http.client.HTTPException) as e:
        code = "error:" + type(e).__name__
        conn.close()
        conn = None
        body = b""
    slowest = max(slowest, time.monotonic() - t0)
    codes[code] = codes.get(code, 0) + 1
    try:
        doc = json.loads(body)
        pod = doc["pod"]
        pods[pod] = pods.get(pod, 0) + 1
        if sent:
            picks[(sent, pod)] = picks.get((sent, pod), 0) + 1
        peers.add((pod, doc.get("peer")))
    except (ValueError, KeyError, TypeError):
        pass
for c, k in sorted(codes.items(), key=str):
    print("code", c, k)
for p, k in sorted(pods.items()):
    print("pod", p, k)
for (v, p), k in sorted(picks.items()):
    print("pick", v, p, k)
print("connects", connects)
print("secs %.3f" % (time.monotonic() - start))
print("max_secs %.3f" % slowest)
print("peers", len(peers))
