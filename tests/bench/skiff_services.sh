#!/bin/bash
# skiff_services.sh COUNT NAMESPACE: COUNT filler Services with their EndpointSlices, as the API
# server would show them, for skiffd's config directory. Each has one TCP port and two ready
# endpoints at addresses no pod has (198.18.1.128-255), so the service map is as full as a real
# cluster's while the measured Service (the lab's own) stays where it is. ClusterIPs come from
# 198.19.128.0/17, a part of the lab's service range that the lab never allocates from.
set -eu
count=$1 ns=$2
[ "$count" -ge 0 ] && [ "$count" -le 30000 ] || { echo "count 0..30000" >&2; exit 2; }
awk -v n="$count" -v ns="$ns" 'BEGIN {
	print "# Filler services for the benchmarks (tests/bench/skiff_services.sh)."
	for (i = 1; i <= n; i++) {
		name = sprintf("fill-%05d", i)
		vip = sprintf("198.19.%d.%d", 128 + int(i / 250), 1 + i % 250)
		ep1 = sprintf("198.18.1.%d", 128 + i % 64)
		ep2 = sprintf("198.18.1.%d", 192 + i % 64)
		print "---\napiVersion: v1\nkind: Service\nmetadata:"
		printf "  name: %s\n  namespace: %s\n", name, ns
		printf "spec:\n  type: ClusterIP\n  clusterIP: \"%s\"\n  clusterIPs: [\"%s\"]\n", vip, vip
		print "  ipFamilies: [IPv4]\n  selector:\n    app: " name
		print "  ports:\n  - name: http\n    port: 80\n    protocol: TCP\n    targetPort: 8080"
		print "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:"
		printf "  name: %s-b3nch\n  namespace: %s\n", name, ns
		printf "  labels:\n    kubernetes.io/service-name: %s\n", name
		print "addressType: IPv4\nendpoints:"
		printf "- addresses: [\"%s\"]\n  conditions: {ready: true}\n  nodeName: node-1\n", ep1
		printf "- addresses: [\"%s\"]\n  conditions: {ready: true}\n  nodeName: node-1\n", ep2
		print "ports:\n- name: http\n  port: 8080\n  protocol: TCP"
	}
}'
