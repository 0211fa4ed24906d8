/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A pair that fell back to TCP leaves the fast path, both ends. A socket that stays in the
 * sockhash runs sk_msg and the psock's send and receive paths for every later message, which is
 * slower than plain TCP, and the pair is on TCP for good anyway.
 *
 * The kernel frees a socket's queue of redirected bytes, read or not, when the socket leaves the
 * sockhash, and frees without a word a message redirected to a psock that is being dropped. A
 * redirect is decided in the sender's sk_msg, under its socket lock, but lands later: the kernel
 * releases that lock before it queues the message to the peer (tcp_bpf_send_verdict), and runs
 * the sender's backlog, sockops included, meanwhile. So a socket S leaves only once (1) its peer
 * P will redirect nothing to it any more and has nothing on its way, and (2) its reader has
 * taken every byte that was redirected. Both ends send over TCP for good once either fell back,
 * and the reader takes the redirected bytes before TCP's, so the byte order is kept.
 *
 * Both steps run in sockops (the only program of these that may delete from a sockhash, on 6.1
 * and 6.18 alike; sk_msg may not), at the ACKs of the TCP bytes a fall-back brings, which
 * fast-path sockets otherwise hardly see (BPF_SOCK_OPS_RTT_CB, asked for at insert):
 *
 *   1. S sends over TCP for good (SKIFF_SOCK_F_TCP or _NO_PEER): its skiff_sk_addr entry gets
 *      SKIFF_SOCK_REF_TCP, so P's next message goes over TCP for good too (lib/accel_msg.h).
 *      sk_msg marks it at once when the cap moves S to TCP.
 *   2. Once P is quiet (accel_quiet): S leaves the sockhash if its own queue is empty, and takes
 *      P out too once P's queue is empty (S itself chose TCP, so it redirects nothing to P).
 *      Then the callbacks stop.
 *
 * A peer that sends nothing and whose partner's ACKs stop before its queue empties stays in the
 * sockhash until it closes; it receives over TCP meanwhile. So does a socket whose peer sits in a
 * send (blocked) that has run no sk_msg since the mark: the peer is never quiet. The one race
 * left: two threads writing to one socket, one still inside a redirect decided before the mark
 * while the other's sk_msg chose TCP (that marks the socket quiet); the redirect could land on
 * a peer that just left, and be freed.
 */
#ifndef SKIFF_BPF_ACCEL_LEAVE_H
#define SKIFF_BPF_ACCEL_LEAVE_H

#include "lib/accel_key.h"
#include "lib/accel_maps.h"
#include "lib/accel_msg.h"

/*
 * Will the socket at `kaddr` never again land a redirected message on its peer, whose entry is
 * marked? Either its own sk_msg chose TCP for good (SKIFF_SOCK_REF_TCP): that ran after its
 * earlier redirects had landed, a writer's sends being one after the other. Or no send is under
 * way on it: a send holds the socket's psock from before its sk_msg runs until its redirect has
 * landed, so a psock held by its sockhash link alone has none, and a later send reads the
 * peer's mark. Reading a count that is too high only delays the leave.
 */
static __always_inline bool accel_quiet(__u64 kaddr)
{
	struct sk_psock *psock;
	struct sock *sk;

	if (kaddr & SKIFF_SOCK_REF_TCP)
		return true;
	sk = (struct sock *)(long)kaddr;
	psock = (struct sk_psock *)((long)BPF_CORE_READ(sk, sk_user_data) & ~ACCEL_USER_DATA_FLAGS);
	return !psock || BPF_CORE_READ(psock, refcnt.refs.counter) == 1;
}

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
	struct skiff_sock_ref *ref, *pref;
	struct skiff_sock_key key, peer;
	struct skiff_sock_state *st;
	struct bpf_sock *sk = ctx->sk;

	if (!sk)
		return;
	st = sk_state(sk);
	if (!st || !(st->flags & SKIFF_SOCK_F_ACCEL) ||
	    !(st->flags & (SKIFF_SOCK_F_TCP | SKIFF_SOCK_F_NO_PEER)) || key_of_sockops(ctx, &key))
		return;
	ref = bpf_map_lookup_elem(&skiff_sk_addr, &key);
	/* step 1, every time: an atomic with a result is a full barrier, so the peer's psock count
	 * below is read after the mark is visible to its next send */
	if (ref && !(__sync_fetch_and_or(&ref->kaddr, SKIFF_SOCK_REF_TCP) & SKIFF_SOCK_REF_TCP))
		return; /* step 2 at a later ACK, with the peer's send under way most likely done */
	key_swap(&key, &peer);
	pref = bpf_map_lookup_elem(&skiff_sk_addr, &peer);
	/* an entry gone left quiet (below), closed, or was never in */
	if (pref && !accel_quiet(pref->kaddr))
		return;
	if (ref && !accel_out(&key, ref->kaddr))
		return;
	if (pref && !accel_out(&peer, pref->kaddr))
		return;
	bpf_sock_ops_cb_flags_set(ctx, ctx->bpf_sock_ops_cb_flags & ~BPF_SOCK_OPS_RTT_CB_FLAG);
}

#endif
