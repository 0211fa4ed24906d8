#!/bin/bash
# Flow events: `skiffctl observe` on a node shows what the kernel saw, from skiffd's history and
# live (--follow): a STRICT drop (plaintext from a pod outside the mesh to a STRICT pod) and an
# AuthorizationPolicy DENY at connect() on the node, each within 1 s with its reason and the
# policy's name; a connection opened and closed with the bytes it carried each way; the filters
# -n, --pod, --verdict, --since; JSON lines that parse.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
FX=$HERE/fixtures
OUT=$(mktemp /tmp/skiff-observe.XXXXXX)
FOLLOW=$(mktemp /tmp/skiff-observe-follow.XXXXXX)
T_OWN+=("$OUT" "$FOLLOW")
FOLLOWER=""
stop_follower() {
	[ -n "$FOLLOWER" ] && kill "$FOLLOWER" 2>/dev/null && wait "$FOLLOWER" 2>/dev/null
	FOLLOWER=""
}
trap 'stop_follower; t_cleanup' EXIT

pod_field() {
	lab status | awk -v d="$1-" -v n="$2" -v c="$3" \
		'index($1, d) == 1 && (n == "" || $2 == n) { print $c; exit }'
}
# observe NODE ARGS...: skiffctl observe inside the node (skiffd's admin port on its loopback)
observe() {
	local node=$1
	shift
	lab exec --node "$node" -- "$BUILD/bin/skiffctl" observe "$@"
}
# follow NODE ARGS...: skiffctl observe --follow in the background, into $FOLLOW
follow() {
	local node=$1
	shift
	: >"$FOLLOW"
	lab exec --node "$node" -- "$BUILD/bin/skiffctl" observe --follow "$@" >"$FOLLOW" 2>&1 &
	FOLLOWER=$!
	sleep 0.3 # connected and past the history before anything happens
}
# seen PATTERN MS: a line matching PATTERN arrives in $FOLLOW within MS milliseconds
seen() {
	local deadline=$(($(date +%s%N) / 1000000 + $2))
	while [ "$(($(date +%s%N) / 1000000))" -le "$deadline" ]; do
		grep -qE "$1" "$FOLLOW" && return 0
		sleep 0.05
	done
	return 1
}

t_begin "lab up: shop on 2 nodes, STRICT, a DENY of the client on echo's port 8080"
if SKIFF_LAB_AGENT_ARGS="--uplink eth0" lab up --nodes 2 "$FX/shop.yaml" \
	"$FX/mtls/strict.yaml" "$FX/observe.yaml" >"$LOG" 2>&1; then t_pass
else t_fail "$(tail -5 "$LOG")"; fi

NODE=$(pod_field shop/client "" 2)
CLIENT=$(pod_field shop/client "" 1)
ECHO=$(pod_field shop/echo "$NODE" 1)
ECHO_IP=$(pod_field shop/echo "$NODE" 3)
STRANGER=$(pod_field outside/stranger "" 1)
echo "# client $CLIENT and echo $ECHO ($ECHO_IP) on $NODE; stranger $STRANGER"

# Within 1 s of the connect on the host. In the 6.1 guest, starting the client (lab exec, bash)
# under an emulated CPU alone can take longer than that, so there the client gets 5 s to send its
# SYN and the line 5 s to come: the guest shows the events exist on 6.1, the host their speed.
WITHIN=1000
TRY=1.5
[ -n "${SKIFF_VMTEST:-}" ] && WITHIN=5000 && TRY=5

t_begin "STRICT drop within 1 s: stranger -> echo:9000, dropped, with the guard's reason"
follow "$NODE"
lab exec -n outside "${STRANGER#outside/}" -- timeout "$TRY" bash -c \
	"exec 3<>/dev/tcp/$ECHO_IP/9000" >/dev/null 2>&1 &
want="$STRANGER -> $ECHO:9000 DROPPED \\(dropped\\) STRICT mTLS: plaintext SYN"
if seen "$want" "$WITHIN"; then t_pass "$(grep -m1 -E "$want" "$FOLLOW")"
else t_fail "no line like '$want' in $WITHIN ms: $(cat "$FOLLOW")"; fi
wait %2 2>/dev/null

t_begin "policy denial within 1 s: client -> echo:8080 refused at connect(), policy named"
want="$CLIENT -> $ECHO:8080 DENIED \\(denied\\) AuthorizationPolicy shop/deny-client-http"
err=$(lab exec -n shop "${CLIENT#shop/}" -- timeout "$TRY" bash -c \
	"exec 3<>/dev/tcp/$ECHO_IP/8080" 2>&1)
if seen "$want" "$WITHIN" && grep -q "not permitted" <<<"$err"; then t_pass
else t_fail "connect said '$err'; no line like '$want' in $WITHIN ms: $(cat "$FOLLOW")"; fi
stop_follower

t_begin "opened and closed: 1000 bytes each way to echo:9000, counted both ways"
lab exec -n shop "${CLIENT#shop/}" -- python3 -c "
import socket
s = socket.create_connection(('$ECHO_IP', 9000), timeout=3)
s.sendall(b'x' * 1000)
got = 0
while got < 1000:
    b = s.recv(4096)
    if not b: break
    got += len(b)
s.close()
assert got == 1000, got
" >"$LOG" 2>&1
ok=$?
closed=""
for _ in $(seq 30); do
	closed=$(observe "$NODE" --json --pod "$CLIENT" --since 1m | python3 -c "
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    if e['event'] == 'closed' and e['destination']['port'] == 9000:
        print(e['bytes_received'], e['bytes_sent'], e['source']['pod'], e['destination']['pod'])
" | tail -1)
	[ -n "$closed" ] && break
	sleep 0.1
done
opened=$(observe "$NODE" --pod "$CLIENT" --since 1m |
	grep -c "$CLIENT -> $ECHO:9000 FORWARDED (opened)")
if [ "$ok" = 0 ] && [ "$closed" = "1000 1000 ${CLIENT#shop/} ${ECHO#shop/}" ] &&
	[ "$opened" -ge 1 ]; then
	t_pass "$closed"
else
	t_fail "client exit $ok $(cat "$LOG"); closed '$closed', opened $opened:
$(observe "$NODE" --since 1m)"
fi

t_begin "filters: --verdict denied shows denials only, --verdict dropped drops only"
observe "$NODE" --verdict denied >"$OUT" 2>&1
den_ok=$(grep -c "DENIED" "$OUT")
den_other=$(grep -vc "DENIED" "$OUT")
observe "$NODE" --verdict dropped >"$OUT" 2>&1
drop_ok=$(grep -c "DROPPED" "$OUT")
drop_other=$(grep -vc "DROPPED" "$OUT")
if [ "$den_ok" -ge 1 ] && [ "$den_other" = 0 ] && [ "$drop_ok" -ge 1 ] &&
	[ "$drop_other" = 0 ]; then
	t_pass "$den_ok denied, $drop_ok dropped"
else t_fail "denied $den_ok (+$den_other other), dropped $drop_ok (+$drop_other other)"; fi

t_begin "filters: -n outside shows the stranger's events only; --pod the echo pod's only"
observe "$NODE" -n outside >"$OUT" 2>&1
ns_ok=$(grep -c "$STRANGER" "$OUT")
ns_other=$(grep -vc "$STRANGER" "$OUT")
observe "$NODE" --pod "${ECHO#shop/}" >"$OUT" 2>&1
pod_ok=$(grep -c "$ECHO" "$OUT")
pod_other=$(grep -vc "$ECHO" "$OUT")
if [ "$ns_ok" -ge 1 ] && [ "$ns_other" = 0 ] && [ "$pod_ok" -ge 3 ] && [ "$pod_other" = 0 ]; then
	t_pass "-n outside $ns_ok, --pod $pod_ok"
else t_fail "-n outside $ns_ok (+$ns_other), --pod $pod_ok (+$pod_other): $(cat "$OUT")"; fi

t_begin "--json: every line parses, with time, verdict, source and destination"
if observe "$NODE" --json >"$OUT" 2>&1 && [ -s "$OUT" ] && python3 -c "
import json, sys
n = 0
for l in open(sys.argv[1]):
    e = json.loads(l)
    assert e['verdict'] in ('forwarded', 'denied', 'dropped'), e
    assert e['time'] and 'ip' in e['source'] and 'port' in e['destination'], e
    n += 1
assert n >= 4, n
" "$OUT"; then t_pass "$(wc -l <"$OUT") lines"
else t_fail "$(head -5 "$OUT")"; fi

t_begin "--since: events older than the window are left out; bad values are named"
sleep 2
observe "$NODE" --since 1s >"$OUT" 2>&1
recent=$(grep -c . "$OUT")
bad=$(observe "$NODE" --since 5x 2>&1)
brc=$?
if [ "$recent" = 0 ] && [ "$brc" = 2 ] && grep -q "since 5x" <<<"$bad"; then t_pass
else t_fail "--since 1s printed $recent lines: $(cat "$OUT"); --since 5x exit $brc: $bad"; fi

t_begin "metrics: skiff_flow_events_total counts each kind; nothing was lost"
page=$(lab exec --node "$NODE" -- curl -s --max-time 2 127.0.0.1:15020/metrics)
if grep -qE '^skiff_flow_events_total\{kind="denied"\} [1-9]' <<<"$page" &&
	grep -qE '^skiff_flow_events_total\{kind="dropped"\} [1-9]' <<<"$page" &&
	grep -qE '^skiff_flow_events_total\{kind="closed"\} [1-9]' <<<"$page" &&
	grep -qE '^skiff_flow_events_lost_total 0$' <<<"$page"; then t_pass
else t_fail "$(grep skiff_flow <<<"$page")"; fi

t_summary
