#!/bin/bash
# The payments canary demo (make demo): the guide's mesh on a two-node lab, a 90/10 split done in
# the kernel, a live shift to 50/50, and the service map as bpftool prints it. Needs root.
set -euo pipefail
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(cd "$BUILD/bin" && pwd)
STATE=${SKIFF_LAB_STATE:-/run/skiff-lab-demo}
N=1000

lab() { "$BIN/skiff-lab" --state "$STATE" "$@"; }
cleanup() { lab down >/dev/null 2>&1 || true; }
trap cleanup EXIT

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

hit() {
	lab exec -n frontend deploy/frontend -- "$BIN/skiff-hit" -n "$N" payments-api.payments:80
}

cleanup
echo "== bringing up the payments mesh on 2 nodes (network namespaces + one skiffd per node)"
lab up --nodes 2 "$HERE"/0*.yaml "$HERE"/[1-9]*.yaml "$HERE/istio/destination-rule.yaml" \
	"$HERE/istio/virtual-service.yaml"
lab status
echo
echo "== $N connections from frontend to payments-api (VirtualService: v1 90, v2 10)"
echo "   configured: v1 90.0%   v2 10.0%"
echo "   observed:   $(hit | split)"
echo
echo "== the guide's kubectl patch: weights to 50/50, applied live (no restart, no reconnect)"
before=$(generation)
lab apply "$HERE/istio/virtual-service-50-50.yaml"
for _ in $(seq 50); do
	[ "$(generation)" != "$before" ] && break
	sleep 0.1
done
echo "   generation $before -> $(generation)"
echo "   configured: v1 50.0%   v2 50.0%"
echo "   observed:   $(hit | split)"
echo
echo "== bpftool map dump pinned /sys/fs/bpf/skiff-lab/node-1/skiff_services"
bpftool map dump pinned /sys/fs/bpf/skiff-lab/node-1/skiff_services
echo
echo "== tearing down"
