/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The compiler: a model snapshot -> what this node's BPF maps must hold. Pure functions: no
 * kernel, no filesystem (the pod -> cgroup id lookup is a callback), so every case is unit-tested.
 *
 * Keys come out with gen = 0; the dataplane stamps the generation when it writes them.
 */
#ifndef SKIFF_COMPILE_H
#define SKIFF_COMPILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h" /* addr_parse: IP literals of the model */
#include "common/diag.h"
#include "compile/wl_ids.h"
#include "model/model.h"
#include "skiff/accel.h"
#include "skiff/lb.h"
#include "skiff/guard.h"
#include "skiff/policy.h"
#include "skiff/punt.h"

/* One service port (VIP:port/proto) and, for people, which Service it is. */
struct cv_service {
	struct skiff_svc_key key;
	struct skiff_svc val;
	char *name; /* "ns/name:port/TCP" */
};

struct cv_backend {
	struct skiff_backend_key key;
	struct skiff_backend val;
	char *pod; /* "ns/pod" or NULL when the endpoint names no pod */
};

struct cv_pod {
	uint64_t cgroup_id;
	struct skiff_pod val;
	char *name;		   /* "ns/pod" */
	struct skiff_pod_addr src; /* its addresses, for Maglev ports (skiff_pod_addr) */
	bool id_fresh; /* its workload id is new to it: entries an earlier holder left keyed by
			* the id (skiff_l4_stats, skiff_join_hist) go before the pod's own */
};

/* One address of an enrolled local pod (skiff_pod_ips): same-node acceleration decides by address
 * whether both ends of a connection are mesh pods of this node. */
struct cv_pod_ip {
	struct skiff_pod_ip_key key;
	struct skiff_pod val; /* the pod's skiff_enrolled value */
};

/* One address of an enrolled pod on another node (skiff_remote_pods): TCP to it is punted to
 * skiffd, which carries it to that node. */
struct cv_remote_pod {
	struct skiff_pod_ip_key key;
	struct skiff_remote_pod val;
};

/* A local mesh pod's PeerAuthentication mode for one address and port (port 0: its default). */
struct cv_mtls {
	struct skiff_mtls_key key;
	struct skiff_mtls val;
};

/* A same-node L4 AuthorizationPolicy verdict (skiff_policy): source pod -> destination pod on
 * one port (0: any port no rule names) and family. */
struct cv_policy {
	struct skiff_policy_key key;
	struct skiff_policy val;
};

struct node_view {
	struct cv_service *services;
	size_t nservices;
	struct cv_backend *backends;
	size_t nbackends;
	struct cv_pod *pods; /* enrolled local pods whose cgroup was found */
	size_t npods;
	size_t pods_pending; /* local mesh pods whose cgroup does not exist yet */
	size_t pods_no_id; /* local mesh pods waiting for a workload id (all held or quarantined) */
	struct cv_pod_ip *pod_ips; /* addresses of the pods in pods[], in the same order */
	size_t npod_ips;
	struct cv_remote_pod *remote_pods; /* addresses of mesh pods on other nodes */
	size_t nremote_pods;
	struct cv_mtls *mtls; /* local mesh pods: PeerAuthentication per address and port */
	size_t nmtls;
	struct cv_policy *policy; /* verdicts between enrolled local pods (compile_policy.c) */
	size_t npolicy;
};

/* What a compile needs beyond the model; NULL or zeroed fields take the defaults. */
struct authz_set;
struct compile_opts {
	const char *trust_domain;      /* SPIFFE trust domain of the mesh (skiffd --trust-domain);
				   * NULL: cluster.local */
	const struct authz_set *authz; /* the model's policies, already compiled by the caller
					* (authz_compile); NULL: compiled here */
	struct wl_ids *ids; /* the node's workload ids (wl_ids.h): the caller commits them once the
			     * view is applied; NULL: numbered 1.. in ns/name order */
};

/* Find a pod's cgroup id. Return 0 and set *id, or -ENOENT while the cgroup does not exist. */
typedef int (*compile_cgroup_fn)(void *ctx, const struct m_pod *pod, uint64_t *id);

/*
 * Compile the view of node `node_name`:
 *  - every Service with a ClusterIP, per port, per IP family;
 *  - its backends: ready endpoints of its EndpointSlices, port resolved by name;
 *  - weights: the VirtualService for the host (first http route without a match, else the first
 *    tcp route without a match), destination subsets resolved through the DestinationRule of the
 *    destination host, route weight split evenly over the subset's ready endpoints; without a
 *    VirtualService every ready endpoint has equal weight;
 *  - enrolled pods: pods with spec.nodeName == node_name that are in the mesh, and their
 *    addresses (status.podIPs);
 *  - mTLS modes: each local mesh pod's PeerAuthentication (compile_mtls.h), per address, with
 *    port-level overrides as extra entries;
 *  - remote pods: the addresses of mesh pods on other nodes, with a node number (the position
 *    of their node's name in sorted order, from 1);
 *  - AuthorizationPolicy (compile_policy.c): per enrolled destination pod with policies, the
 *    SKIFF_POD_F_AUTHZ flag and a verdict for every enrolled source pod, port and family, or
 *    the SKIFF_POD_F_L7 flag when its policies need HTTP; and its addresses/ports made STRICT
 *    for the guard where the policies would deny a plaintext client. A policy the evaluator
 *    rejects is an error.
 * Problems that make a route unusable (a missing subset) are errors in `d` and return -EINVAL.
 */
int compile_node_view(const struct model *m, const char *node_name, compile_cgroup_fn cgroup_of,
		      void *ctx, struct node_view *out, struct diag *d);
/* The same with options (`o` NULL: the defaults). */
int compile_node_view_opts(const struct model *m, const char *node_name,
			   compile_cgroup_fn cgroup_of, void *ctx, const struct compile_opts *o,
			   struct node_view *out, struct diag *d);
void node_view_free(struct node_view *v);

#endif
