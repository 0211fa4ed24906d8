#!/bin/bash
# make bench, the mTLS part: one client pod and one server pod on two nodes, and the same
# request/response and bulk measurements over three paths, in one run:
#   direct        client -> server pod, plaintext, no agent on the path (skiffd --no-punt)
#   skiff-mtls    through both nodes' skiffd: punt, HBONE (TLS 1.3 + HTTP/2 CONNECT), pod
#   haproxy-mtls  the sidecar-style baseline: an HAProxy per node, TLS 1.3 between them with the
#                 same mesh certificates (skiffctl cert mint), client -> local HAProxy -> remote
#                 HAProxy -> pod
# Round trip: sockperf ping-pong, 1 KiB messages, one connection (keep-alive); throughput: iperf3,
# one stream; the three paths take turns in every round. Agent CPU: utime+stime of both skiffd
# (or both HAProxy) during the round-trip run, per
# 1000 round trips; RSS of the agents after the runs.
#   tests/bench/mtls.sh BUILD_DIR [--quick]
# Writes BUILD_DIR/bench/mtls.md (and mtls.tsv: scenario metric round value).
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "${1:?usage: tests/bench/mtls.sh BUILD_DIR [--quick]}" && pwd) || exit 2
REPS=5 T=2
[ "${2:-}" = --quick ] && REPS=1 T=1
# shellcheck source=tests/bench/lib.sh
. "$HERE/lib.sh"
bench_lab_start mtls sockperf iperf3 haproxy

say "lab up: 2 nodes, server on node-1, client on node-2"
lab up --nodes 2 "$HERE/bench.yaml" >>"$LOG" 2>&1 || die "lab up; see $LOG"
SERVER_IP=$(lab status | awk '$1 ~ /^bench\/server-/ { print $3 }')
[ "$(lab status | awk '$1 ~ /^bench\/client-/ { print $2 }')" = node-2 ] ||
	die "the client is not on node-2: the paths would not cross nodes"
spawn "$BUILD/bin/skiff-lab" --state "$STATE" exec -n bench deploy/server -- sockperf sr --tcp -p 11111
spawn "$BUILD/bin/skiff-lab" --state "$STATE" exec -n bench deploy/server -- iperf3 -s -p 5201
sleep 1

agent_pids() { lab status | awk '$3 == "skiffd" { print $5 }'; }
# CPU seconds (utime + stime) of pids, from /proc/PID/stat.
cpu_of() {
	local p s=0 tck
	tck=$(getconf CLK_TCK)
	for p in "$@"; do
		s=$(awk -v s="$s" '{ print s + $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo "$s")
	done
	awk -v s="$s" -v t="$tck" 'BEGIN { printf "%.3f\n", s / t }'
}
rss_mb() {
	local p s=0
	for p in "$@"; do
		s=$((s + $(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)))
	done
	awk -v s="$s" -v n="$#" 'BEGIN { printf "%.1f\n", s / 1024 / (n > 0 ? n : 1) }'
}
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"; }

# measure NAME ROUND LAT_ADDR LAT_PORT TPUT_ADDR TPUT_PORT PIDS...: one round of each metric.
measure() {
	local name=$1 r=$2 la=$3 lp=$4 ta=$5 tp=$6 out c0 c1 n p50 p99 g
	shift 6
	say "$name round $r"
	c0=$(cpu_of "$@")
	out=$(in_pod $((T + 15)) client sockperf pp --tcp -i "$la" -p "$lp" -t "$T" -m 1024 \
		--full-rtt 2>&1)
	c1=$(cpu_of "$@")
	p50=$(echo "$out" | awk '/percentile 50\.000 =/ { print $NF }')
	p99=$(echo "$out" | awk '/percentile 99\.000 =/ { print $NF }')
	n=$(echo "$out" | sed -nE 's/.*ReceivedMessages=([0-9]+).*/\1/p' | head -1)
	[ -n "$p99" ] && [ -n "$n" ] && [ "$n" -gt 0 ] || {
		echo "$out" >>"$LOG"
		die "$name: sockperf gave no result; see $LOG"
	}
	record "$name" p50_us "$r" "$p50"
	record "$name" p99_us "$r" "$p99"
	[ $# = 0 ] ||
		record "$name" cpu_ms_per_1k "$r" "$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN { printf "%.2f\n", (b - a) * 1000 * 1000 / n }')"
	g=$(in_pod $((T + 15)) client iperf3 -c "$ta" -p "$tp" -t "$T" -f m 2>&1 |
		awk '/receiver$/ { printf "%.3f\n", $(NF - 2) / 1000 }')
	[ -n "$g" ] || die "$name: iperf3 gave no result"
	record "$name" tput_gbps "$r" "$g"
	[ $# = 0 ] || record "$name" rss_mb "$r" "$(rss_mb "$@")"
}

restart_agents() {
	local n
	for n in node-1 node-2; do
		SKIFF_LAB_AGENT_ARGS="$*" lab restart-agent $n >>"$LOG" 2>&1 || die "restart-agent $n"
	done
	sleep 1
}

hbone_out() {
	lab exec --node node-2 -- curl -s --max-time 2 127.0.0.1:15000/config_dump |
		sed -nE 's/.*"hbone_out":([0-9]+).*/\1/p'
}

say "haproxy-mtls: one HAProxy per node, TLS 1.3 with mesh certificates"
CA=$STATE/ca
"$BUILD/bin/skiffctl" cert mint --ca "$CA" --ns bench --sa client --out "$WORK/c" >>"$LOG" 2>&1 &&
	"$BUILD/bin/skiffctl" cert mint --ca "$CA" --ns bench --sa server --out "$WORK/s" >>"$LOG" 2>&1 ||
	die "cert mint; see $LOG"
cat "$WORK/c/cert-chain.pem" "$WORK/c/key.pem" >"$WORK/client.pem"
cat "$WORK/s/cert-chain.pem" "$WORK/s/key.pem" >"$WORK/server.pem"
sed -e "s|@CA@|$CA/ca.crt|g" -e "s|@CRT@|$WORK/client.pem|g" "$HERE/haproxy-out.cfg" >"$WORK/out.cfg"
sed -e "s|@CA@|$CA/ca.crt|g" -e "s|@CRT@|$WORK/server.pem|g" -e "s|@POD@|$SERVER_IP|g" \
	"$HERE/haproxy-in.cfg" >"$WORK/in.cfg"
spawn "$BUILD/bin/skiff-lab" --state "$STATE" exec --node node-1 -- haproxy -db -f "$WORK/in.cfg"
HA1=$!
spawn "$BUILD/bin/skiff-lab" --state "$STATE" exec --node node-2 -- haproxy -db -f "$WORK/out.cfg"
HA2=$!
sleep 1
kill -0 $HA1 $HA2 2>/dev/null || die "haproxy did not start; see $LOG"

# The scenarios take turns in every round, so a burst of the machine's noise lands on one round
# of each rather than on every round of one. direct and haproxy-mtls run beside skiffd --no-punt
# (nothing on their path), skiff-mtls beside skiffd's defaults (punt, HBONE, fast hops).
streams=0
for r in $(seq "$REPS"); do
	restart_agents --no-punt
	measure direct "$r" "$SERVER_IP" 11111 "$SERVER_IP" 5201
	measure haproxy-mtls "$r" 198.18.0.2 16001 198.18.0.2 16201 $HA1 $HA2
	restart_agents
	before=$(hbone_out)
	# shellcheck disable=SC2046
	measure skiff-mtls "$r" "$SERVER_IP" 11111 "$SERVER_IP" 5201 $(agent_pids)
	after=$(hbone_out)
	[ "${after:-0}" -gt "${before:-0}" ] ||
		die "skiff-mtls: no HBONE stream was opened (hbone_out $before -> $after)"
	streams=$((streams + after - before))
done
echo "- skiff-mtls: $streams HBONE streams opened by node-2's skiffd during the rounds" \
	>"$OUT/mtls-checks.md"

"$HERE/mtls_report.sh" "$OUT" "$REPS" "$T" $((SECONDS - T0)) || die "report"
say "done in $((SECONDS - T0)) s: $OUT/mtls.md"
