#!/bin/bash
# make bench, the cost of telemetry: the same lab and skiffd measured in five modes, taking turns
# in every round (interleaved, so machine load drifts hit all modes alike):
#   off      no scraper, meshConfig without access logs or tracing (sampling 0)
#   metrics  a scraper GETs :15020/metrics every second (Prometheus' pace in the lab tests)
#   logs     meshConfig accessLogFile: /dev/stdout alone (no scraper, no tracing)
#   tracing  tracing at 100 % sampling alone, spans exported to a Zipkin-format collector on the
#            node (no scraper, no access logs)
#   all      the three together
# The kernel's per-connection counters (skiff_l4_stats, sockops) have no off switch: they are in
# every mode, so "metrics" adds only the scrape to them. Measured from the client pod: connect rate
# to the ClusterIP on the kernel path (skiff-perf crr), 64-byte round trip p50/p99 on the kernel
# path (sockperf ping-pong), HTTP/1.1 requests per second through skiffd's L7 router (wrk, one
# keep-alive connection; the Service port has a VirtualService). Reports medians and ratios to
# off, the targets (>= 0.97x metrics, >= 0.90x all) and the load average at the start and end.
#   tests/bench/telemetry.sh BUILD_DIR [--quick|--tiny|--rounds N]  -> BUILD_DIR/bench/telemetry.md
# --rounds N: N rounds of 2 s instead of 5 (a single run's spread is wider than the targets'
# margins on a shared machine: more rounds narrow the medians).
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
USAGE="usage: tests/bench/telemetry.sh BUILD_DIR [--quick|--tiny|--rounds N]"
BUILD=$(cd "${1:?$USAGE}" && pwd) || exit 2
case ${2:-full} in
full) REPS=5 T=2 ;;
--quick) REPS=2 T=1 ;;
--tiny) REPS=1 T=1 ;;
--rounds) REPS=${3:?$USAGE} T=2 ;;
*) echo "$USAGE" >&2; exit 2 ;;
esac
case $REPS in '' | *[!0-9]* | 0) echo "$USAGE" >&2; exit 2 ;; esac
MODES="off metrics logs tracing all"
CRR_PORT=7000 LAT_PORT=11111 HTTP_PORT=8080
# shellcheck source=tests/bench/lib.sh
. "$HERE/lib.sh"
bench_lab_start telemetry wrk sockperf python3 curl
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

say "lab up: 1 node, a client and a server pod"
lab up --nodes 1 "$HERE/telemetry.yaml" >>"$LOG" 2>&1 || die "lab up; see $LOG"
VIP=$(lab status | awk '$1 == "bench/server" { split($2, a, ","); print a[1] }')
[ -n "$VIP" ] || die "no ClusterIP for bench/server in lab status"
in_pod 10 client sysctl -q -w net.ipv4.tcp_tw_reuse=1 net.ipv4.tcp_max_tw_buckets=0 \
	net.ipv4.ip_local_port_range="1024 65000" >>"$LOG" 2>&1 || die "client sysctls"
in_pod 10 server sysctl -q -w net.ipv4.tcp_max_tw_buckets=0 >>"$LOG" 2>&1 || die "server sysctls"
srv() { spawn "$BUILD/bin/skiff-lab" --state "$STATE" exec -n bench deploy/server -- "$@"; }
srv "$BUILD/bin/skiff-perf" serve $CRR_PORT
srv sockperf sr --tcp -p $LAT_PORT
srv "$BUILD/bin/skiff-echo" --pod server --namespace bench --http $HTTP_PORT
spawn "$BUILD/bin/skiff-lab" --state "$STATE" exec --node node-1 -- \
	python3 "$HERE/../lab/zipkin_collector.py" 127.0.0.1 9411 "$WORK/spans.jsonl" sink
for _ in $(seq 100); do
	l=$(in_pod 5 server ss -ltnH)
	grep -q ":$HTTP_PORT " <<<"$l" && grep -q ":$LAT_PORT " <<<"$l" &&
		grep -q ":$CRR_PORT " <<<"$l" && break
	sleep 0.1
done
grep -q ":$CRR_PORT " <<<"$l" || die "servers not listening in the server pod; see $LOG"

admin() { lab exec --node node-1 -- curl -s --max-time 5 "127.0.0.1:$1"; }
reloads() { admin 15000/config_dump | sed -nE 's/.*"reloads":([0-9]+).*/\1/p'; }
metric() { # NAME: the sum of a family's samples on node-1's page
	admin 15020/metrics | awk -v n="$1" '$1 == n || index($0, n "{") == 1 { s += $NF }
		END { printf "%d\n", s }'
}
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"; }

# mesh MODE: the meshConfig of that mode in force (skiffd reloaded)
mesh() {
	local r log=""
	local pct=0
	case $1 in logs | all) log=/dev/stdout ;; esac
	case $1 in tracing | all) pct=100 ;; esac
	cat >"$WORK/mesh.yaml" <<EOF2
apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata: {name: istio-control-plane, namespace: istio-system}
spec:
  meshConfig:
    accessLogFile: "$log"
    defaultConfig:
      tracing:
        sampling: $pct
        zipkin: {address: 127.0.0.1:9411}
EOF2
	r=$(reloads)
	lab apply "$WORK/mesh.yaml" >>"$LOG" 2>&1 || die "lab apply of the meshConfig ($1)"
	for _ in $(seq 100); do [ "$(reloads)" != "$r" ] && break; sleep 0.1; done
	[ "$(reloads)" != "$r" ] || die "skiffd did not reload for the meshConfig ($1)"
}

# the scraper of the metrics and all modes: Prometheus' pace, one page a second
SCRAPER=""
scraper() {
	if [ "$1" != metrics ] && [ "$1" != all ]; then
		[ -z "$SCRAPER" ] || kill "$SCRAPER" 2>/dev/null
		SCRAPER=""
		return
	fi
	[ -n "$SCRAPER" ] && return
	spawn "$BUILD/bin/skiff-lab" --state "$STATE" exec --node node-1 -- bash -c \
		'while :; do curl -s -o /dev/null -H "Accept-Encoding: gzip" 127.0.0.1:15020/metrics; sleep 1; done'
	SCRAPER=$!
}

run_crr() { # prints the rate and the number of connections
	in_pod $((T + 15)) client "$BUILD/bin/skiff-perf" crr "$VIP:$CRR_PORT" --seconds "$T" 2>&1 |
		tee -a "$LOG" | awk '$1 == "errors" && $2 > 0 { bad = 1 } $1 == "rate" { r = $2 }
		$1 == "connections" { n = $2 } END { if (!bad && r != "") print r, n }'
}
run_lat() {
	in_pod $((T + 15)) client sockperf pp --tcp -i "$VIP" -p $LAT_PORT -t "$T" -m 64 --full-rtt 2>&1 |
		tee -a "$LOG" | awk '/percentile 50\.000 =/ { p50 = $NF } /percentile 99\.000 =/ { p99 = $NF }
		END { if (p99 != "") print p50, p99 }'
}
run_http() { # prints the rate and the number of requests
	in_pod $((T + 15)) client wrk -t1 -c1 -d"${T}s" "http://$VIP:$HTTP_PORT/bench" 2>&1 |
		tee -a "$LOG" | awk '/Non-2xx|Socket errors/ { bad = 1 } /^Requests\/sec:/ { r = $2 }
		/ requests in / { n = $1 } END { if (!bad && r != "") print r, n }'
}

# skiffd's CPU per connection or request of one run: its ticks across the run, in µs per unit
per_unit() { # TICKS0 TICKS1 UNITS
	awk -v a="$1" -v b="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { if (n > 0) printf "%.1f\n", (b - a) * 1e6 / hz / n }'
}

# settle: until skiffd has written the access log lines of the run before (at most 3 s), so that
# a run does not pay for the previous one's telemetry
settle() {
	local a b
	a=$(metric skiff_access_log_lines_total)
	for _ in $(seq 30); do
		sleep 0.1
		b=$(metric skiff_access_log_lines_total)
		[ "$a" = "$b" ] && return
		a=$b
	done
}

FAILED=0
measure() { # MODE ROUND
	local v n p50 p99 c0 c1
	settle
	c0=$(agent_ticks)
	read -r v n <<<"$(run_crr)"
	c1=$(agent_ticks)
	if [ -n "${n:-}" ]; then
		record "$1" crr_per_s "$2" "$v"
		record "$1" crr_skiffd_us "$2" "$(per_unit "$c0" "$c1" "$n")"
	else FAILED=$((FAILED + 1)); fi
	settle
	read -r p50 p99 <<<"$(run_lat)"
	if [ -n "${p99:-}" ]; then
		record "$1" rtt_p50_us "$2" "$p50"
		record "$1" rtt_p99_us "$2" "$p99"
	else FAILED=$((FAILED + 1)); fi
	settle
	c0=$(agent_ticks)
	read -r v n <<<"$(run_http)"
	c1=$(agent_ticks)
	if [ -n "${n:-}" ]; then
		record "$1" l7_req_per_s "$2" "$v"
		record "$1" l7_skiffd_us "$2" "$(per_unit "$c0" "$c1" "$n")"
	else FAILED=$((FAILED + 1)); fi
}


# Per mode and round: access log lines, spans and skiffd CPU ticks while it was measured, into
# $WORK/work.tsv. The L7 port must really go through the router, and the modes must really log
# and trace what they say (and no other mode may).
SPANS='skiff_tracing_spans_total{event="sampled"}'
say "warm-up (not recorded): the first runs after lab up met a skiffd still settling"
mesh off
run_crr >/dev/null
run_http >/dev/null
r0=$(metric istio_requests_total)
MEAS0=$SECONDS
for r in $(seq "$REPS"); do
	for m in $MODES; do
		say "round $r: $m"
		mesh "$m"
		scraper "$m"
		sleep 1
		l0=$(metric skiff_access_log_lines_total) s0=$(metric "$SPANS")
		c0=$(agent_ticks)
		measure "$m" "$r"
		c1=$(agent_ticks)
		l1=$(metric skiff_access_log_lines_total) s1=$(metric "$SPANS")
		printf '%s\t%s\t%s\t%s\t%s\n' "$m" "$r" $((l1 - l0)) $((s1 - s0)) $((c1 - c0)) \
			>>"$WORK/work.tsv"
	done
done
scraper off
mesh off
r1=$(metric istio_requests_total)
[ $((r1 - r0)) -gt 0 ] || die "the router counted no requests: the L7 port was not routed"
bad=$(awk -F'\t' '($1 == "logs" || $1 == "all") != ($3 > 0) ||
	($1 == "tracing" || $1 == "all") != ($4 > 0) { print $1 " round " $2 ": " $3 " lines, " \
	$4 " spans" }' "$WORK/work.tsv")
[ -z "$bad" ] || die "access log lines or spans not as the mode says: $bad"
sleep 2 # the exporter's last batch (it posts at least once a second)
[ "$(metric 'skiff_tracing_spans_total{event="exported"}')" -gt 0 ] &&
	[ "$(metric 'skiff_tracing_spans_total{event="failed"}')" = 0 ] ||
	die "spans not all accepted by the collector; see skiff_tracing_spans_total in $LOG"
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$RAW" "$WORK/work.tsv" "$REPS" "$T" "$((SECONDS - MEAS0))" "$LOAD0" "$LOAD1" \
	"$(getconf CLK_TCK)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)" \
	>"$OUT/telemetry.md" <<'EOF2' || die "report"
import statistics, sys, time
raw, work, reps, t, secs, load0, load1, hz, cpu = sys.argv[1:10]
modes = ("off", "metrics", "logs", "tracing", "all")
v = {}
for line in open(raw):
    mode, metric, _, x = line.split("\t")
    v.setdefault((mode, metric), []).append(float(x))
w = {}
for line in open(work):
    mode, _, lines, spans, ticks = line.split("\t")
    w.setdefault(mode, []).append((int(lines), int(spans), int(ticks)))
med = {k: statistics.median(x) for k, x in v.items()}
print("# The cost of telemetry (%s, %s rounds of %s s per run, modes interleaved, %s s)" %
      (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), reps, t, secs))
print()
print("%s, %s CPUs. Load average at start %s, at end %s." % (cpu.strip(), len(
    [l for l in open("/proc/cpuinfo") if l.startswith("processor")]), load0, load1))
print()
print("| metric | " + " | ".join(modes) + " | " +
      " | ".join("%s / off" % m for m in modes[1:]) + " |")
print("| --- " * (2 * len(modes)) + "|")
higher = {"crr_per_s": True, "l7_req_per_s": True, "rtt_p50_us": False, "rtt_p99_us": False,
          "crr_skiffd_us": False, "l7_skiffd_us": False}
for m in ("crr_per_s", "rtt_p50_us", "rtt_p99_us", "l7_req_per_s", "crr_skiffd_us",
          "l7_skiffd_us"):
    row = [med.get((mode, m)) for mode in modes]
    if None in row:
        print("| %s | missing runs |" % m)
        continue
    # a ratio of "speed": rates as they are, latencies inverted, so 1.0 = no cost, < 1 = slower
    r = [(x / row[0]) if higher[m] else (row[0] / x) for x in row[1:]]
    print("| %s | %s | %s |" % (m, " | ".join("%.1f" % x for x in row),
                                " | ".join("%.3f" % x for x in r)))
print()
print("Speed ratios of medians (latencies and CPU inverted): 1.000 is no cost. Targets: >= 0.97 "
      "with metrics alone, >= 0.90 with everything on. crr_skiffd_us and l7_skiffd_us: skiffd's "
      "CPU (all threads) per kernel-path connection and per routed request, in µs.")
print()
print("Spread, each mode's runs (min-max), and per mode the access log lines, spans and skiffd CPU "
      "(s) of all its rounds:")
print()
print("| mode | crr_per_s | rtt_p50_us | l7_req_per_s | log lines | spans | skiffd CPU s |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for mode in modes:
    cells = []
    for m in ("crr_per_s", "rtt_p50_us", "l7_req_per_s"):
        x = v.get((mode, m), [])
        cells.append("%.0f-%.0f" % (min(x), max(x)) if x else "-")
    ws = w.get(mode, [])
    print("| %s | %s | %d | %d | %.2f |" % (mode, " | ".join(cells), sum(a[0] for a in ws),
          sum(a[1] for a in ws), sum(a[2] for a in ws) / int(hz)))
EOF2
say "done in $((SECONDS - T0)) s: $OUT/telemetry.md"
cat "$OUT/telemetry.md"
[ $FAILED = 0 ] || die "$FAILED runs failed (left out of the table); see $LOG"
