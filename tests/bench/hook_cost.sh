#!/bin/bash
# What each of skiff's BPF programs costs per connection, from the kernel's own accounting
# (kernel.bpf_stats_enabled: run_time_ns and run_cnt of every program). A connect rate on a busy
# 2-core machine moves by ±20 % between runs; a program's time per run hardly does.
#   tests/bench/hook_cost.sh BUILD_DIR [--seconds S] [--rounds N] [-- 'FLAGS' 'FLAGS'...]
# One node, client and server pods in the mesh (tests/bench/bench.yaml). For each skiffd
# configuration (by default `--no-accel`, `--accel` and `--accel --accel-join=always`; after `--`,
# one argument per configuration, its skiffd flags), N rounds (default 3, the configurations
# taking turns) of S seconds (default 3) of `skiff-perf crr` to the ClusterIP, then a table
# per configuration: for every program of node-1's skiffd, its runs per connection, ns per run
# and ns per connection (median over the rounds). Writes BUILD_DIR/bench/hook_cost.md.
# Only node-1's programs are counted: those that use a map pinned under its bpffs directory.
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
USAGE="usage: tests/bench/hook_cost.sh BUILD_DIR [--seconds S] [--rounds N] [-- 'FLAGS'...]"
BUILD=$(cd "${1:?$USAGE}" && pwd) || exit 2
shift
SECS=3 ROUNDS=3 CONFIGS=("--no-accel" "--accel" "--accel --accel-join=always")
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) SECS=${2:?$USAGE}; shift 2 ;;
	--rounds) ROUNDS=${2:?$USAGE}; shift 2 ;;
	--) shift; CONFIGS=("$@"); break ;;
	*) echo "$USAGE" >&2; exit 2 ;;
	esac
done
PIN=/sys/fs/bpf/skiff-lab/node-1
CRR_PORT=7000
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
spawn "$BUILD/bin/skiff-lab" --state "$STATE" exec -n bench deploy/server -- \
	"$BUILD/bin/skiff-perf" serve $CRR_PORT

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

# round CONFIG R: one crr run, and the per-program deltas, into $RAW
round() {
	local cfg=$1 r=$2 a b out conns
	a=$(prog_stats)
	out=$(in_pod $((SECS + 15)) client "$BUILD/bin/skiff-perf" crr "$VIP:$CRR_PORT" --seconds "$SECS")
	b=$(prog_stats)
	conns=$(echo "$out" | awk '$1 == "connections" { print $2 }')
	[ "${conns:-0}" -gt 0 ] || die "$cfg round $r: crr failed: $out"
	echo "$out" | grep -q '^errors 0$' || say "$cfg round $r: crr errors: $out"
	join <(echo "$a" | sort) <(echo "$b" | sort) | awk -v c="$cfg" -v r="$r" -v n="$conns" \
		-v s="$SECS" '{ dt = $8 - $4; dn = $9 - $5; if (dn > 0)
		printf "%s\t%s\t%s\t%s\t%.2f\t%.0f\t%.0f\t%.0f\n", c, r, $2, $3, dn / n, dt / dn, dt / n, n / s }' >>"$RAW"
}

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
	echo "Kernel BPF stats, $ROUNDS rounds of ${SECS} s of skiff-perf crr (connect, 64 B each" \
		"way, close) to the ClusterIP; medians. $(grep -m1 'model name' /proc/cpuinfo |
		sed 's/.*: //'), $(nproc) CPUs, kernel $(uname -r), $(date -u +%F)."
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
	done
} >"$OUT/hook_cost.md"
say "done: $OUT/hook_cost.md"
cat "$OUT/hook_cost.md"
