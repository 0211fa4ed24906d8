// SPDX-License-Identifier: Apache-2.0
/*
 * meshConfig's tracing settings (the model's m_mesh_tracing) into the exporter's configuration,
 * on each snapshot. The collector is the default provider's (defaultProviders.tracing), else
 * defaultConfig.tracing.zipkin.address. A host that names a Service of the model
 * ("zipkin.istio-system", its FQDN) is reached at a ready endpoint of the Service's port: skiffd
 * sits on the node, outside the pods' resolver and the VIPs their connect() is balanced on.
 * Any other host goes to libcurl as written (an address, or a name the node resolves).
 * The Telemetry resources' per-pod settings (sampling, reporting, custom tags) are installed
 * with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_state.h"
#include "tracing/tracing.h"

/* The Service port's slice port: by name, else the only one. */
static bool slice_port(const struct m_endpointslice *es, const struct m_service_port *sp,
		       uint16_t *out)
{
	for (size_t i = 0; i < es->nports; i++)
		if ((sp->name && es->ports[i].name && !strcmp(sp->name, es->ports[i].name)) ||
		    es->nports == 1) {
			*out = es->ports[i].port;
			return true;
		}
	return false;
}

/* A ready endpoint of Service port `port` of the Service `host` names: "ip:port" in out. */
static bool service_endpoint(const struct model *m, const char *host, uint16_t port, char *out,
			     size_t len)
{
	const struct m_service *svc = model_resolve_host(m, m->root_namespace, host);
	const struct m_service_port *sp = NULL;

	for (size_t i = 0; svc && i < svc->nports; i++)
		if (svc->ports[i].port == port)
			sp = &svc->ports[i];
	for (size_t i = 0; sp && i < m->nendpointslices; i++) {
		const struct m_endpointslice *es = &m->endpointslices[i];
		uint16_t p;

		if (!es->service_name || strcmp(es->service_name, svc->meta.name) ||
		    strcmp(es->meta.ns, svc->meta.ns) || !slice_port(es, sp, &p))
			continue;
		for (size_t k = 0; k < es->nendpoints; k++)
			if (es->endpoints[k].ready && es->endpoints[k].naddresses) {
				snprintf(out, len, es->family == 6 ? "[%s]:%u" : "%s:%u",
					 es->endpoints[k].addresses[0], p);
				return true;
			}
	}
	return false;
}

/* "http://<host:port><path>", the host resolved through the model when it is a Service. */
static void collector_url(const struct model *m, const char *host, uint16_t port, const char *path,
			  char *out, size_t len)
{
	char ep[300];

	if (!service_endpoint(m, host, port, ep, sizeof(ep)))
		snprintf(ep, sizeof(ep), "%s:%u", host, port);
	snprintf(out, len, "http://%s%s", ep, path);
}

/* The collector's provider: defaultProviders.tracing, else the root namespace's Telemetry's
 * (Istio's usual mesh-wide tracing setup); the model refused any other one. */
static const char *t_provider(const struct model *m)
{
	return m->tracing.default_provider ? m->tracing.default_provider
					   : model_tel_root_provider(m);
}

static void from_provider(const struct model *m, const struct m_trace_provider *pv,
			  struct tracing_config *c)
{
	c->proto = pv->proto == M_TRACE_OTLP ? TRACE_PROTO_OTLP : TRACE_PROTO_ZIPKIN;
	collector_url(m, pv->service, pv->port,
		      pv->path			     ? pv->path
		      : c->proto == TRACE_PROTO_OTLP ? "/v1/traces"
						     : "/api/v2/spans",
		      c->url, sizeof(c->url));
}

/* One pod's side as the Telemetry resources set it; false when none speaks for it. An
 * environment tag is read now, from skiffd's environment: skiffd is the pod's proxy here. */
static bool workload_of(const struct model *m, const struct m_pod *p, enum trace_kind k,
			struct trace_workload *w)
{
	struct m_trace_eff e;

	model_tel_tracing_for(m, p, k == TRACE_SERVER, &e);
	if (!e.any)
		return false;
	memset(w, 0, sizeof(*w));
	snprintf(w->pod, sizeof(w->pod), "%s/%s", p->meta.ns, p->meta.name);
	w->kind = k;
	w->sampling = e.sampling;
	w->disable = e.disable;
	w->tags = calloc(e.ntags ? e.ntags : 1, sizeof(*w->tags));
	for (size_t i = 0; w->tags && i < e.ntags; i++) {
		const struct m_trace_tag *g = e.tags[i];
		struct trace_custom_tag *o = &w->tags[w->ntags];
		const char *v = g->kind == M_TAG_ENV ? getenv(g->value) : g->value;

		if (g->kind == M_TAG_ENV && !v)
			v = g->def;
		if (!v || !g->name)
			continue;
		o->name = strdup(g->name);
		o->value = strdup(v);
		o->def = g->kind == M_TAG_HEADER && g->def ? strdup(g->def) : NULL;
		o->header = g->kind == M_TAG_HEADER;
		w->ntags++;
	}
	return true;
}

static void apply_workloads(const struct model *m)
{
	struct trace_workload *v = calloc(2 * m->npods + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; v && i < m->npods; i++)
		for (int k = TRACE_CLIENT; k <= TRACE_SERVER; k++)
			if (workload_of(m, &m->pods[i], (enum trace_kind)k, &v[n]))
				n++;
	tracing_set_workloads(v, n);
}

void agent_tracing_apply(struct agent *a, const struct model *m)
{
	const char *provider = t_provider(m);
	const struct m_mesh_tracing *t = &m->tracing;
	struct tracing_config c;
	char host[256];
	const char *colon;

	memset(&c, 0, sizeof(c)); /* compared whole, padding included */
	c.sampling = t->sampling >= 0 ? t->sampling : TRACE_DEFAULT_SAMPLING;
	snprintf(c.node, sizeof(c.node), "skiffd~%s", a->o->node ? a->o->node : "-");
	for (size_t i = 0; t->enabled && provider && i < t->nproviders; i++)
		if (t->providers[i].name && !strcmp(t->providers[i].name, provider))
			from_provider(m, &t->providers[i], &c);
	if (t->enabled && c.proto == TRACE_PROTO_NONE && t->zipkin_address) {
		colon = strrchr(t->zipkin_address, ':');
		snprintf(host, sizeof(host), "%.*s", (int)(colon - t->zipkin_address),
			 t->zipkin_address);
		c.proto = TRACE_PROTO_ZIPKIN;
		collector_url(m, host, (uint16_t)atoi(colon + 1), "/api/v2/spans", c.url,
			      sizeof(c.url));
	}
	tracing_configure(&c);
	apply_workloads(m);
	/* said once per change, not on every reload (EndpointSlices churn) */
	if (!a->tracing_said || memcmp(&c, &a->tracing_logged, sizeof(c))) {
		if (c.proto != TRACE_PROTO_NONE)
			agent_log("info", "tracing: %s spans to %s, sampling %g %%",
				  c.proto == TRACE_PROTO_OTLP ? "OTLP" : "Zipkin", c.url,
				  c.sampling);
		else
			agent_log("info", "tracing: no collector configured; requests get ids and "
					  "trace headers, no span is exported");
		memcpy(&a->tracing_logged, &c, sizeof(c));
		a->tracing_said = true;
	}
}
