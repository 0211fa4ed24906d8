// SPDX-License-Identifier: Apache-2.0
/*
 * meshConfig's tracing settings (the `spec.meshConfig` of an IstioOperator, model_istio_mesh.c):
 *   enableTracing                           (default true)
 *   defaultConfig.tracing.sampling          percent, 0..100 (Istio's default: 1)
 *   defaultConfig.tracing.zipkin.address    "host:port" of a Zipkin v2 collector
 *   extensionProviders[].zipkin|opentelemetry  {service, port} (opentelemetry: http.path)
 *   defaultProviders.tracing[0]             the provider used mesh-wide
 * Everything else of meshConfig belongs to other readers and is left alone here.
 */
#include <stdlib.h>
#include <string.h>

#include "model/model_istio_common.h"

void model_mesh_tracing_init(struct m_mesh_tracing *t)
{
	memset(t, 0, sizeof(*t));
	t->enabled = true;
	t->sampling = -1;
}

void model_mesh_tracing_free(struct m_mesh_tracing *t)
{
	for (size_t i = 0; i < t->nproviders; i++) {
		free(t->providers[i].name);
		free(t->providers[i].service);
		free(t->providers[i].path);
	}
	free(t->providers);
	free(t->zipkin_address);
	free(t->default_provider);
	free(t->file);
	model_mesh_tracing_init(t);
}

static void default_config(struct pctx *c, struct m_mesh_tracing *t, const struct ynode *mc)
{
	const struct ynode *tr = ynode_path(mc, "defaultConfig.tracing"), *zk;
	const char *p = "spec.meshConfig.defaultConfig.tracing";
	char path[128];
	double v;

	if (!tr)
		return;
	if (tr->kind != YNODE_MAP) {
		perr(c, tr, "%s must be a mapping", p);
		return;
	}
	if (istio_number(c, tr, "sampling", &v, pathf(path, sizeof(path), "%s.sampling", p)) == 1) {
		if (v < 0 || v > 100)
			perr(c, ynode_get(tr, "sampling"),
			     "%s.sampling %g must be a percentage between 0 and 100", p, v);
		else
			t->sampling = v;
	}
	zk = pget(c, tr, "zipkin", YNODE_MAP, false, pathf(path, sizeof(path), "%s.zipkin", p));
	if (zk)
		t->zipkin_address = pstr(c, zk, "address", false, "zipkin.address");
	if (t->zipkin_address && !strrchr(t->zipkin_address, ':'))
		perr(c, ynode_get(zk, "address"), "%s.zipkin.address \"%s\" must be host:port", p,
		     t->zipkin_address);
}

/* One extensionProviders entry; those that are not tracers are none of this file's business. */
static void provider(struct pctx *c, struct m_mesh_tracing *t, const struct ynode *e, size_t i)
{
	const struct ynode *zk = ynode_get(e, "zipkin"), *ot = ynode_get(e, "opentelemetry");
	const struct ynode *body = zk ? zk : ot;
	struct m_trace_provider *pv;
	char path[128];
	int64_t port;

	if (!body)
		return;
	pathf(path, sizeof(path), "spec.meshConfig.extensionProviders[%zu]", i);
	if (body->kind != YNODE_MAP) {
		perr(c, body, "%s.%s must be a mapping", path, zk ? "zipkin" : "opentelemetry");
		return;
	}
	pv = PUSH(t->providers, t->nproviders);
	pv->proto = zk ? M_TRACE_ZIPKIN : M_TRACE_OTLP;
	pv->name = pstr(c, e, "name", true, path);
	pv->service = pstr(c, body, "service", true, path);
	if (pint(c, body, "port", 1, 65535, &port, path) == 1)
		pv->port = (uint16_t)port;
	else
		perr(c, body, "%s: port is required (1-65535)", path);
	if (ot && !ynode_get(ot, "http"))
		pwarn(
		    c, ot,
		    "%s.opentelemetry has no http: skiffd exports OTLP over HTTP only, to port %u "
		    "(add http: {path: /v1/traces} and the collector's HTTP port, 4318)",
		    path, pv->port);
	if (ot && ynode_get(ot, "http"))
		pv->path = pstr(c, ynode_get(ot, "http"), "path", false, "http.path");
}

static void providers(struct pctx *c, struct m_mesh_tracing *t, const struct ynode *mc)
{
	const struct ynode *ep = pget(c, mc, "extensionProviders", YNODE_SEQ, false,
				      "spec.meshConfig.extensionProviders");
	const struct ynode *dp = ynode_path(mc, "defaultProviders.tracing");

	for (size_t i = 0; ep && i < ep->n; i++)
		provider(c, t, ep->items[i], i);
	if (!dp)
		return;
	if (dp->kind != YNODE_SEQ || (dp->n && !ynode_str(dp->items[0]))) {
		perr(c, dp, "spec.meshConfig.defaultProviders.tracing must be a list of names");
		return;
	}
	if (dp->n)
		t->default_provider = strdup(ynode_str(dp->items[0]));
	for (size_t i = 0; t->default_provider && i < t->nproviders; i++)
		if (t->providers[i].name && !strcmp(t->providers[i].name, t->default_provider))
			return;
	if (t->default_provider)
		perr(c, dp->items[0],
		     "spec.meshConfig.defaultProviders.tracing names \"%s\", which no "
		     "extensionProviders entry of kind zipkin or opentelemetry defines",
		     t->default_provider);
}

void parse_mesh_tracing(struct pctx *c, const struct ynode *mc)
{
	struct m_mesh_tracing *t = &c->m->tracing;
	bool on;

	t->file = strdup(mc->file ? mc->file : "?");
	t->line = mc->line;
	if (pbool(c, mc, "enableTracing", &on, "spec.meshConfig.enableTracing") == 1)
		t->enabled = on;
	default_config(c, t, mc);
	providers(c, t, mc);
}
