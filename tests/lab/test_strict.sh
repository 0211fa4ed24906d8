#!/bin/bash
# PeerAuthentication in the kernel: with STRICT, a pod takes connections only from the mesh. On
# the node, the TC guard on the pod's veth drops SYNs from pods outside the mesh and from the node
# itself, and lets in same-node mesh pods (the kernel saw their connect); from off the node the XDP
# guard on the uplink drops plaintext. PERMISSIVE lets everyone in; a port-level DISABLE opens
# one port. skiffd's config dump counts what the guard did.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
FX=$HERE/fixtures/mtls

pod_ip() { lab status | awk -v d="$1-" -v n="$2" 'index($1, d) == 1 && $2 == n { print $3; exit }'; }
guard() { config_dump "$1" | sed -nE "s/.*\"guard\":\\{[^}]*\"$2\":([0-9]+).*/\\1/p"; }
# Does a TCP connection from $1 (a `lab exec` target) to $2:$3 open within 1.5 s?
reaches() {
	local who=$1 ip=$2 port=$3
	shift 3
	lab exec "$@" $who -- timeout 1.5 bash -c "exec 3<>/dev/tcp/$ip/$port" >/dev/null 2>&1
}
from_client() { reaches deploy/client "$1" "$2" -n shop; }
from_stranger() { reaches deploy/stranger "$1" "$2" -n outside; }
from_optout() { reaches deploy/optout "$1" "$2" -n shop; }
from_node1() { lab exec --node node-1 -- timeout 1.5 bash -c "exec 3<>/dev/tcp/$1/$2" >/dev/null 2>&1; }

apply_wait() {
	local g1 g2
	g1=$(generation node-1) g2=$(generation node-2)
	lab apply "$@" >"$LOG" 2>&1 && wait_generation_change node-1 "$g1" 30 &&
		wait_generation_change node-2 "$g2" 30
}

t_begin "lab up: shop mesh on 2 nodes, skiffd --uplink eth0, then namespace-wide STRICT"
if SKIFF_LAB_AGENT_ARGS="--uplink eth0" lab up --nodes 2 "$HERE/fixtures/shop.yaml" >"$LOG" 2>&1 && apply_wait "$FX/strict.yaml"
then t_pass; else t_fail "$(tail -5 "$LOG")"; fi

ECHO1=$(pod_ip shop/echo node-1)
ECHO2=$(pod_ip shop/echo node-2)

t_begin "STRICT, same node: a mesh pod gets in (the kernel saw its connect)"
before=$(guard node-1 pass_flow)
if from_client "$ECHO1" 8080 && [ "$(guard node-1 pass_flow)" -gt "$before" ]; then t_pass
else t_fail "echo1=$ECHO1 pass_flow $before -> $(guard node-1 pass_flow)"; fi

t_begin "STRICT, same node: a pod outside the mesh is dropped on the veth"
before=$(guard node-1 drop_tc)
if ! from_stranger "$ECHO1" 8080 && [ "$(guard node-1 drop_tc)" -gt "$before" ]; then t_pass
else t_fail "drop_tc $before -> $(guard node-1 drop_tc)"; fi

t_begin "STRICT, same node: a process of the node (outside any pod) is dropped"
before=$(guard node-1 drop_tc)
if ! from_node1 "$ECHO1" 8080 && [ "$(guard node-1 drop_tc)" -gt "$before" ]; then t_pass
else t_fail "drop_tc $before -> $(guard node-1 drop_tc)"; fi

t_begin "STRICT, from another node in plaintext: dropped by XDP on the uplink"
before=$(guard node-1 drop_xdp)
if ! from_optout "$ECHO1" 8080 && [ "$(guard node-1 drop_xdp)" -gt "$before" ]; then t_pass
else t_fail "drop_xdp $before -> $(guard node-1 drop_xdp)"; fi

t_begin "STRICT: the Service VIP from a mesh pod still works for the same-node share"
out=$(lab exec -n shop deploy/client -- "$BUILD/bin/skiff-hit" -n 40 --timeout-ms 1500 echo.shop:80)
n1=$(echo "$out" | awk -v p="$(lab status | awk -v n=node-1 'index($1, "shop/echo-") == 1 && $2 == n { sub(/^shop\//, "", $1); print $1; exit }')" '$1 == "pod" && $2 == p { print $3 }')
if [ "${n1:-0}" -gt 0 ]; then t_pass "$n1 answered by the same-node pod"
else t_fail "$out"; fi

t_begin "port-level DISABLE: the raw TCP port takes plaintext, HTTP stays STRICT"
if apply_wait "$FX/port-level.yaml" && from_stranger "$ECHO1" 9000 &&
	! from_stranger "$ECHO1" 8080; then t_pass
else t_fail "$(tail -3 "$LOG")"; fi

t_begin "PERMISSIVE: plaintext from outside the mesh, the node and other nodes gets in"
if apply_wait "$FX/permissive.yaml" && from_stranger "$ECHO1" 8080 && from_node1 "$ECHO1" 8080 &&
	from_optout "$ECHO1" 8080 && from_client "$ECHO2" 8080; then t_pass
else t_fail "$(tail -3 "$LOG")"; fi

t_summary
