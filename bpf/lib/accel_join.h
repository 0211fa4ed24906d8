/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Whether a same-node connection joins the sockhash, learnt per server (workload, port) from the
 * connections that closed before it (include/skiff/accel.h, skiff_join_hist). sockops can insert
 * a socket only at established, so the choice is made there, from history, never later: a pair
 * joins as a whole at its start or stays on TCP for good, and the order of its bytes is never at
 * stake. Updates race between CPUs (the halving especially): the history is an estimate, and a
 * lost update only delays the next change of mind.
 */
#ifndef SKIFF_BPF_ACCEL_JOIN_H
#define SKIFF_BPF_ACCEL_JOIN_H

#include "skiff/accel.h"

/* Set by skiffd before load: 0 (skiffd --accel-join=always) joins every same-node pair. */
const volatile __u32 accel_join_learn = 1;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SKIFF_MAX_JOIN_HIST);
	__type(key, struct skiff_join_key);
	__type(value, struct skiff_join_hist);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_join_hist SEC(".maps");

/* Should a client of the server (workload, port) join? Yes until its history says otherwise. */
static __always_inline bool accel_join_wanted(__u32 workload, __u16 port)
{
	struct skiff_join_key k = {.workload = workload, .port = port};
	struct skiff_join_hist *h;

	if (!accel_join_learn)
		return true;
	h = bpf_map_lookup_elem(&skiff_join_hist, &k);
	if (!h || h->conns < SKIFF_JOIN_MIN_CONNS)
		return true;
	return h->msgs >= h->conns * SKIFF_JOIN_MIN_MSGS;
}

/* Add `msgs` messages and `conns` (1 from the client's end, 0 from the server's) connections. */
static __always_inline void accel_join_record(__u32 workload, __u16 port, __u64 msgs, __u32 conns)
{
	struct skiff_join_key k = {.workload = workload, .port = port};
	struct skiff_join_hist *h, n = {.conns = conns};

	if (!accel_join_learn)
		return;
	n.msgs = msgs < SKIFF_JOIN_MSGS_CAP ? msgs : SKIFF_JOIN_MSGS_CAP;
	h = bpf_map_lookup_elem(&skiff_join_hist, &k);
	if (!h) {
		bpf_map_update_elem(&skiff_join_hist, &k, &n, BPF_NOEXIST);
		return;
	}
	if (h->conns >= SKIFF_JOIN_WINDOW) {
		/* older connections weigh half: a destination whose clients change is relearnt */
		h->conns /= 2;
		h->msgs /= 2;
	}
	__sync_fetch_and_add(&h->conns, n.conns);
	__sync_fetch_and_add(&h->msgs, n.msgs);
}

#endif
