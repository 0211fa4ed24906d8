// SPDX-License-Identifier: Apache-2.0
/*
 * Hashes of requests and endpoints, and the two consistent-hash tables built from them: the
 * Maglev lookup table (shared with the kernel's SKIFF_SVC_F_MAGLEV ports) and the hash ring.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "l7/upstream.h"

/* Two independent hashes of one endpoint key: Maglev's offset and skip. */
#define MAGLEV_SALT_OFFSET 0x9e3779b97f4a7c15ULL
#define MAGLEV_SALT_SKIP   0xc2b2ae3d27d4eb4fULL

uint64_t up_hash_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, then a full mix for the high bits */

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return skiff_mix64(h ^ n);
}

uint64_t up_hash_source(const struct up_addr *client)
{
	return skiff_hash_addr(&client->addr, client->family);
}

uint64_t up_endpoint_key(const struct up_addr *a)
{
	return skiff_mix64(skiff_hash_addr(&a->addr, a->family) ^ a->port);
}

static int key_order(const void *pa, const void *pb, void *keys)
{
	const uint64_t *k = keys;
	uint64_t a = k[*(const uint32_t *)pa], b = k[*(const uint32_t *)pb];

	return a < b ? -1 : a > b;
}

uint32_t up_kernel_maglev_size(uint64_t table_size)
{
	return table_size && table_size <= SKIFF_MAGLEV_SIZE ? (uint32_t)table_size
							     : SKIFF_MAGLEV_SIZE;
}

/*
 * Maglev (Eisenbud et al., NSDI 2016): each key walks its own permutation of the table,
 * offset + j * skip (mod m), and the keys take turns claiming the next free entry of theirs
 * until the table is full. m prime makes every permutation visit every entry. The turns go in
 * key order, not in the caller's order, so the same endpoints give the same table whoever
 * lists them (the compiler for the kernel, a proxy's endpoint set).
 */
int up_maglev_build(const uint64_t *keys, size_t n, uint32_t m, uint32_t *table)
{
	uint32_t *next, *offset, *skip, *turn;
	size_t filled = 0;

	if (!n || m < 2 || n >= m)
		return -EINVAL;
	next = calloc(n, sizeof(*next));
	offset = calloc(n, sizeof(*offset));
	skip = calloc(n, sizeof(*skip));
	turn = calloc(n, sizeof(*turn));
	if (!next || !offset || !skip || !turn) {
		free(next);
		free(offset);
		free(skip);
		free(turn);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		offset[i] = (uint32_t)(skiff_mix64(keys[i] ^ MAGLEV_SALT_OFFSET) % m);
		skip[i] = (uint32_t)(skiff_mix64(keys[i] ^ MAGLEV_SALT_SKIP) % (m - 1) + 1);
		turn[i] = (uint32_t)i;
	}
	qsort_r(turn, n, sizeof(*turn), key_order, (void *)keys);
	for (uint32_t e = 0; e < m; e++)
		table[e] = UINT32_MAX;
	while (filled < m) {
		for (size_t t = 0; t < n && filled < m; t++) {
			uint32_t i = turn[t], c;

			do {
				c = (uint32_t)((offset[i] + (uint64_t)next[i] * skip[i]) % m);
				next[i]++;
			} while (table[c] != UINT32_MAX);
			table[c] = i;
			filled++;
		}
	}
	free(next);
	free(offset);
	free(skip);
	free(turn);
	return 0;
}

static int ring_cmp(const void *pa, const void *pb)
{
	const struct up_ring_entry *a = pa, *b = pb;

	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	return a->ep < b->ep ? -1 : (a->ep > b->ep);
}

/* The ring over s->cand: each endpoint gets ceil(minimumRingSize / endpoints) points, placed
 * by its key and the point's number. The count is over all endpoints, not the candidates, so an
 * ejection takes only the ejected endpoint's points away and moves no other key. */
int up_ring_build(struct up_set *s)
{
	uint64_t per = (s->pol.lb.ring_min + s->n - 1) / (s->n ? s->n : 1);
	struct up_ring_entry *r;
	size_t k = 0;

	free(s->ring);
	s->ring = NULL;
	s->nring = 0;
	if (!s->ncand)
		return 0;
	if (!per)
		per = 1;
	r = calloc(per * s->ncand, sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (size_t c = 0; c < s->ncand; c++)
		for (uint64_t j = 0; j < per; j++)
			r[k++] = (struct up_ring_entry){
			    .hash = skiff_mix64(s->ep[s->cand[c]].key ^ skiff_mix64(j + 1)),
			    .ep = s->cand[c]};
	qsort(r, k, sizeof(*r), ring_cmp);
	s->ring = r;
	s->nring = k;
	return 0;
}

/* The first ring point at or after h (wrapping): its endpoint owns h. Returns a ring index. */
size_t up_ring_find(const struct up_set *s, uint64_t h)
{
	size_t lo = 0, hi = s->nring;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->ring[mid].hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == s->nring ? 0 : lo;
}

/* Maglev over s->cand, table size from the policy (maglev.tableSize, made to exceed the
 * candidate count). */
int up_maglev_rebuild(struct up_set *s)
{
	uint64_t *keys;
	uint32_t m = (uint32_t)s->pol.lb.maglev_size;
	int err;

	free(s->maglev);
	s->maglev = NULL;
	s->maglev_size = 0;
	if (!s->ncand)
		return 0;
	if (m <= s->ncand)
		return -E2BIG;
	keys = calloc(s->ncand, sizeof(*keys));
	s->maglev = calloc(m, sizeof(*s->maglev));
	if (!keys || !s->maglev) {
		free(keys);
		free(s->maglev);
		s->maglev = NULL;
		return -ENOMEM;
	}
	for (size_t c = 0; c < s->ncand; c++)
		keys[c] = s->ep[s->cand[c]].key;
	err = up_maglev_build(keys, s->ncand, m, s->maglev);
	free(keys);
	for (uint32_t e = 0; !err && e < m; e++)
		s->maglev[e] = s->cand[s->maglev[e]];
	if (err) {
		free(s->maglev);
		s->maglev = NULL;
		return err;
	}
	s->maglev_size = m;
	return 0;
}
