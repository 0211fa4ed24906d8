// SPDX-License-Identifier: Apache-2.0
/*
 * skiffctl analyze [-n NS | -A] [-f FILE|DIR ...] [DIR] [--live [ADDR]] [-o text|json|yaml]
 *                  [--output-threshold L] [--failure-threshold L] [--node NAME] [--analyzer A]
 *
 * --live analyzes the objects the running skiffd holds (its admin endpoint, 127.0.0.1:15000 by
 * default), with the files given applied on top: a file's object replaces skiffd's object of
 * the same kind, namespace and name, as `kubectl apply` would before skiffd saw it.
 *
 * Exit codes follow istioctl: 79 when a message at or above the failure threshold (default
 * Error) is found, 0 otherwise; 2 for a usage error, 1 when an input cannot be read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/analyze.h"
#include "analyze/analyze_live.h"
#include "compile/compile.h"

#define ANALYZE_EXIT_ISSUES 79
#define MAX_PATHS	    64

struct an_args {
	const char *paths[MAX_PATHS];
	size_t npaths;
	const char *ns;	  /* NULL: every namespace */
	const char *live; /* skiffd's admin HOST:PORT, NULL: files only */
	const char *output, *node, *analyzer;
	enum an_level out_min, fail_min;
};

static int no_cgroup(void *ctx, const struct m_pod *pod, uint64_t *id)
{
	(void)ctx;
	(void)pod;
	(void)id;
	return -ENOENT;
}

/* What skiffd would also refuse or warn about when compiling this node's view (limits, pods
 * without ready endpoints, JWT attributes): only for a configuration the analyzers found no
 * Error in, since the compiler needs a valid model. */
static void compile_check(struct model *m, const char *node, struct an_result *r)
{
	struct node_view v = {0};
	struct diag d = {0};
	size_t k;

	compile_node_view(m, node, no_cgroup, NULL, &v, &d); /* compiles the policies too */
	analyze_from_diag(&d, 0, SKF0008, SKF0009, r);
	/* SKF0002 already says what the compiler says about CUSTOM */
	k = 0;
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].code == SKF0009 && strstr(r->v[i].text, "action CUSTOM"))
			analyze_msg_free(&r->v[i]);
		else
			r->v[k++] = r->v[i];
	}
	r->n = k;
	node_view_free(&v);
	diag_free(&d);
}

static bool has_errors(const struct an_result *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (analyze_code(r->v[i].code)->level == AN_ERROR)
			return true;
	return false;
}

/* -n NS keeps messages about objects of NS, about the Namespace NS itself, and about files. */
static void filter_namespace(struct an_result *r, const char *ns)
{
	size_t k = 0;

	for (size_t i = 0; i < r->n; i++) {
		struct an_msg *m = &r->v[i];

		if (!strcmp(m->ns, ns) || !m->kind[0] ||
		    (!strcmp(m->kind, "Namespace") && !strcmp(m->name, ns)))
			r->v[k++] = *m;
		else
			analyze_msg_free(m);
	}
	r->n = k;
}

static int usage(FILE *err, const char *why)
{
	fprintf(
	    err,
	    "skiffctl analyze: %s\n"
	    "usage: skiffctl analyze [-n NS | -A] [-f FILE|DIR]... [DIR] [--live [ADDR]]\n"
	    "         [-o text|json|yaml] [--output-threshold Info|Warning|Error]\n"
	    "         [--failure-threshold Info|Warning|Error] [--node NAME] [--analyzer NAME]\n",
	    why);
	return 2;
}

static int parse_level(const char *s, enum an_level *out, FILE *err)
{
	if (!s || analyze_level_parse(s, out)) {
		fprintf(err, "skiffctl analyze: threshold \"%s\" is not Info, Warning or Error\n",
			s ? s : "");
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct an_args *a, FILE *err)
{
	memset(a, 0, sizeof(*a));
	a->output = "text";
	a->out_min = AN_INFO;
	a->fail_min = AN_ERROR;
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!o) /* never below argc; says so to clang's analyzer, which doubts it */
			break;

		if (!strcmp(o, "-A") || !strcmp(o, "--all-namespaces")) {
			a->ns = NULL;
		} else if (!strcmp(o, "--live")) {
			a->live =
			    v && v[0] != '-' && strchr(v, ':') ? argv[++i] : "127.0.0.1:15000";
		} else if (o[0] == '-' && !v) {
			return usage(err, "option needs a value"), -1;
		} else if (!strcmp(o, "-n") || !strcmp(o, "--namespace")) {
			a->ns = argv[++i];
		} else if (!strcmp(o, "-f") || !strcmp(o, "--file")) {
			if (a->npaths == MAX_PATHS)
				return usage(err, "too many -f"), -1;
			a->paths[a->npaths++] = argv[++i];
		} else if (!strcmp(o, "-o") || !strcmp(o, "--output")) {
			a->output = argv[++i];
		} else if (!strcmp(o, "--output-threshold")) {
			if (parse_level(argv[++i], &a->out_min, err))
				return -1;
		} else if (!strcmp(o, "--failure-threshold")) {
			if (parse_level(argv[++i], &a->fail_min, err))
				return -1;
		} else if (!strcmp(o, "--node")) {
			a->node = argv[++i];
		} else if (!strcmp(o, "--analyzer")) {
			a->analyzer = argv[++i];
		} else if (o[0] == '-') {
			return usage(err, "unknown option"), -1;
		} else if (a->npaths < MAX_PATHS) {
			a->paths[a->npaths++] = o; /* `skiffctl analyze DIR`, the older form */
		}
	}
	if (strcmp(a->output, "text") && strcmp(a->output, "json") && strcmp(a->output, "yaml"))
		return usage(err, "-o takes text, json or yaml"), -1;
	if (!a->npaths && !a->live)
		return usage(err, "nothing to analyze: give -f FILE|DIR and/or --live"), -1;
	return 0;
}

static int run(const struct an_args *a, struct an_result *r, FILE *err)
{
	const struct analyzer *only = NULL;
	struct ydoc_set live_docs = {0};
	struct an_live live = {0};
	struct model m;
	struct diag d = {0};
	int rc;

	if (a->analyzer && !(only = analyze_find(a->analyzer)))
		return fprintf(err, "skiffctl analyze: no analyzer \"%s\"\n", a->analyzer), 2;
	if (a->live && analyze_live_fetch(a->live, &live_docs, &live, err) < 0) {
		ydoc_set_free(&live_docs);
		return 1;
	}
	rc = analyze_load(a->paths, a->npaths, a->live ? &live_docs : NULL, &m, r, &d);
	for (size_t i = 0; i < d.n; i++)
		fprintf(err, "skiffctl analyze: %s\n", d.v[i].msg);
	diag_free(&d);
	if (rc >= 0) {
		analyze_run(&m, only, r);
		if (a->live && !only)
			analyze_live_pods(&m, &live, r);
		/* after an Error the compiler would only repeat it in its own words */
		if (!only && !has_errors(r))
			compile_check(&m, a->node ? a->node : live.node ? live.node : "node-1", r);
	}
	model_free(&m);
	analyze_live_free(&live);
	return rc < 0 ? 1 : 0;
}

int analyze_cli(int argc, char **argv, FILE *out, FILE *err)
{
	struct an_result r = {0};
	struct an_args a;
	int rc;

	if (parse_args(argc, argv, &a, err))
		return 2;
	rc = run(&a, &r, err);
	if (rc) {
		analyze_result_free(&r);
		return rc;
	}
	if (a.ns)
		filter_namespace(&r, a.ns);
	analyze_result_sort(&r);
	if (!strcmp(a.output, "json"))
		analyze_print_json(out, &r, a.out_min);
	else if (!strcmp(a.output, "yaml"))
		analyze_print_yaml(out, &r, a.out_min);
	else
		analyze_print_text(out, &r, a.out_min);
	for (size_t i = 0; i < r.n; i++)
		if (analyze_code(r.v[i].code)->level >= a.fail_min)
			rc = ANALYZE_EXIT_ISSUES;
	analyze_result_free(&r);
	return rc;
}
