/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Same-node AuthorizationPolicy at connect() (include/skiff/policy.h): skiffd has decided every
 * pair of local pods ahead of time; the kernel only looks the answer up.
 *
 * Contract of policy_check(): POLICY_PASS when the destination is no pod of this node whose
 * connections are checked, or an ALLOW entry says so; POLICY_DENY for a DENY entry or none
 * (fail closed); POLICY_L7 when the destination's policies need HTTP (punt to skiffd).
 * Callers refuse with policy_refuse(), which fails connect() with EPERM.
 */
#ifndef SKIFF_BPF_POLICY_H
#define SKIFF_BPF_POLICY_H

#include "skiff/policy.h"
#include "lib/lb_maps.h"
#include "lib/pod_ips.h"

#define POLICY_EPERM 1

/* (source pod, destination pod, port, family) -> verdict. Written by skiffd; room for the old
 * and the new entries while one view replaces another (added first, pruned after). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * SKIFF_MAX_POLICY);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct skiff_policy_key);
	__type(value, struct skiff_policy);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_policy SEC(".maps");

enum policy_verdict {
	POLICY_PASS,
	POLICY_DENY,
	POLICY_L7,
};

/* The enrolled pod the calling task belongs to, or NULL when it is not in the mesh. */
static __always_inline struct skiff_pod *policy_caller(void)
{
	__u64 cgid = bpf_get_current_cgroup_id();

	return bpf_map_lookup_elem(&skiff_enrolled, &cgid);
}

/* What decided, for the DENIED flow event: the destination pod and the policy's id. */
struct policy_hit {
	__u32 dst_workload;
	__u32 policy_id;
};

/* The verdict for a TCP connect of workload `src` to `dst` (the backend already chosen). */
static __always_inline enum policy_verdict policy_check(__u32 src,
							const struct skiff_sock_origin *dst,
							struct policy_hit *hit)
{
	struct skiff_policy_key k;
	struct skiff_policy *v;
	struct skiff_pod *pod;
	__u32 flags;

	pod = pod_ips_lookup(&dst->addr, dst->family);
	if (!pod)
		return POLICY_PASS; /* not a mesh pod of this node: its own node decides */
	flags = pod->flags;
	hit->dst_workload = pod->workload_id;
	if (flags & SKIFF_POD_F_L7)
		return POLICY_L7;
	if (!(flags & SKIFF_POD_F_AUTHZ))
		return POLICY_PASS;
	__builtin_memset(&k, 0, sizeof(k));
	k.src_workload = src;
	k.dst_workload = pod->workload_id;
	k.port = dst->port;
	k.family = dst->family;
	v = bpf_map_lookup_elem(&skiff_policy, &k);
	if (!v) {
		k.port = 0; /* a port no rule names */
		v = bpf_map_lookup_elem(&skiff_policy, &k);
	}
	if (v && v->verdict == SKIFF_POLICY_ALLOW)
		return POLICY_PASS;
	if (v)
		hit->policy_id = v->policy_id;
	return POLICY_DENY;
}

/* Fail the connect with EPERM: the policy said no, or it cannot be enforced (never fail open). */
static __always_inline int policy_refuse(void)
{
	bpf_set_retval(-POLICY_EPERM);
	return 0;
}

#endif
