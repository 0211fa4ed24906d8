// SPDX-License-Identifier: Apache-2.0
/*
 * Memory for the store's records (kube_pack.c), apart from malloc's arenas.
 *
 * The watcher threads allocate each record between the blocks of the page or event they parse
 * (json-c's tree, curl's buffers, the deflate output). From malloc those records stayed behind
 * in every page of the watchers' arena once the parse blocks around them were freed: with
 * 10,000 Services about 15 MB of free space that malloc_trim() could not give back, because no
 * page of it was wholly free. Here records of one size class share 64 KB slabs of their own,
 * mapped with mmap(): a freed record's slot is taken by the next record of its size, and a slab
 * whose records are all gone is unmapped.
 *
 * Size classes are 16 bytes apart up to 2 KB (a pod is about 120 bytes deflated, an
 * EndpointSlice of 40 endpoints about 1 KB); bigger records, rare, come from malloc. A slab's
 * header is at its start and slabs are aligned to their size, so a record finds its slab by
 * masking its address. One lock for all: records are allocated once per object stored and
 * freed once per object replaced, never on a hot path.
 *
 * Under AddressSanitizer every record comes from malloc, so that leaks and use after free of
 * records are still reported.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "kube/kube_slab.h"

#if defined(__SANITIZE_ADDRESS__)
#define KSLAB_MALLOC_ONLY 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KSLAB_MALLOC_ONLY 1
#endif
#endif
#ifndef KSLAB_MALLOC_ONLY
#define KSLAB_MALLOC_ONLY 0
#endif

#define KSLAB_SIZE    (64 * 1024)
#define KSLAB_STEP    16
#define KSLAB_MAX     2048
#define KSLAB_CLASSES (KSLAB_MAX / KSLAB_STEP)

struct kslab_free {
	struct kslab_free *next;
};

struct kslab {
	struct kslab *prev, *next; /* the class's slabs with room; both NULL when full */
	struct kslab_free *free;   /* slots freed */
	uint32_t bump;		   /* offset of the first slot never used */
	uint32_t used;		   /* slots holding a record */
	uint32_t size;		   /* the class's slot size */
	bool listed;		   /* on the class's list of slabs with room */
};

/* The slots start after the header, aligned for any record. */
#define KSLAB_FIRST ((uint32_t)((sizeof(struct kslab) + 15) & ~(size_t)15))

static pthread_mutex_t kslab_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kslab *kslab_room[KSLAB_CLASSES]; /* per class: slabs with a free slot */
static struct kube_slab_stats kslab_st;

static size_t kslab_class(size_t size)
{
	return (size + KSLAB_STEP - 1) / KSLAB_STEP - 1;
}

/* A KSLAB_SIZE region aligned to its size: map twice as much and unmap the ends. */
static struct kslab *kslab_map(void)
{
	size_t lead;
	char *p =
	    mmap(NULL, 2 * KSLAB_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	lead = (KSLAB_SIZE - ((uintptr_t)p & (KSLAB_SIZE - 1))) & (KSLAB_SIZE - 1);
	if (lead)
		munmap(p, lead);
	munmap(p + lead + KSLAB_SIZE, KSLAB_SIZE - lead);
	return (struct kslab *)(p + lead);
}

static void kslab_link(struct kslab *s, size_t c)
{
	s->prev = NULL;
	s->next = kslab_room[c];
	if (s->next)
		s->next->prev = s;
	kslab_room[c] = s;
	s->listed = true;
}

static void kslab_unlink(struct kslab *s, size_t c)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		kslab_room[c] = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	s->listed = false;
}

static void *kslab_take(size_t c)
{
	struct kslab *s = kslab_room[c];
	void *slot;

	if (!s) {
		if (!(s = kslab_map()))
			return NULL;
		*s = (struct kslab){.bump = KSLAB_FIRST, .size = (uint32_t)((c + 1) * KSLAB_STEP)};
		kslab_link(s, c);
		kslab_st.slabs++;
	}
	if (s->free) {
		slot = s->free;
		s->free = s->free->next;
	} else {
		slot = (char *)s + s->bump;
		s->bump += s->size;
	}
	s->used++;
	if (!s->free && s->bump + s->size > KSLAB_SIZE)
		kslab_unlink(s, c);
	kslab_st.records++;
	kslab_st.bytes += s->size;
	return slot;
}

static void kslab_put(void *p, size_t c)
{
	struct kslab *s = (struct kslab *)((uintptr_t)p & ~(uintptr_t)(KSLAB_SIZE - 1));
	struct kslab_free *f = p;

	f->next = s->free;
	s->free = f;
	s->used--;
	kslab_st.records--;
	kslab_st.bytes -= s->size;
	if (!s->used) {
		if (s->listed)
			kslab_unlink(s, c);
		munmap(s, KSLAB_SIZE);
		kslab_st.slabs--;
	} else if (!s->listed) {
		kslab_link(s, c);
	}
}

void *kube_slab_alloc(size_t size)
{
	void *p;

	if (!KSLAB_MALLOC_ONLY && size && size <= KSLAB_MAX) {
		pthread_mutex_lock(&kslab_lock);
		p = kslab_take(kslab_class(size));
		pthread_mutex_unlock(&kslab_lock);
		return p;
	}
	p = malloc(size);
	return p;
}

void kube_slab_free(void *p, size_t size)
{
	if (!p)
		return;
	if (!KSLAB_MALLOC_ONLY && size && size <= KSLAB_MAX) {
		pthread_mutex_lock(&kslab_lock);
		kslab_put(p, kslab_class(size));
		pthread_mutex_unlock(&kslab_lock);
		return;
	}
	free(p);
}

struct kube_slab_stats kube_slab_stats(void)
{
	struct kube_slab_stats st;

	pthread_mutex_lock(&kslab_lock);
	st = kslab_st;
	pthread_mutex_unlock(&kslab_lock);
	return st;
}
