// SPDX-License-Identifier: Apache-2.0
/*
 * Istio checks that need the whole model, and freeing of the Istio resources.
 *
 * Subset references (VirtualService -> DestinationRule) are checked by the compiler, which knows
 * which Service a host resolves to. What is left here: a mirror must name a Service (an error),
 * and configurations Istio accepts but resolves at run time in a way users rarely intend (warnings).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/parse.h"

static bool authz_selects_same(const struct model *m, const struct m_authorizationpolicy *a,
			       const struct m_authorizationpolicy *b)
{
	bool a_root = !strcmp(a->meta.ns, m->root_namespace);
	bool b_root = !strcmp(b->meta.ns, m->root_namespace);

	if (strcmp(a->meta.ns, b->meta.ns) && !a_root && !b_root)
		return false;
	return labels_match(&a->selector, &b->selector) || labels_match(&b->selector, &a->selector);
}

/*
 * Two CUSTOM policies with different providers for the same workloads: Istio (without
 * PILOT_ENABLE_MULTIPLE_CUSTOM_AUTHZ_PROVIDERS) denies the requests they match
 * (builder testdata custom-bad-multiple-providers). Valid config, so a warning.
 */
static void warn_custom_providers(struct model *m, struct diag *d)
{
	for (size_t i = 0; i < m->nauthorizationpolicies; i++) {
		const struct m_authorizationpolicy *a = &m->authorizationpolicies[i];

		if (a->action != AUTHZ_CUSTOM || !a->provider)
			continue;
		for (size_t j = i + 1; j < m->nauthorizationpolicies; j++) {
			const struct m_authorizationpolicy *b = &m->authorizationpolicies[j];

			if (b->action != AUTHZ_CUSTOM || !b->provider ||
			    !strcmp(a->provider, b->provider) || !authz_selects_same(m, a, b))
				continue;
			diag_add(d, DIAG_WARN, b->meta.file, b->meta.line,
				 "AuthorizationPolicy %s/%s: CUSTOM provider \"%s\" differs from "
				 "provider \"%s\" of %s/%s (%s:%d) for the same workloads; Istio "
				 "denies requests matched by either: use one provider per workload",
				 b->meta.ns, b->meta.name, b->provider, a->provider, a->meta.ns,
				 a->meta.name, a->meta.file, a->meta.line);
		}
	}
}

/*
 * A mirror copies requests to a Service of the mesh; one that names no Service would copy them
 * nowhere, which is a typo rather than a choice, so the whole config is refused.
 */
static int check_mirror_hosts(const struct model *m, const struct m_virtualservice *vs,
			      struct diag *d)
{
	int rc = 0;

	for (size_t i = 0; i < vs->nhttp; i++) {
		const struct m_http_route *h = vs->http[i].h;

		for (size_t k = 0; h && k < h->nmirrors; k++) {
			const struct m_destination *dst = &h->mirrors[k].dest;

			if (!dst->host || model_resolve_host(m, vs->meta.ns, dst->host))
				continue;
			diag_add(
			    d, DIAG_ERROR, vs->meta.file, h->mirrors[k].line,
			    "VirtualService %s/%s: spec.http[%zu] mirrors to \"%s\", which is "
			    "no Service of the mesh; name an existing Service (name, name.ns or "
			    "its FQDN)",
			    vs->meta.ns, vs->meta.name, i, dst->host);
			rc = -EINVAL;
		}
	}
	return rc;
}

static bool tracing_provider_known(const struct model *m, const char *name)
{
	for (size_t i = 0; i < m->tracing.nproviders; i++)
		if (m->tracing.providers[i].name && !strcmp(m->tracing.providers[i].name, name))
			return true;
	return false;
}

/*
 * Telemetry tracing providers: each must be a zipkin or opentelemetry extensionProvider, and
 * all the same one, since one exporter per node sends every span it makes: the mesh's
 * defaultProviders.tracing, else the one the root namespace's Telemetry names.
 */
static int check_tel_tracing(const struct model *m, struct diag *d)
{
	const char *node =
	    m->tracing.default_provider ? m->tracing.default_provider : model_tel_root_provider(m);
	int rc = 0;

	for (size_t i = 0; i < m->ntelemetries; i++) {
		const struct m_telemetry *t = &m->telemetries[i];
		const char *name = t->tracing.nproviders ? t->tracing.providers[0] : NULL;

		if (!name)
			continue;
		if (!tracing_provider_known(m, name)) {
			diag_add(
			    d, DIAG_ERROR, t->meta.file, t->tracing.providers_line,
			    "Telemetry %s/%s: spec.tracing[0].providers names \"%s\", which no "
			    "meshConfig extensionProviders entry of kind zipkin or "
			    "opentelemetry defines",
			    t->meta.ns, t->meta.name, name);
			rc = -EINVAL;
		} else if (node && strcmp(name, node)) {
			diag_add(d, DIAG_ERROR, t->meta.file, t->tracing.providers_line,
				 "Telemetry %s/%s: spec.tracing[0].providers names \"%s\", but "
				 "skiffd sends every span of a node to one collector, \"%s\" (the "
				 "mesh's defaultProviders.tracing, else the root namespace's "
				 "Telemetry): name that one or none",
				 t->meta.ns, t->meta.name, name, node);
			rc = -EINVAL;
		}
	}
	return rc;
}

int validate_istio(struct model *m, struct diag *d)
{
	int rc = 0;

	if (check_tel_tracing(m, d) < 0)
		rc = -EINVAL;

	warn_custom_providers(m, d);
	for (size_t i = 0; i < m->nvirtualservices; i++)
		if (check_mirror_hosts(m, &m->virtualservices[i], d) < 0)
			rc = -EINVAL;
	return rc;
}

static void strlist_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void unenforced_free(struct m_unenforced *u, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(u[i].field);
	free(u);
}

static void routes_free(struct m_route *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < r[i].ndests; j++) {
			free(r[i].dests[j].host);
			free(r[i].dests[j].subset);
			m_headers_free(r[i].dests[j].headers);
		}
		free(r[i].dests);
		free(r[i].ports);
		m_http_route_free(r[i].h);
	}
	free(r);
}

static void vs_free(struct m_virtualservice *vs)
{
	meta_free(&vs->meta);
	strlist_free(vs->hosts, vs->nhosts);
	strlist_free(vs->gateways, vs->ngateways);
	routes_free(vs->http, vs->nhttp);
	routes_free(vs->tcp, vs->ntcp);
	unenforced_free(vs->unenforced, vs->nunenforced);
}

static void dr_free(struct m_destinationrule *dr)
{
	meta_free(&dr->meta);
	free(dr->host);
	model_traffic_policy_free(&dr->tp);
	for (size_t i = 0; i < dr->nsubsets; i++) {
		free(dr->subsets[i].name);
		labels_free(&dr->subsets[i].labels);
		model_traffic_policy_free(&dr->subsets[i].tp);
	}
	free(dr->subsets);
	labels_free(&dr->workload_selector);
	unenforced_free(dr->unenforced, dr->nunenforced);
}

void free_istio_resources(struct model *m)
{
	for (size_t i = 0; i < m->nvirtualservices; i++)
		vs_free(&m->virtualservices[i]);
	free(m->virtualservices);
	for (size_t i = 0; i < m->ndestinationrules; i++)
		dr_free(&m->destinationrules[i]);
	free(m->destinationrules);
	for (size_t i = 0; i < m->npeerauthentications; i++) {
		meta_free(&m->peerauthentications[i].meta);
		labels_free(&m->peerauthentications[i].selector);
		free(m->peerauthentications[i].ports);
	}
	free(m->peerauthentications);
	for (size_t i = 0; i < m->nauthorizationpolicies; i++) {
		meta_free(&m->authorizationpolicies[i].meta);
		labels_free(&m->authorizationpolicies[i].selector);
		free(m->authorizationpolicies[i].provider);
	}
	free(m->authorizationpolicies);
	m->virtualservices = NULL;
	m->destinationrules = NULL;
	m->peerauthentications = NULL;
	m->authorizationpolicies = NULL;
	m->nvirtualservices = m->ndestinationrules = 0;
	m->npeerauthentications = m->nauthorizationpolicies = 0;
}
