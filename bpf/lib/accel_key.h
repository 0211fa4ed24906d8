/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The 4-tuple of a TCP socket as a struct skiff_sock_key, from a sockops or an sk_msg context.
 *
 * Both contexts give addresses in network byte order, local_port in host byte order and
 * remote_port in network byte order in the upper 16 bits of a u32 (so bpf_ntohl() yields it in
 * host order). Every field is read straight from the context: the verifier rewrites each context
 * load and refuses one through a computed pointer. An IPv4-mapped IPv6 socket (a dual-stack
 * listener's child) is keyed as IPv4, so it and its IPv4 peer agree on the tuple.
 *
 * Return contract: 0 when `k` was filled, -1 when the socket is not IPv4/IPv6.
 */
#ifndef SKIFF_BPF_ACCEL_KEY_H
#define SKIFF_BPF_ACCEL_KEY_H

#include "skiff/accel.h"

#define ACCEL_AF_INET	    2
#define ACCEL_AF_INET6	    10
#define ACCEL_V4MAPPED_WORD bpf_htonl(0x0000ffff)

static __always_inline bool addr_is_v4mapped(const union skiff_addr *a)
{
	return !a->v6[0] && !a->v6[1] && a->v6[2] == ACCEL_V4MAPPED_WORD;
}

static __always_inline void addr_unmap(union skiff_addr *a)
{
	a->v4 = a->v6[3];
	a->v6[1] = 0;
	a->v6[2] = 0;
	a->v6[3] = 0;
}

/* Ports and family are set; turn a v4-mapped pair into IPv4. */
static __always_inline int key_finish(struct skiff_sock_key *k, __u32 family)
{
	if (family == ACCEL_AF_INET) {
		k->family = SKIFF_AF_INET;
		return 0;
	}
	if (family != ACCEL_AF_INET6)
		return -1;
	k->family = SKIFF_AF_INET6;
	if (addr_is_v4mapped(&k->local) && addr_is_v4mapped(&k->remote)) {
		addr_unmap(&k->local);
		addr_unmap(&k->remote);
		k->family = SKIFF_AF_INET;
	}
	return 0;
}

/* The key under which this sockops socket goes into the sockhash: its own view. */
static __always_inline int key_of_sockops(struct bpf_sock_ops *ctx, struct skiff_sock_key *k)
{
	__u32 family = ctx->family;

	__builtin_memset(k, 0, sizeof(*k));
	k->local_port = (__u16)ctx->local_port;
	k->remote_port = (__u16)bpf_ntohl(ctx->remote_port);
	if (family == ACCEL_AF_INET) {
		k->local.v4 = ctx->local_ip4;
		k->remote.v4 = ctx->remote_ip4;
	} else if (family == ACCEL_AF_INET6) {
		k->local.v6[0] = ctx->local_ip6[0];
		k->local.v6[1] = ctx->local_ip6[1];
		k->local.v6[2] = ctx->local_ip6[2];
		k->local.v6[3] = ctx->local_ip6[3];
		k->remote.v6[0] = ctx->remote_ip6[0];
		k->remote.v6[1] = ctx->remote_ip6[1];
		k->remote.v6[2] = ctx->remote_ip6[2];
		k->remote.v6[3] = ctx->remote_ip6[3];
	}
	return key_finish(k, family);
}

/* The key of the peer of the sending socket: the sender's tuple with the ends swapped. */
static __always_inline int peer_key_of_msg(struct sk_msg_md *msg, struct skiff_sock_key *k)
{
	__u32 family = msg->family;

	__builtin_memset(k, 0, sizeof(*k));
	k->remote_port = (__u16)msg->local_port;
	k->local_port = (__u16)bpf_ntohl(msg->remote_port);
	if (family == ACCEL_AF_INET) {
		k->remote.v4 = msg->local_ip4;
		k->local.v4 = msg->remote_ip4;
	} else if (family == ACCEL_AF_INET6) {
		k->remote.v6[0] = msg->local_ip6[0];
		k->remote.v6[1] = msg->local_ip6[1];
		k->remote.v6[2] = msg->local_ip6[2];
		k->remote.v6[3] = msg->local_ip6[3];
		k->local.v6[0] = msg->remote_ip6[0];
		k->local.v6[1] = msg->remote_ip6[1];
		k->local.v6[2] = msg->remote_ip6[2];
		k->local.v6[3] = msg->remote_ip6[3];
	}
	return key_finish(k, family);
}

/* The same connection as the other socket sees it: the two ends swapped. */
static __always_inline void key_swap(const struct skiff_sock_key *in, struct skiff_sock_key *out)
{
	__builtin_memset(out, 0, sizeof(*out));
	out->local = in->remote;
	out->remote = in->local;
	out->local_port = in->remote_port;
	out->remote_port = in->local_port;
	out->family = in->family;
}

#endif
