#!/bin/bash
# skiffctl status, maps and config dump against a real two-node lab (payments, 90/10): every
# node SYNCED; a pod of an enrolled namespace outside the mesh listed with its reason; STALE with
# the error while a bad configuration is refused, SYNCED after the fix; the JSON shapes; the
# program ids it reports are the kernel's; maps decoded with names and weights; bpftool still
# reads the same pins; config dump lists the services.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
EX="$HERE/../../examples/payments"
OUT=$(mktemp /tmp/skiff-status.XXXXXX)
T_OWN+=("$OUT")
PIN=/sys/fs/bpf/skiff-lab/node-1
CTL="$BUILD/bin/skiffctl"

status() { "$CTL" status --lab "$@" >"$OUT" 2>&1; }
# on_node1 CMD...: a skiffctl command inside node-1's netns, where its skiffd's admin port is
on_node1() { lab exec --node node-1 -- "$CTL" "$@" >"$OUT" 2>&1; }
# jcheck PYTHON-EXPR: evaluate an assertion on the JSON in $OUT (bound to d)
jcheck() { python3 -c "import json,sys; d=json.load(open('$OUT')); sys.exit(0 if ($1) else 1)"; }

t_begin "lab up: payments with 90/10 on 2 nodes, and a pod opted out by label"
OPTOUT=$STATE/optout.yaml
cat >"$OPTOUT" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: batch
  namespace: payments
spec:
  selector:
    matchLabels: {app: batch}
  template:
    metadata:
      labels: {app: batch, skiff.io/mesh: disabled}
    spec:
      nodeName: node-1
      containers:
      - {name: batch, image: skiff/echo}
YAML
if lab up --nodes 2 "$EX"/0*.yaml "$EX"/[1-9]*.yaml "$EX/istio/destination-rule.yaml" \
	"$EX/istio/virtual-service.yaml" "$OPTOUT" >"$LOG" 2>&1; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi

t_begin "status --lab: both nodes SYNCED, exit 0, with programs and maps"
status
rc=$?
if [ "$rc" = 0 ] && [ "$(grep -cE '^node-[12] +SYNCED ' "$OUT")" = 2 ] &&
	grep -qE '^ +cgroup/connect4 +sock_connect4 +id [0-9]+ +cgroup /sys/fs/cgroup/' "$OUT" &&
	grep -qE '^ +skiff_services +hash +[0-9]+/[0-9]+ \(' "$OUT"; then
	t_pass
else t_fail "exit $rc: $(cat "$OUT")"; fi

t_begin "the pod opted out by label is listed with its reason, not as enrolled"
if grep -qE '^ +payments/batch-[a-z0-9-]+: opted out by label skiff.io/mesh=disabled$' "$OUT" &&
	! grep -E '^  enrolled pods' "$OUT" | grep -q 'payments/batch-'; then
	t_pass
else t_fail "$(cat "$OUT")"; fi

t_begin "status --json: the shape, and the program ids are the kernel's (bpftool prog show)"
status --json
ids=$(bpftool prog show | sed -nE 's/^([0-9]+): .*/\1/p' | tr '\n' ' ')
if jcheck "len(d['nodes']) == 2 and all(
	n['sync']['state'] == 'SYNCED' and isinstance(n['sync']['generation'], int) and
	n['sync']['generation'] > 0 and n['sync']['applied_config'] == n['sync']['newest_config'] and
	n['sync']['reason'] is None and
	len(n['programs']) >= 5 and all(isinstance(p['id'], int) and p['hook'] and
		('cgroup' in p or 'interface' in p) for p in n['programs']) and
	all(set(m) >= {'name', 'type', 'entries', 'max_entries'} for m in n['maps']) and
	any(m['name'] == 'skiff_services' and 0 < m['entries'] <= m['max_entries'] for m in n['maps']) and
	isinstance(n['enrolled_pods'], list) and
	all(set(p) == {'pod', 'reason'} for p in n['pods_not_in_mesh'])
	for n in d['nodes']) and
	sorted(n['node'] for n in d['nodes']) == ['node-1', 'node-2'] and
	all(str(p['id']) in '$ids'.split() for n in d['nodes'] for p in n['programs'])"; then
	t_pass
else t_fail "$(head -c 3000 "$OUT"); kernel ids: $ids"; fi

t_begin "every enrolled pod is counted once: enrolled and not-in-mesh lists are disjoint"
if jcheck "all(not set(n['enrolled_pods']) & {p['pod'] for p in n['pods_not_in_mesh']}
	for n in d['nodes']) and sum(len(n['enrolled_pods']) for n in d['nodes']) >= 4"; then
	t_pass
else t_fail "$(head -c 2000 "$OUT")"; fi

t_begin "a mesh pod whose cgroup does not exist: 'no cgroup found yet'; a host-network pod"
rel=$(reloads node-1)
config_put zz-ghost.yaml <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: ghost-0
  namespace: payments
  uid: 00000000-0000-0000-0000-00000000beef
  labels: {app: ghost}
spec:
  nodeName: node-1
  containers: [{name: ghost, image: skiff/echo}]
status:
  podIP: 198.18.0.251
---
apiVersion: v1
kind: Pod
metadata:
  name: hostnet-0
  namespace: payments
  uid: 00000000-0000-0000-0000-00000000cafe
  labels: {app: hostnet}
spec:
  nodeName: node-1
  hostNetwork: true
  containers: [{name: agent, image: skiff/echo}]
status:
  podIP: 198.18.0.1
YAML
wait_reload node-1 "$rel" >/dev/null
for _ in $(seq 30); do
	config_dump node-1 | grep -q '"pods_pending":[1-9]' && break
	sleep 0.1
done
status
if grep -qE '^ +payments/ghost-0: no cgroup found yet' "$OUT" &&
	grep -qE '^ +payments/hostnet-0: host network$' "$OUT"; then t_pass
else t_fail "$(cat "$OUT")"; fi
rel=$(reloads node-1)
rm -f "$STATE/config/zz-ghost.yaml"
wait_reload node-1 "$rel" >/dev/null

t_begin "a refused configuration: STALE with its error on both nodes, exit 1, generation unchanged"
rej1=$(rejected node-1) rej2=$(rejected node-2)
gen=$(generation node-1)
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
for _ in $(seq 100); do
	[ "$(rejected node-1)" != "$rej1" ] && [ "$(rejected node-2)" != "$rej2" ] && break
	sleep 0.1
done
status
rc=$?
if [ "$rc" = 1 ] && [ "$(grep -cE '^node-[12] +STALE ' "$OUT")" = 2 ] &&
	[ "$(grep -c '^  reason: configuration rejected.*subset v3' "$OUT")" = 2 ] &&
	[ "$(generation node-1)" = "$gen" ]; then
	t_pass
else t_fail "exit $rc: $(cat "$OUT")"; fi

t_begin "STALE in JSON: the applied configuration is older than the newest seen, with the reason"
status --json
if jcheck "all(n['sync']['state'] == 'STALE' and
	n['sync']['applied_config'] < n['sync']['newest_config'] and
	'subset v3' in n['sync']['reason'] for n in d['nodes'])"; then t_pass
else t_fail "$(head -c 2000 "$OUT")"; fi

t_begin "the bad file removed: SYNCED again on both nodes, exit 0"
rm -f "$STATE/config/zz-subset.yaml"
for _ in $(seq 100); do
	status && break
	sleep 0.1
done
status
rc=$?
if [ "$rc" = 0 ] && [ "$(grep -cE '^node-[12] +SYNCED ' "$OUT")" = 2 ]; then t_pass
else t_fail "exit $rc: $(cat "$OUT")"; fi

t_begin "maps services: the canary named, 3 backends at 45/45/10 by version"
on_node1 maps services --pin-dir "$PIN"
rc=$?
if [ "$rc" = 0 ] &&
	grep -qF 'payments/payments-api:80 → 3 backends (v1 45 %, v1 45 %, v2 10 %)' "$OUT"; then
	t_pass
else t_fail "exit $rc: $(cat "$OUT")"; fi

t_begin "maps backends: each slot with its pod, version and share"
on_node1 maps backends --pin-dir "$PIN"
if [ "$(grep -cE '^payments/payments-api:80 +[0-2] +[0-9.]+:8080 +payments/payments-api-v1-[a-z0-9-]+ +v1 +45 %$' "$OUT")" = 2 ] &&
	grep -qE '^payments/payments-api:80 +[0-2] +[0-9.]+:8080 +payments/payments-api-v2-[a-z0-9-]+ +v2 +10 %$' "$OUT"; then
	t_pass
else t_fail "$(cat "$OUT")"; fi

t_begin "maps --json agrees with bpftool's dump of the same pins (active generation)"
on_node1 maps services --json --pin-dir "$PIN"
cp "$OUT" "$OUT.maps"
T_OWN+=("$OUT.maps")
bpftool -j map dump pinned "$PIN/skiff_services" >"$OUT.svc" 2>&1
bpftool -j map dump pinned "$PIN/skiff_config" >"$OUT.cfg" 2>&1
T_OWN+=("$OUT.svc" "$OUT.cfg")
if python3 - "$OUT.maps" "$OUT.svc" "$OUT.cfg" <<'PY'; then t_pass; else t_fail "$(head -c 1500 "$OUT.maps"; head -c 800 "$OUT.svc")"; fi
import json, sys
ours = json.load(open(sys.argv[1]))["services"]
svc = json.load(open(sys.argv[2]))
gen = json.load(open(sys.argv[3]))[0]["formatted"]["value"]["active_gen"]
live = [e["formatted"] for e in svc if e["formatted"]["key"]["gen"] == gen]
pay = [s for s in ours if s["name"] == "payments/payments-api:80/TCP"]
assert len(ours) == len(live), (len(ours), len(live))
assert len(pay) == 1 and pay[0]["weight_total"] > 0
assert sorted(b["weight"] for b in pay[0]["backends"]) == sorted(
    [pay[0]["weight_total"] * 45 // 100] * 2 + [pay[0]["weight_total"] // 10]), pay
assert sorted(b["version"] for b in pay[0]["backends"]) == ["v1", "v1", "v2"], pay
PY

t_begin "maps enrolled, mtls and stats name the pods; the opted-out pod is not enrolled"
on_node1 maps enrolled --pin-dir "$PIN"
enr=$(cat "$OUT")
on_node1 maps mtls --pin-dir "$PIN"
mtls=$(cat "$OUT")
on_node1 maps stats --json --pin-dir "$PIN"
if grep -qE '^payments/payments-api-v[12]-[a-z0-9-]+ +cgroup [0-9]+ +workload [0-9]+ +enrolled' <<<"$enr" &&
	! grep -q 'payments/batch-' <<<"$enr" &&
	grep -qE '^payments/payments-api-v[12]-[a-z0-9-]+ +[0-9.]+ +port 0 +PERMISSIVE' <<<"$mtls" &&
	jcheck "isinstance(d['stats']['l4'], list) and 'drop_tc' in d['stats']['guard']"; then
	t_pass
else t_fail "enrolled: $enr; mtls: $mtls; stats: $(head -c 800 "$OUT")"; fi

t_begin "config dump: the services with their backends, readable and as JSON"
on_node1 config dump
txt=$(cat "$OUT")
on_node1 config dump --json
if grep -qF 'payments/payments-api:80 → 3 backends (v1 45 %, v1 45 %, v2 10 %)' <<<"$txt" &&
	grep -q '^node node-1: generation [0-9]*, applied' <<<"$txt" &&
	jcheck "any(s['name'] == 'payments/payments-api:80/TCP' and len(s['backends']) == 3
		for s in d['services']) and d['node'] == 'node-1'"; then
	t_pass
else t_fail "$txt"; fi

t_begin "STRICT: the TC guard on each payments pod's veth, listed by interface; mtls says STRICT"
gen=$(generation node-1)
lab apply "$EX/istio/peer-authentication.yaml" >"$LOG" 2>&1
wait_generation_change node-1 "$gen" 30
ifs=$(lab exec --node node-1 -- ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | tr '\n' ' ')
on_node1 maps mtls --pin-dir "$PIN"
if "$CTL" status --lab --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
n1 = [n for n in d['nodes'] if n['node'] == 'node-1'][0]
tc = [p for p in n1['programs'] if p['hook'] == 'tc/egress']
pay = [p for p in n1['enrolled_pods'] if p.startswith('payments/')]
assert len(tc) == len(pay) >= 1, (tc, pay)
assert all(p['program'] == 'guard_pod' and p['interface'] in '$ifs'.split() for p in tc), (tc, '$ifs')
" && grep -qE '^payments/payments-api-v[12]-[a-z0-9-]+ +[0-9.]+ +port 0 +STRICT' "$OUT"; then
	t_pass
else t_fail "ifaces: $ifs; mtls: $(cat "$OUT")"; fi

t_begin "maps policy: an L4 AuthorizationPolicy as named pod pairs, one row per kernel entry"
AP=$STATE/authz-l4.yaml
cat >"$AP" <<'YAML'
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: api-from-payments
  namespace: payments
spec:
  selector:
    matchLabels: {app: payments-api}
  action: ALLOW
  rules:
  - from:
    - source: {namespaces: ["payments"]}
    to:
    - operation: {ports: ["8080"]}
YAML
gen=$(generation node-1)
lab apply "$AP" >"$LOG" 2>&1
wait_generation_change node-1 "$gen" 30
on_node1 maps policy --pin-dir "$PIN"
txt=$(cat "$OUT")
on_node1 maps policy --json --pin-dir "$PIN"
entries=$(bpftool -j map dump pinned "$PIN/skiff_policy" 2>>"$LOG" |
	python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
if jcheck "len(d['policy']) == $entries > 0 and
	all(r['verdict'] in ('ALLOW', 'DENY') for r in d['policy']) and
	any(r['to'].startswith('payments/payments-api-') for r in d['policy'])" &&
	grep -qE '^[a-z0-9./-]+ +-> payments/payments-api-[a-z0-9-]+ +port [0-9]+ ' <<<"$txt"; then
	t_pass "$entries entries"
else t_fail "bpftool: $entries entries; $(head -c 1500 "$OUT"); text: $(head -5 <<<"$txt")"; fi

t_begin "maps --raw: bpftool's dump of the pins, as before"
"$CTL" maps --raw --pin-dir "$PIN" >"$OUT" 2>&1
if grep -q "== $PIN/skiff_services" "$OUT" && grep -q '"weight_total"' "$OUT"; then t_pass
else t_fail "$(head -20 "$OUT")"; fi

t_begin "--node-addr: the status port (metrics listener, :15020) serves the same /status"
on_node1 status --node-addr 127.0.0.1 --json
if jcheck "len(d['nodes']) == 1 and d['nodes'][0]['node'] == 'node-1' and
	d['nodes'][0]['address'] == '127.0.0.1:15020' and d['nodes'][0]['sync']['state'] == 'SYNCED'" &&
	lab exec --node node-1 -- curl -s --max-time 2 127.0.0.1:15020/metrics | grep -q '^skiff_'; then
	t_pass
else t_fail "$(head -c 1500 "$OUT")"; fi

t_begin "no skiffd at the address: status says so and exits 1"
"$CTL" status --node-addr 127.0.0.1:1 >"$OUT" 2>&1
rc=$?
if [ "$rc" = 1 ] && grep -q "127.0.0.1:1 .*ERROR.*cannot reach skiffd at 127.0.0.1:1" "$OUT"; then
	t_pass
else t_fail "exit $rc: $(cat "$OUT")"; fi

t_summary
