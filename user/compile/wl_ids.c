// SPDX-License-Identifier: Apache-2.0
/*
 * The workload id allocator (wl_ids.h). Slots 1..max, one per id; an index from pod key to id
 * rebuilt after each commit; a ring of quarantined ids in the order they were freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile/wl_ids.h"

enum wl_state { WL_NEVER, WL_HELD, WL_ADOPTED, WL_QUARANTINED };

struct wl_slot {
	char *key;	   /* WL_HELD: its pod */
	char *pkey;	   /* given in the proposal: to this pod */
	uint64_t cgroup;   /* WL_ADOPTED: the cgroup the adopted maps gave it */
	uint64_t freed_at; /* WL_QUARANTINED: the commit that freed it */
	uint32_t txn;	   /* the proposal that gave it, 0: none */
	uint8_t state;
	bool dirty;  /* held, but its reset may not have reached the kernel */
	bool pfresh; /* given fresh in the proposal */
};

struct wl_adopted {
	uint64_t cgroup;
	uint32_t id;
};

struct wl_ids {
	uint32_t max;
	struct wl_slot *s; /* [max + 1]; 0 is no id */
	uint32_t *ring;	   /* [max]: quarantined ids, least recently freed at head */
	size_t head, len;
	uint32_t next_fresh; /* ids below it were all given once */
	uint64_t seq;	     /* commits so far */
	struct wl_adopted *adopted;
	size_t nadopted;
	/* the proposal */
	uint32_t txn, fresh_cur;
	size_t ring_used;
	uint32_t *given;
	size_t ngiven;
	/* key -> held id, open addressing; 0 is an empty bucket */
	uint32_t *index;
	size_t index_mask;
	bool index_ok;
};

struct wl_ids *wl_ids_new(uint32_t max)
{
	struct wl_ids *w = max ? calloc(1, sizeof(*w)) : NULL;

	if (!w)
		return NULL;
	w->max = max;
	w->s = calloc((size_t)max + 1, sizeof(*w->s));
	w->ring = calloc(max ? max : 1, sizeof(*w->ring));
	w->given = calloc(max ? max : 1, sizeof(*w->given));
	if (!w->s || !w->ring || !w->given) {
		wl_ids_free(w);
		return NULL;
	}
	w->next_fresh = 1;
	w->txn = 1;
	return w;
}

void wl_ids_free(struct wl_ids *w)
{
	if (!w)
		return;
	for (uint32_t i = 0; w->s && i <= w->max; i++) {
		free(w->s[i].key);
		free(w->s[i].pkey);
	}
	free(w->s);
	free(w->ring);
	free(w->given);
	free(w->adopted);
	free(w->index);
	free(w);
}

int wl_ids_adopt(struct wl_ids *w, uint64_t cgroup_id, uint32_t id)
{
	struct wl_adopted *a;

	if (!id || id > w->max || w->s[id].state != WL_NEVER)
		return -EINVAL;
	a = realloc(w->adopted, (w->nadopted + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	w->adopted = a;
	a[w->nadopted++] = (struct wl_adopted){cgroup_id, id};
	w->s[id].state = WL_ADOPTED;
	w->s[id].cgroup = cgroup_id;
	w->index_ok = false;
	return 0;
}

static uint64_t key_hash(const char *k)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ULL;
	return h;
}

/* The key an id answers to in the index: the proposal's, else its holder's. */
static const char *slot_key(const struct wl_ids *w, uint32_t id)
{
	return w->s[id].txn == w->txn ? w->s[id].pkey : w->s[id].key;
}

static void index_put(struct wl_ids *w, uint32_t id)
{
	size_t b;

	for (b = key_hash(slot_key(w, id)) & w->index_mask; w->index[b];
	     b = (b + 1) & w->index_mask)
		;
	w->index[b] = id;
}

/* Held keys only; the proposal's are put in as they are given. Sized for every id at once. */
static int index_build(struct wl_ids *w)
{
	size_t cap = 16;

	while (cap < 2 * (size_t)w->max + 1)
		cap *= 2;
	if (!w->index) {
		w->index = calloc(cap, sizeof(*w->index));
		if (!w->index)
			return -ENOMEM;
		w->index_mask = cap - 1;
	}
	memset(w->index, 0, cap * sizeof(*w->index));
	for (uint32_t i = 1; i <= w->max; i++)
		if (w->s[i].state == WL_HELD)
			index_put(w, i);
	return 0;
}

static uint32_t index_find(const struct wl_ids *w, const char *key)
{
	for (size_t b = key_hash(key) & w->index_mask; w->index[b]; b = (b + 1) & w->index_mask)
		if (!strcmp(slot_key(w, w->index[b]), key))
			return w->index[b];
	return 0;
}

static int adopted_cmp(const void *pa, const void *pb)
{
	const struct wl_adopted *a = pa, *b = pb;

	return a->cgroup < b->cgroup ? -1 : a->cgroup > b->cgroup;
}

/* The adopted id of a cgroup not claimed yet, or 0 (adopted[] is sorted by wl_ids_begin). */
static uint32_t adopted_find(const struct wl_ids *w, uint64_t cgroup_id)
{
	struct wl_adopted k = {.cgroup = cgroup_id}, *a;

	if (!w->nadopted)
		return 0;
	a = bsearch(&k, w->adopted, w->nadopted, sizeof(k), adopted_cmp);
	return a && w->s[a->id].state == WL_ADOPTED ? a->id : 0;
}

static void proposal_drop(struct wl_ids *w)
{
	for (size_t i = 0; i < w->ngiven; i++) {
		struct wl_slot *s = &w->s[w->given[i]];

		free(s->pkey);
		s->pkey = NULL;
		s->pfresh = false;
	}
	w->ngiven = 0;
	w->txn++;
}

void wl_ids_begin(struct wl_ids *w)
{
	proposal_drop(w);
	if (w->nadopted > 1)
		qsort(w->adopted, w->nadopted, sizeof(*w->adopted), adopted_cmp);
	w->fresh_cur = w->next_fresh;
	w->ring_used = 0;
	w->index_ok = !index_build(w);
}

/* A quarantined id is given only once the apply after the one that freed it completed too. */
static uint32_t free_id(struct wl_ids *w, bool *fresh)
{
	*fresh = true;
	while (w->fresh_cur <= w->max && w->s[w->fresh_cur].state != WL_NEVER)
		w->fresh_cur++;
	if (w->fresh_cur <= w->max)
		return w->fresh_cur++;
	if (w->ring_used < w->len) {
		uint32_t id = w->ring[(w->head + w->ring_used) % w->max];

		if (w->s[id].freed_at + 1 < w->seq) {
			w->ring_used++;
			return id;
		}
	}
	return 0;
}

int wl_ids_get(struct wl_ids *w, const char *key, uint64_t cgroup_id, uint32_t *id, bool *fresh)
{
	uint32_t i;
	bool indexed;

	if (!w->index_ok)
		return -ENOMEM; /* wl_ids_begin could not build it */
	i = index_find(w, key);
	indexed = i;
	*fresh = i && w->s[i].dirty;
	if (i && w->s[i].txn == w->txn)
		return -EEXIST;
	if (!i && (i = adopted_find(w, cgroup_id)) && w->s[i].txn == w->txn)
		i = 0; /* two pods in one cgroup: the model's problem, not a shared id */
	if (!i)
		i = free_id(w, fresh);
	if (!i)
		return -ENOSPC;
	w->s[i].pkey = strdup(key);
	if (!w->s[i].pkey)
		return -ENOMEM;
	w->s[i].pfresh = *fresh;
	w->given[w->ngiven++] = i;
	w->s[i].txn = w->txn;
	if (!indexed) /* later asks for the same key find it */
		index_put(w, i);
	*id = i;
	return 0;
}

/* The proposal's ids become held by its pods. */
static void proposal_take(struct wl_ids *w, bool keep_dirty)
{
	w->head = w->len ? (w->head + w->ring_used) % w->max : 0;
	w->len -= w->ring_used;
	w->next_fresh = w->fresh_cur > w->next_fresh ? w->fresh_cur : w->next_fresh;
	for (size_t i = 0; i < w->ngiven; i++) {
		struct wl_slot *s = &w->s[w->given[i]];

		free(s->key);
		s->key = s->pkey;
		s->pkey = NULL;
		s->state = WL_HELD;
		s->dirty = keep_dirty && (s->dirty || s->pfresh);
		s->pfresh = false;
	}
	w->ngiven = 0;
	w->txn++;
	w->index_ok = false;
}

void wl_ids_commit(struct wl_ids *w)
{
	for (uint32_t i = 1; i <= w->max; i++) {
		struct wl_slot *s = &w->s[i];

		if ((s->state != WL_HELD && s->state != WL_ADOPTED) || s->txn == w->txn)
			continue;
		free(s->key);
		s->key = NULL;
		s->state = WL_QUARANTINED;
		s->freed_at = w->seq;
		w->ring[(w->head + w->len++) % w->max] = i;
	}
	proposal_take(w, false);
	free(w->adopted); /* claimed or quarantined now */
	w->adopted = NULL;
	w->nadopted = 0;
	w->seq++;
}

void wl_ids_keep(struct wl_ids *w)
{
	proposal_take(w, true);
}

void wl_ids_stats(const struct wl_ids *w, struct wl_ids_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (uint32_t i = 1; i <= w->max; i++) {
		const struct wl_slot *s = &w->s[i];

		if (s->state == WL_HELD || s->state == WL_ADOPTED)
			st->held++;
		else if (s->state == WL_QUARANTINED && s->freed_at + 1 >= w->seq)
			st->quarantined++;
		else
			st->free++;
	}
}
