// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * skiff's STRICT guard (include/skiff/guard.h): a TC program on the node side of each local mesh
 * pod's veth (egress: packets going into the pod) and an XDP program on the node's uplink.
 *
 * A TCP SYN to a STRICT port must come from the mesh. For a pod STRICT on any port, TCP
 * fragments and whatever bpf/lib/pkt.h cannot walk are dropped too: the pod's kernel would
 * reassemble or parse them, and a SYN could be inside. Everything else passes untouched: packets
 * of established connections, UDP and ICMP (outside STRICT, as in Istio), ARP.
 *
 * The TC program is the barrier: every packet into a pod crosses its veth, whatever its origin.
 * The XDP program only drops early, by destination address, what the TC program would drop.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/guard.h"
#include "lib/pkt.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

/* Headers the TC guard makes linear when a packet's first part holds too little to classify:
 * Ethernet, IPv6 and a chain of extension headers as long as legitimate traffic carries. */
#define GUARD_PULL_MAX 1024

/* A SYN of a socket of this node in kubelet's cgroup (a forwarded packet has no socket: 0). */
static __always_inline bool from_kubelet(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct skiff_guard_cfg *cfg = bpf_map_lookup_elem(&skiff_guard_cfg, &zero);

	return cfg && cfg->kubelet_cgroup && bpf_skb_cgroup_id(skb) == cfg->kubelet_cgroup;
}

static __always_inline bool tcp_opens(__u8 flags)
{
	return (flags & (PKT_TCP_SYN | PKT_TCP_ACK)) == PKT_TCP_SYN;
}

/* A SYN into a pod, to a STRICT port: from skiffd, a same-node mesh pod, or kubelet only. */
static __always_inline int syn_verdict(struct __sk_buff *skb, const struct skiff_flow_key *f,
				       const struct skiff_guard_iface *pod)
{
	if (guard_mode(pod, f->dport) != SKIFF_MTLS_STRICT) {
		guard_count(SKIFF_GUARD_PASS_MODE);
		return TC_ACT_OK;
	}
	if (skb->mark == SKIFF_MARK_AGENT) {
		guard_count(SKIFF_GUARD_PASS_AGENT);
		return TC_ACT_OK;
	}
	if (bpf_map_lookup_elem(&skiff_auth_flows, f)) {
		guard_count(SKIFF_GUARD_PASS_FLOW);
		return TC_ACT_OK;
	}
	if (from_kubelet(skb)) {
		guard_count(SKIFF_GUARD_PASS_PROBE);
		return TC_ACT_OK;
	}
	guard_count(SKIFF_GUARD_DROP_TC);
	return TC_ACT_SHOT;
}

SEC("tc")
int guard_pod(struct __sk_buff *skb)
{
	struct skiff_guard_iface pod;
	struct skiff_flow_key f;
	__u8 flags;
	int c;

	c = pkt_classify((void *)(long)skb->data, (void *)(long)skb->data_end, &f, &flags);
	if (c == PKT_UNPARSED && skb->data_end - skb->data < skb->len) {
		/* a driver or a decapsulation left headers in the paged part: make them linear
		 * and read again, rather than drop an established connection's segment */
		bpf_skb_pull_data(skb, skb->len < GUARD_PULL_MAX ? skb->len : GUARD_PULL_MAX);
		c = pkt_classify((void *)(long)skb->data, (void *)(long)skb->data_end, &f, &flags);
	}
	if (c == PKT_OTHER)
		return TC_ACT_OK;
	guard_pod_by_iface(skb->ifindex, &f, &pod);
	if (c == PKT_TCP)
		return tcp_opens(flags) ? syn_verdict(skb, &f, &pod) : TC_ACT_OK;
	if (!guard_strict_any(&pod))
		return TC_ACT_OK;
	guard_count(c == PKT_FRAG ? SKIFF_GUARD_DROP_TC_FRAG : SKIFF_GUARD_DROP_TC_UNPARSED);
	return TC_ACT_SHOT;
}

/* From off the node: a SYN to a STRICT port of a local pod can only be plaintext (mesh traffic
 * between nodes arrives on HBONE, 15008, skiffd's own port). */
SEC("xdp")
int guard_uplink(struct xdp_md *ctx)
{
	struct skiff_guard_iface pod;
	struct skiff_flow_key f;
	__u8 flags;
	int c;

	c = pkt_classify((void *)(long)ctx->data, (void *)(long)ctx->data_end, &f, &flags);
	if (c == PKT_OTHER || !f.family)
		return XDP_PASS; /* not IP, or no address: the veth's guard decides */
	guard_pod_by_addr(&f, &pod);
	if (c == PKT_TCP) {
		if (!tcp_opens(flags) || guard_mode(&pod, f.dport) != SKIFF_MTLS_STRICT)
			return XDP_PASS;
		guard_count(SKIFF_GUARD_DROP_XDP);
		return XDP_DROP;
	}
	if (!guard_strict_any(&pod))
		return XDP_PASS;
	guard_count(c == PKT_FRAG ? SKIFF_GUARD_DROP_XDP_FRAG : SKIFF_GUARD_DROP_XDP_UNPARSED);
	return XDP_DROP;
}
