#!/bin/bash
# skiffd restart: pinned maps and links keep kernel-path connections working while the agent is
# away, and a new agent adopts them (no detach, generations continue). A Service port with HTTP
# rules needs skiffd (its L7 router): while skiffd is down its connections are refused at once,
# never sent around the router (which also applies the same-node policy for them), and they work
# again when skiffd is back.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
EX="$HERE/../../examples/payments"

hit() { lab exec -n frontend deploy/frontend -- "$BUILD/bin/skiff-hit" "$@"; }

# The guide's 90/10 without its retries: plain weights stay in the kernel, per connection.
WEIGHTS=$(mktemp /tmp/skiff-restart-vs.XXXXXX.yaml)
trap 't_cleanup; rm -f "$WEIGHTS"' EXIT
sed '/retries:/,$d' "$EX/istio/virtual-service.yaml" >"$WEIGHTS"

t_begin "lab up: payments with 90/10 (weights only: the kernel path) on one node"
if lab up "$EX"/0*.yaml "$EX"/[1-9]*.yaml "$EX/istio/destination-rule.yaml" \
	"$WEIGHTS" >"$LOG" 2>&1; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi

agent_pid() { lab status | awk '$1 == "node-1" && $3 == "skiffd" {print $5; exit}'; }

t_begin "an open keep-alive connection survives kill -9 of skiffd"
fifo=$(mktemp -u) && mkfifo "$fifo"
# One TCP connection to the VIP: a request now, another after the agent is killed.
lab exec -n frontend deploy/frontend -- bash -c '
	exec 3<>/dev/tcp/payments-api.payments/80 || exit 2
	printf "GET /one HTTP/1.1\r\nHost: x\r\n\r\n" >&3; timeout 0.5 cat <&3; echo
	read -r _ <'"$fifo"'
	printf "GET /two HTTP/1.1\r\nHost: x\r\n\r\n" >&3; timeout 0.5 cat <&3; echo' \
	>"$LOG.conn" 2>&1 &
conn=$!
sleep 0.5
pid=$(agent_pid)
gen=$(generation node-1)
kill -9 "$pid"
echo go >"$fifo"
wait $conn
if [ "$(grep -c 'HTTP/1.1 200' "$LOG.conn")" = 2 ] && grep -q '"path":"/two"' "$LOG.conn"; then t_pass; else t_fail "$(cat "$LOG.conn")"; fi
rm -f "$fifo" "$LOG.conn"

t_begin "new connections are balanced while skiffd is down (programs stay attached)"
out=$(hit -n 300 payments-api.payments:80)
read -r v1 v2 _ err total < <(echo "$out" | hits_by_version)
if [ "$err" = 0 ] && [ "$v2" -gt 0 ] && within_binomial "$v2" 300 0.1; then t_pass "v1=$v1 v2=$v2"
else t_fail "$out"; fi

t_begin "a new skiffd adopts the pinned maps and continues the generation count"
args=$(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null)
lab restart-agent node-1 >"$LOG" 2>&1 || true
for _ in $(seq 50); do
	[ "$(generation node-1)" != "" ] && break
	sleep 0.1
done
new=$(generation node-1)
if [ -n "$new" ] && [ "$new" -gt "$gen" ] && hit -n 100 payments-api.payments:80 >/dev/null
then t_pass "generation $gen -> $new"; else t_fail "gen $gen -> '$new' ($args) $(cat "$LOG")"; fi

t_begin "after the restart, a config change still applies"
gen=$(generation node-1)
lab apply "$EX/istio/virtual-service-50-50.yaml" >"$LOG" 2>&1
if wait_generation_change node-1 "$gen" 20; then
	read -r v1 v2 _ err total < <(hit -n 500 payments-api.payments:80 | hits_by_version)
	if [ "$err" = 0 ] && within_binomial "$v2" 500 0.5; then t_pass; else t_fail "v1=$v1 v2=$v2"; fi
else t_fail "generation stayed $gen"; fi

t_begin "HTTP rules (the guide's retries) while skiffd is down: refused at once, served once it is back"
gen=$(generation node-1)
lab apply "$EX/istio/virtual-service.yaml" >"$LOG" 2>&1
if ! wait_generation_change node-1 "$gen" 20; then
	t_fail "the guide's VirtualService was not applied (generation stayed $gen)"
else
	before=$(hit -n 50 payments-api.payments:80 | hits_by_version)
	kill -9 "$(agent_pid)"
	start=$(date +%s%N)
	down=$(hit -n 20 payments-api.payments:80)
	ms=$((($(date +%s%N) - start) / 1000000))
	lab restart-agent node-1 >"$LOG" 2>&1 || true
	for _ in $(seq 50); do
		hit -n 1 payments-api.payments:80 >/dev/null 2>&1 && break
		sleep 0.1
	done
	read -r _ _ _ err_after _ < <(hit -n 50 payments-api.payments:80 | hits_by_version)
	read -r _ _ _ err_before _ <<<"$before"
	if [ "$err_before" = 0 ] && grep -q "errors 20" <<<"$down" && [ "$ms" -lt 2000 ] &&
		[ "$err_after" = 0 ]; then
		t_pass "20 of 20 refused in $ms ms while down; 50 of 50 served after"
	else t_fail "before: $before; down ($ms ms): $down; errors after: $err_after"; fi
fi

t_summary
