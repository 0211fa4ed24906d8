// SPDX-License-Identifier: Apache-2.0
/*
 * The destination side of tracing: a SERVER span per request the L7 relay passes (or answers
 * 403) for a pod of this node. What a request needs for its span is kept from `begin` to `end`
 * in a short FIFO (requests may be pipelined; answers come in order); past TRACE_IN_MAX in
 * flight, later requests still get their fields but no span.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/agent_trace_in.h"
#include "model/model.h"
#include "tracing/tracing.h"

#define TRACE_IN_MAX	 16
#define TRACE_IN_STREAMS 1024 /* HTTP/2 streams in flight with a span to finish */

struct trace_in_req {
	uint32_t sid; /* HTTP/2: its stream */
	struct trace_ids ids;
	bool used; /* this entry has a span to finish (else the request was not seen by begin) */
	uint64_t start_us;
	char method[16];
	char host[128];
	char url[256];
	char request_id[64];
	char ua[128];
	struct trace_tag ctags[6]; /* the pod's Telemetry customTags, valued from the request */
	size_t nctags;
};

struct trace_in_conn {
	const struct m_pod *dst; /* the snapshot the connection holds keeps it */
	char src_ip[46];
	uint16_t port;
	struct trace_in parent;	  /* the CONNECT's traceparent; has_ids false when none */
	struct trace_in_req next; /* begun, not queued yet */
	struct trace_in_req q[TRACE_IN_MAX];
	size_t head, len;
	struct trace_in_req *streams; /* HTTP/2, in no order: streams end as they do */
	size_t nstreams, scap;
};

struct trace_in_conn *trace_in_new(const struct m_pod *dst, const char *src_ip, uint16_t port)
{
	struct trace_in_conn *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->dst = dst;
	snprintf(t->src_ip, sizeof(t->src_ip), "%s", src_ip ? src_ip : "");
	t->port = port;
	t->parent.sampled = -1;
	return t;
}

void trace_in_free(struct trace_in_conn *t)
{
	if (t)
		free(t->streams);
	free(t);
}

void trace_in_connect(struct trace_in_conn *t, const char *traceparent)
{
	struct trace_in in;

	/* a malformed one is no parent at all: the request's own trace or a new one decides */
	if (t && !trace_parse_traceparent(traceparent, &in))
		t->parent = in;
}

static const char *field(const struct authz_request *rq, const char *name)
{
	for (size_t i = 0; i < rq->nheaders; i++)
		if (!strcasecmp(rq->headers[i].name, name))
			return rq->headers[i].value;
	return NULL;
}

/* What the span of `rq` needs, into *r; its request id is the client's, or a new one. */
static void req_begin(const struct trace_in_conn *t, const struct authz_request *rq,
		      struct trace_in_req *r)
{
	const char *rid = field(rq, "x-request-id"), *ua = field(rq, "user-agent");
	struct trace_in in;

	memset(r, 0, sizeof(*r));
	trace_extract(rq->headers, rq->nheaders, &in);
	if (!in.has_ids && t->parent.has_ids) {
		int sampled = in.sampled;

		in = t->parent;
		if (sampled >= 0)
			in.sampled = sampled;
	}
	trace_child(&in, in.sampled < 0 && tracing_sample(t->dst, TRACE_SERVER), &r->ids);
	r->used = true;
	r->start_us = trace_now_us();
	r->nctags = tracing_custom_tags(t->dst, TRACE_SERVER, rq->headers, rq->nheaders, r->ctags,
					sizeof(r->ctags) / sizeof(r->ctags[0]));
	snprintf(r->method, sizeof(r->method), "%s", rq->method ? rq->method : "-");
	snprintf(r->host, sizeof(r->host), "%s", rq->host ? rq->host : "-");
	snprintf(r->url, sizeof(r->url), "http://%s%s", r->host, rq->path ? rq->path : "");
	snprintf(r->ua, sizeof(r->ua), "%s", ua ? ua : "-");
	if (rid && rid[0])
		snprintf(r->request_id, sizeof(r->request_id), "%s", rid);
	else
		trace_request_id(r->request_id);
}

int trace_in_begin(struct trace_in_conn *t, const struct authz_request *rq, struct l7_buf *fields)
{
	struct trace_in_req *r = &t->next;
	const char *rid = field(rq, "x-request-id");

	req_begin(t, rq, r);
	return trace_inject(&r->ids, rid && rid[0] ? NULL : r->request_id, fields);
}

int trace_in_stream_begin(struct trace_in_conn *t, uint32_t sid, const struct authz_request *rq,
			  trace_field_fn field_fn, void *arg)
{
	const char *rid = field(rq, "x-request-id");
	struct trace_in_req r;

	if (!t)
		return 0;
	req_begin(t, rq, &r);
	r.sid = sid;
	if (t->nstreams == t->scap && t->scap < TRACE_IN_STREAMS) {
		size_t cap = t->scap ? 2 * t->scap : 8;
		struct trace_in_req *s = realloc(t->streams, cap * sizeof(*s));

		if (s) {
			t->streams = s;
			t->scap = cap;
		}
	}
	if (t->nstreams < t->scap) /* else: its fields still go, its span does not */
		t->streams[t->nstreams++] = r;
	/* a denied stream reaches no pod: it has a span, nothing to propagate */
	return field_fn ? trace_fields(&r.ids, rid && rid[0] ? NULL : r.request_id, field_fn, arg)
			: 0;
}

void trace_in_queued(struct trace_in_conn *t)
{
	if (!t)
		return;
	if (t->len < TRACE_IN_MAX)
		t->q[(t->head + t->len++) % TRACE_IN_MAX] = t->next;
	memset(&t->next, 0, sizeof(t->next));
}

static void span_tags(const struct trace_in_conn *t, const struct trace_in_req *r, int status,
		      const char *flags, const char *protocol, struct trace_span *s)
{
	trace_pod_tags(s, t->dst);
	trace_tag(s, "component", "proxy");
	trace_tag(s, "http.method", "%s", r->method);
	trace_tag(s, "http.url", "%s", r->url);
	trace_tag(s, "http.protocol", "%s", protocol);
	trace_tag(s, "http.status_code", "%d", status);
	/* a policy's 403 has none, as Envoy's RBAC filter sets none (its details name the policy) */
	trace_tag(s, "response_flags", "%s", flags ? flags : "-");
	trace_tag(s, "upstream_cluster", "inbound|%u||", t->port);
	trace_tag(s, "upstream_cluster.name", "inbound|%u||", t->port);
	trace_tag(s, "guid:x-request-id", "%s", r->request_id);
	trace_tag(s, "user_agent", "%s", r->ua);
	trace_tag(s, "downstream_cluster", "-");
	trace_tag(s, "peer.address", "%s", t->src_ip);
	trace_node_tag(s);
}

/* The SERVER span of one answered request. */
static void finish(const struct trace_in_conn *t, const struct trace_in_req *rp, int status,
		   const char *flags, const char *protocol)
{
	struct trace_in_req r = *rp;
	struct trace_span s;

	if (!r.used || !r.ids.sampled || !tracing_reports(t->dst, TRACE_SERVER))
		return;
	memset(&s, 0, sizeof(s));
	s.ids = r.ids;
	s.kind = TRACE_SERVER;
	s.start_us = r.start_us;
	s.duration_us = trace_now_us() - r.start_us;
	s.error = status >= 500;
	/* Envoy's: the authority and the port, then the route's wildcard */
	if (strchr(r.host, ':'))
		snprintf(s.name, sizeof(s.name), "%s/*", r.host);
	else
		snprintf(s.name, sizeof(s.name), "%s:%u/*", r.host, t->port);
	snprintf(s.remote_ip, sizeof(s.remote_ip), "%s", t->src_ip);
	span_tags(t, &r, status, flags, protocol, &s);
	for (size_t i = 0; i < r.nctags && s.ntags < TRACE_MAX_TAGS; i++)
		s.tags[s.ntags++] = r.ctags[i];
	tracing_submit(&s);
}

void trace_in_end(struct trace_in_conn *t, int status, const char *flags)
{
	struct trace_in_req r;

	if (!t || !t->len)
		return;
	r = t->q[t->head];
	t->head = (t->head + 1) % TRACE_IN_MAX;
	t->len--;
	finish(t, &r, status, flags, "HTTP/1.1");
}

void trace_in_stream_end(struct trace_in_conn *t, uint32_t sid, int status, const char *flags)
{
	if (!t)
		return;
	for (size_t i = t->nstreams; i-- > 0;) {
		if (sid && t->streams[i].sid != sid)
			continue;
		finish(t, &t->streams[i], status, flags, "HTTP/2");
		t->streams[i] = t->streams[--t->nstreams];
		if (sid)
			return;
	}
}
