// SPDX-License-Identifier: Apache-2.0
/*
 * The router's part in tracing, as an Istio client-side proxy does it: each request gets an
 * x-request-id when it has none, continues the trace its B3 or traceparent fields carry (or
 * starts one, sampled at the mesh's rate), and gets a CLIENT span whose ids go to the endpoint
 * (route_head.c writes them) and into the HBONE CONNECT when the endpoint is on another node
 * (route_forward.c, route_h2_up.c), so that the destination's SERVER span is its child. An
 * HTTP/2 stream is a request like any other here. Propagation happens
 * whether or not the request is sampled; only a sampled request's span is exported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "l7route/route_conn.h"
#include "tracing/tracing.h"

void l7r_trace_begin(struct l7r_conn *c, struct l7r_req *q)
{
	const char *rid = l7r_header(&q->rq, "x-request-id");
	struct trace_in in;

	/* rq.headers: the HTTP/1.1 head's fields, or an HTTP/2 stream's */
	trace_extract(q->rq.headers, q->rq.nheaders, &in);
	trace_child(&in, in.sampled < 0 && tracing_sample(c->src_pod, TRACE_CLIENT), &q->trace);
	q->request_id_new = !rid || !rid[0];
	if (q->request_id_new)
		trace_request_id(q->request_id);
	else
		snprintf(q->request_id, sizeof(q->request_id), "%s", rid);
	q->rec.request_id = q->request_id;
	q->trace_start_us = trace_now_us();
}

int l7r_trace_fields(const struct l7r_req *q, int (*emit)(void *, const char *, const char *),
		     void *arg)
{
	return trace_fields(&q->trace, q->request_id_new ? q->request_id : NULL, emit, arg);
}

/* Istio's cluster name for the route's destination: outbound|port|subset|fqdn. */
static void upstream_cluster(const struct l7r_conn *c, const struct l7r_req *q, char *out,
			     size_t len)
{
	const struct m_service *svc = q->dest && q->dest->target ? q->dest->target : c->sp->svc;
	uint16_t port = q->dest ? q->dest->port : ntohs(c->vip.port);
	const char *subset = q->dest && q->dest->dst->subset ? q->dest->dst->subset : "";

	snprintf(out, len, "outbound|%u|%s|%s.%s.svc.cluster.local", port, subset, svc->meta.name,
		 svc->meta.ns);
}

static void tags(struct l7r_conn *c, struct l7r_req *q, struct trace_span *s)
{
	const char *ua = l7r_header(&q->rq, "user-agent");
	char flags[64], cluster[300];

	trace_tag(s, "component", "proxy");
	trace_tag(s, "http.method", "%s", q->rq.method);
	trace_tag(s, "http.url", "http://%s%s", q->rq.authority ? q->rq.authority : "-",
		  q->rq.path);
	trace_tag(s, "http.protocol", "%s", q->rec.h2 ? "HTTP/2" : "HTTP/1.1");
	trace_tag(s, "http.status_code", "%d", q->rec.code);
	trace_tag(s, "response_flags", "%s", l7r_flags_str(q->rec.flags, flags, sizeof(flags)));
	upstream_cluster(c, q, cluster, sizeof(cluster));
	trace_tag(s, "upstream_cluster", "%s", cluster);
	trace_tag(s, "upstream_cluster.name", "%s", cluster);
	if (q->rec.upstream[0])
		trace_tag(s, "upstream_host", "%s", q->rec.upstream);
	trace_tag(s, "guid:x-request-id", "%s", q->request_id);
	trace_tag(s, "user_agent", "%s", ua ? ua : "-");
	trace_tag(s, "downstream_cluster", "-");
	trace_tag(s, "peer.address", "%s", s->local_ip);
	trace_node_tag(s);
}

void l7r_trace_end(struct l7r_conn *c, struct l7r_req *q)
{
	struct trace_span s;
	const char *colon;

	if (!q->trace.sampled || !q->rq.method)
		return;
	memset(&s, 0, sizeof(s));
	s.ids = q->trace;
	s.kind = TRACE_CLIENT;
	s.start_us = q->trace_start_us;
	s.duration_us = trace_now_us() - q->trace_start_us;
	s.error = q->rec.code >= 500 || !q->rec.code;
	snprintf(s.name, sizeof(s.name), "%s.%s.svc.cluster.local:%u/*", c->sp->svc->meta.name,
		 c->sp->svc->meta.ns, ntohs(c->vip.port));
	addr_text(&c->client.addr, c->client.family, s.local_ip, sizeof(s.local_ip));
	colon = strrchr(q->rec.upstream, ':');
	if (colon) {
		snprintf(s.remote_ip, sizeof(s.remote_ip), "%.*s", (int)(colon - q->rec.upstream),
			 q->rec.upstream);
		s.remote_port = (uint16_t)atoi(colon + 1);
	}
	trace_pod_tags(&s, c->src_pod);
	tags(c, q, &s);
	s.ntags += tracing_custom_tags(c->src_pod, TRACE_CLIENT, q->rq.headers, q->rq.nheaders,
				       &s.tags[s.ntags], TRACE_MAX_TAGS - s.ntags);
	if (tracing_reports(c->src_pod, TRACE_CLIENT)) /* disableSpanReporting: propagated only */
		tracing_submit(&s);
}

/*
 * A mirrored copy has a CLIENT span of its own, a child of the request's span named "mirror" as
 * Envoy names a shadow request's span, sampled with the request. What it needs from the
 * connection is copied now: the copy outlives the request and the snapshot it read.
 */
struct trace_span *l7r_trace_mirror_begin(struct l7r_conn *c, struct l7r_req *q,
					  const struct l7_dest *d, const struct l7_endpoint *ep,
					  const char *host, const struct trace_ids *ids)
{
	const char *ua = l7r_header(&q->rq, "user-agent");
	struct trace_span *s;
	char cluster[300];

	if (!ids->sampled || !tracing_reports(c->src_pod, TRACE_CLIENT) ||
	    !(s = calloc(1, sizeof(*s))))
		return NULL;
	s->ids = *ids;
	s->kind = TRACE_CLIENT;
	s->start_us = trace_now_us();
	snprintf(s->name, sizeof(s->name), "mirror");
	addr_text(&c->client.addr, c->client.family, s->local_ip, sizeof(s->local_ip));
	addr_text(&ep->addr.addr, ep->addr.family, s->remote_ip, sizeof(s->remote_ip));
	s->remote_port = ntohs(ep->addr.port);
	trace_pod_tags(s, c->src_pod);
	snprintf(cluster, sizeof(cluster), "outbound|%u|%s|%s.%s.svc.cluster.local", d->port,
		 d->dst && d->dst->subset ? d->dst->subset : "", d->target->meta.name,
		 d->target->meta.ns);
	trace_tag(s, "component", "proxy");
	trace_tag(s, "http.method", "%s", q->rq.method);
	trace_tag(s, "http.url", "http://%s%s", host, q->rq.path);
	trace_tag(s, "http.protocol", "HTTP/1.1");
	trace_tag(s, "upstream_cluster", "%s", cluster);
	trace_tag(s, "upstream_cluster.name", "%s", cluster);
	trace_tag(s, "upstream_host", "%s:%u", s->remote_ip, s->remote_port);
	trace_tag(s, "guid:x-request-id", "%s", q->request_id);
	trace_tag(s, "user_agent", "%s", ua ? ua : "-");
	trace_tag(s, "peer.address", "%s", s->local_ip);
	trace_node_tag(s);
	s->ntags += tracing_custom_tags(c->src_pod, TRACE_CLIENT, q->rq.headers, q->rq.nheaders,
					&s->tags[s->ntags], TRACE_MAX_TAGS - 1 - s->ntags);
	return s;
}

void l7r_trace_mirror_end(struct trace_span *s, int status)
{
	if (!s)
		return;
	s->duration_us = trace_now_us() - s->start_us;
	s->error = status >= 500 || status <= 0;
	trace_tag(s, "http.status_code", "%d", status > 0 ? status : 0);
	tracing_submit(s);
	free(s);
}
