// SPDX-License-Identifier: Apache-2.0
/*
 * The router's part in tracing, as an Istio client-side proxy does it: each request gets an
 * x-request-id when it has none, continues the trace its B3 or traceparent fields carry (or
 * starts one, sampled at the mesh's rate), and gets a CLIENT span whose ids go to the endpoint
 * (route_head.c writes them) and into the HBONE CONNECT when the endpoint is on another node
 * (route_forward.c), so that the destination's SERVER span is its child. Propagation happens
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

	trace_extract(q->msg.fields, q->msg.nfields, &in);
	trace_child(&in, in.sampled < 0 && tracing_sample(c->src_pod), &q->trace);
	q->request_id_new = !rid || !rid[0];
	if (q->request_id_new)
		trace_request_id(q->request_id);
	else
		snprintf(q->request_id, sizeof(q->request_id), "%s", rid);
	q->trace_start_us = trace_now_us();
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
	trace_tag(s, "http.protocol", "HTTP/1.1");
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
	tracing_submit(&s);
}
