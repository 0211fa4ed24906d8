/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sk_msg: a message sent on a socket in the sockhash goes straight into its peer's receive
 * queue. The return value is always SK_PASS: with a redirect set it means "deliver there", and
 * without one (the peer is not in the sockhash: not inserted, or already closed) it means "send
 * it over TCP". SK_DROP would fail the sender's write() with EACCES.
 */
#ifndef SKIFF_BPF_ACCEL_MSG_H
#define SKIFF_BPF_ACCEL_MSG_H

#include "lib/accel_key.h"
#include "lib/accel_maps.h"

static __always_inline int accel_msg_redirect(struct sk_msg_md *msg)
{
	struct skiff_sock_state *st;
	struct skiff_sock_key peer;
	struct bpf_sock *sk;

	if (peer_key_of_msg(msg, &peer))
		return SK_PASS;
	if (bpf_msg_redirect_hash(msg, &skiff_sockhash, &peer, BPF_F_INGRESS) != SK_PASS)
		return SK_PASS;
	/* these bytes bypass TCP: bytes_acked at close will not count them */
	sk = msg->sk;
	if (!sk)
		return SK_PASS;
	st = bpf_sk_storage_get(&skiff_sk_accel, sk, 0, 0);
	if (st)
		__sync_fetch_and_add(&st->redirected, msg->size);
	return SK_PASS;
}

#endif
