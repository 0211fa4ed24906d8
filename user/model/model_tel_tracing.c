// SPDX-License-Identifier: Apache-2.0
/*
 * Telemetry's `tracing` (telemetry.istio.io v1, v1alpha1): the sampling rate, whether spans are
 * reported, custom tags and the provider, per namespace or workload. Istio takes one entry per
 * resource and merges the levels field by field: the root namespace's Telemetry without a
 * selector, then the pod's namespace's without one, then the one whose selector matches the
 * pod; a later level's field replaces an earlier one's when it is set, and custom tags merge by
 * name. match.mode says which side the entry is for: the client's (the router's CLIENT span) or
 * the server's (the relay's SERVER span).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_istio_common.h"

static const char *const modes[] = {"CLIENT_AND_SERVER", "CLIENT", "SERVER", NULL};

static void tag_one(struct pctx *c, struct m_tel_tracing *t, const char *name,
		    const struct ynode *v, const char *path)
{
	static const char *const kinds[] = {"literal", "environment", "header", NULL};
	struct m_trace_tag *g;
	const struct ynode *body = NULL;
	char p[256], q[300];
	const char *key;
	int kind = -1;

	if (v->kind != YNODE_MAP) {
		perr(c, v, "%s must be a mapping with literal, environment or header", path);
		return;
	}
	punknown(c, v, kinds, path);
	for (int k = 0; kinds[k]; k++)
		if (ynode_get(v, kinds[k])) {
			if (body)
				perr(c, v, "%s: set one of literal, environment, header", path);
			body = ynode_get(v, kinds[k]);
			kind = k;
		}
	if (!body || body->kind != YNODE_MAP) {
		perr(c, v, "%s needs one of literal: {value}, environment: {name}, header: {name}",
		     path);
		return;
	}
	g = PUSH(t->tags, t->ntags);
	g->name = strdup(name);
	g->kind = (enum m_trace_tag_kind)kind;
	pathf(p, sizeof(p), "%s.%s", path, kinds[kind]);
	punknown(c, body,
		 kind == M_TAG_LITERAL ? (const char *const[]){"value", NULL}
				       : (const char *const[]){"name", "defaultValue", NULL},
		 p);
	key = kind == M_TAG_LITERAL ? "value" : "name";
	g->value = pstr(c, body, key, true, pathf(q, sizeof(q), "%s.%s", p, key));
	if (kind != M_TAG_LITERAL)
		g->def =
		    pstr(c, body, "defaultValue", false, pathf(q, sizeof(q), "%s.defaultValue", p));
}

static void tags(struct pctx *c, struct m_tel_tracing *t, const struct ynode *e)
{
	const struct ynode *m =
	    pget(c, e, "customTags", YNODE_MAP, false, "spec.tracing[0].customTags");
	char p[256];

	for (size_t i = 0; m && i < m->n; i++) {
		const char *name = m->keys[i];

		pathf(p, sizeof(p), "spec.tracing[0].customTags.%s", name ? name : "?");
		if (name)
			tag_one(c, t, name, m->items[i], p);
	}
}

static void providers(struct pctx *c, struct m_tel_tracing *t, const struct ynode *e)
{
	const struct ynode *ps =
	    pget(c, e, "providers", YNODE_SEQ, false, "spec.tracing[0].providers");
	char p[64];

	for (size_t i = 0; ps && i < ps->n; i++) {
		const struct ynode *pv = ps->items[i];
		char *name;

		pathf(p, sizeof(p), "spec.tracing[0].providers[%zu]", i);
		if (pv->kind != YNODE_MAP) {
			perr(c, pv, "%s must be a mapping with a name", p);
			continue;
		}
		punknown(c, pv, (const char *const[]){"name", NULL}, p);
		name = pstr(c, pv, "name", true, p);
		if (name)
			*PUSH(t->providers, t->nproviders) = name;
	}
	for (size_t i = 0; ps && i < e->n; i++)
		if (!strcmp(e->keys[i],
			    "providers")) /* the key's line: a block list starts below */
			t->providers_line = e->key_lines[i];
	if (t->nproviders > 1)
		perr(c, ps,
		     "spec.tracing[0].providers names %zu providers: skiffd sends a span to one "
		     "collector; name one",
		     t->nproviders);
}

void parse_tel_tracing(struct pctx *c, struct m_telemetry *tel, const struct ynode *seq)
{
	static const char *const known[] = {"providers",
					    "match",
					    "randomSamplingPercentage",
					    "disableSpanReporting",
					    "customTags",
					    "useRequestIdForTraceSampling",
					    NULL};
	struct m_tel_tracing *t = &tel->tracing;
	const struct ynode *e, *m;
	bool b;
	int i;

	t->sampling = -1;
	t->disable = -1;
	if (!seq || !seq->n)
		return;
	if (seq->n > 1) /* as Istio's validation says */
		perr(c, seq->items[1], "spec.tracing: multiple tracing entries are not supported");
	e = seq->items[0];
	t->line = e->line;
	if (e->kind != YNODE_MAP) {
		perr(c, e, "spec.tracing[0] must be a mapping");
		return;
	}
	tel->has_tracing = true;
	punknown(c, e, known, "spec.tracing[0]");
	providers(c, t, e);
	m = pget(c, e, "match", YNODE_MAP, false, "spec.tracing[0].match");
	if (m) {
		punknown(c, m, (const char *const[]){"mode", NULL}, "spec.tracing[0].match");
		i = istio_check_enum(c, m, "mode", modes, "spec.tracing[0].match.mode");
		t->mode = i >= 0 ? (enum m_log_mode)i : M_LOG_CLIENT_AND_SERVER;
	}
	if (istio_number(c, e, "randomSamplingPercentage", &t->sampling,
			 "spec.tracing[0].randomSamplingPercentage") == 1 &&
	    (t->sampling < 0 || t->sampling > 100)) {
		perr(c, ynode_get(e, "randomSamplingPercentage"),
		     "spec.tracing[0].randomSamplingPercentage %g must be between 0 and 100",
		     t->sampling);
		t->sampling = -1;
	}
	if (pbool(c, e, "disableSpanReporting", &b, "spec.tracing[0].disableSpanReporting") == 1)
		t->disable = b;
	if (pbool(c, e, "useRequestIdForTraceSampling", &b,
		  "spec.tracing[0].useRequestIdForTraceSampling") == 1 &&
	    !b)
		perr(c, ynode_get(e, "useRequestIdForTraceSampling"),
		     "spec.tracing[0].useRequestIdForTraceSampling: false is not supported: "
		     "skiffd draws the sampling decision per request, not from x-request-id; "
		     "remove the field");
	tags(c, t, e);
}

void free_tel_tracing(struct m_tel_tracing *t)
{
	istio_strlist_free(t->providers, t->nproviders);
	for (size_t i = 0; i < t->ntags; i++) {
		free(t->tags[i].name);
		free(t->tags[i].value);
		free(t->tags[i].def);
	}
	free(t->tags);
	memset(t, 0, sizeof(*t));
}

static bool selects(const struct m_telemetry *t, const struct m_pod *p, int level)
{
	if (t->has_target_ref || !t->has_tracing)
		return false;
	if (level == 2)
		return t->has_selector && t->selector.n && !strcmp(t->meta.ns, p->meta.ns) &&
		       labels_match(&t->selector, &p->meta.labels);
	return !t->has_selector || !t->selector.n;
}

/* The Telemetry of one level for pod p (0 mesh, 1 namespace, 2 workload; first read wins). */
static const struct m_telemetry *level_of(const struct model *m, const struct m_pod *p, int level)
{
	const char *ns = level == 0 ? m->root_namespace : p->meta.ns;

	if (level == 1 && !strcmp(ns, m->root_namespace))
		return NULL; /* the root namespace's pods: its mesh-wide one counted already */
	for (size_t i = 0; i < m->ntelemetries; i++)
		if (!strcmp(m->telemetries[i].meta.ns, ns) && selects(&m->telemetries[i], p, level))
			return &m->telemetries[i];
	return NULL;
}

static void merge_tag(struct m_trace_eff *out, const struct m_trace_tag *g)
{
	for (size_t i = 0; i < out->ntags; i++)
		if (!strcmp(out->tags[i]->name, g->name)) {
			out->tags[i] = g;
			return;
		}
	if (out->ntags < sizeof(out->tags) / sizeof(out->tags[0]))
		out->tags[out->ntags++] = g;
}

void model_tel_tracing_for(const struct model *m, const struct m_pod *p, bool server,
			   struct m_trace_eff *out)
{
	memset(out, 0, sizeof(*out));
	out->sampling = -1;
	for (int level = 0; p && level < 3; level++) {
		const struct m_telemetry *tel = level_of(m, p, level);
		const struct m_tel_tracing *t = tel ? &tel->tracing : NULL;

		if (!t || (t->mode == M_LOG_CLIENT && server) ||
		    (t->mode == M_LOG_SERVER && !server))
			continue;
		out->any = true;
		if (t->nproviders)
			out->provider = t->providers[0];
		if (t->sampling >= 0)
			out->sampling = t->sampling;
		if (t->disable >= 0)
			out->disable = t->disable;
		for (size_t i = 0; i < t->ntags; i++)
			merge_tag(out, &t->tags[i]);
	}
}

const char *model_tel_root_provider(const struct model *m)
{
	for (size_t i = 0; i < m->ntelemetries; i++) {
		const struct m_telemetry *t = &m->telemetries[i];

		if (!strcmp(t->meta.ns, m->root_namespace) && selects(t, NULL, 0) &&
		    t->tracing.nproviders)
			return t->tracing.providers[0];
	}
	return NULL;
}
