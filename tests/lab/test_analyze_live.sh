#!/bin/bash
# skiffctl analyze --live against a real skiffd (the payments lab): it analyzes what skiffd's
# configuration source holds now (as istioctl analyzes the cluster, a change skiffd refused
# included, which it names), applies -f files on top of it, and names a mesh pod skiffd cannot
# enrol (SKF0004) with the file:line skiffd read it from.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
EX="$HERE/../../examples/payments"
OUT=$(mktemp /tmp/skiff-analyze-live.XXXXXX)
T_OWN+=("$OUT")

# live_analyze ARGS...: skiffctl analyze --live on node-1 (inside its netns); output in $OUT
live_analyze() {
	lab exec --node node-1 -- "$BUILD/bin/skiffctl" analyze --live "$@" >"$OUT" 2>&1
}

t_begin "lab up: payments with 90/10"
if lab up "$EX"/0*.yaml "$EX"/[1-9]*.yaml "$EX/istio/destination-rule.yaml" \
	"$EX/istio/virtual-service.yaml" >"$LOG" 2>&1; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi

t_begin "the running configuration has no Error (exit 0), enrols every pod, enforces the retries"
live_analyze
rc=$?
if [ "$rc" != 0 ]; then
	t_fail "exit $rc: $(cat "$OUT")"
elif grep -q "SKF0004\|^Error" "$OUT"; then
	t_fail "$(cat "$OUT")"
elif grep -q "SKF0001.*retries" "$OUT"; then
	t_fail "the guide's retries reported as not enforced (the L7 router applies them): $(cat "$OUT")"
else t_pass; fi

t_begin "a file on top of the live view: the guide's host typo is IST0101 at file:line, exit 79"
TYPO=$STATE/typo.yaml
cat >"$TYPO" <<'YAML'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: payments-api
  namespace: payments
spec:
  hosts:
  - payments-api
  http:
  - route:
    - destination:
        host: payments-apii
YAML
live_analyze -f "$TYPO" -n payments
rc=$?
if [ "$rc" = 79 ] && grep -qF "Error [IST0101] (VirtualService payments/payments-api $TYPO:12) Referenced host not found: \"payments-apii\"" "$OUT" &&
	! grep -q "SKF0001.*retries" "$OUT"; then
	t_pass
else t_fail "exit $rc: $(cat "$OUT")"; fi

t_begin "a change skiffd refused: --live names what is wrong in it, as the directory does"
rej=$(rejected node-1)
config_put zz-subset.yaml <<'YAML'
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
for _ in $(seq 100); do [ "$(rejected node-1)" != "$rej" ] && break; sleep 0.1; done
live_analyze
live_rc=$?
live_out=$(cat "$OUT")
"$BUILD/bin/skiffctl" analyze "$STATE/config" >"$OUT" 2>&1
dir_rc=$?
want='Referenced host+subset in destinationrule not found: "payments-api+v3"'
if [ "$live_rc" = 79 ] && [ "$dir_rc" = 79 ] && grep -qF "$want" "$OUT" &&
	grep -F "$want" <<<"$live_out" | grep -q "zz-subset.yaml"; then
	t_pass
else t_fail "live exit $live_rc: $live_out; dir exit $dir_rc: $(cat "$OUT")"; fi
rm -f "$STATE/config/zz-subset.yaml"

t_begin "a mesh pod whose cgroup skiffd cannot find is SKF0004, with skiffd's file:line"
rel=$(reloads node-1)
config_put zz-ghost.yaml <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: ghost-0
  namespace: payments
  uid: 00000000-0000-0000-0000-00000000dead
  labels: {app: ghost}
spec:
  nodeName: node-1
  containers: [{name: ghost, image: skiff/echo}]
status:
  podIP: 198.18.0.250
YAML
wait_reload node-1 "$rel" >/dev/null
for _ in $(seq 30); do
	config_dump node-1 | grep -q '"pods_pending":[1-9]' && break
	sleep 0.1
done
live_analyze -n payments
rc=$?
if grep -qF "Warning [SKF0004] (Pod payments/ghost-0 $STATE/config/zz-ghost.yaml:2) The pod is in the mesh on node node-1, but skiffd has not enrolled it" "$OUT"; then
	t_pass "exit $rc"
else t_fail "exit $rc: $(cat "$OUT"); $(config_dump node-1 | head -c 400)"; fi
rm -f "$STATE/config/zz-ghost.yaml"

t_begin "the guide's other common mistake, a namespace not in the mesh: IST0102 with file:line and the fix"
rel=$(reloads node-1)
config_put zz-orders.yaml <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: orders
---
apiVersion: v1
kind: Pod
metadata:
  name: orders-0
  namespace: orders
  uid: 00000000-0000-0000-0000-0000000beef0
  labels: {app: orders}
spec:
  nodeName: node-1
  containers: [{name: orders, image: skiff/echo}]
status:
  podIP: 198.18.0.251
YAML
wait_reload node-1 "$rel" >/dev/null
live_analyze -n orders
rc=$?
if grep -qF "[IST0102] (Namespace orders $STATE/config/zz-orders.yaml:2)" "$OUT" &&
	grep -qF "kubectl label namespace orders istio.io/dataplane-mode=ambient" "$OUT"; then
	t_pass "exit $rc"
else t_fail "exit $rc: $(cat "$OUT")"; fi
rm -f "$STATE/config/zz-orders.yaml"

t_begin "no skiffd at the address: exit 1 and says so"
live_analyze 127.0.0.1:1
rc=$?
if [ "$rc" = 1 ] && grep -q "cannot reach skiffd at 127.0.0.1:1" "$OUT"; then t_pass
else t_fail "exit $rc: $(cat "$OUT")"; fi

t_summary
