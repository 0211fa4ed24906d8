// SPDX-License-Identifier: Apache-2.0
/*
 * The model's pool of shared values: an open-addressed hash set of byte strings. Values are
 * never removed one by one; the pool goes with its model.
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/model_pool.h"

struct pool_entry {
	size_t len;
	uint64_t hash;
	alignas(max_align_t) unsigned char data[];
};

struct model_pool {
	struct pool_entry **slot; /* power-of-two table, NULL where empty */
	size_t cap, n, bytes;
};

/* FNV-1a: the values are short (names, a few label pointers). */
static uint64_t pool_hash(const unsigned char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static struct pool_entry **pool_find(struct pool_entry **slot, size_t cap, const void *data,
				     size_t len, uint64_t h)
{
	size_t i = (size_t)h & (cap - 1);

	while (slot[i] &&
	       (slot[i]->hash != h || slot[i]->len != len || memcmp(slot[i]->data, data, len)))
		i = (i + 1) & (cap - 1);
	return &slot[i];
}

/* Keep the table at most half full, so probes stay short. */
static void pool_grow(struct model_pool *p)
{
	size_t cap = p->cap ? p->cap * 2 : 256;
	struct pool_entry **slot = calloc(cap, sizeof(*slot));

	if (!slot)
		abort();
	for (size_t i = 0; i < p->cap; i++) {
		struct pool_entry *e = p->slot[i];

		if (e)
			*pool_find(slot, cap, e->data, e->len, e->hash) = e;
	}
	free(p->slot);
	p->slot = slot;
	p->cap = cap;
}

const void *model_pool_blob(struct model *m, const void *data, size_t len)
{
	struct model_pool *p = m->pool;
	struct pool_entry **at, *e;
	uint64_t h;

	if (!p) {
		p = m->pool = calloc(1, sizeof(*p));
		if (!p)
			abort();
	}
	if (2 * (p->n + 1) > p->cap)
		pool_grow(p);
	h = pool_hash(data, len);
	at = pool_find(p->slot, p->cap, data, len, h);
	if (*at)
		return (*at)->data;
	e = malloc(sizeof(*e) + len);
	if (!e)
		abort();
	e->len = len;
	e->hash = h;
	memcpy(e->data, data, len);
	*at = e;
	p->n++;
	p->bytes += len;
	return e->data;
}

const char *model_pool_str(struct model *m, const char *s)
{
	return s ? model_pool_blob(m, s, strlen(s) + 1) : NULL;
}

char *model_pool_take(struct model *m, char *s)
{
	char *r = (char *)model_pool_str(m, s);

	free(s);
	return r;
}

size_t model_pool_count(const struct model *m, size_t *bytes)
{
	*bytes = m->pool ? m->pool->bytes : 0;
	return m->pool ? m->pool->n : 0;
}

void model_pool_free(struct model_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->cap; i++)
		free(p->slot[i]);
	free(p->slot);
	free(p);
}
