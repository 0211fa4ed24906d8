#!/bin/bash
# What each of skiff's BPF programs costs per connection, from the kernel's own accounting
# (kernel.bpf_stats_enabled: run_time_ns and run_cnt of every program). A connect rate on a busy
# 2-core machine moves by ±20 % between runs; a program's time per run hardly does.
#   tests/bench/hook_cost.sh BUILD_DIR [--seconds S] [--rounds N] [--services N] [--http]
#                            [-- 'FLAGS'...]
# One node, client and server pods in the mesh (tests/bench/bench.yaml). For each skiffd
# configuration (by default `--no-accel`, `--accel` and `--accel --accel-join=always`; after `--`,
# one argument per configuration, its skiffd flags), N rounds (default 3, the configurations
# taking turns) of S seconds (default 3) of `skiff-perf crr` to the ClusterIP, then a table
# per configuration: for every program of node-1's skiffd, its runs per connection, ns per run
# and ns per connection (median over the rounds); and what the BPF stats do not see, per 1,000
# connections: the CPU time of the lab's skiffd processes (utime + stime, the flow event reader,
# metrics and whatever else wakes it), the machine's softirq time, and the whole machine's busy
# time; and skiffd's CPU in the second before each round (idle work, not the connections').
# With HOOK_COST_PERF=DIR, `perf record -a -g` runs during every round, into DIR/ROUND-CONFIG.data.
# --services N puts N services in the mesh first (the measured one and N-1 fillers,
# tests/bench/skiff_services.sh), as run.sh does. --http measures the short HTTP workload of
# run.sh instead of crr: wrk -t1 -c1 -H 'Connection: close' against skiff-echo in the server pod,
# one connection per request. Writes BUILD_DIR/bench/hook_cost.md.
# Only node-1's programs are counted: those that use a map pinned under its bpffs directory.
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
USAGE="usage: tests/bench/hook_cost.sh BUILD_DIR [--seconds S] [--rounds N] [--services N] [--http] [-- 'FLAGS'...]"
BUILD=$(cd "${1:?$USAGE}" && pwd) || exit 2
shift
SECS=3 ROUNDS=3 SERVICES=1 HTTP=0 CONFIGS=("--no-accel" "--accel" "--accel --accel-join=always")
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) SECS=${2:?$USAGE}; shift 2 ;;
	--rounds) ROUNDS=${2:?$USAGE}; shift 2 ;;
	--services) SERVICES=${2:?$USAGE}; shift 2 ;;
	--http) HTTP=1; shift ;;
	--) shift; CONFIGS=("$@"); break ;;
	*) echo "$USAGE" >&2; exit 2 ;;
	esac
done
PIN=/sys/fs/bpf/skiff-lab/node-1
CRR_PORT=7000 HTTP_PORT=8080
# shellcheck source=tests/bench/lib.sh
. "$HERE/lib.sh"
bench_lab_start hook_cost bpftool python3

STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
stats_restore() { [ "$STATS_WAS" = 1 ] || sysctl -q -w kernel.bpf_stats_enabled=0; }
trap 'stats_restore; bench_cleanup' EXIT

say "lab up: 1 node, client and server pods"
lab up --no-agent --nodes 1 "$HERE/bench.yaml" >>"$LOG" 2>&1 || die "lab up; see $LOG"
VIP=$(lab status | awk '$1 == "bench/server" { split($2, a, ","); print a[1] }')
[ -n "$VIP" ] || die "no ClusterIP for bench/server in lab status"
in_pod 10 client sysctl -q -w net.ipv4.tcp_tw_reuse=1 \
	net.ipv4.ip_local_port_range="1024 65000" >>"$LOG" 2>&1 || die "client sysctls"
if [ "$SERVICES" -gt 1 ]; then
	"$HERE/skiff_services.sh" $((SERVICES - 1)) bench >"$STATE/config/bench-fill.yaml" ||
		die "skiff_services.sh"
fi
spawn "$BUILD/bin/skiff-lab" --state "$STATE" exec -n bench deploy/server -- \
	"$BUILD/bin/skiff-perf" serve $CRR_PORT
WORKLOAD="skiff-perf crr (connect, 64 B each way, close)"
if [ $HTTP = 1 ]; then
	command -v wrk >/dev/null || die "wrk not installed (make deps)"
	spawn "$BUILD/bin/skiff-lab" --state "$STATE" exec -n bench deploy/server -- \
		"$BUILD/bin/skiff-echo" --pod server --namespace bench --http $HTTP_PORT
	WORKLOAD="wrk -t1 -c1 -H 'Connection: close' against skiff-echo (a connection per request)"
fi

# workload: "connections N" and "errors N" of one run to the ClusterIP
workload() {
	if [ $HTTP = 0 ]; then
		in_pod $((SECS + 15)) client "$BUILD/bin/skiff-perf" crr "$VIP:$CRR_PORT" \
			--seconds "$SECS"
		return
	fi
	in_pod $((SECS + 15)) client wrk -t1 -c1 -d"${SECS}s" -H 'Connection: close' \
		"http://$VIP:$HTTP_PORT/bench" | awk '/requests in/ { n = $1 }
		/Non-2xx|Socket errors/ { e = 1 } END { print "connections", n + 0; print "errors", e + 0 }'
}

ready() { lab exec --node node-1 -- curl -s --max-time 2 127.0.0.1:15000/config_dump |
	head -c 400 | grep -q '"applied":true'; }

# "id name type run_time_ns run_cnt" of every program that uses one of node-1's pinned maps.
prog_stats() {
	local ids
	ids=$(for m in "$PIN"/skiff_*; do bpftool -j map show pinned "$m" 2>/dev/null; done |
		python3 -c 'import json,sys
for l in sys.stdin:
    l = l.strip()
    if l: print(json.loads(l)["id"])')
	bpftool -j prog show | python3 -c 'import json,sys
maps = set(int(i) for i in sys.argv[1:])
for p in json.load(sys.stdin):
    if maps & set(p.get("map_ids", [])):
        print(p["id"], p.get("name", "?"), p["type"], p.get("run_time_ns", 0), p.get("run_cnt", 0))' $ids
}

# "softirq busy" ticks of the whole machine (/proc/stat, all CPUs)
machine_ticks() { awk '/^cpu / { print $8, $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# round CONFIG R: one crr run, and the per-program deltas, into $RAW; skiffd's and the machine's
# CPU into $CPU
round() {
	local cfg=$1 r=$2 a b out conns i0 i1 c0 c1 m0 m1 hz pp=""
	hz=$(getconf CLK_TCK)
	i0=$(agent_ticks)
	sleep 1
	i1=$(agent_ticks)
	a=$(prog_stats)
	c0=$(agent_ticks)
	m0=$(machine_ticks)
	if [ -n "${HOOK_COST_PERF:-}" ]; then
		mkdir -p "$HOOK_COST_PERF"
		perf record -q -a -g -o "$HOOK_COST_PERF/$r-${cfg//[ =]/_}.data" -- sleep "$SECS" \
			>>"$LOG" 2>&1 &
		pp=$!
	fi
	out=$(workload)
	[ -z "$pp" ] || wait "$pp"
	m1=$(machine_ticks)
	c1=$(agent_ticks)
	b=$(prog_stats)
	conns=$(echo "$out" | awk '$1 == "connections" { print $2 }')
	[ "${conns:-0}" -gt 0 ] || die "$cfg round $r: the workload failed: $out"
	echo "$out" | grep -q '^errors 0$' || say "$cfg round $r: workload errors: $out"
	echo "$m0 $m1" | awk -v c="$cfg" -v n="$conns" -v hz="$hz" -v a=$((c1 - c0)) \
		-v i=$((i1 - i0)) '{ k = 1000000 / hz / n
		printf "%s\t%.1f\t%.1f\t%.1f\t%.0f\n", c, a * k, ($3 - $1) * k, ($4 - $2) * k,
			100 * i / hz }' >>"$CPU"
	join <(echo "$a" | sort) <(echo "$b" | sort) | awk -v c="$cfg" -v r="$r" -v n="$conns" \
		-v s="$SECS" '{ dt = $8 - $4; dn = $9 - $5; if (dn > 0)
		printf "%s\t%s\t%s\t%s\t%.2f\t%.0f\t%.0f\t%.0f\n", c, r, $2, $3, dn / n, dt / dn, dt / n, n / s }' >>"$RAW"
}

CPU=$OUT/hook_cost_cpu.tsv
: >"$CPU"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
sysctl -q -w kernel.bpf_stats_enabled=1 || die "kernel.bpf_stats_enabled cannot be set"
# The configurations take turns in every round, so a burst of other work on the machine lands
# on one round of each rather than on all rounds of one.
for r in $(seq "$ROUNDS"); do
	for cfg in "${CONFIGS[@]}"; do
		say "round $r of $ROUNDS: skiffd $cfg"
		SKIFF_LAB_AGENT_ARGS="$cfg" lab restart-agent node-1 >>"$LOG" 2>&1 ||
			die "restart-agent"
		for _ in $(seq 150); do ready && break; sleep 0.2; done
		ready || die "skiffd $cfg never applied its config"
		round "$cfg" "$r"
	done
done

# median of column $1 for (config, program)
{
	echo "Kernel BPF stats, $ROUNDS rounds of ${SECS} s of $WORKLOAD to the ClusterIP," \
		"$SERVICES services; medians. $(grep -m1 'model name' /proc/cpuinfo |
		sed 's/.*: //'), $(nproc) CPUs, kernel $(uname -r), $(date -u +%F\ %H:%M) UTC; load" \
		"average (1, 5, 15 min) before the rounds $LOAD0, after $(cut -d' ' -f1-3 /proc/loadavg)."
	for cfg in "${CONFIGS[@]}"; do
		echo
		echo "skiffd $cfg: $(awk -F'\t' -v c="$cfg" '$1 == c { print $8 }' "$RAW" |
			sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }') connections/s"
		echo
		echo "| program | type | runs per connection | ns per run | ns per connection |"
		echo "| --- | --- | --- | --- | --- |"
		awk -F'\t' -v c="$cfg" '$1 == c { print $3 "\t" $4 }' "$RAW" | sort -u |
			while IFS=$'\t' read -r name type; do
				med() { awk -F'\t' -v c="$cfg" -v p="$name" -v k="$1" \
					'$1 == c && $3 == p { print $k }' "$RAW" | sort -g |
					awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
				echo "| $name | $type | $(med 5) | $(med 6) | $(med 7) |"
			done
		awk -F'\t' -v c="$cfg" '$1 == c { t[$2] += $7 } END { for (r in t) print t[r] }' \
			"$RAW" | sort -g | awk '{ v[NR] = $1 }
			END { printf "| all programs | | | | %.0f |\n", v[int((NR + 1) / 2)] }'
		cmed() { awk -F'\t' -v c="$cfg" -v k="$1" '$1 == c { print $k }' "$CPU" | sort -g |
			awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
		echo
		echo "Per connection, µs of CPU (medians): skiffd $(cmed 2), softirq $(cmed 3)," \
			"the whole machine busy $(cmed 4); skiffd idle before the round: $(cmed 5) % of a CPU."
	done
} >"$OUT/hook_cost.md"
say "done: $OUT/hook_cost.md"
cat "$OUT/hook_cost.md"
