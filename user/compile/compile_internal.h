/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The compiler's steps, shared between its files. Not part of the public API (compile.h).
 *
 * The flow for one Service: pick its VirtualService and route once (compile_routes.c), then for
 * every port and IP family collect the backend slots of each destination (compile_backends.c),
 * turn route weights into integer per-slot weights (compile_weights.c) and append the result to
 * the node view (compile.c).
 */
#ifndef SKIFF_COMPILE_INTERNAL_H
#define SKIFF_COMPILE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compile/compile.h"

/*
 * Lookups the compiler makes per Service, precomputed once per compile so that a reload costs
 * O(resources log resources), not O(services x resources): VirtualServices and DestinationRules
 * by the Service their hosts resolve to, EndpointSlices by Service, pods by IP.
 */
struct cc_pair {
	size_t svc; /* index in model->services */
	const void *obj;
};

/* 24 bytes: one per address of every pod of the cluster, held while the model is in force */
struct cc_pod_addr {
	union skiff_addr addr;
	uint32_t family;
	uint32_t pod; /* index in the model's pods */
};

struct cc_index {
	const struct model *m;
	struct cc_pair *vs; /* mesh-bound VirtualServices, sorted by svc */
	size_t nvs;
	struct cc_pair *dr; /* DestinationRules, sorted by svc */
	size_t ndr;
	const struct m_endpointslice **slices; /* sorted by (ns, service name) */
	size_t nslices;
	struct cc_pod_addr *pods; /* sorted by (family, addr) */
	size_t npods;
};

int compile_index_build(const struct model *m, struct cc_index *ix);
void compile_index_free(struct cc_index *ix);
/* A slice into ix->slices at its sorted place (the array has room for *cap, grown as needed),
 * and slice i out of it (compile_live.c). Ties among one Service's slices are ordered by address
 * here and by model position in a full build: the order does not matter, as endpoints are
 * sorted by address and slice name. */
int compile_index_slice_add(struct cc_index *ix, const struct m_endpointslice *es, size_t *cap);
void compile_index_slice_del(struct cc_index *ix, size_t i);
/* The pairs of `v` for Service `svc`: returns the first and sets *n (0: NULL). */
const struct cc_pair *compile_index_pairs(const struct cc_pair *v, size_t nv,
					  const struct cc_index *ix, const struct m_service *svc,
					  size_t *n);
/* The EndpointSlices of `svc`. */
const struct m_endpointslice *const *compile_index_slices(const struct cc_index *ix,
							  const struct m_service *svc, size_t *n);
const struct m_pod *compile_index_pod_by_addr(const struct cc_index *ix, const union skiff_addr *a,
					      int family);

/* One service port on one cluster IP: a future skiff_services entry. */
struct cc_svcport {
	const struct m_service *svc;
	const struct m_service_port *port;
	union skiff_addr addr;
	uint8_t family; /* SKIFF_AF_INET / SKIFF_AF_INET6 */
};

/* Every Service port x cluster IP of the model, sorted by (ns, name, port, proto, family). */
int compile_svcports(const struct model *m, struct cc_svcport **out, size_t *n, struct diag *d);
/* "ns/name:80/TCP" (caller frees), NULL on OOM. */
char *compile_svcport_name(const struct cc_svcport *sp);

/* Every port x family of one Service, sps[from..to): their entries into cs[0..to-from) (svc_id
 * k for sps[k]) and their backend slots appended to out (backends array of capacity *cap).
 * -EINVAL / -E2BIG for config errors (in d), -ENOMEM. */
int compile_service(const struct cc_index *ix, const struct cc_svcport *sps, size_t from, size_t to,
		    struct cv_service *cs, struct node_view *out, size_t *cap, struct diag *d);
/* More backend slots than skiff_backends holds for one generation: an error naming the limit. */
int compile_backends_check(const struct node_view *out, struct diag *d);

/* A destination of the route in force, resolved once per Service. */
struct cc_dest {
	const struct m_destination *dst;
	const struct m_service *target; /* the Service the destination host names */
	const struct m_subset *subset;	/* NULL: every endpoint of the target */
	uint64_t weight;		/* relative weight; > 0 (weight-0 destinations dropped) */
};

/* The routing decision for a Service: no VS (equal weights), or these destinations. */
struct cc_route {
	const struct m_virtualservice *vs; /* NULL: no VirtualService routing */
	struct cc_dest *dests;
	size_t ndests;
};

/*
 * Find the VirtualService and the route for connections to `port` of `svc`, and resolve its
 * destinations. Ignored VSs and routes that do not apply are warnings; an unresolvable host or an
 * undefined subset is an error (returns -EINVAL, *r left empty). -ENOMEM on allocation failure.
 */
int compile_route_for(const struct cc_index *ix, const struct m_service *svc,
		      const struct m_service_port *port, struct cc_route *r, struct diag *d);
void compile_route_free(struct cc_route *r);
/* The VirtualService that routes `svc` (NULL: none); others for it are warned about. */
const struct m_virtualservice *compile_find_vs(const struct cc_index *ix,
					       const struct m_service *svc, struct diag *d);
/* The destinations of route `rt` of `vs`, resolved (weight-0 ones left out). */
int compile_resolve_route(const struct cc_index *ix, const struct m_virtualservice *vs,
			  const struct m_route *rt, struct cc_route *r, struct diag *d);
/* Check that every destination of every mesh VirtualService resolves (errors in `d`). */
int compile_check_destinations(const struct cc_index *ix, struct diag *d);
/* The port of `dest->target` that a connection to port `port` of the dialled Service goes to.
 * NULL (and an error in `d`) when there is none. */
const struct m_service_port *compile_dest_port(const struct m_virtualservice *vs,
					       const struct cc_dest *dest, uint16_t port,
					       uint8_t proto, struct diag *d);

/* Does http route `r` apply to connections on `port`? Only when every match names another port
 * does it not (compile_l7.c). */
bool compile_l7_route_on_port(const struct m_route *r, uint16_t port);
/* Does a DestinationRule ask for the L7 router on port `p` of `svc`: for the Service itself when
 * `vs` is NULL, else for every destination of the http routes of `vs` on that port, merged per
 * subset and target port (compile_l7_dr.c)? */
bool compile_l7_dr_asks(const struct cc_index *ix, const struct m_virtualservice *vs,
			const struct m_service *svc, const struct m_service_port *p);
/* Does a DestinationRule for `svc` set, on port `p`, what only the L7 router applies
 * (per-request policy, connection-pool limits)? Asked of ports that stay in the kernel, to warn
 * that those fields do nothing there (compile_l7_dr.c). */
bool compile_l7_dr_kernel_gap(const struct cc_index *ix, const struct m_service *svc,
			      const struct m_service_port *p);

/* A backend slot under construction. */
struct cc_slot {
	union skiff_addr addr;
	uint16_t port;			     /* host order; 0 in a "no healthy upstream" slot */
	uint8_t family;			     /* 0: no healthy upstream */
	const struct m_endpointslice *slice; /* where the endpoint came from; NULL for family 0 */
	const char *pod_name;		     /* pod in slice's namespace, or NULL */
	uint64_t num;			     /* ideal weight = num / den */
	uint32_t den;
	uint32_t weight; /* integer weight, filled by compile_weights_normalize */
	uint8_t group;	 /* index of its route destination (255 for any beyond) */
};

struct cc_slots {
	struct cc_slot *v;
	size_t n, cap;
};

/* Append a zeroed slot; NULL on OOM. */
struct cc_slot *compile_slots_push(struct cc_slots *s);
void compile_slots_free(struct cc_slots *s);

/*
 * Append the ready endpoints of Service `svc`, port `sp`, family `family` to `out`, restricted to
 * pods carrying every label of `subset` (NULL: no restriction), one per (address, port), sorted
 * by (address, port). Returns the number appended or -ENOMEM.
 */
int compile_endpoints(const struct cc_index *ix, const struct m_service *svc,
		      const struct m_service_port *sp, int family, const struct m_subset *subset,
		      struct cc_slots *out);

/*
 * Turn ideal weights num/den (num > 0, den > 0, num <= UINT32_MAX) into integer weights with a
 * sum <= SKIFF_WEIGHT_TOTAL_MAX: exact ratios when they fit, else largest-remainder rounding that
 * keeps every slot >= 1. Returns 0, or -EINVAL when n is 0 or n > SKIFF_MAX_BACKEND_SLOTS.
 */
int compile_weights_normalize(struct cc_slot *s, size_t n);

/* Room for `more` backends in out->backends (capacity *cap). 0 or -ENOMEM. */
int compile_backends_reserve(struct node_view *out, size_t *cap, size_t more);

/* compile_maglev.c: does the DestinationRule in force for this port's one destination hash on
 * the client's address? Then the size of its Maglev table (maglev.tableSize, a prime up to
 * SKIFF_MAGLEV_SIZE, which is also the default), else 0. The port's slots are then a table of
 * that many entries over the ready endpoints in `slots` (all with an address, fewer than the
 * size), and *cs is flagged SKIFF_SVC_F_MAGLEV. */
uint32_t compile_maglev_wanted(const struct cc_index *ix, const struct cc_route *r,
			       const struct cc_svcport *sp, struct diag *d);
int compile_emit_maglev(const struct cc_slots *slots, uint32_t size, uint32_t svc_id,
			struct node_view *out, size_t *cap, struct cv_service *cs);

/* PeerAuthentication modes of local mesh pods (compile_mtls.c). */
int compile_mtls_view(const struct model *m, const char *node_name, struct node_view *out,
		      struct diag *d);

/* Flags the port-0 entry of every address STRICT on some port (compile_mtls.c); runs last. */
void compile_mtls_mark_strict_any(struct node_view *out);

/* Mesh pods on other nodes, by address (compile_remote.c). */
int compile_remote_pods(const struct model *m, const char *node_name, struct node_view *out,
			struct diag *d);

/* AuthorizationPolicy verdicts and pod flags for the kernel, and the plaintext guard
 * (compile_policy.c). Runs after compile_pods and compile_mtls_view: it sets flags on their
 * pods and makes some of their skiff_mtls entries STRICT. */
int compile_policy_view(const struct model *m, const char *node_name, const struct compile_opts *o,
			struct node_view *out, struct diag *d);

struct authz_set;
/* Where the policies of a local mesh pod would deny a client outside the mesh (no principal) on
 * an address and port, or depend on its address, make out->mtls STRICT (compile_policy_plain.c). */
int compile_policy_plaintext(const struct model *m, const char *node_name,
			     const struct authz_set *az, struct node_view *out, struct diag *d);

/* Enrolled local pods (compile_pods.c). */
int compile_pods(const struct model *m, const char *node_name, compile_cgroup_fn cgroup_of,
		 void *ctx, const struct compile_opts *o, struct node_view *out, struct diag *d);

/* The FQDN of a Service: "name.ns.svc.cluster.local" into buf. */
void compile_svc_fqdn(const struct m_service *svc, char *buf, size_t len);

/* Like diag_add, but skips a message already reported (a route problem shows once, not once per
 * port and family). */
void compile_diag_once(struct diag *d, enum diag_level lvl, const char *file, int line,
		       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The L7 router's table from lookup tables already built (compile_l7_table.c): the full
 * compile's, or compile_live's after EndpointSlice changes. */
struct l7_table;
int compile_l7_table_ix(const struct model *m, const struct cc_index *ix,
			const struct cc_svcport *sps, size_t nsps, const char *node,
			struct l7_table *t, struct diag *d);

#endif
