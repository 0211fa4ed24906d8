/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ethernet frames built by hand for BPF_PROG_TEST_RUN. A case describes its packet as a
 * struct pkt; pkt_build() lays it out: Ethernet, then IPv4 (options, fragment fields) or IPv6
 * (an extension header chain), then TCP, UDP, ICMP, ICMPv6 or plain bytes. Whatever a struct pkt
 * leaves zero gets the ordinary value: TTL 64, DF on an IPv4 packet that is not a fragment,
 * lengths that match what was written. A frame can then be cut short (`len`) so that its
 * headers claim more than it holds.
 *
 * Only the IPv4 header checksum is computed: the programs under test read no checksum, and the
 * frames never reach a network stack.
 */
#ifndef SKIFF_TESTS_PKT_BUILD_H
#define SKIFF_TESTS_PKT_BUILD_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define PKT_B_MAX     512 /* longest frame a case builds */
#define PKT_B_MAX_EXT 12  /* IPv6 extension headers in one chain */

#define PKT_B_FIN 0x01
#define PKT_B_SYN 0x02
#define PKT_B_RST 0x04
#define PKT_B_PSH 0x08
#define PKT_B_ACK 0x10
#define PKT_B_ECE 0x40
#define PKT_B_CWR 0x80

#define PKT_B_IHL0 0x10 /* struct pkt's ihl for an ihl field of 0 (0 there: the right value) */

#define PKT_B_IP_DF 0x4000
#define PKT_B_IP_MF 0x2000

/* One IPv6 extension header. */
struct pkt_ext {
	bool on;       /* an entry of the chain (IPPROTO_HOPOPTS is 0: the type cannot say) */
	uint8_t type;  /* IPPROTO_HOPOPTS, _DSTOPTS, _ROUTING, _AH or _FRAGMENT */
	uint8_t hlen;  /* its length field: 8-byte units past the first 8, AH 4-byte units past 8 */
	uint16_t frag; /* IPPROTO_FRAGMENT: offset (a multiple of 8) | 1 for M */
	bool ra;       /* IPPROTO_HOPOPTS: a router alert option (MLD) */
};

/* The fields of one chain entry: .ext = {{PKT_HBH}, {PKT_FRAG(0, 1)}} */
#define PKT_HBH	       .on = true, .type = IPPROTO_HOPOPTS
#define PKT_HBH_RA     .on = true, .type = IPPROTO_HOPOPTS, .ra = true
#define PKT_DST	       .on = true, .type = IPPROTO_DSTOPTS
#define PKT_DST_N(n)   .on = true, .type = IPPROTO_DSTOPTS, .hlen = (n)
#define PKT_RT	       .on = true, .type = IPPROTO_ROUTING, .hlen = 2
#define PKT_AH	       .on = true, .type = IPPROTO_AH, .hlen = 4 /* 12-byte ICV */
#define PKT_FRAG(o, m) .on = true, .type = IPPROTO_FRAGMENT, .frag = (uint16_t)((o) | (m))

struct pkt {
	bool vlan;	       /* an 802.1Q tag, VLAN 0 (priority only), before the ethertype */
	uint16_t ethertype;    /* 0: IPv4 or IPv6, as dst says */
	const char *src, *dst; /* NULL dst: no IP header, ethertype and `raw` bytes only */
	uint8_t version;       /* IP version field; 0: the family's */
	/* IPv4 */
	uint8_t ihl;	  /* 0: 5 plus the options; PKT_B_IHL0: 0 */
	const char *opts; /* options, optlen bytes, a multiple of 4 */
	uint8_t optlen;
	uint16_t frag_off; /* PKT_B_IP_MF | offset / 8; 0: DF, not a fragment */
	/* IPv6 */
	struct pkt_ext ext[PKT_B_MAX_EXT];
	/* transport */
	uint8_t proto;	   /* after the IPv4 header or the IPv6 chain */
	uint8_t tcp_flags; /* PKT_B_* */
	uint16_t sport, dport;
	uint8_t icmp_type;
	int raw;   /* >0: this many bytes of zeros instead of a transport header */
	int l4len; /* >0: the transport header cut to this many bytes */
	int len;   /* >0: the whole frame cut to this many bytes */
};

static inline int pkt_b_family(const char *addr)
{
	return strchr(addr, ':') ? AF_INET6 : AF_INET;
}

static inline uint16_t pkt_b_csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

static inline void pkt_b_put16(uint8_t *p, uint16_t host)
{
	p[0] = host >> 8;
	p[1] = host & 0xff;
}

/* The transport header (or raw bytes) at b; its length. */
static inline size_t pkt_b_l4(const struct pkt *p, uint8_t *b)
{
	size_t n;

	if (p->raw > 0)
		return (size_t)p->raw;
	switch (p->proto) {
	case IPPROTO_TCP:
		pkt_b_put16(b, p->sport);
		pkt_b_put16(b + 2, p->dport);
		pkt_b_put16(b + 4, 0x1234); /* sequence number */
		b[12] = 5 << 4;		    /* data offset: no options */
		b[13] = p->tcp_flags;
		pkt_b_put16(b + 14, 64240); /* window */
		n = 20;
		break;
	case IPPROTO_UDP:
		pkt_b_put16(b, p->sport);
		pkt_b_put16(b + 2, p->dport);
		pkt_b_put16(b + 4, 16);
		n = 16; /* 8 bytes of payload */
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		b[0] = p->icmp_type;
		n = 24; /* room for a neighbour solicitation's or an MLD message's body */
		break;
	default:
		n = 20;
	}
	if (p->l4len > 0 && (size_t)p->l4len < n)
		n = (size_t)p->l4len;
	return n;
}

static inline size_t pkt_b_ipv4(const struct pkt *p, uint8_t *b)
{
	size_t hl = 20 + p->optlen;

	b[0] = (p->version ? p->version : 4) << 4 | (p->ihl ? p->ihl & 0x0f : hl / 4);
	pkt_b_put16(b + 4, 0x4242); /* identification */
	pkt_b_put16(b + 6, p->frag_off ? p->frag_off : PKT_B_IP_DF);
	b[8] = 64;
	b[9] = p->proto;
	inet_pton(AF_INET, p->src, b + 12);
	inet_pton(AF_INET, p->dst, b + 16);
	if (p->optlen)
		memcpy(b + 20, p->opts, p->optlen);
	return hl;
}

/* Fill the options area of a hop-by-hop or destination options header with padding (and a
 * router alert first when asked), as a sender's stack would. */
static inline void pkt_b_tlvs(const struct pkt_ext *e, uint8_t *b, size_t n)
{
	if (e->ra) {
		b[0] = 5; /* router alert, value 0: MLD */
		b[1] = 2;
		b += 4;
		n -= 4;
	}
	while (n > 0) {
		size_t k = n == 1 ? 1 : n < 257 ? n : 257;

		b[0] = k == 1 ? 0 : 1; /* Pad1, PadN */
		if (k > 1)
			b[1] = (uint8_t)(k - 2);
		b += k;
		n -= k;
	}
}

static inline size_t pkt_b_ext_len(const struct pkt_ext *e)
{
	if (e->type == IPPROTO_FRAGMENT)
		return 8;
	if (e->type == IPPROTO_AH)
		return ((size_t)e->hlen + 2) * 4;
	return ((size_t)e->hlen + 1) * 8;
}

/* One extension header at b, naming `next` (room for pkt_b_ext_len bytes). */
static inline void pkt_b_ext(const struct pkt_ext *e, uint8_t next, uint8_t *b)
{
	b[0] = next;
	switch (e->type) {
	case IPPROTO_FRAGMENT:
		pkt_b_put16(b + 2, e->frag);
		memcpy(b + 4, "\x00\x00\xbe\xef", 4); /* identification */
		break;
	case IPPROTO_AH:
		b[1] = e->hlen;
		memcpy(b + 4, "\x00\x00\x01\x00\x00\x00\x00\x01", 8); /* SPI, sequence number */
		break;
	case IPPROTO_ROUTING:
		b[1] = e->hlen; /* type 0 with segments left 0: the receiver steps over it */
		break;
	default:
		b[1] = e->hlen;
		pkt_b_tlvs(e, b + 2, pkt_b_ext_len(e) - 2);
	}
}

static inline size_t pkt_b_ipv6(const struct pkt *p, uint8_t *b, size_t room)
{
	size_t off = 40;
	int n = 0;

	while (n < PKT_B_MAX_EXT && p->ext[n].on)
		n++;
	b[0] = (p->version ? p->version : 6) << 4;
	b[6] = n ? p->ext[0].type : p->proto;
	b[7] = 64;
	inet_pton(AF_INET6, p->src, b + 8);
	inet_pton(AF_INET6, p->dst, b + 24);
	/* a chain longer than the room is cut after its last whole header */
	for (int i = 0; i < n && off + pkt_b_ext_len(&p->ext[i]) <= room; i++) {
		pkt_b_ext(&p->ext[i], i + 1 < n ? p->ext[i + 1].type : p->proto, b + off);
		off += pkt_b_ext_len(&p->ext[i]);
	}
	return off;
}

/* Lay out p in b (PKT_B_MAX bytes); the frame's length. */
static inline size_t pkt_build(const struct pkt *p, uint8_t *b)
{
	int fam = p->dst ? pkt_b_family(p->dst) : 0;
	uint16_t type = p->ethertype ? p->ethertype : fam == AF_INET6 ? 0x86dd : 0x0800;
	size_t l3 = 14, l4, len;

	memset(b, 0, PKT_B_MAX);
	memcpy(b, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	if (p->vlan) {
		pkt_b_put16(b + 12, 0x8100);
		pkt_b_put16(b + 14, 0); /* priority 0, VLAN 0 */
		l3 += 4;
	}
	pkt_b_put16(b + l3 - 2, type);
	if (!fam) {
		len = l3 + (p->raw > 0 ? (size_t)p->raw : 0);
		goto out;
	}
	/* the IPv6 chain leaves room for a transport header */
	if (fam == AF_INET)
		l4 = l3 + pkt_b_ipv4(p, b + l3);
	else
		l4 = l3 + pkt_b_ipv6(p, b + l3, PKT_B_MAX - l3 - 64);
	len = l4 + pkt_b_l4(p, b + l4);
	if (fam == AF_INET) {
		uint16_t csum;

		pkt_b_put16(b + l3 + 2, (uint16_t)(len - l3));
		csum = pkt_b_csum(b + l3, l4 - l3);
		memcpy(b + l3 + 10, &csum, 2);
	} else {
		pkt_b_put16(b + l3 + 4, (uint16_t)(len - l3 - 40));
	}
out:
	if (p->len > 0 && (size_t)p->len < len)
		len = (size_t)p->len;
	return len;
}

#endif /* SKIFF_TESTS_PKT_BUILD_H */
