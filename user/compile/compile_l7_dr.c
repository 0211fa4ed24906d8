// SPDX-License-Identifier: Apache-2.0
/*
 * Which DestinationRule policies make a Service port L7 on their own (compile_l7.h): the ones
 * only a per-request proxy can apply. The kernel picks a backend once per connection, so a
 * least-request balancer, a hash of an HTTP attribute, HTTP circuit breakers and outlier
 * detection mean nothing there; Istio's proxy applies them to every request, and so must the
 * router. A source-address hash is left out: the kernel applies it itself (Maglev at connect).
 */
#include <netinet/in.h>
#include <string.h>

#include "compile/compile_internal.h"
#include "compile/compile_l7.h"

bool compile_policy_per_request(const struct m_tp_settings *s)
{
	const struct m_lb_policy *lb = &s->lb;
	const struct m_pool_policy *p = &s->pool;

	if (lb->set && lb->simple == M_LB_LEAST_REQUEST)
		return true;
	if (lb->set && lb->simple == M_LB_CONSISTENT_HASH &&
	    (lb->hash_on == M_HASH_HEADER || lb->hash_on == M_HASH_COOKIE ||
	     lb->hash_on == M_HASH_QUERY))
		return true;
	if (p->set && (p->http1_max_pending || p->http2_max_requests || p->max_requests_per_conn ||
		       p->max_retries || p->idle_timeout_ms))
		return true;
	return s->od.set;
}

/* The router takes the first rule for the host in the client's namespace, then the Service's,
 * then the root namespace: any namespace's first rule may be the one a client gets. */
static bool first_in_ns(const struct cc_pair *v, size_t n, const struct m_destinationrule *dr)
{
	for (size_t i = 0; i < n; i++) {
		const struct m_destinationrule *o = v[i].obj;

		if (o && o < dr && !strcmp(o->meta.ns, dr->meta.ns))
			return false;
	}
	return true;
}

/* What only the router applies: the per-request policies, and the limits on its upstream
 * connections (the kernel neither counts nor times a pod's connections). */
static bool needs_router(const struct m_tp_settings *s)
{
	return compile_policy_per_request(s) || s->pool.set;
}

/* Does a rule for `target` set, for traffic to subset `subset` (NULL: every endpoint) on port
 * `port` of the target, what `pred` looks for? Merged as the router merges it; a subset the
 * rule does not define takes the rule's top level, as in the router. */
static bool dest_sets(const struct cc_index *ix, const struct m_service *target, const char *subset,
		      uint16_t port, bool (*pred)(const struct m_tp_settings *))
{
	const struct cc_pair *v;
	size_t n;

	v = compile_index_pairs(ix->dr, ix->ndr, ix, target, &n);
	for (size_t i = 0; i < n; i++) {
		const struct m_destinationrule *dr = v[i].obj;
		struct m_tp_settings s;

		if (!dr || !first_in_ns(v, n, dr))
			continue;
		model_traffic_policy(dr, subset, port, &s);
		if (pred(&s))
			return true;
	}
	return false;
}

static bool dest_asks(const struct cc_index *ix, const struct m_service *target, const char *subset,
		      uint16_t port)
{
	return dest_sets(ix, target, subset, port, compile_policy_per_request);
}

bool compile_l7_dr_kernel_gap(const struct cc_index *ix, const struct m_service *svc,
			      const struct m_service_port *p)
{
	return dest_sets(ix, svc, NULL, p->port, needs_router);
}

/* Every destination of the http route `rt` on port `p`. Unresolvable ones are reported by the
 * compile itself; here they only do not count (`scratch` takes their errors). */
static bool route_asks(const struct cc_index *ix, const struct m_virtualservice *vs,
		       const struct m_route *rt, const struct m_service_port *p,
		       struct diag *scratch)
{
	struct cc_route cr;
	bool asks = false;

	if (compile_resolve_route(ix, vs, rt, &cr, scratch))
		return false;
	for (size_t i = 0; i < cr.ndests && !asks; i++) {
		const struct m_service_port *tp =
		    compile_dest_port(vs, &cr.dests[i], p->port, IPPROTO_TCP, scratch);

		asks = tp && dest_asks(ix, cr.dests[i].target, cr.dests[i].dst->subset, tp->port);
	}
	compile_route_free(&cr);
	return asks;
}

bool compile_l7_dr_asks(const struct cc_index *ix, const struct m_virtualservice *vs,
			const struct m_service *svc, const struct m_service_port *p)
{
	struct diag scratch = {0};
	bool asks = false;

	if (!vs)
		return dest_asks(ix, svc, NULL, p->port);
	for (size_t i = 0; i < vs->nhttp && !asks; i++)
		asks = compile_l7_route_on_port(&vs->http[i], p->port) &&
		       route_asks(ix, vs, &vs->http[i], p, &scratch);
	diag_free(&scratch);
	return asks;
}
