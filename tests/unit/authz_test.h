/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the authz unit tests: load YAML through the real model loader, compile the
 * policies, describe a workload, and check one request -> ALLOW/DENY with a message that names
 * the case and prints the decision (policy, rule, file:line) when it is not the expected one.
 */
#ifndef SKIFF_TEST_AUTHZ_H
#define SKIFF_TEST_AUTHZ_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "authz/authz.h"
#include "model/model.h"

struct fx {
	struct model m;
	struct diag d;
	struct authz_set *set;
};

static inline void fx_compile(struct fx *f, const char *name, int rc)
{
	if (rc != 0) {
		diag_print(&f->d);
		fail_msg("%s: the model rejected the YAML", name);
	}
	if (authz_compile(&f->m, NULL, &f->set, &f->d) != 0) {
		diag_print(&f->d);
		fail_msg("%s: authz_compile failed", name);
	}
}

/* Load `yaml` (named `name` in messages) and compile it; both must succeed. */
static inline void fx_load(struct fx *f, const char *name, const char *yaml)
{
	memset(f, 0, sizeof(*f));
	fx_compile(f, name, model_load_string(name, yaml, &f->m, &f->d));
}

/* The same for a fixture file (path relative to the repository, where tests run). */
#define FIXTURES "tests/unit/fixtures/authz/"

static inline void fx_load_file(struct fx *f, const char *path)
{
	memset(f, 0, sizeof(*f));
	fx_compile(f, path, model_load_files(&path, 1, &f->m, &f->d));
}

static inline void fx_free(struct fx *f)
{
	authz_set_free(f->set);
	model_free(&f->m);
	diag_free(&f->d);
}

/* A destination workload with up to 8 labels written "k=v,k2=v2" (storage inside). */
struct tw {
	struct authz_workload wl;
	struct labels l;
	struct kv kv[8];
	char buf[256];
};

static inline const struct authz_workload *tw(struct tw *t, const char *ns, const char *spec)
{
	char *save = NULL, *tok;

	memset(t, 0, sizeof(*t));
	snprintf(t->buf, sizeof(t->buf), "%s", spec);
	for (tok = strtok_r(t->buf, ",", &save); tok && t->l.n < 8;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		assert_non_null(eq);
		*eq = '\0';
		t->kv[t->l.n++] = (struct kv){tok, eq + 1};
	}
	t->l.v = t->kv;
	t->wl.ns = ns;
	t->wl.labels = &t->l;
	return &t->wl;
}

static inline const char *verdict_name(bool allow)
{
	return allow ? "ALLOW" : "DENY";
}

/* Evaluate and compare; `what` names the case in the failure message. */
static inline void expect_at(const struct authz_set *s, const struct authz_workload *wl,
			     const struct authz_request *rq, bool allow, const char *what,
			     const char *file, int line)
{
	struct authz_decision dec;
	char buf[1024];

	authz_evaluate(s, wl, rq, &dec);
	authz_decision_format(&dec, buf, sizeof(buf));
	if (dec.allow != allow)
		fail_msg("%s:%d: %s: %s %s %s%s (port %u, %s): want %s, got %s", file, line, what,
			 rq->principal ? rq->principal : "plaintext", rq->tcp ? "TCP" : rq->method,
			 rq->tcp ? "" : rq->path, rq->host ? rq->host : "", rq->dest_port, wl->ns,
			 verdict_name(allow), buf);
}

#define expect(s, wl, rq, allow, what) expect_at(s, wl, rq, allow, what, __FILE__, __LINE__)
#define ALLOW			       true
#define DENY			       false

/* Read a whole file (NULL when it cannot be read); caller frees. */
static inline char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/*
 * Istio's own test inputs, kept in the repository at their upstream paths; relative to the
 * repository root, which tests/run.sh runs the tests from (like FIXTURES). The environment
 * variable SKIFF_CONFORMANCE_DIR points at another copy, e.g. a full Istio checkout.
 */
#define CONFORMANCE_DIR "tests/conformance/istio"

static inline const char *conformance_dir(void)
{
	const char *e = getenv("SKIFF_CONFORMANCE_DIR");

	return e && e[0] ? e : CONFORMANCE_DIR;
}

#endif
