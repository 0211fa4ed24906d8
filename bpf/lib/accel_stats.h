/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * L4 counters per (client workload, server workload), the kernel half of istio_tcp_*.
 * skiff_l4_stats is per CPU, so adding is a local operation; the atomic add only guards against
 * a softirq run of sockops interrupting a process-context run on the same CPU.
 */
#ifndef SKIFF_BPF_ACCEL_STATS_H
#define SKIFF_BPF_ACCEL_STATS_H

#include "lib/accel_maps.h"

static __always_inline void l4_stats_add(const struct skiff_l4_key *k,
					 const struct skiff_l4_stats *d)
{
	struct skiff_l4_stats *s = bpf_map_lookup_elem(&skiff_l4_stats, k);

	if (!s) {
		/* first connection of this pair: the new entry holds `d` on this CPU, 0 on others */
		if (!bpf_map_update_elem(&skiff_l4_stats, k, d, BPF_NOEXIST))
			return;
		s = bpf_map_lookup_elem(&skiff_l4_stats, k); /* another CPU inserted it first */
		if (!s)
			return; /* map full: the counters of this pair are lost, never the traffic */
	}
	__sync_fetch_and_add(&s->conns_opened, d->conns_opened);
	__sync_fetch_and_add(&s->conns_closed, d->conns_closed);
	__sync_fetch_and_add(&s->bytes_received, d->bytes_received);
	__sync_fetch_and_add(&s->bytes_sent, d->bytes_sent);
	__sync_fetch_and_add(&s->duration_ns, d->duration_ns);
	__sync_fetch_and_add(&s->tcp_fallbacks, d->tcp_fallbacks);
}

static __always_inline void l4_stats_opened(const struct skiff_l4_key *k)
{
	struct skiff_l4_stats d = {.conns_opened = 1};

	l4_stats_add(k, &d);
}

#endif
