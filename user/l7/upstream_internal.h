/* SPDX-License-Identifier: Apache-2.0 */
/* Private to the upstream library's files (upstream_*.c). */
#ifndef SKIFF_L7_UPSTREAM_INTERNAL_H
#define SKIFF_L7_UPSTREAM_INTERNAL_H

#include "l7/upstream.h"

/* upstream_hash.c: the tables over s->cand */
int up_ring_build(struct up_set *s);
size_t up_ring_find(const struct up_set *s, uint64_t h);
int up_maglev_rebuild(struct up_set *s);

/* upstream_set.c: recompute the candidates (healthy or, in panic, all) and the hash tables
 * after an ejection, a return or a new endpoint list */
int up_cand_rebuild(struct up_set *s);
uint64_t up_rand(struct up_set *s);

#endif
