/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sockops half of the punt path: when a punted connection is established, the client's port is
 * known at last. File the destination connect4/6 remembered under the client's address and port,
 * which is what skiffd's accepted socket reports as its peer. The client also takes the fast path
 * to skiffd when skiffd's sockets run sockops too (SKIFF_PUNT_F_ACCEL): filed with
 * SKIFF_ORIGIN_F_FAST, and 1 returned, for accel_established to insert it. The destination
 * is in the client's state (lib/sk_state.h), which accel_established looks up once for both.
 */
#ifndef SKIFF_BPF_PUNT_SOCKOPS_H
#define SKIFF_BPF_PUNT_SOCKOPS_H

#include "lib/accel_key.h"
#include "lib/accel_maps.h"
#include "lib/punt.h"

/* -1: not a punted client; 0: punted; 1: punted, and its hop to skiffd takes the fast path.
 * `st`: the client's state (NULL: none, the common case), `k`: its key. */
static __always_inline int punt_established(struct skiff_sock_state *st,
					    const struct skiff_sock_key *k)
{
	const struct skiff_punt_cfg *cfg;
	struct skiff_sock_origin o;
	struct skiff_punt_key pk;
	bool fast;

	if (!st || !st->punt.family)
		return -1;
	cfg = punt_cfg();
	o = st->punt;
	fast = accel_redirect_on && cfg && (cfg->flags & SKIFF_PUNT_F_ACCEL);
	o.pad = fast ? SKIFF_ORIGIN_F_FAST : 0;
	__builtin_memset(&pk, 0, sizeof(pk));
	pk.addr = k->local;
	pk.port = bpf_htons(k->local_port);
	pk.family = k->family;
	bpf_map_update_elem(&skiff_punt_orig, &pk, &o, BPF_ANY);
	st->punt.family = 0; /* filed once */
	return fast ? 1 : 0;
}

#endif
