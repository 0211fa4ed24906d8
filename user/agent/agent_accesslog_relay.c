// SPDX-License-Identifier: Apache-2.0
/*
 * Access log lines of the L7 relay, the destination pod's proxy (server side, reporter
 * destination): its filter decides a request (we copy what the line needs then, since the
 * request's fields live only during the decision), queues it (request), and later sees the status
 * that answers it (response), in the same order. A line is written at the response, when the
 * filter expression can see response.code, and its sizes, which the filter tells right after
 * (none for an exchange the connection's end cut short); an HTTP/2 stream's when it ends. Runs on the proxy thread; never waits on stdout.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "accesslog/accesslog.h"
#include "agent/agent_state.h"

struct al_req {
	char *method, *path, *host, *ua, *xff, *id;
	struct hdr_copy {
		char *name, *value;
	} * hdrs;
	size_t nhdrs;
	int64_t start_ms;
	bool set;
	uint32_t sid; /* HTTP/2: its stream */
};

#define AL_RELAY_STREAMS                                                                           \
	1024 /* HTTP/2 streams awaiting their line (as many as the filter lets in) */

struct agent_al_relay {
	struct al_policy *pol; /* referenced for the connection's life, as its snapshot is */
	const struct al_cel *filter;
	char dst[320], src_ip[64], dst_ip[64], principal[300], dst_principal[300];
	uint16_t dst_port;
	bool mtls;
	struct al_req pending; /* decided, not queued yet */
	struct al_req *q;      /* queued, oldest at head */
	size_t head, n, cap;
	struct al_req *streams; /* HTTP/2 streams decided and not answered, in no order */
	size_t nstreams, scap;
	/* HTTP/1.1: the exchange answered last, its line waiting for its sizes (the filter tells
	 * them right after the status, unless the connection's end cut the exchange short) */
	struct al_req answered;
	int answered_status;
	const char *answered_flags;
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void req_free(struct al_req *r)
{
	free(r->method);
	free(r->path);
	free(r->host);
	free(r->ua);
	free(r->xff);
	free(r->id);
	for (size_t i = 0; i < r->nhdrs; i++) {
		free(r->hdrs[i].name);
		free(r->hdrs[i].value);
	}
	free(r->hdrs);
	memset(r, 0, sizeof(*r));
}

static int64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct agent_al_relay *agent_al_relay_new(const struct m_pod *dst, const char *src_ip,
					  const char *principal, bool mtls, const char *dst_ip,
					  uint16_t dst_port)
{
	struct al_policy *pol = al_get();
	const struct al_cel *f;
	struct agent_al_relay *r;

	if (!pol || !al_policy_logs(pol, dst->meta.ns, dst->meta.name, AL_SERVER, &f) ||
	    !(r = calloc(1, sizeof(*r)))) {
		al_policy_unref(pol);
		return NULL;
	}
	r->pol = pol;
	r->filter = f;
	snprintf(r->dst, sizeof(r->dst), "%s/%s", dst->meta.ns, dst->meta.name);
	snprintf(r->src_ip, sizeof(r->src_ip), "%s", src_ip ? src_ip : "");
	snprintf(r->dst_ip, sizeof(r->dst_ip), "%s", dst_ip);
	snprintf(r->principal, sizeof(r->principal), "%s", principal ? principal : "");
	snprintf(r->dst_principal, sizeof(r->dst_principal), "%s",
		 al_policy_principal(pol, dst->meta.ns, dst->meta.name) ?: "");
	r->dst_port = dst_port;
	r->mtls = mtls;
	return r;
}

static const char *find_hdr(const struct authz_request *rq, const char *name)
{
	for (size_t i = 0; i < rq->nheaders; i++)
		if (!strcasecmp(rq->headers[i].name, name))
			return rq->headers[i].value;
	return NULL;
}

static void req_fill(struct al_req *p, const struct authz_request *rq)
{
	p->set = true;
	p->start_ms = realtime_ms();
	p->method = dup_or_null(rq->method);
	p->path = dup_or_null(rq->path);
	p->host = dup_or_null(rq->host);
	p->ua = dup_or_null(find_hdr(rq, "user-agent"));
	p->xff = dup_or_null(find_hdr(rq, "x-forwarded-for"));
	p->id = dup_or_null(find_hdr(rq, "x-request-id"));
	p->hdrs = calloc(rq->nheaders + 1, sizeof(*p->hdrs));
	for (size_t i = 0; p->hdrs && i < rq->nheaders; i++) {
		p->hdrs[i].name = strdup(rq->headers[i].name);
		p->hdrs[i].value = strdup(rq->headers[i].value);
		for (char *c = p->hdrs[i].name; c && *c; c++)
			*c = (char)tolower((unsigned char)*c);
		p->nhdrs++;
	}
}

void agent_al_relay_decided(struct agent_al_relay *r, const struct authz_request *rq)
{
	if (!r || rq->tcp)
		return;
	req_free(&r->pending);
	req_fill(&r->pending, rq);
}

void agent_al_relay_stream_begin(struct agent_al_relay *r, uint32_t sid,
				 const struct authz_request *rq)
{
	if (!r)
		return;
	if (r->nstreams == r->scap) {
		size_t cap = r->scap ? 2 * r->scap : 8;
		struct al_req *s;

		if (cap > AL_RELAY_STREAMS || !(s = realloc(r->streams, cap * sizeof(*s))))
			return; /* no line for it */
		r->streams = s;
		r->scap = cap;
	}
	memset(&r->streams[r->nstreams], 0, sizeof(r->streams[0]));
	req_fill(&r->streams[r->nstreams], rq);
	r->streams[r->nstreams++].sid = sid;
}

void agent_al_relay_request(struct agent_al_relay *r)
{
	if (!r)
		return;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 4;
		struct al_req *q = calloc(cap, sizeof(*q));

		if (!q) {
			req_free(&r->pending);
			return;
		}
		for (size_t i = 0; i < r->n; i++)
			q[i] = r->q[(r->head + i) % r->cap];
		free(r->q);
		r->q = q;
		r->cap = cap;
		r->head = 0;
	}
	if (!r->pending.set)
		r->pending.start_ms = realtime_ms(); /* refused before any decision (400, 431) */
	r->q[(r->head + r->n++) % r->cap] = r->pending;
	memset(&r->pending, 0, sizeof(r->pending));
}

static const char *req_header(const void *ctx, const char *name)
{
	const struct al_req *q = ctx;

	for (size_t i = 0; i < q->nhdrs; i++)
		if (!strcmp(q->hdrs[i].name, name))
			return q->hdrs[i].value;
	return NULL;
}

/* sizes: NULL when unknown (HTTP/1.1: its line is written at the response head) */
static void emit(struct agent_al_relay *r, const struct al_req *q, int status, const char *flags,
		 const char *protocol, const uint64_t *sizes)
{
	struct al_attrs at = {.http = true,
			      .method = q->method,
			      .path = q->path,
			      .host = q->host,
			      .scheme = "http",
			      .protocol = protocol,
			      .request_id = q->id,
			      .user_agent = q->ua,
			      .response_code = status,
			      .mtls = r->mtls,
			      .source_address = r->src_ip,
			      .destination_address = r->dst_ip,
			      .destination_port = r->dst_port,
			      .header = req_header,
			      .ctx = q};
	char local[96], cluster[64];
	struct al_entry en = {0};

	if (r->filter && !al_cel_eval(r->filter, &at))
		return;
	snprintf(local, sizeof(local), "%s:%u", r->dst_ip, r->dst_port);
	snprintf(cluster, sizeof(cluster), "inbound|%u||", r->dst_port);
	en.side = AL_SERVER;
	en.start_ms = q->start_ms;
	en.duration_ms = (uint64_t)(realtime_ms() - q->start_ms);
	en.method = q->method;
	en.path = q->path;
	en.protocol = protocol;
	en.authority = q->host;
	en.user_agent = q->ua;
	en.request_id = q->id;
	en.x_forwarded_for = q->xff;
	en.response_code = status;
	en.response_flags = flags ? flags : "-";
	if (sizes) {
		en.bytes_received = sizes[0];
		en.bytes_sent = sizes[1];
	}
	if (flags && !strcmp(flags, "UC"))
		en.connection_termination_details = "upstream closed";
	else if (flags && !strcmp(flags, "DC"))
		en.connection_termination_details = "downstream closed";
	en.upstream_host = local;
	en.upstream_cluster = cluster;
	en.downstream_remote_address = r->src_ip[0] ? r->src_ip : NULL;
	en.downstream_local_address = local;
	en.source_principal = r->principal[0] ? r->principal : NULL;
	en.destination_principal = r->mtls ? r->dst_principal : NULL;
	en.destination_workload = r->dst;
	al_emit(r->pol, &en);
}

/* The line of the exchange answered last, with its sizes when known. */
static void answered_emit(struct agent_al_relay *r, const uint64_t *sizes)
{
	if (!r->answered.set)
		return;
	emit(r, &r->answered, r->answered_status, r->answered_flags, "HTTP/1.1", sizes);
	req_free(&r->answered);
}

void agent_al_relay_response(struct agent_al_relay *r, int status, const char *flags)
{
	if (!r || !r->n)
		return;
	answered_emit(r, NULL); /* cut short: no sizes came */
	r->answered = r->q[r->head];
	r->answered.set =
	    true; /* a request refused before its decision has no fields, still a line */
	r->answered_status = status;
	r->answered_flags = flags;
	r->head = (r->head + 1) % r->cap;
	r->n--;
}

void agent_al_relay_sizes(struct agent_al_relay *r, uint64_t request, uint64_t response)
{
	const uint64_t sizes[2] = {request, response};

	if (r)
		answered_emit(r, sizes);
}

void agent_al_relay_stream_end(struct agent_al_relay *r, uint32_t sid, int status,
			       const char *flags, uint64_t request, uint64_t response)
{
	const uint64_t sizes[2] = {request, response};

	if (!r)
		return;
	for (size_t i = r->nstreams; i-- > 0;) {
		if (sid && r->streams[i].sid != sid)
			continue;
		emit(r, &r->streams[i], status, flags, "HTTP/2", sizes);
		req_free(&r->streams[i]);
		r->streams[i] = r->streams[--r->nstreams];
		if (sid)
			return;
	}
}

void agent_al_relay_free(struct agent_al_relay *r)
{
	if (!r)
		return;
	answered_emit(r, NULL);
	req_free(&r->pending);
	while (r->n) {
		req_free(&r->q[r->head]);
		r->head = (r->head + 1) % r->cap;
		r->n--;
	}
	free(r->q);
	for (size_t i = 0; i < r->nstreams; i++)
		req_free(&r->streams[i]);
	free(r->streams);
	al_policy_unref(r->pol);
	free(r);
}
