// SPDX-License-Identifier: Apache-2.0
/*
 * Who logs what, as Istio decides it for a proxy, computed once per configuration for every pod:
 *
 * - The Telemetry resources that apply to a pod, most general first: the root namespace's
 *   without a selector (mesh-wide), the pod's namespace's without a selector, then the one of
 *   its namespace whose selector matches its labels. A Telemetry with a targetRef names a
 *   Gateway or waypoint and applies to no pod. With several at one level, the first read wins.
 * - Their accessLogging entries are merged in that order as Istio's mergeLogs does: an entry
 *   without providers means the providers of the one before (the mesh's defaults first); the
 *   last filter given for a provider is its filter; an entry whose match.mode covers the side
 *   turns its providers on, or off with `disabled: true`.
 * - When no Telemetry has accessLogging for the pod (and the mesh names no default provider),
 *   the mesh config's accessLogFile decides alone: set, every line; empty, none.
 *
 * skiffd writes one log, its standard output: a provider counts when it is `envoy` (Istio's
 * built-in stdout log) or an extension provider with an envoyFileAccessLog.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accesslog/accesslog.h"
#include "metrics/metrics.h"

#define AL_MAX_PROVIDERS 16

struct al_pod {
	char *key;	 /* "ns/name" */
	char *principal; /* spiffe://td/ns/<ns>/sa/<sa> */
	char *service;	 /* FQDN of the first Service selecting it (metrics' rule), or NULL */
	bool on[2];	 /* by enum al_side */
	const struct al_cel *filter[2];
};

struct al_policy {
	atomic_int refs;
	bool text;
	struct al_pod *pods; /* sorted by key */
	size_t npods;
	struct al_cel **cels; /* every filter the pods point at */
	size_t ncels;
	struct al_ip {
		const char *ip; /* the pod's (owned by the model's copy below) */
		char *copy;
		const char *key; /* its pod's "ns/name" */
	} * ips;		 /* sorted by ip */
	size_t nips;
};

/* The merged state of one side: provider name -> on, filter. */
struct al_merge {
	const char *name[AL_MAX_PROVIDERS];
	bool on[AL_MAX_PROVIDERS];
	const struct m_access_logging *filter_of[AL_MAX_PROVIDERS];
	size_t n;
};

static size_t merge_slot(struct al_merge *mg, const char *name)
{
	for (size_t i = 0; i < mg->n; i++)
		if (!strcmp(mg->name[i], name))
			return i;
	if (mg->n == AL_MAX_PROVIDERS)
		return AL_MAX_PROVIDERS;
	mg->name[mg->n] = name;
	return mg->n++;
}

static bool mode_covers(enum m_log_mode m, enum al_side s)
{
	return m == M_LOG_CLIENT_AND_SERVER || (m == M_LOG_CLIENT) == (s == AL_CLIENT);
}

static bool provider_writes(const struct model *m, const char *name)
{
	for (size_t i = 0; i < m->mesh.nlog_providers; i++)
		if (!strcmp(m->mesh.log_providers[i].name, name))
			return m->mesh.log_providers[i].path != NULL;
	return !strcmp(name, "envoy");
}

static bool tel_selects(const struct m_telemetry *t, const struct m_pod *p, int level)
{
	if (t->has_target_ref || !t->has_logging)
		return false;
	if (level == 2)
		return t->has_selector && t->selector.n && strcmp(t->meta.ns, "") &&
		       !strcmp(t->meta.ns, p->meta.ns) &&
		       labels_match(&t->selector, &p->meta.labels);
	return !t->has_selector || !t->selector.n;
}

/* The Telemetry of one level for pod p (0 mesh, 1 namespace, 2 workload), or NULL. */
static const struct m_telemetry *tel_level(const struct model *m, const struct m_pod *p, int level)
{
	const char *ns = level == 0 ? m->root_namespace : p->meta.ns;

	if (level == 1 && !strcmp(ns, m->root_namespace))
		return NULL; /* the root namespace's own pods: its mesh-wide one already counted */
	for (size_t i = 0; i < m->ntelemetries; i++) {
		const struct m_telemetry *t = &m->telemetries[i];

		if (!strcmp(t->meta.ns, ns) && tel_selects(t, p, level))
			return t;
	}
	return NULL;
}

static void merge_entry(const struct model *m, struct al_merge *mg,
			const struct m_access_logging *e, char *const **parent, size_t *nparent,
			enum al_side s)
{
	char *const *names = e->nproviders ? e->providers : *parent;
	size_t n = e->nproviders ? e->nproviders : *nparent;

	*parent = names;
	*nparent = n;
	for (size_t i = 0; i < n; i++) {
		size_t k = merge_slot(mg, names[i]);

		if (k == AL_MAX_PROVIDERS || !provider_writes(m, names[i]))
			continue;
		if (e->filter)
			mg->filter_of[k] = e;
		if (mode_covers(e->mode, s))
			mg->on[k] = !e->disabled;
	}
}

/* Istio's mergeLogs for one pod and side; false when no Telemetry speaks for the pod. */
static bool merge_pod(const struct model *m, const struct m_pod *p, enum al_side s,
		      struct al_merge *mg)
{
	char *const *parent = m->mesh.default_log_providers;
	size_t nparent = m->mesh.ndefault_log_providers;
	bool any = false;

	memset(mg, 0, sizeof(*mg));
	for (int level = 0; level < 3; level++) {
		const struct m_telemetry *t = tel_level(m, p, level);

		for (size_t i = 0; t && i < t->nlogging; i++) {
			merge_entry(m, mg, &t->logging[i], &parent, &nparent, s);
			any = true;
		}
	}
	/* only the providers the last entry (or the defaults) names are in scope */
	for (size_t k = 0; any && k < mg->n; k++) {
		bool in = false;

		for (size_t i = 0; i < nparent && !in; i++)
			in = !strcmp(parent[i], mg->name[k]);
		mg->on[k] = mg->on[k] && in;
	}
	if (!any && nparent) {
		for (size_t i = 0; i < nparent; i++) {
			size_t k = merge_slot(mg, parent[i]);

			if (k < AL_MAX_PROVIDERS)
				mg->on[k] = provider_writes(m, parent[i]);
		}
		any = true;
	}
	return any;
}

/* The compiled filter of entry e, compiled once per policy (entries are few). */
static const struct al_cel *cel_of(struct al_policy *pol, const struct m_access_logging **srcs,
				   const struct m_access_logging *e)
{
	char err[256];
	struct al_cel *c;

	for (size_t i = 0; i < pol->ncels; i++)
		if (srcs[i] == e)
			return pol->cels[i];
	/* the model checked it: a failure here is a skiffd bug, and logging nothing is safer */
	if (al_cel_parse(e->filter, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "skiffd: access log filter \"%s\": %s\n", e->filter, err);
		return NULL;
	}
	srcs[pol->ncels] = e;
	pol->cels[pol->ncels++] = c;
	return c;
}

static size_t count_entries(const struct model *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->ntelemetries; i++)
		n += m->telemetries[i].nlogging;
	return n;
}

static void decide_pod(const struct model *m, const struct m_pod *p, struct al_pod *ap,
		       struct al_policy *pol, const struct m_access_logging **srcs)
{
	const char *file = m->mesh.access_log_file;
	struct al_merge mg;

	for (int s = AL_CLIENT; s <= AL_SERVER; s++) {
		if (!merge_pod(m, p, (enum al_side)s, &mg)) {
			ap->on[s] = file && file[0];
			continue;
		}
		for (size_t k = 0; k < mg.n && !ap->on[s]; k++) {
			if (!mg.on[k])
				continue;
			ap->on[s] = true;
			if (mg.filter_of[k])
				ap->filter[s] = cel_of(pol, srcs, mg.filter_of[k]);
			if (mg.filter_of[k] && !ap->filter[s])
				ap->on[s] = false;
		}
	}
}

static int pod_cmp(const void *a, const void *b)
{
	return strcmp(((const struct al_pod *)a)->key, ((const struct al_pod *)b)->key);
}

static bool anything_logs(const struct model *m)
{
	const char *file = m->mesh.access_log_file;

	return (file && file[0]) || m->mesh.ndefault_log_providers || m->ntelemetries;
}

static int ip_cmp(const void *a, const void *b)
{
	return strcmp(((const struct al_ip *)a)->ip, ((const struct al_ip *)b)->ip);
}

/* Pods by address, for the relays that know a peer by its address only. */
static void ip_index(struct al_policy *pol, const struct model *m)
{
	pol->ips = calloc(2 * m->npods + 1, sizeof(*pol->ips));
	if (!pol->ips)
		abort();
	for (size_t i = 0; i < m->npods; i++) {
		const struct m_pod *p = &m->pods[i];
		char key[320];
		const struct al_pod *ap;
		struct al_pod k = {.key = key};

		snprintf(key, sizeof(key), "%s/%s", p->meta.ns, p->meta.name);
		ap = bsearch(&k, pol->pods, pol->npods, sizeof(k), pod_cmp);
		for (size_t j = 0; ap && j < p->nips && j < 2; j++) {
			struct al_ip *e = &pol->ips[pol->nips++];

			e->copy = strdup(p->ips[j]);
			if (!e->copy)
				abort();
			e->ip = e->copy;
			e->key = ap->key;
		}
	}
	if (pol->nips)
		qsort(pol->ips, pol->nips, sizeof(*pol->ips), ip_cmp);
}

const char *al_policy_pod_at(const struct al_policy *p, const char *ip)
{
	struct al_ip k = {.ip = ip};
	const struct al_ip *e;

	if (!p || !ip || !p->nips)
		return NULL;
	e = bsearch(&k, p->ips, p->nips, sizeof(k), ip_cmp);
	return e ? e->key : NULL;
}

struct al_policy *al_policy_build(const struct model *m, const char *trust_domain)
{
	const struct m_access_logging **srcs;
	struct al_policy *pol;
	size_t nent = count_entries(m);

	if (!anything_logs(m))
		return NULL;
	pol = calloc(1, sizeof(*pol));
	srcs = calloc(nent + 1, sizeof(*srcs));
	if (!pol || !srcs || !(pol->cels = calloc(nent + 1, sizeof(*pol->cels))) ||
	    !(pol->pods = calloc(m->npods + 1, sizeof(*pol->pods))))
		abort();
	atomic_init(&pol->refs, 1);
	pol->text = m->mesh.access_log_text;
	for (size_t i = 0; i < m->npods; i++) {
		const struct m_pod *p = &m->pods[i];
		struct al_pod *ap = &pol->pods[pol->npods++];
		const struct m_service *svc;

		if (asprintf(&ap->key, "%s/%s", p->meta.ns, p->meta.name) < 0 ||
		    asprintf(&ap->principal, "spiffe://%s/ns/%s/sa/%s",
			     trust_domain ? trust_domain : "cluster.local", p->meta.ns,
			     p->service_account ? p->service_account : "default") < 0)
			abort();
		svc = metrics_pod_service(m, p);
		if (svc && asprintf(&ap->service, "%s.%s.svc.cluster.local", svc->meta.name,
				    svc->meta.ns) < 0)
			abort();
		decide_pod(m, p, ap, pol, srcs);
	}
	free(srcs);
	qsort(pol->pods, pol->npods, sizeof(*pol->pods), pod_cmp);
	ip_index(pol, m);
	return pol;
}

void al_policy_unref(struct al_policy *p)
{
	if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	for (size_t i = 0; i < p->npods; i++) {
		free(p->pods[i].key);
		free(p->pods[i].principal);
		free(p->pods[i].service);
	}
	free(p->pods);
	for (size_t i = 0; i < p->nips; i++)
		free(p->ips[i].copy);
	free(p->ips);
	for (size_t i = 0; i < p->ncels; i++)
		al_cel_free(p->cels[i]);
	free(p->cels);
	free(p);
}

void al_policy_ref(struct al_policy *p)
{
	atomic_fetch_add(&p->refs, 1);
}

static const struct al_pod *find(const struct al_policy *p, const char *ns, const char *name)
{
	char key[320];
	struct al_pod k = {.key = key};

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	return p->npods ? bsearch(&k, p->pods, p->npods, sizeof(k), pod_cmp) : NULL;
}

bool al_policy_logs(const struct al_policy *p, const char *ns, const char *name, enum al_side s,
		    const struct al_cel **filter)
{
	const struct al_pod *ap = p && ns && name ? find(p, ns, name) : NULL;

	*filter = ap ? ap->filter[s] : NULL;
	return ap && ap->on[s];
}

const char *al_policy_principal(const struct al_policy *p, const char *ns, const char *name)
{
	const struct al_pod *ap = p && ns && name ? find(p, ns, name) : NULL;

	return ap ? ap->principal : NULL;
}

bool al_policy_text(const struct al_policy *p)
{
	return p && p->text;
}

const char *al_policy_service(const struct al_policy *p, const char *ns, const char *name)
{
	const struct al_pod *ap = p && ns && name ? find(p, ns, name) : NULL;

	return ap ? ap->service : NULL;
}
