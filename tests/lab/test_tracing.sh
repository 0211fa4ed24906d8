#!/bin/bash
# Tracing across two nodes: a request from a-v1 (node-1) to Service b goes through node-1's L7
# router (a CLIENT span) and, over HBONE, node-2's L7 relay in front of b-v1 (a SERVER span).
# A Zipkin-format test collector (zipkin_collector.py, a Python http.server in node-1's netns)
# stores what both skiffd POST to /api/v2/spans. The test checks: one trace id across both hops,
# the SERVER span a child of the CLIENT span, the ids the echo pod received matching the SERVER
# span, the HBONE CONNECT carrying the CLIENT span, a request without the router parented on the
# CONNECT's traceparent, x-request-id generated (UUID v4) or kept, an incoming B3 trace continued,
# HTTP/2 streams through the router (nghttp: a CLIENT span each, ids to the pod and the CONNECT)
# and their access lines, a mirrored copy's own span, sampling 100 % exporting every request and
# 0 % none, skiffd's skiff_tracing_spans_total, and Telemetry tracing per namespace (0 % in one,
# 100 % with custom tags in another; a provider the mesh lacks refused). One lab.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
WORK=$(mktemp -d /tmp/skiff-tracing.XXXXXX)
SPANS=$WORK/spans.jsonl
COL_PID=""
stop_collector() {
	[ -n "$COL_PID" ] && kill "$COL_PID" 2>/dev/null && wait "$COL_PID" 2>/dev/null
	COL_PID=""
}
trap 'stop_collector; t_cleanup; rm -rf "$WORK"' EXIT

in_client() { lab exec -n tracing deploy/a-v1 -- "$@"; }
mesh() { sed "s/@SAMPLING@/$1/" "$HERE/fixtures/tracing-mesh.yaml.in" >"$WORK/mesh-$1.yaml"; }
# sampling PCT: apply meshConfig with that rate and wait for both nodes to reload
sampling() {
	local r1 r2
	r1=$(reloads node-1)
	r2=$(reloads node-2)
	mesh "$1"
	lab apply "$WORK/mesh-$1.yaml" >>"$LOG" 2>&1 && wait_reload node-1 "$r1" &&
		wait_reload node-2 "$r2"
}
# spans_settle: wait until the collector's file stops growing (the exporter batches every second)
spans_settle() {
	local n=-1 m
	for _ in $(seq 20); do
		sleep 1.2
		m=$(wc -l <"$SPANS" 2>/dev/null || echo 0)
		[ "$m" = "$n" ] && return 0
		n=$m
	done
}
# check_trace ECHO_JSON [TRACE PARENT]: the two spans of the request the echo pod answered, checked
# against what it received; with TRACE and PARENT, the CLIENT span continues that B3 trace.
check_trace() {
	python3 - "$SPANS" "$@" <<'PY'
import json, re, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
echo = json.loads(sys.argv[2])
h = {k.lower(): v for k, v in echo["headers"].items()}
want_trace = sys.argv[3] if len(sys.argv) > 3 else None
want_parent = sys.argv[4] if len(sys.argv) > 4 else None
t = h["x-b3-traceid"]
mine = [s for s in spans if s["traceId"] == t]
cl = [s for s in mine if s["kind"] == "CLIENT"]
sv = [s for s in mine if s["kind"] == "SERVER"]
err = []
if len(cl) != 1 or len(sv) != 1:
    err.append("spans of trace %s: %d CLIENT, %d SERVER (of %d stored)" % (t, len(cl), len(sv), len(spans)))
else:
    c, s = cl[0], sv[0]
    if s.get("parentId") != c["id"]:
        err.append("SERVER parent %s is not the CLIENT span %s" % (s.get("parentId"), c["id"]))
    if h.get("x-b3-spanid") != s["id"] or h.get("x-b3-parentspanid") != c["id"]:
        err.append("pod got span %s parent %s; SERVER %s CLIENT %s" % (h.get("x-b3-spanid"), h.get("x-b3-parentspanid"), s["id"], c["id"]))
    if h.get("traceparent") != "00-%s-%s-01" % (t, s["id"]):
        err.append("pod got traceparent %s" % h.get("traceparent"))
    if c["tags"].get("node_id") != "skiffd~node-1" or s["tags"].get("node_id") != "skiffd~node-2":
        err.append("node_id %s / %s" % (c["tags"].get("node_id"), s["tags"].get("node_id")))
    if c["localEndpoint"]["serviceName"] != "a.tracing" or s["localEndpoint"]["serviceName"] != "b.tracing":
        err.append("services %s / %s" % (c["localEndpoint"], s["localEndpoint"]))
    for sp in (c, s):
        tg = sp["tags"]
        if tg.get("http.method") != "GET" or tg.get("http.status_code") != "200" or \
           tg.get("guid:x-request-id") != h.get("x-request-id"):
            err.append("%s tags %s" % (sp["kind"], tg))
    if not c["tags"].get("upstream_cluster", "").startswith("outbound|80||b.tracing.svc"):
        err.append("CLIENT upstream_cluster %s" % c["tags"].get("upstream_cluster"))
    if want_parent and (t != want_trace or c.get("parentId") != want_parent):
        err.append("trace %s parent %s, want %s %s" % (t, c.get("parentId"), want_trace, want_parent))
    if not want_parent and "parentId" in c:
        err.append("a new trace's CLIENT span has parent %s" % c["parentId"])
print("; ".join(err) if err else "ok %s client %s server %s" % (t, cl[0]["id"], sv[0]["id"]))
PY
}
uuid4() { grep -qE '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' <<<"$1"; }
header() { python3 -c 'import json,sys; h={k.lower():v for k,v in json.loads(sys.argv[1])["headers"].items()}; print(h.get(sys.argv[2],""))' "$1" "$2"; }

t_begin "lab up: 2 nodes, router on node-1, L7 relay on node-2, meshConfig sampling 100 %"
mesh 100
if lab up --nodes 2 "$HERE/fixtures/tracing.yaml" "$WORK/mesh-100.yaml" >"$LOG" 2>&1; then t_pass
else t_fail "$(tail -5 "$LOG")"; fi

t_begin "a Zipkin-format collector listens in node-1's netns on 198.18.0.1:9411"
lab exec --node node-1 -- bash -c "echo \$\$ >$WORK/col.pid; exec python3 $HERE/zipkin_collector.py \
	0.0.0.0 9411 $SPANS" >"$WORK/collector.log" 2>&1 &
for _ in $(seq 50); do
	[ -s "$WORK/col.pid" ] && COL_PID=$(cat "$WORK/col.pid")
	lab exec --node node-2 -- curl -s -o /dev/null --max-time 1 -X POST -d '[]' \
		198.18.0.1:9411/api/v2/spans 2>/dev/null && break
	sleep 0.1
done
if [ -n "$COL_PID" ] && lab exec --node node-2 -- curl -sf -o /dev/null --max-time 2 -X POST \
	-d '[]' 198.18.0.1:9411/api/v2/spans; then t_pass
else t_fail "$(cat "$WORK/collector.log")"; fi

t_begin "two hops, one trace: SERVER (node-2) is the child of CLIENT (node-1); the pod got its ids"
: >"$SPANS"
echo1=$(in_client curl -s --max-time 10 http://b/hello 2>>"$LOG")
spans_settle
got=$(check_trace "$echo1" 2>&1)
if [[ $got == ok* ]]; then t_pass "$got"; else t_fail "$got | echo: $echo1"; fi

t_begin "the HBONE CONNECT that carried it names the CLIENT span (node-2's log)"
read -r _ tid _ cid _ _ <<<"$got"
if [ -n "${cid:-}" ] && grep -q "skiffd hbone: inbound .* traceparent=00-$tid-$cid-01" \
	"$STATE/logs/skiffd-node-2.log"; then t_pass
else t_fail "$(grep 'skiffd hbone: inbound' "$STATE/logs/skiffd-node-2.log" | tail -3)"; fi

t_begin "no router (Service c): the relay's SERVER span is the child of the CONNECT's traceparent"
: >"$SPANS"
echo0=$(in_client curl -s --max-time 10 http://c/connect 2>>"$LOG")
spans_settle
got=$(python3 - "$SPANS" "$echo0" "$STATE/logs/skiffd-node-2.log" <<'PY'
import json, re, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
h = {k.lower(): v for k, v in json.loads(sys.argv[2])["headers"].items()}
log = open(sys.argv[3]).read()
if len(spans) != 1 or spans[0]["kind"] != "SERVER":
    print("spans: %s" % [(s["kind"], s["traceId"]) for s in spans]); sys.exit()
s = spans[0]
tp = "traceparent=00-%s-%s-01" % (s["traceId"], s.get("parentId"))
if tp not in log:
    print("no CONNECT with %s" % tp)
elif h.get("x-b3-traceid") != s["traceId"] or h.get("x-b3-spanid") != s["id"]:
    print("pod got %s/%s" % (h.get("x-b3-traceid"), h.get("x-b3-spanid")))
else:
    print("ok %s" % tp)
PY
)
if [[ $got == ok* ]]; then t_pass "$got"; else t_fail "$got | echo: $echo0"; fi

t_begin "x-request-id: generated as a UUID v4 when absent, kept when the client sent one"
rid=$(header "$echo1" x-request-id)
echo2=$(in_client curl -s --max-time 10 -H 'x-request-id: my-request-7' http://b/kept 2>>"$LOG")
rid2=$(header "$echo2" x-request-id)
if uuid4 "$rid" && [ "$rid2" = my-request-7 ]; then t_pass "$rid"
else t_fail "generated: '$rid' kept: '$rid2'"; fi

t_begin "an incoming B3 trace is continued (64-bit trace id, the caller's span as parent)"
: >"$SPANS"
echo3=$(in_client curl -s --max-time 10 -H 'X-B3-TraceId: 463ac35c9f6413ad' \
	-H 'X-B3-SpanId: a2fb4a1d1a96d312' -H 'X-B3-Sampled: 1' http://b/b3 2>>"$LOG")
spans_settle
got=$(check_trace "$echo3" 0000000000000000463ac35c9f6413ad a2fb4a1d1a96d312 2>&1)
if [[ $got == ok* ]]; then t_pass "$got"; else t_fail "$got | echo: $echo3"; fi

t_begin "an incoming W3C traceparent is continued"
: >"$SPANS"
echo4=$(in_client curl -s --max-time 10 \
	-H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
	-H 'tracestate: vendor=opaque' http://b/w3c 2>>"$LOG")
spans_settle
got=$(check_trace "$echo4" 4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7 2>&1)
ts=$(header "$echo4" tracestate)
if [[ $got == ok* ]] && [ "$ts" = vendor=opaque ]; then t_pass "$got"
else t_fail "$got | tracestate '$ts' | echo: $echo4"; fi

t_begin "HTTP/2 through the router and node-2's relay: per stream a CLIENT span, its SERVER child, propagated"
: >"$SPANS"
h2out=$(in_client nghttp -t 10 -H 'x-request-id: h2-kept-1' http://b/h2a http://b/h2b 2>>"$LOG")
spans_settle
got=$(python3 - "$SPANS" "$STATE/logs/skiffd-node-2.log" "$h2out" <<'PY'
import json, re, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
log = open(sys.argv[2]).read()
# nghttp prints the two echo bodies one after the other
dec, txt, bodies = json.JSONDecoder(), sys.argv[3], []
i = txt.find("{")
while i >= 0:
    o, end = dec.raw_decode(txt, i)
    bodies.append(o)
    i = txt.find("{", end)
err, ids = [], []
if len(bodies) != 2:
    err.append("%d bodies from nghttp" % len(bodies))
for b in bodies:
    h = {k.lower(): v for k, v in b["headers"].items()}
    # the pod got the relay's SERVER span, the child of the router's CLIENT span
    sv = [s for s in spans if s["kind"] == "SERVER" and s["id"] == h.get("x-b3-spanid")]
    cl = [s for s in spans if s["kind"] == "CLIENT" and sv and s["id"] == sv[0].get("parentId")]
    if len(sv) != 1 or len(cl) != 1:
        err.append("no SERVER span %s (with a CLIENT parent) for %s" % (h.get("x-b3-spanid"), b.get("path")))
        continue
    c = cl[0]
    if sv[0]["tags"].get("http.protocol") != "HTTP/2" or sv[0]["traceId"] != c["traceId"] or \
       sv[0]["tags"].get("http.status_code") != "200" or h.get("x-b3-parentspanid") != c["id"]:
        err.append("SERVER span %s tags %s" % (sv[0]["id"], sv[0]["tags"]))
    ids.append(c["id"])
    tg = c["tags"]
    if c["traceId"] != h.get("x-b3-traceid") or tg.get("http.protocol") != "HTTP/2" or \
       tg.get("http.status_code") != "200" or tg.get("guid:x-request-id") != "h2-kept-1" or \
       h.get("x-request-id") != "h2-kept-1" or c["localEndpoint"]["serviceName"] != "a.tracing":
        err.append("span %s tags %s, pod got %s" % (c["id"], tg, h))
    if h.get("traceparent") != "00-%s-%s-01" % (c["traceId"], sv[0]["id"]):
        err.append("pod got traceparent %s" % h.get("traceparent"))
    if "traceparent=00-%s-%s-01" % (c["traceId"], c["id"]) not in log:
        err.append("no CONNECT at node-2 named span %s" % c["id"])
if len(set(ids)) != 2:
    err.append("span ids %s" % ids)
print("; ".join(err) if err else "ok %s" % " ".join(ids))
PY
)
if [[ $got == ok* ]]; then t_pass "$got"; else t_fail "$got | nghttp: $h2out"; fi

t_begin "HTTP/2 router access line: protocol HTTP/2, code 200, bytes, upstream_cluster, request_id"
got=$(python3 - "$STATE/logs/skiffd-node-1.log" <<'PY'
import json, sys
lines = []
for l in open(sys.argv[1]):
    if l.startswith("{"):
        try:
            lines.append(json.loads(l))
        except ValueError:
            pass
mine = [l for l in lines if l.get("path") in ("/h2a", "/h2b")]
err = []
if len(mine) != 2:
    err.append("%d lines for /h2a, /h2b" % len(mine))
for l in mine:
    if l["protocol"] != "HTTP/2" or l["response_code"] != 200 or l["reporter"] != "source" or \
       l["upstream_cluster"] != "outbound|80||b.tracing.svc.cluster.local" or \
       l["bytes_received"] <= 0 or l["bytes_sent"] <= 0 or l["request_id"] != "h2-kept-1" or \
       l["method"] != "GET" or not l["upstream_host"]:
        err.append("line %s" % l)
print("; ".join(err) if err else "ok")
PY
)
if [ "$got" = ok ]; then t_pass; else t_fail "$got"; fi

t_begin "h2c straight to node-2's relay (Service c): per stream a SERVER span, child of the CONNECT's"
: >"$SPANS"
mark2=$(wc -l <"$STATE/logs/skiffd-node-2.log")
page0=$(lab exec --node node-2 -- curl -s --max-time 5 127.0.0.1:15020/metrics)
h2out=$(in_client nghttp -t 10 http://c/h2c-a http://c/h2c-b 2>>"$LOG")
h1out=$(in_client curl -s --http2-prior-knowledge --max-time 10 http://c/h2c-curl 2>>"$LOG")
spans_settle
page=$(lab exec --node node-2 -- curl -s --max-time 5 127.0.0.1:15020/metrics)
got=$(python3 - "$SPANS" "$STATE/logs/skiffd-node-2.log" "$mark2" "$h2out$h1out" "$page" "$page0" <<'PY'
import json, re, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
loglines = open(sys.argv[2]).read().splitlines()
log = "\n".join(loglines)
dec, txt, bodies = json.JSONDecoder(), sys.argv[4], []
i = txt.find("{")
while i >= 0:
    o, end = dec.raw_decode(txt, i)
    bodies.append(o)
    i = txt.find("{", end)
err = []
if len(bodies) != 3:
    err.append("%d bodies from nghttp and curl" % len(bodies))
for b in bodies:
    h = {k.lower(): v for k, v in b["headers"].items()}
    sv = [s for s in spans if s["kind"] == "SERVER" and s["id"] == h.get("x-b3-spanid")]
    if len(sv) != 1:
        err.append("no SERVER span %s for %s" % (h.get("x-b3-spanid"), b.get("path")))
        continue
    s = sv[0]
    tg = s["tags"]
    if tg.get("http.protocol") != "HTTP/2" or tg.get("http.status_code") != "200" or \
       tg.get("upstream_cluster") != "inbound|8080||" or tg.get("response_flags") != "-" or \
       s["traceId"] != h.get("x-b3-traceid") or tg.get("node_id") != "skiffd~node-2":
        err.append("span %s tags %s" % (s["id"], tg))
    if "traceparent=00-%s-%s-01" % (s["traceId"], s.get("parentId")) not in log:
        err.append("no CONNECT named the parent %s of %s" % (s.get("parentId"), s["id"]))
al = []
for l in loglines[int(sys.argv[3]):]:
    if l.startswith("{"):
        e = json.loads(l)
        if e.get("path", "") and e["path"].startswith("/h2c-"):
            al.append(e)
if sorted(e["path"] for e in al) != ["/h2c-a", "/h2c-b", "/h2c-curl"] or \
   any(e["protocol"] != "HTTP/2" or e["response_code"] != 200 or e["reporter"] != "destination"
       or e["response_flags"] != "-" for e in al):
    err.append("node-2 access lines %s" % al)
def served(page):
    return sum(float(l.split()[-1]) for l in page.splitlines()
               if l.startswith("istio_requests_total{") and 'reporter="destination"' in l and
               'destination_canonical_service="b"' in l and 'response_code="200"' in l and
               'request_protocol="http"' in l)
n = served(sys.argv[5]) - served(sys.argv[6])
if n != 3:
    err.append("istio_requests_total at node-2 +%d, want +3" % n)
print("; ".join(err) if err else "ok %d spans, %d lines, +%d requests" % (len(bodies), len(al), n))
PY
)
if [[ $got == ok* ]]; then t_pass "$got"; else t_fail "$got | nghttp: $h2out | curl: $h1out"; fi

t_begin "HTTP/1.1 router access line: a generated x-request-id is the one logged"
rl=$(grep -F '"path":"/hello"' "$STATE/logs/skiffd-node-1.log" | tail -1)
if [ -n "${rid:-}" ] && grep -qF "\"request_id\":\"$rid\"" <<<"$rl"; then t_pass
else t_fail "want $rid: $rl"; fi

t_begin "a mirrored request has a span of its own: 'mirror', the child of the request's CLIENT span"
: >"$SPANS"
echo6=$(in_client curl -s --max-time 10 http://m/mirrored 2>>"$LOG")
spans_settle
got=$(python3 - "$SPANS" "$echo6" <<'PY'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
h = {k.lower(): v for k, v in json.loads(sys.argv[2])["headers"].items()}
t = h.get("x-b3-traceid")
mine = [s for s in spans if s["traceId"] == t]
cl = [s for s in mine if s["kind"] == "CLIENT" and s["name"] != "mirror"]
mi = [s for s in mine if s["kind"] == "CLIENT" and s["name"] == "mirror"]
sv = [s for s in mine if s["kind"] == "SERVER"]
err = []
if len(cl) != 1 or len(mi) != 1 or len(sv) != 2:
    err.append("trace %s: %d CLIENT, %d mirror, %d SERVER" % (t, len(cl), len(mi), len(sv)))
else:
    c, m = cl[0], mi[0]
    if m.get("parentId") != c["id"]:
        err.append("mirror parent %s, CLIENT %s" % (m.get("parentId"), c["id"]))
    if sorted(s.get("parentId") for s in sv) != sorted([c["id"], m["id"]]):
        err.append("SERVER parents %s" % [s.get("parentId") for s in sv])
    if not m["tags"].get("http.url", "").startswith("http://m-shadow/") or \
       m["tags"].get("upstream_cluster") != "outbound|80||c.tracing.svc.cluster.local" or \
       m["tags"].get("guid:x-request-id") != h.get("x-request-id"):
        err.append("mirror tags %s" % m["tags"])
print("; ".join(err) if err else "ok %s mirror %s" % (t, mi[0]["id"]))
PY
)
if [[ $got == ok* ]]; then t_pass "$got"; else t_fail "$got | echo: $echo6"; fi

N=25
t_begin "sampling 100 %: each of $N requests exports its CLIENT and SERVER span"
: >"$SPANS"
in_client bash -c "for i in \$(seq $N); do curl -s -o /dev/null --max-time 10 http://b/n\$i; done" \
	2>>"$LOG"
spans_settle
read -r cl sv traces < <(python3 -c '
import json, sys
s = [json.loads(l) for l in open(sys.argv[1])]
print(sum(x["kind"] == "CLIENT" for x in s), sum(x["kind"] == "SERVER" for x in s),
      len({x["traceId"] for x in s}))' "$SPANS")
if [ "$cl" = $N ] && [ "$sv" = $N ] && [ "$traces" = $N ]; then t_pass
else t_fail "CLIENT $cl SERVER $sv traces $traces"; fi

t_begin "sampling 0 %: $N requests, no span; still propagated (x-b3-sampled: 0) with a request id"
if sampling 0; then
	: >"$SPANS"
	in_client bash -c "for i in \$(seq $N); do curl -s -o /dev/null --max-time 10 http://b/z\$i; done" \
		2>>"$LOG"
	echo5=$(in_client curl -s --max-time 10 http://b/unsampled 2>>"$LOG")
	sleep 3
	n=$(wc -l <"$SPANS")
	smp=$(header "$echo5" x-b3-sampled)
	if [ "$n" = 0 ] && [ "$smp" = 0 ] && uuid4 "$(header "$echo5" x-request-id)"; then t_pass
	else t_fail "$n spans stored; sampled '$smp'; echo: $echo5"; fi
else t_fail "meshConfig with sampling 0 not applied: $(tail -3 "$LOG")"; fi

t_begin "skiff_tracing_spans_total counts exported spans on both nodes, none dropped"
ok=1
for node in node-1 node-2; do
	m=$(lab exec --node "$node" -- curl -s --max-time 5 127.0.0.1:15020/metrics 2>>"$LOG")
	ex=$(awk '/^skiff_tracing_spans_total\{event="exported"\}/ { print $2 }' <<<"$m")
	dr=$(awk '/^skiff_tracing_spans_total\{event="dropped"\}/ { print $2 }' <<<"$m")
	[ "${ex:-0}" -ge $((N + 4)) ] && [ "${dr:-1}" = 0 ] || ok=0
	detail+="$node exported=${ex:-none} dropped=${dr:-none} "
done
if [ $ok = 1 ]; then t_pass "$detail"; else t_fail "$detail"; fi

t_begin "Telemetry tracing per namespace (mesh 50 %): tracing 0 %, tracing2 100 % with custom tags"
r1=$(reloads node-1)
r2=$(reloads node-2)
if sampling 50 && lab apply "$HERE/fixtures/tracing-telemetry.yaml" >>"$LOG" 2>&1 &&
	wait_reload node-1 "$r1" && wait_reload node-2 "$r2"; then
	: >"$SPANS"
	in_client bash -c "for i in \$(seq $N); do curl -s -o /dev/null --max-time 10 http://b/t0-\$i; done" \
		2>>"$LOG"
	lab exec -n tracing2 deploy/x-v1 -- bash -c "for i in \$(seq $N); do curl -s -o /dev/null \
		--max-time 10 -H 'x-caller: ci' http://b.tracing/t1-\$i; done" 2>>"$LOG"
	spans_settle
	got=$(python3 - "$SPANS" "$N" <<'PY'
import json, sys
spans = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
t0 = [s for s in spans if "/t0-" in s["tags"].get("http.url", "")]
t1c = [s for s in spans if "/t1-" in s["tags"].get("http.url", "") and s["kind"] == "CLIENT"]
t1s = [s for s in spans if "/t1-" in s["tags"].get("http.url", "") and s["kind"] == "SERVER"]
tagged = [s for s in t1c if s["tags"].get("team") == "payments" and s["tags"].get("caller") == "ci"]
if t0 or len(t1c) != n or len(t1s) != n or len(tagged) != n:
    print("tracing: %d spans; tracing2: %d CLIENT (%d tagged), %d SERVER" % (len(t0), len(t1c), len(tagged), len(t1s)))
else:
    print("ok")
PY
)
	if [ "$got" = ok ]; then t_pass; else t_fail "$got"; fi
else t_fail "Telemetry not applied: $(tail -3 "$LOG")"; fi

t_begin "a Telemetry naming a provider the mesh does not define is refused at file:line, config kept"
gen=$(generation node-1)
rej=$(rejected node-1)
config_put zz-bad-telemetry.yaml <"$HERE/fixtures/tracing-bad-telemetry.yaml"
for _ in $(seq 100); do
	[ "$(rejected node-1)" != "$rej" ] && break
	sleep 0.1
done
now=$(generation node-1)
rm -f "$STATE/config/zz-bad-telemetry.yaml"
want='zz-bad-telemetry.yaml:7: Telemetry tracing/bad: spec.tracing[0].providers names "jaeger-nowhere"'
if [ "$now" != "$gen" ]; then t_fail "generation moved $gen -> $now"
elif ! grep -qF -- "$want" "$STATE/logs/skiffd-node-1.log"; then
	t_fail "no '$want': $(grep error "$STATE/logs/skiffd-node-1.log" | tail -3)"
else t_pass; fi

stop_collector
t_summary
