// SPDX-License-Identifier: Apache-2.0
/*
 * The per-pod maps, written by difference (dp_map_sync): skiff_enrolled (cgroup id -> pod),
 * skiff_pod_addr (cgroup id -> its addresses) and skiff_pod_ips (pod address -> pod). A connection made while its pod's entry is absent is simply
 * not translated, or stays on TCP: a pod enrolled a moment before or after the route switch is
 * as correct as one enrolled with it.
 */
#include <stddef.h>

#include <bpf/libbpf.h>

#include "dataplane/dp_internal.h"
#include "sock_accel.skel.h"
#include "sock_lb.skel.h"

int dp_enrolled_sync(struct dataplane *dp, const struct node_view *v)
{
	const struct dp_entries e = {
	    .base = v->pods,
	    .n = v->npods,
	    .stride = sizeof(*v->pods),
	    .key_off = offsetof(struct cv_pod, cgroup_id),
	    .key_size = sizeof(__u64),
	    .val_off = offsetof(struct cv_pod, val),
	    .val_size = sizeof(struct skiff_pod),
	};

	return dp_map_sync(bpf_map__fd(dp->skel->maps.skiff_enrolled), &e, SKIFF_MAP_ENROLLED,
			   "more than " SKIFF_STR(SKIFF_MAX_PODS) " pods on this node?");
}

int dp_pod_addr_sync(struct dataplane *dp, const struct node_view *v)
{
	const struct dp_entries e = {
	    .base = v->pods,
	    .n = v->npods,
	    .stride = sizeof(*v->pods),
	    .key_off = offsetof(struct cv_pod, cgroup_id),
	    .key_size = sizeof(__u64),
	    .val_off = offsetof(struct cv_pod, src),
	    .val_size = sizeof(struct skiff_pod_addr),
	};

	return dp_map_sync(bpf_map__fd(dp->skel->maps.skiff_pod_addr), &e, SKIFF_MAP_POD_ADDR,
			   "more than " SKIFF_STR(SKIFF_MAX_PODS) " pods on this node?");
}

int dp_pod_ips_sync(struct dataplane *dp, const struct node_view *v)
{
	const struct dp_entries e = {
	    .base = v->pod_ips,
	    .n = v->npod_ips,
	    .stride = sizeof(*v->pod_ips),
	    .key_off = offsetof(struct cv_pod_ip, key),
	    .key_size = sizeof(struct skiff_pod_ip_key),
	    .val_off = offsetof(struct cv_pod_ip, val),
	    .val_size = sizeof(struct skiff_pod),
	};

	return dp_map_sync(bpf_map__fd(dp->accel->maps.skiff_pod_ips), &e, SKIFF_MAP_POD_IPS,
			   "more pod addresses than two per pod?");
}
