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

/* The endpoint's valid addresses (the tree's strings, in a new array; caller frees it). */
static size_t eps_addresses(struct pctx *c, int family, const struct ynode *e, const char *epath,
			    const char ***out)
{
	char path[80];
	const struct ynode *addrs;
	size_t n = 0;

	*out = NULL;
	snprintf(path, sizeof(path), "%s.addresses", epath);
	addrs = pget(c, e, "addresses", YNODE_SEQ, true, path);
	for (size_t i = 0; addrs && i < addrs->n; i++) {
		snprintf(path, sizeof(path), "%s.addresses[%zu]", epath, i);
		if (pip(c, addrs->items[i], family, path) > 0)
			*PUSH(*out, n) = addrs->items[i]->scalar;
	}
	return n;
}

/*
 * An endpoint's address array, its addresses and its pod's name in one allocation, held by
 * ep->addresses (even with no address): with 50,000 endpoints, three blocks each (an array
 * with room for four, a short string, a name) cost about 3 MB more than one.
 */
static void eps_pack(struct m_endpoint *ep, const char *const *addrs, size_t n, const char *pod)
{
	size_t len = n * sizeof(char *) + (pod ? strlen(pod) + 1 : 0);
	char *p;

	for (size_t i = 0; i < n; i++)
		len += strlen(addrs[i]) + 1;
	if (!len)
		return;
	ep->addresses = malloc(len);
	if (!ep->addresses)
		abort(); /* as the model's arrays do */
	p = (char *)(ep->addresses + n);
	for (size_t i = 0; i < n; i++) {
		ep->addresses[i] = p;
		p = stpcpy(p, addrs[i]) + 1;
	}
	ep->naddresses = n;
	if (pod)
		ep->pod_name = strcpy(p, pod);
}

static void eps_endpoint(struct pctx *c, struct m_endpointslice *s, const struct ynode *e, size_t i)
{
	struct m_endpoint ep = {.ready = true};
	const struct ynode *ref;
	const char *kind, **addrs;
	char path[48], fpath[80], *pod = NULL;
	size_t naddrs;

	snprintf(path, sizeof(path), "endpoints[%zu]", i);
	if (e->kind != YNODE_MAP) {
		perr(c, e, "%s must be a mapping, not a %s", path, ynode_kind_name(e->kind));
		return;
	}
	punknown(c, e, eps_endpoint_known, path);
	naddrs = eps_addresses(c, s->family, e, path, &addrs);
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
		pod = pstr(c, ref, "name", true, fpath);
	}
	eps_pack(&ep, addrs, naddrs, pod);
	free(addrs);
	free(pod);
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

/* Bytes of an endpoint's block (eps_pack) past its address array. */
static size_t eps_strings(const struct m_endpoint *e)
{
	size_t len = e->pod_name ? strlen(e->pod_name) + 1 : 0;

	for (size_t i = 0; i < e->naddresses; i++)
		len += strlen(e->addresses[i]) + 1;
	return len;
}

/*
 * A parsed slice's endpoints, their address arrays, addresses and pod names into one block held
 * by s->endpoints (s->packed): an endpoint's block of about 33 bytes took 48 from malloc, and
 * parray_push left the array room for up to twice the endpoints. Nothing is added to a parsed
 * slice (parray_push infers the room from the count, so it must not be).
 */
static void eps_fit(struct m_endpointslice *s)
{
	size_t len = s->nendpoints * sizeof(struct m_endpoint), naddr = 0;
	struct m_endpoint *v;
	char **arr, *p;

	if (!s->nendpoints)
		return;
	for (size_t i = 0; i < s->nendpoints; i++) {
		naddr += s->endpoints[i].naddresses;
		len += eps_strings(&s->endpoints[i]);
	}
	len += naddr * sizeof(char *);
	if (!(v = malloc(len)))
		abort();		    /* as the model's arrays do */
	arr = (char **)(v + s->nendpoints); /* pointers first: they keep their alignment */
	p = (char *)(arr + naddr);
	for (size_t i = 0; i < s->nendpoints; i++) {
		struct m_endpoint *e = &s->endpoints[i];

		v[i] = *e;
		v[i].addresses = arr;
		for (size_t k = 0; k < e->naddresses; k++) {
			*arr++ = p;
			p = stpcpy(p, e->addresses[k]) + 1;
		}
		v[i].pod_name = e->pod_name ? strcpy(p, e->pod_name) : NULL;
		p += e->pod_name ? strlen(e->pod_name) + 1 : 0;
		free(e->addresses);
	}
	free(s->endpoints);
	s->endpoints = v;
	s->packed = true;
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
	eps_fit(&s);
	*PUSH(c->m->endpointslices, c->m->nendpointslices) = s;
	return 0;
}

void k8s_endpointslice_free(struct m_endpointslice *s)
{
	meta_free(&s->meta);
	free(s->service_name);
	for (size_t i = 0; !s->packed && i < s->nendpoints; i++)
		free(s->endpoints[i].addresses); /* and the strings, and pod_name (eps_pack) */
	free(s->endpoints);			 /* packed: and every endpoint's (eps_fit) */
	for (size_t i = 0; i < s->nports; i++)
		free(s->ports[i].name);
	free(s->ports);
	memset(s, 0, sizeof(*s));
}
