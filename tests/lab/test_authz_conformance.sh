#!/bin/bash
# Istio's own AuthorizationPolicy test inputs (tests/conformance/istio/.../testdata/authz/
# *.yaml.tmpl), filled with lab workloads by authz_render.py and checked end to end with curl and
# a TCP echo, against the outcomes of Istio's tests/integration/security/authz_test.go. Every
# request is made twice: to b's pod on the client's node (the kernel and the local skiffd decide)
# and to b's pod on the other node (the destination's skiffd decides, on the HBONE stream).
#
# Where skiff differs from the harness, the case says so: there is no gRPC echo (the grpc port
# rules are applied but not exercised), the "http2" port serves HTTP/1.1 (HTTP/2 is covered by
# test_l7_h2), connection.sni is never set for in-mesh traffic, and DestinationRule tls DISABLE
# does not turn a mesh client into a plaintext one (plaintext is checked from outside the mesh).
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/mesh.sh"
# Istio's templates, kept in the repository at their upstream path (SKIFF_CONFORMANCE_DIR points
# at another copy, as for the unit tests).
CONF=${SKIFF_CONFORMANCE_DIR:-$(cd "$HERE/../conformance/istio" && pwd)}
TMPL=$CONF/tests/integration/security/testdata/authz
CASE_FILE="$STATE/authz-case.yaml"

pod_ip() { lab status | awk -v p="$1" 'index($1, p) == 1 { print $3; exit }'; }

# policy TEMPLATE[@NAMESPACE]...: the templates become the lab's only authz case (one file, so
# one reload swaps the previous case for this one). Objects without a namespace go to authz-1.
policy() {
	local t ns r1 r2 j1
	: >"$CASE_FILE.new"
	for t in "$@"; do
		ns=authz-1
		[[ $t == *@* ]] && ns=${t#*@} && t=${t%@*}
		python3 "$HERE/authz_render.py" "$TMPL/$t.yaml.tmpl" "$ns" \
			".Allowed.MustWorkloads.Addresses=[\"$A_IP\"]" \
			".Denied.MustWorkloads.Addresses=[\"$D_IP\"]" \
			".To.MustWorkloads.Addresses=[\"$B1_IP\", \"$B2_IP\"]" >>"$CASE_FILE.new" ||
			return 1
		echo "---" >>"$CASE_FILE.new"
	done
	mv "$CASE_FILE.new" "$CASE_FILE"
	r1=$(reloads node-1) r2=$(reloads node-2) j1=$(rejected node-1)
	lab apply "$CASE_FILE" >>"$LOG" 2>&1 || return 1
	wait_reload_long node-1 "$r1" && wait_reload_long node-2 "$r2" &&
		[ "$(rejected node-1)" = "$j1" ]
}

wait_reload_long() {
	for _ in $(seq 200); do
		[ "$(reloads "$1")" != "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# expect CASE NS/DEPLOY SPEC->WANT...: the requests (authz_probe.sh specs) from that client to
# b on node-1 and on node-2, each answered as wanted (a status code, ok, or x: refused/reset).
expect() {
	local name=$1 client=$2 kv specs=() wants=() n ip got
	shift 2
	for kv in "$@"; do
		specs+=("${kv%->*}")
		wants+=("${kv##*->}")
	done
	for n in 1 2; do
		ip=$B1_IP
		[ $n = 2 ] && ip=$B2_IP
		t_begin "$name: $client -> b on node-$n ($([ $n = 1 ] && echo same node || echo across))"
		got=$(lab exec -n "${client%/*}" "deploy/${client#*/}" -- "$HERE/authz_probe.sh" "$ip" \
			"${specs[@]}" 2>>"$LOG")
		if [ "$got" = "${wants[*]}" ]; then t_pass
		else t_fail "want: ${wants[*]}
got:  $got
requests: ${specs[*]}"; fi
	done
}

A=authz-1/a D=authz-2/a PLAIN=authz-plain/plain
H=18080 H2=18085 T=19090

t_begin "Istio's templates are there ($TMPL)"
if [ -f "$TMPL/allow-principal.yaml.tmpl" ]; then t_pass
else t_fail "no allow-principal.yaml.tmpl there (tests/conformance/istio is in the repository)"
	t_summary; exit 1; fi

t_begin "lab up: a and b in authz-1, a in authz-2, a plaintext client; b on both nodes"
if lab up --nodes 2 "$HERE/fixtures/authz/workloads.yaml" >"$LOG" 2>&1; then t_pass
else t_fail "$(tail -5 "$LOG")"; t_summary; fi
A_IP=$(pod_ip authz-1/a-) D_IP=$(pod_ip authz-2/a-)
B1_IP=$(pod_ip authz-1/b-1-) B2_IP=$(pod_ip authz-1/b-2-)

t_begin "allow-principal + mtls applied"
if policy mtls allow-principal; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi
expect allow-principal $A "TCP|$T->ok" "GET|$H|/allow->200" "GET|$H|/allow?param=value->200" \
	"GET|$H2|/allow->200" "GET|$H|/deny->403" "GET|$H|/deny?param=value->403"
expect allow-principal $D "TCP|$T->x" "GET|$H|/allow->403" "GET|$H2|/allow?param=value->403" \
	"GET|$H|/deny->403"

t_begin "allow-serviceaccount + mtls applied"
if policy mtls allow-serviceaccount; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi
expect allow-serviceaccount $A "TCP|$T->ok" "GET|$H|/allow->200" "GET|$H|/deny->403"
expect allow-serviceaccount $D "TCP|$T->x" "GET|$H|/allow->403"

t_begin "allow-namespace + mtls applied"
if policy mtls allow-namespace; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi
expect allow-namespace $A "TCP|$T->ok" "GET|$H|/allow->200" "GET|$H|/deny->403"
expect allow-namespace $D "TCP|$T->x" "GET|$H|/allow->403"

t_begin "allow-trust-domain + mtls applied"
if policy mtls allow-trust-domain; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi
expect allow-trust-domain $D "TCP|$T->ok" "GET|$H|/allow->200" "GET|$H|/not-deny->200" \
	"GET|$H|/deny->403" "GET|$H|/not-trust-domain->403"

t_begin "deny-principal + deny-global (root namespace) + mtls applied"
if policy mtls deny-principal deny-global@istio-system; then t_pass
else t_fail "$(tail -5 "$LOG")"; fi
expect deny-principal $D "TCP|$T->x" "GET|$H|/deny->403" "GET|$H|/deny?param=value->403" \
	"GET|$H|/deny/allow->200" "GET|$H|/allow->200" "GET|$H|/global-deny->403" \
	"GET|$H|/global-deny/allow->200"
expect deny-principal $A "TCP|$T->ok" "GET|$H|/deny->200" "GET|$H2|/global-deny?param=value->403"

t_begin "deny-namespace + deny-global (root namespace) + mtls applied"
if policy mtls deny-namespace deny-global@istio-system; then t_pass
else t_fail "$(tail -5 "$LOG")"; fi
expect deny-namespace $D "TCP|$T->x" "GET|$H|/deny->403" "GET|$H|/deny/allow->200" \
	"GET|$H|/global-deny->403"
expect deny-namespace $A "TCP|$T->ok" "GET|$H|/deny->200" "GET|$H|/global-deny/allow->200"

t_begin "not-namespace + mtls applied (an L4 policy: the kernel or HBONE refuses)"
if policy mtls not-namespace; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi
expect not-namespace $A "TCP|$T->ok" "GET|$H|/x->200"
expect not-namespace $D "TCP|$T->x" "GET|$H|/x->x"

t_begin "not-method applied"
if policy not-method; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi
expect not-method $A "GET|$H|/x->200" "PUT|$H|/x->403" "GET|$H|/y->200"

t_begin "not-port applied (L4)"
if policy not-port; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi
expect not-port $A "GET|$H|/x->200" "GET|$H2|/x->x"

t_begin "plaintext applied (PERMISSIVE, DENY notPrincipals *)"
if policy plaintext; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi
expect plaintext $A "GET|$H|/x->200" "TCP|$T->ok"
expect plaintext $PLAIN "GET|$H|/x->x" "TCP|$T->x"

t_begin "path-precedence applied"
if policy path-precedence; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi
expect path-precedence $A "GET|$H|/allow/admin->403" "GET|$H|/allow/admin?param=value->403" \
	"GET|$H|/allow->200" "GET|$H|/allow?param=value->200"

t_begin "path-templating applied"
if policy path-templating; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi
expect path-templating $A "GET|$H|/allow/admin/->200" "GET|$H|/allow/admin/temp.txt->200" \
	"GET|$H|/foo/buzz/bar/bat/fuzz.txt->200" "GET|$H|/store//cart->200" \
	"GET|$H|/store/foo/bar/cart->200" "GET|$H|/allow/admin->403" "GET|$H|/allow/user/->403" \
	"GET|$H|/foo/bar/bat.txt->403" "GET|$H|/foo//bar/bat.txt->403" "GET|$H|/store/cart->403"

t_begin "path-normalization applied"
if policy path-normalization; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi
expect path-normalization $A "GET|$H|/public->200" "GET|$H|/public/../public->200" \
	"GET|$H|/private->403" "GET|$H|/public/../private->403" \
	"GET|$H|/public/%2E%2E/private->403" "GET|$H|/public/%2e/%2e%2e/private->403" \
	"GET|$H|/public/.././private->403"

t_begin "conditions + mtls applied"
if policy mtls conditions; then t_pass; else t_fail "$(tail -5 "$LOG")"; fi
expect conditions $A "GET|$H|/request-headers|x-foo: foo->200" \
	"GET|$H|/request-headers|x-foo: bar->403" "GET|$H|/request-headers->403" \
	"GET|$H|/request-headers-notValues|x-foo: foo->200" \
	"GET|$H|/request-headers-notValues|x-foo: bar->403" "GET|$H|/source-ip->200" \
	"GET|$H|/source-namespace->200" "GET|$H|/source-principal->200" \
	"GET|$H|/destination-ip-good->200" "GET|$H|/destination-port-good->200" \
	"GET|$H|/other->403"
expect conditions $D "GET|$H|/source-ip->403" "GET|$H|/source-ip-notValues->403" \
	"GET|$H|/source-namespace->403" "GET|$H|/source-principal->403" \
	"GET|$H|/source-trust-domain->200"

t_begin "workload + workload-ns + workload-system-ns (root namespace) applied"
if policy workload workload-ns workload-system-ns@istio-system; then t_pass
else t_fail "$(tail -5 "$LOG")"; fi
expect workload $A "GET|$H|/policy-authz-1-b->200" "GET|$H|/policy-authz-1-all->200" \
	"GET|$H|/policy-system-b->200" "GET|$H|/policy-authz-1-c->403" "GET|$H|/other->403"

t_summary
