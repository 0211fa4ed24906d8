// SPDX-License-Identifier: Apache-2.0
/*
 * The h2c authorization filter (l7_h2_ops) between two real nghttp2 sessions in memory: a client
 * session's bytes go through from_client to a server session, the server's through from_upstream
 * back. Whatever the filter does, both sessions must stay error-free: a broken frame, a header
 * block the server cannot decode or a flow-control mistake would show up as a session error or
 * a request that never completes. Most cases run twice: with whole writes, and with both
 * directions fed one byte at a time, alternating, so the filter's answers must find their way in
 * between the pod's frames. What no well-behaved client sends (malformed requests, HPACK written
 * to amplify, streams that are not open) comes from a raw client whose frames are written by
 * hand, with the same real server behind the filter. Last, skiffd's relay between real sockets:
 * an nghttp2 client and curl through the proxy to nghttpd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <nghttp2/nghttp2.h>

#include "l7/l7_filter.h"
#include "l7/l7_h2.h" /* its bounds */
#include "l7_test.h"
#include "proxy/proxy.h"

#define MAXS	    1024
#define WHOLE	    ((size_t)1 << 20) /* feed the filter everything at once */
#define AUTHORITY   "pod.test:8080"
#define DENY_HEADER "x-deny"

struct cstream { /* the client's view of one request */
	int32_t id;
	int status;
	char ctype[32], clen[16];
	char body[256];
	size_t blen;
	bool closed;
	uint32_t err;
	size_t received, unconsumed; /* body bytes; those not yet given back (manual window) */
	/* what it sends */
	size_t send_len, sent;
	bool trailers;
};

struct sstream { /* the server's view */
	int32_t id;
	char method[16], path[128], xcustom[64], trailer[64], authority[64], host[64];
	char traceparent[64];
	int ntraceparent;
	size_t data, big_len, nbig;
	bool big_ok;
	uint32_t closed_err; /* how the stream closed (RST_STREAM code), once closed */
	bool closed;
	char *resp;
	size_t resp_len, resp_off;
};

struct bytes {
	uint8_t *p;
	size_t len, off;
};

/* A client written by hand (raw frames): what it saw of each stream, from the filter's output. */
struct rstream {
	uint32_t id;
	int status;
	bool ended, reset;
	uint32_t rst; /* the RST_STREAM code, when reset */
	size_t data;
};

struct rawcli {
	struct bytes in;	  /* the filter's bytes toward the client, not parsed yet */
	nghttp2_hd_inflater *inf; /* the pod's (and the filter's) header blocks */
	nghttp2_hd_deflater *enc; /* its own requests' (no dynamic table) */
	struct bytes block;	  /* a header block under way */
	uint32_t block_id;
	bool block_end_stream;
	struct rstream st[MAXS];
	size_t n;
	int goaway; /* the GOAWAY code; -1: none */
};

struct rig {
	nghttp2_session *cli, *srv;
	struct l7_filter *f;
	struct l7_buf to_up, to_client;
	struct bytes pc, ps; /* produced by the client / server, not yet fed to the filter */
	size_t chunk;
	int frc;	      /* the filter's first error */
	int cli_err, srv_err; /* the sessions' first error */
	int goaways;	      /* GOAWAYs the client received */
	int srv_priorities;   /* PRIORITY frames the server received */
	struct cstream cs[MAXS];
	size_t ncs;
	struct sstream ss[MAXS];
	size_t nss;
	const char *big_expect; /* the x-big value the server must see */
	size_t resp_body;	/* server: body bytes of each response (0: "ok PATH") */
	size_t resp_header;	/* server: an x-resp header of this many bytes */
	bool manual_window;	/* the client reads its DATA only when the case says so */
	const char *reset_path; /* server: answers a request for this path with RST_STREAM */
	bool raw;		/* the client is `rc`, frames by hand, not the nghttp2 session */
	struct rawcli rc;
	size_t cl_bytes, up_bytes; /* fed from the client; delivered to the pod */
	/* the decider */
	size_t ndecided;
	char seen_method[16], seen_path[256], seen_host[128], seen_headers[2048];
	bool seen_tcp;
	char streams[512]; /* the stream hooks' calls, in order */
};

/* ---- the decider: denies /deny* and anything with x-deny ---- */

static bool decide(void *ctx, struct authz_request *rq, char *why, size_t len)
{
	struct rig *r = ctx;
	bool deny = rq->path && !strncmp(rq->path, "/deny", 5);
	size_t i, n = 0;

	r->ndecided++;
	r->seen_tcp = rq->tcp;
	snprintf(r->seen_method, sizeof(r->seen_method), "%s", rq->method ? rq->method : "");
	snprintf(r->seen_path, sizeof(r->seen_path), "%s", rq->path ? rq->path : "");
	snprintf(r->seen_host, sizeof(r->seen_host), "%s", rq->host ? rq->host : "");
	r->seen_headers[0] = '\0';
	for (i = 0; i < rq->nheaders; i++) {
		const struct authz_header *h = &rq->headers[i];

		if (!strcmp(h->name, DENY_HEADER))
			deny = true;
		if (strlen(h->value) < 100 && n < sizeof(r->seen_headers))
			n += snprintf(r->seen_headers + n, sizeof(r->seen_headers) - n, "%s=%s\n",
				      h->name, h->value);
	}
	snprintf(why, len, "%s", deny ? "test: denied" : "test: allowed");
	return !deny;
}

/* ---- the server: answers every complete request 200 ---- */

static struct sstream *srv_stream(struct rig *r, int32_t id)
{
	size_t i;

	for (i = 0; i < r->nss; i++)
		if (r->ss[i].id == id)
			return &r->ss[i];
	return NULL;
}

static int srv_begin_headers(nghttp2_session *s, const nghttp2_frame *fr, void *user)
{
	struct rig *r = user;

	(void)s;
	if (fr->hd.type == NGHTTP2_HEADERS && fr->headers.cat == NGHTTP2_HCAT_REQUEST &&
	    r->nss < MAXS)
		r->ss[r->nss++] = (struct sstream){.id = fr->hd.stream_id};
	return 0;
}

static void copy(char *dst, size_t len, const uint8_t *v, size_t vlen)
{
	snprintf(dst, len, "%.*s", (int)vlen, (const char *)v);
}

static int srv_header(nghttp2_session *s, const nghttp2_frame *fr, const uint8_t *name,
		      size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		      void *user)
{
	struct sstream *st = srv_stream(user, fr->hd.stream_id);
	struct rig *r = user;
	const char *n = (const char *)name;

	(void)s;
	(void)flags;
	(void)namelen;
	if (!st)
		return 0;
	if (fr->headers.cat == NGHTTP2_HCAT_HEADERS) {
		if (!strcmp(n, "x-checksum"))
			copy(st->trailer, sizeof(st->trailer), value, valuelen);
		return 0;
	}
	if (!strcmp(n, ":method"))
		copy(st->method, sizeof(st->method), value, valuelen);
	else if (!strcmp(n, ":path"))
		copy(st->path, sizeof(st->path), value, valuelen);
	else if (!strcmp(n, ":authority"))
		copy(st->authority, sizeof(st->authority), value, valuelen);
	else if (!strcmp(n, "host"))
		copy(st->host, sizeof(st->host), value, valuelen);
	else if (!strcmp(n, "x-custom"))
		copy(st->xcustom, sizeof(st->xcustom), value, valuelen);
	else if (!strcmp(n, "traceparent") && ++st->ntraceparent)
		copy(st->traceparent, sizeof(st->traceparent), value, valuelen);
	else if (!strcmp(n, "x-big")) {
		st->big_len = valuelen;
		st->big_ok = (!st->nbig++ || st->big_ok) && r->big_expect &&
			     strlen(r->big_expect) == valuelen &&
			     !memcmp(r->big_expect, value, valuelen);
	}
	return 0;
}

static int srv_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		    void *user)
{
	struct sstream *st = srv_stream(user, id);

	(void)s;
	(void)flags;
	(void)data;
	if (st)
		st->data += len;
	return 0;
}

static ssize_t srv_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *fl,
			nghttp2_data_source *src, void *user)
{
	struct sstream *st = src->ptr;
	size_t n = st->resp_len - st->resp_off;

	(void)s;
	(void)id;
	(void)user;
	if (n > len)
		n = len;
	memcpy(buf, st->resp + st->resp_off, n);
	st->resp_off += n;
	if (st->resp_off == st->resp_len)
		*fl |= NGHTTP2_DATA_FLAG_EOF;
	return n;
}

static int srv_respond(struct rig *r, struct sstream *st)
{
	nghttp2_data_provider dp = {.source.ptr = st, .read_callback = srv_read};
	char *big = NULL;
	nghttp2_nv nv[2] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, 0}};
	size_t n = 1;
	int rc;

	if (r->resp_body) {
		st->resp_len = r->resp_body;
		st->resp = malloc(st->resp_len);
		memset(st->resp, 'z', st->resp_len);
	} else {
		st->resp_len = (size_t)asprintf(&st->resp, "ok %s %zu", st->path, st->data);
	}
	if (r->resp_header) {
		big = malloc(r->resp_header);
		for (size_t i = 0; i < r->resp_header; i++)
			big[i] = 'a' + (char)(i * 7 % 26);
		nv[n++] = (nghttp2_nv){(uint8_t *)"x-resp", (uint8_t *)big, 6, r->resp_header, 0};
	}
	rc = nghttp2_submit_response(r->srv, st->id, nv, n, &dp);
	free(big);
	return rc;
}

static int srv_frame(nghttp2_session *s, const nghttp2_frame *fr, void *user)
{
	struct sstream *st = srv_stream(user, fr->hd.stream_id);

	(void)s;
	if (fr->hd.type == NGHTTP2_PRIORITY)
		((struct rig *)user)->srv_priorities++;
	if (st && fr->hd.type == NGHTTP2_HEADERS && ((struct rig *)user)->reset_path &&
	    !strcmp(st->path, ((struct rig *)user)->reset_path))
		return nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
	if (st && (fr->hd.type == NGHTTP2_HEADERS || fr->hd.type == NGHTTP2_DATA) &&
	    (fr->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return srv_respond(user, st);
	return 0;
}

static int srv_close(nghttp2_session *s, int32_t id, uint32_t err, void *user)
{
	struct sstream *st = srv_stream(user, id);

	(void)s;
	if (st) {
		st->closed = true;
		st->closed_err = err;
	}
	return 0;
}

/* ---- the client ---- */

static struct cstream *cli_stream(struct rig *r, int32_t id)
{
	size_t i;

	for (i = 0; i < r->ncs; i++)
		if (r->cs[i].id == id)
			return &r->cs[i];
	return NULL;
}

static int cli_header(nghttp2_session *s, const nghttp2_frame *fr, const uint8_t *name,
		      size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		      void *user)
{
	struct cstream *c = cli_stream(user, fr->hd.stream_id);
	const char *n = (const char *)name;

	(void)s;
	(void)flags;
	(void)namelen;
	if (!c)
		return 0;
	if (!strcmp(n, ":status"))
		c->status = atoi((const char *)value);
	else if (!strcmp(n, "content-type"))
		copy(c->ctype, sizeof(c->ctype), value, valuelen);
	else if (!strcmp(n, "content-length"))
		copy(c->clen, sizeof(c->clen), value, valuelen);
	return 0;
}

static int cli_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
		    void *user)
{
	struct cstream *c = cli_stream(user, id);
	size_t room;

	(void)flags;
	if (!c)
		return 0;
	c->received += len;
	if (((struct rig *)user)->manual_window)
		c->unconsumed += len;
	else if (nghttp2_session_consume(s, id, len)) /* what auto WINDOW_UPDATE does */
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	room = sizeof(c->body) - 1 - c->blen;
	memcpy(c->body + c->blen, data, len < room ? len : room);
	c->blen += len < room ? len : room;
	c->body[c->blen] = '\0';
	return 0;
}

static int cli_close(nghttp2_session *s, int32_t id, uint32_t err, void *user)
{
	struct cstream *c = cli_stream(user, id);

	(void)s;
	if (c) {
		c->closed = true;
		c->err = err;
	}
	return 0;
}

/* A GOAWAY means the pod (or the filter) failed the connection: no case expects one. */
static int cli_frame(nghttp2_session *s, const nghttp2_frame *fr, void *user)
{
	struct rig *r = user;

	(void)s;
	if (fr->hd.type == NGHTTP2_GOAWAY) {
		fprintf(stderr, "# client: GOAWAY %u %.*s\n", fr->goaway.error_code,
			(int)fr->goaway.opaque_data_len, (const char *)fr->goaway.opaque_data);
		r->goaways++;
	}
	return 0;
}

static ssize_t cli_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *fl,
			nghttp2_data_source *src, void *user)
{
	struct cstream *c = src->ptr;
	size_t n = c->send_len - c->sent;
	char sum[32];
	nghttp2_nv tr = {(uint8_t *)"x-checksum", (uint8_t *)sum, 10, 0, 0};

	(void)user;
	/* a value per stream: each trailer block adds an entry to the client's dynamic table */
	tr.valuelen = (size_t)snprintf(sum, sizeof(sum), "sum-%d", id);
	if (n > len)
		n = len;
	memset(buf, 'p', n);
	c->sent += n;
	if (c->sent == c->send_len) {
		*fl |= NGHTTP2_DATA_FLAG_EOF;
		if (c->trailers) {
			*fl |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
			if (nghttp2_submit_trailer(s, id, &tr, 1))
				return NGHTTP2_ERR_CALLBACK_FAILURE;
		}
	}
	return n;
}

/* ---- the rig ---- */
/* A session found the other side broke the protocol: the filter's fault, by construction. */
static int session_error(nghttp2_session *s, int code, const char *msg, size_t len, void *user)
{
	struct rig *r = user;

	(void)code;
	fprintf(stderr, "# %s: %.*s\n", s == r->srv ? "pod" : "client", (int)len, msg);
	if (s == r->srv)
		r->srv_err = r->srv_err ? r->srv_err : -EPROTO;
	else
		r->cli_err = r->cli_err ? r->cli_err : -EPROTO;
	return 0;
}

static nghttp2_session *session_new(struct rig *r, bool server)
{
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	nghttp2_session *s;

	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	nghttp2_session_callbacks_set_error_callback2(cb, session_error);
	if (server) {
		nghttp2_session_callbacks_set_on_begin_headers_callback(cb, srv_begin_headers);
		nghttp2_session_callbacks_set_on_header_callback(cb, srv_header);
		nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, srv_data);
		nghttp2_session_callbacks_set_on_frame_recv_callback(cb, srv_frame);
		nghttp2_session_callbacks_set_on_stream_close_callback(cb, srv_close);
		assert_int_equal(nghttp2_session_server_new(&s, cb, r), 0);
	} else {
		nghttp2_session_callbacks_set_on_header_callback(cb, cli_header);
		nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, cli_data);
		nghttp2_session_callbacks_set_on_stream_close_callback(cb, cli_close);
		nghttp2_session_callbacks_set_on_frame_recv_callback(cb, cli_frame);
		/* an encoder that takes all the table the pod offers, beyond the default 4096 */
		assert_int_equal(nghttp2_option_new(&opt), 0);
		nghttp2_option_set_max_deflate_dynamic_table_size(opt, 65536);
		/* WINDOW_UPDATEs when cli_data consumes, or when the case does (manual_window) */
		nghttp2_option_set_no_auto_window_update(opt, 1);
		assert_int_equal(nghttp2_session_client_new2(&s, cb, r, opt), 0);
		nghttp2_option_del(opt);
	}
	nghttp2_session_callbacks_del(cb);
	return s;
}

/* `srv_iv`: the pod's SETTINGS (its header table size, frame size...). */
static struct rig *rig_open_norm(size_t chunk, const nghttp2_settings_entry *srv_iv, size_t srv_niv,
				 bool manual_window, enum authz_path_norm norm)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct l7_decider d = {.decide = decide, .ctx = r, .path_norm = norm};

	assert_non_null(r);
	r->chunk = chunk;
	r->manual_window = manual_window;
	r->cli = session_new(r, false);
	r->srv = session_new(r, true);
	assert_int_equal(nghttp2_submit_settings(r->cli, NGHTTP2_FLAG_NONE, NULL, 0), 0);
	assert_int_equal(nghttp2_submit_settings(r->srv, NGHTTP2_FLAG_NONE, srv_iv, srv_niv), 0);
	r->f = l7_h2_ops.open(&d);
	assert_non_null(r->f);
	return r;
}

static struct rig *rig_open_manual(size_t chunk, const nghttp2_settings_entry *srv_iv,
				   size_t srv_niv, bool manual_window)
{
	return rig_open_norm(chunk, srv_iv, srv_niv, manual_window, AUTHZ_PATH_BASE);
}

static struct rig *rig_open(size_t chunk, const nghttp2_settings_entry *srv_iv, size_t srv_niv)
{
	return rig_open_manual(chunk, srv_iv, srv_niv, false);
}

static void rig_close(struct rig *r)
{
	size_t i;

	nghttp2_session_del(r->cli);
	nghttp2_session_del(r->srv);
	if (r->rc.inf)
		nghttp2_hd_inflate_del(r->rc.inf);
	if (r->rc.enc)
		nghttp2_hd_deflate_del(r->rc.enc);
	free(r->rc.in.p);
	free(r->rc.block.p);
	l7_h2_ops.close(r->f);
	l7_buf_free(&r->to_up);
	l7_buf_free(&r->to_client);
	free(r->pc.p);
	free(r->ps.p);
	for (i = 0; i < r->nss; i++)
		free(r->ss[i].resp);
	free(r);
}

static void bytes_add(struct bytes *b, const uint8_t *p, size_t n)
{
	if (!n)
		return;
	if (b->off == b->len)
		b->off = b->len = 0;
	b->p = realloc(b->p, b->len + n);
	assert_non_null(b->p);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* Everything a session wants to send, queued for the filter. */
static bool collect(nghttp2_session *s, struct bytes *b)
{
	const uint8_t *data;
	ssize_t n;
	bool any = false;

	while ((n = nghttp2_session_mem_send(s, &data)) > 0) {
		bytes_add(b, data, n);
		any = true;
	}
	assert_true(n == 0);
	return any;
}

/* What the filter wrote, to the session it is for. */
static void deliver(struct l7_buf *b, nghttp2_session *s, int *err)
{
	size_t n = l7_buf_unread(b);
	ssize_t rc;

	if (!n)
		return;
	rc = nghttp2_session_mem_recv(s, b->data + b->off, n);
	if (rc < 0 && !*err)
		*err = (int)rc;
	l7_buf_consume(b, n);
}

/* ---- the raw client: frames by hand, for what no well-behaved client sends ---- */

static void pump_any(struct rig *r);

static void raw_frame(struct rig *r, uint8_t type, uint8_t flags, uint32_t id, const void *p,
		      size_t len)
{
	uint8_t hd[9] = {len >> 16, len >> 8, len, type, flags, id >> 24, id >> 16, id >> 8, id};

	bytes_add(&r->pc, hd, sizeof(hd));
	if (len)
		bytes_add(&r->pc, p, len);
}

static void raw_window_update(struct rig *r, uint32_t id, uint32_t n)
{
	uint8_t v[4] = {n >> 24, n >> 16, n >> 8, n};

	raw_frame(r, NGHTTP2_WINDOW_UPDATE, 0, id, v, sizeof(v));
}

static struct rstream *raw_stream(struct rig *r, uint32_t id)
{
	struct rawcli *c = &r->rc;
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->st[i].id == id)
			return &c->st[i];
	assert_true(c->n < MAXS);
	c->st[c->n] = (struct rstream){.id = id};
	return &c->st[c->n++];
}

/* A complete header block from the pod or the filter: its :status. */
static void raw_block(struct rig *r)
{
	struct rawcli *c = &r->rc;
	struct rstream *st = raw_stream(r, c->block_id);
	uint8_t *in = c->block.p;
	size_t len = c->block.len;

	for (;;) {
		nghttp2_nv nv;
		int fl = 0;
		ssize_t n = nghttp2_hd_inflate_hd2(c->inf, &nv, &fl, in, len, 1);

		assert_true(n >= 0);
		in += n;
		len -= n;
		if ((fl & NGHTTP2_HD_INFLATE_EMIT) && nv.namelen == 7 &&
		    !memcmp(nv.name, ":status", 7))
			st->status = atoi((const char *)nv.value);
		if (fl & NGHTTP2_HD_INFLATE_FINAL)
			break;
	}
	nghttp2_hd_inflate_end_headers(c->inf);
	st->ended |= c->block_end_stream;
	c->block.len = c->block.off = 0;
}

/* One whole frame toward the client: record it, acknowledge SETTINGS, give DATA back. */
static void raw_client_frame(struct rig *r, const uint8_t *h, const uint8_t *p)
{
	struct rawcli *c = &r->rc;
	uint32_t len = h[0] << 16 | h[1] << 8 | h[2],
		 id = (h[5] & 0x7f) << 24 | h[6] << 16 | h[7] << 8 | h[8];
	uint8_t type = h[3], flags = h[4];

	switch (type) {
	case NGHTTP2_SETTINGS:
		if (!(flags & NGHTTP2_FLAG_ACK))
			raw_frame(r, NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, NULL, 0);
		break;
	case NGHTTP2_HEADERS:
	case NGHTTP2_CONTINUATION:
		if (type == NGHTTP2_HEADERS) {
			c->block_id = id;
			c->block_end_stream = flags & NGHTTP2_FLAG_END_STREAM;
		}
		bytes_add(&c->block, p, len); /* the pod sends neither padding nor priority */
		if (flags & NGHTTP2_FLAG_END_HEADERS)
			raw_block(r);
		break;
	case NGHTTP2_DATA:
		raw_stream(r, id)->data += len;
		raw_stream(r, id)->ended |= flags & NGHTTP2_FLAG_END_STREAM;
		if (len) {
			raw_window_update(r, 0, len);
			raw_window_update(r, id, len);
		}
		break;
	case NGHTTP2_RST_STREAM:
		raw_stream(r, id)->reset = true;
		raw_stream(r, id)->rst = p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
		break;
	case NGHTTP2_GOAWAY:
		c->goaway = p[4] << 24 | p[5] << 16 | p[6] << 8 | p[7];
		break;
	}
}

/* What the filter wrote toward the raw client, frame by frame. */
static void raw_read(struct rig *r)
{
	struct rawcli *c = &r->rc;
	size_t n = l7_buf_unread(&r->to_client);

	bytes_add(&c->in, r->to_client.data + r->to_client.off, n);
	l7_buf_consume(&r->to_client, n);
	while (c->in.len - c->in.off >= 9) {
		const uint8_t *h = c->in.p + c->in.off;
		uint32_t len = h[0] << 16 | h[1] << 8 | h[2];

		if (c->in.len - c->in.off < 9 + len)
			break;
		raw_client_frame(r, h, h + 9);
		c->in.off += 9 + len;
	}
}

/* A rig whose client is raw: its preface and an empty SETTINGS went, and the pod's SETTINGS
 * came back (so that the filter may answer at once). */
static struct rig *raw_open(size_t chunk, const nghttp2_settings_entry *srv_iv, size_t srv_niv)
{
	struct rig *r = calloc(1, sizeof(*r));
	struct l7_decider d = {.decide = decide, .ctx = r};

	assert_non_null(r);
	r->chunk = chunk;
	r->raw = true;
	r->rc.goaway = -1;
	r->srv = session_new(r, true);
	assert_int_equal(nghttp2_submit_settings(r->srv, NGHTTP2_FLAG_NONE, srv_iv, srv_niv), 0);
	assert_int_equal(nghttp2_hd_inflate_new(&r->rc.inf), 0);
	assert_int_equal(nghttp2_hd_deflate_new(&r->rc.enc, 0), 0);
	r->f = l7_h2_ops.open(&d);
	assert_non_null(r->f);
	bytes_add(&r->pc, (const uint8_t *)L7_H2_PREFACE, L7_H2_PREFACE_LEN);
	raw_frame(r, NGHTTP2_SETTINGS, 0, 0, NULL, 0);
	pump_any(r);
	return r;
}

/* HEADERS with `nv` encoded by the raw client's encoder (no dynamic table: literals and static
 * references only, so that blocks the filter drops change nothing for the next ones). */
static void raw_headers(struct rig *r, uint32_t id, uint8_t flags, const nghttp2_nv *nv, size_t n)
{
	uint8_t block[4096];
	ssize_t len = nghttp2_hd_deflate_hd(r->rc.enc, block, sizeof(block), nv, n);

	assert_true(len > 0);
	raw_frame(r, NGHTTP2_HEADERS, flags | NGHTTP2_FLAG_END_HEADERS, id, block, len);
}

/* A field of string literals (which may hold NULs), for nghttp2_nv arrays and as a value. */
#define KV(k, v)                                                                                   \
	{                                                                                          \
		(uint8_t *)(k), (uint8_t *)(v), sizeof(k) - 1, sizeof(v) - 1, 0                    \
	}
#define NVS(k, v) ((nghttp2_nv)KV(k, v))

/* GET `path` with :scheme and :authority, then `extra`; END_STREAM. */
static void raw_get(struct rig *r, uint32_t id, const char *path, const nghttp2_nv *extra,
		    size_t nextra)
{
	nghttp2_nv nv[40] = {NVS(":method", "GET"), NVS(":scheme", "http"),
			     NVS(":authority", AUTHORITY)};
	size_t n = 3;

	nv[n++] = (nghttp2_nv){(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0};
	for (size_t i = 0; i < nextra; i++)
		nv[n++] = extra[i];
	raw_headers(r, id, NGHTTP2_FLAG_END_STREAM, nv, n);
}

/* Feed up to `chunk` bytes of one direction to the filter and deliver its outputs. */
static bool feed(struct rig *r, bool from_client)
{
	struct bytes *b = from_client ? &r->pc : &r->ps;
	size_t n = b->len - b->off < r->chunk ? b->len - b->off : r->chunk;
	int rc;

	if (!n || r->frc)
		return false;
	if (from_client)
		rc = l7_h2_ops.from_client(r->f, b->p + b->off, n, &r->to_up, &r->to_client);
	else
		rc = l7_h2_ops.from_upstream(r->f, b->p + b->off, n, &r->to_client, &r->to_up);
	b->off += n;
	if (rc)
		r->frc = rc;
	r->cl_bytes += from_client ? n : 0;
	r->up_bytes += l7_buf_unread(&r->to_up);
	deliver(&r->to_up, r->srv, &r->srv_err);
	if (r->raw)
		raw_read(r);
	else
		deliver(&r->to_client, r->cli, &r->cli_err);
	return true;
}

/* Run both sides through the filter until nothing moves, or the filter fails. */
static void pump_any(struct rig *r)
{
	int rounds;

	for (rounds = 0; rounds < 1000000; rounds++) {
		bool moved = (r->cli && collect(r->cli, &r->pc)) | collect(r->srv, &r->ps);

		moved |= feed(r, true);
		moved |= feed(r, false);
		if (!moved)
			break;
	}
}

/* Likewise, and nothing went wrong anywhere. */
static void pump(struct rig *r)
{
	pump_any(r);
	assert_int_equal(r->frc, 0);
	if (r->raw)
		assert_int_equal(r->rc.goaway, -1);
	assert_int_equal(r->cli_err, 0);
	assert_int_equal(r->srv_err, 0);
	assert_int_equal(r->goaways, 0);
}

/* Submit a request; `extra` is NULL-terminated name, value pairs. */
static struct cstream *request(struct rig *r, const char *method, const char *path, size_t body,
			       bool trailers, const char *const *extra)
{
	nghttp2_nv nv[32];
	nghttp2_data_provider dp;
	struct cstream *c = &r->cs[r->ncs++];
	size_t n = 0;

#define NV(k, v) (nghttp2_nv){(uint8_t *)(k), (uint8_t *)(v), strlen(k), strlen(v), 0}
	nv[n++] = NV(":method", method);
	nv[n++] = NV(":scheme", "http");
	nv[n++] = NV(":authority", AUTHORITY);
	nv[n++] = NV(":path", path);
	for (; extra && extra[0]; extra += 2)
		nv[n++] = NV(extra[0], extra[1]);
#undef NV
	*c = (struct cstream){.send_len = body, .trailers = trailers};
	dp = (nghttp2_data_provider){.source.ptr = c, .read_callback = cli_read};
	c->id = nghttp2_submit_request(r->cli, NULL, nv, n, body || trailers ? &dp : NULL, c);
	assert_true(c->id > 0);
	return c;
}

static void expect_ok(const struct cstream *c)
{
	assert_true(c->closed);
	assert_int_equal(c->err, NGHTTP2_NO_ERROR);
	assert_int_equal(c->status, 200);
}

static void expect_denied(const struct cstream *c)
{
	assert_true(c->closed);
	assert_int_equal(c->status, 403);
	assert_string_equal(c->body, L7_DENY_BODY);
	assert_string_equal(c->ctype, "text/plain");
	assert_string_equal(c->clen, "19");
	assert_int_equal(c->err, NGHTTP2_NO_ERROR);
}

static size_t state_chunk(void **state)
{
	return *state ? *(size_t *)*state : WHOLE;
}

static size_t one = 1;

/* ---- the cases ---- */

static void test_allowed_get(void **state)
{
	struct rig *r = rig_open(state_chunk(state), NULL, 0);
	struct cstream *c = request(r, "GET", "/hello", 0, false, NULL);

	pump(r);
	expect_ok(c);
	assert_string_equal(c->body, "ok /hello 0");
	assert_int_equal(r->nss, 1);
	assert_string_equal(r->ss[0].method, "GET");
	assert_int_equal(l7_h2_ops.counts(r->f)->requests, 1);
	assert_int_equal(l7_h2_ops.counts(r->f)->denied, 0);
	assert_false(l7_h2_ops.done(r->f));
	rig_close(r);
}

/* Denied and allowed streams interleaved on one connection; it stays usable afterwards. */
static void test_denied_get_interleaved(void **state)
{
	struct rig *r = rig_open(state_chunk(state), NULL, 0);
	static const char *const deny_hdr[] = {DENY_HEADER, "1", NULL};
	struct cstream *a = request(r, "GET", "/a", 0, false, NULL);
	struct cstream *d1 = request(r, "GET", "/deny/me", 0, false, NULL);
	struct cstream *b = request(r, "GET", "/b", 0, false, NULL);
	struct cstream *d2 = request(r, "GET", "/c", 0, false, deny_hdr);
	struct cstream *h = request(r, "HEAD", "/deny/head", 0, false, NULL);
	struct cstream *c;

	pump(r);
	expect_ok(a);
	expect_denied(d1);
	expect_ok(b);
	expect_denied(d2);
	/* a HEAD answer has no body: one DATA byte and the client would reset the stream */
	assert_true(h->closed);
	assert_int_equal(h->err, NGHTTP2_NO_ERROR);
	assert_int_equal(h->status, 403);
	assert_int_equal(h->blen, 0);
	assert_string_equal(b->body, "ok /b 0");
	c = request(r, "GET", "/after", 0, false, NULL);
	pump(r);
	expect_ok(c);
	assert_string_equal(c->body, "ok /after 0");
	assert_int_equal(r->nss, 3); /* the pod never saw the denied ones */
	assert_string_equal(r->ss[0].path, "/a");
	assert_string_equal(r->ss[1].path, "/b");
	assert_string_equal(r->ss[2].path, "/after");
	assert_int_equal(l7_h2_ops.counts(r->f)->requests, 6);
	assert_int_equal(l7_h2_ops.counts(r->f)->denied, 3);
	rig_close(r);
}

/* Many requests with repeated custom headers: the client's encoder indexes them, and blocks the
 * filter drops still updated its table. `tbl` is the pod's SETTINGS_HEADER_TABLE_SIZE. */
static void dynamic_table_run(size_t chunk, uint32_t tbl)
{
	nghttp2_settings_entry iv = {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, tbl};
	struct rig *r = rig_open(chunk, &iv, 1);
	size_t i, total = chunk == 1 ? 60 : 300, nok = 0;
	char val[32], path[32], user[32];

	for (i = 0; i < total; i++) {
		const char *extra[] = {"x-custom",   val,     "x-user", user,
				       "user-agent", "rig/1", NULL};

		snprintf(val, sizeof(val), "value-%zu", i % 7);
		snprintf(user, sizeof(user), "user-%zu", i % 3);
		snprintf(path, sizeof(path), i % 3 == 1 ? "/deny/%zu" : "/ok/%zu", i);
		request(r, "GET", path, 0, false, extra);
		if (i % 10 == 9)
			pump(r); /* some in batches, so the table is used across round trips */
	}
	pump(r);
	for (i = 0; i < total; i++) {
		if (i % 3 == 1) {
			expect_denied(&r->cs[i]);
			continue;
		}
		expect_ok(&r->cs[i]);
		snprintf(val, sizeof(val), "value-%zu", i % 7);
		snprintf(path, sizeof(path), "/ok/%zu", i);
		assert_string_equal(r->ss[nok].path, path);
		assert_string_equal(r->ss[nok].xcustom, val);
		nok++;
	}
	assert_int_equal(r->nss, nok);
	rig_close(r);
}

static void test_hpack_dynamic_table(void **state)
{
	dynamic_table_run(state_chunk(state), 4096);
	dynamic_table_run(state_chunk(state), 256);   /* the pod shrinks the client's table */
	dynamic_table_run(state_chunk(state), 16384); /* and lets it grow */
	dynamic_table_run(state_chunk(state), 0);     /* or allows none */
}

/* A header block far above 16 KiB comes as HEADERS + CONTINUATIONs and must be re-split under
 * the pod's SETTINGS_MAX_FRAME_SIZE (or the pod fails the connection: FRAME_SIZE_ERROR). */
static void test_large_header_block(void **state)
{
	nghttp2_settings_entry iv = {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, 20000};
	size_t len = 50000, i, pass;
	char *big = malloc(len + 1);

	for (i = 0; i < len; i++)
		big[i] = 'A' + (char)((i * 31 + i / 7) % 58);
	big[len] = '\0';
	for (pass = 0; pass < 2; pass++) {
		struct rig *r = rig_open(state_chunk(state), pass ? &iv : NULL, pass);
		const char *extra[] = {"x-big", big, NULL};
		const char *extra_deny[] = {"x-big", big, DENY_HEADER, "1", NULL};
		struct cstream *a, *d, *b;

		r->big_expect = big;
		a = request(r, "GET", "/big", 0, false, extra);
		d = request(r, "GET", "/big", 0, false, extra_deny);
		b = request(r, "POST", "/big", 100, false, extra);
		pump(r);
		expect_ok(a);
		expect_denied(d);
		expect_ok(b);
		assert_int_equal(r->nss, 2);
		assert_int_equal(r->ss[0].big_len, len);
		assert_true(r->ss[0].big_ok);
		assert_true(r->ss[1].big_ok);
		assert_string_equal(b->body, "ok /big 100");
		rig_close(r);
	}
	free(big);
}

/* Denied POSTs carry more DATA than the connection window: unless the filter gives the dropped
 * bytes back, the client stalls and the allowed POST after them never completes. */
static void test_denied_posts_return_window(void **state)
{
	struct rig *r = rig_open(state_chunk(state), NULL, 0);
	struct cstream *d[3], *ok;
	size_t i;

	for (i = 0; i < 3; i++) {
		d[i] = request(r, "POST", "/deny/upload", 40000, false, NULL);
		pump(r);
		expect_denied(d[i]);
	}
	ok = request(r, "POST", "/upload", 100000, false, NULL);
	pump(r);
	expect_ok(ok);
	assert_string_equal(ok->body, "ok /upload 100000");
	assert_int_equal(r->nss, 1);
	assert_int_equal(r->ss[0].data, 100000);
	/* and all at once: denied bodies and an allowed one competing for the window */
	d[0] = request(r, "POST", "/deny/a", 70000, false, NULL);
	ok = request(r, "POST", "/upload2", 70000, false, NULL);
	d[1] = request(r, "POST", "/deny/b", 70000, false, NULL);
	pump(r);
	expect_denied(d[0]);
	expect_denied(d[1]);
	expect_ok(ok);
	assert_string_equal(ok->body, "ok /upload2 70000");
	rig_close(r);
}

/* Trailers of an allowed stream are re-encoded and reach the pod; those of a denied one are
 * decoded (they add to the client's table, which later blocks refer to) and dropped. */
static void test_trailers(void **state)
{
	struct rig *r = rig_open(state_chunk(state), NULL, 0);
	static const char *const extra[] = {"x-custom", "t1", NULL};
	struct cstream *a, *d, *b;

	a = request(r, "POST", "/upload", 1000, true, extra);
	d = request(r, "POST", "/deny/upload", 1000, true, extra);
	pump(r);
	expect_ok(a);
	expect_denied(d);
	assert_string_equal(a->body, "ok /upload 1000");
	b = request(r, "POST", "/upload", 10, true, extra);
	pump(r);
	expect_ok(b);
	assert_int_equal(r->nss, 2);
	assert_string_equal(r->ss[0].trailer, "sum-1");
	assert_string_equal(r->ss[1].trailer, "sum-5");
	assert_string_equal(r->ss[1].xcustom, "t1");
	rig_close(r);
}

/* The decider gets :method, :path and :authority as fields, the rest as lower-case headers
 * (cookie crumbs joined), nothing of HTTP/2's pseudo-headers among them. */
static void test_decider_sees_request(void **state)
{
	struct rig *r = rig_open(state_chunk(state), NULL, 0);
	static const char *const extra[] = {"x-user", "bob", "cookie", "a=1",
					    "cookie", "b=2", NULL};
	struct cstream *c = request(r, "PUT", "/api/v1/items?x=1", 0, false, extra);

	pump(r);
	expect_ok(c);
	assert_int_equal(r->ndecided, 1);
	assert_false(r->seen_tcp);
	assert_string_equal(r->seen_method, "PUT");
	assert_string_equal(r->seen_path, "/api/v1/items?x=1");
	assert_string_equal(r->seen_host, AUTHORITY);
	assert_non_null(strstr(r->seen_headers, "x-user=bob\n"));
	assert_non_null(strstr(r->seen_headers, "cookie=a=1; b=2\n"));
	assert_null(strstr(r->seen_headers, ":"));
	rig_close(r);
}

static int on_stream_begin(void *ctx, uint32_t sid, const struct authz_request *rq, bool allowed,
			   int (*field)(void *arg, const char *name, const char *value), void *arg)
{
	struct rig *r = ctx;
	size_t n = strlen(r->streams);

	snprintf(r->streams + n, sizeof(r->streams) - n, "b%u%s%s ", sid, allowed ? "" : "!",
		 rq->path);
	return allowed ? field(arg, "traceparent", "00-hook") : 0;
}

static void on_stream_end(void *ctx, uint32_t sid, int status, const char *flags, uint64_t request,
			  uint64_t response)
{
	struct rig *r = ctx;
	size_t n = strlen(r->streams);

	snprintf(r->streams + n, sizeof(r->streams) - n, "e%u:%d/%s/%llu/%llu ", sid, status, flags,
		 (unsigned long long)request, (unsigned long long)response);
}

/* The per-stream hooks: each request begins once decided, and ends with the pod's :status when
 * its response ends, the filter's 403, or 0/UR when the pod reset it, with the sizes the router
 * would count: the request's header list (RFC 9113 6.5.2) and DATA, the response's fields but
 * :status and its DATA; the fields the hook gives reach the pod in place of the client's
 * propagation fields; the connection's end ends what is left (sid 0). */
static void test_stream_hooks(void **state)
{
	struct rig *r = rig_open(state_chunk(state), NULL, 0);
	struct l7_decider d = {.decide = decide,
			       .ctx = r,
			       .stream_begin = on_stream_begin,
			       .stream_end = on_stream_end};
	static const char *const tp[] = {"traceparent", "00-client", NULL};
	struct cstream *a, *den, *rst, *up;
	char want[128];
	/* :method GET, :scheme http, :authority, :path: names, values and 32 each */
	size_t head = 7 + 3 + 7 + 4 + 10 + strlen(AUTHORITY) + 4 * 32;

	l7_h2_ops.close(r->f);
	r->f = l7_h2_ops.open(&d);
	r->reset_path = "/reset";
	a = request(r, "GET", "/a", 0, false, tp);
	den = request(r, "GET", "/deny/x", 0, false, NULL);
	rst = request(r, "GET", "/reset", 0, false, NULL);
	up = request(r, "POST", "/up", 70000, false, NULL);
	pump(r);
	expect_ok(a);
	expect_denied(den);
	assert_true(rst->closed);
	expect_ok(up);
	assert_non_null(strstr(r->streams, "b1/a "));
	/* "ok /a 0": 7 body bytes, no fields but :status */
	snprintf(want, sizeof(want), "e1:200/-/%zu/7 ", head + 5 + 2 + 11 + 9 + 32);
	assert_non_null(strstr(r->streams, want));
	/* the 403's content-type, content-length and "RBAC: access denied" */
	snprintf(want, sizeof(want), "b3!/deny/x e3:403/-/%zu/57 ", head + 5 + 7);
	assert_non_null(strstr(r->streams, want));
	assert_non_null(strstr(r->streams, "b5/reset "));
	snprintf(want, sizeof(want), "e5:0/UR/%zu/0 ", head + 5 + 6);
	assert_non_null(strstr(r->streams, want));
	/* POST (4), 70000 bytes of DATA; "ok /up 70000" */
	snprintf(want, sizeof(want), "e7:200/-/%zu/12 ", head + 1 + 5 + 3 + 70000);
	assert_non_null(strstr(r->streams, want));
	assert_string_equal(r->ss[0].path, "/a");
	assert_string_equal(r->ss[0].traceparent, "00-hook");
	assert_int_equal(r->ss[0].ntraceparent, 1);
	l7_h2_ops.end(r->f, true);
	assert_non_null(strstr(r->streams, "e0:0/UC/0/0 "));
	rig_close(r);
}

/* A response the pod's close cuts short keeps its status with UC, and the sizes so far: the
 * head's fields and the DATA that passed. */
static void test_stream_cut_short(void **state)
{
	struct rig *r = rig_open_manual(state_chunk(state), NULL, 0, true);
	struct l7_decider d = {.decide = decide,
			       .ctx = r,
			       .stream_begin = on_stream_begin,
			       .stream_end = on_stream_end};
	struct cstream *big;
	char want[64];
	size_t head = 7 + 3 + 7 + 4 + 10 + strlen(AUTHORITY) + 4 * 32 + 5 + 4;

	l7_h2_ops.close(r->f);
	r->f = l7_h2_ops.open(&d);
	r->resp_body = 2 * NGHTTP2_INITIAL_WINDOW_SIZE; /* twice the client's window */
	big = request(r, "GET", "/big", 0, false, NULL);
	pump(r);
	assert_false(big->closed); /* the client has not read: the rest waits on its window */
	assert_null(strstr(r->streams, "e1:"));
	l7_h2_ops.end(r->f, true);
	snprintf(want, sizeof(want), "e1:200/UC/%zu/%zu ", head, big->received);
	assert_non_null(strstr(r->streams, want));
	assert_true(big->received > 0);
	rig_close(r);
}

/* Clients build priority trees on streams they have not opened (nghttp, Firefox): PRIORITY on
 * such an idle stream reaches the pod, and a request may depend on it. */
static void test_priority_on_idle_stream(void **state)
{
	struct rig *r = rig_open(state_chunk(state), NULL, 0);
	nghttp2_priority_spec anchor, dep;
	nghttp2_nv nv[] = {
	    {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, 0},
	    {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
	    {(uint8_t *)":authority", (uint8_t *)AUTHORITY, 10, strlen(AUTHORITY), 0},
	    {(uint8_t *)":path", (uint8_t *)"/prio", 5, 5, 0},
	};
	struct cstream *c = &r->cs[r->ncs++];

	nghttp2_priority_spec_init(&anchor, 0, 201, 0);
	assert_int_equal(nghttp2_submit_priority(r->cli, NGHTTP2_FLAG_NONE, 11, &anchor), 0);
	nghttp2_priority_spec_init(&dep, 11, 16, 0);
	c->id = nghttp2_submit_request(r->cli, &dep, nv, 4, NULL, c);
	assert_true(c->id > 0);
	pump(r);
	expect_ok(c);
	assert_string_equal(c->body, "ok /prio 0");
	assert_int_equal(r->srv_priorities, 1);
	rig_close(r);
}

/* The client reads its DATA (and sends WINDOW_UPDATEs) now. */
static void client_reads(struct rig *r)
{
	size_t i, total = 0;

	for (i = 0; i < r->ncs; i++) {
		total += r->cs[i].unconsumed;
		if (!r->cs[i].closed && r->cs[i].unconsumed)
			assert_int_equal(nghttp2_session_consume_stream(r->cli, r->cs[i].id,
									r->cs[i].unconsumed),
					 0);
		r->cs[i].unconsumed = 0;
	}
	assert_int_equal(nghttp2_session_consume_connection(r->cli, total), 0);
}

/* A 403 body shares the client's connection window with the pod's DATA, and the pod does not
 * know: a response that fills the whole window must wait for the client's WINDOW_UPDATE rather
 * than overrun it (the client would fail the connection: FLOW_CONTROL_ERROR). */
static void test_pod_data_waits_for_client_window(void **state)
{
	struct rig *r = rig_open_manual(state_chunk(state), NULL, 0, true);
	struct cstream *big, *d;

	r->resp_body = NGHTTP2_INITIAL_WINDOW_SIZE; /* the client's whole connection window */
	big = request(r, "GET", "/big", 0, false, NULL);
	d = request(r, "GET", "/deny/x", 0, false, NULL);
	pump(r);
	expect_denied(d);
	assert_false(big->closed);
	assert_true(big->received <= NGHTTP2_INITIAL_WINDOW_SIZE - sizeof(L7_DENY_BODY) + 1);
	client_reads(r);
	pump(r);
	expect_ok(big);
	assert_int_equal(big->received, NGHTTP2_INITIAL_WINDOW_SIZE);
	rig_close(r);
}

/* Two :path fields: the filter and the pod could read different requests, so it is refused
 * (RST_STREAM PROTOCOL_ERROR), counted as bad, and the connection goes on. */
static void test_malformed_request_refused(void **state)
{
	struct rig *r = rig_open(state_chunk(state), NULL, 0);
	static const char *const extra[] = {":path", "/admin", NULL};
	struct cstream *m = request(r, "GET", "/public", 0, false, extra);
	struct cstream *c = request(r, "GET", "/fine", 0, false, NULL);

	pump(r);
	assert_true(m->closed);
	assert_int_equal(m->err, NGHTTP2_PROTOCOL_ERROR);
	assert_int_equal(m->status, 0);
	expect_ok(c);
	assert_int_equal(r->nss, 1);
	assert_int_equal(r->ndecided, 1);
	assert_int_equal(l7_h2_ops.counts(r->f)->bad, 1);
	rig_close(r);
}

/* The pod's response carries a header block with CONTINUATIONs and large DATA, fed a byte at a
 * time alongside denied requests: every 403 must land between the pod's frames. */
static void test_answers_between_pod_frames(void **state)
{
	struct rig *r = rig_open(state_chunk(state), NULL, 0);
	struct cstream *c[8];
	size_t i;

	r->resp_header = 30000;
	r->resp_body = 50000;
	for (i = 0; i < 8; i++)
		c[i] = request(r, "GET", i % 2 ? "/deny/x" : "/big", 0, false, NULL);
	pump(r);
	for (i = 0; i < 8; i++) {
		if (i % 2) {
			expect_denied(c[i]);
			continue;
		}
		expect_ok(c[i]);
		assert_int_equal(c[i]->blen, sizeof(c[i]->body) - 1); /* 50000 'z', clipped */
	}
	rig_close(r);
}

/* ---- what reaches the pod is what was decided ---- */

/* The :path is decided and forwarded normalised (Istio's BASE: dot segments removed, escaped
 * unreserved characters decoded), the query as sent: `/ok/../deny/x` is denied as /deny/x, and
 * `/public/../admin` reaches the pod as /admin. */
static void test_path_normalised(void **state)
{
	struct rig *r = rig_open(state_chunk(state), NULL, 0);
	struct cstream *a = request(r, "GET", "/public/../admin", 0, false, NULL);
	struct cstream *b = request(r, "GET", "/%61dmin/./x?q=%61/../b", 0, false, NULL);
	struct cstream *d = request(r, "GET", "/ok/../deny/x", 0, false, NULL);
	struct cstream *c = request(r, "GET", "/deny/%2e%2e/ok//x", 0, false, NULL);

	pump(r);
	expect_ok(a);
	assert_string_equal(a->body, "ok /admin 0");
	expect_ok(b);
	assert_string_equal(b->body, "ok /admin/x?q=%61/../b 0");
	expect_denied(d);
	expect_ok(c);
	assert_string_equal(c->body, "ok /ok//x 0");
	assert_int_equal(r->nss, 3);
	assert_string_equal(r->ss[0].path, "/admin");
	assert_string_equal(r->seen_path, "/ok//x");
	rig_close(r);

	/* the policy set's normalisation is the decider's: MERGE_SLASHES merges them too */
	r = rig_open_norm(state_chunk(state), NULL, 0, false, AUTHZ_PATH_MERGE_SLASHES);
	c = request(r, "GET", "/a//b/../c?x=//", 0, false, NULL);
	pump(r);
	expect_ok(c);
	assert_string_equal(c->body, "ok /a/c?x=// 0");
	assert_string_equal(r->seen_path, "/a/c?x=//");
	rig_close(r);
}

static void expect_reset(struct rig *r, uint32_t id, uint32_t code, const char *what)
{
	struct rstream *st = raw_stream(r, id);

	if (!st->reset || st->rst != code || st->status)
		fail_msg("%s: stream %u: want RST_STREAM %u and no answer, got %s %u, status %d",
			 what, id, code, st->reset ? "RST_STREAM" : "no RST_STREAM", st->rst,
			 st->status);
}

/* The filter ended the connection with GOAWAY(code). Fed a byte at a time, the pod's frame in
 * flight may keep the GOAWAY from going (the filter writes only between the pod's frames): the
 * connection still ends. */
static void expect_goaway_code(struct rig *r, int code)
{
	assert_int_equal(r->frc, -EPROTO);
	assert_true(l7_h2_ops.done(r->f));
	if (r->rc.goaway != -1 || r->chunk != 1)
		assert_int_equal(r->rc.goaway, code);
}

#define GET_HTTP KV(":method", "GET"), KV(":scheme", "http")

/* One authority: :authority and a Host naming another host is malformed; the same host (in any
 * case) goes on as :authority alone; Host alone is decided on and forwarded as it is. */
static void test_one_authority(void **state)
{
	struct rig *r = raw_open(state_chunk(state), NULL, 0);
	nghttp2_nv differ[] = {GET_HTTP, KV(":authority", "pod.test"), KV(":path", "/a"),
			       KV("host", "admin.test")};
	nghttp2_nv same[] = {GET_HTTP, KV(":authority", "Pod.Test:8080"), KV(":path", "/b"),
			     KV("host", "pod.test:8080")};
	nghttp2_nv host_only[] = {GET_HTTP, KV(":path", "/c"), KV("host", "pod.test:8080")};
	nghttp2_nv none[] = {GET_HTTP, KV(":path", "/d")};
	nghttp2_nv two_hosts[] = {GET_HTTP, KV(":path", "/e"), KV("host", "a.test"),
				  KV("host", "a.test")};
	nghttp2_nv userinfo[] = {GET_HTTP, KV(":authority", "pod.test@admin.test"),
				 KV(":path", "/f")};

	raw_headers(r, 1, NGHTTP2_FLAG_END_STREAM, differ, 5);
	raw_headers(r, 3, NGHTTP2_FLAG_END_STREAM, same, 5);
	pump(r);
	assert_string_equal(r->seen_host, "Pod.Test:8080");
	raw_headers(r, 5, NGHTTP2_FLAG_END_STREAM, host_only, 4);
	pump(r);
	assert_string_equal(r->seen_host, "pod.test:8080");
	raw_headers(r, 7, NGHTTP2_FLAG_END_STREAM, none, 3);
	raw_headers(r, 9, NGHTTP2_FLAG_END_STREAM, two_hosts, 5);
	raw_headers(r, 11, NGHTTP2_FLAG_END_STREAM, userinfo, 4);
	pump(r);
	expect_reset(r, 1, NGHTTP2_PROTOCOL_ERROR, "a host that differs");
	expect_reset(r, 7, NGHTTP2_PROTOCOL_ERROR, "no authority");
	expect_reset(r, 9, NGHTTP2_PROTOCOL_ERROR, "two hosts");
	expect_reset(r, 11, NGHTTP2_PROTOCOL_ERROR, "userinfo");
	assert_int_equal(raw_stream(r, 3)->status, 200);
	assert_int_equal(raw_stream(r, 5)->status, 200);
	assert_int_equal(r->nss, 2);
	assert_string_equal(r->ss[0].authority, "Pod.Test:8080");
	assert_string_equal(r->ss[0].host, "");
	assert_string_equal(r->ss[1].authority, "");
	assert_string_equal(r->ss[1].host, "pod.test:8080");
	assert_int_equal(r->ndecided, 2);
	assert_int_equal(l7_h2_ops.counts(r->f)->bad, 4);
	rig_close(r);
}

/* CONNECT, plain or extended (RFC 8441), is refused with a bodiless 403 as in HTTP/1.1: nothing of
 * the stream, its DATA included, ever reaches the pod, and the connection goes on. */
static void test_connect_refused(void **state)
{
	struct rig *r = raw_open(state_chunk(state), NULL, 0);
	nghttp2_nv plain[] = {KV(":method", "CONNECT"), KV(":authority", "db.test:5432")};
	nghttp2_nv ext[] = {KV(":method", "CONNECT"), KV(":protocol", "websocket"),
			    KV(":scheme", "http"), KV(":authority", AUTHORITY),
			    KV(":path", "/chat")};
	nghttp2_nv odd[] = {KV(":method", "CONNECT"), KV(":scheme", "http"),
			    KV(":authority", AUTHORITY), KV(":path", "/x")};

	raw_headers(r, 1, 0, plain, 2);
	raw_frame(r, NGHTTP2_DATA, 0, 1, "tunnel bytes", 12);
	raw_headers(r, 3, 0, ext, 5);
	raw_frame(r, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 3, "ws", 2);
	raw_headers(r, 5, NGHTTP2_FLAG_END_STREAM, odd, 4);
	raw_get(r, 7, "/after", NULL, 0);
	pump(r);
	for (uint32_t id = 1; id <= 5; id += 2) {
		assert_int_equal(raw_stream(r, id)->status, 403);
		assert_true(raw_stream(r, id)->ended);
	}
	/* the client had not ended stream 1: it is told to stop sending (as after a 403) */
	assert_true(raw_stream(r, 1)->reset);
	assert_int_equal(raw_stream(r, 1)->rst, NGHTTP2_NO_ERROR);
	raw_frame(r, NGHTTP2_DATA, 0, 1, "more tunnel bytes", 17);
	pump(r);
	assert_int_equal(raw_stream(r, 7)->status, 200);
	assert_int_equal(r->nss, 1);
	assert_string_equal(r->ss[0].path, "/after");
	assert_int_equal(r->ss[0].data, 0);
	assert_int_equal(r->ndecided, 1);
	assert_int_equal(l7_h2_ops.counts(r->f)->denied, 3);
	rig_close(r);
}

struct bad_case {
	const char *what;
	nghttp2_nv nv[8];
	size_t n;
};

#define REQ_HTTP GET_HTTP, KV(":authority", AUTHORITY)

/* Requests RFC 9113 8.2 and 8.3 call malformed are refused (RST_STREAM PROTOCOL_ERROR) before a
 * decision, and the connection goes on; the legal oddities (OPTIONS *, TE: trailers) pass. */
static void test_malformed_refused(void **state)
{
	const struct bad_case cases[] = {
	    {"no leading /", {REQ_HTTP, KV(":path", "admin")}, 4},
	    {"* with GET", {REQ_HTTP, KV(":path", "*")}, 4},
	    {"fragment", {REQ_HTTP, KV(":path", "/a#b")}, 4},
	    {"empty :path", {REQ_HTTP, KV(":path", "")}, 4},
	    {"space in :path", {REQ_HTTP, KV(":path", "/a b")}, 4},
	    {"no :method", {KV(":scheme", "http"), KV(":authority", "a"), KV(":path", "/")}, 3},
	    {"no :scheme", {KV(":method", "GET"), KV(":authority", "a"), KV(":path", "/")}, 3},
	    {"no :path", {REQ_HTTP}, 3},
	    {"pseudo after regular", {REQ_HTTP, KV("x-a", "1"), KV(":path", "/")}, 5},
	    {"two :method", {REQ_HTTP, KV(":method", "GET"), KV(":path", "/")}, 5},
	    {"two :path", {REQ_HTTP, KV(":path", "/"), KV(":path", "/admin")}, 5},
	    {"unknown pseudo", {REQ_HTTP, KV(":path", "/"), KV(":foo", "x")}, 5},
	    {":status in a request", {REQ_HTTP, KV(":path", "/"), KV(":status", "200")}, 5},
	    {":protocol without CONNECT", {REQ_HTTP, KV(":path", "/"), KV(":protocol", "ws")}, 5},
	    {"bad :method", {KV(":method", "G(T"), KV(":scheme", "http"), KV(":path", "/")}, 3},
	    {"bad :scheme", {KV(":method", "GET"), KV(":scheme", "h tp"), KV(":path", "/")}, 3},
	    {"upper case name", {REQ_HTTP, KV(":path", "/"), KV("X-Foo", "1")}, 5},
	    {"space in name", {REQ_HTTP, KV(":path", "/"), KV("x foo", "1")}, 5},
	    {"colon in name", {REQ_HTTP, KV(":path", "/"), KV("x:foo", "1")}, 5},
	    {"CR in name", {REQ_HTTP, KV(":path", "/"), KV("x\rfoo", "1")}, 5},
	    {"LF in name", {REQ_HTTP, KV(":path", "/"), KV("x\nfoo", "1")}, 5},
	    {"NUL in name", {REQ_HTTP, KV(":path", "/"), KV("x\0foo", "1")}, 5},
	    {"non-token name", {REQ_HTTP, KV(":path", "/"), KV("x(y)", "1")}, 5},
	    {"empty name", {REQ_HTTP, KV(":path", "/"), KV("", "1")}, 5},
	    {"CR in value", {REQ_HTTP, KV(":path", "/"), KV("x-a", "a\rb")}, 5},
	    {"LF in value", {REQ_HTTP, KV(":path", "/"), KV("x-a", "a\nx-admin: 1")}, 5},
	    {"NUL in value", {REQ_HTTP, KV(":path", "/"), KV("x-a", "a\0b")}, 5},
	    {"control in value", {REQ_HTTP, KV(":path", "/"), KV("x-a", "a\x01")}, 5},
	    {"leading space", {REQ_HTTP, KV(":path", "/"), KV("x-a", " a")}, 5},
	    {"trailing tab", {REQ_HTTP, KV(":path", "/"), KV("x-a", "a\t")}, 5},
	    {"connection", {REQ_HTTP, KV(":path", "/"), KV("connection", "close")}, 5},
	    {"keep-alive", {REQ_HTTP, KV(":path", "/"), KV("keep-alive", "5")}, 5},
	    {"proxy-connection", {REQ_HTTP, KV(":path", "/"), KV("proxy-connection", "x")}, 5},
	    {"transfer-encoding",
	     {REQ_HTTP, KV(":path", "/"), KV("transfer-encoding", "chunked")},
	     5},
	    {"upgrade", {REQ_HTTP, KV(":path", "/"), KV("upgrade", "h2c")}, 5},
	    {"te: gzip", {REQ_HTTP, KV(":path", "/"), KV("te", "gzip")}, 5},
	    {"content-length 1a", {REQ_HTTP, KV(":path", "/"), KV("content-length", "1a")}, 5},
	    {"two content-length",
	     {REQ_HTTP, KV(":path", "/"), KV("content-length", "0"), KV("content-length", "0")},
	     6},
	};
	nghttp2_nv options[] = {KV(":method", "OPTIONS"), KV(":scheme", "http"),
				KV(":authority", AUTHORITY), KV(":path", "*")};
	nghttp2_nv te[] = {REQ_HTTP, KV(":path", "/te"), KV("te", "trailers")};
	size_t n = sizeof(cases) / sizeof(*cases), i;
	struct rig *r = raw_open(state_chunk(state), NULL, 0);

	for (i = 0; i < n; i++) {
		raw_headers(r, 2 * i + 1, NGHTTP2_FLAG_END_STREAM, cases[i].nv, cases[i].n);
		pump(r);
		expect_reset(r, 2 * i + 1, NGHTTP2_PROTOCOL_ERROR, cases[i].what);
	}
	assert_int_equal(r->ndecided, 0);
	assert_int_equal(r->nss, 0);
	assert_int_equal(l7_h2_ops.counts(r->f)->bad, n);
	raw_headers(r, 2 * n + 1, NGHTTP2_FLAG_END_STREAM, options, 4);
	raw_headers(r, 2 * n + 3, NGHTTP2_FLAG_END_STREAM, te, 5);
	pump(r);
	assert_int_equal(raw_stream(r, 2 * n + 1)->status, 200);
	assert_int_equal(raw_stream(r, 2 * n + 3)->status, 200);
	assert_string_equal(r->ss[0].path, "*");
	assert_string_equal(r->ss[1].path, "/te");
	rig_close(r);
}

static const nghttp2_nv forged[] = {KV("x-checksum", "forged")};

/* A HEADERS frame on a stream the pod does not have open is never forwarded as trailers: on a
 * stream the pod answered, one the filter denied and forgot, or an id the client skipped, it is
 * a connection error (RFC 9113 5.1), so nothing undecided reaches the pod. */
static void test_headers_on_closed_streams(void **state)
{
	size_t chunk = state_chunk(state);
	struct rig *r = raw_open(chunk, NULL, 0);

	raw_get(r, 1, "/a", NULL, 0);
	pump(r);
	assert_int_equal(raw_stream(r, 1)->status, 200);
	raw_headers(r, 1, NGHTTP2_FLAG_END_STREAM, forged, 1);
	pump_any(r);
	expect_goaway_code(r, NGHTTP2_PROTOCOL_ERROR);
	assert_int_equal(r->nss, 1);
	assert_string_equal(r->ss[0].trailer, "");
	assert_int_equal(r->srv_err, 0);
	rig_close(r);

	r = raw_open(chunk, NULL, 0); /* denied, answered, forgotten: then its id as a request */
	raw_get(r, 1, "/deny", NULL, 0);
	pump(r);
	assert_int_equal(raw_stream(r, 1)->status, 403);
	raw_get(r, 1, "/admin", NULL, 0);
	pump_any(r);
	expect_goaway_code(r, NGHTTP2_PROTOCOL_ERROR);
	assert_int_equal(r->nss, 0);
	assert_int_equal(r->ndecided, 1);
	rig_close(r);

	r = raw_open(chunk, NULL, 0); /* an id below the highest opened, never opened */
	raw_get(r, 5, "/a", NULL, 0);
	pump(r);
	raw_get(r, 3, "/b", NULL, 0);
	pump_any(r);
	expect_goaway_code(r, NGHTTP2_PROTOCOL_ERROR);
	assert_int_equal(r->nss, 1);
	rig_close(r);
}

#define POST(path)                                                                                 \
	KV(":method", "POST"), KV(":scheme", "http"), KV(":authority", AUTHORITY), KV(":path", path)

/* A stream the pod reset takes no more from the client: its DATA and trailers still in flight
 * are dropped (the pod would fail the connection on trailers for a closed stream). */
static void test_pod_reset_stream(void **state)
{
	struct rig *r = raw_open(state_chunk(state), NULL, 0);
	nghttp2_nv post[] = {POST("/reset")};
	size_t up;

	r->reset_path = "/reset";
	raw_headers(r, 1, 0, post, 4);
	pump(r);
	assert_true(raw_stream(r, 1)->reset);
	assert_int_equal(raw_stream(r, 1)->rst, NGHTTP2_CANCEL);
	up = r->up_bytes;
	raw_frame(r, NGHTTP2_DATA, 0, 1, "late", 4);
	raw_headers(r, 1, NGHTTP2_FLAG_END_STREAM, forged, 1);
	pump(r);
	assert_int_equal(r->up_bytes, up); /* not a byte of it */
	raw_get(r, 3, "/after", NULL, 0);
	pump(r);
	assert_int_equal(raw_stream(r, 3)->status, 200);
	assert_int_equal(r->nss, 2);
	assert_int_equal(r->ss[0].data, 0);
	assert_string_equal(r->ss[0].trailer, "");
	rig_close(r);
}

/* Trailers with a pseudo-header, or that do not end the stream, are malformed: the client's
 * stream is reset (PROTOCOL_ERROR) and the pod, which has the request, hears RST_STREAM(CANCEL)
 * instead of a forged :path. Good trailers pass. */
static void test_trailers_checked(void **state)
{
	struct rig *r = raw_open(state_chunk(state), NULL, 0);
	nghttp2_nv p1[] = {POST("/up1")}, p2[] = {POST("/up2")}, p3[] = {POST("/up3")};
	static const nghttp2_nv pseudo[] = {KV(":path", "/admin")};
	static const nghttp2_nv good[] = {KV("x-checksum", "fine")};

	raw_headers(r, 1, 0, p1, 4);
	raw_frame(r, NGHTTP2_DATA, 0, 1, "body", 4);
	raw_headers(r, 1, NGHTTP2_FLAG_END_STREAM, pseudo, 1);
	raw_headers(r, 3, 0, p2, 4);
	raw_headers(r, 3, 0, good, 1);
	raw_headers(r, 5, 0, p3, 4);
	raw_frame(r, NGHTTP2_DATA, 0, 5, "x", 1);
	raw_headers(r, 5, NGHTTP2_FLAG_END_STREAM, good, 1);
	pump(r);
	expect_reset(r, 1, NGHTTP2_PROTOCOL_ERROR, "pseudo-header in trailers");
	expect_reset(r, 3, NGHTTP2_PROTOCOL_ERROR, "trailers without END_STREAM");
	assert_int_equal(raw_stream(r, 5)->status, 200);
	assert_int_equal(r->nss, 3);
	assert_string_equal(r->ss[0].path, "/up1");
	assert_true(r->ss[0].closed);
	assert_int_equal(r->ss[0].closed_err, NGHTTP2_CANCEL);
	assert_true(r->ss[1].closed);
	assert_int_equal(r->ss[1].closed_err, NGHTTP2_CANCEL);
	assert_string_equal(r->ss[2].trailer, "fine");
	assert_int_equal(l7_h2_ops.counts(r->f)->bad, 2);
	rig_close(r);
}

/* ---- bounds ---- */

#define HP_GET_HTTP 0x82, 0x86		    /* :method GET, :scheme http (static table) */
#define HP_SLASH    0x84		    /* :path / */
#define HP_REF(i)   ((uint8_t)(0x80 | (i))) /* a table reference, index < 127 */

static char *big_value(size_t len)
{
	char *v = malloc(len + 1);

	assert_non_null(v);
	for (size_t i = 0; i < len; i++)
		v[i] = 'a' + (char)(i * 7 % 26);
	v[len] = '\0';
	return v;
}

/* GET / whose block adds :authority, then a 4000-byte x-big, to the client's table: from then
 * on 62 is x-big and 63 :authority. `path` (NULL: "/") lets the request be denied. */
static void raw_add_big(struct rig *r, uint32_t id, const char *big, const char *path)
{
	uint8_t *b = malloc(8192);
	size_t n = 0;

	assert_non_null(b);
	b[n++] = 0x82;
	b[n++] = 0x86;
	if (path) {
		b[n++] = 0x04; /* without indexing, name :path */
		n += hp_str(b + n, path, strlen(path));
	} else {
		b[n++] = HP_SLASH;
	}
	n += hp_add(b + n, ":authority", AUTHORITY);
	n += hp_add(b + n, "x-big", big);
	raw_frame(r, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, id, b, n);
	free(b);
}

/* GET / with :authority and `nbig` x-big, each a one-byte reference. */
static void raw_refs(struct rig *r, uint32_t id, size_t nbig)
{
	uint8_t b[64] = {HP_GET_HTTP, HP_SLASH, HP_REF(63)};
	size_t n = 4;

	assert_true(nbig <= sizeof(b) - n);
	memset(b + n, HP_REF(62), nbig);
	n += nbig;
	raw_frame(r, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, id, b, n);
}

/* HPACK amplification: the client adds a 4000-byte field to its table once and refers to it
 * with one byte in request after request. Each reaches the pod whole, and the bytes toward the
 * pod stay about what the client sent, since the filter's encoder keeps its own reference (a
 * table-less re-encoder wrote 4000 bytes per request). Also when the block that added it was
 * denied, so the pod never saw it. */
static void test_hpack_amplification(void **state)
{
	size_t chunk = state_chunk(state), nreq = chunk == 1 ? 60 : 400, i, pass;
	char *big = big_value(4000);

	for (pass = 0; pass < 2; pass++) {
		struct rig *r = raw_open(chunk, NULL, 0);

		r->big_expect = big;
		raw_add_big(r, 1, big, pass ? "/deny" : NULL);
		for (i = 0; i < nreq; i++)
			raw_refs(r, 3 + 2 * i, 1);
		pump(r);
		assert_int_equal(r->nss, nreq + !pass);
		for (i = 0; i < r->nss; i++) {
			assert_int_equal(r->ss[i].nbig, 1);
			assert_true(r->ss[i].big_ok);
			assert_int_equal(raw_stream(r, r->ss[i].id)->status, 200);
		}
		fprintf(stderr, "# %zu requests: %zu bytes from the client, %zu to the pod\n",
			nreq + 1, r->cl_bytes, r->up_bytes);
		assert_true(r->up_bytes <= 2 * r->cl_bytes + 1024);
		rig_close(r);
	}
	free(big);
}

/* A decoded header list over 60 KiB (RFC 9113 accounting: name + value + 32 a field) is refused
 * with 431 and never reaches the pod, however few bytes encoded it; one under passes, still as
 * references. A client that keeps at it loses the connection (ENHANCE_YOUR_CALM). */
static void test_header_list_limit(void **state)
{
	struct rig *r = raw_open(state_chunk(state), NULL, 0);
	char *big = big_value(4000);
	size_t i;

	r->big_expect = big;
	raw_add_big(r, 1, big, NULL);
	raw_refs(r, 3, 16); /* 16 * 4037 and the rest: 64770 bytes */
	raw_refs(r, 5, 15); /* 60733, under 61440 */
	pump(r);
	assert_int_equal(raw_stream(r, 3)->status, 431);
	assert_int_equal(raw_stream(r, 5)->status, 200);
	assert_int_equal(r->nss, 2);
	assert_int_equal(r->ss[1].nbig, 15);
	assert_true(r->ss[1].big_ok);
	assert_true(r->up_bytes <= 2 * r->cl_bytes + 1024);
	assert_int_equal(l7_h2_ops.counts(r->f)->bad, 1);
	for (i = 0; i < 7; i++) { /* 431s up to H2_MAX_OVERSIZED (8) */
		raw_refs(r, 7 + 2 * i, 20);
		pump(r);
		assert_int_equal(raw_stream(r, 7 + 2 * i)->status, 431);
	}
	raw_refs(r, 21, 20);
	pump_any(r);
	expect_goaway_code(r, NGHTTP2_ENHANCE_YOUR_CALM);
	assert_int_equal(r->nss, 2);
	rig_close(r);
	free(big);
}

/* The pod's SETTINGS_MAX_HEADER_LIST_SIZE, when below 60 KiB, is the limit. */
static void test_pod_max_header_list(void **state)
{
	nghttp2_settings_entry iv = {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 8192};
	struct rig *r = raw_open(state_chunk(state), &iv, 1);
	char *big = big_value(4000);

	r->big_expect = big;
	raw_add_big(r, 1, big, NULL); /* 4.2 KB */
	raw_refs(r, 3, 2);	      /* 8.2 KB */
	raw_refs(r, 5, 1);
	pump(r);
	assert_int_equal(raw_stream(r, 1)->status, 200);
	assert_int_equal(raw_stream(r, 3)->status, 431);
	assert_int_equal(raw_stream(r, 5)->status, 200);
	assert_int_equal(r->nss, 2);
	rig_close(r);
	free(big);
}

/* What no table can keep: a never-indexed field whose 4000-byte name the client took from an
 * entry it added in a denied block. That name can only go out literally, so skiffd ends the
 * connection (ENHANCE_YOUR_CALM) before the bytes toward the pod outgrow the client's by more
 * than twice plus 64 KiB. */
static void test_hpack_budget(void **state)
{
	struct rig *r = raw_open(state_chunk(state), NULL, 0);
	char *name = big_value(4000);
	uint8_t b[8192];
	size_t n = 0, i;

	b[n++] = 0x82;
	b[n++] = 0x86;
	b[n++] = 0x04; /* :path /deny, without indexing */
	n += hp_str(b + n, "/deny", 5);
	n += hp_add(b + n, ":authority", AUTHORITY);
	n += hp_add(b + n, name, "v");
	raw_frame(r, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1, b, n);
	for (i = 0; i < 200; i++) {
		n = 0;
		b[n++] = 0x82;
		b[n++] = 0x86;
		b[n++] = HP_SLASH;
		b[n++] = HP_REF(63);
		n += hp_int(b + n, 62, 4, 0x10); /* never indexed, name 62 */
		n += hp_str(b + n, "x", 1);
		raw_frame(r, NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM,
			  3 + 2 * i, b, n);
	}
	pump_any(r);
	expect_goaway_code(r, NGHTTP2_ENHANCE_YOUR_CALM);
	assert_true(r->nss > 0 && r->nss < 200);
	fprintf(stderr, "# %zu bytes from the client, %zu to the pod, %zu requests passed\n",
		r->cl_bytes, r->up_bytes, r->nss);
	assert_true(r->up_bytes <= 2 * r->cl_bytes + (64 << 10) + 1024);
	rig_close(r);
	free(name);
}

/* A header block is at most 64 CONTINUATIONs and 256 KiB: decoding one that never ends would
 * cost skiffd without end, even for a block it drops. */
static void test_continuation_bounds(void **state)
{
	static const uint8_t get = 0x82;
	uint8_t *gets = malloc(16384);
	struct rig *r = raw_open(state_chunk(state), NULL, 0);
	int i;

	raw_frame(r, NGHTTP2_HEADERS, 0, 1, &get, 1);
	for (i = 0; i < 65; i++) /* not empty: empty ones are a flood of their own, sooner */
		raw_frame(r, NGHTTP2_CONTINUATION, 0, 1, &get, 1);
	pump_any(r);
	expect_goaway_code(r, NGHTTP2_ENHANCE_YOUR_CALM);
	rig_close(r);

	assert_non_null(gets);
	memset(gets, 0x82, 16384); /* valid fields: the list is over its limit long before */
	r = raw_open(state_chunk(state), NULL, 0);
	raw_frame(r, NGHTTP2_HEADERS, 0, 1, gets, 16384);
	for (i = 0; i < 16; i++)
		raw_frame(r, NGHTTP2_CONTINUATION, 0, 1, gets, 16384);
	pump_any(r);
	expect_goaway_code(r, NGHTTP2_ENHANCE_YOUR_CALM);
	assert_int_equal(r->nss, 0);
	rig_close(r);
	free(gets);
}

/*
 * Rapid reset (CVE-2023-44487): requests the client opens and resets at once cost the pod a
 * request each and the client nothing. Once 500 requests have started, more than half of them
 * reset ends the connection with ENHANCE_YOUR_CALM; 600 requests that are answered do not.
 */
static void test_rapid_reset(void **state)
{
	static const uint8_t cancel[4] = {0, 0, 0, NGHTTP2_CANCEL};
	struct rig *r = raw_open(state_chunk(state), NULL, 0);
	uint32_t i;

	for (i = 0; i < 600 && !r->frc; i++) {
		raw_get(r, 2 * i + 1, "/a", NULL, 0);
		raw_frame(r, NGHTTP2_RST_STREAM, 0, 2 * i + 1, cancel, 4);
		if (i % 50 == 49)
			pump_any(r);
	}
	pump_any(r);
	expect_goaway_code(r, NGHTTP2_ENHANCE_YOUR_CALM);
	assert_true(l7_h2_ops.counts(r->f)->requests >= H2_RESET_MIN_STREAMS);
	assert_true(l7_h2_ops.counts(r->f)->requests <= H2_RESET_MIN_STREAMS + 1);
	rig_close(r);

	r = raw_open(state_chunk(state), NULL, 0);
	for (i = 0; i < 600; i++) {
		raw_get(r, 2 * i + 1, "/a", NULL, 0);
		if (i % 50 == 49)
			pump(r);
	}
	pump(r);
	assert_int_equal(raw_stream(r, 1199)->status, 200);
	rig_close(r);
}

/* PING and SETTINGS floods: each asks the pod for an answer. 1000 in a row pass; the 1001st with
 * no request or DATA in between ends the connection. A request in between starts the count
 * again. */
static void control_flood(size_t chunk, uint8_t type, size_t len)
{
	static const uint8_t payload[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct rig *r = raw_open(chunk, NULL, 0);

	/* pumped every 100: the pod's nghttp2 gives up on a peer owed 1000 answers */
	for (int i = 0; i < H2_MAX_CONTROL_RUN - 1; i++) { /* the client's SETTINGS was one */
		raw_frame(r, type, 0, 0, payload, len);
		if (i % 100 == 99)
			pump(r);
	}
	raw_get(r, 1, "/a", NULL, 0);
	for (int i = 0; i < H2_MAX_CONTROL_RUN; i++) {
		raw_frame(r, type, 0, 0, payload, len);
		if (i % 100 == 99)
			pump(r);
	}
	pump(r);
	assert_int_equal(raw_stream(r, 1)->status, 200);
	raw_frame(r, type, 0, 0, payload, len);
	pump_any(r);
	expect_goaway_code(r, NGHTTP2_ENHANCE_YOUR_CALM);
	rig_close(r);
}

static void test_ping_settings_floods(void **state)
{
	control_flood(state_chunk(state), NGHTTP2_PING, 8);
	control_flood(state_chunk(state), NGHTTP2_SETTINGS, 0);
}

/* Frames that carry nothing and end nothing: one passes, two in a row end the connection, as
 * Envoy's max_consecutive_inbound_frames_with_empty_payload (1) does. An empty DATA that ends
 * its stream is a request's end, not a flood. */
static void test_empty_frames(void **state)
{
	nghttp2_nv post[] = {NVS(":method", "POST"), NVS(":scheme", "http"),
			     NVS(":authority", AUTHORITY), NVS(":path", "/a")};
	struct rig *r = raw_open(state_chunk(state), NULL, 0);

	raw_headers(r, 1, 0, post, 4);
	raw_frame(r, NGHTTP2_DATA, 0, 1, NULL, 0);
	raw_frame(r, NGHTTP2_DATA, 0, 1, "x", 1);
	raw_frame(r, NGHTTP2_DATA, 0, 1, NULL, 0);
	raw_frame(r, NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1, NULL, 0);
	pump(r);
	assert_int_equal(raw_stream(r, 1)->status, 200);
	raw_headers(r, 3, 0, post, 4);
	raw_frame(r, NGHTTP2_DATA, 0, 3, NULL, 0);
	raw_frame(r, NGHTTP2_DATA, 0, 3, NULL, 0);
	pump_any(r);
	expect_goaway_code(r, NGHTTP2_ENHANCE_YOUR_CALM);
	rig_close(r);
}

/* The pod may offer a table larger than H2_TABLE_MAX: the client is told 4096, the most skiffd
 * mirrors, and requests still work both ways. */
static void test_pod_table_size_capped(void **state)
{
	nghttp2_settings_entry iv = {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, 65536};
	struct rig *r = rig_open(state_chunk(state), &iv, 1);
	struct cstream *c = request(r, "GET", "/a", 0, false, NULL);

	pump(r);
	expect_ok(c);
	assert_int_equal(
	    nghttp2_session_get_remote_settings(r->cli, NGHTTP2_SETTINGS_HEADER_TABLE_SIZE), 4096);
	rig_close(r);
}

/* ---- what is not HTTP/2 ---- */

static const uint8_t settings0[] = {0, 0, 0, NGHTTP2_SETTINGS, 0, 0, 0, 0, 0};

/* Feed `frames` after the preface (and an empty SETTINGS), in `chunk` pieces; return the rc. */
static int feed_raw(const uint8_t *frames, size_t len, size_t chunk, struct l7_buf *to_client)
{
	struct l7_filter *f = l7_h2_ops.open(&(struct l7_decider){0});
	struct l7_buf up = {0}, *cl = to_client;
	uint8_t in[256];
	size_t n = 0, off;
	int rc = 0;

	/* the pod's preface first: nothing may reach the client before it */
	assert_int_equal(l7_h2_ops.from_upstream(f, settings0, sizeof(settings0), cl, &up), 0);
	assert_int_equal(l7_buf_unread(cl), sizeof(settings0));

	memcpy(in, L7_H2_PREFACE, L7_H2_PREFACE_LEN);
	n += L7_H2_PREFACE_LEN;
	memcpy(in + n, settings0, sizeof(settings0));
	n += sizeof(settings0);
	if (len)
		memcpy(in + n, frames, len);
	n += len;
	for (off = 0; off < n && !rc; off += chunk)
		rc = l7_h2_ops.from_client(f, in + off, n - off < chunk ? n - off : chunk, &up, cl);
	if (rc) {
		assert_true(l7_h2_ops.done(f));
		assert_int_equal(l7_h2_ops.counts(f)->bad, 1);
	}
	l7_h2_ops.close(f);
	l7_buf_free(&up);
	return rc;
}

/* The last frame the client got is a GOAWAY(PROTOCOL_ERROR). */
static void expect_goaway(struct l7_buf *b)
{
	size_t n = l7_buf_unread(b);
	const uint8_t *p = b->data + b->off;

	assert_true(n >= 17);
	p += n - 17;
	assert_int_equal(p[3], NGHTTP2_GOAWAY);
	assert_int_equal(p[16], NGHTTP2_PROTOCOL_ERROR);
	l7_buf_free(b);
}

static void test_garbage_is_eproto(void **state)
{
	static const uint8_t continuation[] = {0, 0, 1, NGHTTP2_CONTINUATION, 4, 0, 0, 0, 1, 0x82};
	/* index 62 is the dynamic table's first entry, and the table is empty */
	static const uint8_t bad_hpack[] = {0, 0, 1, NGHTTP2_HEADERS, 5, 0, 0, 0, 1, 0xbe};
	static const uint8_t too_long[] = {0, 0x40, 1, NGHTTP2_DATA, 0, 0, 0, 0, 1}; /* 16385 */
	static const uint8_t headers_then_ping[] = {0, 0,
						    1, NGHTTP2_HEADERS,
						    0, 0,
						    0, 0,
						    1, 0x82,
						    0, 0,
						    8, NGHTTP2_PING,
						    0, 0,
						    0, 0,
						    0, 0,
						    0, 0,
						    0, 0,
						    0, 0,
						    0};
	static const uint8_t even_stream[] = {0, 0, 1, NGHTTP2_HEADERS, 5, 0, 0, 0, 2, 0x82};
	const char *http1 = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct l7_filter *f = l7_h2_ops.open(NULL);
	struct l7_buf up = {0}, cl = {0};
	size_t chunk = state_chunk(state);

	assert_int_equal(l7_h2_ops.from_client(f, (const uint8_t *)http1, strlen(http1), &up, &cl),
			 -EPROTO);
	assert_int_equal(l7_buf_unread(&up), 0);
	assert_true(l7_h2_ops.done(f));
	l7_h2_ops.close(f);
	l7_buf_free(&up);
	l7_buf_free(&cl);
	assert_int_equal(feed_raw(continuation, sizeof(continuation), chunk, &cl), -EPROTO);
	expect_goaway(&cl);
	assert_int_equal(feed_raw(bad_hpack, sizeof(bad_hpack), chunk, &cl), -EPROTO);
	expect_goaway(&cl);
	assert_int_equal(feed_raw(too_long, sizeof(too_long), chunk, &cl), -EPROTO);
	expect_goaway(&cl);
	assert_int_equal(feed_raw(headers_then_ping, sizeof(headers_then_ping), chunk, &cl),
			 -EPROTO);
	expect_goaway(&cl);
	assert_int_equal(feed_raw(even_stream, sizeof(even_stream), chunk, &cl), -EPROTO);
	expect_goaway(&cl);
	/* and what is well-formed passes */
	assert_int_equal(feed_raw(NULL, 0, chunk, &cl), 0);
	l7_buf_free(&cl);
}

/* The pod breaking the protocol is -EPROTO too: a CONTINUATION nobody started (after its
 * preface, and a first frame that is not its preface). */
static void test_pod_garbage_is_eproto(void **state)
{
	static const uint8_t continuation[] = {0, 0, 1, NGHTTP2_CONTINUATION, 4, 0, 0, 0, 1, 0x88};
	struct l7_filter *f = l7_h2_ops.open(NULL);
	struct l7_buf up = {0}, cl = {0};
	size_t chunk = state_chunk(state), off;
	int rc = 0;

	assert_int_equal(l7_h2_ops.from_upstream(f, settings0, sizeof(settings0), &cl, &up), 0);
	for (off = 0; off < sizeof(continuation) && !rc; off += chunk)
		rc = l7_h2_ops.from_upstream(
		    f, continuation + off,
		    sizeof(continuation) - off < chunk ? sizeof(continuation) - off : chunk, &cl,
		    &up);
	assert_int_equal(rc, -EPROTO);
	assert_true(l7_h2_ops.done(f));
	l7_h2_ops.close(f);
	f = l7_h2_ops.open(NULL);
	assert_int_equal(l7_h2_ops.from_upstream(f, continuation, sizeof(continuation), &cl, &up),
			 -EPROTO);
	l7_h2_ops.close(f);
	l7_buf_free(&up);
	l7_buf_free(&cl);
}

/* ---- through real sockets: skiffd's relay, curl and nghttpd ---- */

/* An nghttpd (h2c, serving a directory) and skiffd's proxy in front of it, deciding with an L7
 * filter for every connection. */
struct sock_rig {
	char dir[64];
	pid_t nghttpd;
	struct proxy *proxy;
	struct sockaddr_in pod;
	uint16_t proxy_port;
	int ndecided;
};

/* Every connection goes to the pod, as the kernel would have filed it. */
static int sock_orig(void *ctx, const struct skiff_punt_key *k, struct skiff_sock_origin *dst)
{
	struct sock_rig *s = ctx;

	(void)k;
	*dst = (struct skiff_sock_origin){.port = s->pod.sin_port, .family = SKIFF_AF_INET};
	dst->addr.v4 = s->pod.sin_addr.s_addr;
	return 0;
}

static bool sock_decide(void *ctx, struct authz_request *rq, char *why, size_t len)
{
	struct sock_rig *s = ctx;

	(void)why;
	(void)len;
	__atomic_add_fetch(&s->ndecided, 1, __ATOMIC_SEQ_CST);
	return !rq->path || strncmp(rq->path, "/deny", 5);
}

static enum proxy_verdict sock_authz(void *ctx, const char *principal,
				     const struct skiff_sock_origin *src,
				     const struct skiff_sock_origin *dst, struct proxy_l7 *l7)
{
	(void)principal;
	(void)src;
	(void)dst;
	*l7 = (struct proxy_l7){.d = {.decide = sock_decide, .ctx = ctx}};
	return PROXY_L7;
}

static bool port_open(const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

	rc = connect(fd, (const struct sockaddr *)sin, sizeof(*sin));
	close(fd);
	return rc == 0;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* nghttpd (nghttp2-server, `make deps`) on the pod's port: false when it does not listen. */
static bool nghttpd_start(struct sock_rig *s)
{
	char port[8];
	int i;

	snprintf(port, sizeof(port), "%u", ntohs(s->pod.sin_port));
	s->nghttpd = fork();
	if (s->nghttpd < 0)
		return false;
	if (!s->nghttpd) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 1);
		dup2(null, 2);
		execlp("nghttpd", "nghttpd", "--no-tls", "-a", "127.0.0.1", "-d", s->dir, port,
		       (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && !port_open(&s->pod); i++)
		usleep(10000);
	return port_open(&s->pod);
}

static const char *const sock_files[] = {"a", "b", "deny", "curl-out"};

static int sock_teardown(void **state)
{
	struct sock_rig *s = *state;
	char path[128];
	size_t i;

	if (!s)
		return 0;
	if (s->proxy)
		proxy_stop(s->proxy);
	if (s->nghttpd > 0) {
		kill(s->nghttpd, SIGTERM);
		waitpid(s->nghttpd, NULL, 0);
	}
	for (i = 0; s->dir[0] && i < sizeof(sock_files) / sizeof(*sock_files); i++) {
		snprintf(path, sizeof(path), "%s/%s", s->dir, sock_files[i]);
		unlink(path);
	}
	if (s->dir[0])
		rmdir(s->dir);
	free(s);
	*state = NULL;
	return 0;
}

/* Whatever fails here is cleaned up here: cmocka skips the teardown of a failed setup. */
static int sock_setup(void **state)
{
	struct sock_rig *s = calloc(1, sizeof(*s));
	struct proxy_opts o = {.addr4 = "127.0.0.1", .orig_dst = sock_orig, .authz = sock_authz};
	char dir[] = "/tmp/skiff-l7h2.XXXXXX";

	if (!s)
		return -1;
	*state = s;
	if (!mkdtemp(dir))
		goto fail;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	write_file(s->dir, "a", "page a\n");
	write_file(s->dir, "b", "page b\n");
	write_file(s->dir, "deny", "secret\n");
	s->pod = (struct sockaddr_in){.sin_family = AF_INET,
				      .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				      .sin_port = htons(free_port())};
	if (!nghttpd_start(s)) {
		fprintf(stderr, "# nghttpd --no-tls does not listen (is nghttp2-server installed? "
				"make deps)\n");
		goto fail;
	}
	o.port = s->proxy_port = free_port();
	o.ctx = s;
	if (proxy_start(&o, &s->proxy))
		goto fail;
	return 0;
fail:
	sock_teardown(state);
	return -1;
}

static char *slurp_dir(const struct sock_rig *s, const char *name)
{
	static char buf[256];
	char path[128];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int sock_connect(uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* Run the client session over `fd` until stream `c` is closed; the connection must stay up. */
static void sock_exchange(struct rig *r, int fd, struct cstream *c)
{
	time_t end = time(NULL) + 10;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	const uint8_t *data;
	uint8_t buf[16384];
	ssize_t n;

	while (!c->closed && time(NULL) < end) {
		while ((n = nghttp2_session_mem_send(r->cli, &data)) > 0)
			assert_int_equal(send(fd, data, n, MSG_NOSIGNAL), n);
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		assert_true(n > 0); /* skiffd kept the connection open */
		assert_int_equal(nghttp2_session_mem_recv(r->cli, buf, n), n);
	}
	assert_true(c->closed);
	assert_int_equal(r->cli_err, 0);
	assert_int_equal(r->goaways, 0);
}

/* curl, one request per connection: curl 7.88 (Debian 12) cannot reuse a prior-knowledge
 * connection at all (curl/curl#10634), so one connection is the test's own client's job. */
static void curl_get(struct sock_rig *s, const char *path, const char *want)
{
	char cmd[512], out[64], file[128];
	FILE *p;
	size_t n;

	snprintf(file, sizeof(file), "%s/curl-out", s->dir);
	snprintf(cmd, sizeof(cmd),
		 "curl -sS --http2-prior-knowledge --max-time 10 -o %s "
		 "-w '%%{http_code} %%{http_version}' http://127.0.0.1:%u/%s",
		 file, s->proxy_port, path);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	assert_int_equal(pclose(p), 0);
	assert_string_equal(out, want);
}

/* skiffd's relay between real sockets picks the h2c filter from the preface: 200, 403 and 200
 * again on one connection (an nghttp2 client), and curl's prior-knowledge requests. */
static void test_relay_one_connection(void **state)
{
	struct sock_rig *s = *state;
	struct rig *r = calloc(1, sizeof(*r));
	struct cstream *a, *d, *b;
	int fd;

	assert_non_null(r);
	r->cli = session_new(r, false);
	assert_int_equal(nghttp2_submit_settings(r->cli, NGHTTP2_FLAG_NONE, NULL, 0), 0);
	fd = sock_connect(s->proxy_port);
	/* the h2c pod greets first (its SETTINGS) and the client's preface comes late: the relay
	 * must hold the pod's bytes until the preface chooses the filter, not take the connection
	 * for something other than HTTP and decide it once at L4 */
	usleep(300 * 1000);
	a = request(r, "GET", "/a", 0, false, NULL);
	sock_exchange(r, fd, a);
	d = request(r, "GET", "/deny", 0, false, NULL);
	sock_exchange(r, fd, d);
	b = request(r, "GET", "/b", 0, false, NULL);
	sock_exchange(r, fd, b);
	expect_ok(a);
	assert_string_equal(a->body, "page a\n");
	expect_denied(d);
	expect_ok(b);
	assert_string_equal(b->body, "page b\n");
	assert_int_equal(__atomic_load_n(&s->ndecided, __ATOMIC_SEQ_CST), 3);
	close(fd);
	nghttp2_session_del(r->cli);
	free(r);

	curl_get(s, "a", "200 2");
	assert_string_equal(slurp_dir(s, "curl-out"), "page a\n");
	curl_get(s, "deny", "403 2");
	assert_string_equal(slurp_dir(s, "curl-out"), L7_DENY_BODY);
	assert_int_equal(__atomic_load_n(&s->ndecided, __ATOMIC_SEQ_CST), 5);
}

/* Each case whole, then one byte at a time. */
#define BOTH(fn)                                                                                   \
	cmocka_unit_test(fn),                                                                      \
	{                                                                                          \
#fn "_bytewise", fn, NULL, NULL, &one                                              \
	}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    BOTH(test_allowed_get),
	    BOTH(test_denied_get_interleaved),
	    BOTH(test_hpack_dynamic_table),
	    BOTH(test_large_header_block),
	    BOTH(test_denied_posts_return_window),
	    BOTH(test_trailers),
	    BOTH(test_decider_sees_request),
	    BOTH(test_stream_hooks),
	    BOTH(test_stream_cut_short),
	    BOTH(test_malformed_request_refused),
	    BOTH(test_priority_on_idle_stream),
	    BOTH(test_pod_data_waits_for_client_window),
	    BOTH(test_answers_between_pod_frames),
	    BOTH(test_path_normalised),
	    BOTH(test_one_authority),
	    BOTH(test_connect_refused),
	    BOTH(test_malformed_refused),
	    BOTH(test_headers_on_closed_streams),
	    BOTH(test_pod_reset_stream),
	    BOTH(test_trailers_checked),
	    BOTH(test_hpack_amplification),
	    BOTH(test_header_list_limit),
	    BOTH(test_pod_max_header_list),
	    BOTH(test_hpack_budget),
	    BOTH(test_continuation_bounds),
	    BOTH(test_rapid_reset),
	    BOTH(test_ping_settings_floods),
	    BOTH(test_empty_frames),
	    BOTH(test_pod_table_size_capped),
	    BOTH(test_garbage_is_eproto),
	    BOTH(test_pod_garbage_is_eproto),
	    cmocka_unit_test_setup_teardown(test_relay_one_connection, sock_setup, sock_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
