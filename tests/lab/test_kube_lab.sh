#!/bin/bash
# The lab on the Kubernetes API (skiff-lab up --api), driven by kubectl as the Istio guide drives
# a cluster: every node's skiffd reads the lab's API server with --kubeconfig, and the Istio
# objects come and go with kubectl apply, patch, label and delete. One lab for every case:
#   kubectl get of what the lab's controllers publish (namespaces, pods, services)
#   the guide's DestinationRule + 90/10 VirtualService applied with kubectl, seen in traffic, then
#   the guide's `kubectl patch ... --type merge` to 50/50, seen in traffic
#   an invalid VirtualService by kubectl apply: the server takes it, skiffd refuses it naming
#   api: VirtualService payments/payments-api and the field, the generation and the 50/50 stay,
#   kubectl get works; a good one applied after it is a new generation
#   STRICT PeerAuthentication by kubectl apply: plaintext from outside refused, the mesh served
#   enrolment by `kubectl label namespace`: the outsiders' namespace joins the mesh and is served
#   kubectl delete -f of the PeerAuthentication: plaintext is let in again
#   the guide's AuthorizationPolicy by kubectl apply: allowed and denied as in test_authz_payments
#   access logs: off by default, on by kubectl apply of a mesh-wide Telemetry, off again by its
#   kubectl delete, on by kubectl apply of the istio ConfigMap's mesh accessLogFile
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
EX="$HERE/../../examples/payments"
N=1000

# $KUBECTL picks another client (Debian's 1.20 kubectl, extracted, for instance)
KUBECTL=${KUBECTL:-kubectl}
if ! command -v "$KUBECTL" >/dev/null; then
	t_begin "kubectl on PATH"
	t_fail "$KUBECTL not found: run make deps (kubernetes-client)"
	t_summary
	exit 1
fi

# The guide's kubectl, on the lab's kubeconfig, with a discovery cache private to this run.
k() { "$KUBECTL" --cache-dir "$STATE/kube-cache" "$@"; }

# wait_gen NODE OLD: the node's skiffd applied a generation past OLD (10 s at most, times LAB_SLOW)
wait_gen() { wait_generation_change "$1" "$2" 100; }

# hit NS DEPLOY COUNT [TIMEOUT_MS]: the guide's VirtualService retries 3 times with a 2 s
# perTryTimeout, so an exchange starved of CPU beside emulated guests may take 6 s and still
# answer; the cases that expect answers give it 10 s, those that expect none skiff-hit's 5 s.
hit() {
	lab exec -n "$1" "deploy/$2" -- "$BUILD/bin/skiff-hit" --timeout-ms "${4:-5000}" -n "$3" \
		payments-api.payments:80
}

pod_ips() { lab status | awk 'index($1, "payments/payments-api-") == 1 { print $3 }'; }

# plain_reaches NS DEPLOY [TRIES]: how many payments-api pods a plaintext connect from NS/DEPLOY
# reaches, each tried up to TRIES times (1): a case that expects them reached tries more, since a
# starved shell can spend its 1.5 s before it connects
plain_reaches() {
	local ip n=0 try
	for ip in $(pod_ips); do
		for try in $(seq "${3:-1}"); do
			lab exec -n "$1" "deploy/$2" -- timeout 1.5 bash -c "exec 3<>/dev/tcp/$ip/8080" \
				>/dev/null 2>&1 && n=$((n + 1)) && break
		done
	done
	echo $n
}

enrolled() { config_dump "$1" | grep -o '"enrolled_pods":\[[^]]*\]'; }

t_begin "lab up --api: payments on 2 nodes, skiffd on each reading the API server"
if lab up --api --nodes 2 "$EX"/0*.yaml "$EX"/[1-9]*.yaml "$HERE/fixtures/outsiders.yaml" \
	>"$LOG" 2>&1 && export KUBECONFIG=$(lab kubeconfig) && [ -s "$KUBECONFIG" ] &&
	grep -q -- "--kubeconfig" "/proc/$(lab status | awk '$1 == "node-1" { print $5 }')/cmdline"
then t_pass "$("$KUBECTL" version --client 2>/dev/null | head -1)"
else t_fail "$(tail -5 "$LOG")"; t_summary; exit 1; fi

t_begin "the API is on 127.0.0.1 in the root netns and in each node netns, no root-netns route"
if lab exec --node node-2 -- curl -s --cacert "$STATE/api/ca.crt" -o /dev/null -w '%{http_code}' \
	"$(sed -nE 's/ *server: //p' "$KUBECONFIG")/version" | grep -q 401 &&
	! ip route show table all | grep -q 198.18; then t_pass
else t_fail "node-2 cannot reach the server, or the root netns has a lab route"; fi

t_begin "kubectl get: namespaces, pods (IPs, nodes), services (ClusterIP) as the lab made them"
ns=$(k get namespaces -o name 2>&1)
fmt='{range .items[*]}{.metadata.namespace}/{.metadata.name} {.spec.nodeName} {.status.podIP}'
pods=$(k get pods -A -o jsonpath="$fmt{\"\\n\"}{end}" 2>&1)
lab_pods=$(lab status | awk '$1 ~ /\// && $2 ~ /^node-/ { print $1, $2, $3 }' | sort)
svc=$(k get svc payments-api -n payments -o jsonpath='{.spec.clusterIP}' 2>&1)
lab_svc=$(lab status | awk '$1 == "payments/payments-api" { print $2 }')
if grep -q namespace/payments <<<"$ns" && grep -q namespace/outside <<<"$ns" &&
	[ "$(sort <<<"$pods")" = "$lab_pods" ] && [ -n "$svc" ] && [ "$svc" = "$lab_svc" ] &&
	k get pods -n payments | grep -q Running; then t_pass "$(wc -l <<<"$lab_pods") pods, $svc"
else t_fail "ns: $ns
pods: $pods
lab:  $lab_pods
svc: $svc vs $lab_svc"; fi

t_begin "kubectl apply -f the guide's DestinationRule and 90/10 VirtualService: both nodes apply"
g1=$(generation node-1) g2=$(generation node-2)
if k apply -f "$EX/istio/destination-rule.yaml" -f "$EX/istio/virtual-service.yaml" >"$LOG" 2>&1 &&
	wait_gen node-1 "$g1" && wait_gen node-2 "$g2" &&
	k get vs -n payments | grep -q payments-api && k get dr -n payments | grep -q payments-api
then t_pass "$(tr '\n' ' ' <"$LOG")"
else t_fail "$(cat "$LOG")"; fi

t_begin "90/10 split of $N connections within the 99.9% binomial bound"
read -r v1 v2 _ err total < <(hit frontend frontend $N 10000 | hits_by_version)
if [ "$err" = 0 ] && [ "$total" = $N ] && within_binomial "$v2" $N 0.1; then t_pass "v1=$v1 v2=$v2"
else t_fail "v1=$v1 v2=$v2 errors=$err total=$total"; fi

t_begin "the guide's kubectl patch --type merge to 50/50: applied live, the split follows"
g1=$(generation node-1)
k patch virtualservice payments-api -n payments --type merge -p '
spec:
  http:
  - route:
    - destination:
        host: payments-api
        subset: v1
      weight: 50
    - destination:
        host: payments-api
        subset: v2
      weight: 50' >"$LOG" 2>&1
if wait_gen node-1 "$g1"; then
	read -r v1 v2 _ err total < <(hit frontend frontend $N 10000 | hits_by_version)
	w=$(k get vs payments-api -n payments -o jsonpath='{.spec.http[0].route[*].weight}')
	if [ "$err" = 0 ] && [ "$total" = $N ] && within_binomial "$v2" $N 0.5 && [ "$w" = "50 50" ]
	then t_pass "v1=$v1 v2=$v2, weights $w"
	else t_fail "v1=$v1 v2=$v2 errors=$err weights=$w"; fi
else t_fail "generation stayed $g1: $(cat "$LOG")"; fi

t_begin "an invalid VirtualService by kubectl: the server takes it, skiffd refuses it by name"
g1=$(generation node-1) r1=$(rejected node-1) old=$(reloads node-1)
applied=$(k apply -f "$HERE/fixtures/kube/bad-virtual-service.yaml" 2>&1)
wait_reload node-1 "$old"
sleep 0.2
err_line=$(grep 'api: VirtualService payments/payments-api: spec.http\[0\]' \
	"$STATE/logs/skiffd-node-1.log" | tail -1)
if grep -q configured <<<"$applied" && [ "$(rejected node-1)" -gt "$r1" ] && [ -n "$err_line" ] &&
	grep -q weight <<<"$err_line" && [ "$(generation node-1)" = "$g1" ]; then
	t_pass "$(sed 's/.*skiffd //' <<<"$err_line")"
else t_fail "kubectl: $applied; rejected $r1 -> $(rejected node-1)
generation $g1 -> $(generation node-1)
$(grep -E 'error|rejected' "$STATE/logs/skiffd-node-1.log" | tail -3)"; fi

t_begin "after the refusal: kubectl get vs works, and traffic keeps the last good 50/50"
listed=$(k get vs -n payments 2>&1)
read -r v1 v2 _ err total < <(hit frontend frontend $N 10000 | hits_by_version)
if grep -q payments-api <<<"$listed" && [ "$err" = 0 ] && within_binomial "$v2" $N 0.5; then
	t_pass "v1=$v1 v2=$v2"
else t_fail "$listed; v1=$v1 v2=$v2 errors=$err"; fi

t_begin "kubectl apply -f a good VirtualService (the 90/10) after the refusal: a new generation"
g1=$(generation node-1)
if k apply -f "$EX/istio/virtual-service.yaml" >"$LOG" 2>&1 && wait_gen node-1 "$g1" &&
	config_dump node-1 | grep -q '"last_error":null'; then t_pass "$(generation node-1)"
else t_fail "generation stayed $g1; $(cat "$LOG")"; fi

t_begin "kubectl apply -f STRICT PeerAuthentication: plaintext from outside refused, mesh served"
g1=$(generation node-1) g2=$(generation node-2)
k apply -f "$EX/istio/peer-authentication.yaml" >"$LOG" 2>&1
wait_gen node-1 "$g1" && wait_gen node-2 "$g2"
r1=$(plain_reaches outside stranger-1) r2=$(plain_reaches outside stranger-2)
read -r v1 v2 _ err total < <(hit frontend frontend 200 10000 | hits_by_version)
if [ "$r1" = 0 ] && [ "$r2" = 0 ] && [ "$err" = 0 ] && [ "$total" = 200 ] &&
	k get peerauthentications -n payments | grep -q STRICT; then t_pass "frontend v1=$v1 v2=$v2"
else t_fail "plaintext reached $r1 + $r2 pods; frontend errors=$err total=$total; $(cat "$LOG")"; fi

t_begin "before kubectl label: namespace outside is not enrolled and not served"
read -r _ _ _ err total < <(hit outside stranger-1 20 | hits_by_version)
if ! enrolled node-1 | grep -q '"outside/' && ! enrolled node-2 | grep -q '"outside/' &&
	[ "$err" -gt 0 ]; then t_pass "errors=$err of 20"
else t_fail "enrolled: $(enrolled node-1) $(enrolled node-2); errors=$err"; fi

t_begin "kubectl label namespace outside istio.io/dataplane-mode=ambient: enrolled, served"
g1=$(generation node-1) g2=$(generation node-2)
k label namespace outside istio.io/dataplane-mode=ambient >"$LOG" 2>&1
wait_gen node-1 "$g1" && wait_gen node-2 "$g2"
# the label is in force for a pod once its node lists it enrolled (a generation can come before
# the pod's cgroup is matched; until then STRICT refuses it, as it should): wait for both
for _ in $(seq 100); do
	enrolled node-1 | grep -q '"outside/stranger-1' &&
		enrolled node-2 | grep -q '"outside/stranger-2' && break
	sleep 0.1
done
read -r v1 v2 _ err total < <(hit outside stranger-1 200 10000 | hits_by_version)
read -r _ _ _ err2 total2 < <(hit outside stranger-2 200 10000 | hits_by_version)
if enrolled node-1 | grep -q '"outside/stranger-1' &&
	enrolled node-2 | grep -q '"outside/stranger-2' &&
	[ "$err" = 0 ] && [ "$total" = 200 ] && [ "$err2" = 0 ] && [ "$total2" = 200 ]; then
	t_pass "stranger-1 v1=$v1 v2=$v2"
else t_fail "$(cat "$LOG"); errors $err/$total and $err2/$total2; $(enrolled node-1)"; fi

t_begin "the label kubectl set survives the lab's next change (the lab reads it back)"
lab label namespace monitoring skiff.io/test=1 >"$LOG" 2>&1
if [ "$(k get ns outside -o jsonpath='{.metadata.labels.istio\.io/dataplane-mode}')" = ambient ] &&
	grep -q 'istio.io/dataplane-mode=ambient' <(grep '^ns outside' "$STATE/state"); then t_pass
else t_fail "$(k get ns outside --show-labels 2>&1); $(grep '^ns outside' "$STATE/state")"; fi

t_begin "kubectl label namespace outside istio.io/dataplane-mode-: out again, plaintext refused"
g1=$(generation node-1)
k label namespace outside istio.io/dataplane-mode- >"$LOG" 2>&1
wait_gen node-1 "$g1"
r1=$(plain_reaches outside stranger-1)
if [ "$r1" = 0 ] && ! enrolled node-1 | grep -q '"outside/'; then t_pass
else t_fail "plaintext reached $r1; $(cat "$LOG")"; fi

t_begin "kubectl delete -f the PeerAuthentication: plaintext from outside is let in again"
g1=$(generation node-1) g2=$(generation node-2)
k delete -f "$EX/istio/peer-authentication.yaml" >"$LOG" 2>&1
wait_gen node-1 "$g1" && wait_gen node-2 "$g2"
r1=$(plain_reaches outside stranger-1 3) r2=$(plain_reaches outside stranger-2 3)
if [ "$r1" = 3 ] && [ "$r2" = 3 ] && ! k get pa -n payments 2>/dev/null | grep -q default; then
	t_pass "$(cat "$LOG")"
else t_fail "plaintext reached $r1 + $r2 of 3 + 3; $(cat "$LOG")"; fi

t_begin "kubectl apply -f the guide's AuthorizationPolicy (with STRICT again)"
g1=$(generation node-1) g2=$(generation node-2)
if k apply -f "$EX/istio/peer-authentication.yaml" -f "$EX/istio/authorization-policy.yaml" \
	>"$LOG" 2>&1 && wait_gen node-1 "$g1" && wait_gen node-2 "$g2" &&
	k get authorizationpolicies -n payments | grep -q payments-api-policy; then t_pass
else t_fail "$(cat "$LOG")"; fi

P=8080
for ip in $(pod_ips); do
	t_begin "authz on $ip: frontend GET, POST /api/payments/x 200, DELETE, GET /admin 403"
	got=$(lab exec -n frontend deploy/frontend -- "$HERE/authz_probe.sh" "$ip" \
		"GET|$P|/api/payments/x" "POST|$P|/api/payments/x" "DELETE|$P|/api/payments/x" \
		"GET|$P|/admin" 2>>"$LOG")
	if [ "$got" = "200 200 403 403" ]; then t_pass; else t_fail "got: $got"; fi
	t_begin "authz on $ip: prometheus GET /metrics 200, POST /metrics and /api/payments/x 403"
	got=$(lab exec -n monitoring deploy/prometheus -- "$HERE/authz_probe.sh" "$ip" \
		"GET|$P|/metrics" "POST|$P|/metrics" "GET|$P|/api/payments/x" 2>>"$LOG")
	if [ "$got" = "200 403 403" ]; then t_pass; else t_fail "got: $got"; fi
done

# Access logging changes no kernel state, so no new generation: a reload (snapshot loaded) is
# what says skiffd applied it.
# reloaded NODE OLD: the node loaded a snapshot past OLD (10 s at most, times LAB_SLOW)
reloaded() { wait_until_changed reloads "$1" "$2" 100; }
# lines NODE: the access log lines in the node's skiffd log so far
lines() { grep -c '^{"start_time"' "$STATE/logs/skiffd-$1.log" || true; }
# traffic: a few requests from frontend to every payments-api pod (through the relays)
traffic() {
	for ip in $(pod_ips); do
		lab exec -n frontend deploy/frontend -- "$HERE/authz_probe.sh" "$ip" \
			"GET|$P|/api/payments/x" "GET|$P|/admin" >>"$LOG" 2>&1
	done
}
both_lines() { echo "$(lines node-1) $(lines node-2)"; }
# settled: neither node's log grew for LAB_SLOW seconds (a minute at most), so that a line of
# earlier traffic that the access log writer's queue hands out late counts for nothing after it
settled() {
	local before
	for _ in $(seq $((60 / LAB_SLOW))); do
		before=$(both_lines)
		sleep "$LAB_SLOW"
		[ "$(both_lines)" = "$before" ] && return
	done
}
# logged_after: new lines on either node after traffic, waited for 3 s (times LAB_SLOW; all of
# it when none come); sets "node-1 +N node-2 +M" in $detail
logged_after() {
	local a1 a2
	settled
	a1=$(lines node-1) a2=$(lines node-2)
	traffic
	for _ in $(seq $((10 * LAB_SLOW))); do
		[ "$(lines node-1)" -gt "$a1" ] || [ "$(lines node-2)" -gt "$a2" ] && break
		sleep 0.3
	done
	detail="node-1 +$(($(lines node-1) - a1)) node-2 +$(($(lines node-2) - a2))"
	[ "$(lines node-1)" -gt "$a1" ] || [ "$(lines node-2)" -gt "$a2" ]
}

t_begin "access logs are off by default: no lines for the payments traffic"
if ! logged_after; then t_pass; else t_fail "$detail"; fi

t_begin "kubectl apply -f a mesh-wide Telemetry with accessLogging: lines appear"
r1=$(reloads node-1) r2=$(reloads node-2)
if k apply -f "$HERE/fixtures/kube/telemetry-logs.yaml" >"$LOG" 2>&1 &&
	reloaded node-1 "$r1" && reloaded node-2 "$r2"; then
	if logged_after; then
		line=$(grep '^{"start_time"' "$STATE/logs/skiffd-node-1.log" "$STATE/logs/skiffd-node-2.log" |
			tail -1 | cut -d: -f2-)
		if python3 -c 'import json,sys; l=json.loads(sys.argv[1]); assert l["reporter"] in ("source","destination")' "$line"
		then t_pass "$detail"; else t_fail "not JSON: $line"; fi
	else t_fail "no lines: $detail"; fi
else t_fail "$(cat "$LOG")"; fi

t_begin "kubectl delete -f the Telemetry: the lines stop"
r1=$(reloads node-1) r2=$(reloads node-2)
if k delete telemetry -n istio-system mesh-default >"$LOG" 2>&1 &&
	reloaded node-1 "$r1" && reloaded node-2 "$r2"; then
	if ! logged_after; then t_pass; else t_fail "$detail"; fi
else t_fail "$(cat "$LOG")"; fi

t_begin "kubectl apply -f the istio ConfigMap (mesh: accessLogFile /dev/stdout): lines again"
r1=$(reloads node-1) r2=$(reloads node-2)
if k apply -f "$HERE/fixtures/kube/istio-mesh-config.yaml" >"$LOG" 2>&1 &&
	reloaded node-1 "$r1" && reloaded node-2 "$r2"; then
	if logged_after; then t_pass "$detail"; else t_fail "no lines: $detail"; fi
else t_fail "$(cat "$LOG")"; fi


t_begin "down stops the API server and removes the kubeconfig"
api_pid=$(sed -nE 's/^api [0-9]+ ([0-9]+) .*/\1/p' "$STATE/state")
lab down >"$LOG" 2>&1
for _ in $(seq 20); do kill -0 "$api_pid" 2>/dev/null || break; sleep 0.1; done
if ! kill -0 "$api_pid" 2>/dev/null && [ ! -e "$STATE/kubeconfig" ]; then t_pass "pid $api_pid"
else t_fail "server pid $api_pid alive: $(tr '\0' ' ' <"/proc/$api_pid/cmdline")"; fi

t_summary
