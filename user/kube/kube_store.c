// SPDX-License-Identifier: Apache-2.0
/*
 * A kind's objects as the watchers hold them: a flat open-addressed table of pointers to packed
 * records (kube_pack.c), keyed by "namespace/name". One allocation per object holds its key,
 * resourceVersion and deflated JSON together. The json-c object this replaces cost a hash entry,
 * a copy of the key and a string object per stored object, about 190 bytes each: 13 MB on a
 * cluster of 70,000 objects, more than the deflated objects themselves.
 *
 * Linear probing with deletion by backward shift: no tombstones, so a table that sees a steady
 * stream of deletes and adds never needs rebuilding to stay fast.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_internal.h"
#include "kube/kube_slab.h"

/* FNV-1a: keys are short and the table's size is a power of two */
static size_t ksr_hash(const char *key)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 32));
}

const char *kube_rec_key(const struct kube_rec *r)
{
	return r->data;
}

void kube_rec_ref(struct kube_rec *r)
{
	__atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
}

/* Atomic: a snapshot drops its references without the source's lock. */
void kube_rec_unref(struct kube_rec *r)
{
	if (r && !__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL))
		kube_slab_free(r, kube_rec_size(r));
}

/* The slot holding `key`, or the empty slot where it would go. */
static size_t ksr_find(const struct kube_store *st, const char *key)
{
	size_t mask = st->cap - 1, i = ksr_hash(key) & mask;

	while (st->slot[i] && strcmp(kube_rec_key(st->slot[i]), key))
		i = (i + 1) & mask;
	return i;
}

struct kube_rec *kube_store_get(const struct kube_store *st, const char *key)
{
	return st->cap ? st->slot[ksr_find(st, key)] : NULL;
}

/* Kept at most 3/4 full: probes stay short, and the table is 8-16 bytes per object. */
static int ksr_grow(struct kube_store *st)
{
	size_t cap = st->cap ? st->cap * 2 : 16;
	struct kube_store bigger = {.slot = calloc(cap, sizeof(*bigger.slot)), .cap = cap};

	if (!bigger.slot)
		return -ENOMEM;
	for (size_t i = 0; i < st->cap; i++)
		if (st->slot[i])
			bigger.slot[ksr_find(&bigger, kube_rec_key(st->slot[i]))] = st->slot[i];
	bigger.n = st->n;
	free(st->slot);
	*st = bigger;
	return 0;
}

int kube_store_put(struct kube_store *st, struct kube_rec *r)
{
	size_t i;

	if ((st->n + 1) * 4 > st->cap * 3 && ksr_grow(st) < 0)
		return -ENOMEM;
	i = ksr_find(st, kube_rec_key(r));
	if (st->slot[i])
		kube_rec_unref(st->slot[i]);
	else
		st->n++;
	st->slot[i] = r;
	return 0;
}

/* Close the gap at `hole`: move up each later entry of the run that may sit there instead. */
static void ksr_shift(struct kube_store *st, size_t hole)
{
	size_t mask = st->cap - 1, i = hole;

	for (;;) {
		size_t home;

		i = (i + 1) & mask;
		if (!st->slot[i])
			break;
		home = ksr_hash(kube_rec_key(st->slot[i])) & mask;
		/* an entry may move to the hole only when its home is not in (hole, i] */
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			st->slot[hole] = st->slot[i];
			st->slot[i] = NULL;
			hole = i;
		}
	}
}

bool kube_store_del(struct kube_store *st, const char *key)
{
	size_t i;

	if (!st->cap || !st->slot[i = ksr_find(st, key)])
		return false;
	kube_rec_unref(st->slot[i]);
	st->slot[i] = NULL;
	st->n--;
	ksr_shift(st, i);
	return true;
}

void kube_store_clear(struct kube_store *st)
{
	for (size_t i = 0; i < st->cap; i++)
		kube_rec_unref(st->slot[i]);
	free(st->slot);
	memset(st, 0, sizeof(*st));
}

static int ksr_cmp(const void *a, const void *b)
{
	return strcmp(kube_rec_key(*(struct kube_rec *const *)a),
		      kube_rec_key(*(struct kube_rec *const *)b));
}

size_t kube_store_take_sorted(const struct kube_store *st, struct kube_rec **out)
{
	size_t n = 0;

	for (size_t i = 0; i < st->cap; i++) {
		if (st->slot[i]) {
			kube_rec_ref(st->slot[i]);
			out[n++] = st->slot[i];
		}
	}
	qsort(out, n, sizeof(*out), ksr_cmp);
	return n;
}
