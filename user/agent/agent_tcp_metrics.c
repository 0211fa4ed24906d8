// SPDX-License-Identifier: Apache-2.0
/*
 * istio_tcp_* for the connections skiffd carries for a pod: HBONE streams, at both nodes, and
 * punted connections relayed in plaintext, at the client's node. The kernel sees only their hops
 * (pod to skiffd, skiffd to pod) and files them under SKIFF_WL_AGENT, which the scrape leaves
 * out (agent_metrics.c); here each connection is counted with both ends, as ztunnel reports it:
 * the client node as reporter="source", the destination node as reporter="destination", each
 * pod by its address in the snapshot (any node), the principals from the stream's certificates,
 * and connection_security_policy "mutual_tls" for HBONE. A plaintext relay is "unknown", as
 * Istio's source side reports a connection it sent without mTLS. Opened at the stream's 200,
 * closed with its bytes at its end; one whose destination refused is opened and closed at once
 * with response_flags "UF", as Envoy's tcp_proxy counts it. On the proxy thread, into the
 * agent's request table.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent_l7_metrics.h"
#include "agent/agent_state.h"
#include "common/addr.h"

static void peer_at(const struct agent *a, const struct model *m, const struct skiff_sock_origin *o,
		    const char *id, struct metrics_peer *out)
{
	char ip[INET6_ADDRSTRLEN];
	const struct m_pod *pod = NULL;

	if (o->family) {
		addr_text(&o->addr, o->family, ip, sizeof(ip));
		pod = agent_pod_by_ip(m, ip);
	}
	metrics_peer_from_pod(out, pod, a->o->trust_domain);
	/* the certificate says who it is; a pod found by address only says whom it should be */
	if (id && id[0])
		snprintf(out->principal, sizeof(out->principal), "%s", id);
	else if (!id || !pod)
		snprintf(out->principal, sizeof(out->principal), "unknown");
}

static void count(struct agent *a, const struct proxy_stream_end *e, const struct metrics_tcp *v)
{
	struct agent_snap *s = agent_snap_current(a);
	static __thread struct metrics_key k; /* 2 kB: off the proxy thread's stack */
	const struct model *m;
	const struct m_pod *dst;
	char ip[INET6_ADDRSTRLEN];

	if (!s)
		return;
	m = &s->m;
	memset(&k, 0, sizeof(k));
	/* over HBONE the client presents its workload's certificate, so that names the source; the
	 * destination node presents its skiffd's, so the destination pod is named by the identity
	 * of its service account, as the node it reached serves no other. In plaintext nothing
	 * proves an identity. */
	peer_at(a, m, e->src, e->mtls ? e->src_id : NULL, &k.src);
	peer_at(a, m, e->dst, e->mtls ? "" : NULL, &k.dst);
	addr_text(&e->dst->addr, e->dst->family, ip, sizeof(ip));
	dst = agent_pod_by_ip(m, ip);
	metrics_key_service(&k, metrics_pod_service(m, dst));
	k.reporter = e->server ? "destination" : "source";
	k.protocol = "tcp";
	k.response_flags = e->flags ? e->flags : "-";
	k.security = e->mtls ? "mutual_tls" : "unknown";
	agent_tcp_metrics_add(a, &k, v);
	agent_snap_unref(s);
}

static void stream_open(void *ctx, const struct proxy_stream_end *e)
{
	const struct metrics_tcp v = {.opened = 1};

	count(ctx, e, &v);
}

static void stream_end(void *ctx, const struct proxy_stream_end *e)
{
	const struct metrics_tcp v = {.closed = 1, .received = e->bytes_up, .sent = e->bytes_down};

	count(ctx, e, &v);
	agent_accesslog_stream_end(ctx, e);
}

static void dial_file(void *ctx, const struct skiff_agent_dial_key *k, bool add)
{
	struct agent *a = ctx;

	dp_agent_dial(a->dp, k, add);
}

void agent_streams_proxy_opts(struct agent *a, struct proxy_opts *po)
{
	(void)a;
	po->stream_open = stream_open;
	po->stream_end = stream_end;
	po->dial_file = dial_file;
}
