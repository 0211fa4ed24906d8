/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Service lookup and backend choice.
 *
 * Contract of lb_select(): LB_PASS leaves the socket alone (not a service in this generation),
 * LB_REFUSE means the service exists but has nothing to send to (no ready endpoint, or the
 * weighted pick landed on a "no healthy upstream" share), LB_REWRITE fills `*be` with the
 * backend to use instead of the VIP.
 */
#ifndef SKIFF_BPF_LB_SELECT_H
#define SKIFF_BPF_LB_SELECT_H

#include "lib/addr.h"
#include "lib/lb_maps.h"

#define LB_ECONNREFUSED 111

enum lb_verdict {
	LB_PASS,
	LB_REWRITE,
	LB_REFUSE,
};

/* Whether the calling task belongs to an enrolled pod. */
static __always_inline bool lb_enrolled(void)
{
	__u64 cgid = bpf_get_current_cgroup_id();

	return bpf_map_lookup_elem(&skiff_enrolled, &cgid) != NULL;
}

/* The generation in force; read once per program run so one run never mixes two tables. */
static __always_inline __u32 lb_active_gen(void)
{
	__u32 zero = 0;
	struct skiff_config *cfg = bpf_map_lookup_elem(&skiff_config, &zero);

	return cfg ? cfg->active_gen : 0;
}

/* IPPROTO_TCP / IPPROTO_UDP for a socket we balance, 0 for anything else (SCTP, ICMP, raw). */
static __always_inline __u8 lb_proto(const struct bpf_sock_addr *ctx)
{
	__u32 type = ctx->type, proto = ctx->protocol;

	if (type == SOCK_STREAM && (proto == IPPROTO_TCP || proto == IPPROTO_MPTCP))
		return IPPROTO_TCP;
	if (type == SOCK_DGRAM && proto == IPPROTO_UDP)
		return IPPROTO_UDP;
	return 0;
}

static __always_inline struct skiff_svc *svc_lookup(const struct skiff_sock_origin *vip, __u8 proto,
						    __u32 gen)
{
	struct skiff_svc_key key;

	__builtin_memset(&key, 0, sizeof(key));
	key.addr = vip->addr;
	key.port = vip->port;
	key.proto = proto;
	key.family = vip->family;
	key.gen = gen;
	return bpf_map_lookup_elem(&skiff_services, &key);
}

static __always_inline struct skiff_backend *backend_slot(__u32 gen, __u32 svc_id, __u32 slot)
{
	struct skiff_backend_key key = {.gen = gen, .svc_id = svc_id, .slot = slot};

	return bpf_map_lookup_elem(&skiff_backends, &key);
}

/*
 * Weighted random pick: r in [0, weight_total), then the first slot with r < weight_end. The
 * answer lies in [lo, hi]; each step halves that range, so SKIFF_BSEARCH_STEPS steps cover
 * SKIFF_MAX_BACKEND_SLOTS slots, plus at most one lookup of the final slot.
 */
static __always_inline struct skiff_backend *backend_pick_weighted(const struct skiff_svc *svc,
								   __u32 gen)
{
	__u32 r = bpf_get_prandom_u32() % svc->weight_total;
	__u32 lo = 0, hi = svc->count - 1, svc_id = svc->svc_id;
	struct skiff_backend *be, *at_hi = NULL;

	for (int i = 0; i < SKIFF_BSEARCH_STEPS && lo < hi; i++) {
		__u32 mid = lo + (hi - lo) / 2;

		be = backend_slot(gen, svc_id, mid);
		if (!be)
			return NULL; /* a hole in the table: skiffd wrote it wrong */
		if (r < be->weight_end) {
			hi = mid;
			at_hi = be;
		} else {
			lo = mid + 1;
		}
	}
	if (lo != hi)
		return NULL; /* more slots than the search covers */
	/* hi was looked up when a step moved it; otherwise it is still the last slot */
	return at_hi ? at_hi : backend_slot(gen, svc_id, lo);
}

/*
 * The client's address for a Maglev port: the socket's own source when it is bound, else the
 * address of the caller's pod (skiff_pod_addr), which is what an unbound socket of the pod will
 * send from. Zero when neither is known: every such client then shares one slot.
 */
static __always_inline __u64 lb_client_hash(struct bpf_sock_addr *ctx, __u8 family)
{
	struct bpf_sock *sk = ctx->sk;
	struct skiff_pod_addr *pa;
	union skiff_addr a;
	__u64 cgid;

	__builtin_memset(&a, 0, sizeof(a));
	if (sk && family == SKIFF_AF_INET) {
		a.v4 = sk->src_ip4;
	} else if (sk) {
		a.v6[0] = sk->src_ip6[0];
		a.v6[1] = sk->src_ip6[1];
		a.v6[2] = sk->src_ip6[2];
		a.v6[3] = sk->src_ip6[3];
	}
	if (a.v6[0] | a.v6[1] | a.v6[2] | a.v6[3])
		return skiff_hash_addr(&a, family);
	cgid = bpf_get_current_cgroup_id();
	pa = bpf_map_lookup_elem(&skiff_pod_addr, &cgid);
	if (pa && family == SKIFF_AF_INET && pa->has4)
		a = pa->v4;
	else if (pa && family == SKIFF_AF_INET6 && pa->has6)
		a = pa->v6;
	return skiff_hash_addr(&a, family);
}

/* consistentHash.useSourceIp: the slots are the Maglev table, the client's hash picks one. */
static __always_inline struct skiff_backend *backend_pick_maglev(const struct skiff_svc *svc,
								 __u32 gen,
								 struct bpf_sock_addr *ctx,
								 __u8 family)
{
	return backend_slot(gen, svc->svc_id, (__u32)(lb_client_hash(ctx, family) % svc->count));
}

/* lb_select() for a service already looked up (svc NULL: not a service). */
static __always_inline enum lb_verdict lb_pick(struct bpf_sock_addr *ctx,
					       const struct skiff_svc *svc,
					       const struct skiff_sock_origin *vip, __u32 gen,
					       struct skiff_sock_origin *out)
{
	struct skiff_backend *be;

	if (!svc)
		return LB_PASS;
	if ((svc->flags & SKIFF_SVC_F_NO_BACKENDS) || !svc->count || !svc->weight_total ||
	    svc->count > SKIFF_MAX_BACKEND_SLOTS)
		return LB_REFUSE;
	if (svc->flags & SKIFF_SVC_F_MAGLEV)
		be = backend_pick_maglev(svc, gen, ctx, vip->family);
	else
		be = backend_pick_weighted(svc, gen);
	if (!be || be->family != vip->family)
		return LB_REFUSE; /* family 0: the share of a subset with no ready endpoint */
	ep_clear(out);
	out->addr = be->addr;
	out->port = be->port;
	out->family = be->family;
	return LB_REWRITE;
}

static __always_inline enum lb_verdict lb_select(struct bpf_sock_addr *ctx,
						 const struct skiff_sock_origin *vip, __u8 proto,
						 __u32 gen, struct skiff_sock_origin *out)
{
	return lb_pick(ctx, svc_lookup(vip, proto, gen), vip, gen, out);
}

/* Fail the syscall with ECONNREFUSED, as kube-proxy's REJECT rule does for a service with no
 * endpoints. A sock_addr program that returns 0 fails the call with the retval it set. */
static __always_inline int lb_refuse(void)
{
	bpf_set_retval(-LB_ECONNREFUSED);
	return 0;
}

#endif
