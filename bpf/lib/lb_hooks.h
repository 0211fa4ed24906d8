/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The socket load balancer's hooks, written once for both families (`is6` is a constant at each
 * call site). Every hook returns what its program returns: 1 lets the syscall go on, 0 (after
 * lb_refuse) fails it. Sockets of pods that are not enrolled are never touched.
 */
#ifndef SKIFF_BPF_LB_HOOKS_H
#define SKIFF_BPF_LB_HOOKS_H

#include "lib/addr.h"
#include "lib/lb_origin.h"
#include "lib/lb_select.h"
#include "lib/punt.h"

/* connect(): TCP and connected UDP. TCP to an enrolled pod on another node goes to skiffd. */
static __always_inline int lb_connect(struct bpf_sock_addr *ctx, const bool is6)
{
	struct skiff_sock_origin vip, be;
	struct bpf_sock *sk = ctx->sk;
	__u8 proto = lb_proto(ctx);

	if (!proto || !sk || !lb_enrolled())
		return 1;
	ep_read(ctx, &vip, is6);
	switch (lb_select(&vip, proto, lb_active_gen(), &be)) {
	case LB_PASS:
		/* not a service; a pod on another node is still punted (getpeername: the pod) */
		if (proto == IPPROTO_TCP && punt_connect(ctx, sk, &vip, is6))
			origin_remember(sk, &vip);
		else
			origin_forget(sk);
		return 1;
	case LB_REFUSE:
		return lb_refuse();
	default:
		break;
	}
	if (proto == IPPROTO_TCP && punt_connect(ctx, sk, &be, is6)) {
		origin_remember(sk, &vip);
		return 1;
	}
	if (ep_write(ctx, &be, is6))
		return lb_refuse();
	origin_remember(sk, &vip);
	if (proto == IPPROTO_UDP)
		udp_rev_put(bpf_get_socket_cookie(ctx), &be, &vip, false);
	return 1;
}

/* sendmsg() with a destination: unconnected UDP. One flow (socket, VIP) sticks to one backend. */
static __always_inline int lb_sendmsg(struct bpf_sock_addr *ctx, const bool is6)
{
	struct skiff_sock_origin vip, be;
	__u8 proto = lb_proto(ctx);
	__u64 cookie;
	__u32 gen;

	if (proto != IPPROTO_UDP || !lb_enrolled())
		return 1;
	ep_read(ctx, &vip, is6);
	gen = lb_active_gen();
	cookie = bpf_get_socket_cookie(ctx);
	if (udp_flow_get(cookie, &vip, gen, &be)) {
		udp_rev_put(cookie, &be, &vip, true);
		return ep_write(ctx, &be, is6) ? lb_refuse() : 1;
	}
	switch (lb_select(&vip, proto, gen, &be)) {
	case LB_PASS:
		return 1;
	case LB_REFUSE:
		return lb_refuse();
	default:
		break;
	}
	if (ep_write(ctx, &be, is6))
		return lb_refuse();
	udp_flow_put(cookie, &vip, gen, &be);
	udp_rev_put(cookie, &be, &vip, false);
	return 1;
}

/* recvmsg(): a datagram from a backend shows the VIP the client sent to as its source. */
static __always_inline int lb_recvmsg(struct bpf_sock_addr *ctx, const bool is6)
{
	struct skiff_sock_origin src, *vip;

	ep_read(ctx, &src, is6);
	vip = udp_rev_get(bpf_get_socket_cookie(ctx), &src);
	if (vip)
		ep_write(ctx, vip, is6);
	return 1;
}

/* getpeername(): a socket we rewrote shows the VIP it dialled. */
static __always_inline int lb_getpeername(struct bpf_sock_addr *ctx, const bool is6)
{
	struct bpf_sock *sk = ctx->sk;
	struct skiff_sock_origin *vip;

	if (!sk)
		return 1;
	vip = origin_of(sk);
	if (vip)
		ep_write(ctx, vip, is6);
	return 1;
}

#endif
