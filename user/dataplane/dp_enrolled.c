// SPDX-License-Identifier: Apache-2.0
/*
 * skiff_enrolled follows the node view by difference: add new pods, rewrite changed ones, delete
 * pods that left. It is not generational: there is one entry per pod, each update is atomic on
 * its own, and no entry refers to another, so a program never sees a half-written pod — a pod
 * enrolled a moment before or after the route switch is as correct as one enrolled with it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dp_internal.h"
#include "sock_lb.skel.h"

static const struct cv_pod *view_pod(const struct node_view *v, __u64 id)
{
	for (size_t i = 0; i < v->npods; i++)
		if (v->pods[i].cgroup_id == id)
			return &v->pods[i];
	return NULL;
}

/* Delete the enrolled pods that are not in the view. Keys are collected before deleting
 * (see gen_sweep in dp_generation.c for why). */
static int enrolled_prune(int fd, const struct node_view *v)
{
	__u64 cur = 0, next, *gone = NULL;
	size_t n = 0, cap = 0;
	bool first = true;
	int err = 0;

	while (!err && !bpf_map_get_next_key(fd, first ? NULL : &cur, &next)) {
		if (!view_pod(v, next)) {
			if (n == cap) {
				__u64 *g = realloc(gone, (cap = cap ? 2 * cap : 64) * sizeof(*g));

				if (!g)
					err = -ENOMEM;
				else
					gone = g;
			}
			if (!err)
				gone[n++] = next;
		}
		cur = next;
		first = false;
	}
	for (size_t i = 0; !err && i < n; i++)
		if (bpf_map_delete_elem(fd, &gone[i]) && errno != ENOENT)
			err = -errno;
	free(gone);
	return err;
}

static int enrolled_upsert(int fd, const struct node_view *v)
{
	for (size_t i = 0; i < v->npods; i++) {
		const struct cv_pod *p = &v->pods[i];
		struct skiff_pod cur;

		if (!bpf_map_lookup_elem(fd, &p->cgroup_id, &cur) &&
		    !memcmp(&cur, &p->val, sizeof(cur)))
			continue;
		if (bpf_map_update_elem(fd, &p->cgroup_id, &p->val, BPF_ANY)) {
			int err = -errno;

			fprintf(stderr,
				"dataplane: cannot enroll pod %s (cgroup %llu): %s (more "
				"than %u pods on this node?)\n",
				p->name ? p->name : "?", (unsigned long long)p->cgroup_id,
				strerror(-err), SKIFF_MAX_PODS);
			return err;
		}
	}
	return 0;
}

int dp_enrolled_sync(struct dataplane *dp, const struct node_view *v)
{
	int fd = bpf_map__fd(dp->skel->maps.skiff_enrolled);
	int err = enrolled_prune(fd, v);

	if (err) {
		fprintf(stderr, "dataplane: cannot remove departed pods from %s: %s\n",
			SKIFF_MAP_ENROLLED, strerror(-err));
		return err;
	}
	return enrolled_upsert(fd, v);
}
