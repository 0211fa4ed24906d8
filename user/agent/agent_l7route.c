// SPDX-License-Identifier: Apache-2.0
/*
 * The L7 router, agent side: it reads the snapshot in force (its L7 table, the client pods), asks
 * AuthorizationPolicy as the proxy does for the endpoints it dials on this node, counts each
 * request in Istio's request metrics as the client side reports them, and hands its outlier
 * ejections to the agent loop (agent_eject.c).
 */
#include <errno.h>
#include <string.h>

#include "agent/agent_state.h"
#include "l7route/l7route.h"

static const struct l7_table *acquire(void *ctx, void **ref)
{
	struct agent_snap *s = agent_snap_current(ctx);

	*ref = s;
	return s && s->l7.n ? &s->l7 : NULL;
}

static void release(void *ref)
{
	agent_snap_unref(ref);
}

static const struct m_pod *client_pod(void *ref, const struct skiff_punt_key *client)
{
	return agent_snap_local_pod(ref, &client->addr, client->family);
}

/* A request the router took to a pod of this node never meets the destination's relay (the
 * router decided its AuthorizationPolicy itself), so the router reports it for that end too, as
 * the destination's sidecar would in Istio: reporter="destination", the identities of both pods,
 * a plaintext hop ("none"). One across nodes is reported by the far node's relay. */
static void record_destination(struct agent *a, const struct l7r_record *rec, struct metrics_key *k,
			       const struct metrics_http *h)
{
	const char *td = a->o->trust_domain;

	if (rec->hbone || !rec->dst_pod || !rec->dst_pod->node_name || !a->o->node ||
	    strcmp(rec->dst_pod->node_name, a->o->node))
		return;
	k->reporter = "destination";
	k->security = "none";
	metrics_peer_from_pod(&k->src, rec->src_pod, td);
	metrics_peer_from_pod(&k->dst, rec->dst_pod, td);
	agent_l7_metrics_add(a, k, h);
}

/* Every request in Istio's request metrics (reporter="source"), and in the access log when the
 * client pod logs its requests. Runs on the connection's thread, the snapshot still held. */
static void record(void *ctx, const struct l7_svcport *sp, const struct l7r_record *rec)
{
	struct agent *a = ctx;
	struct metrics_key k;
	struct metrics_http h;
	char flags[64];

	l7r_metrics(rec, a->o->trust_domain, &k, &h, flags, sizeof(flags));
	agent_l7_metrics_add(a, &k, &h);
	agent_accesslog_l7route(a, sp, rec, flags);
	record_destination(a, rec, &k, &h);
}

/* Pods on other nodes over HBONE, through the outbound proxy's connections (no --ca-dir:
 * dialled directly, as the proxy relays cross-node connections then). */
static int tunnel(void *ctx, const struct skiff_punt_key *client,
		  const struct skiff_sock_origin *ep, const char *traceparent)
{
	struct agent *a = ctx;

	return a->tls ? proxy_tunnel(a->proxy, client, ep, traceparent) : -ENOENT;
}

int agent_l7route_start(struct agent *a)
{
	struct l7route_opts o = {.acquire = acquire,
				 .release = release,
				 .client_pod = client_pod,
				 .authz = agent_authz,
				 .tunnel = tunnel,
				 .record = record,
				 .eject = agent_eject_push,
				 .stream_idle_ms = a->o->stream_idle_ms,
				 .ctx = a};

	return l7route_start(&o, &a->l7route);
}

void agent_l7route_stop(struct agent *a)
{
	l7route_stop(a->l7route);
	a->l7route = NULL;
}

bool agent_l7route_take(void *agent, int fd, const struct skiff_punt_key *client,
			const struct skiff_sock_origin *dst)
{
	struct agent *a = agent;

	return a->l7route && l7route_take(a->l7route, fd, client, dst);
}
