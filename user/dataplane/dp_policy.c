// SPDX-License-Identifier: Apache-2.0
/*
 * Same-node AuthorizationPolicy verdicts (include/skiff/policy.h): skiff_policy is written by
 * difference, like the per-pod maps, in two steps around them. The pod maps decide which
 * destinations are checked (SKIFF_POD_F_AUTHZ) and by which workload ids, so new verdicts go in
 * before they do and old ones leave after: a pod that gains policies finds its verdicts there,
 * and one that loses them is never checked against a table that is already empty. Each entry
 * changes atomically on its own; between the two steps the map holds the old and the new
 * entries side by side (the map has room for both).
 */
#include <stddef.h>

#include <bpf/libbpf.h>

#include "dataplane/dp_internal.h"
#include "sock_lb.skel.h"

static void policy_entries(const struct node_view *v, struct dp_entries *e)
{
	*e = (struct dp_entries){
	    .base = v->policy,
	    .n = v->npolicy,
	    .stride = sizeof(*v->policy),
	    .key_off = offsetof(struct cv_policy, key),
	    .key_size = sizeof(struct skiff_policy_key),
	    .val_off = offsetof(struct cv_policy, val),
	    .val_size = sizeof(struct skiff_policy),
	};
}

int dp_policy_add(struct dataplane *dp, const struct node_view *v)
{
	struct dp_entries e;

	policy_entries(v, &e);
	return dp_map_upsert(bpf_map__fd(dp->skel->maps.skiff_policy), &e, SKIFF_MAP_POLICY,
			     "more than " SKIFF_STR(SKIFF_MAX_POLICY) " verdicts, twice over?");
}

int dp_policy_prune(struct dataplane *dp, const struct node_view *v)
{
	struct dp_entries e;

	policy_entries(v, &e);
	return dp_map_prune(bpf_map__fd(dp->skel->maps.skiff_policy), &e, SKIFF_MAP_POLICY);
}
