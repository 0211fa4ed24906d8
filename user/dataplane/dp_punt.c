// SPDX-License-Identifier: Apache-2.0
/*
 * The punt path's maps (include/skiff/punt.h): where skiffd's outbound listener is, and which
 * addresses are mesh pods on other nodes. The remote pods are written by difference like the
 * per-pod maps; they are not generational: a pod that moves is punted by its new address at once.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dp_internal.h"
#include "sock_lb.skel.h"

int dp_punt_configure(struct dataplane *dp, const struct skiff_punt_cfg *cfg)
{
	__u32 zero = 0;
	int err;

	if (!bpf_map_update_elem(bpf_map__fd(dp->skel->maps.skiff_punt_cfg), &zero, cfg, BPF_ANY))
		return 0;
	err = -errno;
	fprintf(stderr, "dataplane: cannot write %s/%s: %s\n", dp->dir, SKIFF_MAP_PUNT_CFG,
		strerror(-err));
	return err;
}

int dp_remote_pods_sync(struct dataplane *dp, const struct node_view *v)
{
	const struct dp_entries e = {
	    .base = v->remote_pods,
	    .n = v->nremote_pods,
	    .stride = sizeof(*v->remote_pods),
	    .key_off = offsetof(struct cv_remote_pod, key),
	    .key_size = sizeof(struct skiff_pod_ip_key),
	    .val_off = offsetof(struct cv_remote_pod, val),
	    .val_size = sizeof(struct skiff_remote_pod),
	};

	return dp_map_sync(bpf_map__fd(dp->skel->maps.skiff_remote_pods), &e, SKIFF_MAP_REMOTE_PODS,
			   "more than " SKIFF_STR(SKIFF_MAX_REMOTE_PODS) " mesh pod addresses?");
}

int dp_punt_orig_take(struct dataplane *dp, const struct skiff_punt_key *k,
		      struct skiff_sock_origin *dst)
{
	int fd = bpf_map__fd(dp->skel->maps.skiff_punt_orig);
	bool fast;

	if (bpf_map_lookup_and_delete_elem(fd, k, dst)) {
		/* LRU hash maps gained lookup-and-delete in 5.14; older kernels take two calls */
		if (errno == ENOENT || bpf_map_lookup_elem(fd, k, dst))
			return -ENOENT;
		bpf_map_delete_elem(fd, k);
	}
	fast = dst->pad & SKIFF_ORIGIN_F_FAST;
	dst->pad = 0;
	return fast;
}
