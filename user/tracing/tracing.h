/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Spans of the requests skiffd handles, and their export.
 *
 * The L7 router makes a CLIENT span per request on the client's node, the L7 relay a SERVER span
 * per request on the destination's node; both continue the trace the request carries (B3 or W3C,
 * trace_ctx.h) or start one. A finished span goes into a bounded queue (tracing_submit never
 * blocks and never does I/O: a full queue drops the span and counts it); one exporter thread
 * batches the queue to a Zipkin v2 endpoint (POST /api/v2/spans) or an OTLP/HTTP one
 * (POST /v1/traces), both JSON, with libcurl.
 *
 * The configuration (where to, how much to sample) is replaced whole on each reload
 * (tracing_configure) and read per request without a lock on the data path's side.
 */
#ifndef SKIFF_TRACING_H
#define SKIFF_TRACING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "l7/l7_filter.h" /* struct l7_buf */
#include "tracing/trace_ctx.h"

struct m_pod;
struct model;

enum trace_kind { TRACE_CLIENT, TRACE_SERVER };

#define TRACE_MAX_TAGS 28 /* skiffd's own (about 18) and custom tags */

struct trace_tag {
	char key[32];
	char val[224];
};

struct trace_span {
	struct trace_ids ids;
	enum trace_kind kind;
	char name[160];	   /* Envoy's: "<fqdn>:<port>/" and a star, the destination */
	char service[128]; /* localEndpoint.serviceName: "<canonical service>.<namespace>" */
	char local_ip[46];
	char remote_ip[46];
	uint16_t remote_port;
	uint64_t start_us; /* wall clock, microseconds since the epoch */
	uint64_t duration_us;
	bool error; /* 5xx or no response */
	struct trace_tag tags[TRACE_MAX_TAGS];
	size_t ntags;
};

void trace_tag(struct trace_span *s, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint64_t trace_now_us(void);
/* Tags every skiffd span carries about the pod it speaks for (canonical service, revision,
 * namespace, workload) and the node (node_id), and the span's localEndpoint service name. */
void trace_pod_tags(struct trace_span *s, const struct m_pod *p);

/* The encodings (tracing_json.c): a JSON document of `n` spans, malloc'd; NULL on failure. */
char *trace_zipkin_json(const struct trace_span *const *s, size_t n);
char *trace_otlp_json(const struct trace_span *const *s, size_t n);

/* What the mesh configuration says (model_mesh_tracing.c fills it from meshConfig). */
enum trace_proto { TRACE_PROTO_NONE, TRACE_PROTO_ZIPKIN, TRACE_PROTO_OTLP };

struct tracing_config {
	enum trace_proto proto;
	char url[512];	 /* http://host:port/api/v2/spans or /v1/traces */
	double sampling; /* percent, 0..100 */
	char node[128];	 /* node_id tag */
};

#define TRACE_DEFAULT_SAMPLING 1.0 /* Istio's meshConfig default */
#define TRACE_QUEUE_MAX	       4096
#define TRACE_BATCH_MAX	       256

/* Install `c` (copied). Any thread. */
void tracing_configure(const struct tracing_config *c);
/* The sampling percentage for the spans of kind `k` of pod `p` (the client's for CLIENT, the
 * server's for SERVER; NULL: unknown): the Telemetry resources' randomSamplingPercentage for
 * the pod and side, else the mesh-wide value. */
double tracing_sampling_for(const struct m_pod *p, enum trace_kind k);
/* Draw the sampling decision for a request that brought none. */
bool tracing_sample(const struct m_pod *p, enum trace_kind k);

/* What the Telemetry resources say about one pod's spans of one kind (tracing_workload.c). */
struct trace_custom_tag {
	char *name;
	char *value; /* the literal (an environment tag is resolved when installed), or header */
	char *def;   /* a header's default; NULL: none */
	bool header;
};

struct trace_workload {
	char pod[320]; /* "ns/name" */
	enum trace_kind kind;
	double sampling; /* < 0: the mesh's */
	bool disable;	 /* disableSpanReporting: spans made and propagated, not exported */
	struct trace_custom_tag *tags;
	size_t ntags;
};

/* Install `v` (ownership passes; sorted here); any thread. */
void tracing_set_workloads(struct trace_workload *v, size_t n);
void trace_workloads_free(struct trace_workload *v, size_t n);
/* p's own sampling for kind k into *pct; false: none set (the mesh's applies). */
bool tracing_workload_sampling(const struct m_pod *p, enum trace_kind k, double *pct);
/* False when p's spans of kind k are not to be exported (disableSpanReporting). */
bool tracing_reports(const struct m_pod *p, enum trace_kind k);
/* p's custom tags for kind k, valued from the request's fields `h` where they name a header,
 * into out (at most max); how many. */
size_t tracing_custom_tags(const struct m_pod *p, enum trace_kind k, const struct authz_header *h,
			   size_t nh, struct trace_tag *out, size_t max);
/* The node_id tag (the configured node's), like an Envoy's node id. */
void trace_node_tag(struct trace_span *s);
/* Whether spans go anywhere (an exporter is configured). */
bool tracing_enabled(void);

/* Start the exporter thread (once; skiffd). 0 or -errno. */
int tracing_start(void);
void tracing_stop(void);
/* Hand a finished span over (copied); never blocks. Dropped and counted when the queue is full
 * or no exporter runs; ignored when no collector is configured. */
void tracing_submit(const struct trace_span *s);

struct tracing_stats {
	uint64_t spans;	   /* submitted */
	uint64_t dropped;  /* the queue was full */
	uint64_t exported; /* accepted by the collector (2xx) */
	uint64_t failed;   /* in batches the collector refused or could not be reached */
};
void tracing_stats(struct tracing_stats *out);

/*
 * The propagation fields of `ids` for the next hop (x-b3-traceid, x-b3-spanid,
 * x-b3-parentspanid, x-b3-sampled, traceparent) and, when `request_id` is not NULL,
 * x-request-id. The caller drops the incoming ones (trace_field_replaced).
 */
int trace_inject(const struct trace_ids *ids, const char *request_id, struct l7_buf *out);
/* The same fields, lower-case as HTTP/2 sends them, one call of `emit` each (0 or -errno; the
 * first error stops). */
typedef int (*trace_field_fn)(void *arg, const char *name, const char *value);
int trace_fields(const struct trace_ids *ids, const char *request_id, trace_field_fn emit,
		 void *arg);

#endif
