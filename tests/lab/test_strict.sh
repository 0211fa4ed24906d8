#!/bin/bash
# PeerAuthentication in the kernel: with STRICT, a pod takes connections only from the mesh. On
# the node, the TC guard on the pod's veth drops SYNs from pods outside the mesh and from the node
# itself, and lets in same-node mesh pods (the kernel saw their connect); from off the node the XDP
# guard on the uplink drops plaintext. PERMISSIVE lets everyone in; a port-level DISABLE opens
# one port. skiffd's config dump counts what the guard did.
# An attacker with CAP_NET_RAW (raw_syn.py) tries the ways a SYN-only guard would miss: a SYN behind
# IPv6 extension headers, a SYN in fragments, a chain longer than the guard walks, the pod's
# link-local address, a frame written on the veth past its qdisc; with STRICT nothing opens, with
# PERMISSIVE each way does (the controls). The guard's socket check (guard_sock) is attached to
# the pod cgroup root only while some pod there is STRICT on a port, and survives a restart.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
FX=$HERE/fixtures/mtls

# pod_field NS/DEPLOY NODE COLUMN: a column of `lab status` for that deployment's pod on NODE
pod_field() {
	lab status | awk -v d="$1-" -v n="$2" -v c="$3" \
		'index($1, d) == 1 && $2 == n { print $c; exit }'
}
pod_ip() { pod_field "$1" "$2" 3; }
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

# The raw-socket attacker (raw_syn.py) from a `lab exec` target, given as one word list:
STRANGER="-n outside deploy/stranger"
NODE1="--node node-1"
OPTOUT="-n shop deploy/optout"
CLIENT="-n shop deploy/client"
# raw WHO ROUTE ADDR PORT: raw_syn.py's exit status (0 accepted, 1 nothing back, 3 reset, 2 setup
# error); what it said in RAW_OUT.
raw() {
	local who=$1
	shift
	# shellcheck disable=SC2086 # WHO is a word list
	RAW_OUT=$(lab exec $who -- python3 "$HERE/raw_syn.py" "$@" 2>&1 </dev/null)
}
guards() { config_dump "$1" | grep -o '"guard":{[^}]*}'; }
# counter NODE NAME: a guard counter of NODE; drop_* sums all the drop counters
counter() {
	if [ "$2" = "drop_*" ]; then
		guards "$1" | grep -oE '"drop_[a-z_]+":[0-9]+' |
			awk -F: '{ n += $2 } END { print n + 0 }'
	else
		guard "$1" "$2"
	fi
}
# blocked WHO COUNTER ROUTE ADDR PORT: nothing comes back, and node-1's guard counts the attempt
# under COUNTER (a pass: the negative case proves something only beside its control in opens).
blocked() {
	local who=$1 counter=$2 before after rc
	shift 2
	before=$(counter node-1 "$counter")
	raw "$who" "$@"
	rc=$?
	after=$(counter node-1 "$counter")
	if [ "$rc" = 1 ] && [ "${after:-0}" -gt "${before:-0}" ]; then
		t_pass "$counter +$((after - before))"
	else
		t_fail "raw_syn.py $* from $who: exit $rc, want 1: ${RAW_OUT:-no output}
node-1 $counter $before -> $after; node-1 $(guards node-1)"
	fi
}
# opens WHO ROUTE ADDR PORT: the target's listener answers the attacker.
opens() {
	local who=$1 rc
	shift
	raw "$who" "$@"
	rc=$?
	if [ "$rc" = 0 ]; then t_pass
	else t_fail "raw_syn.py $* from $who: exit $rc, want 0: ${RAW_OUT:-no output}"; fi
}

apply_wait() {
	local g1 g2
	g1=$(generation node-1) g2=$(generation node-2)
	lab apply "$@" >"$LOG" 2>&1 && wait_generation_change node-1 "$g1" 30 &&
		wait_generation_change node-2 "$g2" 30
}

# guard_sock_on: is the guard's socket check attached at node-1's pod cgroup root, and pinned by
# its skiffd? 0 both, 1 neither, 2 one without the other (said on stdout).
SOCK_PIN=/sys/fs/bpf/skiff-lab/node-1/links/guard_sock
guard_sock_on() {
	local cg=/sys/fs/cgroup/unified/skiff-lab/node-1/kubepods attached=0
	bpftool cgroup show "$cg" 2>/dev/null | grep -qw guard_sock && attached=1
	if [ -e "$SOCK_PIN" ] && [ $attached = 1 ]; then return 0; fi
	[ ! -e "$SOCK_PIN" ] && [ $attached = 0 ] && return 1
	echo "guard_sock attached=$attached, pinned=$([ -e "$SOCK_PIN" ] && echo 1 || echo 0)"
	return 2
}

t_begin "lab up: shop mesh on 2 nodes, skiffd --uplink eth0; no pod STRICT: no socket check"
if SKIFF_LAB_AGENT_ARGS="--uplink eth0" lab up --nodes 2 "$HERE/fixtures/shop.yaml" >"$LOG" 2>&1
then
	out=$(guard_sock_on)
	case $? in
	1) t_pass ;;
	0) t_fail "guard_sock attached at the pod cgroup root with no pod STRICT" ;;
	*) t_fail "$out" ;;
	esac
else t_fail "$(tail -5 "$LOG")"; fi

t_begin "namespace-wide STRICT: the socket check is attached (and pinned) by the apply"
if apply_wait "$FX/strict.yaml"; then
	if out=$(guard_sock_on); then t_pass; else t_fail "not attached after STRICT: $out"; fi
else t_fail "$(tail -5 "$LOG")"; fi

ECHO1=$(pod_ip shop/echo node-1)
ECHO2=$(pod_ip shop/echo node-2)
ECHO1_6=$(pod_field shop/echo node-1 4)
ECHO1_POD=$(pod_field shop/echo node-1 1)
# The pod's link-local address, scoped to its veth on the node (the node's way to reach it)
ECHO1_VETH=$(lab exec --node node-1 -- ip -6 route get "$ECHO1_6" |
	sed -nE 's/.* dev ([^ ]+).*/\1/p')
ECHO1_LL=$(lab exec -n shop "${ECHO1_POD#shop/}" -- ip -o -6 addr show dev eth0 scope link |
	awk '{ sub(/\/.*/, "", $4); print $4; exit }')%$ECHO1_VETH
# The attacker's routes to echo on node-1: ROUTE ADDR, and the counter of node-1's guard each must
# land in from this node (TC on the pod's veth) and from another node (XDP on the uplink). A
# v6-chain is one extension header longer than the guard walks: it cannot place it, so it drops.
ATTACKS=("v6-dstopts $ECHO1_6 drop_tc drop_xdp"
	"v6-hopopts $ECHO1_6 drop_tc drop_xdp"
	"v4-frag $ECHO1 drop_tc_frag drop_xdp_frag"
	"v6-frag $ECHO1_6 drop_tc_frag drop_xdp_frag"
	"v6-chain $ECHO1_6 drop_tc_unparsed drop_xdp_unparsed")

t_begin "STRICT, same node: a mesh pod gets in (the kernel saw its connect)"
before=$(guard node-1 pass_flow)
if from_client "$ECHO1" 8080 && [ "$(guard node-1 pass_flow)" -gt "$before" ]; then t_pass
else t_fail "echo1=$ECHO1 pass_flow $before -> $(guard node-1 pass_flow)"; fi

t_begin "STRICT: the pod reaches its own port over loopback and by its own address"
before=$(guard node-1 drop_sock)
if lab exec -n shop "${ECHO1_POD#shop/}" -- timeout 1.5 bash -c \
	"exec 3<>/dev/tcp/127.0.0.1/8080 && exec 4<>/dev/tcp/$ECHO1/8080" >/dev/null 2>&1 &&
	[ "$(guard node-1 drop_sock)" = "$before" ]; then t_pass
else t_fail "drop_sock $before -> $(guard node-1 drop_sock)"; fi

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

for a in "${ATTACKS[@]}"; do
	read -r route addr tc xdp <<<"$a"
	t_begin "STRICT, raw $route from a same-node pod outside the mesh: nothing opens"
	blocked "$STRANGER" "$tc" "$route" "$addr" 8080
	t_begin "STRICT, raw $route from the node: nothing opens"
	blocked "$NODE1" "$tc" "$route" "$addr" 8080
	t_begin "STRICT, raw $route from a pod on another node: nothing opens"
	blocked "$OPTOUT" "$xdp" "$route" "$addr" 8080
done

t_begin "STRICT, from the node to the pod's link-local address ($ECHO1_LL): nothing opens"
blocked "$NODE1" drop_tc plain "$ECHO1_LL" 8080

# AF_PACKET with PACKET_QDISC_BYPASS hands a frame to the veth's driver without the TC egress
# hook (CAP_NET_RAW on the node is enough; a hostNetwork pod has it by default): the guard's
# socket check stops its SYN at the pod's listener.
# A new skiffd adopts the pinned socket check (and its first apply keeps it): the case below
# runs against the restarted one.
t_begin "STRICT, skiffd restarted: the socket check stays attached"
g=$(generation node-1)
lab restart-agent node-1 >"$LOG" 2>&1
for _ in $(seq 100); do
	config_dump node-1 | grep -q '"applied":true' && break
	sleep 0.1
done
if out=$(guard_sock_on); then t_pass "generation $g, then $(generation node-1)"
else t_fail "not attached after restart-agent: $out $(tail -3 "$LOG")"; fi

t_begin "STRICT, raw SYN written on the pod's veth by the node past its qdisc: nothing opens"
blocked "$NODE1" drop_sock v4-qdisc-bypass "$ECHO1%$ECHO1_VETH" 8080

t_begin "STRICT, raw v4-frag from a mesh pod (no connect() for the kernel to see): nothing opens"
blocked "$CLIENT" drop_tc_frag v4-frag "$ECHO1" 8080

t_begin "STRICT: the Service VIP from a mesh pod still works for the same-node share"
out=$(lab exec -n shop deploy/client -- "$BUILD/bin/skiff-hit" -n 40 --timeout-ms 1500 echo.shop:80)
n1=$(echo "$out" | awk -v p="$(lab status | awk -v n=node-1 'index($1, "shop/echo-") == 1 && $2 == n { sub(/^shop\//, "", $1); print $1; exit }')" '$1 == "pod" && $2 == p { print $3 }')
if [ "${n1:-0}" -gt 0 ]; then t_pass "$n1 answered by the same-node pod"
else t_fail "$out"; fi

t_begin "port-level DISABLE: the raw TCP port takes plaintext, HTTP stays STRICT"
if apply_wait "$FX/port-level.yaml" && from_stranger "$ECHO1" 9000 &&
	! from_stranger "$ECHO1" 8080; then t_pass
else t_fail "$(tail -3 "$LOG")"; fi

t_begin "port-level DISABLE: a SYN behind a destination-options header reaches the raw TCP port"
opens "$STRANGER" v6-dstopts "$ECHO1_6" 9000

t_begin "port-level DISABLE: fragments to that port are dropped (the pod is STRICT on another)"
blocked "$STRANGER" drop_tc_frag v4-frag "$ECHO1" 9000

t_begin "PERMISSIVE: plaintext from outside the mesh, the node and other nodes gets in"
if apply_wait "$FX/permissive.yaml" && from_stranger "$ECHO1" 8080 && from_node1 "$ECHO1" 8080 &&
	from_optout "$ECHO1" 8080 && from_client "$ECHO2" 8080; then t_pass
else t_fail "$(tail -3 "$LOG")"; fi

t_begin "PERMISSIVE: no pod STRICT any more, the socket check is detached and unpinned"
out=$(guard_sock_on)
case $? in
1) t_pass ;;
0) t_fail "guard_sock still attached with no pod STRICT" ;;
*) t_fail "$out" ;;
esac

# The controls of the raw-socket cases: each route works, so where STRICT got nothing back, the
# guard stopped it.
for a in "${ATTACKS[@]}"; do
	read -r route addr _ <<<"$a"
	t_begin "PERMISSIVE, raw $route from a same-node pod outside the mesh: the listener answers"
	opens "$STRANGER" "$route" "$addr" 8080
	t_begin "PERMISSIVE, raw $route from the node: the listener answers"
	opens "$NODE1" "$route" "$addr" 8080
	t_begin "PERMISSIVE, raw $route from a pod on another node: the listener answers"
	opens "$OPTOUT" "$route" "$addr" 8080
done

t_begin "PERMISSIVE, from the node to the pod's link-local address: it connects"
opens "$NODE1" plain "$ECHO1_LL" 8080

t_begin "PERMISSIVE, raw SYN written on the pod's veth by the node past its qdisc: it answers"
opens "$NODE1" v4-qdisc-bypass "$ECHO1%$ECHO1_VETH" 8080

t_begin "PERMISSIVE, raw v4-frag from a mesh pod: the listener answers"
opens "$CLIENT" v4-frag "$ECHO1" 8080

t_summary
