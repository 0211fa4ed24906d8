/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The socket load balancer's hooks, written once for both families (`is6` is a constant at each
 * call site). Every hook returns what its program returns: 1 lets the syscall go on, 0 (after
 * lb_refuse or policy_refuse) fails it. Sockets of pods that are not enrolled are never touched.
 */
#ifndef SKIFF_BPF_LB_HOOKS_H
#define SKIFF_BPF_LB_HOOKS_H

#include "lib/addr.h"
#include "lib/events.h"
#include "lib/lb_origin.h"
#include "lib/lb_select.h"
#include "lib/policy.h"
#include "lib/punt.h"

/* A flow event of a connect() from workload `self` to `dst`: refused, or sent to skiffd. */
static __always_inline void ev_connect(__u8 kind, __u8 reason, __u32 self,
				       const struct skiff_sock_origin *dst,
				       const struct policy_hit *hit)
{
	struct skiff_event *e = ev_reserve(kind);

	if (!e)
		return;
	e->daddr = dst->addr;
	e->dport = dst->port;
	e->family = dst->family;
	e->reason = reason;
	e->src_workload = self;
	e->dst_workload = hit->dst_workload;
	e->policy_id = hit->policy_id;
	e->cgroup_id = bpf_get_current_cgroup_id();
	ev_submit(e);
}

/*
 * TCP to `dst` (the backend, or the address dialled when it is no service): the same-node
 * policy verdict first, then skiffd for a destination that needs it (a pod on another node, or
 * one whose policies need HTTP), else direct. `rewrite`: `dst` is a backend, not what was dialled.
 */
static __always_inline int lb_connect_tcp(struct bpf_sock_addr *ctx, struct bpf_sock *sk,
					  __u32 self, const struct skiff_sock_origin *vip,
					  const struct skiff_sock_origin *dst, bool rewrite,
					  const bool is6)
{
	struct policy_hit hit = {};
	enum policy_verdict pv = policy_check(self, dst, &hit);

	if (pv == POLICY_DENY) {
		ev_connect(SKIFF_EV_DENIED, SKIFF_EV_DENY_POLICY, self, dst, &hit);
		return policy_refuse();
	}
	if (punt_connect(ctx, sk, dst, vip, pv == POLICY_L7, is6)) {
		ev_connect(SKIFF_EV_PUNTED, 0, self, dst, &hit);
		return 1;
	}
	if (pv == POLICY_L7) {
		ev_connect(SKIFF_EV_DENIED, SKIFF_EV_DENY_L7, self, dst, &hit);
		return policy_refuse(); /* skiffd decides each request: never direct */
	}
	if (!rewrite) {
		origin_forget(sk);
		return 1;
	}
	if (ep_write(ctx, dst, is6))
		return lb_refuse();
	origin_remember(sk, vip);
	return 1;
}

/*
 * TCP to a service port whose HTTP rules skiffd applies (SKIFF_SVC_F_L7): skiffd's router gets
 * the connection with the VIP itself as the original destination, and picks a route and an
 * endpoint per request. The same-node policy is the router's to apply, per endpoint it dials.
 * False when punting is off: the connection then takes the kernel's weighted pick.
 */
static __always_inline bool lb_connect_l7(struct bpf_sock_addr *ctx, struct bpf_sock *sk,
					  const struct skiff_svc *svc, __u8 proto,
					  const struct skiff_sock_origin *vip, const bool is6)
{
	if (!svc || proto != IPPROTO_TCP || !(svc->flags & SKIFF_SVC_F_L7))
		return false;
	return punt_connect(ctx, sk, vip, vip, true, is6);
}

/* connect(): TCP and connected UDP. TCP is held to the same-node policy verdict, and goes to
 * skiffd when aimed at an enrolled pod on another node (lb_connect_tcp) or at a service port
 * with HTTP rules (lb_connect_l7). */
static __always_inline int lb_connect(struct bpf_sock_addr *ctx, const bool is6)
{
	struct skiff_sock_origin vip, be, *dst = &be;
	struct bpf_sock *sk = ctx->sk;
	__u8 proto = lb_proto(ctx);
	struct skiff_pod *caller;
	struct skiff_svc *svc;
	__u32 self, gen;

	if (!proto || !sk)
		return 1;
	caller = policy_caller();
	if (!caller)
		return 1;
	self = caller->workload_id;
	ep_read(ctx, &vip, is6);
	gen = lb_active_gen();
	svc = svc_lookup(&vip, proto, gen);
	if (lb_connect_l7(ctx, sk, svc, proto, &vip, is6))
		return 1;
	switch (lb_pick(ctx, svc, &vip, gen, &be)) {
	case LB_PASS:
		if (proto != IPPROTO_TCP) {
			origin_forget(sk);
			return 1;
		}
		dst = &vip; /* not a service: a pod is still checked and maybe punted */
		break;
	case LB_REFUSE:
		return lb_refuse();
	default:
		if (proto == IPPROTO_TCP)
			break;
		if (ep_write(ctx, &be, is6))
			return lb_refuse();
		origin_remember(sk, &vip);
		udp_rev_put(bpf_get_socket_cookie(ctx), &be, &vip, false);
		return 1;
	}
	return lb_connect_tcp(ctx, sk, self, &vip, dst, dst == &be, is6);
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
	switch (lb_select(ctx, &vip, proto, gen, &be)) {
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
