// SPDX-License-Identifier: Apache-2.0
/* Reading the kernel's L4 and flow event counters for the metrics endpoint: read-only, summed
 * over CPUs; and the flow events' ring. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dp_internal.h"
#include "sock_accel.skel.h"
#include "sock_lb.skel.h"

int dp_l4_stats_each(struct dataplane *dp, dp_l4_stats_fn fn, void *ctx)
{
	int ncpu = libbpf_num_possible_cpus(), fd, n = 0;
	struct skiff_l4_key k, next, *prev = NULL;
	struct skiff_l4_stats *v;

	if (!dp->accel || ncpu <= 0)
		return -ENOENT;
	fd = bpf_map__fd(dp->accel->maps.skiff_l4_stats);
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	/* The map may change under the walk (a new pair appears): each key is read once, as the
	 * kernel has it at that moment; counters only grow, so a scrape never goes backwards. */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		struct skiff_l4_stats sum = {0};

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		for (int c = 0; c < ncpu; c++) {
			sum.conns_opened += v[c].conns_opened;
			sum.conns_closed += v[c].conns_closed;
			sum.bytes_received += v[c].bytes_received;
			sum.bytes_sent += v[c].bytes_sent;
			sum.duration_ns += v[c].duration_ns;
			sum.tcp_fallbacks += v[c].tcp_fallbacks;
		}
		fn(ctx, &k, &sum);
		n++;
	}
	free(v);
	return n;
}

int dp_events_fd(struct dataplane *dp)
{
	return dp && dp->skel ? bpf_map__fd(dp->skel->maps.skiff_events) : -ENOENT;
}

int dp_events_stats(struct dataplane *dp, __u64 out[SKIFF_EV_STATS])
{
	int ncpu = libbpf_num_possible_cpus(), fd;
	__u64 *v;

	memset(out, 0, SKIFF_EV_STATS * sizeof(*out));
	if (!dp || !dp->skel || ncpu <= 0)
		return -ENOENT;
	fd = bpf_map__fd(dp->skel->maps.skiff_ev_stats);
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (__u32 k = 0; k < SKIFF_EV_STATS; k++) {
		if (bpf_map_lookup_elem(fd, &k, v))
			continue;
		for (int c = 0; c < ncpu; c++)
			out[k] += v[c];
	}
	free(v);
	return 0;
}
