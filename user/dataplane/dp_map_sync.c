// SPDX-License-Identifier: Apache-2.0
/*
 * Make a non-generational hash map hold exactly a set of entries, by difference: delete keys that
 * are not wanted, write entries that are new or changed, leave equal ones alone. Used for maps
 * with one self-contained entry per pod (skiff_enrolled, skiff_pod_ips): each update is atomic on
 * its own and no entry refers to another, so a program never sees a half-written pod, and such
 * maps need no generation.
 *
 * Wanted keys are sorted once, so the prune walk is O(n log n), not a scan of the view per key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "dataplane/dp_internal.h"

static const void *entry_key(const struct dp_entries *e, size_t i)
{
	return (const char *)e->base + i * e->stride + e->key_off;
}

static const void *entry_val(const struct dp_entries *e, size_t i)
{
	return (const char *)e->base + i * e->stride + e->val_off;
}

static int key_cmp(const void *a, const void *b, void *size)
{
	return memcmp(*(const void *const *)a, *(const void *const *)b, *(size_t *)size);
}

/* Is `key` among the sorted wanted keys? (glibc has qsort_r but no bsearch_r.) */
static bool want_has(const void **want, size_t n, const void *key, size_t ks)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(want[mid], key, ks);

		if (!c)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Keys in the map but not in `want` (sorted pointers to wanted keys), then deleted. Keys are
 * collected before deleting (see gen_sweep in dp_generation.c for why). */
static int map_prune(int fd, const struct dp_entries *e, const void **want)
{
	size_t ks = e->key_size, n = 0, cap = 0;
	char *cur = calloc(2, ks), *next, *gone = NULL;
	bool first = true;
	int err = 0;

	if (!cur)
		return -ENOMEM;
	next = cur + ks;
	while (!err && !bpf_map_get_next_key(fd, first ? NULL : cur, next)) {
		if (!want_has(want, e->n, next, ks)) {
			if (n == cap) {
				char *g = realloc(gone, (cap = cap ? 2 * cap : 64) * ks);

				if (!g)
					err = -ENOMEM;
				else
					gone = g;
			}
			if (!err)
				memcpy(gone + n++ * ks, next, ks);
		}
		memcpy(cur, next, ks);
		first = false;
	}
	for (size_t i = 0; !err && i < n; i++)
		if (bpf_map_delete_elem(fd, gone + i * ks) && errno != ENOENT)
			err = -errno;
	free(gone);
	free(cur);
	return err;
}

static int map_upsert(int fd, const struct dp_entries *e, const char *map_name, const char *hint)
{
	char *cur = malloc(e->val_size);
	int err = cur ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < e->n; i++) {
		if (!bpf_map_lookup_elem(fd, entry_key(e, i), cur) &&
		    !memcmp(cur, entry_val(e, i), e->val_size))
			continue;
		if (bpf_map_update_elem(fd, entry_key(e, i), entry_val(e, i), BPF_ANY)) {
			char what[64];

			snprintf(what, sizeof(what), "entry %zu of %zu", i + 1, e->n);
			err = dp_map_write_failed(fd, map_name, what, hint);
		}
	}
	free(cur);
	return err;
}

int dp_map_prune(int fd, const struct dp_entries *e, const char *map_name)
{
	const void **want = calloc(e->n ? e->n : 1, sizeof(*want));
	size_t ks = e->key_size;
	int err;

	if (!want)
		return -ENOMEM;
	for (size_t i = 0; i < e->n; i++)
		want[i] = entry_key(e, i);
	qsort_r(want, e->n, sizeof(*want), key_cmp, &ks);
	err = map_prune(fd, e, want);
	free(want);
	if (err)
		fprintf(stderr, "dataplane: cannot remove departed entries from %s: %s\n", map_name,
			strerror(-err));
	return err;
}

int dp_map_upsert(int fd, const struct dp_entries *e, const char *map_name, const char *hint)
{
	return map_upsert(fd, e, map_name, hint);
}

int dp_map_sync(int fd, const struct dp_entries *e, const char *map_name, const char *hint)
{
	int err = dp_map_prune(fd, e, map_name);

	return err ? err : map_upsert(fd, e, map_name, hint);
}
