// SPDX-License-Identifier: Apache-2.0
/*
 * DestinationRule trafficPolicy: which rule applies to a Service, the merge of top level, port
 * level and subset, and the defaults Istio and Envoy give whatever is left out. The rules are
 * Istio's (pilot's MergeSubsetTrafficPolicy), written out in docs/traffic-policy.md.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 10000   /* Istio's mesh-wide connectTimeout */
#define DEFAULT_IDLE_TIMEOUT_MS	   3600000 /* Envoy's upstream idle timeout */
#define DEFAULT_RING_MIN	   1024	   /* Envoy's ring_hash minimum_ring_size */
#define DEFAULT_MAGLEV_SIZE	   65537   /* Envoy's maglev table_size */
#define DEFAULT_CONSECUTIVE	   5	   /* Envoy's consecutive_5xx / local-origin */
#define DEFAULT_OD_INTERVAL_MS	   10000
#define DEFAULT_OD_BASE_MS	   30000
#define DEFAULT_MAX_EJECTION_PCT   10

static void lb_free(struct m_lb_policy *lb)
{
	free(lb->hash_name);
	free(lb->cookie_path);
}

void model_traffic_policy_free(struct m_traffic_policy *tp)
{
	lb_free(&tp->s.lb);
	for (size_t i = 0; i < tp->nports; i++)
		lb_free(&tp->ports[i].s.lb);
	free(tp->ports);
	memset(tp, 0, sizeof(*tp));
}

/* The rule's four settings for `port`: a portLevelSettings entry for that port replaces them
 * all, and what it leaves out takes the defaults, not the level's own values. */
static bool level_for_port(const struct m_traffic_policy *tp, uint16_t port,
			   struct m_tp_settings *out)
{
	for (size_t i = 0; port && i < tp->nports; i++) {
		if (tp->ports[i].port == port) {
			*out = tp->ports[i].s;
			return true;
		}
	}
	*out = tp->s;
	return false;
}

int model_traffic_policy(const struct m_destinationrule *dr, const char *subset, uint16_t port,
			 struct m_tp_settings *out)
{
	const struct m_subset *ss = NULL;
	struct m_tp_settings sub;
	bool port_level;

	level_for_port(&dr->tp, port, out);
	if (!subset)
		return 0;
	for (size_t i = 0; i < dr->nsubsets; i++)
		if (dr->subsets[i].name && !strcmp(dr->subsets[i].name, subset))
			ss = &dr->subsets[i];
	if (!ss)
		return -ENOENT;
	if (!ss->tp.set)
		return 0;
	port_level = level_for_port(&ss->tp, port, &sub);
	if (sub.lb.set || port_level)
		out->lb = sub.lb;
	if (sub.pool.set || port_level)
		out->pool = sub.pool;
	if (sub.od.set || port_level)
		out->od = sub.od;
	if (sub.tls_set || port_level)
		out->tls_set = sub.tls_set;
	return 0;
}

static void pool_defaults(struct m_pool_policy *p)
{
	if (!p->max_connections)
		p->max_connections = UINT32_MAX;
	if (!p->connect_timeout_ms)
		p->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	if (!p->http1_max_pending)
		p->http1_max_pending = UINT32_MAX;
	if (!p->http2_max_requests)
		p->http2_max_requests = UINT32_MAX;
	if (!p->max_retries)
		p->max_retries = UINT32_MAX;
	if (!p->idle_timeout_ms)
		p->idle_timeout_ms = DEFAULT_IDLE_TIMEOUT_MS;
	/* max_requests_per_conn 0 stays: no limit */
}

/* Only a rule that sets outlierDetection turns it on. Then consecutive 5xx errors eject after 5
 * unless set (0 disables); gateway errors only when set (Envoy enforces them at 0% by default);
 * local-origin failures are counted apart only with splitExternalLocalOriginErrors. */
static void od_defaults(struct m_outlier_policy *o)
{
	if (!o->set) {
		memset(o, 0, sizeof(*o));
		return;
	}
	if (!o->has_5xx)
		o->consecutive_5xx = DEFAULT_CONSECUTIVE;
	if (!o->has_gateway)
		o->consecutive_gateway = 0;
	if (!o->split_local)
		o->consecutive_local = 0;
	else if (!o->has_local)
		o->consecutive_local = DEFAULT_CONSECUTIVE;
	o->has_5xx = o->has_gateway = o->has_local = true;
	if (!o->interval_ms)
		o->interval_ms = DEFAULT_OD_INTERVAL_MS;
	if (!o->base_ejection_ms)
		o->base_ejection_ms = DEFAULT_OD_BASE_MS;
	if (!o->max_ejection_pct)
		o->max_ejection_pct = DEFAULT_MAX_EJECTION_PCT;
}

void model_policy_defaults(struct m_tp_settings *s)
{
	struct m_lb_policy *lb = &s->lb;

	if (lb->simple == M_LB_UNSET)
		lb->simple = M_LB_LEAST_REQUEST; /* what Istio configures when nothing is set */
	if (lb->simple == M_LB_CONSISTENT_HASH) {
		if (!lb->ring_min)
			lb->ring_min = DEFAULT_RING_MIN;
		if (!lb->maglev_size)
			lb->maglev_size = DEFAULT_MAGLEV_SIZE;
	}
	pool_defaults(&s->pool);
	od_defaults(&s->od);
}

static const struct m_destinationrule *dr_in_ns(const struct model *m, const struct m_service *svc,
						const char *ns)
{
	for (size_t i = 0; ns && i < m->ndestinationrules; i++) {
		const struct m_destinationrule *dr = &m->destinationrules[i];

		if (dr->host && !strcmp(dr->meta.ns, ns) &&
		    model_resolve_host(m, dr->meta.ns, dr->host) == svc)
			return dr;
	}
	return NULL;
}

const struct m_destinationrule *model_dr_for(const struct model *m, const struct m_service *svc,
					     const char *client_ns)
{
	const char *order[3] = {client_ns, svc->meta.ns, m->root_namespace};
	const struct m_destinationrule *dr;

	for (size_t i = 0; i < 3; i++) {
		dr = dr_in_ns(m, svc, order[i]);
		if (dr)
			return dr;
	}
	return NULL;
}
