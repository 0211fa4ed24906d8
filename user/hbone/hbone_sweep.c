// SPDX-License-Identifier: Apache-2.0
/*
 * HBONE against the clock (proxy_limits.c calls hbone_sweep): a stream with no byte either way
 * for idle_ms is reset on both sides (RST_STREAM CANCEL to the peer, RST to the local socket), as
 * a relay would be; a dial to the pod, a TCP connect to a node or a TLS handshake that takes
 * longer than connect_ms ends, and so does a CONNECT the peer has not answered by then (the
 * peer's dial to its pod counts in the connect timeout); an inbound connection that has carried
 * no stream for idle_ms is closed (a client connection already goes away with its last stream).
 * PINGs do not keep a connection: only streams do, as with Envoy's idle_timeout. A client
 * connection whose peer left a CONNECT unanswered and sent no frame at all for connect_ms is
 * closed with all its streams: the peer skiffd is stopped or wedged, and new streams must not
 * queue behind it (the pool dials afresh, and that dial is bounded by connect_ms too).
 */
#include <stdio.h>

#include "hbone/hbone_internal.h"

/* Mark the streams of `c` that outstayed their limits: true when one was; *hung when an
 * unanswered CONNECT shows the peer silent for connect_ms. */
static bool streams_expired(struct hb_conn *c, bool *hung)
{
	struct proxy *p = c->p;
	bool any = false;

	for (struct hb_stream *st = c->streams; st; st = st->next) {
		uint64_t quiet = p->now_ms - st->active_ms;
		bool unanswered = !c->server && !st->open;

		if (st->local_reset)
			continue;
		if (unanswered && quiet >= p->lim.connect_ms) {
			p->stats.connect_timeouts++;
			hb_stream_failed(st);
			*hung |= p->now_ms - c->rx_ms >= p->lim.connect_ms;
		} else if (st->local_connecting && quiet >= p->lim.connect_ms)
			p->stats.connect_timeouts++;
		else if (quiet >= p->lim.idle_ms)
			p->stats.idle_closed++;
		else
			continue;
		st->local_reset = true;
		any = true;
	}
	return any;
}

/* The connection itself: a handshake too long, or an inbound connection idle. */
static bool conn_expired(struct hb_conn *c)
{
	struct proxy *p = c->p;

	if (c->nstreams)
		c->active_ms = p->now_ms;
	if ((c->connecting || c->handshaking) && p->now_ms - c->born_ms >= p->lim.connect_ms) {
		p->stats.connect_timeouts++;
		return true;
	}
	if (c->server && !c->nstreams && p->now_ms - c->active_ms >= p->lim.idle_ms) {
		p->stats.idle_closed++;
		return true;
	}
	return false;
}

/* A client connection whose peer went silent with a CONNECT pending: say so, and close it. */
static void conn_hung(struct hb_conn *c)
{
	fprintf(stderr,
		"skiffd hbone: %s left a CONNECT unanswered and sent nothing for %llu ms: "
		"connection closed with its %zu stream(s); is the peer node's skiffd stopped?\n",
		c->peer_id[0] ? c->peer_id : "the peer node",
		(unsigned long long)c->p->lim.connect_ms, c->nstreams);
	hbone_conn_close(c);
}

void hbone_sweep(struct proxy *p)
{
	struct hb_conn *c, *next;
	bool hung;

	for (c = p->hb_conns; c; c = next) {
		next = c->next;
		if (c->dead || c->gone)
			continue;
		if (conn_expired(c)) {
			hbone_conn_close(c);
			continue;
		}
		if (c->connecting || c->handshaking)
			continue; /* its streams wait for it, under its connect_ms */
		hung = false;
		if (!streams_expired(c, &hung))
			continue;
		if (hung)
			conn_hung(c);
		else
			hb_conn_kick(c); /* frees them, and sends the RST_STREAMs */
	}
}
