/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What sockops does to put one socket on the fast path, shared by the pod side
 * (lib/accel_sockops.h) and skiffd's side (lib/accel_agent.h): start the socket's state, insert
 * it into the sockhash, ask whether its peer is already there. Pods are looked up with
 * pod_ips_lookup (lib/pod_ips.h).
 */
#ifndef SKIFF_BPF_ACCEL_SOCK_H
#define SKIFF_BPF_ACCEL_SOCK_H

#include "lib/accel_key.h"
#include "lib/accel_maps.h"

/* Into the sockhash, with its address in skiff_sk_addr: neither or both. */
static __always_inline void accel_insert(struct bpf_sock_ops *ctx, struct skiff_sock_key *key,
					 struct skiff_sock_state *st)
{
	struct skiff_sock_ref ref = {
	    .kaddr = (__u64)(long)ctx->sk,
	    .cookie = bpf_get_socket_cookie(ctx),
	};

	if (!ref.kaddr || bpf_map_update_elem(&skiff_sk_addr, key, &ref, BPF_ANY))
		return; /* map full: this connection stays on TCP */
	if (bpf_sock_hash_update(ctx, &skiff_sockhash, key, BPF_ANY)) {
		bpf_map_delete_elem(&skiff_sk_addr, key);
		return;
	}
	st->flags |= SKIFF_SOCK_F_ACCEL;
	/* ACKs are rare on the fast path (its bytes skip TCP) and come once it fell back: each
	 * then runs sockops, which takes the pair off the fast path (lib/accel_leave.h) */
	bpf_sock_ops_cb_flags_set(ctx, ctx->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_RTT_CB_FLAG);
}

/* Is the other end of this connection already in the sockhash, and taking redirects? */
static __always_inline bool accel_peer_inserted(const struct skiff_sock_key *k)
{
	struct skiff_sock_ref *ref;
	struct skiff_sock_key p;

	key_swap(k, &p);
	ref = bpf_map_lookup_elem(&skiff_sk_addr, &p);
	return ref && !(ref->kaddr & SKIFF_SOCK_REF_TCP);
}

/* A new fast-path socket's state: start time, counters' baselines, workload pair, flags. */
static __always_inline void accel_state_init(struct bpf_sock_ops *ctx, struct skiff_sock_state *st,
					     __u32 src_wl, __u32 dst_wl, __u32 flags)
{
	st->start_ns = bpf_ktime_get_ns();
	st->redirected = 0;
	st->acked0 = ctx->bytes_acked;
	st->received0 = ctx->bytes_received;
	st->pair.src_workload = src_wl;
	st->pair.dst_workload = dst_wl;
	st->flags = flags;
	st->msgs = 0;
	bpf_sock_ops_cb_flags_set(ctx, ctx->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
}

#endif
