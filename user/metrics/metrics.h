/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skiffd's metrics on :15020/metrics: Istio's standard metrics (istio_requests_total,
 * istio_tcp_*, the request histograms) with Istio's names, types, labels and buckets, and skiffd's
 * own health as skiff_* metrics. docs/observability.md lists them.
 *
 * A scrape builds a table of series (metrics_table) from what the kernel and the relays counted,
 * then renders it in the Prometheus text format 0.0.4 or OpenMetrics 1.0 (metrics_expo.c).
 * Series with identical labels are merged, so pods of one Deployment are one series, as in
 * Istio; the table holds at most `cap` series and counts the ones it had to drop.
 */
#ifndef SKIFF_METRICS_H
#define SKIFF_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"
#include "model/model.h"

enum metrics_fmt {
	METRICS_TEXT,	     /* text/plain; version=0.0.4 */
	METRICS_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
};

/* One end of a connection or request, as Istio labels it ("unknown" where unknown). */
struct metrics_peer {
	char workload[254], ns[64], principal[320], app[64], version[64];
	char canonical_service[64], canonical_revision[64], cluster[64];
};

/* Everything that tells one Istio series from another. */
struct metrics_key {
	const char *reporter; /* "source" or "destination" */
	struct metrics_peer src, dst;
	char dst_service[300], dst_service_name[64], dst_service_ns[64];
	const char *protocol;	    /* "tcp", "http", "grpc" */
	int response_code;	    /* HTTP status; unused for TCP series */
	const char *response_flags; /* Envoy's, "-" for none */
	const char *security;	    /* "mutual_tls" or "none" */
};

/* Istio's histogram buckets: Envoy's default bounds, the same for durations (ms) and sizes. */
#define METRICS_NBUCKETS 19
extern const double metrics_buckets[METRICS_NBUCKETS];

struct metrics_hist {
	uint64_t b[METRICS_NBUCKETS]; /* observations <= bound i (not cumulative) */
	uint64_t count;
	double sum;
};
void metrics_hist_observe(struct metrics_hist *h, double v);

/* Request-level counters of one HTTP series. */
struct metrics_http {
	uint64_t requests;
	struct metrics_hist duration_ms, request_bytes, response_bytes;
};

/* Connection-level counters of one TCP series. */
struct metrics_tcp {
	uint64_t opened, closed, sent, received;
};

struct metrics_table;

#define METRICS_DEFAULT_CAP 20000
struct metrics_table *metrics_table_new(size_t cap);
void metrics_table_free(struct metrics_table *t);
/* Add to the series of `k` (created on first use). -ENOSPC when the table is full: the sample
 * is counted in metrics_table_dropped() instead. */
int metrics_table_add_tcp(struct metrics_table *t, const struct metrics_key *k,
			  const struct metrics_tcp *v);
int metrics_table_add_http(struct metrics_table *t, const struct metrics_key *k,
			   const struct metrics_http *v);
/* Add every series of `from` to `t` (the relays' request counters into a scrape's table). `from`
 * may only have grown since the last merge into `t`: each of its series is looked up in `t` once.
 */
void metrics_table_merge(struct metrics_table *t, const struct metrics_table *from);
/*
 * A table kept from scrape to scrape: metrics_table_begin starts a scrape, whose counts start
 * from zero; a page shows only the series this scrape added to. metrics_table_series gives a
 * series' index (created when new, -ENOSPC when the table is full), valid for the table's life,
 * so a caller that knows which series its counters go to adds them without rendering a label.
 */
void metrics_table_begin(struct metrics_table *t);
long metrics_table_series(struct metrics_table *t, const struct metrics_key *k, bool http);
void metrics_table_add_tcp_at(struct metrics_table *t, size_t i, const struct metrics_tcp *v);
/* Series on this scrape's page; series held (this scrape's and earlier ones'). */
size_t metrics_table_len(const struct metrics_table *t);
size_t metrics_table_held(const struct metrics_table *t);
uint64_t metrics_table_dropped(const struct metrics_table *t);
/* Render every Istio family of the table. */
void metrics_table_render(const struct metrics_table *t, enum metrics_fmt f, struct strbuf *b);

/* Exposition primitives (metrics_expo.c), also for the skiff_* families. */
void metrics_family(struct strbuf *b, enum metrics_fmt f, const char *name, const char *type,
		    const char *help);
/* `labels` is already rendered (metrics_label); NULL or "" for none. */
void metrics_sample(struct strbuf *b, const char *name, const char *labels, double v);
void metrics_sample_u64(struct strbuf *b, const char *name, const char *labels, uint64_t v);
/* Append name="value" (comma first when b is not empty), the value escaped. */
void metrics_label(struct strbuf *b, const char *name, const char *value);
/* _bucket (cumulative, le="+Inf" last), _sum and _count of one histogram series. */
void metrics_hist_render(struct strbuf *b, const char *name, const char *labels,
			 const struct metrics_hist *h);
void metrics_end(struct strbuf *b, enum metrics_fmt f);
/* Pick a format from a scraper's Accept header (NULL: text). */
enum metrics_fmt metrics_negotiate(const char *accept);
const char *metrics_content_type(enum metrics_fmt f);

/* Istio's label rules (metrics_labels.c). */
/* The workload of a pod: its Deployment from a ReplicaSet pod's name and pod-template-hash, the
 * StatefulSet or DaemonSet-like owner from its controller labels, else the pod's name. */
void metrics_workload_name(const struct m_pod *p, char *out, size_t len);
/* service.istio.io/canonical-name, app.kubernetes.io/name, app, else the workload name. */
const char *metrics_canonical_service(const struct labels *l, const char *workload);
/* service.istio.io/canonical-revision, app.kubernetes.io/version, version, else "latest". */
const char *metrics_canonical_revision(const struct labels *l);
/* Fill one end from a pod of the model; `p` NULL: every field "unknown". */
void metrics_peer_from_pod(struct metrics_peer *e, const struct m_pod *p, const char *trust_domain);
/* The first Service of the pod's namespace whose selector picks the pod (NULL when none). */
const struct m_service *metrics_pod_service(const struct model *m, const struct m_pod *p);
/* The destination_service* labels of `svc` (NULL: "unknown"). */
void metrics_key_service(struct metrics_key *k, const struct m_service *svc);

#endif
