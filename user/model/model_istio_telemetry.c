// SPDX-License-Identifier: Apache-2.0
/*
 * Telemetry (telemetry.istio.io v1, v1alpha1): which workloads log their connections and
 * requests, and how they are traced (model_tel_tracing.c). metrics is read as present and
 * warned about.
 * A filter expression is parsed now, with the CEL subset skiffd evaluates (accesslog/al_cel.h):
 * one it cannot evaluate refuses the snapshot at its file:line rather than logging everything
 * or nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "accesslog/al_cel.h"
#include "model/model_istio_common.h"

static const char *const log_modes[] = {"CLIENT_AND_SERVER", "CLIENT", "SERVER", NULL};

_Static_assert(M_LOG_CLIENT_AND_SERVER == 0 && M_LOG_CLIENT == 1 && M_LOG_SERVER == 2,
	       "log_modes[] is indexed by enum m_log_mode");

static void tel_providers(struct pctx *c, struct m_access_logging *al, const struct ynode *e,
			  const char *path)
{
	char p[256];
	const struct ynode *ps =
	    pget(c, e, "providers", YNODE_SEQ, false, pathf(p, sizeof(p), "%s.providers", path));

	for (size_t i = 0; ps && i < ps->n; i++) {
		const struct ynode *pv = ps->items[i];
		char *name;

		pathf(p, sizeof(p), "%s.providers[%zu]", path, i);
		if (pv->kind != YNODE_MAP) {
			perr(c, pv, "%s must be a mapping with a name", p);
			continue;
		}
		punknown(c, pv, (const char *const[]){"name", NULL}, p);
		pathf(p, sizeof(p), "%s.providers[%zu].name", path, i);
		name = pstr(c, pv, "name", true, p);
		if (name)
			*PUSH(al->providers, al->nproviders) = name;
	}
}

static void tel_filter(struct pctx *c, struct m_access_logging *al, const struct ynode *e,
		       const char *path)
{
	char p[256], err[256];
	const struct ynode *f = pget(c, e, "filter", YNODE_MAP, false,
				     pathf(p, sizeof(p), "%s.filter", path)),
			   *x;
	struct al_cel *cel;

	if (!f)
		return;
	punknown(c, f, (const char *const[]){"expression", NULL}, p);
	pathf(p, sizeof(p), "%s.filter.expression", path);
	al->filter = pstr(c, f, "expression", true, p);
	if (!al->filter)
		return;
	x = ynode_get(f, "expression");
	if (al_cel_parse(al->filter, &cel, err, sizeof(err)) < 0) {
		perr(c, x,
		     "%s \"%s\": %s; skiffd evaluates only the CEL forms listed in "
		     "docs/observability.md, and refuses the rest rather than ignore them",
		     p, al->filter, err);
		return;
	}
	al_cel_free(cel);
}

static void tel_logging_one(struct pctx *c, struct m_telemetry *t, const struct ynode *e,
			    const char *path)
{
	static const char *const known[] = {"providers", "match", "disabled", "filter", NULL};
	struct m_access_logging *al = PUSH(t->logging, t->nlogging);
	const struct ynode *m;
	char p[256];
	int i;

	al->line = e->line;
	if (e->kind != YNODE_MAP) {
		perr(c, e, "%s must be a mapping", path);
		return;
	}
	punknown(c, e, known, path);
	tel_providers(c, al, e, path);
	pbool(c, e, "disabled", &al->disabled, pathf(p, sizeof(p), "%s.disabled", path));
	m = pget(c, e, "match", YNODE_MAP, false, pathf(p, sizeof(p), "%s.match", path));
	if (m) {
		punknown(c, m, (const char *const[]){"mode", NULL}, p);
		i = istio_check_enum(c, m, "mode", log_modes,
				     pathf(p, sizeof(p), "%s.match.mode", path));
		al->mode = i >= 0 ? (enum m_log_mode)i : M_LOG_CLIENT_AND_SERVER;
	}
	tel_filter(c, al, e, path);
}

static void tel_target(struct pctx *c, struct m_telemetry *t, const struct ynode *spec)
{
	const struct ynode *one = ynode_get(spec, "targetRef");
	const struct ynode *many = ynode_get(spec, "targetRefs");
	const struct ynode *at = one ? one : many;
	const char *kind;

	if (!at)
		return;
	t->has_target_ref = true;
	if (t->has_selector)
		perr(c, at, "spec.selector and spec.%s are exclusive: keep one",
		     one ? "targetRef" : "targetRefs");
	kind = ynode_str(ynode_get(one					? one
				   : many->kind == YNODE_SEQ && many->n ? many->items[0]
									: NULL,
				   "kind"));
	pwarn(c, at,
	      "spec.%s names a %s, which skiff does not run: this Telemetry applies to "
	      "no workload here",
	      one ? "targetRef" : "targetRefs", kind ? kind : "resource");
}

int parse_telemetry(struct pctx *c)
{
	static const char *const known[] = {"selector", "targetRef", "targetRefs", "accessLogging",
					    "tracing",	"metrics",   NULL};
	const struct ynode *spec, *n;
	struct m_telemetry *t;
	int errors = c->errors;
	char p[64];

	t = PUSH(c->m->telemetries, c->m->ntelemetries);
	pmeta(c, &t->meta, true);
	spec = pget(c, c->doc, "spec", YNODE_MAP, false, "spec");
	if (!spec)
		return c->errors > errors ? -EINVAL : 0;
	punknown(c, spec, known, "spec");
	n = pget(c, spec, "selector", YNODE_MAP, false, "spec.selector");
	if (n) {
		t->has_selector = true;
		punknown(c, n, (const char *const[]){"matchLabels", NULL}, "spec.selector");
		plabels(c, n, "matchLabels", &t->selector, "spec.selector.matchLabels");
	}
	tel_target(c, t, spec);
	if (ynode_get(spec, "metrics"))
		pwarn(c, ynode_get(spec, "metrics"),
		      "spec.metrics is not applied by skiffd yet (accessLogging and tracing are)");
	parse_tel_tracing(c, t, pget(c, spec, "tracing", YNODE_SEQ, false, "spec.tracing"));
	n = pget(c, spec, "accessLogging", YNODE_SEQ, false, "spec.accessLogging");
	t->has_logging = n != NULL;
	for (size_t i = 0; n && i < n->n; i++)
		tel_logging_one(c, t, n->items[i],
				pathf(p, sizeof(p), "spec.accessLogging[%zu]", i));
	return c->errors > errors ? -EINVAL : 0;
}

void free_telemetry_resources(struct model *m)
{
	for (size_t i = 0; i < m->ntelemetries; i++) {
		struct m_telemetry *t = &m->telemetries[i];

		meta_free(&t->meta);
		labels_free(&t->selector);
		for (size_t j = 0; j < t->nlogging; j++) {
			istio_strlist_free(t->logging[j].providers, t->logging[j].nproviders);
			free(t->logging[j].filter);
		}
		free(t->logging);
		free_tel_tracing(&t->tracing);
	}
	free(m->telemetries);
	m->telemetries = NULL;
	m->ntelemetries = 0;
}
