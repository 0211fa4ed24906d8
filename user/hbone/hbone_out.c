// SPDX-License-Identifier: Apache-2.0
/*
 * Outbound HBONE: a punted connection to a pod on another node becomes a CONNECT stream on a
 * connection to that node's skiffd (port 15008). Connections are pooled per (destination node,
 * source identity): a new stream joins an open connection with room (HBONE_MAX_STREAMS), and a
 * connection left without streams says GOAWAY and closes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hbone/hbone_internal.h"
#include "identity/identity.h"

static struct hb_conn *pool_find(struct proxy *p, const struct proxy_route *r)
{
	for (struct hb_conn *c = p->hb_conns; c; c = c->next)
		/* not one the peer said GOAWAY on: it would refuse the request */
		if (!c->server && !c->dead && !c->goaway && !c->retiring &&
		    (!c->h2 || nghttp2_session_check_request_allowed(c->h2)) &&
		    c->nstreams < HBONE_MAX_STREAMS && c->node_len == r->node_len &&
		    !memcmp(&c->node, &r->node, r->node_len) && !strcmp(c->src_id, r->src_id))
			return c;
	return NULL;
}

static struct hb_conn *pool_open(struct proxy *p, const struct proxy_route *r)
{
	int fd = socket(r->node.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct hb_conn *c;

	if (fd < 0)
		return NULL;
	proxy_nodelay(fd);
	if (connect(fd, (const struct sockaddr *)&r->node, r->node_len) && errno != EINPROGRESS) {
		close(fd);
		return NULL;
	}
	c = hb_conn_new(p, fd, false, r->ctx);
	if (!c) {
		close(fd);
		return NULL;
	}
	/* the destination node's skiffd, and nobody else the mesh root vouches for, answers */
	if (identity_tls_pin(c->ssl, IDENTITY_AGENT_NS, IDENTITY_AGENT_SA)) {
		hbone_conn_close(c); /* closes fd */
		return NULL;
	}
	c->node = r->node;
	c->node_len = r->node_len;
	snprintf(c->src_id, sizeof(c->src_id), "%s", r->src_id);
	return c;
}

void hb_out_submit_pending(struct hb_conn *c)
{
	for (struct hb_stream *st = c->streams; st; st = st->next)
		if (st->id < 0 && hb_session_connect(c, st))
			st->local_reset = true;
}

int hbone_out_open(struct proxy *p, int client_fd, bool fast, const struct skiff_punt_key *client,
		   const struct skiff_sock_origin *dst, const struct proxy_route *r)
{
	struct hb_conn *c = pool_find(p, r);
	struct hb_stream *st;

	if (!c)
		c = pool_open(p, r);
	st = c ? hb_stream_new(c, client_fd) : NULL;
	if (!st) {
		proxy_close(p, client_fd, true);
		p->stats.upstream_failed++;
		return -ENOMEM;
	}
	st->local_fast = fast;
	st->dst = *dst;
	memset(&st->src, 0, sizeof(st->src));
	st->src.addr = client->addr;
	st->src.family = client->family;
	snprintf(st->baggage, sizeof(st->baggage), "%s", r->baggage);
	snprintf(st->trace, sizeof(st->trace), "%s", r->trace);
	p->stats.hbone_out++;
	if (!c->handshaking && !c->connecting && hb_session_connect(c, st))
		st->local_reset = true;
	if (!c->handshaking && !c->connecting)
		hb_conn_kick(c);
	return 0;
}
