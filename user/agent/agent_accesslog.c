// SPDX-License-Identifier: Apache-2.0
/*
 * Access logs in the agent: the policy of the configuration in force (rebuilt after each
 * apply), and the lines of what the agent's parts saw: the kernel's CLOSED flow events for
 * connections between mesh pods (L4), the L7 router's requests (client side). Lines are
 * written by user/accesslog's writer thread; nothing here waits on stdout.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "accesslog/accesslog.h"
#include "agent/agent_state.h"
#include "common/addr.h"
#include "flows/flows.h"
#include "l7route/l7route.h"
#include "proxy/proxy.h"

void agent_accesslog_apply(struct agent *a)
{
	if (a->snap)
		al_set(al_policy_build(&a->snap->m, a->o->trust_domain));
}

static int64_t realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "ns/pod" into ns and name (in buf); false when it is no pod. */
static bool split_pod(const char *full, char *buf, size_t len, const char **ns, const char **name)
{
	char *slash;

	if (!full || !full[0] || snprintf(buf, len, "%s", full) >= (int)len)
		return false;
	slash = strchr(buf, '/');
	if (!slash)
		return false;
	*slash = '\0';
	*ns = buf;
	*name = slash + 1;
	return true;
}

struct l4_line {
	const struct skiff_event *e;
	char src[ADDR_ENDPOINT_MAX], dst[ADDR_ENDPOINT_MAX];
	char sip[INET6_ADDRSTRLEN], dip[INET6_ADDRSTRLEN];
};

static bool l4_filter_passes(const struct al_cel *f, const struct l4_line *l)
{
	struct al_attrs at = {.response_code = -1,
			      .source_address = l->sip,
			      .destination_address = l->dip,
			      .source_port = ntohs(l->e->sport),
			      .destination_port = ntohs(l->e->dport)};

	return !f || al_cel_eval(f, &at);
}

/* One CLOSED connection between pods: a line for each side whose pod is local and logs. */
static void l4_closed(void *ctx, const struct skiff_event *e, int64_t ms, const char *src,
		      const char *dst)
{
	char sbuf[320], dbuf[320], cluster[400];
	const char *sns, *sname, *dns, *dname, *svc;
	struct al_policy *p = al_get();
	const struct al_cel *f;
	struct l4_line l = {.e = e};
	struct al_entry en;

	(void)ctx;
	if (!p)
		return;
	if (!split_pod(src, sbuf, sizeof(sbuf), &sns, &sname) ||
	    !split_pod(dst, dbuf, sizeof(dbuf), &dns, &dname))
		goto out; /* skiffd's own hops: its relays write those lines */
	addr_endpoint(&e->saddr, e->family, ntohs(e->sport), l.src, sizeof(l.src));
	addr_endpoint(&e->daddr, e->family, ntohs(e->dport), l.dst, sizeof(l.dst));
	addr_text(&e->saddr, e->family, l.sip, sizeof(l.sip));
	addr_text(&e->daddr, e->family, l.dip, sizeof(l.dip));
	svc = al_policy_service(p, dns, dname);
	if (svc)
		snprintf(cluster, sizeof(cluster), "outbound|%u||%s", ntohs(e->dport), svc);
	else
		snprintf(cluster, sizeof(cluster), "PassthroughCluster");
	memset(&en, 0, sizeof(en));
	en.start_ms = ms - (int64_t)(e->duration_ns / 1000000);
	en.response_flags = "-";
	en.bytes_received = e->bytes_received;
	en.bytes_sent = e->bytes_sent;
	en.duration_ms = e->duration_ns / 1000000;
	en.upstream_host = l.dst;
	en.downstream_remote_address = l.src;
	en.downstream_local_address = l.dst;
	en.source_principal = al_policy_principal(p, sns, sname);
	en.destination_principal = al_policy_principal(p, dns, dname);
	en.source_workload = src;
	en.destination_workload = dst;
	en.connection_termination_details =
	    e->flags & SKIFF_EV_F_FAST ? "same-node fast path (sk_msg)" : NULL;
	for (int s = AL_CLIENT; s <= AL_SERVER; s++) {
		bool local = s == AL_CLIENT ? e->src_workload : e->dst_workload;

		if (!local ||
		    !al_policy_logs(p, s == AL_CLIENT ? sns : dns, s == AL_CLIENT ? sname : dname,
				    (enum al_side)s, &f) ||
		    !l4_filter_passes(f, &l))
			continue;
		en.side = (enum al_side)s;
		en.upstream_cluster = s == AL_CLIENT ? cluster : "inbound";
		al_emit(p, &en);
	}
out:
	al_policy_unref(p);
}

int agent_accesslog_start(struct agent *a)
{
	int err = al_start();

	if (err)
		return err;
	if (a->flows)
		flows_on_closed(a->flows, l4_closed, a);
	return 0;
}

static const char *rq_header(const void *ctx, const char *name)
{
	return l7r_header(ctx, name);
}

/* The router is the client's proxy: its lines are the client side's (reporter source). */
static bool l7route_filter_passes(const struct al_cel *f, const struct l7r_record *rec,
				  const char *sip, const char *dip)
{
	const struct l7r_request *rq = rec->rq;
	struct al_attrs at = {.http = true,
			      .method = rq->method,
			      .path = rq->path,
			      .host = rq->authority,
			      .scheme = rq->scheme,
			      .protocol = rec->h2 ? "HTTP/2" : "HTTP/1.1",
			      .request_id = rec->request_id ? rec->request_id
							    : l7r_header(rq, "x-request-id"),
			      .user_agent = l7r_header(rq, "user-agent"),
			      .response_code = rec->code > 0 ? rec->code : -1,
			      .mtls = rec->hbone,
			      .source_address = sip,
			      .destination_address = dip,
			      .source_port = ntohs(rec->client->port),
			      .destination_port = ntohs(rec->vip->port),
			      .header = rq_header,
			      .ctx = rq};

	return !f || al_cel_eval(f, &at);
}

void agent_accesslog_l7route(struct agent *a, const struct l7_svcport *sp,
			     const struct l7r_record *rec, const char *flags)
{
	char down[ADDR_ENDPOINT_MAX], local[ADDR_ENDPOINT_MAX], cluster[400];
	char sip[INET6_ADDRSTRLEN], dip[INET6_ADDRSTRLEN], spod[320] = "", dpod[320] = "";
	const struct l7r_request *rq = rec->rq;
	struct al_policy *p = al_get();
	const struct m_pod *src = rec->src_pod, *dst = rec->dst_pod;
	const struct al_cel *f;
	struct al_entry en;

	(void)sp;
	(void)a;
	if (!p)
		return;
	addr_text(&rec->client->addr, rec->client->family, sip, sizeof(sip));
	addr_text(&rec->vip->addr, rec->vip->family, dip, sizeof(dip));
	if (!rq || !rq->method || !src ||
	    !al_policy_logs(p, src->meta.ns, src->meta.name, AL_CLIENT, &f) ||
	    !l7route_filter_passes(f, rec, sip, dip))
		goto out;
	addr_endpoint(&rec->client->addr, rec->client->family, ntohs(rec->client->port), down,
		      sizeof(down));
	addr_endpoint(&rec->vip->addr, rec->vip->family, ntohs(rec->vip->port), local,
		      sizeof(local));
	snprintf(cluster, sizeof(cluster), "outbound|%u|%s|%s.%s.svc.cluster.local", rec->dst_port,
		 rec->subset ? rec->subset : "", rec->dst_svc->meta.name, rec->dst_svc->meta.ns);
	snprintf(spod, sizeof(spod), "%s/%s", src->meta.ns, src->meta.name);
	if (dst)
		snprintf(dpod, sizeof(dpod), "%s/%s", dst->meta.ns, dst->meta.name);
	memset(&en, 0, sizeof(en));
	en.side = AL_CLIENT;
	en.duration_ms = rec->duration_ns / 1000000;
	en.start_ms = realtime_ms() - (int64_t)en.duration_ms;
	en.method = rq->method;
	en.path = rq->path;
	en.protocol = rec->h2 ? "HTTP/2" : "HTTP/1.1";
	en.authority = rq->authority;
	en.user_agent = l7r_header(rq, "user-agent");
	/* the id the endpoint got: the client's, or the one the router generated */
	en.request_id = rec->request_id ? rec->request_id : l7r_header(rq, "x-request-id");
	en.x_forwarded_for = l7r_header(rq, "x-forwarded-for");
	en.response_code = rec->code;
	en.response_flags = flags;
	en.bytes_received = rec->request_bytes;
	en.bytes_sent = rec->response_bytes;
	en.upstream_host = rec->upstream[0] ? rec->upstream : NULL;
	en.upstream_cluster = cluster;
	en.downstream_remote_address = down;
	en.downstream_local_address = local;
	en.upstream_transport_failure_reason = rec->flags & L7R_F_UF ? "connection failure" : NULL;
	en.connection_termination_details = rec->flags & L7R_F_DC ? "downstream closed" : NULL;
	/* a plaintext hop proves no identity (as in the metrics): principals only over HBONE */
	en.source_principal =
	    rec->hbone ? al_policy_principal(p, src->meta.ns, src->meta.name) : NULL;
	en.destination_principal =
	    rec->hbone && dst ? al_policy_principal(p, dst->meta.ns, dst->meta.name) : NULL;
	en.source_workload = spod;
	en.destination_workload = dst ? dpod : NULL;
	en.has_attempts = true;
	en.attempts = rec->attempts;
	al_emit(p, &en);
out:
	al_policy_unref(p);
}

/* An HBONE stream that carried a cross-node connection: the client node writes the client's
 * line, the destination node the server's, each when its pod logs that side. A connection
 * relayed in plaintext writes none (not yet). */
void agent_accesslog_stream_end(void *ctx, const struct proxy_stream_end *se)
{
	char sip[INET6_ADDRSTRLEN], dip[INET6_ADDRSTRLEN], dst[ADDR_ENDPOINT_MAX], cluster[400];
	char sbuf[320], dbuf[320];
	const char *sns = NULL, *sname = NULL, *dns = NULL, *dname = NULL, *skey, *dkey, *svc;
	enum al_side side = se->server ? AL_SERVER : AL_CLIENT;
	struct al_policy *p = al_get();
	const struct al_cel *f;
	struct l4_line l = {0};
	struct skiff_event ev = {0};
	struct al_entry en = {0};

	(void)ctx;
	if (!p)
		return;
	if (!se->mtls)
		goto out;
	addr_text(&se->src->addr, se->src->family, sip, sizeof(sip));
	addr_text(&se->dst->addr, se->dst->family, dip, sizeof(dip));
	skey = se->src->family ? al_policy_pod_at(p, sip) : NULL;
	dkey = al_policy_pod_at(p, dip);
	split_pod(skey, sbuf, sizeof(sbuf), &sns, &sname);
	split_pod(dkey, dbuf, sizeof(dbuf), &dns, &dname);
	if (!al_policy_logs(p, se->server ? dns : sns, se->server ? dname : sname, side, &f))
		goto out;
	/* the filter sees what a kernel-path line shows: addresses and ports */
	ev.sport = se->src->port;
	ev.dport = se->dst->port;
	l.e = &ev;
	snprintf(l.sip, sizeof(l.sip), "%s", se->src->family ? sip : "");
	snprintf(l.dip, sizeof(l.dip), "%s", dip);
	if (!l4_filter_passes(f, &l))
		goto out;
	addr_endpoint(&se->dst->addr, se->dst->family, ntohs(se->dst->port), dst, sizeof(dst));
	svc = al_policy_service(p, dns, dname);
	if (se->server)
		snprintf(cluster, sizeof(cluster), "inbound|%u||", ntohs(se->dst->port));
	else if (svc)
		snprintf(cluster, sizeof(cluster), "outbound|%u||%s", ntohs(se->dst->port), svc);
	else
		snprintf(cluster, sizeof(cluster), "PassthroughCluster");
	en.side = side;
	en.duration_ms = se->duration_ms;
	en.start_ms = realtime_ms() - (int64_t)se->duration_ms;
	en.response_flags = se->flags ? se->flags : "-";
	en.upstream_transport_failure_reason = se->flags ? "connection failure" : NULL;
	en.bytes_received = se->bytes_up;
	en.bytes_sent = se->bytes_down;
	en.upstream_host = dst;
	en.upstream_cluster = cluster;
	en.downstream_remote_address = se->src->family ? sip : NULL;
	en.downstream_local_address = dst;
	en.source_principal = se->src_id[0] ? se->src_id : NULL;
	en.destination_principal = se->dst_id[0] ? se->dst_id : al_policy_principal(p, dns, dname);
	en.source_workload = skey;
	en.destination_workload = dkey;
	en.connection_termination_details = se->reset ? "reset" : NULL;
	al_emit(p, &en);
out:
	al_policy_unref(p);
}
