#!/bin/bash
# Bad input is refused whole with a precise message, and the last good configuration stays in
# force: malformed YAML, a route to an undefined subset, an invalid weight, a DestinationRule
# load balancer with two hash keys.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
EX="$HERE/../../examples/payments"

split_ok() { # the 90/10 split still holds; SPLIT says what was seen
	local out v1 v2 err total
	out=$(lab exec -n frontend deploy/frontend -- "$BUILD/bin/skiff-hit" -n 500 \
		payments-api.payments:80)
	read -r v1 v2 _ err total < <(hits_by_version <<<"$out")
	SPLIT="v1=$v1 v2=$v2 errors=$err: $(grep -v '^pod ' <<<"$out" | tr '\n' ' ')"
	[ "$err" = 0 ] && within_binomial "$v2" 500 0.1
}

# refused NAME CONTENT-ON-STDIN EXPECTED-TEXT: drop the file in, expect a refusal naming it.
refused() {
	local name=$1 expect=$2 gen rel rej dump now
	gen=$(generation node-1)
	rej=$(rejected node-1)
	config_put "$name"
	# Wait for the refusal itself, not just any reload: on a slow kernel (TCG) a reload caused
	# by the previous case's cleanup can still be in flight.
	for _ in $(seq 100); do
		[ "$(rejected node-1)" != "$rej" ] && break
		sleep 0.1
	done
	dump=$(config_dump node-1)
	now=$(generation node-1)
	rm -f "$STATE/config/$name"
	if [ "$now" != "$gen" ]; then
		t_fail "generation moved $gen -> $now"
	elif ! echo "$dump" | grep -qF -- "$expect"; then
		t_fail "last_error lacks '$expect': $dump"
	elif ! split_ok; then
		t_fail "the previous 90/10 configuration is no longer in force ($SPLIT)"
	else t_pass; fi
	rel=$(reloads node-1)
	wait_reload node-1 "$rel" >/dev/null
}

t_begin "lab up: payments with 90/10"
if lab up "$EX"/0*.yaml "$EX"/[1-9]*.yaml "$EX/istio/destination-rule.yaml" \
	"$EX/istio/virtual-service.yaml" >"$LOG" 2>&1; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi

t_begin "malformed YAML is refused with file:line, previous config in force"
refused zz-broken.yaml "zz-broken.yaml:" < <(printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: [broken\n')

t_begin "VirtualService to an undefined subset is refused, previous config in force"
refused zz-subset.yaml "subset v3" <<'YAML'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: payments-api-v3
  namespace: payments
spec:
  hosts:
  - payments-api.payments.svc.cluster.local
  http:
  - route:
    - destination:
        host: payments-api
        subset: v3
YAML

t_begin "negative weight is refused with the field and line"
refused zz-weight.yaml "zz-weight.yaml:12: VirtualService payments/bad-weight" <<'YAML'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: bad-weight
  namespace: payments
spec:
  hosts:
  - payments-api.payments.svc.cluster.local
  http:
  - route:
    - destination: {host: payments-api, subset: v1}
      weight: -5
    - destination: {host: payments-api, subset: v2}
      weight: 10
YAML

t_begin "DestinationRule hashing on two keys is refused with file:line, previous config in force"
refused zz-dr.yaml "zz-dr.yaml:11: DestinationRule payments/payments-api-hash" <<'YAML'
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: payments-api-hash
  namespace: payments
spec:
  host: payments-api
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpHeaderName: x-user
        useSourceIp: true
YAML

t_begin "after the bad files are removed, a good change still applies"
gen=$(generation node-1)
lab apply "$EX/istio/virtual-service-50-50.yaml" >"$LOG" 2>&1
if wait_generation_change node-1 "$gen" 20 && config_dump node-1 | grep -q '"last_error":null'
then t_pass; else t_fail "$(config_dump node-1)"; fi

t_summary
