// SPDX-License-Identifier: Apache-2.0
/*
 * Workload ids (user/compile/wl_ids.c): a pod keeps its id while pods join and leave, a freed id
 * is not given again until one more apply has completed without it, then least recently freed
 * first; the assignment survives reloads and is rebuilt from adopted maps; running out is a
 * clear warning, not a shared id. And through the compiler: a pod that sorts first renumbers
 * nobody.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "compile_test.h"

/* One proposal of `n` keys (cgroup 0), committed; ids out. */
static void round_of(struct wl_ids *w, const char *const *keys, size_t n, uint32_t *ids,
		     bool *fresh)
{
	wl_ids_begin(w);
	for (size_t i = 0; i < n; i++) {
		bool f;

		assert_int_equal(wl_ids_get(w, keys[i], 0, &ids[i], &f), 0);
		if (fresh)
			fresh[i] = f;
	}
	wl_ids_commit(w);
}

static void test_stable_across_reloads(void **state)
{
	const char *before[] = {"ns/b/1", "ns/c/1"}, *after[] = {"ns/a/1", "ns/b/1", "ns/c/1"};
	struct wl_ids *w = wl_ids_new(16);
	uint32_t id1[2], id2[3];
	bool fresh[3];

	(void)state;
	round_of(w, before, 2, id1, fresh);
	assert_int_equal(id1[0], 1);
	assert_int_equal(id1[1], 2);
	assert_true(fresh[0] && fresh[1]);
	/* a pod that sorts first joins: the others keep theirs, and are not reset */
	round_of(w, after, 3, id2, fresh);
	assert_int_equal(id2[1], 1);
	assert_int_equal(id2[2], 2);
	assert_int_equal(id2[0], 3);
	assert_true(fresh[0]);
	assert_false(fresh[1] || fresh[2]);
	/* and again: nothing moves */
	round_of(w, after, 3, id2, fresh);
	assert_int_equal(id2[0], 3);
	assert_false(fresh[0] || fresh[1] || fresh[2]);
	wl_ids_free(w);
}

static void test_uncommitted_proposal_forgotten(void **state)
{
	struct wl_ids *w = wl_ids_new(16);
	uint32_t id;
	bool fresh;

	(void)state;
	wl_ids_begin(w);
	assert_int_equal(wl_ids_get(w, "ns/a/1", 0, &id, &fresh), 0);
	assert_int_equal(id, 1);
	assert_int_equal(wl_ids_get(w, "ns/a/1", 0, &id, &fresh), -EEXIST);
	/* that view was never applied: the next proposal starts from the same state */
	wl_ids_begin(w);
	assert_int_equal(wl_ids_get(w, "ns/z/1", 0, &id, &fresh), 0);
	assert_int_equal(id, 1);
	wl_ids_free(w);
}

/* Ids 1..3 all held, then freed one by one: none comes back before the apply after the one that
 * freed it, and they come back oldest-freed first. */
static void test_quarantine(void **state)
{
	const char *all[] = {"ns/a/1", "ns/b/1", "ns/c/1"};
	struct wl_ids *w = wl_ids_new(3);
	struct wl_ids_stats st;
	uint32_t ids[3], id;
	bool fresh;

	(void)state;
	round_of(w, all, 3, ids, NULL);
	/* apply 2: b leaves (id 2 freed) */
	round_of(w, (const char *[]){"ns/a/1", "ns/c/1"}, 2, ids, NULL);
	wl_ids_stats(w, &st);
	assert_int_equal(st.held, 2);
	assert_int_equal(st.quarantined, 1);
	/* apply 3 would give d an id: 2 is still quarantined and nothing else is free */
	wl_ids_begin(w);
	assert_int_equal(wl_ids_get(w, "ns/d/1", 0, &id, &fresh), -ENOSPC);
	assert_int_equal(wl_ids_get(w, "ns/c/1", 0, &id, &fresh), 0);
	/* a leaves in apply 3 */
	wl_ids_commit(w);
	/* apply 4: 2 is free now (apply 3 ran without it), 1 is not yet */
	wl_ids_begin(w);
	assert_int_equal(wl_ids_get(w, "ns/c/1", 0, &id, &fresh), 0);
	assert_int_equal(id, 3);
	assert_int_equal(wl_ids_get(w, "ns/d/1", 0, &id, &fresh), 0);
	assert_int_equal(id, 2);
	assert_true(fresh); /* the maps may hold b's counters: reset them */
	assert_int_equal(wl_ids_get(w, "ns/e/1", 0, &id, &fresh), -ENOSPC);
	wl_ids_commit(w);
	wl_ids_begin(w);
	assert_int_equal(wl_ids_get(w, "ns/e/1", 0, &id, &fresh), 0);
	assert_int_equal(id, 1);
	wl_ids_free(w);
}

/* A pod recreated under its name is another pod (new uid): a new id, the old one quarantined. */
static void test_new_uid_new_id(void **state)
{
	struct wl_ids *w = wl_ids_new(8);
	uint32_t a, b;

	(void)state;
	round_of(w, (const char *[]){"ns/web-0/uid-1"}, 1, &a, NULL);
	round_of(w, (const char *[]){"ns/web-0/uid-2"}, 1, &b, NULL);
	assert_int_not_equal(a, b);
	wl_ids_free(w);
}

/* A failed apply may have written the new ids: old and new both stay held, and the new ones are
 * reset again when given next time. */
static void test_failed_apply_keeps_both(void **state)
{
	struct wl_ids *w = wl_ids_new(8);
	struct wl_ids_stats st;
	uint32_t a, b, id;
	bool fresh;

	(void)state;
	round_of(w, (const char *[]){"ns/a/1"}, 1, &a, NULL);
	wl_ids_begin(w);
	assert_int_equal(wl_ids_get(w, "ns/b/1", 0, &b, &fresh), 0);
	wl_ids_keep(w);
	wl_ids_stats(w, &st);
	assert_int_equal(st.held, 2);
	wl_ids_begin(w);
	assert_int_equal(wl_ids_get(w, "ns/b/1", 0, &id, &fresh), 0);
	assert_int_equal(id, b);
	assert_true(fresh);
	assert_int_equal(wl_ids_get(w, "ns/c/1", 0, &id, &fresh), 0);
	assert_int_not_equal(id, a); /* a's entries may still be in the maps */
	wl_ids_commit(w);
	wl_ids_begin(w);
	assert_int_equal(wl_ids_get(w, "ns/b/1", 0, &id, &fresh), 0);
	assert_false(fresh);
	wl_ids_free(w);
}

/* A new skiffd adopting the maps: each pod keeps the id its cgroup has there; ids nobody claims
 * are quarantined, and new pods never get an adopted id. */
static void test_adopted(void **state)
{
	struct wl_ids *w = wl_ids_new(8);
	uint32_t id;
	bool fresh;

	(void)state;
	assert_int_equal(wl_ids_adopt(w, 1001, 5), 0);
	assert_int_equal(wl_ids_adopt(w, 1002, 1), 0);
	assert_int_equal(wl_ids_adopt(w, 1003, 1), -EINVAL);
	assert_int_equal(wl_ids_adopt(w, 1004, 9), -EINVAL);
	wl_ids_begin(w);
	assert_int_equal(wl_ids_get(w, "ns/new/1", 2000, &id, &fresh), 0);
	assert_int_equal(id, 2); /* not 1: cgroup 1002 may still be in the maps */
	assert_int_equal(wl_ids_get(w, "ns/old/1", 1001, &id, &fresh), 0);
	assert_int_equal(id, 5);
	assert_false(fresh);
	wl_ids_commit(w);
	/* by key now, whatever the cgroup */
	wl_ids_begin(w);
	assert_int_equal(wl_ids_get(w, "ns/old/1", 0, &id, &fresh), 0);
	assert_int_equal(id, 5);
	wl_ids_free(w);
}

static void test_exhaustion_bounded(void **state)
{
	struct wl_ids *w = wl_ids_new(SKIFF_MAX_PODS);
	char key[32];
	uint32_t id, top = 0;
	bool fresh;

	(void)state;
	wl_ids_begin(w);
	for (unsigned i = 0; i < SKIFF_MAX_PODS; i++) {
		snprintf(key, sizeof(key), "ns/p%u/1", i);
		assert_int_equal(wl_ids_get(w, key, 0, &id, &fresh), 0);
		top = id > top ? id : top;
	}
	assert_int_equal(top, SKIFF_MAX_PODS);
	assert_int_equal(wl_ids_get(w, "ns/one-more/1", 0, &id, &fresh), -ENOSPC);
	wl_ids_free(w);
}

/* ---------- through the compiler ---------- */

static void y_pod_uid(struct strbuf *b, const char *name, const char *uid)
{
	sb_printf(b,
		  "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: shop\n"
		  "  uid: %s\nspec:\n  nodeName: node-a\n  containers:\n  - name: c\n"
		  "    image: skiff/echo\n",
		  name, uid);
}

static const struct cv_pod *pod_named(const struct node_view *v, const char *name)
{
	for (size_t i = 0; i < v->npods; i++)
		if (!strcmp(v->pods[i].name, name))
			return &v->pods[i];
	fail_msg("pod %s not enrolled", name);
	return NULL;
}

/* Compile the fixture's YAML with the node's allocator and commit, as skiffd does. */
static void compile_with(struct fx *f, struct wl_ids *w)
{
	struct compile_opts o = {.ids = w};

	node_view_free(&f->v);
	if (f->loaded)
		model_free(&f->m);
	fx_load(f);
	assert_int_equal(
	    compile_node_view_opts(&f->m, "node-a", fake_cgroup_of, NULL, &o, &f->v, &f->d), 0);
	wl_ids_commit(w);
}

static void test_compile_first_pod_renumbers_nobody(void **state)
{
	struct fx *f = *state;
	struct wl_ids *w = wl_ids_new(SKIFF_MAX_PODS);
	uint32_t m, z;

	sb_printf(&f->y, "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"
			 "  labels:\n    skiff.io/mesh: enabled\n");
	y_pod_uid(&f->y, "m-0", "u-m");
	y_pod_uid(&f->y, "z-0", "u-z");
	compile_with(f, w);
	m = pod_named(&f->v, "shop/m-0")->val.workload_id;
	z = pod_named(&f->v, "shop/z-0")->val.workload_id;
	y_pod_uid(&f->y, "a-0", "u-a"); /* sorts before both */
	compile_with(f, w);
	assert_int_equal(f->v.npods, 3);
	assert_int_equal(pod_named(&f->v, "shop/m-0")->val.workload_id, m);
	assert_int_equal(pod_named(&f->v, "shop/z-0")->val.workload_id, z);
	assert_false(pod_named(&f->v, "shop/m-0")->id_fresh);
	assert_true(pod_named(&f->v, "shop/a-0")->id_fresh);
	assert_int_not_equal(pod_named(&f->v, "shop/a-0")->val.workload_id, m);
	assert_int_not_equal(pod_named(&f->v, "shop/a-0")->val.workload_id, z);
	/* the addresses carry the same ids as their pods */
	for (size_t i = 0; i < f->v.npod_ips; i++)
		assert_true(f->v.pod_ips[i].val.workload_id == m ||
			    f->v.pod_ips[i].val.workload_id == z ||
			    f->v.pod_ips[i].val.workload_id ==
				pod_named(&f->v, "shop/a-0")->val.workload_id);
	wl_ids_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stable_across_reloads),
	    cmocka_unit_test(test_uncommitted_proposal_forgotten),
	    cmocka_unit_test(test_quarantine),
	    cmocka_unit_test(test_new_uid_new_id),
	    cmocka_unit_test(test_failed_apply_keeps_both),
	    cmocka_unit_test(test_adopted),
	    cmocka_unit_test(test_exhaustion_bounded),
	    cmocka_unit_test_setup_teardown(test_compile_first_pod_renumbers_nobody, fx_setup,
					    fx_teardown),
	};

	return cmocka_run_group_tests_name("wl_ids", tests, NULL, NULL);
}
