// SPDX-License-Identifier: Apache-2.0
/*
 * Outlier detection as Envoy does it for Istio's outlierDetection: per endpoint counters of
 * consecutive 5xx, gateway (502/503/504) and local-origin errors. Reaching a threshold ejects at
 * once; returns happen on the interval timer, once baseEjectionTime x ejections has passed.
 */
#include "l7/upstream_internal.h"

/* Envoy's max_ejection_time default: the cap of a growing ejection */
#define MAX_EJECTION_MS 300000

enum up_outcome up_outcome_of_status(int status)
{
	if (status == 502 || status == 503 || status == 504)
		return UP_HTTP_GATEWAY;
	return status >= 500 ? UP_HTTP_5XX : UP_OK;
}

static void notify(struct up_set *s, const struct up_endpoint *ep, bool out)
{
	if (s->on_eject)
		s->on_eject(s->cb_ctx, s, ep, out);
}

/* maxEjectionPercent bounds the ejected share, but the first ejection is always allowed
 * (Envoy: "will eject at least one host regardless of the value"). */
static bool may_eject(const struct up_set *s)
{
	return !s->nejected ||
	       (uint64_t)(s->nejected + 1) * 100 <= (uint64_t)s->pol.od.max_ejection_pct * s->n;
}

static void eject(struct up_set *s, struct up_endpoint *ep, uint64_t now_ms)
{
	uint64_t base = (uint64_t)s->pol.od.base_ejection_ms;
	uint64_t cap = base > MAX_EJECTION_MS ? base : MAX_EJECTION_MS;

	ep->cons_5xx = ep->cons_gateway = ep->cons_local = 0;
	if (ep->ejected || !may_eject(s))
		return;
	ep->ejected = true;
	ep->ejections++;
	ep->ejected_at_ms = now_ms;
	ep->eject_for_ms = base * ep->ejections < cap ? base * ep->ejections : cap;
	s->nejected++;
	up_cand_rebuild(s);
	notify(s, ep, true);
}

static bool reached(uint32_t count, uint32_t threshold)
{
	return threshold && count >= threshold;
}

void up_report(struct up_set *s, int i, enum up_outcome o, uint64_t now_ms)
{
	const struct m_outlier_policy *od = &s->pol.od;
	struct up_endpoint *ep;

	if (!od->set || i < 0 || (size_t)i >= s->n)
		return;
	ep = &s->ep[i];
	/* without the split, a local failure is what Envoy makes of it: a 503 */
	if (o == UP_LOCAL_FAILURE && !od->split_local)
		o = UP_HTTP_GATEWAY;
	switch (o) {
	case UP_OK:
		ep->cons_5xx = ep->cons_gateway = 0;
		return;
	case UP_LOCAL_SUCCESS:
		if (od->split_local)
			ep->cons_local = 0;
		return;
	case UP_LOCAL_FAILURE:
		ep->cons_local++;
		break;
	case UP_HTTP_GATEWAY:
		ep->cons_gateway++;
		ep->cons_5xx++;
		break;
	case UP_HTTP_5XX:
		ep->cons_gateway = 0;
		ep->cons_5xx++;
		break;
	}
	if (reached(ep->cons_5xx, od->consecutive_5xx) ||
	    reached(ep->cons_gateway, od->consecutive_gateway) ||
	    reached(ep->cons_local, od->consecutive_local))
		eject(s, ep, now_ms);
}

uint64_t up_next_tick(const struct up_set *s)
{
	return s->next_tick_ms;
}

void up_tick(struct up_set *s, uint64_t now_ms)
{
	bool changed = false;

	if (!s->pol.od.set || now_ms < s->next_tick_ms)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct up_endpoint *ep = &s->ep[i];

		if (ep->ejected && now_ms >= ep->ejected_at_ms + ep->eject_for_ms) {
			ep->ejected = false;
			ep->healthy_since_ms = now_ms;
			s->nejected--;
			changed = true;
			notify(s, ep, false);
		} else if (!ep->ejected && ep->ejections &&
			   ep->healthy_since_ms <= s->last_tick_ms) {
			ep->ejections--; /* healthy through the whole interval: forgive one */
		}
	}
	if (changed)
		up_cand_rebuild(s);
	s->last_tick_ms = now_ms;
	s->next_tick_ms = now_ms + (uint64_t)s->pol.od.interval_ms;
}
