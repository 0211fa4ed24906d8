// SPDX-License-Identifier: Apache-2.0
/*
 * Istio's label values for a pod. The model keeps no ownerReferences, so the owner is read from
 * the labels its controller stamps on every pod it creates: pod-template-hash (a ReplicaSet of a
 * Deployment), job-name, and controller-revision-hash with the StatefulSet's pod-name label or
 * the DaemonSet's pod-template-generation.
 */
#include <stdio.h>
#include <string.h>

#include "metrics/metrics.h"

#define METRICS_CLUSTER "Kubernetes" /* Istio's cluster ID when none is configured */

static void copy(char *out, size_t len, const char *s, size_t n)
{
	if (n >= len)
		n = len - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* The name up to its last '-' (a generated suffix), or the whole name when it has none. */
static size_t before_last_dash(const char *name)
{
	const char *d = strrchr(name, '-');

	return d && d != name ? (size_t)(d - name) : strlen(name);
}

void metrics_workload_name(const struct m_pod *p, char *out, size_t len)
{
	const struct labels *l = &p->meta.labels;
	const char *name = p->meta.name, *hash = labels_get(l, "pod-template-hash");
	const char *job = labels_get(l, "job-name");
	char mid[96];

	if (hash && *hash) {
		/* Deployment X -> ReplicaSet X-<hash> -> pod X-<hash>-<suffix> */
		const char *at;

		snprintf(mid, sizeof(mid), "-%s-", hash);
		at = strstr(name, mid);
		if (at && at != name) {
			copy(out, len, name, (size_t)(at - name));
			return;
		}
	}
	if (job && *job) {
		copy(out, len, job, strlen(job));
		return;
	}
	if (labels_get(l, "controller-revision-hash") &&
	    (labels_get(l, "statefulset.kubernetes.io/pod-name") ||
	     labels_get(l, "pod-template-generation"))) {
		/* StatefulSet X -> pod X-<ordinal>; DaemonSet X -> pod X-<suffix> */
		copy(out, len, name, before_last_dash(name));
		return;
	}
	copy(out, len, name, strlen(name));
}

static const char *first_label(const struct labels *l, const char *const *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *v = labels_get(l, keys[i]);

		if (v && *v)
			return v;
	}
	return NULL;
}

const char *metrics_canonical_service(const struct labels *l, const char *workload)
{
	static const char *const keys[] = {"service.istio.io/canonical-name",
					   "app.kubernetes.io/name", "app"};
	const char *v = first_label(l, keys, 3);

	return v ? v : workload;
}

const char *metrics_canonical_revision(const struct labels *l)
{
	static const char *const keys[] = {"service.istio.io/canonical-revision",
					   "app.kubernetes.io/version", "version"};
	const char *v = first_label(l, keys, 3);

	return v ? v : "latest";
}

static void set(char *out, size_t len, const char *v)
{
	copy(out, len, v && *v ? v : "unknown", strlen(v && *v ? v : "unknown"));
}

void metrics_peer_from_pod(struct metrics_peer *e, const struct m_pod *p, const char *trust_domain)
{
	static const char *const app_keys[] = {"app", "app.kubernetes.io/name"};
	static const char *const version_keys[] = {"version", "app.kubernetes.io/version"};
	const struct labels *l;

	set(e->cluster, sizeof(e->cluster), METRICS_CLUSTER);
	if (!p) {
		set(e->workload, sizeof(e->workload), NULL);
		set(e->ns, sizeof(e->ns), NULL);
		set(e->principal, sizeof(e->principal), NULL);
		set(e->app, sizeof(e->app), NULL);
		set(e->version, sizeof(e->version), NULL);
		set(e->canonical_service, sizeof(e->canonical_service), NULL);
		set(e->canonical_revision, sizeof(e->canonical_revision), NULL);
		return;
	}
	l = &p->meta.labels;
	metrics_workload_name(p, e->workload, sizeof(e->workload));
	set(e->ns, sizeof(e->ns), p->meta.ns);
	snprintf(e->principal, sizeof(e->principal), "spiffe://%s/ns/%s/sa/%s",
		 trust_domain ? trust_domain : "cluster.local", p->meta.ns,
		 p->service_account ? p->service_account : "default");
	set(e->app, sizeof(e->app), first_label(l, app_keys, 2));
	set(e->version, sizeof(e->version), first_label(l, version_keys, 2));
	set(e->canonical_service, sizeof(e->canonical_service),
	    metrics_canonical_service(l, e->workload));
	set(e->canonical_revision, sizeof(e->canonical_revision), metrics_canonical_revision(l));
}

const struct m_service *metrics_pod_service(const struct model *m, const struct m_pod *p)
{
	if (!m || !p)
		return NULL;
	for (size_t i = 0; i < m->nservices; i++) {
		const struct m_service *s = &m->services[i];

		if (!strcmp(s->meta.ns, p->meta.ns) && s->selector.n &&
		    labels_match(&s->selector, &p->meta.labels))
			return s;
	}
	return NULL;
}

void metrics_key_service(struct metrics_key *k, const struct m_service *svc)
{
	if (!svc) {
		set(k->dst_service, sizeof(k->dst_service), NULL);
		set(k->dst_service_name, sizeof(k->dst_service_name), NULL);
		set(k->dst_service_ns, sizeof(k->dst_service_ns), NULL);
		return;
	}
	snprintf(k->dst_service, sizeof(k->dst_service), "%s.%s.svc.cluster.local", svc->meta.name,
		 svc->meta.ns);
	set(k->dst_service_name, sizeof(k->dst_service_name), svc->meta.name);
	set(k->dst_service_ns, sizeof(k->dst_service_ns), svc->meta.ns);
}
