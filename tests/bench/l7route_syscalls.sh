#!/bin/bash
# The syscalls skiffd's L7 router makes per HTTP/1.1 request, two skiffd builds side by side in one
# lab: the l7route bench's one node, its server pod's echo server and its 10-rule VirtualService,
# one keep-alive connection (h2load --h1 -c1 -n REQUESTS, one request at a time) while perf stat
# counts skiffd's syscalls in the kernel (every thread; read's EAGAIN exits apart). The agent is
# restarted from each build in turn (which goes first alternates), ROUNDS times, so both see the
# same pods and the same machine.
# Counts include skiffd's other threads (timers, metrics), alike for both builds. Not strace:
# it slows skiffd so much that every read finds its bytes already there. Then, with nothing
# attached, wrk -t1 -c1 for 3 s as l7route.sh runs it: rate and latency of both builds, in turns.
#   tests/bench/l7route_syscalls.sh BUILD_DIR OTHER_BIN_DIR [REQUESTS [ROUNDS]]
#     -> BUILD_DIR/bench/l7route_syscalls.md
set -u
export LC_ALL=C
HERE=$(cd "$(dirname "$0")" && pwd)
USAGE="usage: tests/bench/l7route_syscalls.sh BUILD_DIR OTHER_BIN_DIR [REQUESTS [ROUNDS]]"
BUILD=$(cd "${1:?$USAGE}" && pwd) || exit 2
OTHER=$(cd "${2:?$USAGE}" && pwd) || exit 2
N=${3:-2000} ROUNDS=${4:-3} T=3
H1_PORT=8080
# shellcheck source=tests/bench/lib.sh
. "$HERE/lib.sh"
[ -x "$OTHER/skiff-lab" ] && [ -x "$OTHER/skiffd" ] || {
	echo "$OTHER: no skiff-lab and skiffd there (copy a build's bin/ first)" >&2
	exit 2
}
bench_lab_start l7route_syscalls h2load wrk perf python3
EVENTS=raw_syscalls:sys_enter
for e in read poll ppoll sendto sendmsg write writev recvfrom futex getrandom; do
	EVENTS+=,syscalls:sys_enter_$e
done

say "lab up: 1 node, an HTTP/1.1 echo server, a 10-rule VirtualService"
lab up --nodes 1 "$HERE/l7route.yaml" >>"$LOG" 2>&1 || die "lab up; see $LOG"
VIP=$(lab status | awk '$1 == "bench/server" { split($2, a, ","); print a[1] }')
[ -n "$VIP" ] || die "no ClusterIP in lab status"
spawn "$BUILD/bin/skiff-lab" --state "$STATE" exec -n bench deploy/server -- \
	"$BUILD/bin/skiff-echo" --pod server --namespace bench --http $H1_PORT
"$HERE/l7route_gen.py" vs 10 >"$WORK/vs.yaml" || die "l7route_gen.py vs 10"
lab apply "$WORK/vs.yaml" >>"$LOG" 2>&1 || die "lab apply vs.yaml; see $LOG"
# wrk's latency line "50%  123.00us" -> microseconds
to_us() { awk '{ v = $2; u = 1; if (v ~ /ms$/) u = 1000; else if (v ~ /s$/ && v !~ /us$/) u = 1000000; sub(/[a-z]+$/, "", v); printf "%.1f\n", v * u }'; }
agent_pid() { lab status | awk '$3 == "skiffd" { print $5; exit }'; }
URL="http://$VIP:$H1_PORT/bench/x"

# routes: a request through the router answered 200 (the agent up, the rules loaded)
routes() {
	[ "$(in_pod 5 client curl -s -o /dev/null -w '%{http_code}' -H 'x-bench: r10' "$URL")" = 200 ]
}

# count BIN_DIR ROUND: skiffd from BIN_DIR, then N requests under strace; the per-syscall counts
# as "ROUND BIN syscall calls" lines in $RAW
count() {
	local bin=$1 r=$2 pid st out
	timeout 90 "$bin/skiff-lab" --state "$STATE" restart-agent node-1 >>"$LOG" 2>&1 ||
		die "restart-agent from $bin; see $LOG"
	for _ in $(seq 100); do routes && break; sleep 0.2; done
	routes || die "skiffd from $bin does not route; see $LOG"
	pid=$(agent_pid)
	[ "$(readlink "/proc/$pid/exe")" = "$bin/skiffd" ] || die "pid $pid is not $bin/skiffd"
	in_pod 30 client h2load --h1 -c1 -n 200 -H 'x-bench: r10' "$URL" >>"$LOG" 2>&1 # warm
	# in-kernel counters: strace would slow skiffd until every read found its bytes waiting
	perf stat -x, -o "$WORK/perf.out" -e "$EVENTS" -e syscalls:sys_exit_read --filter 'ret == -11' \
		-p "$pid" &
	st=$!
	sleep 1 # attached to every thread
	out=$(in_pod 120 client h2load --h1 -c1 -n "$N" -H 'x-bench: r10' "$URL" 2>&1)
	kill -INT "$st"
	wait "$st"
	echo "$out" | grep -qE "^status codes: $N 2xx" || die "h2load from $bin: $out"
	# perf stat -x,: "count,unit,event,..."; the last event is read's exits with EAGAIN
	awk -F, -v r="$r" -v b="$bin" '$3 ~ /:/ { e = $3; sub(/.*:(sys_enter_)?/, "", e)
		if ($3 == "syscalls:sys_exit_read") e = "read_EAGAIN"
		if ($3 == "raw_syscalls:sys_enter") e = "(all)"
		print r, b, e, $1 + 0 }' "$WORK/perf.out" >>"$RAW"
	# then the rate, with nothing attached: wrk as l7route.sh runs it
	out=$(in_pod $((T + 15)) client wrk -t1 -c1 -d"${T}s" --latency -H 'x-bench: r10' "$URL" 2>&1)
	echo "$out" | grep -q '^Requests/sec:' && ! echo "$out" | grep -qE 'Non-2xx|Socket errors' ||
		die "wrk from $bin: $out"
	{
		echo "$r $bin rate_rps $(echo "$out" | awk '/^Requests\/sec:/ { print $2 }')"
		echo "$r $bin rate_p50_us $(echo "$out" | awk '$1 == "50%"' | to_us)"
		echo "$r $bin rate_p99_us $(echo "$out" | awk '$1 == "99%"' | to_us)"
	} >>"$RAW"
	say "round $r, $bin: $(awk -v r="$r" -v b="$bin" '$1 == r && $2 == b && $3 == "(all)" {
		print $4 }' "$RAW") syscalls for $N requests"
}

for r in $(seq "$ROUNDS"); do # the order alternates: neither build always runs first
	if [ $((r % 2)) = 1 ]; then
		count "$OTHER" "$r"
		count "$BUILD/bin" "$r"
	else
		count "$BUILD/bin" "$r"
		count "$OTHER" "$r"
	fi
done

# the table: per request, median over rounds (min-max), the syscalls with at least 0.05 a request
{
	echo "# skiffd's syscalls per HTTP/1.1 request, $N requests x $ROUNDS rounds ($(date -u +%F), load $(cut -d' ' -f1-3 /proc/loadavg))"
	echo
	echo "| syscall | $OTHER | $BUILD/bin |"
	echo "| --- | --- | --- |"
	python3 - "$RAW" "$N" "$OTHER" "$BUILD/bin" <<'EOF'
import collections, statistics, sys
raw, n, bins = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
c = collections.defaultdict(lambda: collections.defaultdict(int))
for line in open(raw):
    r, b, name, calls = line.split()
    c[(b, r)][name] += float(calls)
names = sorted({k for v in c.values() for k in v})
def cell(b, name, per=n):
    v = [c[(bb, r)][name] / per for (bb, r) in c if bb == b]
    return "%.2f (%.2f-%.2f)" % (statistics.median(v), min(v), max(v)) if v else "-"
for name in names:
    if not name.startswith("rate_") and max(c[k][name] for k in c) / n >= 0.05:
        print("| %s | %s | %s |" % (name, cell(bins[0], name), cell(bins[1], name)))
print("\nwrk -t1 -c1 -d3s, nothing attached, the builds taking turns:\n")
print("| | %s | %s |\n| --- | --- | --- |" % tuple(bins))
for name, label in (("rate_rps", "requests/s"), ("rate_p50_us", "p50 us"), ("rate_p99_us", "p99 us")):
    print("| %s | %s | %s |" % (label, cell(bins[0], name, 1), cell(bins[1], name, 1)))
EOF
} >"$OUT/l7route_syscalls.md" || die "report"
cat "$OUT/l7route_syscalls.md"
