// SPDX-License-Identifier: Apache-2.0
/*
 * Service ports rewritten in place, in the generation in force (dp_apply_services). A whole new
 * generation rewrites every service and backend: with 10,000 Services that is ~70,000 map
 * writes and as many deletes for one endpoint. An endpoint change touches one Service's slots,
 * so only those are written, each port switched by its one skiff_services element.
 *
 * Per port: the new slots go under the svc_id the port does not use now (its index, or index +
 * SKIFF_SVC_ID_ALT), the entry is updated to name them (one atomic element update: a connect
 * reads the old entry and old slots, or the new entry and new slots), then the old slots are
 * deleted. A slot the kernel could still be reading is never overwritten.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dp_internal.h"
#include "sock_lb.skel.h"

/* Slots of svc_id `id` in v->backends (sorted by svc_id): [*from, return). */
static size_t slots_of(const struct node_view *v, uint32_t id, size_t *from)
{
	size_t lo = 0, hi = v->nbackends;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->backends[mid].key.svc_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*from = lo;
	while (hi < v->nbackends && v->backends[hi].key.svc_id == id)
		hi++;
	return hi;
}

static int rewrite_fail(int fd, const char *map, const struct cv_service *cs, unsigned int gen)
{
	char desc[160];

	snprintf(desc, sizeof(desc), "service %s in generation %u", cs->name ? cs->name : "?", gen);
	return dp_map_write_failed(
	    fd, map, desc,
	    "fewer endpoints on this node, or a larger map; built for " SKIFF_STR(
		SKIFF_MAX_SERVICES) " service ports and " SKIFF_STR(SKIFF_MAX_BACKENDS) " backend"
											"s");
}

static int port_rewrite(struct dataplane *dp, const struct node_view *v, uint32_t id)
{
	int sfd = bpf_map__fd(dp->skel->maps.skiff_services);
	int bfd = bpf_map__fd(dp->skel->maps.skiff_backends);
	const struct cv_service *cs = &v->services[id];
	struct skiff_svc_key key = cs->key;
	struct skiff_svc cur, val = cs->val;
	size_t from, to = slots_of(v, id, &from);
	bool had;

	key.gen = dp->gen;
	had = !bpf_map_lookup_elem(sfd, &key, &cur);
	val.svc_id = had && cur.svc_id == id ? id + SKIFF_SVC_ID_ALT : id;
	for (size_t i = from; i < to; i++) {
		struct skiff_backend_key bk = v->backends[i].key;

		bk.gen = dp->gen;
		bk.svc_id = val.svc_id;
		if (bpf_map_update_elem(bfd, &bk, &v->backends[i].val, BPF_ANY))
			return rewrite_fail(bfd, SKIFF_MAP_BACKENDS, cs, dp->gen);
	}
	if (bpf_map_update_elem(sfd, &key, &val, BPF_ANY))
		return rewrite_fail(sfd, SKIFF_MAP_SERVICES, cs, dp->gen);
	/* The entry names the new slots; the old ones are read by no new connect. A failed delete
	 * leaves an unread slot, which the next generation's sweep removes. */
	for (__u32 s = 0; had && s < cur.count; s++) {
		struct skiff_backend_key bk = {.gen = dp->gen, .svc_id = cur.svc_id, .slot = s};

		bpf_map_delete_elem(bfd, &bk);
	}
	return 0;
}

int dp_apply_services(struct dataplane *dp, const struct node_view *v, const uint32_t *ids,
		      size_t n)
{
	if (!dp->gen)
		return -EAGAIN;
	for (size_t i = 0; i < n; i++) {
		const struct cv_service *cs;

		if (ids[i] >= v->nservices || ids[i] >= SKIFF_SVC_ID_ALT)
			return -EINVAL;
		cs = &v->services[ids[i]];
		/* a UDP flow keeps its backend until the generation changes (lb_origin.h) */
		if (cs->key.proto != IPPROTO_TCP)
			return -EAGAIN;
		if (cs->val.count > SKIFF_MAX_BACKEND_SLOTS ||
		    cs->val.weight_total > SKIFF_WEIGHT_TOTAL_MAX)
			return -E2BIG;
	}
	for (size_t i = 0; i < n; i++) {
		int err = port_rewrite(dp, v, ids[i]);

		if (err)
			return err;
	}
	dp_ejections_impose(dp, dp->gen); /* the new slots hold every ready endpoint */
	return 0;
}
