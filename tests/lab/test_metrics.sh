#!/bin/bash
# Istio's metrics on :15020/metrics, scraped by a real Prometheus (Debian's 2.42, which asks for
# OpenMetrics first). Prometheus runs in node-1's netns on loopback with its own storage dir,
# scraping both nodes' skiffd every second. The test sends known traffic (fixtures/metrics.yaml):
# TCP on the kernel path (same node) and punted across nodes (HBONE), and HTTP requests through
# skiffd's L7 relay on each node; then it checks Prometheus' answers against what it sent:
# connections and requests exactly, bytes within 1%, with Istio's label values (stats_test.go);
# Kiali's graph queries return the edges; 10,000 distinct paths add no series. Then every query
# of Istio's workload and service Grafana dashboards (tests/conformance/istio/manifests/addons/
# dashboards/, through dashboard_queries.py) must return data while c-v1 in a second namespace
# calls b (HTTP, via the router) and t (TCP) on both nodes; the TCP and spiffe queries Istio's own
# dashboard test leaves out are asked too, and must return data as well (the mutual_tls TCP panels
# from the cross-node connections, the others from the kernel path).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
WORK=$(mktemp -d /tmp/skiff-metrics.XXXXXX)
PROM_PID=""
stop_prom() {
	[ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null && wait "$PROM_PID" 2>/dev/null
	PROM_PID=""
}
trap 'stop_prom; t_cleanup; rm -rf "$WORK"' EXIT
PROM_PORT=19090
export SKIFF_LAB_AGENT_ARGS="${SKIFF_LAB_AGENT_ARGS:-} --metrics-addr 0.0.0.0"

node1() { lab exec --node node-1 -- "$@"; }
in_client() { lab exec -n metrics deploy/a-v1 -- "$@"; }
pod_ip() {
	lab status | awk -v d="metrics/$1-" -v n="$2" 'index($1, d) == 1 && $2 == n { print $3; exit }'
}

# query PROMQL: Prometheus' answer, one "labels value" line per series (JSON flattened by python)
query() {
	node1 curl -s --max-time 5 -G "127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
		python3 -c '
import json, sys
try:
    r = json.load(sys.stdin)
except ValueError:
    sys.exit(0)  # not up yet
if r.get("status") != "success":
    print("error", r.get("error")); sys.exit(0)
for s in r["data"]["result"]:
    m = ",".join("%s=%s" % kv for kv in sorted(s["metric"].items()))
    print(m, s["value"][1])'
}
# value PROMQL: the single number a scalar-like query returns ("0" when there is no series)
value() {
	local v
	v=$(query "$1" | awk 'NR == 1 { print $NF }')
	echo "${v:-0}"
}
# Wait until Prometheus has scraped both nodes after now (two scrape intervals, plus slack).
settle() {
	local t0
	t0=$(date +%s)
	for _ in $(seq 50); do
		[ "$(value "min(timestamp(up{job=\"skiffd\"}))" | cut -d. -f1)" -gt $((t0 + 1)) ] &&
			return 0
		sleep 0.2
	done
	return 1
}
# echo_conns HOST N BYTES: N TCP connections to HOST:9000, each sends BYTES and reads the echo
echo_conns() {
	in_client python3 -c "
import socket
got = 0
for i in range($2):
    s = socket.create_connection(('$1', 9000), timeout=5)
    s.sendall(b'm' * $3); s.shutdown(socket.SHUT_WR)
    while True:
        b = s.recv(65536)
        if not b: break
        got += len(b)
    s.close()
print(got)"
}
within1pct() {
	awk -v a="$1" -v e="$2" 'BEGIN { d = a - e; if (d < 0) d = -d; exit !(d <= e / 100) }'
}

t_begin "lab up: 2 nodes, skiffd serving :15020 on the node address"
if lab up --nodes 2 "$HERE/fixtures/metrics.yaml" >"$LOG" 2>&1; then t_pass
else t_fail "$(tail -5 "$LOG")"; fi
ECHO1=$(pod_ip t-v1 node-1)
ECHO2=$(pod_ip t-v1 node-2)
HTTP1=$(pod_ip b-v1 node-1)
HTTP2=$(pod_ip b-v1 node-2)

t_begin "Prometheus' Accept gets OpenMetrics, gzip'd; a plain GET gets text 0.0.4"
PROM_ACCEPT='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1'
PROM_ACCEPT+=';q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
om=$(node1 curl -s -D - -o /dev/null -H 'Accept-Encoding: gzip' -H "Accept: $PROM_ACCEPT" \
	198.18.0.2:15020/metrics)
txt=$(node1 curl -s -D - 198.18.0.2:15020/metrics)
if grep -qi '^Content-Type: application/openmetrics-text; version=1.0.0' <<<"$om" &&
	grep -qi '^Content-Encoding: gzip' <<<"$om" &&
	grep -qi '^Content-Type: text/plain; version=0.0.4' <<<"$txt" &&
	grep -q '^# TYPE istio_tcp_connections_opened_total counter' <<<"$txt"; then t_pass
else t_fail "$om $(head -12 <<<"$txt")"; fi

t_begin "the gzip'd page is valid gzip: curl --compressed and Python's gzip module read it whole"
plain=$(node1 curl -s --compressed -H 'Accept-Encoding: gzip' 198.18.0.2:15020/metrics)
py=$(node1 curl -s -H 'Accept-Encoding: gzip' -H "Accept: $PROM_ACCEPT" 198.18.0.2:15020/metrics |
	python3 -c '
import gzip, sys
t = gzip.decompress(sys.stdin.buffer.read()).decode()
ok = t.endswith("# EOF\n") and "# TYPE istio_tcp_connections_opened counter" in t
print("ok %d lines" % t.count("\n") if ok else "bad: " + t[-200:])' 2>&1)
if grep -q '^# TYPE istio_tcp_connections_opened_total counter' <<<"$plain" &&
	[ "${py#ok }" != "$py" ]; then t_pass "$py"
else t_fail "curl --compressed: $(head -3 <<<"$plain"); python: $py"; fi

cat >"$WORK/prometheus.yml" <<EOF2
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
- job_name: skiffd
  scrape_interval: 1s
  static_configs:
  - targets: ['198.18.0.1:15020', '198.18.0.2:15020']
EOF2
t_begin "Prometheus scrapes both nodes' skiffd (up == 1, OpenMetrics negotiated)"
node1 bash -c "echo \$\$ >$WORK/prom.pid; exec prometheus --config.file=$WORK/prometheus.yml \
	--storage.tsdb.path=$WORK/data --web.listen-address=127.0.0.1:$PROM_PORT" \
	>"$WORK/prom.log" 2>&1 &
for _ in $(seq 100); do
	[ -s "$WORK/prom.pid" ] && PROM_PID=$(cat "$WORK/prom.pid")
	[ "$(value 'sum(up{job="skiffd"})')" = 2 ] && break
	sleep 0.2
done
samples=$(value 'min(scrape_samples_scraped{job="skiffd"})')
om=$(value 'min(skiff_metrics_scrapes_total{format="openmetrics"})')
if [ "$(value 'sum(up{job="skiffd"})')" = 2 ] && [ "${samples%.*}" -gt 10 ] && [ "$om" -gt 0 ] &&
	[ "$(value 'sum(skiff_metrics_scrapes_total{format="text"})')" -le 2 ]; then
	t_pass "$samples samples per scrape; $om OpenMetrics pages"
else t_fail "up: $(query 'up') $(tail -5 "$WORK/prom.log")"; fi

SEL='source_workload="a-v1",source_workload_namespace="metrics",destination_workload="t-v1"'
SEL+=',destination_workload_namespace="metrics",instance="198.18.0.1:15020",reporter="destination"'
# same METRIC: node-1's destination-side total of METRIC for a-v1 -> t-v1
same() { value "sum($1{$SEL})"; }
N1=20 B1=30000 N2=7 B2=50000
before_same=$(same istio_tcp_connections_opened_total)
before_rx=$(same istio_tcp_received_bytes_total)
before_tx=$(same istio_tcp_sent_bytes_total)
# cross-node connections are reported by each node's skiffd from the HBONE stream, with both ends
ALL2='instance="198.18.0.2:15020",reporter="destination",destination_workload="t-v1"'
DST2="$ALL2"',source_workload="a-v1",connection_security_policy="mutual_tls"'
SRC1='instance="198.18.0.1:15020",reporter="source",source_workload="a-v1"'
SRC1+=',destination_workload="t-v1",connection_security_policy="mutual_tls"'
before_d2=$(value "sum(istio_tcp_connections_opened_total{$DST2})")
before_d2rx=$(value "sum(istio_tcp_received_bytes_total{$DST2})")
before_all2rx=$(value "sum(istio_tcp_received_bytes_total{$ALL2})")
ALL1='instance="198.18.0.1:15020",reporter="source",source_workload="a-v1"'
before_all1tx=$(value "sum(istio_tcp_sent_bytes_total{$ALL1})")
before_s1=$(value "sum(istio_tcp_connections_opened_total{$SRC1})")
before_s1tx=$(value "sum(istio_tcp_sent_bytes_total{$SRC1})")

t_begin "known traffic: $N1 same-node connections of $B1 bytes each way, $N2 cross-node of $B2"
got1=$(echo_conns "$ECHO1" $N1 $B1)
got2=$(echo_conns "$ECHO2" $N2 $B2)
if [ "$got1" = $((N1 * B1)) ] && [ "$got2" = $((N2 * B2)) ] && settle; then t_pass
else t_fail "echoed $got1 and $got2"; fi

t_begin "same node: istio_tcp_connections_opened_total (reporter=destination) counts exactly $N1"
d=$(same istio_tcp_connections_opened_total)
closed=$(same istio_tcp_connections_closed_total)
if [ $((d - before_same)) = $N1 ] && [ "$closed" = "$d" ]; then t_pass "opened $d, closed $closed"
else t_fail "opened $before_same -> $d, closed $closed"; fi

t_begin "same node: istio_tcp_received_bytes_total and _sent_bytes_total within 1% of what was sent"
rx=$(same istio_tcp_received_bytes_total)
tx=$(same istio_tcp_sent_bytes_total)
if within1pct $((rx - before_rx)) $((N1 * B1)) && within1pct $((tx - before_tx)) $((N1 * B1)); then
	t_pass "received +$((rx - before_rx)), sent +$((tx - before_tx)) of $((N1 * B1))"
else t_fail "received $before_rx -> $rx, sent $before_tx -> $tx, expected +$((N1 * B1))"; fi

t_begin "same node: Istio's label values (stats_test.go's facts for a TCP edge)"
series=$(query "istio_tcp_connections_opened_total{$SEL}")
# has_labels SERIES LABEL=VALUE...: the labels missing from the one series given
has_labels() {
	local series=$1 w miss=""
	shift
	for w in "$@"; do grep -q "\(^\|,\)$w\(,\| \)" <<<"$series" || miss="$miss $w"; done
	echo "$miss"
}
miss=$(has_labels "$series" destination_app=t destination_version=v1 \
	destination_canonical_revision=v1 destination_canonical_service=t \
	destination_cluster=Kubernetes destination_service=t.metrics.svc.cluster.local \
	destination_service_name=t destination_service_namespace=metrics \
	destination_principal=spiffe://cluster.local/ns/metrics/sa/default source_app=a \
	source_version=v1 source_canonical_service=a source_canonical_revision=v1 \
	source_cluster=Kubernetes request_protocol=tcp connection_security_policy=none \
	response_flags=- source_principal=spiffe://cluster.local/ns/metrics/sa/a)
if [ "$(grep -c . <<<"$series")" = 1 ] && [ -z "$miss" ]; then t_pass
else t_fail "missing:$miss in: $series"; fi

t_begin "cross node: node-2 reports $N2 mutual_tls connections in from a-v1, node-1 $N2 out to t-v1"
d2=$(value "sum(istio_tcp_connections_opened_total{$DST2})")
s1=$(value "sum(istio_tcp_connections_opened_total{$SRC1})")
d2rx=$(value "sum(istio_tcp_received_bytes_total{$DST2})")
s1tx=$(value "sum(istio_tcp_sent_bytes_total{$SRC1})")
if [ $((d2 - before_d2)) = $N2 ] && [ $((s1 - before_s1)) = $N2 ] &&
	within1pct $((d2rx - before_d2rx)) $((N2 * B2)) &&
	within1pct $((s1tx - before_s1tx)) $((N2 * B2)); then
	t_pass "bytes in at node-2 +$((d2rx - before_d2rx)), back at node-1 +$((s1tx - before_s1tx))"
else
	t_fail "node-2 opened $before_d2 -> $d2 rx $before_d2rx -> $d2rx;
node-1 opened $before_s1 -> $s1 tx $before_s1tx -> $s1tx"
fi

# skiffd's hops (the punted client to skiffd, skiffd to the pod) are left to skiffd's report: the
# bytes into t-v1 on node-2 are counted once, whatever the source label, and so are the bytes
# back to a-v1 on node-1 (its same-node and cross-node connections), whatever the destination
t_begin "cross node: each end's labels and principals; the bytes counted once at each node"
all2rx=$(value "sum(istio_tcp_received_bytes_total{$ALL2})")
all1tx=$(value "sum(istio_tcp_sent_bytes_total{$ALL1})")
miss=""
for sel in "$DST2" "$SRC1"; do
	series=$(query "istio_tcp_connections_opened_total{$sel}")
	[ "$(grep -c . <<<"$series")" = 1 ] || miss="$miss [$(grep -c . <<<"$series") series: $sel]"
	miss+=$(has_labels "$series" source_principal=spiffe://cluster.local/ns/metrics/sa/a \
		destination_principal=spiffe://cluster.local/ns/metrics/sa/default \
		source_canonical_service=a destination_canonical_service=t \
		destination_service=t.metrics.svc.cluster.local request_protocol=tcp response_flags=-)
done
if [ -z "$miss" ] && within1pct $((all2rx - before_all2rx)) $((N2 * B2)) &&
	within1pct $((all1tx - before_all1tx)) $((N1 * B1 + N2 * B2)); then
	t_pass "+$((all2rx - before_all2rx)) bytes into t-v1 at node-2, +$((all1tx - before_all1tx)) back to a-v1 at node-1"
else t_fail "missing:$miss; node-2 all sources $before_all2rx -> $all2rx of +$((N2 * B2));
node-1 all destinations $before_all1tx -> $all1tx of +$((N1 * B1 + N2 * B2))
$(query "istio_tcp_received_bytes_total{$ALL2}")
$(query "istio_tcp_sent_bytes_total{$ALL1}")"; fi

t_begin "Kiali's TCP graph query returns the a-v1 -> t edge"
BY='source_workload, source_workload_namespace, destination_service, destination_workload'
edges=$(query "sum(rate(istio_tcp_sent_bytes_total{reporter=\"destination\"}[1m])) by ($BY)")
EDGE='destination_service=t.metrics.svc.cluster.local,destination_workload=t-v1'
EDGE+=',source_workload=a-v1,source_workload_namespace=metrics '
if grep -q "$EDGE" <<<"$edges"; then
	t_pass
else t_fail "$edges"; fi

# http_gets HOST PATH N: N GETs of PATH on one keep-alive connection; prints the status counts
http_gets() {
	in_client python3 -c "
import collections, http.client
c = http.client.HTTPConnection('$1', 8080, timeout=5)
n = collections.Counter()
for i in range($3):
    c.request('GET', '$2'.replace('{i}', str(i))); r = c.getresponse(); r.read()
    n[r.status] += 1
print(' '.join('%d:%d' % kv for kv in sorted(n.items())))"
}
REQ='reporter="destination",source_workload="a-v1",destination_workload="b-v1"'
req() {
	value "sum(istio_requests_total{instance=\"198.18.0.$1:15020\",$REQ,response_code=\"$2\"})"
}
b1_200=$(req 1 200) b1_503=$(req 1 503) b1_403=$(req 1 403) b2_200=$(req 2 200)

t_begin "HTTP through the L7 relays: 25 x 200, 3 x 503, 4 x 403 (denied) on node-1; 6 x 200 across"
r1=$(http_gets "$HTTP1" /ok 25) r2=$(http_gets "$HTTP1" /status/503 3)
r3=$(http_gets "$HTTP1" /forbidden 4) r4=$(http_gets "$HTTP2" /ok 6)
if [ "$r1 $r2 $r3 $r4" = "200:25 503:3 403:4 200:6" ] && settle; then t_pass
else t_fail "statuses: $r1 / $r2 / $r3 / $r4"; fi

t_begin "istio_requests_total counts each code exactly (reporter=destination)"
d200=$(($(req 1 200) - b1_200)) d503=$(($(req 1 503) - b1_503)) d403=$(($(req 1 403) - b1_403))
x200=$(($(req 2 200) - b2_200))
if [ "$d200 $d503 $d403 $x200" = "25 3 4 6" ]; then t_pass
else
	t_fail "node-1: 200 +$d200, 503 +$d503, 403 +$d403; node-2: 200 +$x200
$(query "istio_requests_total")"
fi

t_begin "request labels: stats_test.go's facts; mutual_tls across nodes, none on the node"
s1=$(query "istio_requests_total{instance=\"198.18.0.1:15020\",$REQ,response_code=\"200\"}")
s2=$(query "istio_requests_total{instance=\"198.18.0.2:15020\",$REQ,response_code=\"200\"}")
facts=(request_protocol=http response_code=200 destination_app=b destination_version=v1
	destination_service=b.metrics.svc.cluster.local destination_service_name=b
	destination_workload_namespace=metrics destination_service_namespace=metrics source_app=a
	source_version=v1 source_workload=a-v1 source_workload_namespace=metrics
	source_cluster=Kubernetes source_principal=spiffe://cluster.local/ns/metrics/sa/a
	destination_principal=spiffe://cluster.local/ns/metrics/sa/b)
m1=$(has_labels "$s1" "${facts[@]}" connection_security_policy=none)
m2=$(has_labels "$s2" "${facts[@]}" connection_security_policy=mutual_tls)
if [ "$(grep -c . <<<"$s1")" = 1 ] && [ "$(grep -c . <<<"$s2")" = 1 ] && [ -z "$m1$m2" ]; then
	t_pass
else t_fail "node-1 missing:$m1 in: $s1; node-2 missing:$m2 in: $s2"; fi

t_begin "istio_request_duration_milliseconds: _count equals the requests, le=\"+Inf\" too"
R1="instance=\"198.18.0.1:15020\",$REQ"
c=$(value "sum(istio_request_duration_milliseconds_count{$R1})")
inf=$(value "sum(istio_request_duration_milliseconds_bucket{$R1,le=\"+Inf\"})")
n=$(value "sum(istio_requests_total{$R1})")
if [ "$c" = "$n" ] && [ "$inf" = "$n" ] && [ "$n" -ge 32 ]; then t_pass "$n requests"
else t_fail "count $c, +Inf $inf, requests $n"; fi

# promtool exits 1 when the page does not parse, 3 for lint findings; the one finding allowed is
# Istio's own name istio_request_duration_milliseconds (Prometheus prefers seconds).
t_begin "promtool check metrics parses the text page (with histograms); no lint but Istio's unit"
page=$(node1 curl -s 127.0.0.1:15020/metrics)
lint=$(promtool check metrics <<<"$page" 2>&1)
rc=$?
ISTIO_UNIT='^istio_request_duration_milliseconds use base unit "seconds" instead of "milliseconds"$'
other=$(grep -v "$ISTIO_UNIT" <<<"$lint")
if { [ $rc = 0 ] || [ $rc = 3 ]; } && [ -z "$other" ] &&
	grep -q '^istio_request_duration_milliseconds_bucket{' <<<"$page"; then t_pass
else t_fail "rc $rc: $lint"; fi

t_begin "Kiali's HTTP graph query returns the a-v1 -> b edge with its codes"
edges=$(query "sum(rate(istio_requests_total{reporter=\"destination\"}[1m])) by ($BY, response_code)")
EDGE='destination_service=b.metrics.svc.cluster.local,destination_workload=b-v1,response_code=200'
EDGE+=',source_workload=a-v1,source_workload_namespace=metrics '
if grep -q "$EDGE" <<<"$edges" &&
	grep -q 'response_code=403,source_workload=a-v1' <<<"$edges"; then t_pass
else t_fail "$edges"; fi

t_begin "10000 distinct paths add no series (and are all counted)"
s0=$(value 'sum(skiff_metrics_series)')
n0=$(req 1 200)
r=$(http_gets "$HTTP1" '/p/{i}' 10000)
settle
s1=$(value 'sum(skiff_metrics_series)')
n1=$(req 1 200)
drop=$(value 'sum(skiff_metrics_series_dropped)')
if [ "$r" = "200:10000" ] && [ "$s1" = "$s0" ] && [ "$drop" = 0 ] && [ $((n1 - n0)) = 10000 ]; then
	t_pass "$s1 series before and after"
else t_fail "$r; series $s0 -> $s1, dropped $drop, requests +$((n1 - n0))"; fi

# Istio's Grafana dashboards, query by query (tests/lab/dashboard_queries.py), while c-v1 in
# metrics-front keeps calling b (HTTP, through the router) and t (TCP, kernel path), each on a
# pod of its node and one across. The queries use irate(), so traffic must flow while they run.
BOARDS="$HERE/../conformance/istio/manifests/addons/dashboards"
front_traffic() {
	lab exec -n metrics-front deploy/c-v1 -- python3 -c "
import http.client, socket, time
end = time.monotonic() + $1
c = None
while time.monotonic() < end:
    try:
        if c is None:
            c = http.client.HTTPConnection('b.metrics.svc.cluster.local', 80, timeout=5)
        c.request('GET', '/front'); c.getresponse().read()
        s = socket.create_connection(('t.metrics.svc.cluster.local', 9000), timeout=5)
        s.sendall(b'f' * 1000); s.shutdown(socket.SHUT_WR)
        while s.recv(65536): pass
        s.close()
    except OSError:
        c = None
    time.sleep(0.02)"
}
front_traffic 90 >>"$LOG" 2>&1 &
FRONT_PID=$!
# board JSON VIEW VAR=VALUE...: the dashboard's answers (one line per query, then a summary)
board() {
	local json=$1
	shift
	node1 python3 "$HERE/dashboard_queries.py" "http://127.0.0.1:$PROM_PORT" "$BOARDS/$json" "$@"
}
# verdict LINES KIND: the queries of that kind without data
misses() { grep -v '^ok ' <<<"$1" | grep "^[a-z]* $2 " | cut -c1-400; }
nasked() { grep -c "^[a-z]* $2 " <<<"$1"; }
sleep 8
settle
SVC=b.metrics.svc.cluster.local
in_wl=$(board istio-workload-dashboard.json inbound namespace=metrics workload=b-v1 \
	srcns=metrics-front srcwl=c-v1 dstsvc=$SVC)
out_wl=$(board istio-workload-dashboard.json outbound namespace=metrics-front workload=c-v1 \
	srcns=metrics-front srcwl=c-v1 dstsvc=$SVC)
svc=$(board istio-service-dashboard.json all service=$SVC srcns=metrics-front srcwl=c-v1 \
	dstns=metrics dstwl=b-v1 dstcluster=Kubernetes)
# the TCP panels, which Istio's test leaves out, for the TCP service t
TSVC=t.metrics.svc.cluster.local
tcp=$(board istio-workload-dashboard.json inbound namespace=metrics workload=t-v1 \
	srcns=metrics-front srcwl=c-v1 dstsvc=$TSVC | grep '^[a-z]* extra .*istio_tcp_'
	board istio-workload-dashboard.json outbound namespace=metrics-front workload=c-v1 \
		srcns=metrics-front srcwl=c-v1 dstsvc=$TSVC | grep '^[a-z]* extra .*istio_tcp_'
	board istio-service-dashboard.json all service=$TSVC srcns=metrics-front srcwl=c-v1 \
		dstns=metrics dstwl=t-v1 dstcluster=Kubernetes | grep '^[a-z]* extra .*istio_tcp_')
# and the HTTP ones it leaves out (spiffe.*)
extra=$(grep -v 'istio_tcp_' <<<"$in_wl
$out_wl
$svc")
extra+=$'\n'$tcp

t_begin "Istio's workload dashboard, inbound to b-v1: every query of Istio's test returns data"
m=$(misses "$in_wl" istio)
if [ "$(nasked "$in_wl" istio)" -gt 20 ] && [ -z "$m" ]; then t_pass "$(nasked "$in_wl" istio) queries"
else t_fail "$(grep -c . <<<"$m") of $(nasked "$in_wl" istio) without data:
$m"; fi

t_begin "Istio's workload dashboard, outbound from c-v1: every query of Istio's test returns data"
m=$(misses "$out_wl" istio)
if [ "$(nasked "$out_wl" istio)" -gt 20 ] && [ -z "$m" ]; then t_pass "$(nasked "$out_wl" istio) queries"
else t_fail "$(grep -c . <<<"$m") of $(nasked "$out_wl" istio) without data:
$m"; fi

t_begin "Istio's service dashboard for b: every query of Istio's test returns data"
m=$(misses "$svc" istio)
if [ "$(nasked "$svc" istio)" -gt 20 ] && [ -z "$m" ]; then t_pass "$(nasked "$svc" istio) queries"
else t_fail "$(grep -c . <<<"$m") of $(nasked "$svc" istio) without data:
$m"; fi

t_begin "the queries Istio's test leaves out (istio_tcp_*, spiffe.*): every one returns data"
m=$(misses "$extra" extra)
n=$(nasked "$extra" extra)
nmtls=$(grep -c '^ok extra .*istio_tcp_[a-z_]*{[^}]*connection_security_policy="mutual_tls"' <<<"$extra")
echo "dashboard queries without data (beyond Istio's test):" >>"$LOG"
echo "$m" >>"$LOG"
if [ "$n" -gt 10 ] && [ -z "$m" ] && [ "$nmtls" -ge 12 ]; then
	t_pass "$n asked, $nmtls of them mutual_tls TCP panels"
else t_fail "$(grep -c . <<<"$m") of $n without data ($nmtls mutual_tls TCP panels with data):
$m"; fi
kill "$FRONT_PID" 2>/dev/null
wait "$FRONT_PID" 2>/dev/null

stop_prom
t_summary
