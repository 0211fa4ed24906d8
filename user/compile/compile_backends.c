// SPDX-License-Identifier: Apache-2.0
/*
 * Endpoints -> backend slots: the ready endpoints of a Service port in one IP family, from the
 * EndpointSlices of that Service, optionally restricted to a DestinationRule subset.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile_internal.h"

struct cc_slot *compile_slots_push(struct cc_slots *s)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		struct cc_slot *nv = realloc(s->v, ncap * sizeof(*nv));

		if (!nv)
			return NULL;
		s->v = nv;
		s->cap = ncap;
	}
	memset(&s->v[s->n], 0, sizeof(s->v[0]));
	return &s->v[s->n++];
}

void compile_slots_free(struct cc_slots *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Port names: absent and "" are the same (the unnamed port of a single-port Service). */
static bool port_names_equal(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

/* targetPort as a number: absent means the Service port; a name gives 0. */
static uint16_t numeric_target_port(const struct m_service_port *sp)
{
	const char *t = sp->target_port;
	unsigned long v;
	char *end;

	if (!t)
		return sp->port;
	if (!isdigit((unsigned char)t[0]))
		return 0;
	v = strtoul(t, &end, 10);
	if (*end || v == 0 || v > 65535)
		return 0;
	return (uint16_t)v;
}

/* The port endpoints of `es` serve Service port `sp` on, or 0 when the slice does not serve it. */
static uint16_t slice_port(const struct m_endpointslice *es, const struct m_service *svc,
			   const struct m_service_port *sp)
{
	for (size_t i = 0; i < es->nports; i++)
		if (port_names_equal(es->ports[i].name, sp->name))
			return es->ports[i].port;
	if (es->nports == 1 && svc->nports == 1)
		return es->ports[0].port;
	if (es->nports == 0)
		return numeric_target_port(sp);
	return 0;
}

/* Does the endpoint's pod carry every label of the subset? An endpoint whose pod we cannot find
 * has no labels, so only a label-less subset takes it. */
static bool in_subset(const struct cc_index *ix, const struct m_endpointslice *es,
		      const struct m_endpoint *ep, const union skiff_addr *a, int fam,
		      const struct m_subset *subset)
{
	const struct m_pod *pod = NULL;

	if (!subset || !subset->labels.n)
		return true;
	if (ep->pod_name)
		pod = model_pod(ix->m, es->meta.ns, ep->pod_name);
	if (!pod)
		pod = compile_index_pod_by_addr(ix, a, fam);
	return pod && labels_match(&subset->labels, &pod->meta.labels);
}

static int add_slice(const struct cc_index *ix, const struct m_endpointslice *es, uint16_t port,
		     const struct m_subset *subset, struct cc_slots *out)
{
	int added = 0;

	for (size_t i = 0; i < es->nendpoints; i++) {
		const struct m_endpoint *ep = &es->endpoints[i];
		union skiff_addr a;
		struct cc_slot *s;

		/* Every address of an endpoint is the same pod; like kube-proxy we use the first.
		 */
		if (!ep->ready || !ep->naddresses)
			continue;
		if (addr_parse(ep->addresses[0], &a) != es->family)
			continue;
		if (!in_subset(ix, es, ep, &a, es->family, subset))
			continue;
		s = compile_slots_push(out);
		if (!s)
			return -ENOMEM;
		s->addr = a;
		s->port = port;
		s->family = (uint8_t)es->family;
		s->slice = es;
		s->pod_name = ep->pod_name;
		added++;
	}
	return added;
}

static int str_cmp_null(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

/* (address, port), then slice and pod so that a duplicate keeps the same pod every time. */
static int slot_cmp(const void *pa, const void *pb)
{
	const struct cc_slot *a = pa, *b = pb;
	int c = memcmp(&a->addr, &b->addr, sizeof(a->addr));

	if (c)
		return c;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	c = str_cmp_null(a->slice->meta.name, b->slice->meta.name);
	if (c)
		return c;
	return str_cmp_null(a->pod_name, b->pod_name);
}

static size_t dedup_sorted(struct cc_slot *v, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (k && !memcmp(&v[k - 1].addr, &v[i].addr, sizeof(v[i].addr)) &&
		    v[k - 1].port == v[i].port)
			continue;
		v[k++] = v[i];
	}
	return k;
}

int compile_endpoints(const struct cc_index *ix, const struct m_service *svc,
		      const struct m_service_port *sp, int family, const struct m_subset *subset,
		      struct cc_slots *out)
{
	const struct m_endpointslice *const *slices;
	size_t first = out->n, n;

	slices = compile_index_slices(ix, svc, &n);
	for (size_t i = 0; i < n; i++) {
		const struct m_endpointslice *es = slices[i];
		uint16_t port;
		int err;

		if (es->family != family)
			continue;
		port = slice_port(es, svc, sp);
		if (!port)
			continue;
		err = add_slice(ix, es, port, subset, out);
		if (err < 0)
			return err;
	}
	if (out->n - first > 1) {
		qsort(out->v + first, out->n - first, sizeof(out->v[0]), slot_cmp);
		out->n = first + dedup_sorted(out->v + first, out->n - first);
	}
	return (int)(out->n - first);
}
