/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A TCP SYN (without ACK) out of an Ethernet frame, IPv4 or IPv6 (no extension headers: a SYN
 * with them is not a connection attempt we guard, and passes), as a struct skiff_flow_key.
 * Bounds are checked against `end` on every step, as the verifier requires.
 *
 * Return contract of pkt_syn(): 1 and *f filled for a SYN, 0 for anything else.
 */
#ifndef SKIFF_BPF_PKT_H
#define SKIFF_BPF_PKT_H

#include "skiff/guard.h"

#define PKT_ETH_P_IP   0x0800
#define PKT_ETH_P_IPV6 0x86DD
#define PKT_IPPROTO_TCP 6

static __always_inline int pkt_tcp_syn(const struct tcphdr *th, const void *end,
				       struct skiff_flow_key *f)
{
	if ((const void *)(th + 1) > end || !th->syn || th->ack)
		return 0;
	f->sport = th->source;
	f->dport = th->dest;
	return 1;
}

static __always_inline int pkt_syn(const void *data, const void *end, struct skiff_flow_key *f)
{
	const struct ethhdr *eth = data;

	__builtin_memset(f, 0, sizeof(*f));
	if ((const void *)(eth + 1) > end)
		return 0;
	if (eth->h_proto == bpf_htons(PKT_ETH_P_IP)) {
		const struct iphdr *ip = (const void *)(eth + 1);

		if ((const void *)(ip + 1) > end || ip->protocol != PKT_IPPROTO_TCP || ip->ihl < 5)
			return 0;
		f->family = SKIFF_AF_INET;
		f->saddr.v4 = ip->saddr;
		f->daddr.v4 = ip->daddr;
		return pkt_tcp_syn((const void *)ip + ip->ihl * 4, end, f);
	}
	if (eth->h_proto == bpf_htons(PKT_ETH_P_IPV6)) {
		const struct ipv6hdr *ip6 = (const void *)(eth + 1);

		if ((const void *)(ip6 + 1) > end || ip6->nexthdr != PKT_IPPROTO_TCP)
			return 0;
		f->family = SKIFF_AF_INET6;
		__builtin_memcpy(f->saddr.v6, &ip6->saddr, 16);
		__builtin_memcpy(f->daddr.v6, &ip6->daddr, 16);
		return pkt_tcp_syn((const void *)(ip6 + 1), end, f);
	}
	return 0;
}

#endif
