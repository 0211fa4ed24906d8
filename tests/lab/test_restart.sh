#!/bin/bash
# skiffd restart: pinned maps and links keep connections working while the agent is away, and a
# new agent adopts them (no detach, generations continue).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
EX="$HERE/../../examples/payments"

hit() { lab exec -n frontend deploy/frontend -- "$BUILD/bin/skiff-hit" "$@"; }

t_begin "lab up: payments with 90/10 on one node"
if lab up "$EX"/0*.yaml "$EX"/[1-9]*.yaml "$EX/istio/destination-rule.yaml" \
	"$EX/istio/virtual-service.yaml" >"$LOG" 2>&1; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi

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

t_summary
