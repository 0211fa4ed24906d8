/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scrape's series table, kept from page to page (agent_scrape_cache.c), and which of its
 * series each workload pair of skiff_l4_stats adds to. Private to user/agent.
 */
#ifndef SKIFF_AGENT_SCRAPE_CACHE_H
#define SKIFF_AGENT_SCRAPE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent_snap.h"
#include "metrics/metrics.h"

/* One pair's series: idx[0] as the destination reports it, idx[1] as the source does (-1: that
 * end is not reported); valid while src and dst are the pods the labels were rendered from. */
struct scrape_pair {
	uint32_t src_wl, dst_wl;
	const struct m_pod *src, *dst;
	long idx[2];
	bool used, valid;
};

/* Take the kept table for one page (held until scrape_cache_end), begun for this scrape. Emptied
 * first when `snap` is of another model than its series were labelled from, or when most of
 * its series had nothing to add on the last page (their pairs left). NULL when out of memory
 * (nothing held). */
struct metrics_table *scrape_cache_begin(struct agent_snap *snap);
void scrape_cache_end(void);
/* The pair's entry, found or added (not valid then); NULL when out of memory. */
struct scrape_pair *scrape_cache_pair(uint32_t src_wl, uint32_t dst_wl);
/* Free the table and drop the snapshot it holds (skiffd's exit). */
void scrape_cache_free(void);

#endif
