#!/bin/bash
# make bench, the L7 hop: what routing every HTTP request costs, against HAProxy doing the same.
# One node, a client pod and a server pod (an HTTP/1.1 echo server and an h2c server), in one run,
# the paths taking turns in every round:
#   kernel      no VirtualService: the ClusterIP through the kernel's connect hooks, no proxy
#   skiff-N     a VirtualService with N match rules (header + uri prefix; only the last one
#               matches the bench's requests) and a catch-all, each with a retry policy: the
#               Service port is L7, every connection is punted to skiffd's router (N = 0, 10, 100)
#   haproxy-N   HAProxy in HTTP mode on the node, its config generated from the same
#               VirtualService (acls + use_backend, retries/retry-on/timeout server)
# HTTP/1.1 keep-alive: wrk -t1 -c1 --latency; HTTP/2 (h2c prior knowledge): h2load -c1 -m$H2_STREAMS,
# its per-request log for p50/p99. Reports requests/s, p50, p99 with ratios to haproxy-N and to
# kernel, the CPU of skiffd (and of HAProxy) per 1,000 requests, and the targets. Whether skiffd
# routes HTTP/2 per request is read from its request metrics, never assumed.
#   tests/bench/l7route.sh BUILD_DIR [--quick|--tiny]  -> BUILD_DIR/bench/l7route.md, l7route.tsv
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
USAGE="usage: tests/bench/l7route.sh BUILD_DIR [--quick|--tiny]"
BUILD=$(cd "${1:?$USAGE}" && pwd) || exit 2
MODE=${2:-full}
case $MODE in
full) REPS=3 T=3 ;;
--quick) REPS=1 T=2 ;;
--tiny) REPS=1 T=1 ;;
*) echo "$USAGE" >&2; exit 2 ;;
esac
RULES="0 10 100"
H2_STREAMS=10
H1_PORT=8080 H2_PORT=8081
# shellcheck source=tests/bench/lib.sh
. "$HERE/lib.sh"
bench_lab_start l7route wrk h2load haproxy nghttpd python3

say "lab up: 1 node, an HTTP/1.1 and an h2c server, a client"
lab up --nodes 1 "$HERE/l7route.yaml" >>"$LOG" 2>&1 || die "lab up; see $LOG"
SERVER_IP=$(lab status | awk '$1 ~ /^bench\/server-/ { print $3 }')
VIP=$(lab status | awk '$1 == "bench/server" { split($2, a, ","); print a[1] }')
[ -n "$SERVER_IP" ] && [ -n "$VIP" ] || die "no server pod IP or ClusterIP in lab status"
# HAProxy listens on node-1's own address, where skiffd's proxy also lives: the same hop.
NODE_IP=$(lab exec --node node-1 -- ip -4 -o addr show | awk '$2 != "lo" { sub(/\/.*/, "", $4); print $4; exit }')
[ -n "$NODE_IP" ] || die "no address for node-1"

mkdir -p "$WORK/htdocs/bench"
printf 'l7route bench\n' >"$WORK/htdocs/bench/x"
spawn "$BUILD/bin/skiff-lab" --state "$STATE" exec -n bench deploy/server -- \
	"$BUILD/bin/skiff-echo" --pod server --namespace bench --http $H1_PORT
spawn "$BUILD/bin/skiff-lab" --state "$STATE" exec -n bench deploy/server -- \
	nghttpd --no-tls -d "$WORK/htdocs" $H2_PORT
for _ in $(seq 100); do
	l=$(in_pod 5 server ss -ltnH)
	echo "$l" | grep -q ":$H1_PORT " && echo "$l" | grep -q ":$H2_PORT " && break
	sleep 0.1
done
echo "$l" | grep -q ":$H2_PORT " || die "servers not listening in the server pod; see $LOG"

admin() { lab exec --node node-1 -- curl -s --max-time 5 "127.0.0.1:$1"; }
reloads() { admin 15000/config_dump | sed -nE 's/.*"reloads":([0-9]+).*/\1/p'; }
agent_pid() { lab status | awk '$3 == "skiffd" { print $5; exit }'; }
# Requests skiffd's router reported (Istio's istio_requests_total, reporter="source", from the
# client workload), by request_protocol: "PROTO COUNT" lines.
routed() {
	admin 15020/metrics | awk 'index($0, "istio_requests_total{") == 1 &&
		/reporter="source"/ && /source_workload="client"/ {
		p = "?"; if (match($0, /request_protocol="[^"]*"/)) p = substr($0, RSTART + 18, RLENGTH - 19)
		s[p] += $NF } END { for (p in s) printf "%s %d\n", p, s[p] }'
}
routed_total() { routed | awk '{ s += $2 } END { print s + 0 }'; }
# CPU seconds (utime + stime) of one pid.
cpu_of() {
	awk -v t="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($14 + $15) / t }' "/proc/$1/stat" 2>/dev/null ||
		echo 0
}
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$RAW"; }

# --- configs: one VirtualService per rule count, HAProxy's from it, all HAProxies up at once ------

declare -A HA_PID
for n in $RULES; do
	"$HERE/l7route_gen.py" vs "$n" >"$WORK/vs-$n.yaml" || die "l7route_gen.py vs $n"
	"$HERE/l7route_gen.py" haproxy "$WORK/vs-$n.yaml" "$NODE_IP" $((17000 + n)) $((18000 + n)) \
		"$SERVER_IP:$H1_PORT" "$SERVER_IP:$H2_PORT" >"$WORK/haproxy-$n.cfg" ||
		die "l7route_gen.py haproxy $n"
	haproxy -c -q -f "$WORK/haproxy-$n.cfg" >>"$LOG" 2>&1 || die "haproxy -c haproxy-$n.cfg; see $LOG"
	spawn "$BUILD/bin/skiff-lab" --state "$STATE" exec --node node-1 -- haproxy -db -f "$WORK/haproxy-$n.cfg"
	HA_PID[$n]=$!
done
sleep 1
for n in $RULES; do
	[ "$(cat "/proc/${HA_PID[$n]}/comm" 2>/dev/null)" = haproxy ] ||
		die "haproxy-$n is not running as pid ${HA_PID[$n]}; see $LOG"
done

# Service ports the kernel punts to skiffd's router (SKIFF_SVC_F_L7 in skiff_services).
l7_ports() {
	bpftool -j map dump pinned /sys/fs/bpf/skiff-lab/node-1/skiff_services 2>>"$LOG" |
		python3 -c 'import json, sys
print(sum(1 for e in json.load(sys.stdin) if e.get("formatted", e)["value"]["flags"] & 4))'
}

# vs_apply N|none: the VirtualService with N rules in force (none: no VirtualService, the port
# back in the kernel), checked on the kernel's service map: L7-flagged or not.
VS_FILE=$WORK/vs.yaml
vs_apply() {
	local r l7
	r=$(reloads)
	if [ "$1" = none ]; then
		[ -f "$VS_FILE" ] || return 0
		lab delete "$VS_FILE" >>"$LOG" 2>&1 || die "lab delete of the VirtualService"
		rm -f "$VS_FILE"
	else
		cp "$WORK/vs-$1.yaml" "$VS_FILE"
		lab apply "$VS_FILE" >>"$LOG" 2>&1 || die "lab apply of vs-$1.yaml; see $LOG"
	fi
	for _ in $(seq 100); do [ "$(reloads)" != "$r" ] && break; sleep 0.1; done
	[ "$(reloads)" != "$r" ] || die "skiffd did not reload for VirtualService $1"
	sleep 0.3
	l7=$(l7_ports)
	if [ "$1" = none ] && [ "$l7" != 0 ]; then die "no VirtualService, yet $l7 L7 service ports"; fi
	if [ "$1" != none ] && [ "$l7" = 0 ]; then die "VirtualService $1: no L7 service port"; fi
}

# wrk's latency line "50%  123.00us" -> microseconds
to_us() { awk '{ v = $2; u = 1; if (v ~ /ms$/) u = 1000; else if (v ~ /us$/) u = 1; else if (v ~ /s$/) u = 1000000; sub(/[a-z]+$/, "", v); printf "%.1f\n", v * u }'; }

# run_h1 NAME ROUND ADDR PORT RULE: "rps p50_us p99_us requests", or nothing (failure logged).
run_h1() {
	local out
	out=$(in_pod $((T + 15)) client wrk -t1 -c1 -d"${T}s" --latency -H "x-bench: r$5" \
		"http://$3:$4/bench/x" 2>&1)
	if ! echo "$out" | grep -q '^Requests/sec:' || echo "$out" | grep -qE 'Non-2xx|Socket errors'; then
		echo "$1 h1 round $2: $out" >>"$LOG"
		return
	fi
	echo "$(echo "$out" | awk '/^Requests\/sec:/ { print $2 }')" \
		"$(echo "$out" | awk '$1 == "50%"' | to_us)" "$(echo "$out" | awk '$1 == "99%"' | to_us)" \
		"$(echo "$out" | awk '/requests in/ { print $1 }')"
}

# run_h2 NAME ROUND ADDR PORT RULE: the same from h2load; latency from its per-request log
# (start, status, microseconds).
run_h2() {
	local out log=$WORK/h2load.log
	rm -f "$log"
	out=$(in_pod $((T + 15)) client h2load -c1 -m$H2_STREAMS -D "$T" --log-file "$log" \
		-H "x-bench: r$5" "http://$3:$4/bench/x" 2>&1)
	if ! echo "$out" | grep -qE '^requests: .* 0 failed, 0 errored' ||
		! echo "$out" | grep -qE '^status codes: [0-9]+ 2xx, 0 3xx, 0 4xx, 0 5xx'; then
		echo "$1 h2 round $2: $out" >>"$LOG"
		return
	fi
	echo "$(echo "$out" | sed -nE 's/^finished in .*, ([0-9.]+) req\/s.*/\1/p')" \
		"$(awk '$2 ~ /^2/ { print $3 }' "$log" | sort -n | awk '{ v[NR] = $1 }
		END { if (NR) printf "%.1f %.1f\n", v[int((NR + 1) / 2)], v[int(NR * 0.99 + 0.5)] }')" \
		"$(awk '$2 ~ /^2/' "$log" | wc -l)"
}

# measure NAME ROUND PROTO ADDR PORT RULE [PID]: one run, recorded; PID's CPU per 1,000 requests.
FAILED=0
measure() {
	local name=$1 r=$2 proto=$3 c0 c1 out rps p50 p99 n
	say "$name $proto round $r"
	[ -z "${7:-}" ] || c0=$(cpu_of "$7")
	out=$(run_"$proto" "$name" "$r" "$4" "$5" "$6")
	[ -z "${7:-}" ] || c1=$(cpu_of "$7")
	read -r rps p50 p99 n <<<"$out"
	if [ -z "${n:-}" ] || [ "$n" = 0 ]; then
		say "$name $proto round $r: the run failed; see $LOG"
		FAILED=$((FAILED + 1))
		return 1
	fi
	record "$name" "$proto" rps "$r" "$rps"
	record "$name" "$proto" p50_us "$r" "$p50"
	record "$name" "$proto" p99_us "$r" "$p99"
	[ -z "${7:-}" ] || record "$name" "$proto" cpu_ms_per_1k "$r" \
		"$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN { printf "%.2f\n", (b - a) * 1e6 / n }')"
	LAST_N=$n
}

# skiff's run: the router must have reported the requests; for HTTP/2 whether it did so per
# request (a count near h2load's) or carried the connection whole (none) is what the table says.
CHECKS=$WORK/checks
: >"$CHECKS"
measure_skiff() {
	local n=$1 r=$2 proto=$3 port=$4 b a pid
	pid=$(agent_pid)
	b=$(routed_total)
	LAST_N=0
	measure "skiff-$n" "$r" "$proto" "$VIP" "$port" "$n" "$pid" || return
	a=$(routed_total)
	if [ "$proto" = h1 ] && [ $((a - b)) -lt "$LAST_N" ]; then
		die "skiff-$n h1: skiffd reported $((a - b)) routed requests for wrk's $LAST_N"
	fi
	[ "$proto" = h2 ] || return 0
	if [ $((a - b)) -ge $((LAST_N * 9 / 10)) ]; then
		echo "skiff-$n h2 round $r: per-request ($((a - b)) routed of $LAST_N; $(routed | tr '\n' ' '))" >>"$CHECKS"
	else
		echo "skiff-$n h2 round $r: whole ($((a - b)) routed of $LAST_N)" >>"$CHECKS"
	fi
}

MEAS0=$SECONDS # the rounds alone, without waiting for the lab lock or bringing the lab up
for r in $(seq "$REPS"); do
	vs_apply none
	measure kernel "$r" h1 "$VIP" $H1_PORT 0
	measure kernel "$r" h2 "$VIP" $H2_PORT 0
	for n in $RULES; do
		vs_apply "$n"
		measure_skiff "$n" "$r" h1 $H1_PORT
		measure "haproxy-$n" "$r" h1 "$NODE_IP" $((17000 + n)) "$n" "${HA_PID[$n]}"
		measure_skiff "$n" "$r" h2 $H2_PORT
		measure "haproxy-$n" "$r" h2 "$NODE_IP" $((18000 + n)) "$n" "${HA_PID[$n]}"
	done
done
vs_apply none

"$HERE/l7route_report.sh" "$RAW" "$CHECKS" "$REPS" "$T" "$H2_STREAMS" "$RULES" $((SECONDS - MEAS0)) \
	>"$OUT/l7route.md" || die "report"
# What choosing an endpoint costs, without the noise of the hop: the CPU of one pick with the
# destination resolved per request (what the router did before plans) and once per table.
{
	printf '\n## Endpoint pick alone\n\n'
	"$BUILD/tests/unit/test_l7route" --bench | sed 's/^/- /'
} >>"$OUT/l7route.md" || die "test_l7route --bench"
say "done in $((SECONDS - T0)) s: $OUT/l7route.md"
cat "$OUT/l7route.md"
[ $FAILED = 0 ] || die "$FAILED runs failed (left out of the table); see $LOG"
