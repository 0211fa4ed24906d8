// SPDX-License-Identifier: Apache-2.0
/* Lookups over a loaded model: by name, by label, by Istio host, and mesh membership. */
#include <stdlib.h>
#include <string.h>

#include "model/parse.h"

static bool meta_is(const struct meta *m, const char *ns, const char *name)
{
	return !strcmp(m->name, name) && !strcmp(m->ns, ns);
}

const struct m_namespace *model_namespace(const struct model *m, const char *name)
{
	for (size_t i = 0; name && i < m->nnamespaces; i++)
		if (!strcmp(m->namespaces[i].meta.name, name))
			return &m->namespaces[i];
	return NULL;
}

/* Every resource starts with its meta: the indexes sort positions of any such array. */
struct index_sort {
	const char *base;
	size_t elem;
};

static const struct meta *index_meta(const struct index_sort *ix, uint32_t pos)
{
	return (const struct meta *)(ix->base + pos * ix->elem);
}

static int meta_cmp(const struct meta *m, const char *ns, const char *name)
{
	int r = strcmp(m->ns, ns);

	return r ? r : strcmp(m->name, name);
}

static int index_cmp(const void *a, const void *b, void *arg)
{
	const struct meta *mb = index_meta(arg, *(const uint32_t *)b);

	return meta_cmp(index_meta(arg, *(const uint32_t *)a), mb->ns, mb->name);
}

static uint32_t *index_build(const void *arr, size_t n, size_t elem)
{
	struct index_sort ix = {arr, elem};
	uint32_t *v;

	if (!n)
		return NULL;
	v = malloc(n * sizeof(*v));
	if (!v)
		abort();
	for (size_t i = 0; i < n; i++)
		v[i] = (uint32_t)i;
	qsort_r(v, n, sizeof(*v), index_cmp, &ix);
	return v;
}

/* Position of ns/name in an array through its index; -1 when absent. */
static long index_find(const uint32_t *idx, size_t n, const void *arr, size_t elem, const char *ns,
		       const char *name)
{
	struct index_sort ix = {arr, elem};
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = meta_cmp(index_meta(&ix, idx[mid]), ns, name);

		if (!r)
			return idx[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void model_index_free(struct model *m)
{
	free(m->svc_index);
	free(m->pod_index);
	m->svc_index = m->pod_index = NULL;
	m->nsvc_index = m->npod_index = 0;
}

void model_index_build(struct model *m)
{
	model_index_free(m);
	m->svc_index = index_build(m->services, m->nservices, sizeof(m->services[0]));
	m->nsvc_index = m->nservices;
	m->pod_index = index_build(m->pods, m->npods, sizeof(m->pods[0]));
	m->npod_index = m->npods;
}

const struct m_pod *model_pod(const struct model *m, const char *ns, const char *name)
{
	long pos;

	if (!ns || !name)
		return NULL;
	if (m->pod_index && m->npod_index == m->npods) {
		pos = index_find(m->pod_index, m->npods, m->pods, sizeof(m->pods[0]), ns, name);
		return pos < 0 ? NULL : &m->pods[pos];
	}
	for (size_t i = 0; i < m->npods; i++)
		if (meta_is(&m->pods[i].meta, ns, name))
			return &m->pods[i];
	return NULL;
}

const struct m_service *model_service(const struct model *m, const char *ns, const char *name)
{
	long pos;

	if (!ns || !name)
		return NULL;
	if (m->svc_index && m->nsvc_index == m->nservices) {
		pos = index_find(m->svc_index, m->nservices, m->services, sizeof(m->services[0]),
				 ns, name);
		return pos < 0 ? NULL : &m->services[pos];
	}
	for (size_t i = 0; i < m->nservices; i++)
		if (meta_is(&m->services[i].meta, ns, name))
			return &m->services[i];
	return NULL;
}

const char *labels_get(const struct labels *l, const char *key)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (!strcmp(l->v[i].key, key))
			return l->v[i].val;
	return NULL;
}

bool labels_match(const struct labels *sel, const struct labels *l)
{
	for (size_t i = 0; sel && i < sel->n; i++) {
		const char *v = labels_get(l, sel->v[i].key);

		if (!v || strcmp(v, sel->v[i].val))
			return false;
	}
	return true;
}

/*
 * Split "name[.ns[.svc[.cluster.local]]]" into name and namespace. Anything else (another cluster
 * domain, an external FQDN) is not a Service of this cluster.
 */
static bool host_split(const char *host, const char *dflt_ns, char *name, char *ns, size_t len)
{
	const char *dot1 = strchr(host, '.'), *dot2, *rest;
	size_t nlen, slen;

	if (!dot1) {
		if (strlen(host) >= len || strlen(dflt_ns) >= len)
			return false;
		strcpy(name, host);
		strcpy(ns, dflt_ns);
		return true;
	}
	nlen = (size_t)(dot1 - host);
	dot2 = strchr(dot1 + 1, '.');
	slen = dot2 ? (size_t)(dot2 - dot1 - 1) : strlen(dot1 + 1);
	rest = dot2 ? dot2 + 1 : "";
	if (!nlen || !slen || nlen >= len || slen >= len)
		return false;
	if (dot2 && strcmp(rest, "svc") && strcmp(rest, "svc.cluster.local"))
		return false;
	memcpy(name, host, nlen);
	name[nlen] = '\0';
	memcpy(ns, dot1 + 1, slen);
	ns[slen] = '\0';
	return true;
}

const struct m_service *model_resolve_host(const struct model *m, const char *ns, const char *host)
{
	char name[256], sns[256];

	if (!host || !ns || !host_split(host, ns, name, sns, sizeof(name)))
		return NULL;
	return model_service(m, sns, name);
}

static bool label_is(const struct labels *l, const char *key, const char *val)
{
	const char *v = labels_get(l, key);

	return v && !strcmp(v, val);
}

bool model_namespace_enrolled(const struct model *m, const char *name)
{
	const struct m_namespace *ns = model_namespace(m, name);

	return ns && (label_is(&ns->meta.labels, "skiff.io/mesh", "enabled") ||
		      label_is(&ns->meta.labels, "istio.io/dataplane-mode", "ambient"));
}

const char *model_pod_opt_out(const struct model *m, const struct m_pod *p)
{
	const struct labels *pl = &p->meta.labels;

	if (!model_namespace_enrolled(m, p->meta.ns))
		return NULL;
	/* a host-network pod's sockets are the node's (Istio's ambient mode leaves it out too) */
	if (p->host_network)
		return "host network";
	if (label_is(pl, "skiff.io/mesh", "disabled"))
		return "opted out by label skiff.io/mesh=disabled";
	if (label_is(pl, "istio.io/dataplane-mode", "none"))
		return "opted out by label istio.io/dataplane-mode=none";
	return NULL;
}

bool model_pod_in_mesh(const struct model *m, const struct m_pod *p)
{
	return model_namespace_enrolled(m, p->meta.ns) && !model_pod_opt_out(m, p);
}
