#!/bin/bash
# DestinationRule consistentHash.useSourceIp in the kernel: a real skiffd compiles the guide's
# payments-api DestinationRule with a source-address hash into a Maglev table, and each client
# pod's connections all reach one payments-api pod, run after run; without the hash they spread
# again. (Outlier detection needs the per-request proxy's outcomes and is not driven here.)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
EX="$HERE/../../examples/payments"
FX="$HERE/fixtures/traffic-policy"
N=100

# hit CLIENT N: the pod lines of N connections from frontend/CLIENT to payments-api
hit() {
	lab exec -n frontend "deploy/$1" -- "$BUILD/bin/skiff-hit" -n "$2" payments-api.payments:80
}
# pods_of OUTPUT: "name count" of each pod that answered, sorted
pods_of() { echo "$1" | awk '$1 == "pod" { print $2, $3 }' | sort; }

t_begin "lab up: payments mesh on 2 nodes, four clients, DestinationRule with useSourceIp"
if lab up --nodes 2 "$EX"/0*.yaml "$EX"/[1-9]*.yaml "$FX/clients.yaml" \
	"$FX/dr-source-ip.yaml" >"$LOG" 2>&1; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi

t_begin "the service port is a Maglev table in skiff_services (flag 2, 4093 slots)"
dump=$(bpftool map dump pinned /sys/fs/bpf/skiff-lab/node-1/skiff_services 2>&1)
if echo "$dump" | grep -q '"count": 4093' && echo "$dump" | grep -q '"flags": 2'; then t_pass
else t_fail "$(echo "$dump" | grep -B2 -A6 count | head -30)"; fi

t_begin "each client's $N connections all reach one payments-api pod, and the same one again"
bad=""
declare -A FIRST
for c in client-a client-b client-c client-d; do
	out=$(hit $c $N)
	pods=$(pods_of "$out")
	again=$(pods_of "$(hit $c $N)")
	FIRST[$c]=$(echo "$pods" | awk '{print $1}')
	if ! echo "$out" | grep -q '^errors 0' || [ "$(echo "$pods" | wc -l)" != 1 ] ||
		[ "$(echo "$pods" | awk '{print $2}')" != $N ] || [ "$pods" != "$again" ]; then
		bad="$bad $c: [$pods] then [$again];"
	fi
done
if [ -z "$bad" ]; then t_pass "$(for c in "${!FIRST[@]}"; do printf '%s->%s ' "$c" "${FIRST[$c]}"; done)"
else t_fail "$bad"; fi

t_begin "without the hash (the guide's DestinationRule) one client's connections spread again"
gen=$(generation node-1)
lab apply "$EX/istio/destination-rule.yaml" >"$LOG" 2>&1
if wait_generation_change node-1 "$gen" 10; then
	pods=$(pods_of "$(hit client-a 200)")
	# 200 weighted-random picks over 3 pods all on one: probability 3 * (1/3)^200
	if [ "$(echo "$pods" | wc -l)" -ge 2 ]; then t_pass "$(echo $pods)"
	else t_fail "still one pod: $pods"; fi
else t_fail "generation stayed $gen; $(tail -3 "$LOG")"; fi

t_begin "the hash back: client-a is on one pod again"
gen=$(generation node-1)
lab apply "$FX/dr-source-ip.yaml" >"$LOG" 2>&1
if wait_generation_change node-1 "$gen" 10; then
	pods=$(pods_of "$(hit client-a $N)")
	if [ "$(echo "$pods" | wc -l)" = 1 ] && [ "$(echo "$pods" | awk '{print $1}')" = "${FIRST[client-a]}" ]
	then t_pass "$pods"; else t_fail "$pods (first run: ${FIRST[client-a]})"; fi
else t_fail "generation stayed $gen; $(tail -3 "$LOG")"; fi

t_summary
