/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a socket dialled before we rewrote it: the VIP in its state (lib/sk_state.h) for getpeername,
 * and for UDP the (socket, VIP) -> backend stickiness and the (socket, backend) -> VIP reverse
 * entry that recvmsg uses to show the client the address it sent to.
 */
#ifndef SKIFF_BPF_LB_ORIGIN_H
#define SKIFF_BPF_LB_ORIGIN_H

#include "lib/addr.h"
#include "lib/lb_maps.h"
#include "lib/sk_state.h"

/* Remember the VIP a TCP or connected UDP socket dialled; a punt an earlier connect() of the
 * socket left is void. Best effort: no memory only costs getpeername its VIP, never the
 * connection. */
static __always_inline void origin_remember(struct bpf_sock *sk,
					    const struct skiff_sock_origin *vip)
{
	struct skiff_sock_state *st = sk_state_new(sk);

	if (!st)
		return;
	st->vip = *vip;
	st->punt.family = 0;
}

/* A socket reconnected to a non-service address must stop reporting its old VIP, nor be filed
 * as punted. A socket without state (most connections to a pod or outside) gets none. */
static __always_inline void origin_forget(struct bpf_sock *sk)
{
	struct skiff_sock_state *st = sk_state(sk);

	if (!st)
		return;
	st->vip.family = 0;
	st->punt.family = 0;
}

static __always_inline struct skiff_sock_origin *origin_of(struct bpf_sock *sk)
{
	struct skiff_sock_state *st = sk_state(sk);

	return st && st->vip.family ? &st->vip : NULL;
}

static __always_inline void udp_flow_key(struct skiff_udp_flow_key *k, __u64 cookie,
					 const struct skiff_sock_origin *vip)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->cookie = cookie;
	k->vip = vip->addr;
	k->port = vip->port;
	k->family = vip->family;
}

static __always_inline void udp_rev_key(struct skiff_udp_rev_key *k, __u64 cookie,
					const struct skiff_sock_origin *be)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->cookie = cookie;
	k->backend = be->addr;
	k->port = be->port;
	k->family = be->family;
}

/* The backend this socket's flow to `vip` picked under generation `gen`, if any. */
static __always_inline bool udp_flow_get(__u64 cookie, const struct skiff_sock_origin *vip,
					 __u32 gen, struct skiff_sock_origin *be)
{
	struct skiff_udp_flow_key k;
	struct skiff_udp_flow *f;

	udp_flow_key(&k, cookie, vip);
	f = bpf_map_lookup_elem(&skiff_udp_flows, &k);
	if (!f || f->gen != gen)
		return false;
	ep_clear(be);
	be->addr = f->addr;
	be->port = f->port;
	be->family = f->family;
	return true;
}

static __always_inline void udp_flow_put(__u64 cookie, const struct skiff_sock_origin *vip,
					 __u32 gen, const struct skiff_sock_origin *be)
{
	struct skiff_udp_flow_key k;
	struct skiff_udp_flow f;

	udp_flow_key(&k, cookie, vip);
	__builtin_memset(&f, 0, sizeof(f));
	f.addr = be->addr;
	f.port = be->port;
	f.family = be->family;
	f.gen = gen;
	bpf_map_update_elem(&skiff_udp_flows, &k, &f, BPF_ANY);
}

/* Record backend -> VIP for replies; `refresh` only writes when the entry was evicted. */
static __always_inline void udp_rev_put(__u64 cookie, const struct skiff_sock_origin *be,
					const struct skiff_sock_origin *vip, bool refresh)
{
	struct skiff_udp_rev_key k;

	udp_rev_key(&k, cookie, be);
	if (refresh && bpf_map_lookup_elem(&skiff_udp_rev, &k))
		return;
	bpf_map_update_elem(&skiff_udp_rev, &k, vip, BPF_ANY);
}

static __always_inline struct skiff_sock_origin *udp_rev_get(__u64 cookie,
							     const struct skiff_sock_origin *src)
{
	struct skiff_udp_rev_key k;

	udp_rev_key(&k, cookie, src);
	return bpf_map_lookup_elem(&skiff_udp_rev, &k);
}

#endif
