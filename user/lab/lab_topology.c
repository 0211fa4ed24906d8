// SPDX-License-Identifier: Apache-2.0
/*
 * The lab's wiring, with iproute2:
 *   skl-fabric: bridge br0, one port skn-K per node
 *   skl-node-K: eth0 198.18.0.K/24, 2001:db8::K/64; routes to the other nodes' pod ranges
 *               (198.18.J.0/24, 2001:db8:J::/64) via node J; forwarding on; one skvN per pod
 *   skl-<pod>:  eth0 198.18.K.n/32, 2001:db8:K::n/128; default via the node (ptp style)
 * The node side of a pod veth carries fe80::1 so that the pod can use it as its IPv6 gateway
 * (Linux answers neighbour solicitations only for addresses on the receiving interface).
 */
#include <stdio.h>
#include <string.h>

#include "lab/lab.h"

#define FABRIC "skl-fabric"

void lab_node_netns(char *out, size_t len, int node)
{
	lab_fmt(out, len, "skl-node-%d", node);
}

/* A new netns with lo up and no IPv6 duplicate address detection: links made in it get usable
 * link-local addresses at once (a tentative one delays the first connections by a second). */
static int netns_add(const char *ns)
{
	if (lab_run("ip netns add %s", ns) ||
	    lab_netns_sysctl(ns, "/proc/sys/net/ipv6/conf/all/accept_dad", "0") ||
	    lab_netns_sysctl(ns, "/proc/sys/net/ipv6/conf/default/accept_dad", "0") ||
	    lab_run("ip -n %s link set lo up", ns))
		return -1;
	return 0;
}

static int fabric_up(void)
{
	if (netns_add(FABRIC) ||
	    lab_run("ip -n " FABRIC " link add name br0 type bridge mcast_snooping 0") ||
	    lab_run("ip -n " FABRIC " link set br0 up"))
		return -1;
	return 0;
}

static int node_routes(const struct lab *lab, const char *ns, int k)
{
	for (int j = 1; j <= lab->nodes; j++) {
		if (j == k)
			continue;
		if (lab_run("ip -n %s route add 198.18.%d.0/24 via 198.18.0.%d dev eth0", ns, j,
			    j) ||
		    lab_run("ip -n %s -6 route add 2001:db8:%x::/64 via 2001:db8::%x dev eth0", ns,
			    j, j))
			return -1;
	}
	return 0;
}

static int node_up(const struct lab *lab, int k)
{
	char ns[32];

	lab_node_netns(ns, sizeof(ns), k);
	if (netns_add(ns) ||
	    lab_run("ip -n " FABRIC " link add name skn-%d type veth peer name eth0 netns %s", k,
		    ns) ||
	    lab_run("ip -n " FABRIC " link set skn-%d master br0 up", k) ||
	    lab_run("ip -n %s addr add 198.18.0.%d/24 dev eth0", ns, k) ||
	    lab_run("ip -n %s addr add 2001:db8::%x/64 dev eth0 nodad", ns, k) ||
	    lab_run("ip -n %s link set eth0 up", ns))
		return -1;
	if (lab_netns_sysctl(ns, "/proc/sys/net/ipv4/ip_forward", "1") ||
	    lab_netns_sysctl(ns, "/proc/sys/net/ipv6/conf/all/forwarding", "1"))
		return -1;
	return node_routes(lab, ns, k);
}

/* The caller has recorded the topology in the state file already. */
int lab_topology_up(struct lab *lab)
{
	if (fabric_up())
		return -1;
	for (int k = 1; k <= lab->nodes; k++)
		if (node_up(lab, k))
			return -1;
	return 0;
}

int lab_pod_net_up(const struct lab *lab, const struct lab_pod *p)
{
	char node[32];
	const char *pod = p->netns;
	int k = p->node;

	(void)lab;
	lab_node_netns(node, sizeof(node), k);
	if (netns_add(pod) ||
	    lab_run("ip -n %s link add name %s type veth peer name eth0 netns %s", node, p->veth,
		    pod) ||
	    lab_run("ip -n %s link set %s up", node, p->veth) ||
	    lab_run("ip -n %s addr add fe80::1/64 dev %s nodad", node, p->veth) ||
	    lab_run("ip -n %s route add %s/32 dev %s scope link", node, p->ip4, p->veth) ||
	    lab_run("ip -n %s -6 route add %s/128 dev %s", node, p->ip6, p->veth))
		return -1;
	if (lab_run("ip -n %s addr add %s/32 dev eth0", pod, p->ip4) ||
	    lab_run("ip -n %s addr add %s/128 dev eth0 nodad", pod, p->ip6) ||
	    lab_run("ip -n %s link set eth0 up", pod) ||
	    lab_run("ip -n %s route add 198.18.0.%d dev eth0 scope link", pod, k) ||
	    lab_run("ip -n %s route add default via 198.18.0.%d dev eth0", pod, k) ||
	    lab_run("ip -n %s -6 route add default via fe80::1 dev eth0", pod))
		return -1;
	return 0;
}
