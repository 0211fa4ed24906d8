#!/bin/bash
# make bench: one lab, one run, every scenario; results in BUILD/bench/results.md and results.json.
#   tests/bench/run.sh BUILD_DIR [--quick|--tiny] [--out DIR] [--strict] [--only SCENARIO,...]
# One node, so client and server pods share it (where the sockmap fast path applies). Scenarios:
#   direct       client pod -> server pod IP, no skiffd running, no iptables rules (the baseline)
#   kube-proxy   client pod -> ClusterIP through kube-proxy-style iptables DNAT in the node netns
#                (tests/bench/kube_proxy_rules.sh), 10 / 1,000 / 10,000 services, no skiffd
#   skiff-lb     client pod (in the mesh) -> ClusterIP translated by skiffd's connect hooks,
#                10 / 1,000 / 10,000 services (tests/bench/skiff_services.sh)
#   skiff-accel  as skiff-lb with the sockops/sk_msg fast path, when this skiffd has it (skiffd's
#                default: a connection joins it when its server's recent connections carried
#                enough messages, see bpf/lib/accel_join.h)
#   skiff-accel-always  as skiff-accel with every connection on the fast path (--accel-join=always);
#                only with --only, e.g. --only direct,skiff-lb,skiff-accel,skiff-accel-always
#   skiff-authz-l4  connect rate only: client -> ClusterIP with 10,000 same-node AuthorizationPolicy
#                verdicts in skiff_policy (25 pods, one namespace-wide ALLOW naming 7 ports, compiled
#                by skiffd; 400 with --tiny), rounds interleaved with the same lab and skiffd without
#                the policy (skiff-authz-off): the ratio of the two is the cost of the kernel's verdict
# Metrics, each repeated (7 rounds, 4 with --quick, 2 with --tiny; runs of 1 s) and reported as
# median [min-max] and as a ratio to direct. In the skiff scenarios every run is paired with one
# of the baseline right before or after it (plain-client to plain-server, pods on the same node,
# their processes outside the pod cgroups; tests/bench/bench.yaml) and the ratio is the median of the per-round ratios, so
# the drift of a shared or virtual machine over minutes cancels; the report says how noisy the
# pairs were. Metrics: 64-byte request/response round trip p50/p90/p99 (sockperf ping-pong
# --full-rtt), single-stream throughput (iperf3), connect rate (skiff-perf crr: connect, 64 B each
# way, close), HTTP requests per second with a new connection for each (wrk -H 'Connection: close'
# against skiff-echo: the short-connection workload) and on one keep-alive connection (wrk: the
# long-connection one). --quick measures 10 and 10,000 services, 1 s per run; --tiny 10 and 1,000 (what
# `make vmtest` runs inside QEMU, where TCG makes everything ~15x slower). --out writes the results
# elsewhere than BUILD/bench; --strict also fails the run when any measurement failed (a path that
# does not work), not only when the lab does. --only runs just the named scenarios (e.g.
# --only skiff-authz-l4); the second block of direct runs only with kube-proxy. Each skiff
# scenario's rounds begin once skiffd is idle after it applied the services (or restarted), and
# the checks say how long that took.
# Every command is bounded by a timeout; the lab (with any iptables rules, which live only in its
# node netns) is torn down on any exit. With SKIFF_VMTEST=1 (set in the vmtest guest) waits are
# longer and the report says its timings come from TCG.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
USAGE="usage: tests/bench/run.sh BUILD_DIR [--quick|--tiny] [--out DIR] [--strict] [--only SCENARIO,...]"
BUILD=$(cd "${1:?$USAGE}" && pwd) || exit 2
shift
MODE=full STRICT=0 OUT=$BUILD/bench ONLY=""
SCENARIOS="direct kube-proxy skiff-lb skiff-accel skiff-authz-l4"
EXTRA_SCENARIOS="skiff-accel-always" # run only when --only names them
while [ $# -gt 0 ]; do
	case $1 in
	--quick) MODE=quick; shift ;;
	--tiny) MODE=tiny; shift ;;
	--strict) STRICT=1; shift ;;
	--out) OUT=${2:?--out needs a directory}; shift 2 ;;
	--only) ONLY=${2:?--only needs scenario names}; shift 2 ;;
	*) echo "$USAGE" >&2; exit 2 ;;
	esac
done
for s in ${ONLY//,/ }; do
	[[ " $SCENARIOS $EXTRA_SCENARIOS " == *" $s "* ]] ||
		{ echo "--only: no scenario '$s' ($SCENARIOS $EXTRA_SCENARIOS)" >&2; exit 2; }
done
# wanted SCENARIO: selected by --only, or no --only at all (and not an extra one)
wanted() {
	if [ -z "$ONLY" ]; then [[ " $EXTRA_SCENARIOS " != *" $1 "* ]]; else [[ ",$ONLY," == *",$1,"* ]]; fi
}
QUICK=0
[ $MODE = full ] || QUICK=1
STATE=$(mktemp -d /tmp/skiff-bench.XXXXXX)
LOG=$OUT/bench.log
RAW=$OUT/raw.tsv	   # scenario services metric rep value
SCEN=$OUT/scenarios.tsv # scenario services status note (in report order)
CHECKS=$OUT/checks.md   # what proved each path was the one measured
PIN=/sys/fs/bpf/skiff-lab/node-1 # the lab's bpffs directory for node-1's skiffd
SERVER_PIDS=() PLAIN_PIDS=()
SERVER_NETNS=""
T0=$SECONDS
LAB_MINE=0 # set once our `lab up` ran: only then may cleanup take a lab down
mkdir -p "$OUT" || exit 1
: >"$LOG"

case $MODE in
tiny) REPS=2 T_LAT=1 T_TPUT=1 T_CRR=1 T_HTTP=1 KP_COUNTS="10 1000" SK_COUNTS="10 1000" ;;
quick) REPS=4 T_LAT=1 T_TPUT=1 T_CRR=1 T_HTTP=1 KP_COUNTS="10 10000" SK_COUNTS="10 10000" ;;
*) REPS=7 T_LAT=1 T_TPUT=1 T_CRR=1 T_HTTP=1 KP_COUNTS="10 1000 10000" SK_COUNTS="10 1000 10000" ;;
esac
# Under TCG (the vmtest guest) skiffd compiles and answers several times slower: wait longer.
if [ "${SKIFF_VMTEST:-0}" = 1 ]; then
	WAIT_STEPS=600 PEEK_S=1 HOLD_S=6
	# a TCG guest's timings show function, not speed, and an idle skiffd's timers alone can
	# pass 5 % of a CPU there while another guest shares the host: a short settle only
	SETTLE_STEPS=40
else
	WAIT_STEPS=100 PEEK_S=0.5 HOLD_S=1 SETTLE_STEPS=120
fi
FAILED_RUNS=0
CRR_PORT=7000 TPUT_PORT=5201 LAT_PORT=11111 HTTP_PORT=8080
KP_VIP=198.19.64.1 # kube-proxy's ClusterIP for the server: a lab address skiffd never hears of

BENCH_NAME=bench
# shellcheck source=tests/bench/lib.sh
. "$HERE/lib.sh"
in_node() { timeout 60 "$BUILD/bin/skiff-lab" --state "$STATE" exec --node node-1 -- "$@"; }

cleanup() {
	local p
	bpf_stats_restore
	for p in "${SERVER_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	# skiff-lab down removes every lab on the machine: never someone else's. Ours is gone
	# already if its servers died under us (another run's `down`); then leave the machine be.
	if [ $LAB_MINE = 1 ] && lab_alive; then
		"$BUILD/bin/skiff-lab" --state "$STATE" down >>"$LOG" 2>&1 ||
			say "lab down failed; see $LOG"
	fi
	rm -rf "$STATE" "$OUT/work"
}
# Our lab is intact while our server pod's netns (named after the pod, random suffix and all)
# is there; before it is known, assume so.
lab_alive() { [ -z "$SERVER_NETNS" ] || [ -e "/run/netns/$SERVER_NETNS" ]; }

# ... and fit to measure while the servers in it run too (a `down` kills processes first).
lab_intact() {
	local p
	lab_alive || return 1
	for p in "${SERVER_PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null || return 1
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the lab, its servers and skiffd ------------------------------------------------------------

agent_pid() { lab status | awk '$1 == "node-1" { for (i = 1; i < NF; i++) if ($i == "pid") print $(i + 1) }'; }

config_dump() { in_node curl -s --max-time 5 127.0.0.1:15000/config_dump; }
generation() { config_dump | head -c 400 | sed -nE 's/.*"generation":([0-9]+).*/\1/p'; }

# wait_ready: skiffd answers on its admin port with an applied generation (30 s at most; 2 min
# under TCG).
wait_ready() {
	for _ in $(seq $((WAIT_STEPS * 3 / 2))); do
		config_dump | head -c 400 | grep -q '"applied":true' && return 0
		sleep 0.2
	done
	die "skiffd never reported an applied config; see $STATE/logs"
}

# skiffd as the lab starts it (fast path on by default, when this skiffd has one).
agent_start_lab() {
	say "starting skiffd (skiff-lab restart-agent)"
	lab restart-agent node-1 >>"$LOG" 2>&1 || die "skiff-lab restart-agent node-1; see $LOG"
	wait_ready
}

# skiffd restarted by the lab with extra flags (skiff-lab passes $SKIFF_LAB_AGENT_ARGS on);
# checked on the running process, so a lab that ignores them cannot pass for one that did.
agent_restart_with() {
	local pid
	say "restarting skiffd with $*"
	SKIFF_LAB_AGENT_ARGS="$*" lab restart-agent node-1 >>"$LOG" 2>&1 ||
		die "skiff-lab restart-agent node-1; see $LOG"
	wait_ready
	pid=$(agent_pid)
	tr '\0' ' ' <"/proc/${pid:-0}/cmdline" 2>/dev/null | grep -q -- " $* " ||
		die "skiffd (pid $pid) runs without $*: this skiff-lab ignores SKIFF_LAB_AGENT_ARGS"
}

has_accel() { "$BUILD/bin/skiffd" --help 2>&1 | grep -q -E -- '--(no-)?accel '; }

# start_server DEPLOY CMD...: a server process in a server pod for the whole run, killed by pid
# at exit; plain-server's, like the baseline's clients (on_client), in this script's cgroup.
start_server() {
	local d=$1
	shift
	if [ "$d" = plain-server ]; then
		ip netns exec "$PLAIN_SERVER_NETNS" "$@" >>"$LOG" 2>&1 &
		PLAIN_PIDS+=($!)
	else
		"$BUILD/bin/skiff-lab" --state "$STATE" exec -n bench "deploy/$d" -- "$@" \
			>>"$LOG" 2>&1 &
	fi
	SERVER_PIDS+=($!)
	disown $!
}

# wait_listening DEPLOY: every measuring server listens in that pod.
wait_listening() {
	for _ in $(seq 100); do
		local l
		l=$(in_pod 5 "$1" ss -ltnH)
		echo "$l" | grep -q ":$CRR_PORT " && echo "$l" | grep -q ":$TPUT_PORT " &&
			echo "$l" | grep -q ":$LAT_PORT " && echo "$l" | grep -q ":$HTTP_PORT " && return 0
		sleep 0.1
	done
	die "servers not listening in pod $1; see $LOG"
}

lab_up() {
	local d
	mkdir -p "$OUT/work"
	# One lab per machine (its netns names are fixed). Runs that take the lock wait for each
	# other; a lab made without it is left alone, and this run stops.
	exec 9>/run/skiff-lab.lock
	flock -w 300 9 || die "another run held /run/skiff-lab.lock for 5 minutes"
	[ ! -e /run/netns/skl-fabric ] ||
		die "another skiff-lab is running on this machine (netns skl-fabric); try again later"
	LAB_MINE=1
	if ! lab up --no-agent --nodes 1 "$HERE/bench.yaml" >>"$LOG" 2>&1; then
		grep -q 'a lab already exists' "$LOG" && LAB_MINE=0
		die "lab up; see $LOG"
	fi
	SERVER_IP=$(lab status | awk '$1 ~ /^bench\/server-/ { print $3 }')
	PLAIN_IP=$(lab status | awk '$1 ~ /^bench\/plain-server-/ { print $3 }')
	PLAIN_CLIENT_NETNS=skl-$(lab status |
		awk '$1 ~ /^bench\/plain-client-/ { sub(/^bench\//, "", $1); print $1 }')
	PLAIN_SERVER_NETNS=skl-$(lab status |
		awk '$1 ~ /^bench\/plain-server-/ { sub(/^bench\//, "", $1); print $1 }')
	[ -e "/run/netns/$PLAIN_CLIENT_NETNS" ] && [ -e "/run/netns/$PLAIN_SERVER_NETNS" ] ||
		die "no netns $PLAIN_CLIENT_NETNS or $PLAIN_SERVER_NETNS (pods plain-client, plain-server)"
	SERVER_NETNS=skl-$(lab status | awk '$1 ~ /^bench\/server-/ { sub(/^bench\//, "", $1); print $1 }')
	VIP=$(lab status | awk '$1 == "bench/server" { split($2, a, ","); print a[1] }')
	[ -n "$SERVER_IP" ] && [ -n "$PLAIN_IP" ] && [ -n "$VIP" ] ||
		die "no server pod IP, plain-server pod IP or ClusterIP in lab status"
	# Closed connections keep no TIME_WAIT in either pod. With it, every crr and HTTP run left
	# tens of thousands behind for 60 s, connect()'s port search slowed with each, and the
	# scenarios measured later (skiff's) ran 25-30 % slower than direct, measured first, on an
	# empty table: a bias of the bench, not of the path. Wide port range for back-to-back runs.
	for d in client plain-client; do
		on_client 10 $d sysctl -q -w net.ipv4.tcp_tw_reuse=1 net.ipv4.tcp_max_tw_buckets=0 \
			net.ipv4.ip_local_port_range="1024 65000" >>"$LOG" 2>&1 || die "$d sysctls"
	done
	in_pod 10 server sysctl -q -w net.ipv4.tcp_max_tw_buckets=0 >>"$LOG" 2>&1 ||
		die "server sysctls"
	ip netns exec "$PLAIN_SERVER_NETNS" sysctl -q -w net.ipv4.tcp_max_tw_buckets=0 >>"$LOG" 2>&1 ||
		die "plain-server sysctls"
	for d in server plain-server; do
		start_server $d "$BUILD/bin/skiff-perf" serve $CRR_PORT
		start_server $d iperf3 -s -p $TPUT_PORT
		start_server $d sockperf sr --tcp -p $LAT_PORT
		start_server $d "$BUILD/bin/skiff-echo" --pod $d --namespace bench --http $HTTP_PORT
	done
	wait_listening server
	wait_listening plain-server
	plain_outside_cgroups
}

# --- measuring ----------------------------------------------------------------------------------

# on_client SECONDS WHO CMD...: CMD from the client pod (WHO client) or from the baseline's
# (plain-client), killed after SECONDS. The baseline runs in plain-client's netns but in this
# script's cgroup, outside the node's pod cgroup root where skiff's programs are attached: its
# sockets meet no skiff program at all, as with no skiffd.
on_client() {
	local t=$1 who=$2
	shift 2
	if [ "$who" = plain-client ]; then
		timeout "$t" ip netns exec "$PLAIN_CLIENT_NETNS" "$@"
	else
		in_pod "$t" "$who" "$@"
	fi
}

# One metric run from $2 (default: client, see on_client); prints the values, nothing on
# failure (the run is then missing, not faked).
run_lat() {
	on_client $((T_LAT + 15)) "${2:-client}" sockperf pp --tcp -i "$1" -p $LAT_PORT -t "$T_LAT" \
		-m 64 --full-rtt 2>&1 | awk '/percentile 50\.000 =/ { p50 = $NF }
		/percentile 90\.000 =/ { p90 = $NF }
		/percentile 99\.000 =/ { p99 = $NF } END { if (p99 != "") print p50, p90, p99 }'
}

run_tput() {
	on_client $((T_TPUT + 15)) "${2:-client}" iperf3 -c "$1" -p $TPUT_PORT -t "$T_TPUT" -f m \
		--connect-timeout 3000 2>&1 | awk '/receiver$/ { printf "%.3f\n", $(NF - 2) / 1000 }'
}

run_crr() {
	on_client $((T_CRR + 15)) "${2:-client}" "$BUILD/bin/skiff-perf" crr "$1:$CRR_PORT" \
		--seconds "$T_CRR" | awk '$1 == "errors" && $2 > 0 { bad = 1 }
		$1 == "rate" { r = $2 } END { if (!bad && r != "") print r }'
}

# run_http ADDRESS close|keepalive [CLIENT]: wrk's requests per second against skiff-echo, one
# connection at a time; with `close`, a new connection for each request (HTTP/1.0 style).
run_http() {
	local hdr=()
	[ "$2" = close ] && hdr=(-H 'Connection: close')
	on_client $((T_HTTP + 15)) "${3:-client}" wrk -t1 -c1 -d"${T_HTTP}s" "${hdr[@]}" \
		"http://$1:$HTTP_PORT/bench" 2>&1 | awk '/Non-2xx|Socket errors/ { bad = 1 }
		/^Requests\/sec:/ { r = $2 } END { if (!bad && r != "") print r }'
}

# record METRIC ROUND VALUE [SCENARIO]: one value of $CUR (or SCENARIO) with $CUR_N services.
record() { printf '%s\t%s\t%s\t%s\t%s\n' "${4:-$CUR}" "$CUR_N" "$1" "$2" "$3" >>"$RAW"; }

# run_one WORKLOAD ROUND SCENARIO ADDRESS CLIENT: one run of a workload, recorded as SCENARIO's
# round ROUND; fails (and records nothing) when the run did.
run_one() {
	local v p50 p90 p99
	case $1 in
	lat)
		v=$(run_lat "$4" "$5")
		[ -n "$v" ] || return 1
		read -r p50 p90 p99 <<<"$v"
		record rtt_p50_us "$2" "$p50" "$3"
		record rtt_p90_us "$2" "$p90" "$3"
		record rtt_p99_us "$2" "$p99" "$3"
		return 0 ;;
	tput) v=$(run_tput "$4" "$5") ;;
	crr) v=$(run_crr "$4" "$5") ;;
	http_close) v=$(run_http "$4" close "$5") ;;
	http_ka) v=$(run_http "$4" keepalive "$5") ;;
	esac
	[ -n "$v" ] || return 1
	case $1 in
	tput) record tput_gbps "$2" "$v" "$3" ;;
	crr) record crr_per_s "$2" "$v" "$3" ;;
	*) record "$1_per_s" "$2" "$v" "$3" ;;
	esac
}

# measure SCENARIO SERVICES ADDRESS [FIRST_ROUND]: REPS rounds of every workload (round trip,
# throughput, connect rate, HTTP), numbered from FIRST_ROUND (a second block of a scenario adds
# to its rounds). A skiff scenario pairs each run with one of the baseline, plain-client to
# plain-server's pod IP (same node, same moment, no skiff program on the way: on_client),
# recorded as "direct~SCENARIO" with the same services and round: the report takes the ratio of
# each pair and the median of those, so drift of the machine between the scenarios' blocks
# cancels. Which of the two runs first alternates by round, so neither always gets the warmer
# cache or the quieter second.
measure() {
	local w r missing=0 first=${4:-1} works="lat tput crr http_close http_ka" pair=0 paired=""
	CUR=$1 CUR_N=$2
	# --quick and --tiny keep their minute: kube-proxy's HTTP is left to full runs
	if [ $QUICK = 1 ] && [ "$CUR" = kube-proxy ]; then
		works="lat tput crr"
		printf '%s\t%s\tok\tonly rtt_p50_us rtt_p90_us rtt_p99_us tput_gbps crr_per_s\n' \
			"$CUR" "$CUR_N" >>"$SCEN"
	else
		printf '%s\t%s\tok\t\n' "$CUR" "$CUR_N" >>"$SCEN"
	fi
	[[ "$CUR" != skiff-* ]] || pair=1 paired=", each run paired with one of direct"
	for r in $(seq "$first" $((first + REPS - 1))); do
		say "$CUR ${CUR_N:+$CUR_N services }round $r$paired"
		lab_intact || die "the lab vanished mid-run (another skiff-lab down on this machine?)"
		# under TCG (--tiny) only the first round is paired: it proves the path, at half the time
		[ $MODE != tiny ] || [ "$r" = "$first" ] || pair=0
		for w in $works; do
			if [ $pair = 1 ] && [ $((r % 2)) = 1 ]; then
				run_one "$w" "$r" "direct~$CUR" "$PLAIN_IP" plain-client ||
					missing=$((missing + 1))
			fi
			run_one "$w" "$r" "$CUR" "$3" client || missing=$((missing + 1))
			if [ $pair = 1 ] && [ $((r % 2)) = 0 ]; then
				run_one "$w" "$r" "direct~$CUR" "$PLAIN_IP" plain-client ||
					missing=$((missing + 1))
			fi
		done
	done
	lab_intact || die "the lab vanished mid-run (another skiff-lab down on this machine?)"
	[ $missing = 0 ] || say "$CUR $CUR_N: $missing failed runs (left out of the results)"
	FAILED_RUNS=$((FAILED_RUNS + missing))
}

# cpu_busy: percent of the machine's CPU time that was not idle over one second (other work
# on a 2-core machine moves every number; the report shows it).
cpu_busy() {
	local a b
	a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
	sleep 1
	b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat)
	echo "$a $b" | awk '{ d = ($3 - $1) + ($4 - $2); printf "%.0f\n", (d > 0 ? 100 * ($3 - $1) / d : 0) }'
}

unavailable() { printf '%s\t%s\tunavailable\t%s\n' "$1" "$2" "$3" >>"$SCEN"; }

# --- scenarios ----------------------------------------------------------------------------------

kube_proxy() {
	local n rules=$OUT/work/kube-proxy.rules pkts
	for n in $KP_COUNTS; do
		say "kube-proxy: installing $n services"
		"$HERE/kube_proxy_rules.sh" "$n" $KP_VIP "$SERVER_IP" $CRR_PORT $TPUT_PORT $LAT_PORT \
			$HTTP_PORT >"$rules" || die "kube_proxy_rules.sh $n"
		in_node iptables-nft-restore <"$rules" >>"$LOG" 2>&1 || die "iptables-restore ($n)"
		measure kube-proxy "$n" $KP_VIP
		# Proof the DNAT path was taken: the measured service's KUBE-SERVICES rule counted.
		pkts=$(in_node iptables-nft -t nat -L KUBE-SERVICES -n -v -x |
			awk -v vip=$KP_VIP -v p="dpt:$CRR_PORT" '$0 ~ vip && $0 ~ p { print $1 }')
		[ "${pkts:-0}" -gt 0 ] || die "kube-proxy $n: the DNAT rule never matched"
		echo "- kube-proxy, $n services: the measured service's KUBE-SERVICES rule (last of" \
			"$(in_node iptables-nft -t nat -S KUBE-SERVICES | grep -c '^-A')) matched $pkts" \
			"new connections" >>"$CHECKS"
	done
	# Leave no netfilter hooks (nor conntrack) behind for the skiff scenarios.
	in_node nft delete table ip nat >>"$LOG" 2>&1
	in_node nft delete table ip filter >>"$LOG" 2>&1
	[ -z "$(in_node nft list tables)" ] || die "iptables tables left in the node netns"
}

# With neither iptables rules nor skiffd, the ClusterIP leads nowhere: so an answer from it in
# the skiff scenarios can only come from skiffd's connect hook.
vip_dead_without_skiffd() {
	[ -z "$(agent_pid)" ] || die "a skiffd runs before the skiff scenarios"
	if in_pod 10 client "$BUILD/bin/skiff-perf" crr "$VIP:$CRR_PORT" --seconds 0.3 \
		--timeout-ms 300 >/dev/null 2>&1; then
		die "the ClusterIP $VIP answers with no skiffd and no rules"
	fi
	echo "- direct and kube-proxy ran with no skiffd; with no rules either, the ClusterIP" \
		"$VIP did not answer, so skiff-lb/skiff-accel answers come from the connect hook" >>"$CHECKS"
}

# skiff_services N: the mesh has N services (the measured one plus N-1 fillers), applied.
skiff_services() {
	local n=$1 gen f=$STATE/config/bench-fill.yaml dump
	say "skiffd: installing $n services"
	gen=$(generation)
	"$HERE/skiff_services.sh" $((n - 1)) bench >"$STATE/config/.bench-fill.yaml.tmp" ||
		die "skiff_services.sh $n"
	if cmp -s "$STATE/config/.bench-fill.yaml.tmp" "$f"; then
		rm -f "$STATE/config/.bench-fill.yaml.tmp" # already in force
	else
		mv "$STATE/config/.bench-fill.yaml.tmp" "$f" || die "config dir"
		for _ in $(seq $WAIT_STEPS); do
			[ "$(generation)" != "$gen" ] && break
			sleep 0.2
		done
	fi
	dump=$(config_dump)
	echo "$dump" | head -c 400 | grep -q '"applied":true' || die "$n services not applied"
	[ "$(echo "$dump" | grep -o '"vip"' | wc -l)" -ge $((n + 2)) ] ||
		die "skiffd shows fewer than $n services"
}

# pid_ticks PID: CPU ticks (utime + stime) of that process so far.
pid_ticks() {
	local st
	st=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	st=${st##*) }
	set -- $st
	echo $((${12} + ${13}))
}

# agent_settle SCENARIO N: wait until skiffd is idle (under 5 % of a CPU for two half-second
# windows in a row; 60 s at most, 20 s under TCG) once it applied N services or restarted, and
# note the wait under Checks. config_dump says "applied" before skiffd's work after an apply
# ends: a round started at once would share the CPU with it.
agent_settle() {
	local hz t0 t1 pid quiet=0 start=$SECONDS
	hz=$(getconf CLK_TCK)
	pid=$(agent_pid)
	t0=$(pid_ticks "$pid")
	for _ in $(seq $SETTLE_STEPS); do
		sleep 0.5
		t1=$(pid_ticks "$pid")
		if [ $(((t1 - t0) * 40)) -lt "$hz" ]; then # 5 % of 0.5 s
			quiet=$((quiet + 1))
			[ $quiet -ge 2 ] && break
		else
			quiet=0
		fi
		t0=$t1
	done
	[ $quiet -ge 2 ] || say "WARNING: skiffd still busy $((SECONDS - start)) s after $2 services"
	echo "- $1, $2 services: the rounds began once skiffd was idle, $((SECONDS - start)) s" \
		"after it reported them applied" >>"$CHECKS"
}

# sockhash_while_open: entries in node-1's sockhash while one client connection to the VIP's
# round-trip port is open (the most seen while it is held: under TCG the connection may take
# seconds to appear). That port's connections are long, so skiffd's default joins them; the
# connect-rate port's are learnt short and stay on TCP (join_history).
sockhash_while_open() {
	local p n max=0 dump
	in_pod $((${HOLD_S%.*} + 5)) client bash -c "exec 3<>/dev/tcp/$VIP/$LAT_PORT && sleep $HOLD_S" \
		>/dev/null 2>&1 &
	p=$!
	sleep $PEEK_S
	for _ in $(seq $((${HOLD_S%.*} * 2))); do
		dump=$(bpftool -j map dump pinned "$PIN/skiff_sockhash" 2>&1)
		n=$(echo "$dump" | grep -o '"key"' | wc -l)
		[ "$n" -gt "$max" ] && max=$n
		[ "$max" -ge 2 ] || ! kill -0 $p 2>/dev/null && break
		sleep 0.5
	done
	# What the map held, for the log (a fast path not taken is investigated from there).
	echo "sockhash while one connection to $VIP:$LAT_PORT was open: $dump" >>"$LOG"
	wait $p
	echo "$max"
}

# Sockets moved from the fast path to TCP so far (skiff_l4_stats.tcp_fallbacks, all CPUs).
tcp_fallbacks() {
	bpftool map dump pinned "$PIN/skiff_l4_stats" 2>/dev/null |
		grep -o '"tcp_fallbacks": *[0-9]*' | awk -F: '{s += $2} END {printf "%.0f\n", s}'
}

# join_history: what skiffd's sockops learnt of each server port (skiff_join_hist, the server
# pod's workload): connections and messages, and whether a new client joins the fast path.
join_history() {
	bpftool -j map dump pinned "$PIN/skiff_join_hist" 2>/dev/null | python3 -c 'import json, sys
out = []
for e in json.load(sys.stdin):
    k, v = e.get("formatted", e)["key"], e.get("formatted", e)["value"]
    joins = v["conns"] < 8 or v["msgs"] >= 4 * v["conns"]
    out.append("port %d: %d connections, %d messages (%s)" % (k["port"], v["conns"], v["msgs"],
               "joins" if joins else "stays on TCP"))
print("; ".join(sorted(out)) or "empty")' 2>/dev/null
}

# plain_outside_mesh SCENARIO N: the baseline's pods are not enrolled while the mesh's are (so
# their connections take the kernel's path; skiff's programs, attached at the pod cgroup root,
# only look them up and return).
plain_outside_mesh() {
	local pods
	pods=$(config_dump | grep -o '"enrolled_pods":\[[^]]*\]')
	echo "$pods" | grep -q '"bench/client-' && echo "$pods" | grep -q '"bench/server-' ||
		die "$1 $2: skiffd has not enrolled the bench client and server: $pods"
	! echo "$pods" | grep -q '"bench/plain-' ||
		die "$1 $2: skiffd enrolled a baseline pod (plain-*), which opts out of the mesh"
	echo "- $1, $2 services: skiffd enrolled the client and server pods and not plain-client" \
		"nor plain-server, the baseline paired with every run" >>"$CHECKS"
}

# The baseline's processes run outside the node's pod cgroup root, so skiff's programs (attached
# there) never see their sockets.
plain_outside_cgroups() {
	local p cg
	for p in "${PLAIN_PIDS[@]}"; do
		cg=$(sed -n 's/^0:://p' "/proc/$p/cgroup") || die "plain-server's process $p is gone"
		[[ "$cg" != *skiff-lab* ]] ||
			die "plain-server's process $p runs in a lab cgroup, $cg, where skiff's programs are"
	done
	echo "- the baseline (plain-client to plain-server) ran in the bench's own cgroup, ${cg:-?}," \
		"outside the lab's pod cgroups where skiff's programs are attached (${#PLAIN_PIDS[@]}" \
		"server processes checked): its sockets met none of them, as with no skiffd" >>"$CHECKS"
}

skiff_lb() {
	local n e f
	for n in $SK_COUNTS; do
		skiff_services "$n"
		plain_outside_mesh "$1" "$n"
		if has_accel; then
			e=$(sockhash_while_open)
			echo "- $1, $n services: $e sockhash entries while one client connection to the" \
				"round-trip port was open (fast path: 2 expected; without: 0)" >>"$CHECKS"
			[[ "$1" != skiff-accel* ]] || [ "$e" -ge 2 ] ||
				say "WARNING: $1 $n: the fast path is not taken (sockhash empty)"
		fi
		agent_settle "$1" "$n"
		f=$(tcp_fallbacks)
		measure "$1" "$n" "$VIP"
		[[ "$1" != skiff-accel* ]] && continue
		echo "- $1, $n services: $(($(tcp_fallbacks) - f)) sockets fell back from the fast" \
			"path to TCP during the rounds (a reader that fell behind by the cap)" >>"$CHECKS"
		[ "$1" != skiff-accel ] ||
			echo "- $1, $n services, after the rounds, skiff_join_hist: $(join_history)" \
				>>"$CHECKS"
	done
}

skiff_lb_and_accel() {
	local n counts_rev=""
	if has_accel; then
		if wanted skiff-lb; then
			agent_restart_with --no-accel
			skiff_lb skiff-lb
		fi
		wanted skiff-accel || wanted skiff-accel-always || return 0
		# The fast path by its flag when skiffd has one (it is also the default), else by default.
		if "$BUILD/bin/skiffd" --help 2>&1 | grep -q -- '--accel '; then
			agent_restart_with --accel
		else
			agent_start_lab
		fi
		for n in $SK_COUNTS; do counts_rev="$n $counts_rev"; done
		if wanted skiff-accel; then
			SK_COUNTS=$counts_rev skiff_lb skiff-accel
			counts_rev=$SK_COUNTS # the last count is installed now: start from it
		fi
		wanted skiff-accel-always || return 0
		agent_restart_with --accel --accel-join=always
		SK_COUNTS=$counts_rev skiff_lb skiff-accel-always
	else
		agent_start_lab
		! wanted skiff-lb || skiff_lb skiff-lb
		wanted skiff-accel || return 0
		for n in $SK_COUNTS; do
			unavailable skiff-accel "$n" "not available in this build (skiffd has no --accel)"
		done
	fi
}

# --- skiff-authz-l4: the kernel's same-node AuthorizationPolicy verdict on the connect path -------

AUTHZ_FILL=23 # idle pods next to client and server: 25 pods on the node, 10,000 entries
[ $MODE = tiny ] && AUTHZ_FILL=3 # under TCG: 5 pods, 400 entries (function, not speed)
AUTHZ_PORTS='"7000", "5201", "11111", "7001", "7002", "7003", "7004"' # the 7 ports the rule names
AUTHZ_DENIED_PORT=7005 # a port no rule names: its port-0 verdict is DENY
AUTHZ_FILE=authz-l4-policy.yaml

# What skiffd's compiler must write: 25 sources x 25 destinations (all dual-stack) x 2 families x
# (7 named ports + port 0).
authz_entries_want() { echo $(((AUTHZ_FILL + 2) * (AUTHZ_FILL + 2) * 2 * 8)); }

# skiff_policy entries on node-1 now (a field of the key, named once per entry by its BTF).
authz_entries() {
	bpftool -j map dump pinned "$PIN/skiff_policy" 2>/dev/null | grep -o '"src_workload"' | wc -l
}

# The filler pods (skiff/client idles), enrolled by skiffd before anything is measured.
authz_fill() {
	local f=$OUT/work/authz-l4-fill.yaml n
	cat >"$f" <<-YAML
	# skiff-authz-l4 (tests/bench/run.sh): pods that only make the node's policy table bigger.
	apiVersion: apps/v1
	kind: Deployment
	metadata:
	  name: authz-fill
	  namespace: bench
	spec:
	  replicas: $AUTHZ_FILL
	  selector:
	    matchLabels:
	      app: authz-fill
	  template:
	    metadata:
	      labels:
	        app: authz-fill
	    spec:
	      containers:
	      - name: fill
	        image: skiff/client
	YAML
	say "skiff-authz-l4: $AUTHZ_FILL filler pods"
	lab apply "$f" >>"$LOG" 2>&1 || die "lab apply of the filler pods; see $LOG"
	for _ in $(seq $((WAIT_STEPS * 3))); do
		n=$(config_dump | grep -o '"bench/authz-fill-[^"]*"' | wc -l)
		[ "$n" -ge $AUTHZ_FILL ] && return 0
		sleep 0.2
	done
	die "skiffd enrolled $n of $AUTHZ_FILL filler pods"
}

# authz_policy on|off: the namespace-wide ALLOW in force or not, applied (and its entries there).
authz_policy() {
	local gen f=$OUT/work/$AUTHZ_FILE want=0
	gen=$(generation)
	if [ "$1" = on ]; then
		want=$(authz_entries_want)
		cat >"$f" <<-YAML
		apiVersion: security.istio.io/v1
		kind: AuthorizationPolicy
		metadata:
		  name: bench-l4
		  namespace: bench
		spec:
		  action: ALLOW
		  rules:
		  - from:
		    - source:
		        namespaces: ["bench"]
		    to:
		    - operation:
		        ports: [$AUTHZ_PORTS]
		YAML
		lab apply "$f" >>"$LOG" 2>&1 || die "lab apply of the bench policy; see $LOG"
	else
		[ -f "$f" ] || return 0
		lab delete "$f" >>"$LOG" 2>&1 || die "lab delete of the bench policy; see $LOG"
		rm -f "$f"
	fi
	for _ in $(seq $WAIT_STEPS); do
		[ "$(generation)" != "$gen" ] && [ "$(authz_entries)" = "$want" ] && return 0
		sleep 0.2
	done
	die "policy $1: skiff_policy holds $(authz_entries) entries, want $want"
}

# The connect4 program's own cost, which a connect rate on a busy 2-core machine shows only
# through its noise: with kernel.bpf_stats_enabled the kernel times every run of a program.
# Switched on for this scenario only, and back off at exit if it was off.
BPF_STATS_WAS=""
bpf_stats_on() {
	BPF_STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null) || return 0
	[ "$BPF_STATS_WAS" = 1 ] || sysctl -q -w kernel.bpf_stats_enabled=1
}
bpf_stats_restore() {
	[ "$BPF_STATS_WAS" != 0 ] || sysctl -q -w kernel.bpf_stats_enabled=0
}
# "run_time_ns run_cnt" of node-1's connect4 program (found by its pinned link).
connect4_stats() {
	local id
	id=$(bpftool -j link show pinned "$PIN/links/sock_connect4" 2>/dev/null |
		grep -o '"prog_id": *[0-9]*' | grep -o '[0-9]*$')
	[ -n "$id" ] && bpftool -j prog show id "$id" 2>/dev/null | awk '{
		if (match($0, /"run_time_ns": *[0-9]+/)) { t = substr($0, RSTART, RLENGTH); sub(/.*: */, "", t) }
		if (match($0, /"run_cnt": *[0-9]+/)) { c = substr($0, RSTART, RLENGTH); sub(/.*: */, "", c) }
	} END { if (c != "") print t, c }'
}

# One connect-rate run, recorded as round $2 of scenario $1, with connect4's mean time per run.
measure_crr() {
	local v s0 s1 ns
	CUR=$1 CUR_N=""
	lab_intact || die "the lab vanished mid-run (another skiff-lab down on this machine?)"
	s0=$(connect4_stats)
	v=$(run_crr "$VIP")
	s1=$(connect4_stats)
	if [ -n "$v" ]; then
		record crr_per_s "$2" "$v"
	else
		FAILED_RUNS=$((FAILED_RUNS + 1))
		say "$1 round $2: the connect-rate run failed"
	fi
	ns=$(echo "$s0 $s1" | awk 'NF == 4 && $4 > $2 { printf "%.0f\n", ($3 - $1) / ($4 - $2) }')
	[ -z "$ns" ] || record connect4_ns "$2" "$ns"
}

# Proof that the verdict is the kernel's: the server is checked, and a port no rule names is
# refused at connect() with EPERM (without the policy it would be ECONNREFUSED: nobody listens).
authz_checks() {
	local flags out
	flags=$(bpftool -j map dump pinned "$PIN/skiff_pod_ips" 2>/dev/null |
		grep -o '"flags": *[0-9]*' | awk -F: '{ print $2 + 0 }' | sort -u | tr '\n' ' ')
	out=$(in_pod 10 client "$BUILD/bin/skiff-perf" crr "$SERVER_IP:$AUTHZ_DENIED_PORT" \
		--seconds 0.2 --timeout-ms 300 2>&1)
	echo "$out" | grep -q '^error EPERM' ||
		die "skiff-authz-l4: a connect to port $AUTHZ_DENIED_PORT was not refused with EPERM: $out"
	echo "- skiff-authz-l4: $(authz_entries) entries in skiff_policy (want $(authz_entries_want))," \
		"skiff_pod_ips flags in use: ${flags% } (3 = enrolled + checked at connect); the client's" \
		"connect to port $AUTHZ_DENIED_PORT, which no rule names, failed with EPERM; skiff-authz-off" \
		"rounds had 0 entries" >>"$CHECKS"
}

skiff_authz_l4() {
	local r rounds=$((4 * REPS))
	[ $MODE = tiny ] && rounds=2 # under TCG only that it works counts, not the ratio
	[ -n "$(agent_pid)" ] || agent_start_lab
	bpf_stats_on
	printf 'skiff-authz-off\t\tok\tonly crr_per_s\n' >>"$SCEN"
	printf 'skiff-authz-l4\t\tok\tonly crr_per_s\n' >>"$SCEN"
	authz_fill
	for r in $(seq "$rounds"); do
		say "skiff-authz-l4 round $r of $rounds (without, then with the policy)"
		authz_policy off
		measure_crr skiff-authz-off "$r"
		authz_policy on
		measure_crr skiff-authz-l4 "$r"
	done
	authz_checks
	authz_policy off
	bpf_stats_restore
}

main() {
	local start=$SECONDS
	[ "$(id -u)" = 0 ] || die "needs root (network namespaces, cgroups, bpffs, iptables)"
	for t in iperf3 sockperf wrk iptables-nft-restore nft bpftool timeout flock; do
		command -v $t >/dev/null || die "$t not installed (make deps)"
	done
	rm -f "$OUT/results.md" "$OUT/results.json"
	: >"$RAW"
	: >"$SCEN"
	: >"$CHECKS"
	BUSY_BEFORE=$(cpu_busy) LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
	say "machine busy before the run: $BUSY_BEFORE% CPU, load average $LOAD_BEFORE"
	lab_up
	! wanted direct || measure direct "" "$SERVER_IP"
	! wanted kube-proxy || kube_proxy
	# The baseline again, minutes later: its rounds join the first block's, and the report
	# shows how far the two blocks drifted apart (this machine's noise, to read ratios by).
	[ $QUICK = 1 ] || ! wanted direct || ! wanted kube-proxy ||
		measure direct "" "$SERVER_IP" $((REPS + 1))
	if wanted skiff-lb || wanted skiff-accel; then
		vip_dead_without_skiffd
		skiff_lb_and_accel
	fi
	! wanted skiff-authz-l4 || skiff_authz_l4
	BUSY_AFTER=$(cpu_busy)
	"$HERE/report.sh" "$OUT" "$REPS" "$T_LAT" "$T_TPUT" "$T_CRR" $((SECONDS - start)) \
		"$MODE" "$BUSY_BEFORE" "$BUSY_AFTER" "$T_HTTP" "$LOAD_BEFORE" \
		"$(cut -d' ' -f1 /proc/loadavg)" || die "report"
	say "done in $((SECONDS - start)) s: $OUT/results.md"
	[ $STRICT = 0 ] || [ $FAILED_RUNS = 0 ] ||
		die "--strict: $FAILED_RUNS measurements failed (see $LOG and the table's 'failed' cells)"
}

main
