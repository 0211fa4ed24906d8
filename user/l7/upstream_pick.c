// SPDX-License-Identifier: Apache-2.0
/*
 * The pickers. Each chooses among s->cand (upstream_set.c); `exclude` steers a retry away from
 * the endpoint that just failed when another candidate exists.
 */
#include "l7/upstream_internal.h"

static int pick_round_robin(struct up_set *s, int exclude)
{
	for (size_t k = 0; k < s->ncand; k++) {
		uint32_t c = s->cand[s->rr++ % s->ncand];

		if ((int)c != exclude || s->ncand == 1)
			return (int)c;
	}
	return (int)s->cand[0];
}

/* A random candidate other than `exclude` (when there is another): draw among the others. */
static int pick_random(struct up_set *s, int exclude)
{
	/* n read once: up_rand changes s, and the analyzer then doubts that n is still > 0 */
	size_t n = s->ncand, skip = n, r;

	for (size_t k = 0; exclude >= 0 && n > 1 && k < n; k++)
		if ((int)s->cand[k] == exclude)
			skip = k;
	if (!n)
		return UP_NO_HEALTHY; /* up_pick checks first; kept for any other caller */
	r = up_rand(s) % (n - (skip < n));
	if (r >= skip)
		r++;
	return (int)s->cand[r];
}

/* Envoy's LEAST_REQUEST with equal weights: two random choices, the one with fewer requests in
 * flight wins (the first on a tie). */
static int pick_least_request(struct up_set *s, int exclude)
{
	int a = pick_random(s, exclude), b = pick_random(s, exclude);

	return s->ep[b].active < s->ep[a].active ? b : a;
}

static int pick_ring(struct up_set *s, uint64_t h, int exclude)
{
	size_t at = up_ring_find(s, h);

	/* walk on to the next point of another endpoint: the ring's own failover order */
	for (size_t k = 0; k < s->nring; k++) {
		const struct up_ring_entry *e = &s->ring[(at + k) % s->nring];

		if ((int)e->ep != exclude || s->ncand == 1)
			return (int)e->ep;
	}
	return (int)s->ring[at].ep;
}

static int pick_maglev(struct up_set *s, uint64_t h, int exclude)
{
	uint32_t e = (uint32_t)(h % s->maglev_size);

	for (uint32_t k = 0; k < s->maglev_size; k++) {
		uint32_t c = s->maglev[(e + k) % s->maglev_size];

		if ((int)c != exclude || s->ncand == 1)
			return (int)c;
	}
	return (int)s->maglev[e];
}

int up_pick(struct up_set *s, const uint64_t *hash, int exclude)
{
	uint64_t h;

	if (s->pol.lb.simple == M_LB_PASSTHROUGH)
		return UP_PASSTHROUGH;
	if (!s->ncand)
		return UP_NO_HEALTHY;
	switch (s->pol.lb.simple) {
	case M_LB_ROUND_ROBIN:
		return pick_round_robin(s, exclude);
	case M_LB_RANDOM:
		return pick_random(s, exclude);
	case M_LB_CONSISTENT_HASH:
		h = hash ? *hash : up_rand(s);
		if (s->pol.lb.algo == M_HASH_MAGLEV && s->maglev_size)
			return pick_maglev(s, h, exclude);
		if (s->pol.lb.algo == M_HASH_RING && s->nring)
			return pick_ring(s, h, exclude);
		return pick_random(s, exclude);
	default:
		return pick_least_request(s, exclude);
	}
}
