#!/bin/bash
# The punt path: TCP from a mesh pod to a mesh pod on another node goes to the sending node's
# skiffd (outbound listener 15001), which learns the original destination from the kernel's record
# and carries the connection over HBONE to the destination node's skiffd, which connects to the
# pod: the server sees its own node's address as its peer. Same-node traffic, non-mesh pods and
# the node's own connections are not punted; a destination that refuses resets the client at
# once; skiffd --no-punt sends everything direct. (tests/lab/test_hbone.sh checks the mTLS.)
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"

in_client() { lab exec -n shop deploy/client -- "$@"; }
# The address of the pod of deployment $1 on node $2 (column 3: IPv4, 4: IPv6).
pod_ip() { lab status | awk -v d="shop/$1-" -v n="$2" -v c="${3:-3}" 'index($1, d) == 1 && $2 == n { print $c; exit }'; }
# The "peer" the echo server saw for one HTTP request to $1 (host:port or [v6]:port).
peer_of() { sed -nE 's/.*"peer":"([^"]*)".*/\1/p'; }
# One counter of a node's outbound proxy from its config dump.
outbound() { config_dump "$1" | sed -nE "s/.*\"outbound\":\\{[^}]*\"$2\":([0-9]+).*/\\1/p"; }

t_begin "lab up: shop mesh on 2 nodes, skiffd with --outbound-addr (the lab's default)"
if lab up --nodes 2 "$HERE/fixtures/shop.yaml" >"$LOG" 2>&1 &&
	config_dump node-1 | grep -q '"outbound":{'; then t_pass
else t_fail "$(tail -5 "$LOG")"; fi

ECHO1=$(pod_ip echo node-1)
ECHO2=$(pod_ip echo node-2)
ECHO2_6=$(pod_ip echo node-2 4)
CLIENT=$(pod_ip client node-1)

t_begin "IPv4: a mesh pod to a mesh pod on another node goes through both nodes' skiffd"
before=$(outbound node-1 hbone_out)
before2=$(outbound node-2 hbone_in)
peer=$(in_client curl -s --max-time 3 "http://$ECHO2:8080/" | peer_of)
after=$(outbound node-1 hbone_out)
after2=$(outbound node-2 hbone_in)
if [ "${peer%:*}" = 198.18.0.2 ] && [ "$after" = $((before + 1)) ] &&
	[ "$after2" = $((before2 + 1)) ]; then
	t_pass "server saw $peer; streams out $before -> $after, in $before2 -> $after2"
else t_fail "echo2=$ECHO2 peer=$peer hbone_out $before -> $after, hbone_in $before2 -> $after2"; fi

t_begin "IPv6: the same, original destination recovered for an IPv6 pod address"
before=$(outbound node-1 hbone_out)
peer=$(in_client curl -s --max-time 3 "http://[$ECHO2_6]:8080/" | peer_of)
after=$(outbound node-1 hbone_out)
if [ "$peer" != "${peer#\[2001:db8::2]}" ] && [ "$after" = $((before + 1)) ]; then
	t_pass "server saw $peer"
else t_fail "echo2=$ECHO2_6 peer=$peer hbone_out $before -> $after"; fi

t_begin "through the VIP: every connection answered, getpeername shows the VIP, the remote share punted"
before=$(outbound node-1 accepted)
out=$(in_client "$BUILD/bin/skiff-hit" -n 100 echo.shop:80)
after=$(outbound node-1 accepted)
if echo "$out" | grep -q '^errors 0' && echo "$out" | grep -q '^peer_mismatch 0' &&
	[ $((after - before)) -ge 20 ] && [ $((after - before)) -le 80 ]; then
	t_pass "$((after - before)) of 100 punted"
else t_fail "accepted $before -> $after; $out"; fi

t_begin "same node: not punted, the server sees the client pod"
before=$(outbound node-1 accepted)
peer=$(in_client curl -s --max-time 3 "http://$ECHO1:8080/" | peer_of)
after=$(outbound node-1 accepted)
if [ "${peer%:*}" = "$CLIENT" ] && [ "$after" = "$before" ]; then t_pass "$peer"
else t_fail "peer=$peer client=$CLIENT accepted $before -> $after"; fi

t_begin "32 MiB each way through HBONE, half-close passed on, bytes equal"
out=$(in_client python3 "$HERE/echo_check.py" "$ECHO2" 9000 33554432 2>&1)
if [ "$out" = "sent 33554432 echoed 33554432 equal True" ]; then t_pass
else t_fail "$out"; fi

t_begin "a destination that refuses: 503 from the other node, the client is reset at once"
before=$(outbound node-1 hbone_refused)
before2=$(outbound node-2 hbone_pod_failed)
start=$(date +%s%N)
in_client curl -s --max-time 3 "http://$ECHO2:1/" >/dev/null 2>&1
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
after=$(outbound node-1 hbone_refused)
after2=$(outbound node-2 hbone_pod_failed)
if [ $rc != 0 ] && [ $rc != 28 ] && [ $ms -lt 1500 ] && [ "$after" = $((before + 1)) ] &&
	[ "$after2" = $((before2 + 1)) ]; then
	t_pass "curl exit $rc after $ms ms"
else t_fail "curl exit $rc after $ms ms; refused $before -> $after, pod_failed $before2 -> $after2"; fi

t_begin "the node's own connections (skiffd's place) are not punted"
before=$(outbound node-1 accepted)
peer=$(lab exec --node node-1 -- curl -s --max-time 3 "http://$ECHO2:8080/" | peer_of)
after=$(outbound node-1 accepted)
if [ "${peer%:*}" = 198.18.0.1 ] && [ "$after" = "$before" ]; then t_pass
else t_fail "peer=$peer accepted $before -> $after"; fi

t_begin "a pod outside the mesh is not punted"
before=$(outbound node-2 accepted)
peer=$(lab exec -n shop deploy/optout -- curl -s --max-time 3 "http://$ECHO1:8080/" | peer_of)
after=$(outbound node-2 accepted)
if [ "${peer%:*}" = "$(pod_ip optout node-2)" ] && [ "$after" = "$before" ]; then t_pass
else t_fail "peer=$peer accepted $before -> $after"; fi

t_begin "skiffd --no-punt: cross-node goes direct again, the server sees the client pod"
SKIFF_LAB_AGENT_ARGS=--no-punt lab restart-agent node-1 >"$LOG" 2>&1
sleep 1
peer=$(in_client curl -s --max-time 3 "http://$ECHO2:8080/" | peer_of)
if [ "${peer%:*}" = "$CLIENT" ] && config_dump node-1 | grep -q '"outbound":null'; then
	t_pass "$peer"
else t_fail "peer=$peer $(tail -3 "$LOG")"; fi

t_summary
