/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skiff's same-node AuthorizationPolicy: the BPF <-> userspace boundary for L4 verdicts decided
 * in the kernel at connect().
 *
 * Identity on the node is kernel-attested: connect4/6 know the calling pod by its cgroup
 * (skiff_enrolled) and the destination pod by its address (skiff_pod_ips). skiffd evaluates
 * every (source pod, destination pod, port, family) of this node with the authz evaluator (L4
 * semantics: HTTP fields treated as Istio treats them on TCP) and writes the verdicts into
 * skiff_policy; a connect then costs one or two hash lookups. Destinations are marked in their
 * struct skiff_pod (lb.h):
 *   SKIFF_POD_F_AUTHZ  look the connection up in skiff_policy: an ALLOW entry lets it go on;
 *                      a DENY entry or none at all fails connect() with EPERM (fail closed);
 *   SKIFF_POD_F_L7     its policies need HTTP: the connection is punted to skiffd (punt.h),
 *                      which decides every request; with punting off the connect is refused.
 * Port 0 in a key is "any port that no rule of the destination's policies names": the kernel
 * looks up the connection's port first, then port 0.
 *
 * Clients outside the mesh (pods not enrolled, the node itself) never pass connect4/6 as mesh
 * sources; where the policies would deny such a plaintext client, skiffd marks the destination's
 * address and port STRICT in skiff_mtls (guard.h), so the TC/XDP guard drops it.
 *
 * Compiled into bpf/sock_lb.bpf.c and skiffd, carried in BTF: `bpftool map dump pinned
 * /sys/fs/bpf/skiff/skiff_policy` prints named fields and the verdict by name.
 */
#ifndef SKIFF_POLICY_H
#define SKIFF_POLICY_H

#ifdef __BPF__
/* vmlinux.h already provides the __u8.. types */
#else
#include <linux/types.h>
#endif

#include "skiff/lb.h"

#define SKIFF_MAX_POLICY 262144 /* skiff_policy entries one node view may hold */

#define SKIFF_MAP_POLICY "skiff_policy" /* struct skiff_policy_key -> struct skiff_policy */

/* skiff_policy key: a connection from one local pod to another, on one port and family. */
struct skiff_policy_key {
	__u32 src_workload; /* skiff_pod.workload_id of the calling pod */
	__u32 dst_workload; /* skiff_pod.workload_id of the destination pod */
	__be16 port; /* destination (workload) port, network order; 0: any port no rule names */
	__u8 family; /* SKIFF_AF_INET or SKIFF_AF_INET6 */
	__u8 pad;
};
_Static_assert(sizeof(struct skiff_policy_key) == 12, "skiff_policy_key layout");

/* Only SKIFF_POLICY_ALLOW lets a connection through; any other value denies. */
enum skiff_policy_verdict {
	SKIFF_POLICY_DENY = 0,
	SKIFF_POLICY_ALLOW = 1,
};

/* skiff_policy value. Written by skiffd only. policy_id names the AuthorizationPolicy that
 * decided a DENY (its index in skiffd's snapshot + 1; 0: no ALLOW policy matched), for the flow
 * event of a refused connect (skiff/events.h). */
struct skiff_policy {
	enum skiff_policy_verdict verdict;
	__u32 policy_id;
};
_Static_assert(sizeof(struct skiff_policy) == 8, "skiff_policy layout");

#endif /* SKIFF_POLICY_H */
