// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP/2 side of HBONE, on nghttp2 with memory I/O (hbone_conn.c feeds it what TLS read and
 * sends what it produces). A client submits one CONNECT per stream; a server checks each request
 * (CONNECT, an :authority that is an address and port), asks AuthorizationPolicy
 * (hbone_authz.c) and opens the pod connection, answering 200 once it is up, 400 for anything
 * else, 401 when policy denies, 503 when the pod refuses. Flow control is manual:
 * a DATA frame's bytes are acknowledged (nghttp2_session_consume) only once they reached the
 * local socket, so a slow pod slows its sender instead of filling skiffd's memory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/addr.h"
#include "hbone/hbone_internal.h"
#include "tracing/tracing.h"

#define HB_CONN_WINDOW (16 << 20) /* connection-level window: many streams' worth */
#define HB_MAX_FRAME   (1 << 20)  /* DATA frames we accept: one per window's worth, not 16 KiB */

/* "10.1.2.3:8080" or "[fd00::1]:8080" -> an endpoint; family 0 when it is neither. */
static void parse_authority(const char *a, size_t n, struct skiff_sock_origin *dst)
{
	memset(dst, 0, sizeof(*dst));
	dst->family = (__u8)addr_parse_endpoint(a, n, &dst->addr, &dst->port);
}

/* Server: a new request stream. Its local socket comes once the request is checked. */
static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
	struct hb_conn *c = user;
	struct hb_stream *st;

	if (!c->server || f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	st = hb_stream_new(c, -1);
	if (!st)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	st->id = f->hd.stream_id;
	nghttp2_session_set_stream_user_data(s, st->id, st);
	return 0;
}

/* The pseudo-headers that matter, and on a server the client's baggage and traceparent (for the
 * access log). A bad :method or :authority leaves dst.family 0, answered with 400. */
static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
		     const uint8_t *value, size_t vlen, uint8_t flags, void *user)
{
	struct hb_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	struct hb_conn *c = user;

	(void)flags;
	if (!st || f->hd.type != NGHTTP2_HEADERS)
		return 0;
	if (c->server && nlen == 7 && !memcmp(name, ":method", 7))
		st->bad_method = vlen != 7 || memcmp(value, "CONNECT", 7);
	else if (c->server && nlen == 10 && !memcmp(name, ":authority", 10))
		parse_authority((const char *)value, vlen, &st->dst);
	else if (c->server && nlen == 7 && !memcmp(name, "baggage", 7))
		snprintf(st->baggage, sizeof(st->baggage), "%.*s", (int)vlen, value);
	else if (c->server && nlen == 9 && !memcmp(name, "forwarded", 9))
		hb_forwarded_parse((const char *)value, vlen, &st->src);
	else if (c->server && nlen == 11 && !memcmp(name, "traceparent", 11))
		snprintf(st->trace, sizeof(st->trace), "%.*s", (int)vlen, value);
	else if (!c->server && nlen == 7 && !memcmp(name, ":status", 7))
		st->status = vlen == 3 ? atoi((const char *)value) : 0;
	return 0;
}

static void request_done(struct hb_conn *c, struct hb_stream *st)
{
	struct proxy_l7 l7 = {0};

	if (st->bad_method || !st->dst.family) {
		c->p->stats.hbone_bad_request++;
		hb_session_respond(c, st, 400);
		return;
	}
	switch (hb_authorize(c, st, &l7)) {
	case PROXY_DENY:
		hb_session_respond(c, st, 401);
		return;
	case PROXY_L7:
		if (l7.connect_trace && st->trace[0])
			l7.connect_trace(l7.d.ctx, st->trace);
		if (hb_stream_attach_l7(st, &l7))
			hb_session_respond(c, st, 503);
		return;
	default:
		break;
	}
	if (hb_stream_dial(st))
		hb_session_respond(c, st, 503);
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
	struct hb_stream *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	struct hb_conn *c = user;

	c->rx_ms = c->p->now_ms;
	/* the peer drains (a skiffd being replaced): no new stream joins this connection, the
	 * pool opens the next one to the node, where the new skiffd accepts it; the streams
	 * already here run to their end, and the connection closes with the last */
	if (f->hd.type == NGHTTP2_GOAWAY && !c->server)
		c->goaway = true;
	if (!st)
		return 0;
	if (f->hd.type == NGHTTP2_HEADERS && c->server && f->headers.cat == NGHTTP2_HCAT_REQUEST)
		request_done(c, st);
	if (f->hd.type == NGHTTP2_HEADERS && !c->server && !st->open) {
		if (st->status == 200) {
			st->open = true;
			hb_stream_opened(st);
		} else {
			c->p->stats.hbone_refused++;
			st->local_reset = true;
			if (st->status == 503)
				hb_stream_failed(st); /* the far node could not reach the pod */
		}
	}
	if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		st->remote_eof = true;
	return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
			 size_t len, void *user)
{
	struct hb_stream *st = nghttp2_session_get_stream_user_data(s, id);

	(void)flags;
	(void)user;
	if (st)
		st->active_ms = st->conn->p->now_ms;
	if (!st || !hb_stream_down(st, data, len))
		return nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, id,
						 NGHTTP2_FLOW_CONTROL_ERROR)
			   ? NGHTTP2_ERR_CALLBACK_FAILURE
			   : 0;
	return 0;
}

/* DATA frames as large as the peer accepts and the windows allow (nghttp2 stops at 16 KiB
 * otherwise): fewer frames, fewer callbacks, fewer headers. */
static ssize_t data_length(nghttp2_session *s, uint8_t type, int32_t id, int32_t conn_window,
			   int32_t stream_window, uint32_t max_frame, void *user)
{
	int32_t n = conn_window < stream_window ? conn_window : stream_window;

	(void)s;
	(void)type;
	(void)id;
	(void)user;
	if ((uint32_t)n > max_frame)
		n = (int32_t)max_frame;
	return n > 0 ? n : 1;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t error, void *user)
{
	struct hb_stream *st = nghttp2_session_get_stream_user_data(s, id);

	(void)user;
	if (!st)
		return 0;
	st->closed = true;
	if (error != NGHTTP2_NO_ERROR || !st->end_sent || !st->remote_eof)
		st->local_reset = true; /* a reset or a refusal: the local side is reset too */
	nghttp2_session_set_stream_user_data(s, id, NULL);
	return 0;
}

int hb_session_init(struct hb_conn *c)
{
	nghttp2_settings_entry iv[] = {
	    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, HBONE_MAX_STREAMS},
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, HBONE_STREAM_WINDOW},
	    {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, HB_MAX_FRAME},
	};
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	int rv;

	if (nghttp2_session_callbacks_new(&cb))
		return -ENOMEM;
	if (nghttp2_option_new(&opt)) {
		nghttp2_session_callbacks_del(cb);
		return -ENOMEM;
	}
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_session_callbacks_set_data_source_read_length_callback(cb, data_length);
	nghttp2_session_callbacks_set_send_data_callback(cb, hb_tls_send_data);
	rv = c->server ? nghttp2_session_server_new2(&c->h2, cb, c, opt)
		       : nghttp2_session_client_new2(&c->h2, cb, c, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	if (rv)
		return -ENOMEM;
	rv = nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
	if (!rv)
		rv = nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0,
							   HB_CONN_WINDOW);
	return rv ? -EPROTO : 0;
}

/* The stream's traceparent: the one its opener gave (the L7 router: the request's span), else a
 * new trace, sampled as this node samples requests, so that the destination's span follows the
 * mesh's sampling rate rather than tracing every punted connection. */
static void traceparent(const struct hb_stream *st, char *out, size_t len)
{
	struct trace_ids ids;
	char tp[TRACE_PARENT_LEN];

	if (st->trace[0]) {
		snprintf(out, len, "%s", st->trace);
		return;
	}
	trace_child(NULL, tracing_sample(NULL, TRACE_CLIENT), &ids);
	trace_format_traceparent(&ids, tp);
	snprintf(out, len, "%s", tp);
}

int hb_session_connect(struct hb_conn *c, struct hb_stream *st)
{
	char authority[ADDR_ENDPOINT_MAX], fwd[INET6_ADDRSTRLEN + 16], trace[64];
	nghttp2_data_provider dp = {.read_callback = hb_stream_read_cb};
	nghttp2_nv nv[5];
	size_t n = 0;
	int32_t id;

	addr_endpoint(&st->dst.addr, st->dst.family, ntohs(st->dst.port), authority,
		      sizeof(authority));
	hb_forwarded_format(&st->src, fwd, sizeof(fwd));
	traceparent(st, trace, sizeof(trace));
#define NV(k, v)                                                                                   \
	(nghttp2_nv){(uint8_t *)(k), (uint8_t *)(v), strlen(k), strlen(v), NGHTTP2_NV_FLAG_NONE}
	nv[n++] = NV(":method", "CONNECT");
	nv[n++] = NV(":authority", authority);
	nv[n++] = NV("forwarded", fwd);
	nv[n++] = NV("traceparent", trace);
	if (st->baggage[0])
		nv[n++] = NV("baggage", st->baggage);
#undef NV
	dp.source.ptr = st;
	id = nghttp2_submit_request(c->h2, NULL, nv, n, &dp, st);
	if (id < 0)
		return -EPROTO;
	st->id = id;
	return 0;
}

int hb_session_respond(struct hb_conn *c, struct hb_stream *st, int status)
{
	nghttp2_data_provider dp = {.read_callback = hb_stream_read_cb};
	char code[4];
	nghttp2_nv nv = {(uint8_t *)":status", (uint8_t *)code, 7, 3, NGHTTP2_NV_FLAG_NONE};

	snprintf(code, sizeof(code), "%03d", status);
	dp.source.ptr = st;
	st->open = status == 200;
	if (st->open)
		hb_stream_opened(st);
	else
		st->local_eof = true; /* the provider ends the stream at once */
	if (status == 503)
		hb_stream_failed(st); /* the pod refused, or could not be dialled */
	return nghttp2_submit_response(c->h2, st->id, &nv, 1, &dp) ? -EPROTO : 0;
}
