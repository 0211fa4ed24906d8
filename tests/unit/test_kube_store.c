// SPDX-License-Identifier: Apache-2.0
/*
 * The API source's object store (kube_store.c): a flat open-addressed table of packed records.
 * Checked against a plain array kept beside it through thousands of random adds, replacements
 * and deletes (deletion moves later entries back into the gap, the part that is easy to get
 * wrong), then for sorted order, and for a record that a snapshot holds outliving its removal
 * from the store. The records' slabs (kube_slab.c): blocks of every size, freed and taken again
 * in random order, never overlap, and every slab is unmapped once its records are gone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kube/kube_internal.h"
#include "kube/kube_slab.h"

#define NKEYS 3000

static struct kube_rec *rec_of(const char *key, int version)
{
	struct json_object *o = json_object_new_object(), *md = json_object_new_object();
	char rv[16];
	struct kube_rec *r;

	snprintf(rv, sizeof(rv), "%d", version);
	json_object_object_add(md, "resourceVersion", json_object_new_string(rv));
	json_object_object_add(o, "metadata", md);
	json_object_object_add(o, "v", json_object_new_int(version));
	r = kube_obj_pack(o, key);
	json_object_put(o);
	assert_non_null(r);
	return r;
}

static int version_of(const struct kube_rec *r)
{
	struct json_object *o = kube_obj_unpack(r), *v;
	int n;

	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "v", &v));
	n = json_object_get_int(v);
	json_object_put(o);
	return n;
}

static void store_matches_reference(void **state)
{
	static int want[NKEYS]; /* 0: absent, else the version stored */
	struct kube_store st = {0};
	unsigned int seed = 14;
	char key[64];
	size_t n = 0;

	(void)state;
	for (int step = 1; step <= 40000; step++) {
		int k = rand_r(&seed) % NKEYS;

		snprintf(key, sizeof(key), "ns-%d/obj-%d", k % 17, k);
		if (rand_r(&seed) % 3) {
			assert_int_equal(kube_store_put(&st, rec_of(key, step)), 0);
			n += !want[k];
			want[k] = step;
		} else {
			assert_int_equal(kube_store_del(&st, key), want[k] != 0);
			n -= !!want[k];
			want[k] = 0;
		}
		assert_int_equal(st.n, n);
		if (step % 5000)
			continue;
		for (int j = 0; j < NKEYS; j++) {
			struct kube_rec *r;

			snprintf(key, sizeof(key), "ns-%d/obj-%d", j % 17, j);
			r = kube_store_get(&st, key);
			if (!want[j]) {
				assert_null(r);
				continue;
			}
			assert_non_null(r);
			assert_string_equal(kube_rec_key(r), key);
			assert_int_equal(version_of(r), want[j]);
			snprintf(key, sizeof(key), "%d", want[j]);
			assert_true(kube_rec_rv_is(r, key));
		}
	}
	assert_true(st.cap * 3 >= st.n * 4);
	kube_store_clear(&st);
	assert_int_equal(st.n, 0);
	assert_null(kube_store_get(&st, "ns-0/obj-0"));
}

static void sorted_and_held_past_removal(void **state)
{
	const char *keys[] = {"b/x", "a/z", "c/a", "a/y", "b/a"};
	const char *sorted[] = {"a/y", "a/z", "b/a", "b/x", "c/a"};
	struct kube_store st = {0};
	struct kube_rec *out[5];

	(void)state;
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(kube_store_put(&st, rec_of(keys[i], (int)i + 1)), 0);
	assert_int_equal(kube_store_take_sorted(&st, out), 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(kube_rec_key(out[i]), sorted[i]);
	/* a watcher replaces one and deletes another while a snapshot reads them */
	assert_int_equal(kube_store_put(&st, rec_of("a/y", 99)), 0);
	assert_true(kube_store_del(&st, "c/a"));
	kube_store_clear(&st);
	assert_int_equal(version_of(out[0]), 4);
	assert_int_equal(version_of(out[4]), 3);
	for (size_t i = 0; i < 5; i++)
		kube_rec_unref(out[i]);
}

#define NBLOCKS 20000

struct block {
	unsigned char *p;
	size_t size;
	unsigned char fill;
};

static void block_take(struct block *b, size_t size, unsigned char fill)
{
	b->p = kube_slab_alloc(size);
	assert_non_null(b->p);
	assert_int_equal((uintptr_t)b->p & 15, 0);
	b->size = size;
	b->fill = fill;
	memset(b->p, fill, size);
}

static void block_check(const struct block *b)
{
	for (size_t i = 0; i < b->size; i++)
		if (b->p[i] != b->fill)
			fail_msg("block of %zu bytes changed at %zu", b->size, i);
}

static void slabs_reuse_and_unmap(void **state)
{
	struct kube_slab_stats before = kube_slab_stats(), peak;
	struct block *b = calloc(NBLOCKS, sizeof(*b));

	(void)state;
	assert_non_null(b);
	srand(7);
	/* sizes from tiny to past the largest class (2 KB), which come from malloc */
	for (size_t i = 0; i < NBLOCKS; i++)
		block_take(&b[i], 1 + (size_t)rand() % 2600, (unsigned char)i);
	peak = kube_slab_stats();
#if !defined(__SANITIZE_ADDRESS__)
	assert_true(peak.slabs > before.slabs);
	assert_true(peak.records > before.records + NBLOCKS / 2);
#endif
	for (int round = 0; round < 4; round++) {
		for (size_t i = 0; i < NBLOCKS; i++) {
			if (rand() % 2)
				continue;
			block_check(&b[i]);
			kube_slab_free(b[i].p, b[i].size);
			block_take(&b[i], 1 + (size_t)rand() % 2600, (unsigned char)(i + round));
		}
	}
	for (size_t i = 0; i < NBLOCKS; i++) {
		block_check(&b[i]);
		kube_slab_free(b[i].p, b[i].size);
	}
	peak = kube_slab_stats();
	assert_int_equal(peak.slabs, before.slabs);
	assert_int_equal(peak.records, before.records);
	assert_int_equal(peak.bytes, before.bytes);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(store_matches_reference),
	    cmocka_unit_test(sorted_and_held_past_removal),
	    cmocka_unit_test(slabs_reuse_and_unmap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
