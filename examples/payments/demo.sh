#!/bin/bash
# The payments canary demo (make demo): the guide's mesh on a two-node lab whose objects live in
# an API server (skiff-lab up --api), driven with the guide's own kubectl commands: enrolment by
# namespace label, the DestinationRule and 90/10 VirtualService applied, a 90/10 split done in
# the kernel, the guide's kubectl patch to 50/50 applied live, and the service map as bpftool
# prints it. Needs root and kubectl (make deps).
set -euo pipefail
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(cd "$BUILD/bin" && pwd)
STATE=${SKIFF_LAB_STATE:-/run/skiff-lab-demo}
N=1000

lab() { "$BIN/skiff-lab" --state "$STATE" "$@"; }

# One lab per machine: wait for a lab test or benchmark that holds the lock (tests/lab/lib.sh).
exec 9>/run/skiff-lab.lock
flock -w 900 9 || { echo "another lab run held /run/skiff-lab.lock for 15 minutes" >&2; exit 1; }
cleanup() { lab down >/dev/null 2>&1 || true; }
trap cleanup EXIT

# Print a command as typed, then run it.
run() {
	printf '$ %s\n' "$*"
	"$@"
}

# Split the hits that skiff-hit reports per pod into v1/v2 by the pods' Deployment names.
split() {
	awk '$1 == "pod" && $2 ~ /-v1-/ { v1 += $3 } $1 == "pod" && $2 ~ /-v2-/ { v2 += $3 }
	     $1 == "errors" { e = $2 }
	     END { printf "v1 %d (%.1f%%)   v2 %d (%.1f%%)   errors %d\n",
		   v1, 100 * v1 / (v1 + v2 + e), v2, 100 * v2 / (v1 + v2 + e), e }'
}

generation() {
	lab exec --node node-1 -- curl -s 127.0.0.1:15000/config_dump |
		sed -nE 's/.*"generation":([0-9]+).*/\1/p'
}

wait_generation_past() {
	for _ in $(seq 100); do
		[ "$(generation)" != "$1" ] && return 0
		sleep 0.1
	done
	echo "   skiffd did not apply a new generation within 10 s (see $STATE/logs)" >&2
	return 1
}

hit() {
	lab exec -n frontend deploy/frontend -- "$BIN/skiff-hit" -n "$N" payments-api.payments:80
}

cleanup
echo "== bringing up the payments workloads on 2 nodes: network namespaces, an API server, and one"
echo "   skiffd per node reading it with --kubeconfig"
lab up --api --nodes 2 "$HERE/10-payments-api.yaml" "$HERE/20-frontend.yaml"
export KUBECONFIG
KUBECONFIG=$(lab kubeconfig)
run kubectl get pods -n payments -o wide
echo
echo "== enrolling the namespaces (ambient: no pod restart)"
before=$(generation)
run kubectl label namespace payments istio.io/dataplane-mode=ambient
run kubectl label namespace frontend istio.io/dataplane-mode=ambient
wait_generation_past "$before"
echo
echo "== the guide's DestinationRule (subsets v1, v2) and VirtualService (v1 90, v2 10)"
before=$(generation)
run kubectl apply -f "$HERE/istio/destination-rule.yaml" -f "$HERE/istio/virtual-service.yaml"
wait_generation_past "$before"
run kubectl get virtualservices,destinationrules -n payments
echo
echo "== $N connections from frontend to payments-api"
echo "   configured: v1 90.0%   v2 10.0%"
echo "   observed:   $(hit | split)"
echo
echo "== the guide's kubectl patch: weights to 50/50, applied live (no restart, no reconnect)"
before=$(generation)
PATCH='
spec:
  http:
  - route:
    - destination:
        host: payments-api
        subset: v1
      weight: 50
    - destination:
        host: payments-api
        subset: v2
      weight: 50'
printf "$ kubectl patch virtualservice payments-api -n payments --type merge -p '%s'\n" "$PATCH"
kubectl patch virtualservice payments-api -n payments --type merge -p "$PATCH"
wait_generation_past "$before"
echo "   generation $before -> $(generation)"
echo "   configured: v1 50.0%   v2 50.0%"
echo "   observed:   $(hit | split)"
echo
echo "== bpftool map dump pinned /sys/fs/bpf/skiff-lab/node-1/skiff_services"
bpftool map dump pinned /sys/fs/bpf/skiff-lab/node-1/skiff_services
echo
echo "== tearing down"
