/* SPDX-License-Identifier: Apache-2.0 */
/* Memory for the store's records, in slabs of their own (kube_slab.c). */
#ifndef SKIFF_KUBE_SLAB_H
#define SKIFF_KUBE_SLAB_H

#include <stdbool.h>
#include <stddef.h>

struct kube_slab_stats {
	size_t slabs;	/* slabs mapped, 64 KB each */
	size_t records; /* records held in them */
	size_t bytes;	/* their slots' bytes */
};

/* `size` bytes for a record, 16-byte aligned; NULL when out of memory. Thread-safe. */
void *kube_slab_alloc(size_t size);
/* Give back what kube_slab_alloc(size) returned, with the same `size`. NULL is fine. */
void kube_slab_free(void *p, size_t size);
struct kube_slab_stats kube_slab_stats(void);

#endif
