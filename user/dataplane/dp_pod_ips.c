// SPDX-License-Identifier: Apache-2.0
/*
 * skiff_pod_ips follows the node view by difference, like skiff_enrolled (see dp_enrolled.c for
 * why it needs no generation): add new addresses, rewrite changed ones, delete departed ones.
 * A connection established while its pod's address is absent simply stays on TCP.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dp_internal.h"
#include "sock_accel.skel.h"

static bool view_has_ip(const struct node_view *v, const struct skiff_pod_ip_key *k)
{
	for (size_t i = 0; i < v->npod_ips; i++)
		if (!memcmp(&v->pod_ips[i].key, k, sizeof(*k)))
			return true;
	return false;
}

/* Keys are collected before deleting (see gen_sweep in dp_generation.c for why). */
static int pod_ips_prune(int fd, const struct node_view *v)
{
	struct skiff_pod_ip_key cur, next, *gone = NULL;
	size_t n = 0, cap = 0;
	bool first = true;
	int err = 0;

	while (!err && !bpf_map_get_next_key(fd, first ? NULL : &cur, &next)) {
		if (!view_has_ip(v, &next)) {
			if (n == cap) {
				struct skiff_pod_ip_key *g;

				cap = cap ? 2 * cap : 64;
				g = realloc(gone, cap * sizeof(*g));
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

static int pod_ips_upsert(int fd, const struct node_view *v)
{
	for (size_t i = 0; i < v->npod_ips; i++) {
		const struct cv_pod_ip *p = &v->pod_ips[i];
		struct skiff_pod cur;

		if (!bpf_map_lookup_elem(fd, &p->key, &cur) && !memcmp(&cur, &p->val, sizeof(cur)))
			continue;
		if (bpf_map_update_elem(fd, &p->key, &p->val, BPF_ANY)) {
			int err = -errno;

			fprintf(stderr,
				"dataplane: cannot write pod address %zu of %zu into %s: %s (more "
				"than %u pod addresses on this node?)\n",
				i + 1, v->npod_ips, SKIFF_MAP_POD_IPS, strerror(-err),
				2 * SKIFF_MAX_PODS);
			return err;
		}
	}
	return 0;
}

int dp_pod_ips_sync(struct dataplane *dp, const struct node_view *v)
{
	int fd = bpf_map__fd(dp->accel->maps.skiff_pod_ips);
	int err = pod_ips_prune(fd, v);

	if (err) {
		fprintf(stderr, "dataplane: cannot remove departed pod addresses from %s: %s\n",
			SKIFF_MAP_POD_IPS, strerror(-err));
		return err;
	}
	return pod_ips_upsert(fd, v);
}
