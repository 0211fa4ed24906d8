#!/bin/bash
# skiffd's L7 router on the client node: Istio's bookinfo routing samples applied unchanged to a
# bookinfo of echo pods, per-request weighted splits on one keep-alive connection, the guide's
# retries against a flaky pod, per-try and route timeouts, connect-failure retried to a live
# endpoint, fault abort and delay, DestinationRule consistent hash on a header, outlier
# detection (router and kernel) and connection pools, bad input refused with file:line, and each
# routed request in Istio's request metrics as the source reporter (skiffd's own :15020/metrics
# page). Real curl and Python http.client from a mesh pod; one lab (one node) for every case.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
NET="$HERE/../conformance/istio/samples/bookinfo/networking"
FX="$HERE/fixtures/l7route"
CLIENT="$HERE/l7_client.py"

# run N requests to HOST:9080 PATH on one keep-alive connection from productpage
keepalive() { # HOST PATH N [Header:value]...
	local host=$1 path=$2 n=$3
	shift 3
	lab exec -n default deploy/productpage-v1 -- python3 "$CLIENT" "$host" 9080 "$path" "$n" "$@"
}
field() { awk -v k="$1" -v v="$2" '$1 == k && $2 ~ v { s += $3 } END { print s + 0 }'; }
one() { awk -v k="$1" '$1 == k { print $2 }'; }

# scraped NAME LABEL=VALUE...: the sum of node-1's samples of NAME with every one of the labels
scraped() {
	local name=$1
	shift
	lab exec --node node-1 -- curl -s --max-time 5 127.0.0.1:15020/metrics 2>>"$LOG" |
		awk -v n="$name" -v want="$*" 'BEGIN { k = split(want, w, " ") }
		index($0, n "{") == 1 {
			for (i = 1; i <= k; i++) {
				eq = index(w[i], "=")
				p = substr(w[i], 1, eq - 1) "=\"" substr(w[i], eq + 1) "\""
				if (!index($0, "{" p) && !index($0, "," p))
					next
			}
			s += $NF
		}
		END { printf "%d\n", s }'
}
SRC='reporter=source source_workload=productpage-v1 source_app=productpage
source_workload_namespace=default request_protocol=http connection_security_policy=unknown'

applied() { # FILE...: apply and wait for skiffd to reload (routes alone may leave the kernel
	# maps, and so the generation, as they were)
	local rel
	rel=$(reloads node-1)
	lab apply "$@" >>"$LOG" 2>&1 && wait_reload node-1 "$rel" && sleep 0.2
}

t_begin "lab up: bookinfo of echo pods, destination-rule-all, virtual-service-reviews-jason-v2-v3"
if lab up --nodes 1 "$FX/bookinfo.yaml" "$NET/destination-rule-all.yaml" \
	"$NET/virtual-service-reviews-jason-v2-v3.yaml" >"$LOG" 2>&1; then t_pass
else t_fail "$(tail -5 "$LOG")"; fi

t_begin "jason-v2-v3: end-user jason gets v2, everyone else v3, per request on one connection"
a=$(keepalive reviews /r 50 end-user:jason)
b=$(keepalive reviews /r 50)
if [ "$(echo "$a" | field pod reviews-v2)" = 50 ] && [ "$(echo "$b" | field pod reviews-v3)" = 50 ] &&
	[ "$(echo "$a" | one connects)" = 1 ] && [ "$(echo "$b" | one connects)" = 1 ]; then t_pass
else t_fail "jason: $a / other: $b"; fi

t_begin "curl: one connection, the route chosen per request (jason then not jason)"
got=$(lab exec -n default deploy/productpage-v1 -- curl -s -w 'C%{num_connects}\n' \
	-H 'end-user: jason' http://reviews:9080/a --next -s -w 'C%{num_connects}\n' http://reviews:9080/b 2>>"$LOG" |
	grep -oE 'reviews-v[0-9]|^C[0-9]+' | tr '\n' ' ')
if [ "$got" = "reviews-v2 C1 reviews-v3 C0 " ]; then t_pass "$got"; else t_fail "got: $got"; fi

t_begin "weights alone (virtual-service-reviews-50-v3) stay in the kernel: 50/50 per connection"
if applied "$NET/virtual-service-reviews-50-v3.yaml"; then
	read -r v1 _ v3 err total < <(lab exec -n default deploy/productpage-v1 -- \
		"$BUILD/bin/skiff-hit" -n 1000 reviews:9080 | hits_by_version)
	# service ports with SKIFF_SVC_F_L7 (4) among their flags
	flags=$(bpftool map dump pinned /sys/fs/bpf/skiff-lab/node-1/skiff_services 2>>"$LOG" |
		grep -o '"flags": [0-9]*' | awk '{ if (int($2 / 4) % 2) n++ } END { print n + 0 }')
	if [ "$err" = 0 ] && [ $((v1 + v3)) = 1000 ] && within_binomial "$v3" 1000 0.5 &&
		[ "$flags" = 0 ]; then t_pass "v1=$v1 v3=$v3"
	else t_fail "v1=$v1 v3=$v3 errors=$err L7-flagged=$flags"; fi
else t_fail "not applied: $(tail -3 "$LOG")"; fi

t_begin "virtual-service-reviews-90-10: 90/10 per connection, in the kernel"
if applied "$NET/virtual-service-reviews-90-10.yaml"; then
	read -r v1 v2 _ err total < <(lab exec -n default deploy/productpage-v1 -- \
		"$BUILD/bin/skiff-hit" -n 1000 reviews:9080 | hits_by_version)
	if [ "$err" = 0 ] && [ $((v1 + v2)) = 1000 ] && within_binomial "$v2" 1000 0.1; then
		t_pass "v1=$v1 v2=$v2"
	else t_fail "v1=$v1 v2=$v2 errors=$err"; fi
else t_fail "not applied"; fi

t_begin "80/20 with the guide's retries (an L7 port): per request on ONE connection, binomial bound"
if applied "$FX/reviews-80-20-retries.yaml"; then
	out=$(keepalive reviews /split 1000)
	v1=$(echo "$out" | field pod reviews-v1) v2=$(echo "$out" | field pod reviews-v2)
	if [ "$(echo "$out" | one connects)" = 1 ] && [ $((v1 + v2)) = 1000 ] &&
		within_binomial "$v2" 1000 0.2; then t_pass "v1=$v1 v2=$v2 on 1 connection"
	else t_fail "$out"; fi
else t_fail "not applied"; fi

t_begin "the guide's retries (attempts 3) hide a v2 that fails 2 requests in 3"
if applied "$FX/reviews-v2-guide-retries.yaml"; then
	out=$(keepalive reviews /fail/2/3 60)
	if [ "$(echo "$out" | field code 200)" = 60 ]; then t_pass; else t_fail "$out"; fi
else t_fail "not applied"; fi

t_begin "with attempts 1 the failures show: 503s reach the client"
if applied "$FX/reviews-v2-attempts-1.yaml"; then
	out=$(keepalive reviews /fail/2/3 60)
	n503=$(echo "$out" | field code 503)
	if [ "$n503" -ge 10 ] && [ "$(echo "$out" | field code 200)" -ge 10 ]; then
		t_pass "503 x $n503"
	else t_fail "$out"; fi
else t_fail "not applied"; fi

t_begin "perTryTimeout 1s with one retry against a 1.5 s response: 504 after about 2 s"
if applied "$FX/reviews-per-try-timeout.yaml"; then
	out=$(keepalive reviews /delay/1500 1)
	fast=$(keepalive reviews /delay/200 1)
	secs=$(echo "$out" | one secs)
	if [ "$(echo "$out" | field code 504)" = 1 ] &&
		awk -v s="$secs" 'BEGIN { exit !(s >= 1.9 && s <= 2.6) }' &&
		[ "$(echo "$fast" | field code 200)" = 1 ]; then t_pass "${secs}s"
	else t_fail "slow: $out / fast: $fast"; fi
else t_fail "not applied"; fi

t_begin "timeout 1s against a 3 s response: 504 in 1 s +-10%"
if applied "$FX/reviews-timeout-1s.yaml"; then
	out=$(keepalive reviews /delay/3000 3)
	secs=$(echo "$out" | one max_secs)
	mean=$(echo "$out" | one secs | awk '{ printf "%.3f", $1 / 3 }')
	# the three one after another: 1 s +-10 % on average (the target is the release build's; a
	# sanitizer build, SKIFF_SANITIZED, answers later), and none near the response's 3 s: one
	# request may lose 100 ms or more to a CI machine running two emulated guests beside it
	max=$([ -n "${SKIFF_SANITIZED:-}" ] && echo 1.6 || echo 1.1)
	if [ "$(echo "$out" | field code 504)" = 3 ] &&
		awk -v a="$mean" -v s="$secs" -v m="$max" \
			'BEGIN { exit !(a >= 0.9 && a <= m && s >= 0.9 && s <= 1.8) }'; then
		t_pass "mean ${mean}s, slowest ${secs}s"
	else t_fail "mean ${mean}s; $out"; fi
else t_fail "not applied"; fi

t_begin "fault-injection-details-v1: every details request is aborted with 555"
if applied "$NET/fault-injection-details-v1.yaml"; then
	out=$(keepalive details /d 20)
	if [ "$(echo "$out" | field code 555)" = 20 ]; then t_pass; else t_fail "$out"; fi
else t_fail "not applied"; fi

t_begin "fault abort 50 % of 2,000 requests, within the binomial bound"
if applied "$FX/details-abort-50.yaml"; then
	out=$(keepalive details /d 2000)
	n503=$(echo "$out" | field code 503)
	if [ "$(echo "$out" | one connects)" = 1 ] && [ $((n503 + $(echo "$out" | field code 200))) = 2000 ] &&
		within_binomial "$n503" 2000 0.5; then t_pass "503 x $n503"
	else t_fail "$out"; fi
else t_fail "not applied"; fi

t_begin "virtual-service-ratings-test-abort: jason gets 500, others 200"
if applied "$NET/virtual-service-ratings-test-abort.yaml"; then
	a=$(keepalive ratings /r 10 end-user:jason)
	b=$(keepalive ratings /r 10)
	if [ "$(echo "$a" | field code 500)" = 10 ] && [ "$(echo "$b" | field code 200)" = 10 ]; then
		t_pass
	else t_fail "jason: $a / other: $b"; fi
else t_fail "not applied"; fi

t_begin "virtual-service-ratings-test-delay: jason waits 7 s, others do not"
if applied "$NET/virtual-service-ratings-test-delay.yaml"; then
	a=$(keepalive ratings /r 1 end-user:jason)
	b=$(keepalive ratings /r 5)
	sa=$(echo "$a" | one secs) sb=$(echo "$b" | one max_secs)
	if [ "$(echo "$a" | field code 200)" = 1 ] && awk -v s="$sa" -v t="$sb" \
		'BEGIN { exit !(s >= 7 && s <= 7.7 && t < 1) }'; then t_pass "jason ${sa}s, other ${sb}s"
	else t_fail "jason: $a / other: $b"; fi
else t_fail "not applied"; fi

t_begin "metrics: 40 routed requests are 40 in istio_requests_total, reporter=source, v3 reached"
REV="$SRC destination_service=reviews.default.svc.cluster.local destination_service_name=reviews"
V3="$REV destination_workload=reviews-v3 destination_app=reviews destination_version=v3"
if applied "$NET/virtual-service-reviews-jason-v2-v3.yaml"; then
	all0=$(scraped istio_requests_total reporter=source \
		destination_service=reviews.default.svc.cluster.local)
	ok0=$(scraped istio_requests_total $V3 response_code=200 response_flags=-)
	dur0=$(scraped istio_request_duration_milliseconds_count $V3)
	rq0=$(scraped istio_request_bytes_count $V3) rs0=$(scraped istio_response_bytes_count $V3)
	out=$(keepalive reviews /m 40)
	sleep 0.5 # each request is counted just after its last byte reached the client
	all=$(($(scraped istio_requests_total reporter=source \
		destination_service=reviews.default.svc.cluster.local) - all0))
	ok=$(($(scraped istio_requests_total $V3 response_code=200 response_flags=-) - ok0))
	dur=$(($(scraped istio_request_duration_milliseconds_count $V3) - dur0))
	rq=$(($(scraped istio_request_bytes_count $V3) - rq0))
	rs=$(($(scraped istio_response_bytes_count $V3) - rs0))
	if [ "$(echo "$out" | field pod reviews-v3)" = 40 ] && [ "$all $ok $dur $rq $rs" = "40 40 40 40 40" ]
	then t_pass
	else t_fail "client: $out; source series +$all, labelled +$ok, duration/request/response counts +$dur/+$rq/+$rs
$(lab exec --node node-1 -- curl -s 127.0.0.1:15020/metrics | grep '^istio_requests_total{reporter="source"')"
	fi
else t_fail "not applied"; fi

t_begin "metrics: a fault abort is response_code 555, response_flags FI, no destination workload"
DET="$SRC destination_service_name=details destination_workload=unknown response_code=555"
if applied "$NET/fault-injection-details-v1.yaml"; then
	b=$(scraped istio_requests_total $DET response_flags=FI)
	out=$(keepalive details /d 12)
	sleep 0.5
	d=$(($(scraped istio_requests_total $DET response_flags=FI) - b))
	if [ "$(echo "$out" | field code 555)" = 12 ] && [ "$d" = 12 ]; then t_pass
	else t_fail "client: $out; FI series +$d"; fi
else t_fail "not applied"; fi

t_begin "metrics: a route timeout is response_code 504, response_flags UT, reviews-v1 tried"
UT="$REV destination_workload=reviews-v1 response_code=504 response_flags=UT"
if applied "$FX/reviews-timeout-1s.yaml"; then
	b=$(scraped istio_requests_total $UT)
	out=$(keepalive reviews /delay/3000 2)
	sleep 0.5
	d=$(($(scraped istio_requests_total $UT) - b))
	if [ "$(echo "$out" | field code 504)" = 2 ] && [ "$d" = 2 ]; then t_pass
	else t_fail "client: $out; UT series +$d"; fi
else t_fail "not applied"; fi

# refused FILE TEXT: a bad file dropped into the config dir is refused with TEXT (file:line), the
# generation stays, and the previous rules still route (ratings abort for jason).
refused() {
	local f=$1 expect=$2 gen rej now a
	gen=$(generation node-1)
	rej=$(rejected node-1)
	config_put "zz-$(basename "$f")" <"$f"
	for _ in $(seq 100); do
		[ "$(rejected node-1)" != "$rej" ] && break
		sleep 0.1
	done
	now=$(generation node-1)
	rm -f "$STATE/config/zz-$(basename "$f")"
	a=$(keepalive ratings /r 3 end-user:jason)
	if [ "$now" != "$gen" ]; then t_fail "generation moved $gen -> $now"
	elif ! grep -qF -- "$expect" "$STATE/logs/skiffd-node-1.log"; then
		t_fail "no '$expect' in skiffd's log: $(grep error "$STATE/logs/skiffd-node-1.log" | tail -3)"
	elif [ "$(echo "$a" | field code 500)" != 3 ]; then t_fail "previous rules gone: $a"
	else t_pass; fi
	rel=$(reloads node-1)
	wait_reload node-1 "$rel" >/dev/null
}

t_begin "mirror: reviews requests are copied to ratings, fire and forget"
# ratings counts /fail/ requests: its first one answers 503, later ones 200 (/fail/1/1000)
if applied "$FX/reviews-mirror.yaml"; then
	a=$(keepalive reviews /fail/1/1000 5)
	sleep 0.5
	b=$(keepalive ratings /fail/1/1000 1)
	if [ "$(echo "$a" | field pod reviews-v1)" = 5 ] && [ "$(echo "$b" | field code 200)" = 1 ]
	then t_pass
	else t_fail "reviews: $a / ratings after the copies: $b"; fi
else t_fail "not applied"; fi

applied "$NET/virtual-service-ratings-test-abort.yaml"
t_begin "an invalid regex (a backreference) is refused at file:line, previous config kept"
refused "$FX/bad-regex.yaml" "zz-bad-regex.yaml:12: VirtualService default/reviews-bad: spec.http[0].match[0].uri.regex: \"/(a)\\1\" is not a valid regular expression: backreference"
t_begin "a retryOn value Istio rejects is refused at file:line, previous config kept"
refused "$FX/bad-retry-on.yaml" "zz-bad-retry-on.yaml:15: VirtualService default/reviews-bad: spec.http[0].retries.retryOn: \"sometimes\" is not a retry condition"
t_begin "a percentage over 100 is refused at file:line, previous config kept"
refused "$FX/bad-percentage.yaml" "zz-bad-percentage.yaml:14: VirtualService default/details-bad: spec.http[0].fault.abort.percentage.value: 150 must be 0 or between 0.0001 and 100"
t_begin "a mirror to an unknown host is refused at file:line, previous config kept"
refused "$FX/bad-mirror.yaml" "mirrors to \"reviewz\", which is no Service of the mesh"

t_begin "consistentHash on x-user: one user always reaches one pod, many users spread"
if applied "$FX/reviews-hash-header.yaml"; then
	a=$(keepalive reviews /h 30 x-user:alice)
	b=$(keepalive reviews /h 30 x-user:alice) # another connection, the same pod
	pa=$(echo "$a" | awk '$1 == "pod" && $3 == 30 { print $2 }')
	pb=$(echo "$b" | awk '$1 == "pod" && $3 == 30 { print $2 }')
	spread=""
	for u in 1 2 3 4 5 6 7 8 9 10 11 12; do
		spread+="$(keepalive reviews /h 3 "x-user:user-$u" | awk '$1 == "pod" && $3 == 3 { print $2 }') "
	done
	nspread=$(echo "$spread" | tr ' ' '\n' | grep -c .)
	ndistinct=$(echo "$spread" | tr ' ' '\n' | grep . | sort -u | wc -l)
	if [ -n "$pa" ] && [ "$pa" = "$pb" ] && [ "$nspread" = 12 ] && [ "$ndistinct" -ge 2 ]; then
		t_pass "alice -> $pa; 12 users on $ndistinct pods"
	else t_fail "alice: $a / again: $b / users: $spread"; fi
else t_fail "not applied: $(tail -3 "$LOG")"; fi
t_begin "outlier detection: 3 x 503 eject the pod from the router and the kernel, back after 8 s"
SKLOG="$STATE/logs/skiffd-node-1.log"
pinned() { awk '$1 == "pod" && $3 == '"$2"' { print $2 }' <<<"$1"; }
slots() { "$HERE/backend_slots.py" /sys/fs/bpf/skiff-lab/node-1 "$1" 9080 2>>"$LOG" | sort | tr '\n' ' '; }
if applied "$FX/reviews-outlier.yaml"; then
	p=$(pinned "$(keepalive reviews /h 10 x-user:alice)" 10)
	nej=$(grep -c "outlier detection: ejected" "$SKLOG")
	f=$(keepalive reviews /status/503 3 x-user:alice)
	sleep 0.3
	b=$(keepalive reviews /h 10 x-user:alice)
	q=$(pinned "$b" 10)
	# the router ejects on the third 503; the agent loop then takes the pod out of the kernel's
	# slots and logs it. Wait for its log line, then for the slots: up to 10 s (30 s in the 6.1
	# guest, where each of this test's Python clients takes seconds to start)
	waits=$([ -n "${SKIFF_VMTEST:-}" ] && echo 300 || echo 100)
	for _ in $(seq "$waits"); do
		[ "$(grep -c "outlier detection: ejected" "$SKLOG")" -gt "$nej" ] && break
		sleep 0.1
	done
	# "... ejected 198.18.1.5:8080 for service 198.19.0.4:9080": the kernel's slots of that VIP
	line=$(grep "outlier detection: ejected" "$SKLOG" | tail -1)
	pip=$(sed -E 's/.*ejected ([0-9.]+):.*/\1/' <<<"$line")
	vip=$(sed -E 's/.*for service ([0-9.]+):.*/\1/' <<<"$line")
	for _ in $(seq "$waits"); do
		during=$(slots "$vip")
		[[ "$during" == *out* ]] && break
		sleep 0.1
	done
	ej=$(grep -c "outlier detection: ejected" "$SKLOG")
	sleep 9.5 # baseEjectionTime 8 s (long enough to read the kernel's slots on a loaded machine), returns checked each 1 s interval
	c=$(pinned "$(keepalive reviews /h 10 x-user:alice)" 10)
	for _ in $(seq "$waits"); do
		after=$(slots "$vip")
		[[ "$after" != *out* ]] && grep -q "outlier detection: returned" "$SKLOG" && break
		sleep 0.1
	done
	if [ -n "$p" ] && [ "$(echo "$f" | field code 503)" = 3 ] && [ -n "$q" ] && [ "$q" != "$p" ] &&
		[ "$ej" = $((nej + 1)) ] && [ "$c" = "$p" ] &&
		[[ "$during" == *"$pip:8080 out"* ]] && [ "$(grep -o ' in' <<<" $during" | wc -l)" = 2 ] &&
		[[ "$after" == *"$pip:8080 in"* ]] && [[ "$after" != *out* ]] &&
		grep -q "outlier detection: returned" "$SKLOG" &&
		! grep -q "outlier detection: .* in the kernel failed" "$SKLOG"; then
		t_pass "$p out (kernel: $during), alice on $q, then back (kernel: $after)"
	else
		t_fail "pinned $p / failing: $f / while out: $b / kernel: $during / after: $c /
kernel: $after / log: $(grep 'outlier' "$SKLOG" | tail -3)"
	fi
else t_fail "not applied: $(tail -3 "$LOG")"; fi
applied "$NET/destination-rule-all.yaml"

t_begin "connectionPool maxConnections 1, http1MaxPendingRequests 1: of 4 at once, 2 are 503"
if applied "$FX/reviews-pool.yaml"; then
	for i in 1 2 3 4; do keepalive reviews /delay/1500 1 >"$STATE/pool.$i" & done
	wait
	ok=$(cat "$STATE"/pool.? | field code 200) over=$(cat "$STATE"/pool.? | field code 503)
	after=$(keepalive reviews /h 3)
	if [ "$ok" = 2 ] && [ "$over" = 2 ] && [ "$(echo "$after" | field code 200)" = 3 ]; then
		t_pass "200 x $ok, 503 x $over, then 3 x 200 one by one"
	else t_fail "200 x $ok, 503 x $over: $(cat "$STATE"/pool.?) / after: $after"; fi
else t_fail "not applied: $(tail -3 "$LOG")"; fi
applied "$NET/destination-rule-all.yaml"

# Envoy's stream_idle_timeout (5 min, kept by Istio) is skiffd's --stream-idle-timeout: without
# it a route with no timeout left a router thread on an endpoint that answered nothing
t_begin "stream idle timeout 2s, no route timeout: a 5 s answer is a 504 after 2 s"
if applied "$NET/virtual-service-reviews-jason-v2-v3.yaml" &&
	SKIFF_LAB_AGENT_ARGS="--stream-idle-timeout 2s" lab restart-agent node-1 >>"$LOG" 2>&1; then
	out=$(keepalive reviews /delay/5000 1)
	fast=$(keepalive reviews /delay/500 1)
	secs=$(echo "$out" | one max_secs)
	max=$([ -n "${SKIFF_SANITIZED:-}" ] && echo 3.5 || echo 2.8)
	if [ "$(echo "$out" | field code 504)" = 1 ] && [ "$(echo "$fast" | field code 200)" = 1 ] &&
		awk -v s="$secs" -v m="$max" 'BEGIN { exit !(s >= 1.9 && s <= m) }'; then
		t_pass "504 after ${secs}s; a 0.5 s answer: 200"
	else t_fail "slow: $out / fast: $fast"; fi
else t_fail "not applied, or no restart: $(tail -3 "$LOG")"; fi

t_begin "connect-failure to a dead endpoint is retried to a live one"
dead=$(lab status | awk 'index($1, "default/reviews-v1-") == 1 { print $5; exit }')
if applied "$FX/reviews-all-retries.yaml" && [ -n "$dead" ] && kill "$dead"; then
	sleep 0.3
	out=$(keepalive reviews /c 60)
	if [ "$(echo "$out" | field code 200)" = 60 ] && [ "$(echo "$out" | field pod reviews-v1)" = 0 ]; then
		t_pass
	else t_fail "$out"; fi
else t_fail "not applied, or no reviews-v1 pid ($dead)"; fi

t_summary
