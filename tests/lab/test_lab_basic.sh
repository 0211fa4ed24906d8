#!/bin/bash
# The lab itself, without skiffd (`up --no-agent`): two nodes, pods reachable pod-to-pod across
# nodes over IPv4 and IPv6, exec with the pod's cgroup and hosts file, the config skiffd reads,
# apply/delete/label, a crashed `up`, and a `down` that leaves nothing behind.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
LOG=$(mktemp /tmp/skiff-lab-basic.XXXXXX)
YAML=$(mktemp /tmp/skiff-lab-basic.XXXXXX.yaml)
EXTRA=$(mktemp -d /tmp/skiff-lab-basic.XXXXXX)
trap 't_cleanup; rm -rf "$LOG" "$YAML" "$EXTRA"' EXIT

cat >"$YAML" <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: basic
  labels:
    skiff.io/mesh: enabled
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: echo-sa
  namespace: basic
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
  namespace: basic
spec:
  replicas: 2
  selector:
    matchLabels: {app: echo}
  template:
    metadata:
      labels: {app: echo, version: v1}
    spec:
      serviceAccountName: echo-sa
      containers:
      - name: echo
        image: skiff/echo
        ports:
        - {name: http, containerPort: 8080}
        - {name: tcp-echo, containerPort: 9000}
        - {name: udp-echo, containerPort: 5353, protocol: UDP}
---
apiVersion: v1
kind: Service
metadata:
  name: echo
  namespace: basic
spec:
  ipFamilyPolicy: PreferDualStack
  selector: {app: echo}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: udp-echo, port: 53, targetPort: 5353, protocol: UDP}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: client
  namespace: basic
spec:
  selector:
    matchLabels: {app: client}
  template:
    metadata:
      labels: {app: client}
    spec:
      nodeName: node-1
      containers:
      - name: client
        image: skiff/client
YAML

hit() { lab exec -n basic deploy/client -- "$BUILD/bin/skiff-hit" "$@"; }
# pod_field NAME-PREFIX COLUMN: a column of `lab status` for the first pod matching basic/PREFIX.
pod_field() { lab status | awk -v p="basic/$1" -v c="$2" 'index($1, p) == 1 {print $c; exit}'; }
leftovers() {
	ip netns list | grep -q '^skl-' && echo "netns: $(ip netns list | grep '^skl-' | tr '\n' ' ')"
	[ -e /sys/fs/cgroup/unified/skiff-lab ] && echo "cgroup /sys/fs/cgroup/unified/skiff-lab"
	[ -e /sys/fs/bpf/skiff-lab ] && echo "bpffs /sys/fs/bpf/skiff-lab"
	[ -e "$STATE/state" ] && echo "state file $STATE/state"
	true
}

t_begin "down on a clean machine is a no-op that succeeds"
if lab down >"$LOG" 2>&1 && [ -z "$(leftovers)" ]; then t_pass; else t_fail "$(cat "$LOG")"; fi

t_begin "up --no-agent: 2 nodes, 3 pods"
if lab up --nodes 2 --no-agent "$YAML" >"$LOG" 2>&1 &&
	[ "$(lab status | grep -c '^basic/.*alive$')" = 3 ]; then t_pass
else t_fail "$(cat "$LOG"; lab status 2>&1)"; fi

t_begin "up again is refused and says to run down"
if ! lab up --no-agent "$YAML" >"$LOG" 2>&1 && grep -q 'down' "$LOG"; then t_pass
else t_fail "$(cat "$LOG")"; fi

e1=$(lab status | awk '/^basic\/echo-/ && $2 == "node-1" {print $1; exit}' | cut -d/ -f2)
e2=$(lab status | awk '/^basic\/echo-/ && $2 == "node-2" {print $1; exit}' | cut -d/ -f2)
ip4=$(pod_field "$e2" 3)
ip6=$(pod_field "$e2" 4)

t_begin "echo pods spread round-robin over both nodes, client pinned to node-1"
if [ -n "$e1" ] && [ -n "$e2" ] && [ "$(pod_field client- 2)" = node-1 ]; then t_pass
else t_fail "$(lab status)"; fi

t_begin "HTTP across nodes over IPv4 ($ip4), peer checked"
out=$(hit -n 20 "$ip4:8080")
if echo "$out" | grep -qx "pod $e2 20" && echo "$out" | grep -qx 'peer_mismatch 0'; then t_pass
else t_fail "$out"; fi

t_begin "HTTP across nodes over IPv6 ($ip6)"
out=$(hit -n 20 "[$ip6]:8080")
if echo "$out" | grep -qx "pod $e2 20" && echo "$out" | grep -qx 'errors 0'; then t_pass
else t_fail "$out"; fi

t_begin "raw TCP whoami and UDP echo, both families, same node and across"
out=$(hit -n 5 --tcp-whoami "$(pod_field "$e1" 3):9000"; hit -n 5 --udp "[$ip6]:5353";
	hit -n 5 --udp "$ip4:5353"; hit -n 5 --tcp-whoami "[$(pod_field "$e1" 4)]:9000")
if [ "$(echo "$out" | grep -c '^errors 0')" = 4 ] && [ "$(echo "$out" | grep -c "^pod $e1 5")" = 2 ] &&
	[ "$(echo "$out" | grep -c "^pod $e2 5")" = 2 ]; then t_pass; else t_fail "$out"; fi

t_begin "echo answers with the pod's identity and labels"
out=$(lab exec -n basic deploy/client -- curl -s --max-time 2 "http://$ip4:8080/x?y=1")
if echo "$out" | grep -q "\"pod\":\"$e2\"" && echo "$out" | grep -q '"namespace":"basic"' &&
	echo "$out" | grep -q '"version":"v1"' && echo "$out" | grep -q '"path":"/x?y=1"'; then t_pass
else t_fail "$out"; fi

t_begin "exec: the pod's hosts file resolves Services (short, .ns, FQDN; IPv4 and IPv6)"
h=$(lab exec -n basic deploy/client -- getent ahosts echo.basic.svc.cluster.local)
short=$(lab exec -n basic deploy/client -- getent ahostsv4 echo | awk '{print $1; exit}')
if echo "$h" | grep -q '^198\.19\.0\.1 ' && echo "$h" | grep -q '^2001:db8:ff::1 ' &&
	[ "$short" = 198.19.0.1 ]; then t_pass; else t_fail "short=$short $h"; fi

t_begin "exec: in the pod's cgroup and netns; exit status passed through"
out=$(lab exec -n basic deploy/client -- sh -c 'grep "^0::" /proc/self/cgroup; ip -br addr show eth0; exit 7')
rc=$?
if [ $rc = 7 ] && echo "$out" | grep -q '^0::/skiff-lab/node-1/kubepods/pod[0-9a-f-]\{36\}$' &&
	echo "$out" | grep -q '198\.18\.1\.'; then t_pass; else t_fail "rc=$rc $out"; fi

t_begin "exec --node: the node's netns"
out=$(lab exec --node node-2 -- ip -br addr show eth0)
if echo "$out" | grep -q '198\.18\.0\.2/24' && echo "$out" | grep -q '2001:db8::2/64'; then t_pass
else t_fail "$out"; fi

t_begin "config: Pods, Services (ClusterIPs), EndpointSlices (named targetPort resolved)"
C=$STATE/config
if [ "$(grep -c '^kind: Pod$' "$C/lab-pods.yaml")" = 3 ] &&
	grep -q 'serviceAccountName: "echo-sa"' "$C/lab-pods.yaml" &&
	grep -q 'nodeName: node-2' "$C/lab-pods.yaml" &&
	grep -q "podIP: \"$ip4\"" "$C/lab-pods.yaml" &&
	grep -q '"pod-template-hash"' "$C/lab-pods.yaml" &&
	grep -q '^  - "2001:db8:ff::1"' "$C/lab-services.yaml" &&
	grep -q '^addressType: IPv6$' "$C/lab-endpointslices.yaml" &&
	[ "$(grep -c '^  port: 8080$' "$C/lab-endpointslices.yaml")" = 2 ] &&
	[ "$(grep -c '^- addresses:$' "$C/lab-endpointslices.yaml")" = 4 ] &&
	grep -q '"skiff.io/mesh": "enabled"' "$C/lab-namespaces.yaml" &&
	grep -q 'name: "echo-sa"' "$C/lab-serviceaccounts.yaml"; then t_pass
else t_fail "$(cat "$C"/lab-*.yaml | head -120)"; fi

t_begin "label namespace: set and remove rewrite lab-namespaces.yaml"
lab label namespace basic istio.io/dataplane-mode=ambient >"$LOG" 2>&1
a=$(grep -c '"istio.io/dataplane-mode": "ambient"' "$C/lab-namespaces.yaml")
lab label namespace basic skiff.io/mesh- >>"$LOG" 2>&1
b=$(grep -c '"skiff.io/mesh"' "$C/lab-namespaces.yaml")
if [ "$a" = 1 ] && [ "$b" = 0 ]; then t_pass; else t_fail "a=$a b=$b $(cat "$LOG")"; fi

t_begin "apply: scale echo to 3, Istio objects copied verbatim; a newer copy replaces the older"
sed 's/replicas: 2/replicas: 3/' "$YAML" >"$EXTRA/scaled.yaml"
cat >"$EXTRA/vs.yaml" <<'YAML'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: basic}
spec:
  hosts: [echo]
  http:
  - route:
    - destination: {host: echo}
YAML
sed 's/hosts: \[echo\]/hosts: [echo.basic]/' "$EXTRA/vs.yaml" >"$EXTRA/vs2.yaml"
lab apply "$EXTRA/scaled.yaml" "$EXTRA/vs.yaml" >"$LOG" 2>&1
n=$(lab status | grep -c '^basic/echo-.*alive$')
copied=$(cmp -s "$EXTRA/vs.yaml" "$C/user-vs.yaml" && echo yes)
lab apply "$EXTRA/vs2.yaml" >>"$LOG" 2>&1
if [ "$n" = 3 ] && [ "$copied" = yes ] && [ ! -e "$C/user-vs.yaml" ] && [ -e "$C/user-vs2.yaml" ] &&
	[ "$(grep -c '^- addresses:$' "$C/lab-endpointslices.yaml")" = 6 ]; then t_pass
else t_fail "n=$n copied=$copied $(ls "$C") $(cat "$LOG")"; fi

t_begin "delete: the client Deployment's pod goes (netns and cgroup too), the Istio copy goes"
client=$(pod_field client- 1 | cut -d/ -f2)
cat >"$EXTRA/client.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: basic}
spec:
  template:
    spec:
      containers: [{name: c, image: skiff/client}]
YAML
lab delete "$EXTRA/client.yaml" "$EXTRA/vs2.yaml" >"$LOG" 2>&1
if [ -n "$client" ] && ! lab status | grep -q "$client" && ! ip netns list | grep -q "skl-$client" &&
	[ "$(grep -c '^kind: Pod$' "$C/lab-pods.yaml")" = 3 ] && [ ! -e "$C/user-vs2.yaml" ]; then t_pass
else t_fail "$(lab status; cat "$LOG")"; fi

t_begin "state survives: a killed pod is reported dead, and down still cleans up"
pid=$(pod_field "$e1" 5)
kill -9 "$pid" 2>/dev/null
sleep 0.2
if [ -n "$pid" ] && [ "$(pod_field "$e1" 6)" = dead ]; then t_pass; else t_fail "$(lab status)"; fi

t_begin "down leaves no skl-* netns, no cgroup tree, no bpffs dir, no state"
lab down >"$LOG" 2>&1
rc=$?
left=$(leftovers)
if [ $rc = 0 ] && [ -z "$left" ]; then t_pass; else t_fail "rc=$rc $left $(cat "$LOG")"; fi

t_begin "kill -9 of skiff-lab in the middle of up: down still removes everything"
lab up --nodes 2 --no-agent "$YAML" >"$LOG" 2>&1 &
upid=$!
for _ in $(seq 200); do
	grep -q '^pod ' "$STATE/state" 2>/dev/null && break
	sleep 0.01
done
kill -9 $upid 2>/dev/null
wait $upid 2>/dev/null
had=$(ip netns list | grep -c '^skl-')
lab down >"$LOG" 2>&1
rc=$?
left=$(leftovers)
if [ "$had" -gt 0 ] && [ $rc = 0 ] && [ -z "$left" ]; then t_pass "$had netns before down"
else t_fail "had=$had rc=$rc $left $(cat "$LOG")"; fi

t_summary
