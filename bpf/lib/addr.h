/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Socket addresses of a cgroup sock_addr context, as skiff endpoints (struct skiff_sock_origin:
 * address, port, family, all in network byte order).
 *
 * `is6` is a compile-time constant at every call site: the v4 hooks may only touch user_ip4 and
 * the v6 hooks only user_ip6, so the branch for the other family must vanish before the verifier
 * sees it. An IPv4-mapped IPv6 address (::ffff:a.b.c.d, a dual-stack socket dialling IPv4) reads
 * as an IPv4 endpoint and is written back in mapped form.
 */
#ifndef SKIFF_BPF_ADDR_H
#define SKIFF_BPF_ADDR_H

#include "skiff/lb.h"

#define ADDR_V4MAPPED_WORD bpf_htonl(0x0000ffff)

static __always_inline void ep_clear(struct skiff_sock_origin *ep)
{
	__builtin_memset(ep, 0, sizeof(*ep));
}

/* The destination (connect, sendmsg) or source (recvmsg) or peer (getpeername) of `ctx`. */
static __always_inline void ep_read(struct bpf_sock_addr *ctx, struct skiff_sock_origin *ep,
				    const bool is6)
{
	ep_clear(ep);
	ep->port = (__be16)ctx->user_port;
	if (!is6) {
		ep->family = SKIFF_AF_INET;
		ep->addr.v4 = ctx->user_ip4;
		return;
	}
	ep->addr.v6[0] = ctx->user_ip6[0];
	ep->addr.v6[1] = ctx->user_ip6[1];
	ep->addr.v6[2] = ctx->user_ip6[2];
	ep->addr.v6[3] = ctx->user_ip6[3];
	ep->family = SKIFF_AF_INET6;
	if (!ep->addr.v6[0] && !ep->addr.v6[1] && ep->addr.v6[2] == ADDR_V4MAPPED_WORD) {
		ep->addr.v4 = ep->addr.v6[3];
		ep->addr.v6[2] = 0;
		ep->addr.v6[3] = 0;
		ep->family = SKIFF_AF_INET;
	}
}

/* Write `ep` into `ctx`. Returns -1 when `ep` cannot be expressed in this socket's family. */
static __always_inline int ep_write(struct bpf_sock_addr *ctx, const struct skiff_sock_origin *ep,
				    const bool is6)
{
	if (!is6) {
		if (ep->family != SKIFF_AF_INET)
			return -1;
		ctx->user_ip4 = ep->addr.v4;
	} else if (ep->family == SKIFF_AF_INET) {
		ctx->user_ip6[0] = 0;
		ctx->user_ip6[1] = 0;
		ctx->user_ip6[2] = ADDR_V4MAPPED_WORD;
		ctx->user_ip6[3] = ep->addr.v4;
	} else if (ep->family == SKIFF_AF_INET6) {
		ctx->user_ip6[0] = ep->addr.v6[0];
		ctx->user_ip6[1] = ep->addr.v6[1];
		ctx->user_ip6[2] = ep->addr.v6[2];
		ctx->user_ip6[3] = ep->addr.v6[3];
	} else {
		return -1;
	}
	ctx->user_port = ep->port;
	return 0;
}

#endif
