// SPDX-License-Identifier: Apache-2.0
/*
 * The scrape's series table, kept from page to page. A page of 10,000 Istio series used to
 * render every series' labels (about 700 bytes each, from the pods' names and labels), hash and
 * allocate them, on every scrape; now a pair of skiff_l4_stats finds its series by its two
 * workload ids and adds its counters, and labels are rendered when a pair is first seen or its
 * pods changed. The labels come from the snapshot's model: a snapshot of another model empties
 * the table (the snapshot is held meanwhile, so the pod pointers the pairs compare cannot be
 * reused), as does a table whose series mostly had nothing to add (pairs that left the map).
 * One page renders at a time; the lock is for a page rendered on the agent loop when the scrape
 * thread could not start.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_scrape_cache.h"

#define PAIRS_MIN      1024
#define STALE_AT_LEAST 1024 /* series held before most of them being stale empties the table */

static struct {
	pthread_mutex_t lock;
	struct agent_snap *model; /* held: the snapshot whose model labelled the series */
	struct metrics_table *t;
	struct scrape_pair *pairs; /* open addressing, a power of two */
	size_t npairs, used;
} C = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void empty(void)
{
	metrics_table_free(C.t);
	C.t = NULL;
	free(C.pairs);
	C.pairs = NULL;
	C.npairs = C.used = 0;
	agent_snap_unref(C.model);
	C.model = NULL;
}

static struct agent_snap *model_of(struct agent_snap *s)
{
	return s && s->base ? s->base : s;
}

struct metrics_table *scrape_cache_begin(struct agent_snap *snap)
{
	struct agent_snap *m = model_of(snap);

	pthread_mutex_lock(&C.lock);
	if (C.t && (m != C.model || (metrics_table_held(C.t) >= STALE_AT_LEAST &&
				     2 * metrics_table_len(C.t) < metrics_table_held(C.t))))
		empty();
	if (!C.t) {
		C.t = metrics_table_new(METRICS_DEFAULT_CAP);
		C.model = m ? agent_snap_ref(m) : NULL;
	}
	if (!C.t) {
		empty();
		pthread_mutex_unlock(&C.lock);
		return NULL;
	}
	metrics_table_begin(C.t);
	return C.t;
}

void scrape_cache_end(void)
{
	pthread_mutex_unlock(&C.lock);
}

static size_t slot_of(uint32_t s, uint32_t d, size_t n)
{
	uint64_t h = ((uint64_t)s << 32 | d) * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (n - 1);
}

static struct scrape_pair *lookup(uint32_t s, uint32_t d)
{
	size_t i = slot_of(s, d, C.npairs);

	for (; C.pairs[i].used; i = (i + 1) & (C.npairs - 1))
		if (C.pairs[i].src_wl == s && C.pairs[i].dst_wl == d)
			return &C.pairs[i];
	return &C.pairs[i];
}

/* Twice the slots, the entries moved over; false when out of memory. */
static bool grow(void)
{
	size_t n = C.npairs ? 2 * C.npairs : PAIRS_MIN;
	struct scrape_pair *old = C.pairs, *p = calloc(n, sizeof(*p));
	size_t oldn = C.npairs;

	if (!p)
		return false;
	C.pairs = p;
	C.npairs = n;
	for (size_t i = 0; i < oldn; i++)
		if (old[i].used)
			*lookup(old[i].src_wl, old[i].dst_wl) = old[i];
	free(old);
	return true;
}

struct scrape_pair *scrape_cache_pair(uint32_t src_wl, uint32_t dst_wl)
{
	struct scrape_pair *p;

	if (2 * (C.used + 1) > C.npairs && !grow())
		return NULL;
	p = lookup(src_wl, dst_wl);
	if (!p->used) {
		*p = (struct scrape_pair){
		    .src_wl = src_wl, .dst_wl = dst_wl, .idx = {-1, -1}, .used = true};
		C.used++;
	}
	return p;
}

void scrape_cache_free(void)
{
	pthread_mutex_lock(&C.lock);
	empty();
	pthread_mutex_unlock(&C.lock);
}
