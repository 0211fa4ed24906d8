#!/bin/bash
# The guide's payments-api-policy, exactly as written, on the payments example under STRICT, two
# nodes: the frontend may GET/POST /api/payments/*, prometheus may GET /metrics, everything else
# is denied (403 for HTTP, as Istio answers). Every payments-api pod is asked, so the answers on
# the caller's node (kernel punt + local skiffd) and across (HBONE + the remote skiffd) are
# compared. Bad policies are refused with file:line and the policy in force stays.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
EX="$HERE/../../examples/payments"

node_of() { lab status | awk -v p="$1" '$1 == p { print $2 }'; }

# ask NS/DEPLOY WANT... : for every payments-api pod, the probe (authz_probe.sh) from that client
ask() {
	local client=$1 ip pod got
	shift
	local specs=() wants=() kv
	for kv in "$@"; do
		specs+=("${kv%->*}")
		wants+=("${kv##*->}")
	done
	while read -r pod ip; do
		t_begin "$client -> $pod ($(node_of "$pod")): ${specs[*]}"
		got=$(lab exec -n "${client%/*}" "deploy/${client#*/}" -- "$HERE/authz_probe.sh" "$ip" \
			"${specs[@]}" 2>>"$LOG")
		if [ "$got" = "${wants[*]}" ]; then t_pass "${wants[*]}"
		else t_fail "want: ${wants[*]}
got:  $got"; fi
	done < <(lab status | awk 'index($1, "payments/payments-api-") == 1 { print $1, $3 }')
}

t_begin "lab up: payments on 2 nodes, STRICT, the guide's AuthorizationPolicy"
if lab up --nodes 2 "$EX"/0*.yaml "$EX"/[1-9]*.yaml "$EX/istio/destination-rule.yaml" \
	"$EX/istio/peer-authentication.yaml" "$EX/istio/authorization-policy.yaml" \
	"$HERE/fixtures/authz/intruder.yaml" >"$LOG" 2>&1; then
	t_pass "frontend on $(node_of "$(lab status | awk 'index($1, "frontend/frontend-") == 1 { print $1; exit }')")"
else t_fail "$(tail -5 "$LOG")"; t_summary; fi

P=8080
ask frontend/frontend "GET|$P|/api/payments/x->200" "POST|$P|/api/payments/x->200" \
	"DELETE|$P|/api/payments/x->403" "GET|$P|/admin->403"
ask monitoring/prometheus "GET|$P|/metrics->200" "POST|$P|/metrics->403" \
	"GET|$P|/api/payments/x->403"
ask frontend/intruder "GET|$P|/api/payments/x->403" "GET|$P|/metrics->403"

t_begin "a 403 keeps the connection: 200, 403, 200 over one connection (curl reuses it)"
ip=$(lab status | awk 'index($1, "payments/payments-api-") == 1 { print $3; exit }')
got=$(lab exec -n frontend deploy/frontend -- curl -s -w '%{http_code}/%{num_connects} ' \
	-o /dev/null "http://$ip:$P/api/payments/1" -o /dev/null "http://$ip:$P/admin" \
	-o /dev/null "http://$ip:$P/api/payments/2" 2>>"$LOG")
if [ "$got" = "200/1 403/0 200/0 " ]; then t_pass "$got"; else t_fail "got: $got"; fi

t_begin "on the frontend's node both hops of an HTTP-checked connection skip TCP/IP (in the sockhash)"
fe=$(lab status | awk 'index($1, "frontend/frontend-") == 1 { print $1; exit }')
n=$(node_of "$fe")
ip=$(lab status | awk -v n="$n" 'index($1, "payments/payments-api-") == 1 && $2 == n { print $3; exit }')
up=$(mktemp -u /tmp/skiff-authz-held.XXXXXX)
lab exec -n frontend deploy/frontend -- python3 -c "import socket, time
s = socket.create_connection(('$ip', $P), timeout=30)
s.sendall(b'GET /api/payments/1 HTTP/1.1\r\nHost: x\r\n\r\n'); s.recv(65536)
open('$up', 'w').close(); time.sleep(6)" 2>>"$LOG" &
for _ in $(seq 60); do [ -e "$up" ] && break; sleep 0.1; done
socks=$("$BUILD/bin/skiffctl" sockets --bpffs "/sys/fs/bpf/skiff-lab/$n" 2>&1)
wait
rm -f "$up"
if [ -n "$ip" ] && echo "$socks" | grep -qE ":15001 -> [0-9.]+:[0-9]+ cookie" &&
	echo "$socks" | grep -qE " -> $ip:$P cookie" && echo "$socks" | grep -qE "^ipv4 $ip:$P -> "; then
	t_pass "$n, payments-api $ip"
else t_fail "node $n, payments-api '$ip':
$socks"; fi

t_begin "the denial is logged with the caller's principal and the policy's verdict"
if grep -qh 'skiffd authz: src.principal=spiffe://cluster.local/ns/frontend/sa/frontend-sa .* DELETE /api/payments/x denied: DENY: no ALLOW policy matched' \
	"$STATE"/logs/skiffd-node-*.log; then t_pass
else t_fail "$(grep -h 'skiffd authz' "$STATE"/logs/skiffd-node-*.log | tail -3)"; fi

t_begin "bad policies: the snapshot is refused with file:line for each, the old policy stays"
r1=$(rejected node-1)
old=$(reloads node-1)
cp "$HERE/fixtures/authz/bad-policies.yaml" "$STATE/bad-policies.yaml"
lab apply "$STATE/bad-policies.yaml" >>"$LOG" 2>&1
wait_reload node-1 "$old"
sleep 0.2
log=$(cat "$STATE"/logs/skiffd-node-1.log)
cfg="$STATE/config/user-bad-policies.yaml" # the copy skiffd reads: its lines are the ones named
l1=$(grep -n '/api/{\*\*}/x' "$cfg" | cut -d: -f1)
l2=$(grep -n 'request.nonsense' "$cfg" | cut -d: -f1)
l3=$(grep -n 'action: DENY' "$cfg" | cut -d: -f1)
if [ "$(rejected node-1)" -gt "$r1" ] &&
	grep -q "user-bad-policies.yaml:$l1: AuthorizationPolicy payments/bad-template: .*{\*\*} must be the last" <<<"$log" &&
	grep -q "user-bad-policies.yaml:$l2: AuthorizationPolicy payments/bad-when: .*unknown attribute \"request.nonsense\"" <<<"$log" &&
	grep -q "user-bad-policies.yaml:$l3: AuthorizationPolicy payments/deny-no-rules: .*DENY without rules" <<<"$log"; then
	t_pass
else t_fail "rejected $r1 -> $(rejected node-1); $(grep -h 'error' "$STATE"/logs/skiffd-node-1.log | tail -4)"; fi
ask frontend/frontend "GET|$P|/api/payments/x->200" "DELETE|$P|/api/payments/x->403"

t_summary
