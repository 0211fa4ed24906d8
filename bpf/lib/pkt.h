/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the STRICT guard needs of an Ethernet frame, read the way the receiving kernel reads it:
 * IPv4 with options and fragments, IPv6 through its extension header chain (hop-by-hop, routing,
 * fragment, destination options, AH) up to PKT_MAX_EXT headers. A guard that only knew "TCP right
 * after the IP header" would pass a SYN behind a destination-options header, or a SYN whose flags
 * sit in a later fragment, and the pod's kernel would open the connection all the same.
 *
 * Return contract of pkt_classify(): one of enum pkt_class.
 *   PKT_TCP:      *f holds the 4-tuple and family, *flags the TCP flags byte (PKT_TCP_*).
 *   PKT_FRAG, PKT_UNPARSED, PKT_OTHER of an IP packet: *f holds the addresses and the family,
 *                 ports 0 (the guard decides these by the destination pod alone).
 *   anything else: *f zeroed (family 0).
 * Bounds are checked against `end` before every read, as the verifier requires.
 */
#ifndef SKIFF_BPF_PKT_H
#define SKIFF_BPF_PKT_H

#include "skiff/guard.h"

#define PKT_ETH_P_IP   0x0800
#define PKT_ETH_P_ARP  0x0806
#define PKT_ETH_P_IPV6 0x86DD

#define PKT_IPPROTO_HOPOPTS  0
#define PKT_IPPROTO_ICMP     1
#define PKT_IPPROTO_IGMP     2
#define PKT_IPPROTO_TCP	     6
#define PKT_IPPROTO_UDP	     17
#define PKT_IPPROTO_ROUTING  43
#define PKT_IPPROTO_FRAGMENT 44
#define PKT_IPPROTO_AH	     51
#define PKT_IPPROTO_ICMPV6   58
#define PKT_IPPROTO_NONE     59
#define PKT_IPPROTO_DSTOPTS  60

#define PKT_IP_MF     0x2000 /* IPv4 frag_off: more fragments */
#define PKT_IP_OFFSET 0x1fff /* IPv4 frag_off: fragment offset */
#define PKT_IP6_MF    0x0001 /* IPv6 fragment header: more fragments */
#define PKT_IP6_OFF   0xfff8 /* IPv6 fragment header: fragment offset */

#define PKT_TCP_SYN 0x02
#define PKT_TCP_ACK 0x10

/* Longest IPv6 extension header chain walked; legitimate traffic uses one or two. */
#define PKT_MAX_EXT 8

enum pkt_class {
	PKT_OTHER, /* ARP, or IP carrying what STRICT does not cover: UDP, ICMP, IGMP, no header */
	PKT_TCP,   /* a whole TCP header in an unfragmented packet */
	PKT_FRAG,  /* a fragment that is, or may be, TCP: its ports and flags are not all here */
	PKT_UNPARSED, /* what the guard cannot walk: truncated, too long a chain, ESP, tunnels,
		       * any other protocol or ethertype */
};

static __always_inline int pkt_tcp(const void *p, const void *end, struct skiff_flow_key *f,
				   __u8 *flags)
{
	const struct tcphdr *th = p;

	if ((const void *)(th + 1) > end)
		return PKT_UNPARSED;
	f->sport = th->source;
	f->dport = th->dest;
	*flags = ((const __u8 *)th)[13];
	return PKT_TCP;
}

/* IPv4: the protocol is part of the kernel's reassembly key, so a UDP fragment stays UDP. */
static __always_inline int pkt_ipv4(const struct iphdr *ip, const void *end,
				    struct skiff_flow_key *f, __u8 *flags)
{
	if ((const void *)(ip + 1) > end)
		return PKT_UNPARSED;
	f->family = SKIFF_AF_INET;
	f->saddr.v4 = ip->saddr;
	f->daddr.v4 = ip->daddr;
	if (ip->version != 4 || ip->ihl < 5)
		return PKT_UNPARSED;
	switch (ip->protocol) {
	case PKT_IPPROTO_TCP:
		if (ip->frag_off & bpf_htons(PKT_IP_MF | PKT_IP_OFFSET))
			return PKT_FRAG;
		return pkt_tcp((const void *)ip + ip->ihl * 4, end, f, flags);
	case PKT_IPPROTO_UDP:
	case PKT_IPPROTO_ICMP:
	case PKT_IPPROTO_IGMP:
		return PKT_OTHER;
	}
	return PKT_UNPARSED; /* AH, ESP, IP-in-IP, GRE, SCTP, ...: what would the pod do with it? */
}

static __always_inline int pkt_ipv6(const struct ipv6hdr *ip6, const void *end,
				    struct skiff_flow_key *f, __u8 *flags)
{
	const __u8 *p = (const __u8 *)(ip6 + 1);
	bool frag = false;
	__u8 nh;

	if ((const void *)(ip6 + 1) > end)
		return PKT_UNPARSED;
	f->family = SKIFF_AF_INET6;
	__builtin_memcpy(f->saddr.v6, &ip6->saddr, 16);
	__builtin_memcpy(f->daddr.v6, &ip6->daddr, 16);
	if (ip6->version != 6)
		return PKT_UNPARSED;
	nh = ip6->nexthdr;
#pragma unroll
	for (int i = 0; i < PKT_MAX_EXT + 1; i++) {
		__u16 fo;

		switch (nh) {
		case PKT_IPPROTO_TCP:
			return frag ? PKT_FRAG : pkt_tcp(p, end, f, flags);
		case PKT_IPPROTO_UDP:
		case PKT_IPPROTO_ICMPV6:
		case PKT_IPPROTO_NONE:
			return PKT_OTHER;
		case PKT_IPPROTO_HOPOPTS:
		case PKT_IPPROTO_ROUTING:
		case PKT_IPPROTO_DSTOPTS:
			if ((const void *)(p + 8) > end)
				goto short_chain;
			nh = p[0];
			p += (p[1] + 1) * 8;
			break;
		case PKT_IPPROTO_AH:
			if ((const void *)(p + 8) > end)
				goto short_chain;
			nh = p[0];
			p += (p[1] + 2) * 4;
			break;
		case PKT_IPPROTO_FRAGMENT:
			if ((const void *)(p + 8) > end)
				goto short_chain;
			fo = bpf_ntohs(*(const __be16 *)(p + 2));
			/* a later fragment: its next header counts for nothing in reassembly */
			if (fo & PKT_IP6_OFF)
				return PKT_FRAG;
			frag |= fo & PKT_IP6_MF; /* offset 0 without M is an atomic fragment */
			nh = p[0];
			p += 8;
			break;
		default:
			return PKT_UNPARSED; /* ESP, tunnels, mobility, unknown */
		}
	}
short_chain:
	return frag ? PKT_FRAG : PKT_UNPARSED;
}

static __always_inline int pkt_classify(const void *data, const void *end, struct skiff_flow_key *f,
					__u8 *flags)
{
	const struct ethhdr *eth = data;

	__builtin_memset(f, 0, sizeof(*f));
	*flags = 0;
	if ((const void *)(eth + 1) > end)
		return PKT_UNPARSED;
	if (eth->h_proto == bpf_htons(PKT_ETH_P_IP))
		return pkt_ipv4((const void *)(eth + 1), end, f, flags);
	if (eth->h_proto == bpf_htons(PKT_ETH_P_IPV6))
		return pkt_ipv6((const void *)(eth + 1), end, f, flags);
	if (eth->h_proto == bpf_htons(PKT_ETH_P_ARP))
		return PKT_OTHER;
	return PKT_UNPARSED;
}

#endif
