// SPDX-License-Identifier: Apache-2.0
/*
 * Weighted destinations per request, and the endpoint choice (route_pick.h): every ready
 * endpoint, on this node or another (reached over HBONE), is equally likely.
 */
#include <stdlib.h>
#include <sys/random.h>

#include "l7route/route_pick.h"

static __thread uint64_t rng_state;

/* splitmix64: fast, per thread, seeded once from the kernel. */
static uint64_t rng_next(void)
{
	uint64_t z;

	if (!rng_state && getrandom(&rng_state, sizeof(rng_state), 0) != sizeof(rng_state))
		rng_state = (uint64_t)(uintptr_t)&z ^ 0x9e3779b97f4a7c15ull;
	z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double l7r_rand01(void)
{
	return (double)(rng_next() >> 11) / 9007199254740992.0;
}

uint32_t l7r_rand32(void)
{
	return (uint32_t)(rng_next() >> 32);
}

const struct l7_dest *l7r_pick_dest(const struct l7_route *r, double rnd)
{
	double at = rnd * (double)r->total, sum = 0;

	if (!r->ndests || !r->total)
		return NULL;
	for (size_t i = 0; i < r->ndests; i++) {
		sum += (double)r->dests[i].weight;
		if (at < sum)
			return &r->dests[i];
	}
	return &r->dests[r->ndests - 1];
}

static bool was_tried(const struct l7_endpoint *e, const struct l7_endpoint *const *tried, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (tried[i] == e)
			return true;
	return false;
}

const struct l7_endpoint *l7r_pick_endpoint(const struct l7_dest *d,
					    const struct l7_endpoint *const *tried, size_t ntried,
					    uint32_t rnd)
{
	size_t fresh = 0, any = 0;

	for (size_t i = 0; i < d->neps; i++) {
		any++;
		fresh += !was_tried(&d->eps[i], tried, ntried);
	}
	if (!any)
		return NULL;
	/* the k-th eligible endpoint, among the untried ones when there are some */
	for (size_t i = 0, k = rnd % (fresh ? fresh : any); i < d->neps; i++) {
		if (fresh && was_tried(&d->eps[i], tried, ntried))
			continue;
		if (k-- == 0)
			return &d->eps[i];
	}
	return NULL;
}
