#!/bin/bash
# DestinationRule consistentHash.useSourceIp in the kernel: a real skiffd compiles the guide's
# payments-api DestinationRule with a source-address hash into a Maglev table, and each client
# pod's connections all reach one payments-api pod, run after run; without the hash they spread
# again; maglev.tableSize sizes that table. Then, against two echo pods of Service web on the
# client's node (real Python http.client, curl, ss, nft): a DestinationRule hashing on a header
# with no VirtualService makes the port L7 on its own; the L7 router's connection settings:
# maxRequestsPerConnection seen as new connections at the pods, tcpKeepalive on skiffd's sockets,
# idleTimeout closing them at the pods, connectTimeout against a pod that drops SYNs, a generated
# hash cookie keeping 50 requests on one pod, Envoy's back-off between retries, maxRetries.
# (Outlier detection needs the per-request proxy's outcomes: test_l7route.sh.)
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

t_begin "lab up: payments mesh on 2 nodes, four clients, DestinationRule with useSourceIp, web"
if lab up --nodes 2 "$EX"/0*.yaml "$EX"/[1-9]*.yaml "$FX/clients.yaml" \
	"$FX/dr-source-ip.yaml" "$FX/web.yaml" >"$LOG" 2>&1; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi

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

t_begin "maglev.tableSize 1021: the kernel's table has 1021 slots, and client-a stays on one pod"
gen=$(generation node-1)
sed 's/useSourceIp: true/useSourceIp: true\n        maglev: {tableSize: 1021}/' "$FX/dr-source-ip.yaml" \
	>"$STATE/dr-1021.yaml"
lab apply "$STATE/dr-1021.yaml" >"$LOG" 2>&1
if wait_generation_change node-1 "$gen" 10; then
	dump=$(bpftool map dump pinned /sys/fs/bpf/skiff-lab/node-1/skiff_services 2>&1)
	pods=$(pods_of "$(hit client-a $N)")
	if echo "$dump" | grep -q '"count": 1021' && ! echo "$dump" | grep -q '"count": 4093' &&
		[ "$(echo "$pods" | wc -l)" = 1 ]; then t_pass "$pods"
	else t_fail "pods: $pods; $(echo "$dump" | grep -B2 -A6 '"flags": 2' | head -20)"; fi
else t_fail "generation stayed $gen; $(tail -3 "$LOG")"; fi

# ---- the router's connection settings: Service web, its pods and client all on node-1 ----
CLIENT="$HERE/l7_client.py"
SKLOG="$STATE/logs/skiffd-node-1.log"
# web PATH N [Header:value]...: N requests to web:80 on one keep-alive connection from web/client
web() { lab exec -n web deploy/client -- python3 "$CLIENT" web 80 "$@"; }
field() { awk -v k="$1" -v v="$2" '$1 == k && $2 ~ v { s += $3 } END { print s + 0 }'; }
one() { awk -v k="$1" '$1 == k { print $2 }'; }
applied() { # FILE...: apply and wait for node-1's skiffd to reload
	local rel
	rel=$(reloads node-1)
	lab apply "$@" >>"$LOG" 2>&1 && wait_reload node-1 "$rel" && sleep 0.2
}
# established TCP connections to the echo port, seen inside pod deploy/$1
pod_conns() { lab exec -n web "deploy/$1" -- ss -tnH state established '( sport = :8080 )' | wc -l; }

# 16 users, one after another, 4 times over: 64 requests on one keep-alive connection
USERS=$(seq -f 'user-%g' 16 | paste -sd'|')
svc_flags() { bpftool map dump pinned /sys/fs/bpf/skiff-lab/node-1/skiff_services 2>>"$LOG"; }

t_begin "no rule for web: 16 users' 64 requests on one connection all reach one pod (picked per connection)"
out=$(web /u 64 "x-user:$USERS")
if [ "$(echo "$out" | field code 200)" = 64 ] && [ "$(echo "$out" | one connects)" = 1 ] &&
	[ "$(echo "$out" | grep -c '^pod ')" = 1 ] && ! svc_flags | grep -q '"flags": 4'; then
	t_pass "$(echo "$out" | grep '^pod ')"
else t_fail "$out"; fi

t_begin "a DestinationRule alone (consistentHash on x-user, no VirtualService): port L7, each user on one pod"
if applied "$FX/web-hash-header.yaml"; then
	out=$(web /u 64 "x-user:$USERS")
	# each user: one "pick" line holding its 4 requests; 16 users all on one of two pods by
	# chance: 2^-15
	users=$(echo "$out" | awk '$1 == "pick" && $4 == 4 { print $2 }' | sort -u | wc -l)
	if [ "$(echo "$out" | field code 200)" = 64 ] && [ "$(echo "$out" | one connects)" = 1 ] &&
		[ "$(echo "$out" | grep -c '^pick ')" = 16 ] && [ "$users" = 16 ] &&
		[ "$(echo "$out" | grep -c '^pod ')" = 2 ] && svc_flags | grep -q '"flags": 4'; then
		t_pass "$(echo "$out" | grep '^pod ' | tr '\n' ' ')"
	else t_fail "$out"; fi
else t_fail "not applied: $(tail -3 "$LOG")"; fi

t_begin "maxRequestsPerConnection 1: 20 requests on one client connection are 20 upstream connections"
if applied "$FX/web-one-request.yaml"; then
	out=$(web /m 20)
	if [ "$(echo "$out" | field code 200)" = 20 ] && [ "$(echo "$out" | one connects)" = 1 ] &&
		[ "$(echo "$out" | one peers)" = 20 ]; then t_pass
	else t_fail "$out"; fi
else t_fail "not applied: $(tail -3 "$LOG")"; fi

t_begin "maxRequestsPerConnection 5: 18 requests round robin over 2 pods are 4 upstream connections"
# The pool's idleTimeout is 2 s; under QEMU's TCG each command in a pod takes the better part
# of a second, and counting both pods' connections took longer than that: 6 s there.
IDLE_S=2
POOL=$FX/web-pool.yaml
if [ -n "${SKIFF_VMTEST:-}" ]; then
	IDLE_S=6
	POOL=$STATE/web-pool.yaml
	sed 's/idleTimeout: 2s/idleTimeout: 6s/' "$FX/web-pool.yaml" >"$POOL"
fi
if applied "$POOL"; then
	out=$(web /m 18) # 9 per pod: 5 on a first connection (then closed), 4 on a second (kept)
	ka=$(lab exec --node node-1 -- ss -tnoH state established '( dport = :8080 )' 2>>"$LOG")
	before="$(pod_conns web-a) $(pod_conns web-b)"
	if [ "$(echo "$out" | field code 200)" = 18 ] && [ "$(echo "$out" | one peers)" = 4 ] &&
		[ "$(echo "$out" | field pod web-a)" = 9 ]; then t_pass
	else t_fail "$out"; fi

	t_begin "tcpKeepalive on skiffd's upstream sockets (time 45s: the kernel's keepalive timer)"
	if echo "$ka" | grep -qE 'timer:\(keepalive,(4[0-5]|3[0-9])sec,0\)'; then
		t_pass "$(echo "$ka" | grep -oE 'timer:\(keepalive[^)]*\)' | head -1)"
	else t_fail "ss: $ka"; fi

	t_begin "idleTimeout 2s: the pods see skiffd's idle connections closed"
	sleep "$IDLE_S.6"
	after="$(pod_conns web-a) $(pod_conns web-b)"
	if [ "$before" = "1 1" ] && [ "$after" = "0 0" ]; then t_pass "established $before -> $after"
	else t_fail "established at web-a web-b: $before, then $after"; fi
else t_fail "not applied: $(tail -3 "$LOG")"; fi

t_begin "connectTimeout 1s: a pod that drops SYNs answers 503 (UF) after 1 s, the other at once"
bh() { lab exec -n web deploy/web-b -- nft "$@" >>"$LOG" 2>&1; }
if applied "$FX/web-connect-timeout.yaml" && bh add table inet skiffbh &&
	bh add chain inet skiffbh in '{ type filter hook input priority 0 ; }' &&
	bh add rule inet skiffbh in tcp dport 8080 drop; then
	out=$(web /c 6)
	bh delete table inet skiffbh
	if [ "$(echo "$out" | field code 503)" = 3 ] && [ "$(echo "$out" | field code 200)" = 3 ] &&
		[ "$(echo "$out" | field pod web-a)" = 3 ] &&
		awk -v m="$(echo "$out" | one max_secs)" -v s="$(echo "$out" | one secs)" \
			'BEGIN { exit !(m >= 0.95 && m <= 1.5 && s >= 2.9 && s <= 4.5) }'; then
		t_pass "slowest $(echo "$out" | one max_secs)s, all $(echo "$out" | one secs)s"
	else t_fail "$out"; fi
else
	bh delete table inet skiffbh
	t_fail "not applied, or no nft rule in web-b: $(tail -3 "$LOG")"
fi

t_begin "httpCookie with ttl: skiffd sets the cookie, 50 requests sending it back reach one pod"
if applied "$FX/web-cookie.yaml"; then
	hdr=$(lab exec -n web deploy/client -- curl -s -D - -o /dev/null http://web/first 2>>"$LOG")
	jar="$STATE/cookies.txt"
	rm -f "$jar"
	urls=$(for i in $(seq 50); do printf 'http://web/s%d ' "$i"; done)
	# shellcheck disable=SC2086 # one curl, 50 URLs, one cookie engine
	sticky=$(lab exec -n web deploy/client -- curl -s -c "$jar" -b "$jar" $urls 2>>"$LOG" |
		grep -oE '"pod":"[^"]*"' | sort | uniq -c)
	# shellcheck disable=SC2086 # without the jar: no cookie sent, each request hashed anew
	fresh=$(lab exec -n web deploy/client -- curl -s $urls 2>>"$LOG" |
		grep -oE '"pod":"[^"]*"' | sort -u | wc -l)
	if echo "$hdr" | grep -qiE '^set-cookie: web-session="[0-9a-f]{16}"; Max-Age=3600; Path=/; HttpOnly' &&
		[ "$(echo "$sticky" | wc -l)" = 1 ] && [ "$(echo "$sticky" | awk '{print $1}')" = 50 ] &&
		[ "$fresh" = 2 ]; then t_pass "$(echo $sticky); without the cookie on $fresh pods"
	else t_fail "header: $hdr / with the jar: $sticky / without: $fresh pods"; fi
else t_fail "not applied: $(tail -3 "$LOG")"; fi

t_begin "retry back-off: 3 requests with 10 retries each against 503s wait Envoy's jittered back-off"
if applied "$FX/web-backoff.yaml"; then
	out=$(web /status/503 3)
	# each request waits below 25+50+100+200+6x250 ms, 0.94 s on average: 2.8 s for 3
	if [ "$(echo "$out" | field code 503)" = 3 ] &&
		awk -v s="$(echo "$out" | one secs)" 'BEGIN { exit !(s >= 1.2 && s <= 8) }'; then
		t_pass "$(echo "$out" | one secs)s"
	else t_fail "$out"; fi
else t_fail "not applied: $(tail -3 "$LOG")"; fi

t_begin "maxRetries 1: of 4 failing requests at once, one retries (seconds), 3 answer at once"
if applied "$FX/web-max-retries.yaml"; then
	for i in 1 2 3 4; do web /status/503 1 >"$STATE/retry.$i" & done
	wait
	# at once: under 0.5 s here, under 0.9 s in the 6.1 guest (an emulated CPU, 0.55-0.66 s
	# seen); the one that retries waits its back-off, a second or more, either way
	quick=0.5
	[ -z "${SKIFF_VMTEST:-}" ] || quick=0.9
	slow=$(cat "$STATE"/retry.? | awk '$1 == "max_secs" && $2 >= 1 { n++ } END { print n + 0 }')
	fast=$(cat "$STATE"/retry.? | awk -v q=$quick '$1 == "max_secs" && $2 < q { n++ } END { print n + 0 }')
	if [ "$(cat "$STATE"/retry.? | field code 503)" = 4 ] && [ "$slow" = 1 ] && [ "$fast" = 3 ]
	then t_pass; else t_fail "$(cat "$STATE"/retry.?)"; fi
else t_fail "not applied: $(tail -3 "$LOG")"; fi

t_begin "maglev.tableSize above the kernel's 4093 with useSourceIp: refused at file:line"
gen=$(generation node-1)
rej=$(rejected node-1)
config_put "zz-bad-table-size.yaml" <"$FX/bad-table-size.yaml"
for _ in $(seq 100); do
	[ "$(rejected node-1)" != "$rej" ] && break
	sleep 0.1
done
now=$(generation node-1)
rm -f "$STATE/config/zz-bad-table-size.yaml"
if [ "$now" = "$gen" ] && grep -qF "zz-bad-table-size.yaml:12: DestinationRule web/web-bad: spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize 65537 is too large with useSourceIp" "$SKLOG"
then t_pass
else t_fail "generation $gen -> $now; $(grep -i error "$SKLOG" | tail -2)"; fi

t_summary
