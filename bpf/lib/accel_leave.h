/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A pair that fell back to TCP leaves the fast path, both ends. A socket that stays in the
 * sockhash runs sk_msg and the psock's send and receive paths for every later message, which is
 * slower than plain TCP, and the pair is on TCP for good anyway.
 *
 * The kernel frees a socket's queue of redirected bytes, read or not, when the socket leaves the
 * sockhash, and a message redirected to a socket that left fails its sender's write (EPIPE). So
 * a socket S leaves only once (1) nothing is redirected to it any more and (2) its reader has
 * taken every byte that was. Both ends send over TCP for good once either fell back, and the
 * reader takes the redirected bytes before TCP's, so the byte order is kept.
 *
 * Two steps, both in sockops (the only program of these that may delete from a sockhash, on 6.1
 * and 6.18 alike; sk_msg may not). They run at the ACKs of the TCP bytes a fall-back brings,
 * which fast-path sockets otherwise hardly see (BPF_SOCK_OPS_RTT_CB, asked for at insert):
 *
 *   1. S sends over TCP for good (SKIFF_SOCK_F_TCP or _NO_PEER): its skiff_sk_addr entry gets
 *      SKIFF_SOCK_REF_TCP, so its peer's next message goes over TCP for good too
 *      (lib/accel_msg.h). sk_msg marks it at once when the cap moves S to TCP.
 *   2. At a later ACK (a message its peer was redirecting at step 1 has landed by then): S
 *      leaves the sockhash once its own queue is empty, and takes its peer out too once the
 *      peer's queue is empty (S redirects nothing to it). Then the callbacks stop.
 *
 * A peer that sends nothing and whose partner's ACKs stop before its queue empties stays in the
 * sockhash until it closes; it receives over TCP meanwhile. A message that another thread of
 * the peer had handed to the fast path before step 1 and that is still on its way at step 2
 * (two writers on one socket, one preempted for a round trip mid-send) would be dropped with
 * its socket's queue: the window is one round trip wide, against the lifetime of the pair.
 */
#ifndef SKIFF_BPF_ACCEL_LEAVE_H
#define SKIFF_BPF_ACCEL_LEAVE_H

#include "lib/accel_key.h"
#include "lib/accel_maps.h"
#include "lib/accel_msg.h"

/* Out of the sockhash and skiff_sk_addr, once its reader has every redirected byte. */
static __always_inline bool accel_out(const struct skiff_sock_key *k, __u64 kaddr)
{
	if (peer_unread(kaddr))
		return false;
	bpf_map_delete_elem(&skiff_sockhash, k);
	bpf_map_delete_elem(&skiff_sk_addr, k);
	return true;
}

static __always_inline void accel_leave(struct bpf_sock_ops *ctx)
{
	struct skiff_sock_key key, peer;
	struct skiff_sock_state *st;
	struct skiff_sock_ref *ref;
	struct bpf_sock *sk = ctx->sk;

	if (!sk)
		return;
	st = sk_state(sk);
	if (!st || !(st->flags & SKIFF_SOCK_F_ACCEL) ||
	    !(st->flags & (SKIFF_SOCK_F_TCP | SKIFF_SOCK_F_NO_PEER)) || key_of_sockops(ctx, &key))
		return;
	ref = bpf_map_lookup_elem(&skiff_sk_addr, &key);
	if (ref && !(ref->kaddr & SKIFF_SOCK_REF_TCP)) {
		ref->kaddr |= SKIFF_SOCK_REF_TCP; /* step 1; step 2 at a later ACK */
		return;
	}
	if (ref && !accel_out(&key, ref->kaddr))
		return;
	key_swap(&key, &peer);
	ref = bpf_map_lookup_elem(&skiff_sk_addr, &peer);
	if (ref && !accel_out(&peer, ref->kaddr))
		return;
	bpf_sock_ops_cb_flags_set(ctx, ctx->bpf_sock_ops_cb_flags & ~BPF_SOCK_OPS_RTT_CB_FLAG);
}

#endif
