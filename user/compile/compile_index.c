// SPDX-License-Identifier: Apache-2.0
/*
 * The compiler's lookup tables, built once per compile: every host of every VirtualService and
 * DestinationRule is resolved once (not once per Service), and slices and pods are sorted for
 * binary search. 10,000 Services with a VirtualService each would otherwise cost 10^8 host
 * resolutions per reload.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile_internal.h"

static int pair_cmp(const void *pa, const void *pb)
{
	const struct cc_pair *a = pa, *b = pb;

	if (a->svc != b->svc)
		return a->svc < b->svc ? -1 : 1;
	if (a->obj != b->obj)
		return (uintptr_t)a->obj < (uintptr_t)b->obj ? -1 : 1;
	return 0;
}

static int pair_push(struct cc_pair **v, size_t *n, size_t *cap, size_t svc, const void *obj)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct cc_pair *nv = realloc(*v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = (struct cc_pair){.svc = svc, .obj = obj};
	return 0;
}

/* Sort and drop duplicates (a VS naming one Service by two hosts). */
static void pairs_finish(struct cc_pair *v, size_t *n)
{
	size_t k = 0;

	if (*n > 1)
		qsort(v, *n, sizeof(*v), pair_cmp);
	for (size_t i = 0; i < *n; i++)
		if (!k || pair_cmp(&v[k - 1], &v[i]))
			v[k++] = v[i];
	*n = k;
}

/* A VS applies to in-mesh traffic when it names no gateway or names "mesh". */
static bool vs_binds_mesh(const struct m_virtualservice *vs)
{
	if (!vs->ngateways)
		return true;
	for (size_t i = 0; i < vs->ngateways; i++)
		if (!strcmp(vs->gateways[i], "mesh"))
			return true;
	return false;
}

static int index_vs(const struct model *m, struct cc_index *ix)
{
	size_t cap = 0;

	for (size_t i = 0; i < m->nvirtualservices; i++) {
		const struct m_virtualservice *vs = &m->virtualservices[i];

		if (!vs_binds_mesh(vs))
			continue;
		for (size_t h = 0; h < vs->nhosts; h++) {
			const struct m_service *svc =
			    model_resolve_host(m, vs->meta.ns, vs->hosts[h]);

			if (svc &&
			    pair_push(&ix->vs, &ix->nvs, &cap, (size_t)(svc - m->services), vs))
				return -ENOMEM;
		}
	}
	pairs_finish(ix->vs, &ix->nvs);
	return 0;
}

static int index_dr(const struct model *m, struct cc_index *ix)
{
	size_t cap = 0;

	for (size_t i = 0; i < m->ndestinationrules; i++) {
		const struct m_destinationrule *dr = &m->destinationrules[i];
		const struct m_service *svc;

		if (!dr->host)
			continue;
		svc = model_resolve_host(m, dr->meta.ns, dr->host);
		if (svc && pair_push(&ix->dr, &ix->ndr, &cap, (size_t)(svc - m->services), dr))
			return -ENOMEM;
	}
	pairs_finish(ix->dr, &ix->ndr);
	return 0;
}

static int slice_key_cmp(const char *ns, const char *name, const struct m_endpointslice *es)
{
	int c = strcmp(ns, es->meta.ns);

	return c ? c : strcmp(name, es->service_name);
}

static int slice_cmp(const void *pa, const void *pb)
{
	const struct m_endpointslice *a = *(const struct m_endpointslice *const *)pa;
	const struct m_endpointslice *b = *(const struct m_endpointslice *const *)pb;

	int c = slice_key_cmp(a->meta.ns, a->service_name, b);

	if (c || a == b)
		return c;
	return (uintptr_t)a < (uintptr_t)b ? -1 : 1;
}

static int index_slices(const struct model *m, struct cc_index *ix)
{
	ix->slices = calloc(m->nendpointslices ? m->nendpointslices : 1, sizeof(*ix->slices));
	if (!ix->slices)
		return -ENOMEM;
	for (size_t i = 0; i < m->nendpointslices; i++)
		if (m->endpointslices[i].service_name)
			ix->slices[ix->nslices++] = &m->endpointslices[i];
	/* Ties keep model order (slice_cmp compares positions last). */
	if (ix->nslices > 1)
		qsort(ix->slices, ix->nslices, sizeof(*ix->slices), slice_cmp);
	return 0;
}

int compile_index_slice_add(struct cc_index *ix, const struct m_endpointslice *es, size_t *cap)
{
	size_t lo = 0, hi = ix->nslices;

	if (ix->nslices == *cap) {
		size_t ncap = *cap ? 2 * *cap : 16;
		const struct m_endpointslice **v = realloc(ix->slices, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ix->slices = v;
		*cap = ncap;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (slice_cmp(&ix->slices[mid], &es) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(&ix->slices[lo + 1], &ix->slices[lo], (ix->nslices - lo) * sizeof(*ix->slices));
	ix->slices[lo] = es;
	ix->nslices++;
	return 0;
}

void compile_index_slice_del(struct cc_index *ix, size_t i)
{
	memmove(&ix->slices[i], &ix->slices[i + 1], (ix->nslices - i - 1) * sizeof(*ix->slices));
	ix->nslices--;
}

static int pod_addr_key_cmp(const void *pa, const void *pb)
{
	const struct cc_pod_addr *a = pa, *b = pb;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

/* Two pods may briefly share an IP (one terminating); the first in model order wins. */
static int pod_addr_cmp(const void *pa, const void *pb)
{
	const struct cc_pod_addr *a = pa, *b = pb;
	int c = pod_addr_key_cmp(pa, pb);

	if (c || a->pod == b->pod)
		return c;
	return a->pod < b->pod ? -1 : 1;
}

/* Sized to the addresses the pods have, not two each: it is held by the live tables for as long
 * as a model is in force, and most clusters are single-stack. */
static int index_pods(const struct model *m, struct cc_index *ix)
{
	size_t n = 0;

	for (size_t i = 0; i < m->npods; i++)
		n += m->pods[i].nips < 2 ? m->pods[i].nips : 2;
	ix->pods = calloc(n ? n : 1, sizeof(*ix->pods));
	if (!ix->pods)
		return -ENOMEM;
	for (size_t i = 0; i < m->npods; i++) {
		for (size_t k = 0; k < m->pods[i].nips && k < 2; k++) {
			struct cc_pod_addr *pa = &ix->pods[ix->npods];

			pa->family = (uint32_t)addr_parse(m->pods[i].ips[k], &pa->addr);
			pa->pod = (uint32_t)i;
			if (pa->family)
				ix->npods++;
		}
	}
	if (ix->npods > 1)
		qsort(ix->pods, ix->npods, sizeof(*ix->pods), pod_addr_cmp);
	return 0;
}

int compile_index_build(const struct model *m, struct cc_index *ix)
{
	int err;

	memset(ix, 0, sizeof(*ix));
	ix->m = m;
	err = index_vs(m, ix);
	if (!err)
		err = index_dr(m, ix);
	if (!err)
		err = index_slices(m, ix);
	if (!err)
		err = index_pods(m, ix);
	if (err)
		compile_index_free(ix);
	return err;
}

void compile_index_free(struct cc_index *ix)
{
	free(ix->vs);
	free(ix->dr);
	free(ix->slices);
	free(ix->pods);
	memset(ix, 0, sizeof(*ix));
}

const struct cc_pair *compile_index_pairs(const struct cc_pair *v, size_t nv,
					  const struct cc_index *ix, const struct m_service *svc,
					  size_t *n)
{
	size_t want = (size_t)(svc - ix->m->services), lo = 0, hi = nv, end;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].svc < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < nv && v[end].svc == want; end++)
		;
	*n = end - lo;
	return *n ? &v[lo] : NULL;
}

const struct m_endpointslice *const *compile_index_slices(const struct cc_index *ix,
							  const struct m_service *svc, size_t *n)
{
	size_t lo = 0, hi = ix->nslices, end;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (slice_key_cmp(svc->meta.ns, svc->meta.name, ix->slices[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo;
	     end < ix->nslices && !slice_key_cmp(svc->meta.ns, svc->meta.name, ix->slices[end]);
	     end++)
		;
	*n = end - lo;
	return *n ? &ix->slices[lo] : NULL;
}

const struct m_pod *compile_index_pod_by_addr(const struct cc_index *ix, const union skiff_addr *a,
					      int family)
{
	struct cc_pod_addr key = {.addr = *a, .family = (uint32_t)family};
	const struct cc_pod_addr *hit;

	hit = bsearch(&key, ix->pods, ix->npods, sizeof(*ix->pods), pod_addr_key_cmp);
	if (!hit)
		return NULL;
	while (hit > ix->pods && !pod_addr_key_cmp(hit - 1, &key))
		hit--;
	return &ix->m->pods[hit->pod];
}
