#!/bin/bash
# Canary split in the kernel: the guide's 90/10 VirtualService over DestinationRule subsets,
# a live shift to 50/50, and the service map readable with bpftool.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
EX="$HERE/../../examples/payments"
N=1000

t_begin "lab up: payments mesh on 2 nodes with the guide's DestinationRule and 90/10 VirtualService"
if lab up --nodes 2 "$EX"/0*.yaml "$EX"/[1-9]*.yaml "$EX/istio/destination-rule.yaml" \
	"$EX/istio/virtual-service.yaml" >"$LOG" 2>&1; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi

t_begin "90/10 split of $N TCP connections within the 99.9% binomial bound"
read -r v1 v2 _ err total < <(lab exec -n frontend deploy/frontend -- \
	"$BUILD/bin/skiff-hit" -n $N payments-api.payments:80 | hits_by_version)
if [ "$err" = 0 ] && [ "$total" = $N ] && [ $((v1 + v2)) = $N ] && within_binomial "$v2" $N 0.1; then
	t_pass "v1=$v1 v2=$v2"
else t_fail "v1=$v1 v2=$v2 errors=$err total=$total"; fi

t_begin "both v1 pods get traffic (route weight split over the subset's endpoints)"
out=$(lab exec -n frontend deploy/frontend -- "$BUILD/bin/skiff-hit" -n 200 payments-api.payments:80)
if [ "$(echo "$out" | grep -c '^pod payments-api-v1-')" = 2 ]; then t_pass; else t_fail "$out"; fi

t_begin "live patch to 50/50 is applied within 1 s and the split follows"
gen=$(generation node-1)
lab apply "$EX/istio/virtual-service-50-50.yaml" >"$LOG" 2>&1
if wait_generation_change node-1 "$gen" 10; then
	read -r v1 v2 _ err total < <(lab exec -n frontend deploy/frontend -- \
		"$BUILD/bin/skiff-hit" -n $N payments-api.payments:80 | hits_by_version)
	if [ "$err" = 0 ] && within_binomial "$v2" $N 0.5; then t_pass "v1=$v1 v2=$v2"
	else t_fail "v1=$v1 v2=$v2 errors=$err"; fi
else t_fail "generation stayed $gen; $(tail -3 "$LOG")"; fi

t_begin "both nodes' skiffd applied the patch"
d1=$(config_dump node-1) d2=$(config_dump node-2)
if echo "$d2" | grep -q '"applied":true' && [ "$(generation node-2)" != 0 ] &&
	echo "$d1" | grep -q '"weight"'; then t_pass; else t_fail "$d2"; fi

t_begin "bpftool map dump of skiff_services prints named fields"
dump=$(bpftool map dump pinned /sys/fs/bpf/skiff-lab/node-1/skiff_services 2>&1)
if echo "$dump" | grep -q '"addr"' && echo "$dump" | grep -q '"weight_total"' &&
	echo "$dump" | grep -q '"svc_id"'; then t_pass; else t_fail "$(echo "$dump" | head -20)"; fi

t_begin "VirtualService retries are enforced by the L7 router: no not-enforced warning for them"
if ! grep -q "retries is accepted but not enforced yet" "$STATE/logs/skiffd-node-1.log" &&
	grep -q "HTTP rules: .*L7 router\|outbound proxy" "$STATE/logs/skiffd-node-1.log"; then t_pass
else t_fail "$(grep -i "not enforced" "$STATE/logs/skiffd-node-1.log" | head -3)"; fi

t_begin "tcp routes choose per port (match.port); the http route does not apply to tcp ports"
gen=$(generation node-1)
lab apply "$HERE/fixtures/canary/tcp-routes.yaml" >"$LOG" 2>&1
if wait_generation_change node-1 "$gen" 10; then
	read -r a1 a2 _ aerr atot < <(lab exec -n frontend deploy/frontend -- \
		"$BUILD/bin/skiff-hit" -n 100 payments-tcp.payments:9000 | hits_by_version)
	read -r b1 b2 _ berr btot < <(lab exec -n frontend deploy/frontend -- \
		"$BUILD/bin/skiff-hit" -n 100 payments-tcp.payments:9001 | hits_by_version)
	# the http route sends everything to v2's port 9000: v1 answering on 9000 shows it unused
	if [ "$a1/$a2/$aerr/$atot" = 100/0/0/100 ] && [ "$b1/$b2/$berr/$btot" = 0/100/0/100 ]
	then t_pass
	else t_fail "9000: v1=$a1 v2=$a2 err=$aerr; 9001: v1=$b1 v2=$b2 err=$berr"; fi
else t_fail "generation stayed $gen; $(tail -3 "$LOG")"; fi

t_summary
