// SPDX-License-Identifier: Apache-2.0
/*
 * AuthorizationPolicy where skiffd decides (the proxy thread calls agent_authz): connections
 * punted to this node's pods, and HBONE streams arriving for them. The L4 question is answered
 * at once; when the destination's policies name HTTP attributes, the connection gets an L7
 * decider instead, which evaluates every request with the same evaluator (user/authz) and the
 * same snapshot the connection started with, even if a reload lands meanwhile.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/agent_l7_metrics.h"
#include "agent/agent_state.h"
#include "agent/agent_trace_in.h"
#include "common/addr.h"

static pthread_mutex_t snap_lock = PTHREAD_MUTEX_INITIALIZER;

struct agent_snap *agent_snap_current(struct agent *a)
{
	struct agent_snap *s;

	pthread_mutex_lock(&snap_lock);
	s = agent_snap_ref(a->snap);
	pthread_mutex_unlock(&snap_lock);
	return s;
}

void agent_snap_install(struct agent *a, struct agent_snap *s)
{
	struct agent_snap *old;

	pthread_mutex_lock(&snap_lock);
	old = a->snap;
	a->snap = s;
	pthread_mutex_unlock(&snap_lock);
	agent_snap_unref(old);
}

/* What one connection knows, for the evaluator: who, from where, to which workload. */
struct authz_conn {
	struct agent_snap *snap; /* referenced */
	struct authz_workload wl;
	const struct m_pod *dst_pod;
	char principal[300]; /* "" for plaintext */
	char src_ip[INET6_ADDRSTRLEN], dst_ip[INET6_ADDRSTRLEN];
	uint16_t dst_port;
	struct l7_timing *timing;    /* request metrics; NULL when out of memory */
	struct trace_in_conn *trace; /* SERVER spans; NULL when out of memory */
	struct agent_al_relay *al;   /* access log lines; NULL when the pod logs none */
};

static void conn_request(const struct authz_conn *ac, struct authz_request *rq)
{
	rq->principal = ac->principal;
	rq->source_ip = ac->src_ip[0] ? ac->src_ip : NULL;
	rq->dest_ip = ac->dst_ip;
	rq->dest_port = ac->dst_port;
}

static void log_denied(const struct authz_conn *ac, const struct authz_request *rq,
		       const struct authz_decision *dec)
{
	char why[512];

	authz_decision_format(dec, why, sizeof(why));
	fprintf(stderr, "skiffd authz: src.principal=%s src.ip=%s dst=%s/%s:%u %s%s%s denied: %s\n",
		ac->principal[0] ? ac->principal : "-", ac->src_ip[0] ? ac->src_ip : "-",
		ac->dst_pod->meta.ns, ac->dst_pod->meta.name, ac->dst_port,
		rq->tcp ? "tcp" : rq->method, rq->tcp ? "" : " ", rq->tcp ? "" : rq->path, why);
}

static bool l7_decide(void *ctx, struct authz_request *rq, char *why, size_t whylen)
{
	struct authz_conn *ac = ctx;
	struct authz_decision dec;

	conn_request(ac, rq); /* rq->tcp: the relay found no HTTP on the connection */
	agent_al_relay_decided(ac->al, rq);
	authz_evaluate(ac->snap->az, &ac->wl, rq, &dec);
	if (why)
		authz_decision_format(&dec, why, whylen);
	if (!dec.allow)
		log_denied(ac, rq, &dec);
	return dec.allow;
}

static void l7_request(void *ctx)
{
	struct authz_conn *ac = ctx;

	if (ac->timing)
		l7_timing_request(ac->timing);
	trace_in_queued(ac->trace);
	agent_al_relay_request(ac->al);
}

static void l7_response(void *ctx, int status, const char *flags)
{
	struct authz_conn *ac = ctx;

	if (ac->timing)
		l7_timing_response(ac->timing, status, flags);
	agent_al_relay_response(ac->al, status, flags);
	trace_in_end(ac->trace, status, flags);
}

static void l7_sizes(void *ctx, uint64_t request, uint64_t response)
{
	struct authz_conn *ac = ctx;

	if (ac->timing)
		l7_timing_sizes(ac->timing, request, response);
	agent_al_relay_sizes(ac->al, request, response);
}

static int l7_trace(void *ctx, const struct authz_request *rq, struct l7_buf *fields)
{
	struct authz_conn *ac = ctx;

	return ac->trace ? trace_in_begin(ac->trace, rq, fields) : 0;
}

/* gRPC is told by its content type, as Istio labels request_protocol */
static bool is_grpc(const struct authz_request *rq)
{
	for (size_t i = 0; i < rq->nheaders; i++)
		if (!strcasecmp(rq->headers[i].name, "content-type"))
			return !strncasecmp(rq->headers[i].value, "application/grpc", 16);
	return false;
}

static int l7_stream_begin(void *ctx, uint32_t sid, const struct authz_request *rq, bool allowed,
			   int (*field)(void *arg, const char *name, const char *value), void *arg)
{
	struct authz_conn *ac = ctx;

	l7_timing_stream_begin(ac->timing, sid, is_grpc(rq));
	agent_al_relay_stream_begin(ac->al, sid, rq);
	return trace_in_stream_begin(ac->trace, sid, rq, allowed ? field : NULL, arg);
}

static void l7_stream_end(void *ctx, uint32_t sid, int status, const char *flags, uint64_t request,
			  uint64_t response)
{
	struct authz_conn *ac = ctx;

	l7_timing_stream_end(ac->timing, sid, status, flags, request, response);
	agent_al_relay_stream_end(ac->al, sid, status, flags, request, response);
	trace_in_stream_end(ac->trace, sid, status, flags);
}

static void l7_connect_trace(void *ctx, const char *traceparent)
{
	struct authz_conn *ac = ctx;

	trace_in_connect(ac->trace, traceparent);
}

static void l7_release(void *ctx)
{
	struct authz_conn *ac = ctx;

	l7_timing_free(ac->timing);
	trace_in_free(ac->trace);
	agent_al_relay_free(ac->al);
	agent_snap_unref(ac->snap);
	free(ac);
}

/* The source's principal: from its certificate, or (NULL) the identity of this node's pod at
 * that address, or none (plaintext). */
static void source_principal(struct agent *a, const struct authz_conn *ac, const char *given,
			     const struct skiff_sock_origin *src, char *out, size_t len)
{
	const struct m_pod *p;

	out[0] = 0;
	if (given) {
		snprintf(out, len, "%s", given);
		return;
	}
	p = agent_snap_local_pod(ac->snap, &src->addr, src->family);
	if (p)
		snprintf(out, len, "spiffe://%s/ns/%s/sa/%s",
			 a->o->trust_domain ? a->o->trust_domain : "cluster.local", p->meta.ns,
			 p->service_account);
}

enum proxy_verdict agent_authz(void *agent, const char *principal,
			       const struct skiff_sock_origin *src,
			       const struct skiff_sock_origin *dst, struct proxy_l7 *l7)
{
	struct agent *a = agent;
	struct authz_workload_info info;
	struct authz_request rq = {.tcp = true};
	struct authz_decision dec;
	struct authz_conn *ac = calloc(1, sizeof(*ac));

	if (!ac)
		return PROXY_DENY; /* never open on failure */
	ac->snap = agent_snap_current(a);
	ac->dst_pod = agent_snap_local_pod(ac->snap, &dst->addr, dst->family);
	if (!ac->dst_pod) {
		/* not a mesh pod of this node: its own node (or nobody) enforces its policies */
		l7_release(ac);
		return PROXY_ALLOW;
	}
	ac->wl.ns = ac->dst_pod->meta.ns;
	ac->wl.labels = &ac->dst_pod->meta.labels;
	authz_workload_info(ac->snap->az, &ac->wl, &info);
	if (!info.npolicies) {
		l7_release(ac);
		return PROXY_ALLOW;
	}
	source_principal(a, ac, principal, src, ac->principal, sizeof(ac->principal));
	if (src->family)
		addr_text(&src->addr, src->family, ac->src_ip, sizeof(ac->src_ip));
	addr_text(&dst->addr, dst->family, ac->dst_ip, sizeof(ac->dst_ip));
	ac->dst_port = ntohs(dst->port);
	if (info.http) {
		*l7 = (struct proxy_l7){
		    .d = {.decide = l7_decide,
			  .ctx = ac,
			  .path_norm = authz_set_path_norm(ac->snap->az),
			  .request = l7_request,
			  .response = l7_response,
			  .sizes = l7_sizes,
			  .trace = l7_trace,
			  .stream_begin = l7_stream_begin,
			  .stream_end = l7_stream_end},
		    .release = l7_release,
		    .connect_trace = l7_connect_trace,
		};
		ac->trace = trace_in_new(ac->dst_pod, ac->src_ip, ac->dst_port);
		ac->timing = l7_timing_new(a, &ac->snap->m, ac->dst_pod, ac->principal,
					   principal != NULL, ac->src_ip);
		ac->al = agent_al_relay_new(ac->dst_pod, ac->src_ip, ac->principal,
					    principal != NULL, ac->dst_ip, ac->dst_port);
		return PROXY_L7;
	}
	conn_request(ac, &rq);
	authz_evaluate(ac->snap->az, &ac->wl, &rq, &dec);
	if (!dec.allow)
		log_denied(ac, &rq, &dec);
	l7_release(ac);
	return dec.allow ? PROXY_ALLOW : PROXY_DENY;
}
