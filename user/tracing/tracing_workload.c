// SPDX-License-Identifier: Apache-2.0
/*
 * Per-workload tracing, from the Telemetry resources (model_tel_tracing.c resolves them, the
 * agent installs the result on each reload): a pod's sampling rate for the spans of one side,
 * whether those spans are reported, and its custom tags. Pods are named "ns/name" (the model's
 * pointers do not outlive a reload); the table is sorted once and searched per request under a
 * lock held for the search.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/model.h"
#include "tracing/tracing.h"

static struct {
	pthread_mutex_t lock;
	struct trace_workload *v;
	size_t n;
} W = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int cmp(const void *a, const void *b)
{
	const struct trace_workload *x = a, *y = b;

	return strcmp(x->pod, y->pod) ?: (int)x->kind - (int)y->kind;
}

void trace_workloads_free(struct trace_workload *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < v[i].ntags; k++) {
			free(v[i].tags[k].name);
			free(v[i].tags[k].value);
			free(v[i].tags[k].def);
		}
		free(v[i].tags);
	}
	free(v);
}

void tracing_set_workloads(struct trace_workload *v, size_t n)
{
	struct trace_workload *old;
	size_t oldn;

	if (n)
		qsort(v, n, sizeof(*v), cmp);
	pthread_mutex_lock(&W.lock);
	old = W.v;
	oldn = W.n;
	W.v = v;
	W.n = n;
	pthread_mutex_unlock(&W.lock);
	trace_workloads_free(old, oldn);
}

/* The entry of p and k; call with W.lock held. */
static const struct trace_workload *find(const struct m_pod *p, enum trace_kind k)
{
	struct trace_workload key = {.kind = k};

	if (!p || !W.n)
		return NULL;
	snprintf(key.pod, sizeof(key.pod), "%s/%s", p->meta.ns, p->meta.name);
	return bsearch(&key, W.v, W.n, sizeof(*W.v), cmp);
}

bool tracing_workload_sampling(const struct m_pod *p, enum trace_kind k, double *pct)
{
	const struct trace_workload *w;
	bool set;

	pthread_mutex_lock(&W.lock);
	w = find(p, k);
	set = w && w->sampling >= 0;
	if (set)
		*pct = w->sampling;
	pthread_mutex_unlock(&W.lock);
	return set;
}

bool tracing_reports(const struct m_pod *p, enum trace_kind k)
{
	const struct trace_workload *w;
	bool yes;

	pthread_mutex_lock(&W.lock);
	w = find(p, k);
	yes = !w || !w->disable;
	pthread_mutex_unlock(&W.lock);
	return yes;
}

static const char *header(const struct authz_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(h[i].name, name))
			return h[i].value;
	return NULL;
}

size_t tracing_custom_tags(const struct m_pod *p, enum trace_kind k, const struct authz_header *h,
			   size_t nh, struct trace_tag *out, size_t max)
{
	const struct trace_workload *w;
	size_t n = 0;

	pthread_mutex_lock(&W.lock);
	w = find(p, k);
	for (size_t i = 0; w && i < w->ntags && n < max; i++) {
		const struct trace_custom_tag *g = &w->tags[i];
		const char *v = g->header ? header(h, nh, g->value) : g->value;

		if (!v)
			v = g->def; /* Envoy's: no value and no default, no tag */
		if (!v)
			continue;
		snprintf(out[n].key, sizeof(out[n].key), "%s", g->name);
		snprintf(out[n].val, sizeof(out[n].val), "%s", v);
		n++;
	}
	pthread_mutex_unlock(&W.lock);
	return n;
}
