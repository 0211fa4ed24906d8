// SPDX-License-Identifier: Apache-2.0
/*
 * Workload ids given to a pod for the first time (cv_pod.id_fresh): the entries an earlier
 * holder of the id left in the maps keyed by workload (skiff_l4_stats, skiff_join_hist) go
 * before the new pod's entries do, so its counters start at zero and its fast-path history is
 * its own. The pod maps and skiff_policy need nothing: the id was quarantined until the apply
 * that removed its last pod's entries had completed (user/compile/wl_ids.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dp_internal.h"
#include "sock_accel.skel.h"
#include "sock_lb.skel.h"

/* Keys of `fd` (size `ksize`) for which `hit` says yes, collected then deleted: deleting during a
 * get_next_key walk of a hash can restart it from the first bucket. */
static int sweep(int fd, size_t ksize, bool (*hit)(const void *k, const uint8_t *ids),
		 const uint8_t *ids, const char *name)
{
	char cur[16], next[16], *keys = NULL;
	size_t n = 0, cap = 0;
	bool first = true;
	int err = 0;

	while (!bpf_map_get_next_key(fd, first ? NULL : cur, next)) {
		if (hit(next, ids)) {
			if (n == cap) {
				char *k = realloc(keys, (cap = cap ? 2 * cap : 64) * ksize);

				if (!k) {
					err = -ENOMEM;
					break;
				}
				keys = k;
			}
			memcpy(keys + n++ * ksize, next, ksize);
		}
		memcpy(cur, next, ksize);
		first = false;
	}
	for (size_t i = 0; !err && i < n; i++)
		if (bpf_map_delete_elem(fd, keys + i * ksize) && errno != ENOENT)
			err = -errno;
	free(keys);
	if (err)
		fprintf(stderr, "dataplane: cannot clear %s of reused workload ids: %s\n", name,
			strerror(-err));
	return err;
}

static bool id_in(__u32 id, const uint8_t *ids)
{
	return id && id <= SKIFF_MAX_PODS && ids[id];
}

static bool l4_hit(const void *k, const uint8_t *ids)
{
	const struct skiff_l4_key *l = k;

	return id_in(l->src_workload, ids) || id_in(l->dst_workload, ids);
}

static bool join_hit(const void *k, const uint8_t *ids)
{
	return id_in(((const struct skiff_join_key *)k)->workload, ids);
}

int dp_wl_reset(struct dataplane *dp, const struct node_view *v)
{
	uint8_t *ids;
	size_t n = 0;
	int err;

	for (size_t i = 0; i < v->npods; i++)
		n += v->pods[i].id_fresh;
	if (!n || !dp->accel)
		return 0;
	ids = calloc(SKIFF_MAX_PODS + 1, 1);
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < v->npods; i++)
		if (v->pods[i].id_fresh && v->pods[i].val.workload_id <= SKIFF_MAX_PODS)
			ids[v->pods[i].val.workload_id] = 1;
	_Static_assert(sizeof(struct skiff_l4_key) <= 16 && sizeof(struct skiff_join_key) <= 16,
		       "sweep's key buffers");
	err = sweep(bpf_map__fd(dp->accel->maps.skiff_l4_stats), sizeof(struct skiff_l4_key),
		    l4_hit, ids, SKIFF_MAP_L4_STATS);
	if (!err)
		err = sweep(bpf_map__fd(dp->accel->maps.skiff_join_hist),
			    sizeof(struct skiff_join_key), join_hit, ids, SKIFF_MAP_JOIN_HIST);
	free(ids);
	return err;
}

/* The pods the maps name now (adopted from an earlier skiffd): cgroup id -> workload id. */
int dp_enrolled_each(struct dataplane *dp, void (*fn)(void *ctx, __u64 cgroup, __u32 wl), void *ctx)
{
	int fd = bpf_map__fd(dp->skel->maps.skiff_enrolled);
	__u64 k, next, *prev = NULL;
	struct skiff_pod val;
	int n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &val))
			continue;
		fn(ctx, k, val.workload_id);
		n++;
	}
	return n;
}
