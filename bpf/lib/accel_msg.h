/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sk_msg: a message sent on a socket in the sockhash goes straight into its peer's receive
 * queue. The return value is always SK_PASS: with a redirect set it means "deliver there", and
 * without one (the peer is not in the sockhash: not inserted, or already closed) it means "send
 * it over TCP". SK_DROP would fail the sender's write() with EACCES. A reader that stops
 * reading moves its writer to TCP for good, and then the pair off the fast path (skiff/accel.h).
 */
#ifndef SKIFF_BPF_ACCEL_MSG_H
#define SKIFF_BPF_ACCEL_MSG_H

#include <bpf/bpf_core_read.h>

#include "lib/accel_key.h"
#include "lib/accel_maps.h"

#define ACCEL_USER_DATA_FLAGS 7L /* SK_USER_DATA_NOCOPY | _BPF | _PSOCK, not in vmlinux.h */
/* messages counted on kernels without psock->msg_tot_len: enough for the cap (tcp_rmem[2], 6 MiB
 * by default) in the 16 KiB messages 6.1 queues for writes of that size */
#define ACCEL_QUEUE_WALK 512

/*
 * Bytes redirected to the socket at `addr` that it has not read yet: its psock's msg_tot_len
 * (Linux 6.18 keeps that count), else the sum over its redirect queue, where a queue longer than
 * ACCEL_QUEUE_WALK messages counts as full. Probe reads through CO-RE offsets: the socket may
 * close meanwhile, and a stale read only moves one connection to TCP.
 */
static __always_inline __u64 peer_unread(__u64 addr)
{
	struct sk_psock *psock;
	struct sock *sk;
	struct list_head *head, *pos;
	__u64 sum = 0;

	/* sk_user_data carries flags in its low bits (SK_USER_DATA_PSOCK and others) */
	sk = (struct sock *)(long)(addr & ~SKIFF_SOCK_REF_TCP);
	psock = (struct sk_psock *)((long)BPF_CORE_READ(sk, sk_user_data) & ~ACCEL_USER_DATA_FLAGS);
	if (!psock)
		return 0;
	if (bpf_core_field_exists(psock->msg_tot_len))
		return BPF_CORE_READ(psock, msg_tot_len);
	head = &psock->ingress_msg;
	pos = BPF_CORE_READ(head, next);
	for (int i = 0; i < ACCEL_QUEUE_WALK; i++) {
		if (!pos || pos == head)
			return sum;
		sum += BPF_CORE_READ(container_of(pos, struct sk_msg, list), sg.size);
		pos = BPF_CORE_READ(pos, next);
	}
	return ~0ull;
}

static __always_inline int accel_msg_redirect(struct sk_msg_md *msg)
{
	struct skiff_sock_state *st;
	struct skiff_sock_key peer, self;
	struct bpf_sock *sk = msg->sk;
	struct skiff_sock_ref *ref;
	__u64 unread;

	/* without its per-socket state a socket could not remember a fall-back: TCP throughout */
	if (!sk)
		return SK_PASS;
	st = sk_state(sk);
	if (!st || (st->flags & (SKIFF_SOCK_F_TCP | SKIFF_SOCK_F_NO_PEER)) ||
	    peer_key_of_msg(msg, &peer))
		return SK_PASS;
	ref = bpf_map_lookup_elem(&skiff_sk_addr, &peer);
	if (!ref || (ref->kaddr & SKIFF_SOCK_REF_TCP)) {
		/* the peer is not in (yet, or any more), or it fell back: these bytes go over TCP,
		 * and so must every later byte, or a redirect could overtake them in the peer's
		 * receive queue */
		st->flags |= SKIFF_SOCK_F_NO_PEER;
		return SK_PASS;
	}
	/* compared without a sum: a queue too long to count reads as ~0, and ~0 + size wraps */
	unread = peer_unread(ref->kaddr);
	if (unread > accel_queue_cap || msg->size > accel_queue_cap - unread) {
		/* once on TCP, always on TCP: the reader drains the redirected bytes first */
		st->flags |= SKIFF_SOCK_F_TCP; /* sk_msg runs under the socket lock */
		/* and nothing more is redirected to this socket either: its peer's next message
		 * sees the mark and goes over TCP for good. The pair leaves the sockhash at the
		 * ACKs that follow (lib/accel_leave.h). */
		key_swap(&peer, &self);
		ref = bpf_map_lookup_elem(&skiff_sk_addr, &self);
		if (ref)
			ref->kaddr |= SKIFF_SOCK_REF_TCP;
		return SK_PASS;
	}
	if (bpf_msg_redirect_hash(msg, &skiff_sockhash, &peer, BPF_F_INGRESS) != SK_PASS)
		return SK_PASS;
	/* these bytes bypass TCP: bytes_acked at close will not count them */
	__sync_fetch_and_add(&st->redirected, msg->size);
	st->msgs++; /* under the socket lock, like the flags */
	return SK_PASS;
}

#endif
