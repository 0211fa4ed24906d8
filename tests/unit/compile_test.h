/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fixture the compiler's tests share: YAML built in a strbuf, loaded into a model, compiled
 * for node-a with a fake cgroup lookup.
 */
#ifndef SKIFF_TESTS_COMPILE_TEST_H
#define SKIFF_TESTS_COMPILE_TEST_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "compile/compile.h"

struct fx {
	struct strbuf y;
	struct model m;
	struct diag d;
	struct node_view v;
	bool loaded;
};

static inline int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	*state = f;
	return f ? 0 : -1;
}

static inline int fx_teardown(void **state)
{
	struct fx *f = *state;

	node_view_free(&f->v);
	if (f->loaded)
		model_free(&f->m);
	diag_free(&f->d);
	sb_free(&f->y);
	free(f);
	return 0;
}

/* Start a case over within one test: no view, no model, no YAML. */
static inline void fx_reset(struct fx *f)
{
	node_view_free(&f->v);
	if (f->loaded)
		model_free(&f->m);
	f->loaded = false;
	sb_free(&f->y);
}

/* A cgroup id for every pod, derived from its namespace and name. */
static inline uint64_t fake_cgroup_id(const char *ns, const char *name)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *s = ns; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	h = (h ^ '/') * 1099511628211ull;
	for (const char *s = name; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Pods named pending-* have no cgroup yet, broken-* fail with EACCES; `ctx`, when not NULL, is
 * an int counting the calls. */
static inline int fake_cgroup_of(void *ctx, const struct m_pod *pod, uint64_t *id)
{
	int *calls = ctx;

	if (calls)
		(*calls)++;
	if (!strncmp(pod->meta.name, "pending-", 8))
		return -ENOENT;
	if (!strncmp(pod->meta.name, "broken-", 7))
		return -EACCES;
	*id = fake_cgroup_id(pod->meta.ns, pod->meta.name);
	return 0;
}

static inline void fx_load(struct fx *f)
{
	int err = model_load_string("test.yaml", f->y.s ? f->y.s : "", &f->m, &f->d);

	if (err) {
		diag_print(&f->d);
		fail_msg("the model rejected the YAML:\n%s", f->y.s);
	}
	f->loaded = true;
}

/* Load and compile for node-a; returns compile_node_view's result. */
static inline int fx_compile(struct fx *f)
{
	fx_load(f);
	return compile_node_view(&f->m, "node-a", fake_cgroup_of, NULL, &f->v, &f->d);
}

static inline void fx_compile_ok(struct fx *f)
{
	int err = fx_compile(f);

	if (err)
		diag_print(&f->d);
	assert_int_equal(err, 0);
}

#endif
