// SPDX-License-Identifier: Apache-2.0
/*
 * An upstream endpoint set: its endpoints, the candidates the balancer picks from, and the
 * pickers. Candidates are the endpoints outlier detection has not ejected; when their share
 * falls below minHealthPercent the set is in panic and every endpoint is a candidate again
 * (Envoy's healthy panic threshold, which Istio sets from minHealthPercent).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "l7/upstream_internal.h"

uint64_t up_rand(struct up_set *s)
{
	/* splitmix64: seeded per set, so a test can replay a sequence */
	s->rng += 0x9e3779b97f4a7c15ULL;
	return skiff_mix64(s->rng);
}

int up_cand_rebuild(struct up_set *s)
{
	size_t healthy = s->n - s->nejected;
	uint32_t min = s->pol.od.min_health_pct;
	uint32_t *cand = realloc(s->cand, (s->n ? s->n : 1) * sizeof(*cand));

	if (!cand)
		return -ENOMEM;
	s->cand = cand;
	s->panic = s->n && min && healthy * 100 < (uint64_t)min * s->n;
	s->ncand = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->panic || !s->ep[i].ejected)
			s->cand[s->ncand++] = (uint32_t)i;
	if (s->pol.lb.simple != M_LB_CONSISTENT_HASH)
		return 0;
	return s->pol.lb.algo == M_HASH_MAGLEV ? up_maglev_rebuild(s) : up_ring_build(s);
}

static void endpoints_fill(struct up_endpoint *ep, const struct up_addr *eps, size_t n,
			   uint64_t now_ms)
{
	for (size_t i = 0; i < n; i++) {
		memset(&ep[i], 0, sizeof(ep[i]));
		ep[i].addr = eps[i];
		ep[i].key = up_endpoint_key(&eps[i]);
		ep[i].healthy_since_ms = now_ms;
	}
}

int up_set_init(struct up_set *s, const struct m_tp_settings *pol, const struct up_addr *eps,
		size_t n, uint64_t seed, uint64_t now_ms)
{
	memset(s, 0, sizeof(*s));
	s->pol = *pol;
	/* the set outlives the model the strings belong to; the caller hashes, not the set */
	s->pol.lb.hash_name = NULL;
	s->pol.lb.cookie_path = NULL;
	model_policy_defaults(&s->pol);
	/* a client address hashes as in the kernel (SKIFF_SVC_F_MAGLEV): same table, same pod,
	 * whichever path a connection takes */
	if (s->pol.lb.hash_on == M_HASH_SOURCE_IP) {
		s->pol.lb.algo = M_HASH_MAGLEV;
		s->pol.lb.maglev_size = up_kernel_maglev_size(pol->lb.maglev_size);
	}
	s->rng = seed;
	s->ep = calloc(n ? n : 1, sizeof(*s->ep));
	if (!s->ep)
		return -ENOMEM;
	endpoints_fill(s->ep, eps, n, now_ms);
	s->n = n;
	s->rr = n ? (uint32_t)(up_rand(s) % n) : 0;
	s->last_tick_ms = now_ms;
	s->next_tick_ms = now_ms + (uint64_t)s->pol.od.interval_ms;
	if (up_cand_rebuild(s)) {
		up_set_free(s);
		return -ENOMEM;
	}
	return 0;
}

static const struct up_endpoint *find_ep(const struct up_endpoint *ep, size_t n,
					 const struct up_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (ep[i].addr.family == a->family && ep[i].addr.port == a->port &&
		    !memcmp(&ep[i].addr.addr, &a->addr, sizeof(a->addr)))
			return &ep[i];
	return NULL;
}

int up_set_update(struct up_set *s, const struct up_addr *eps, size_t n, uint64_t now_ms)
{
	struct up_endpoint *ep = calloc(n ? n : 1, sizeof(*ep)), *old = s->ep;
	size_t oldn = s->n, oldej = s->nejected;
	int err;

	if (!ep)
		return -ENOMEM;
	endpoints_fill(ep, eps, n, now_ms);
	s->nejected = 0;
	for (size_t i = 0; i < n; i++) {
		const struct up_endpoint *was = find_ep(old, oldn, &eps[i]);

		if (was)
			ep[i] = *was;
		s->nejected += ep[i].ejected;
	}
	s->ep = ep;
	s->n = n;
	err = up_cand_rebuild(s);
	if (err) {
		s->ep = old;
		s->n = oldn;
		s->nejected = oldej;
		free(ep);
		up_cand_rebuild(s);
		return err;
	}
	free(old);
	return 0;
}

void up_set_free(struct up_set *s)
{
	free(s->ep);
	free(s->cand);
	free(s->maglev);
	free(s->ring);
	memset(s, 0, sizeof(*s));
}

void up_set_on_eject(struct up_set *s, up_eject_fn fn, void *ctx)
{
	s->on_eject = fn;
	s->cb_ctx = ctx;
}

void up_request_begin(struct up_set *s, int i)
{
	if (i >= 0 && (size_t)i < s->n)
		s->ep[i].active++;
}

void up_request_end(struct up_set *s, int i)
{
	if (i >= 0 && (size_t)i < s->n && s->ep[i].active)
		s->ep[i].active--;
}
