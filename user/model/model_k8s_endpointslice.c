// SPDX-License-Identifier: Apache-2.0
/*
 * EndpointSlice: the backends of a Service, as the endpoint controller (or skiff-lab) writes
 * them. One address family per slice; FQDN slices name hosts, not addresses, so skiffd has no use
 * for them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_k8s.h"
#include "model/model_pool.h"

static const char *const eps_top_known[] = {"apiVersion", "kind",  "metadata", "addressType",
					    "endpoints",  "ports", NULL};
static const char *const eps_endpoint_known[] = {"addresses", "conditions", "deprecatedTopology",
						 "hints",     "hostname",   "nodeName",
						 "targetRef", "zone",	    NULL};
static const char *const eps_port_known[] = {"appProtocol", "name", "port", "protocol", NULL};

static void eps_addresses(struct pctx *c, struct m_endpoint *ep, int family, const struct ynode *e,
			  const char *epath)
{
	char path[80];
	const struct ynode *addrs;

	snprintf(path, sizeof(path), "%s.addresses", epath);
	addrs = pget(c, e, "addresses", YNODE_SEQ, true, path);
	for (size_t i = 0; addrs && i < addrs->n; i++) {
		snprintf(path, sizeof(path), "%s.addresses[%zu]", epath, i);
		if (pip(c, addrs->items[i], family, path) > 0)
			*PUSH(ep->addresses, ep->naddresses) = strdup(addrs->items[i]->scalar);
	}
}

static void eps_endpoint(struct pctx *c, struct m_endpointslice *s, const struct ynode *e, size_t i)
{
	struct m_endpoint ep = {.ready = true};
	const struct ynode *ref;
	const char *kind;
	char path[48], fpath[80];

	snprintf(path, sizeof(path), "endpoints[%zu]", i);
	if (e->kind != YNODE_MAP) {
		perr(c, e, "%s must be a mapping, not a %s", path, ynode_kind_name(e->kind));
		return;
	}
	punknown(c, e, eps_endpoint_known, path);
	eps_addresses(c, &ep, s->family, e, path);
	snprintf(fpath, sizeof(fpath), "%s.conditions", path);
	if (pget(c, e, "conditions", YNODE_MAP, false, fpath)) {
		snprintf(fpath, sizeof(fpath), "%s.conditions.ready", path);
		pbool(c, ynode_get(e, "conditions"), "ready", &ep.ready, fpath);
	}
	snprintf(fpath, sizeof(fpath), "%s.targetRef", path);
	ref = pget(c, e, "targetRef", YNODE_MAP, false, fpath);
	kind = ynode_str(ynode_get(ref, "kind"));
	if (kind && !strcmp(kind, "Pod")) {
		snprintf(fpath, sizeof(fpath), "%s.targetRef.name", path);
		ep.pod_name = pstr(c, ref, "name", true, fpath);
	}
	snprintf(fpath, sizeof(fpath), "%s.nodeName", path);
	/* a hundred nodes among 50,000 endpoints: one copy each */
	ep.node_name = model_pool_take(c->m, pstr(c, e, "nodeName", false, fpath));
	*PUSH(s->endpoints, s->nendpoints) = ep;
}

static void eps_port(struct pctx *c, struct m_endpointslice *s, const struct ynode *pt, size_t i)
{
	struct m_endpoint_port ep = {0};
	char path[48], fpath[80];
	int64_t v;

	snprintf(path, sizeof(path), "ports[%zu]", i);
	if (pt->kind != YNODE_MAP) {
		perr(c, pt, "%s must be a mapping, not a %s", path, ynode_kind_name(pt->kind));
		return;
	}
	punknown(c, pt, eps_port_known, path);
	snprintf(fpath, sizeof(fpath), "%s.port", path);
	/* an absent port means "all ports" in the API; we keep 0 and let the compiler decide */
	if (pint(c, pt, "port", 1, 65535, &v, fpath) == 1)
		ep.port = (uint16_t)v;
	snprintf(fpath, sizeof(fpath), "%s.protocol", path);
	pproto(c, pt, "protocol", &ep.proto, fpath);
	snprintf(fpath, sizeof(fpath), "%s.name", path);
	ep.name = pstr(c, pt, "name", false, fpath);
	*PUSH(s->ports, s->nports) = ep;
}

/* 4, 6, 0 for FQDN (skipped), -1 on error. */
static int eps_family(struct pctx *c)
{
	const struct ynode *t = pget(c, c->doc, "addressType", YNODE_SCALAR, true, NULL);

	if (!t)
		return -1;
	if (!strcmp(t->scalar, "IPv4"))
		return 4;
	if (!strcmp(t->scalar, "IPv6"))
		return 6;
	if (!strcmp(t->scalar, "FQDN")) {
		pwarn(c, t, "addressType FQDN is not used by skiffd, skipped");
		return 0;
	}
	perr(c, t, "addressType %s must be IPv4, IPv6 or FQDN", t->scalar);
	return -1;
}

static void eps_body(struct pctx *c, struct m_endpointslice *s)
{
	const struct ynode *seq;
	const char *svc;

	punknown(c, c->doc, eps_top_known, "");
	svc = labels_get(&s->meta.labels, "kubernetes.io/service-name");
	if (!svc || !svc[0])
		perr(c, ynode_get(c->doc, "metadata"),
		     "metadata.labels: kubernetes.io/service-name is required (the Service this "
		     "slice belongs to)");
	else
		s->service_name = strdup(svc);
	seq = pget(c, c->doc, "endpoints", YNODE_SEQ, false, NULL);
	for (size_t i = 0; seq && i < seq->n; i++)
		eps_endpoint(c, s, seq->items[i], i);
	seq = pget(c, c->doc, "ports", YNODE_SEQ, false, NULL);
	for (size_t i = 0; seq && i < seq->n; i++)
		eps_port(c, s, seq->items[i], i);
}

int parse_endpointslice(struct pctx *c)
{
	struct m_endpointslice s = {0};
	int before = c->errors;

	pmeta(c, &s.meta, true);
	s.family = eps_family(c);
	if (s.family > 0)
		eps_body(c, &s);
	if (c->errors > before || s.family <= 0) {
		k8s_endpointslice_free(&s);
		return c->errors > before ? -EINVAL : 0;
	}
	*PUSH(c->m->endpointslices, c->m->nendpointslices) = s;
	return 0;
}

void k8s_endpointslice_free(struct m_endpointslice *s)
{
	meta_free(&s->meta);
	free(s->service_name);
	for (size_t i = 0; i < s->nendpoints; i++) {
		struct m_endpoint *e = &s->endpoints[i];

		for (size_t k = 0; k < e->naddresses; k++)
			free(e->addresses[k]);
		free(e->addresses);
		free(e->pod_name);
	}
	free(s->endpoints);
	for (size_t i = 0; i < s->nports; i++)
		free(s->ports[i].name);
	free(s->ports);
	memset(s, 0, sizeof(*s));
}
