#!/bin/bash
# The guide's payments mesh with its PeerAuthentication (STRICT in namespace payments), on two
# nodes: the frontend reaches payments-api on both nodes (the remote share over HBONE, the local
# share in the kernel), and plaintext clients outside the mesh reach no payments-api pod, on the
# same node or across.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
EX="$HERE/../../examples/payments"

outbound_sum() {
	local n s=0
	for n in node-1 node-2; do
		s=$((s + $(config_dump $n | sed -nE "s/.*\"outbound\":\\{[^}]*\"$1\":([0-9]+).*/\\1/p")))
	done
	echo $s
}

t_begin "lab up: payments on 2 nodes with the guide's DestinationRule, VirtualService, STRICT"
if lab up --nodes 2 "$EX"/0*.yaml "$EX"/[1-9]*.yaml "$EX/istio/destination-rule.yaml" \
	"$EX/istio/virtual-service.yaml" "$EX/istio/peer-authentication.yaml" \
	"$HERE/fixtures/outsiders.yaml" >"$LOG" 2>&1; then t_pass
else t_fail "$(tail -5 "$LOG")"; fi

t_begin "frontend -> payments-api under STRICT: every request answered, both nodes' pods"
before=$(outbound_sum hbone_in)
out=$(lab exec -n frontend deploy/frontend -- "$BUILD/bin/skiff-hit" -n 200 payments-api.payments:80)
after=$(outbound_sum hbone_in)
read -r v1 v2 _ err total < <(echo "$out" | hits_by_version)
if [ "$err" = 0 ] && [ "$total" = 200 ] && [ "$v2" -gt 0 ] && [ "$after" -gt "$before" ] &&
	[ "$(echo "$out" | grep -c '^pod payments-api-v1-')" = 2 ]; then
	t_pass "v1=$v1 v2=$v2, $((after - before)) over HBONE"
else t_fail "hbone_in $before -> $after; $out"; fi

t_begin "the payments-api side knows the caller: spiffe://cluster.local/ns/frontend/sa/frontend-sa"
if grep -qh 'inbound src.principal=spiffe://cluster.local/ns/frontend/sa/frontend-sa' \
	"$STATE"/logs/skiffd-node-*.log; then t_pass
else t_fail "$(grep -h 'skiffd hbone' "$STATE"/logs/skiffd-node-*.log | tail -3)"; fi

t_begin "plaintext from outside the mesh reaches no payments-api pod, same node or across"
ok=1 tried=0
for ip in $(lab status | awk 'index($1, "payments/payments-api-") == 1 { print $3 }'); do
	for s in stranger-1 stranger-2; do
		tried=$((tried + 1))
		if lab exec -n outside "deploy/$s" -- timeout 1.5 bash -c "exec 3<>/dev/tcp/$ip/8080" \
			>/dev/null 2>&1; then
			ok=0
			echo "# $s reached $ip" >&2
		fi
	done
done
if [ $ok = 1 ] && [ $tried = 6 ]; then t_pass "$tried attempts refused"
else t_fail "tried $tried"; fi

t_summary
