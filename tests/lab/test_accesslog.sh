#!/bin/bash
# Access logs on skiffd's standard output: the install guide's IstioOperator
# (meshConfig.accessLogFile: /dev/stdout) turns them on; a kernel-path TCP connection gives a line
# from each side (client, server) and a request through the L7 router a client line, every line
# JSON with Envoy's fields; Istio's Telemetry examples (copied unchanged) switch them on, off, by
# mode and by filter as Istio's own test expects; a filter skiffd cannot evaluate is refused at
# file:line and the logs keep the configuration in force; the L7 relay writes the server's
# request lines (an h2c stream's with its sizes, also in Istio's size histograms), and a
# connection to node-2 over HBONE a line at each node; Envoy's response flags, each provoked
# once, on the router's and the relay's lines and series (UC by a pod that closes mid-body, over
# h2c and HTTP/1.1; UO by a
# DestinationRule's full connection pool, DC by a client that leaves while the router waits on
# a slow endpoint). One lab, two nodes.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
FX=$HERE/fixtures/accesslog
ISTIO=$FX/istio
SKLOG=$STATE/logs/skiffd-node-1.log
SKLOG2=$STATE/logs/skiffd-node-2.log
RENDERED=$(mktemp /tmp/skiff-accesslog.XXXXXX.yaml)
T_OWN+=("$RENDERED")

# applied FILE...: apply and wait until skiffd has reloaded (accepted or refused)
applied() {
	local rel
	rel=$(reloads node-1)
	lab apply "$@" >>"$LOG" 2>&1 && wait_reload node-1 "$rel" && sleep 0.2
}

# traffic: GET /PATH through the L7 router (echo:80) and 100 bytes each way over the kernel
# path (echo:9000); the file's line count before it is printed, for lines_since
traffic() {
	local path=${1:-/hello} host=${2:-echo} mark
	mark=$(wc -l <"$SKLOG")
	[ "$host" = echo ] &&
	lab exec -n default deploy/client -- curl -s -o /dev/null --max-time 5 \
		-H 'x-request-id: req-1' -A 'skiff-test/1' "http://echo$path" >>"$LOG" 2>&1
	lab exec -n default deploy/client -- python3 -c "
import socket
s = socket.create_connection(('$host', 9000), timeout=3)
s.sendall(b'x' * 100)
got = 0
while got < 100:
    b = s.recv(4096)
    if not b: break
    got += len(b)
s.close()" >>"$LOG" 2>&1
	# flow events reach skiffd within 50 ms of the close; the fast path's two halves within 1 s
	sleep 1.5
	echo "$mark"
}

# web_request PATH: one GET to web (through its node's L7 relay); the mark before it is printed
web_request() {
	local mark
	mark=$(wc -l <"$SKLOG")
	lab exec -n default deploy/client -- curl -s -o /dev/null --max-time 5 \
		-H 'x-request-id: req-1' "http://web$1" >>"$LOG" 2>&1
	sleep 0.5
	echo "$mark"
}

# lines MARK [LOG]: the access log lines written to LOG (node-1's) since MARK, checked and
# summarised: every line must parse and carry Envoy's fields; prints "http:source=N
# http:destination=N tcp:source=N tcp:destination=N paths=/a,/b" or "BAD ..." on the first line
# that does not hold.
lines() {
	tail -n +"$(($1 + 1))" "${2:-$SKLOG}" | grep -a '^{' | python3 -c '
import json, sys
need = ["start_time", "method", "path", "protocol", "response_code", "response_flags",
        "bytes_received", "bytes_sent", "duration", "upstream_host", "upstream_cluster",
        "downstream_remote_address", "x_forwarded_for", "user_agent", "request_id", "authority",
        "upstream_transport_failure_reason", "source_principal", "destination_principal",
        "connection_termination_details"]
n = {"http:source": 0, "http:destination": 0, "tcp:source": 0, "tcp:destination": 0}
paths = []
for l in sys.stdin:
    try:
        e = json.loads(l)
    except ValueError as err:
        print("BAD not JSON (%s): %s" % (err, l.strip())); sys.exit()
    miss = [k for k in need if k not in e]
    if miss:
        print("BAD missing %s: %s" % (miss, l.strip())); sys.exit()
    kind = "http" if e["protocol"] else "tcp"
    if kind == "http" and e["reporter"] == "source":
        ok = (e["method"] == "GET" and e["response_code"] == 200 and
              e["request_id"] == "req-1" and e["user_agent"] == "skiff-test/1" and
              e["authority"] == "echo" and
              e["upstream_cluster"] == "outbound|80||echo.default.svc.cluster.local" and
              e["upstream_host"].endswith(":8080") and e["bytes_sent"] > 0)
        paths.append(e["path"])
    elif kind == "http":
        ok = (e["method"] == "GET" and e["response_code"] == 200 and
              e["request_id"] == "req-1" and e["authority"] == "web" and
              e["upstream_cluster"] == "inbound|8080||" and
              e["destination_workload"].startswith("default/web-") and
              e["bytes_received"] > 0 and e["bytes_sent"] > 0)
        paths.append(e["path"])
    else:
        ok = (e["response_code"] == 0 and e["bytes_received"] == 100 and
              e["bytes_sent"] == 100 and e["upstream_host"].endswith(":9000") and
              e["source_principal"] == "spiffe://cluster.local/ns/default/sa/default")
    if not ok:
        print("BAD fields: " + l.strip()); sys.exit()
    n[kind + ":" + e["reporter"]] += 1
print(" ".join("%s=%d" % kv for kv in sorted(n.items())) + " paths=" + ",".join(paths))
'
}

# expect NAME WANT [PATH]: traffic, then the summary must be WANT
expect() {
	local got
	got=$(lines "$(traffic "${3:-/hello}")")
	if [ "$got" = "$2" ]; then t_pass "$got"; else t_fail "want: $2
got:  $got"; fi
}
ALL="http:destination=0 http:source=1 tcp:destination=1 tcp:source=1 paths=/hello"
NONE="http:destination=0 http:source=0 tcp:destination=0 tcp:source=0 paths="

t_begin "lab up: client and echo in default, echo:80 through the L7 router, logs off"
if lab up --nodes 2 "$FX/mesh.yaml" "$FX/operator-off.yaml" >"$LOG" 2>&1; then t_pass
else t_fail "$(tail -5 "$LOG")"; fi

t_begin "accessLogFile empty (Istio's default): no lines"
expect off "$NONE"

t_begin "the guide's IstioOperator (accessLogFile: /dev/stdout): TCP lines from both sides, HTTP from the client's"
applied "$FX/operator.yaml"
expect guide "$ALL"

t_begin "Telemetry disabled: true (Istio's TestAccessLogs 'disabled'): off despite accessLogFile"
applied "$FX/disabled.yaml"
expect disabled "$NONE"

t_begin "mode-client.yaml: the client side only"
applied "$ISTIO/mode-client.yaml"
expect client "http:destination=0 http:source=1 tcp:destination=0 tcp:source=1 paths=/hello"

t_begin "mode-server.yaml: the server side only"
applied "$ISTIO/mode-server.yaml"
expect server "http:destination=0 http:source=0 tcp:destination=1 tcp:source=0 paths="

t_begin "mode-clientserver.yaml: both sides"
applied "$ISTIO/mode-clientserver.yaml"
expect both "$ALL"

t_begin "filter.yaml: request.path == '/filter-test' logs that request only"
applied "$ISTIO/filter.yaml"
a=$(lines "$(traffic /filter-test)")
b=$(lines "$(traffic /other)")
if [ "$a" = "http:destination=0 http:source=1 tcp:destination=0 tcp:source=0 paths=/filter-test" ] &&
	[ "$b" = "$NONE" ]; then t_pass "$a"
else t_fail "/filter-test: $a
/other: $b"; fi

t_begin "a filter skiffd cannot evaluate is refused at file:line; the filter in force stays"
rej=$(rejected node-1)
applied "$FX/bad-filter.yaml"
dump=$(config_dump node-1)
a=$(lines "$(traffic /filter-test)")
if [ "$(rejected node-1)" != "$rej" ] &&
	grep -qE 'bad-filter.yaml:12: Telemetry default/logs: spec.accessLogging\[0\].filter.expression' <<<"$dump" &&
	[ "$a" = "http:destination=0 http:source=1 tcp:destination=0 tcp:source=0 paths=/filter-test" ]; then
	t_pass
else t_fail "rejected $(rejected node-1) (was $rej); lines $a; dump: $dump"; fi
lab delete "$FX/bad-filter.yaml" >>"$LOG" 2>&1

t_begin "Telemetry enabled (disabled: false) turns logs on without accessLogFile"
applied "$FX/operator-off.yaml" "$FX/enabled.yaml"
expect enabled "$ALL"

t_begin "targetref.yaml (rendered as Istio does) names a Gateway: applies to no pod, warned"
sed 's/{{ .TargetGatewayName }}/ingress/; s/{{ .DisableLogs }}/true/' "$ISTIO/targetref.yaml" >"$RENDERED"
lab delete "$FX/enabled.yaml" >>"$LOG" 2>&1
applied "$FX/operator.yaml" "$RENDERED"
got=$(lines "$(traffic)")
if [ "$got" = "$ALL" ] && grep -aq "targetRef names a Gateway" "$SKLOG"; then t_pass
else t_fail "lines: $got; warning: $(grep -a targetRef "$SKLOG" | tail -1)"; fi

t_begin "the L7 relay (web's HTTP AuthorizationPolicy) writes the server side's request line"
got=$(lines "$(web_request /relay)")
if [ "$got" = "http:destination=1 http:source=0 tcp:destination=0 tcp:source=0 paths=/relay" ]; then
	t_pass "$got"
else t_fail "got: $got"; fi

t_begin "mode-client.yaml again: the relay, a server side, writes nothing"
applied "$ISTIO/mode-client.yaml"
got=$(lines "$(web_request /relay)")
if [ "$got" = "$NONE" ]; then t_pass; else t_fail "got: $got"; fi

t_begin "over HBONE to node-2: the client's line at node-1, the server's at node-2, with principals"
applied "$ISTIO/mode-clientserver.yaml"
mark2=$(wc -l <"$SKLOG2")
a=$(lines "$(traffic / far)")
b=$(lines "$mark2" "$SKLOG2")
far=$(tail -n +"$((mark2 + 1))" "$SKLOG2" | grep -a '^{' | python3 -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    print(e["destination_principal"], e["upstream_cluster"], e["destination_workload"][:12])')
if [ "$a" = "http:destination=0 http:source=0 tcp:destination=0 tcp:source=1 paths=" ] &&
	[ "$b" = "http:destination=0 http:source=0 tcp:destination=1 tcp:source=0 paths=" ] &&
	[ "$far" = "spiffe://cluster.local/ns/default/sa/default inbound|9000|| default/far-" ]; then
	t_pass "$far"
else t_fail "node-1: $a
node-2: $b ($far)"; fi

t_begin "UF over TCP: a connection whose pod refuses (far:9001) is logged and counted with UF at both nodes"
mark=$(wc -l <"$SKLOG")
mark2=$(wc -l <"$SKLOG2")
seen=$(lab exec -n default deploy/client -- python3 -c "
import socket
try:
    s = socket.create_connection(('far', 9001), timeout=3)
    s.sendall(b'x' * 10)
    print('eof' if s.recv(100) == b'' else 'data')
except (ConnectionResetError, ConnectionRefusedError, BrokenPipeError):
    print('closed')
except OSError as e:
    print('error', type(e).__name__, e)" 2>>"$LOG")
sleep 1
# "reporter flags code bytes_received bytes_sent upstream-port reason" of each TCP line since MARK
uf_lines() {
	tail -n +"$(($1 + 1))" "$2" | grep -a '^{' | python3 -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    if not e["protocol"] and e["response_flags"] != "-":
        print(e["reporter"], e["response_flags"], e["response_code"], e["bytes_received"],
              e["bytes_sent"], e["upstream_host"].rsplit(":", 1)[1],
              str(e["upstream_transport_failure_reason"]).replace(" ", "_"))'
}
a=$(uf_lines "$mark" "$SKLOG")
b=$(uf_lines "$mark2" "$SKLOG2")
miss=""
for n in 1 2; do
	rep=source
	[ $n = 2 ] && rep=destination
	page=$(lab exec --node node-$n -- curl -s --max-time 5 127.0.0.1:15020/metrics)
	for m in opened closed; do
		grep -q "^istio_tcp_connections_${m}_total{reporter=\"$rep\".*destination_workload=\"far\".*response_flags=\"UF\".* 1$" <<<"$page" ||
			miss="$miss node-$n:$m"
	done
done
if [ "$a" = "source UF 0 0 0 9099 connection_failure" ] &&
	[ "$b" = "destination UF 0 0 0 9099 connection_failure" ] &&
	{ [ "$seen" = closed ] || [ "$seen" = eof ]; } && [ -z "$miss" ]; then t_pass "client: $seen"
else t_fail "client: $seen
node-1: $a
node-2: $b
no istio_tcp_connections_*_total UF series with 1 at:$miss"; fi

# flagged MARK: "reporter path code flags" of each HTTP line since MARK (node-1's log)
flagged() {
	tail -n +"$(($1 + 1))" "$SKLOG" | grep -a '^{' | python3 -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    if e["protocol"]:
        print(e["reporter"], e["path"], e["response_code"], e["response_flags"],
              str(e["connection_termination_details"]).replace(" ", "_"),
              e.get("upstream_request_attempt_count", "none"))'
}
# at_client ARGS...: curl in the client pod, the status it printed (000: none)
at_client() {
	lab exec -n default deploy/client -- curl -s -o /dev/null -w '%{http_code}' "$@" 2>>"$LOG"
}

t_begin "response_flags of the router's answers, Envoy's: FI, DI, UT, URX, UF, UH, NR; attempts"
mark=$(wc -l <"$SKLOG")
codes=""
for c in fi di ut urx uf uh; do
	path=/flags/$c
	[ $c = ut ] && path=/delay/1000?c=ut
	[ $c = urx ] && path=/status/503?c=urx
	codes+="$c:$(at_client --max-time 5 -H "x-case: $c" "http://echo$path") "
done
codes+="nr:$(at_client --max-time 5 http://nr/flags/nr)"
sleep 1
# upstream_request_attempt_count (Envoy's name) last: 0 for the router's own answers (a fault,
# no route, no healthy endpoint), 3 where echo's route (retries: {attempts: 2}) retried to the end
got=$(flagged "$mark" | awk '$1 == "source" { print $2, $3, $4, $6 }' | sort | tr '\n' ';')
want="/delay/1000?c=ut 504 UT 1;/flags/di 200 DI 1;/flags/fi 555 FI 0;"
want+="/flags/nr 404 NR 0;/flags/uf 503 UF,URX 3;/flags/uh 503 UH 0;/status/503?c=urx 503 URX 3;"
page=$(lab exec --node node-1 -- curl -s --max-time 5 127.0.0.1:15020/metrics)
miss=""
for f in UT DI FI NR UF,URX UH URX; do
	grep -q "^istio_requests_total{reporter=\"source\".*response_flags=\"$f\"" <<<"$page" ||
		miss="$miss $f"
done
if [ "$got" = "$want" ] && [ -z "$miss" ]; then t_pass "$codes"
else t_fail "client saw $codes
want: $want
got:  $got
no istio_requests_total series with:$miss"; fi

t_begin "UC: the pod closes mid-body (/truncate), the router's line and series keep 200 with UC"
mark=$(wc -l <"$SKLOG")
code=$(at_client --max-time 5 http://echo/truncate)
sleep 1
got=$(flagged "$mark" | awk '$1 == "source" { print $2, $3, $4 }' | tr '\n' ';')
page=$(lab exec --node node-1 -- curl -s --max-time 5 127.0.0.1:15020/metrics)
if [ "$got" = "/truncate 200 UC;" ] && [ "$code" = 200 ] &&
	grep -q '^istio_requests_total{reporter="source".*response_code="200",response_flags="UC"' <<<"$page"
then t_pass "client saw $code and a short body"
else t_fail "client saw $code; want /truncate 200 UC; got: $got
$(grep '^istio_requests_total{reporter="source"' <<<"$page" | grep -o 'response_code=.*' | sort -u)"; fi

t_begin "response_flags of the L7 relay: DPE for a malformed request, DC for a client that left, - for a policy's 403"
mark=$(wc -l <"$SKLOG")
lab exec -n default deploy/client -- python3 -c "
import socket, struct, time
s = socket.create_connection(('web', 80), timeout=5)
s.sendall(b'GET /dpe HTTP/1.1\r\nHost: web\r\nbad header\r\n\r\n')
print(s.recv(100).split(b'\r\n')[0].decode())
s.close()
s = socket.create_connection(('web', 80), timeout=5)
s.sendall(b'GET /delay/1500?c=rdc HTTP/1.1\r\nHost: web\r\n\r\n')
time.sleep(0.3)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
s.close()" >>"$LOG" 2>&1
denied=$(at_client --max-time 5 -X POST http://web/flags/denied)
sleep 2
got=$(flagged "$mark" | awk '$1 == "destination" { print $3, $4, $5 }' | sort | tr '\n' ';')
want="0 DC downstream_closed;400 DPE None;403 - None;"
page=$(lab exec --node node-1 -- curl -s --max-time 5 127.0.0.1:15020/metrics)
miss=""
for f in 'response_code="0",response_flags="DC"' 'response_code="400",response_flags="DPE"' \
	'response_code="403",response_flags="-"'; do
	grep -q "^istio_requests_total{reporter=\"destination\".*destination_workload=\"web\".*$f" <<<"$page" ||
		miss="$miss [$f]"
done
if [ "$got" = "$want" ] && [ "$denied" = 403 ] && [ -z "$miss" ]; then t_pass "$got"
else t_fail "want: $want
got:  $got (POST: $denied)
no istio_requests_total series with:$miss"; fi

# series_sum PAGE METRIC MATCH: the sum of METRIC's series at web's relay whose labels match MATCH
series_sum() {
	grep "^$2{reporter=\"destination\".*destination_workload=\"web\".*$3" <<<"$1" |
		awk '{ s += $NF } END { printf "%d\n", s }'
}
# sized_lines MARK: "path code flags bytes_received bytes_sent protocol" of web's lines since MARK
sized_lines() {
	tail -n +"$(($1 + 1))" "$SKLOG" | grep -a '^{' | python3 -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    if e["protocol"] and e["reporter"] == "destination":
        print(e["path"], e["response_code"], e["response_flags"], e["bytes_received"],
              e["bytes_sent"], e["protocol"])'
}
# The relay's h2c stream sizes are counted as the router counts its own: the request's header list
# (RFC 9113 6.5.2: names, values and 32 each) and DATA; the response's fields but :status (echo's
# content-type, x-pod, content-length) and DATA.
t_begin "L7 relay over h2c: a stream's sizes in its line and in istio_request_bytes / istio_response_bytes"
page=$(lab exec --node node-1 -- curl -s --max-time 5 127.0.0.1:15020/metrics)
rq0=$(series_sum "$page" istio_request_bytes_sum 'response_code="200",response_flags="-"')
rs0=$(series_sum "$page" istio_response_bytes_sum 'response_code="200",response_flags="-"')
mark=$(wc -l <"$SKLOG")
out=$(lab exec -n default deploy/client -- python3 "$HERE/h2_stream.py" sized web 80 /sized 3000 2>>"$LOG")
sleep 1
read -r _ rq _ data _ ended _ pod <<<"$out"
rs=$((12 + 16 + 5 + ${#pod} + 14 + ${#data} + data))
got=$(sized_lines "$mark")
page=$(lab exec --node node-1 -- curl -s --max-time 5 127.0.0.1:15020/metrics)
rq1=$(series_sum "$page" istio_request_bytes_sum 'response_code="200",response_flags="-"')
rs1=$(series_sum "$page" istio_response_bytes_sum 'response_code="200",response_flags="-"')
if [ "$ended" = 1 ] && [ "$got" = "/sized 200 - $rq $rs HTTP/2" ] &&
	[ $((rq1 - rq0)) = "$rq" ] && [ $((rs1 - rs0)) = "$rs" ]; then
	t_pass "request $rq, response $rs bytes (line and histogram sums)"
else t_fail "client: $out; want line: /sized 200 - $rq $rs HTTP/2
got:  $got
histogram sums grew by $((rq1 - rq0)) (want $rq) and $((rs1 - rs0)) (want $rs)"; fi

t_begin "UC in the L7 relay: the pod closes mid-body (/truncate), over h2c and HTTP/1.1: 200 UC in the lines and series"
mark=$(wc -l <"$SKLOG")
out=$(lab exec -n default deploy/client -- python3 "$HERE/h2_stream.py" sized web 80 /truncate 0 2>>"$LOG")
code=$(at_client --max-time 5 http://web/truncate)
sleep 1
read -r _ rq _ data _ ended _ pod <<<"$out"
clen=$((data + 1000))
rs=$((12 + 16 + 5 + ${#pod} + 14 + ${#clen} + data))
got=$(sized_lines "$mark" | awk '{ print $1, $2, $3, $6 == "HTTP/2" ? $4 " " $5 : "", $6 }' |
	sort | tr '\n' ';')
want="/truncate 200 UC  HTTP/1.1;/truncate 200 UC $rq $rs HTTP/2;"
page=$(lab exec --node node-1 -- curl -s --max-time 5 127.0.0.1:15020/metrics)
uc=$(series_sum "$page" istio_requests_total 'response_code="200",response_flags="UC"')
if [ "$ended" = 0 ] && [ "$data" -gt 0 ] && [ "$code" = 200 ] && [ "$got" = "$want" ] &&
	[ "$uc" = 2 ]; then t_pass "$got"
else t_fail "h2c client: $out; curl: $code; UC series: $uc (want 2)
want: $want
got:  $got"; fi

t_begin "UO: over a DestinationRule's http2MaxRequests, the router answers 503 with UO at once"
if applied "$FX/pool.yaml"; then
	mark=$(wc -l <"$SKLOG")
	codes=$(lab exec -n default deploy/client -- bash -c '
		for i in 1 2 3; do
			curl -s -o /dev/null -w "%{http_code}\n" --max-time 5 \
				"http://pooled/delay/1500?c=uo$i" &
			sleep 0.2
		done
		wait' 2>>"$LOG" | sort | tr '\n' ' ')
	sleep 1
	got=$(flagged "$mark" | awk '$1 == "source" { print $3, $4 }' | sort | tr '\n' ';')
	page=$(lab exec --node node-1 -- curl -s --max-time 5 127.0.0.1:15020/metrics)
	uo=$(grep '^istio_requests_total{reporter="source".*destination_service_name="pooled".*response_code="503",response_flags="UO"' <<<"$page" |
		awk '{ print $NF }')
	if [ "$codes" = "200 503 503 " ] && [ "$got" = "200 -;503 UO;503 UO;" ] && [ "$uo" = 2 ]; then
		t_pass "$got"
	else t_fail "client saw: $codes; lines: $got; UO series: $uo"; fi
else t_fail "lab apply of pool.yaml; see $LOG"; fi

# While the router waits on a slow endpoint the client gives up: Envoy's DC. The router watches
# the client in the same poll as the endpoint, so it closes that upstream connection at once
# (node-1's side of it sits in FIN-WAIT-2 while the endpoint still sleeps), never pools it, does
# not retry, and records response code 0 with DC.
t_begin "DC: the client leaves mid-try: 0 DC in the log and the series, the upstream closed at once"
echo_ip=$(lab status | awk 'index($1, "default/echo-") == 1 { print $3; exit }')
up_conns() { # STATE: node-1's connections to echo's pod port 8080 in that TCP state
	lab exec --node node-1 -- ss -Htn state "$1" dst "$echo_ip:8080" 2>>"$LOG" | wc -l
}
mark=$(wc -l <"$SKLOG")
before=$(up_conns established)
code=$(at_client --max-time 1 "http://pooled/delay/3000?c=dc")
sleep 0.5
closing=$(up_conns fin-wait-2) open=$(up_conns established)
sleep 2.5 # the endpoint answers at 3 s, to nobody
after=$(up_conns established)
got=$(flagged "$mark" | awk '$1 == "source" && index($2, "c=dc") { print $3, $4, $5 }')
page=$(lab exec --node node-1 -- curl -s --max-time 5 127.0.0.1:15020/metrics)
dc=$(grep '^istio_requests_total{reporter="source".*destination_service_name="pooled".*response_code="0",response_flags="DC"' <<<"$page" |
	awk '{ print $NF }')
if [ -n "$echo_ip" ] && [ "$code" = 000 ] && [ "$got" = "0 DC downstream_closed" ] && [ "$dc" = 1 ] &&
	[ "$closing" -ge 1 ] && [ "$open" -le "$before" ] && [ "$after" -le "$before" ]; then
	t_pass "$got; upstream: $before open before, $closing closing and $open open at 1.5 s, $after at 4 s"
else t_fail "curl: $code; lines: $got; DC series: $dc; echo $echo_ip: open before $before,
at 1.5 s closing $closing open $open, at 4 s open $after"; fi

t_begin "skiff_access_log_lines_total counts the lines, none dropped"
page=$(lab exec --node node-1 -- curl -s --max-time 5 127.0.0.1:15020/metrics)
written=$(awk '$1 == "skiff_access_log_lines_total" { print $2 }' <<<"$page")
dropped=$(awk '$1 == "skiff_access_log_dropped_total" { print $2 }' <<<"$page")
logged=$(grep -ac '^{"start_time"' "$SKLOG")
if [ "$written" = "$logged" ] && [ "$dropped" = 0 ]; then t_pass "$written lines"
else t_fail "metric $written, file $logged, dropped $dropped"; fi

t_summary
