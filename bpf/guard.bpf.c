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
 * The TC program is the barrier for what the node forwards or sends: the XDP program only drops
 * early, by destination address, what the TC program would drop. A frame the node writes onto the
 * veth past its qdisc (PACKET_QDISC_BYPASS, AF_XDP) skips TC, though: the cgroup program below
 * catches its SYN where the pod's kernel hands it to a listener.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/enrolled.h"
#include "lib/events.h"
#include "lib/guard.h"
#include "lib/pkt.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

/* Headers the TC guard makes linear when a packet's first part holds too little to classify:
 * Ethernet, IPv6 and a chain of extension headers as long as legitimate traffic carries. */
#define GUARD_PULL_MAX 1024

#define LOOPBACK_IFINDEX     1 /* lo's ifindex in every network namespace */
#define BPF_TCP_LISTEN_STATE 10

/* A SYN of a socket of this node in kubelet's cgroup (a forwarded packet has no socket: 0). */
static __always_inline bool from_kubelet(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct skiff_guard_cfg *cfg = bpf_map_lookup_elem(&skiff_guard_cfg, &zero);

	return cfg && cfg->kubelet_cgroup && bpf_skb_cgroup_id(skb) == cfg->kubelet_cgroup;
}

/* Count a drop and tell skiffd (rate-limited per CPU: a flood is one counter, not an event each). */
static __always_inline void guard_drop(const struct skiff_flow_key *f, __u32 verdict)
{
	guard_count(verdict);
	ev_dropped(f, verdict);
}

static __always_inline bool tcp_opens(__u8 flags)
{
	return (flags & (PKT_TCP_SYN | PKT_TCP_ACK)) == PKT_TCP_SYN;
}

/* Which way a SYN into a pod may pass; SKIFF_GUARD_DROP_TC when none. A SYN to a STRICT port
 * must come from skiffd, a same-node mesh pod or kubelet. */
static __always_inline __u32 syn_verdict(struct __sk_buff *skb, const struct skiff_flow_key *f,
					 const struct skiff_guard_iface *pod)
{
	if (guard_mode(pod, f->dport) != SKIFF_MTLS_STRICT)
		return SKIFF_GUARD_PASS_MODE;
	if (skb->mark == SKIFF_MARK_AGENT)
		return SKIFF_GUARD_PASS_AGENT;
	if (bpf_map_lookup_elem(&skiff_auth_flows, f))
		return SKIFF_GUARD_PASS_FLOW;
	if (from_kubelet(skb))
		return SKIFF_GUARD_PASS_PROBE;
	return SKIFF_GUARD_DROP_TC;
}

static __always_inline int syn_decide(struct __sk_buff *skb, const struct skiff_flow_key *f,
				      const struct skiff_guard_iface *pod)
{
	__u32 v = syn_verdict(skb, f, pod);
	__u64 now;

	guard_count(v);
	if (v == SKIFF_GUARD_DROP_TC) {
		ev_dropped(f, v);
		return TC_ACT_SHOT;
	}
	if (guard_strict_any(pod)) {
		/* the pod's socket check asks for this SYN by its 4-tuple */
		now = bpf_ktime_get_ns();
		bpf_map_update_elem(&skiff_guard_seen, f, &now, BPF_ANY);
	}
	return TC_ACT_OK;
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
		return tcp_opens(flags) ? syn_decide(skb, &f, &pod) : TC_ACT_OK;
	if (!guard_strict_any(&pod))
		return TC_ACT_OK;
	guard_drop(&f, c == PKT_FRAG ? SKIFF_GUARD_DROP_TC_FRAG : SKIFF_GUARD_DROP_TC_UNPARSED);
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
		guard_drop(&f, SKIFF_GUARD_DROP_XDP);
		return XDP_DROP;
	}
	if (!guard_strict_any(&pod))
		return XDP_PASS;
	guard_drop(&f, c == PKT_FRAG ? SKIFF_GUARD_DROP_XDP_FRAG : SKIFF_GUARD_DROP_XDP_UNPARSED);
	return XDP_DROP;
}

/* The 4-tuple and TCP flags of a packet at a socket: the network header first, reassembled. */
static __always_inline int sock_classify(struct __sk_buff *skb, struct skiff_flow_key *f,
					 __u8 *flags)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;

	__builtin_memset(f, 0, sizeof(*f));
	*flags = 0;
	if (skb->protocol == bpf_htons(PKT_ETH_P_IP))
		return pkt_ipv4(data, end, f, flags);
	if (skb->protocol == bpf_htons(PKT_ETH_P_IPV6))
		return pkt_ipv6(data, end, f, flags);
	return PKT_UNPARSED;
}

/* Only a listener can be opened by a SYN: every other socket costs one look at its state. */
static __always_inline bool to_listener(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return false;
	sk = bpf_sk_fullsock(sk);
	return sk && sk->state == BPF_TCP_LISTEN_STATE;
}

/*
 * At the pods' cgroup ingress (1: deliver, 0: drop). A SYN that reaches a listener of a pod STRICT
 * on some port must have been let through by guard_pod on the pod's veth; one that came from the
 * pod itself (loopback) never crossed it and needs not.
 */
SEC("cgroup_skb/ingress")
int guard_sock(struct __sk_buff *skb)
{
	struct skiff_flow_key f;
	struct skiff_pod *pod;
	__u64 cgid;
	__u8 flags;
	int c;

	if (skb->ingress_ifindex == LOOPBACK_IFINDEX || !to_listener(skb))
		return 1;
	cgid = bpf_skb_cgroup_id(skb);
	pod = bpf_map_lookup_elem(&skiff_enrolled, &cgid);
	if (!pod || !(pod->flags & SKIFF_POD_F_STRICT))
		return 1;
	c = sock_classify(skb, &f, &flags);
	if (c == PKT_TCP && !tcp_opens(flags))
		return 1; /* the ACK of a handshake, or a reset: nothing opens */
	if (c == PKT_TCP) {
		__u64 *seen = bpf_map_lookup_elem(&skiff_guard_seen, &f);
		__u64 at = seen ? *seen : 0;

		if (seen) {
			bpf_map_delete_elem(&skiff_guard_seen, &f);
			if (bpf_ktime_get_ns() - at < SKIFF_GUARD_SEEN_NS)
				return 1;
		}
	}
	guard_drop(&f, SKIFF_GUARD_DROP_SOCK);
	return 0;
}
