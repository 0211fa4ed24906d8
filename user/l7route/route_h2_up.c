// SPDX-License-Identifier: Apache-2.0
/*
 * One try of an HTTP/2 request to an endpoint: nghttp2 as the client, over a blocking socket
 * with deadlines, one request at a time per connection, the whole response (head, body,
 * trailers) read before the try is judged. A connection that served its request cleanly goes
 * back to a small per-endpoint pool; anything else (a reset, a timeout, a GOAWAY) closes it, so
 * a pooled connection never has a stream under way. An endpoint on another node is reached over
 * its own HBONE stream, as HTTP/1.1 does, and that connection is never pooled: it carries one
 * client's identity.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "l7route/route_h2.h"

struct h2_up {
	struct skiff_sock_origin ep;
	int fd;
	nghttp2_session *s;
	/* the request under way */
	int32_t sid;
	struct l7r_h2_resp *rs;
	const struct l7_buf *body;
	size_t body_off;
	bool any;	/* a frame of the stream arrived */
	bool final;	/* the final (non-1xx) response head arrived */
	bool done;	/* the stream closed */
	uint32_t code;	/* its RST_STREAM / GOAWAY error code */
	bool too_large; /* the body passed L7R_H2_BODY_MAX */
	struct h2_up *next;
};

struct l7r_h2_pool {
	pthread_mutex_t lock;
	struct h2_up *idle;
};

static bool same_ep(const struct skiff_sock_origin *a, const struct skiff_sock_origin *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct h2_up *u = arg;

	(void)s;
	if (f->hd.stream_id != u->sid)
		return 0;
	u->any = true;
	if (!u->final) { /* a response head (a 1xx is followed by the final one) */
		l7r_h2_fields_free(&u->rs->fields);
		u->rs->status = 0;
	}
	return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
		     const uint8_t *value, size_t vlen, uint8_t flags, void *arg)
{
	struct h2_up *u = arg;

	(void)s;
	(void)flags;
	if (f->hd.type != NGHTTP2_HEADERS || f->hd.stream_id != u->sid)
		return 0;
	if (u->final)
		return l7r_h2_fields_add(&u->rs->trailers, (const char *)name, nlen,
					 (const char *)value, vlen)
			   ? NGHTTP2_ERR_CALLBACK_FAILURE
			   : 0;
	if (nlen == 7 && !memcmp(name, ":status", 7)) {
		u->rs->status = atoi((const char *)value);
		return 0;
	}
	if (nlen && name[0] == ':')
		return 0;
	return l7r_h2_fields_add(&u->rs->fields, (const char *)name, nlen, (const char *)value,
				 vlen)
		   ? NGHTTP2_ERR_CALLBACK_FAILURE
		   : 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct h2_up *u = arg;

	(void)s;
	if (f->hd.type == NGHTTP2_HEADERS && f->hd.stream_id == u->sid && u->rs->status >= 200)
		u->final = true;
	return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data, size_t len,
		   void *arg)
{
	struct h2_up *u = arg;

	(void)s;
	(void)flags;
	if (sid != u->sid)
		return 0;
	if (u->rs->body.len + len > L7R_H2_BODY_MAX) {
		u->too_large = true;
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
	}
	return l7_buf_put(&u->rs->body, data, len) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

static int on_close(nghttp2_session *s, int32_t sid, uint32_t code, void *arg)
{
	struct h2_up *u = arg;

	(void)s;
	if (sid == u->sid) {
		u->done = true;
		u->code = code;
	}
	return 0;
}

static ssize_t body_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len, uint32_t *flags,
			 nghttp2_data_source *src, void *arg)
{
	struct h2_up *u = arg;
	size_t left = u->body->len - u->body_off;

	(void)s;
	(void)sid;
	(void)src;
	if (len > left)
		len = left;
	memcpy(buf, u->body->data + u->body_off, len);
	u->body_off += len;
	if (u->body_off == u->body->len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)len;
}

static void up_close(struct h2_up *u)
{
	if (!u)
		return;
	nghttp2_session_del(u->s);
	close(u->fd);
	free(u);
}

static struct h2_up *up_new(int fd, const struct skiff_sock_origin *ep)
{
	nghttp2_settings_entry set[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
					{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
	nghttp2_session_callbacks *cb;
	struct h2_up *u = calloc(1, sizeof(*u));

	if (!u || nghttp2_session_callbacks_new(&cb)) {
		free(u);
		close(fd);
		return NULL;
	}
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	u->fd = fd;
	u->ep = *ep;
	if (nghttp2_session_client_new(&u->s, cb, u) ||
	    nghttp2_submit_settings(u->s, NGHTTP2_FLAG_NONE, set, 2)) {
		nghttp2_session_callbacks_del(cb);
		up_close(u);
		return NULL;
	}
	nghttp2_session_callbacks_del(cb);
	return u;
}

/* What an idle connection has received since its last request (a GOAWAY, a PING, EOF): still
 * usable? */
static bool up_alive(struct h2_up *u)
{
	uint8_t buf[4096];
	ssize_t n;

	while ((n = recv(u->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		if (nghttp2_session_mem_recv(u->s, buf, (size_t)n) < 0)
			return false;
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		return false;
	return nghttp2_session_want_read(u->s); /* false after a GOAWAY */
}

static struct h2_up *pool_get(struct l7r_h2_pool *p, const struct skiff_sock_origin *ep)
{
	struct h2_up **pp, *u = NULL;

	pthread_mutex_lock(&p->lock);
	for (pp = &p->idle; *pp; pp = &(*pp)->next)
		if (same_ep(&(*pp)->ep, ep)) {
			u = *pp;
			*pp = u->next;
			break;
		}
	pthread_mutex_unlock(&p->lock);
	if (u && !up_alive(u)) {
		up_close(u);
		return NULL;
	}
	return u;
}

static void pool_put(struct l7r_h2_pool *p, struct h2_up *u)
{
	size_t n = 0;

	pthread_mutex_lock(&p->lock);
	for (struct h2_up *i = p->idle; i; i = i->next)
		n += same_ep(&i->ep, &u->ep);
	if (n < L7R_H2_IDLE_PER_HOST) {
		u->next = p->idle;
		p->idle = u;
		u = NULL;
	}
	pthread_mutex_unlock(&p->lock);
	up_close(u);
}

struct l7r_h2_pool *l7r_h2_pool_new(void)
{
	struct l7r_h2_pool *p = calloc(1, sizeof(*p));

	if (p)
		pthread_mutex_init(&p->lock, NULL);
	return p;
}

void l7r_h2_pool_free(struct l7r_h2_pool *p)
{
	if (!p)
		return;
	while (p->idle) {
		struct h2_up *u = p->idle;

		p->idle = u->next;
		up_close(u);
	}
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* Write what nghttp2 has to send, then read until the stream closes. */
static enum l7r_outcome exchange(struct h2_up *u, uint64_t dl, const int *cancel)
{
	uint8_t buf[16384];

	for (;;) {
		struct l7_buf b = {0};
		uint64_t until;
		ssize_t n;
		int err = l7r_h2_collect(u->s, &b);

		if (!err && b.len)
			err = l7r_write_all(u->fd, b.data, b.len, dl);
		l7_buf_free(&b);
		if (err)
			return err == -ETIMEDOUT ? OUT_TRY_TIMEOUT : OUT_RESET;
		if (u->done)
			break;
		if (!nghttp2_session_want_read(u->s))
			return OUT_RESET;
		/* wake now and then to notice a client that reset its stream */
		until = l7r_deadline(100);
		n = l7r_read(u->fd, buf, sizeof(buf), until < dl ? until : dl);
		if (n == -ETIMEDOUT) {
			if (l7r_now_ns() >= dl)
				return OUT_TRY_TIMEOUT;
			if (__atomic_load_n(cancel, __ATOMIC_RELAXED))
				return OUT_CLIENT_GONE;
			continue;
		}
		if (n <= 0 || nghttp2_session_mem_recv(u->s, buf, (size_t)n) < 0)
			return OUT_RESET;
	}
	if (u->final && !u->code && !u->too_large)
		return OUT_RESPONSE;
	return u->code == NGHTTP2_REFUSED_STREAM ? OUT_REFUSED : OUT_RESET;
}

/* One request's part of a try: what goes out, until when, and where the response goes. */
struct h2_req {
	const nghttp2_nv *nva;
	size_t nvlen;
	const struct l7_buf *body;
	uint64_t dl;
	const int *cancel;
	struct l7r_h2_resp *rs;
};

static enum l7r_outcome request(struct h2_up *u, const struct h2_req *r)
{
	nghttp2_data_provider dp = {.read_callback = body_read};

	u->rs = r->rs;
	u->body = r->body;
	u->body_off = 0;
	u->any = u->final = u->done = u->too_large = false;
	u->code = 0;
	u->sid =
	    nghttp2_submit_request(u->s, NULL, r->nva, r->nvlen, r->body->len ? &dp : NULL, NULL);
	if (u->sid < 0)
		return OUT_RESET;
	return exchange(u, r->dl, r->cancel);
}

static bool reusable(const struct h2_up *u)
{
	/* its one stream is closed (exchange returned OUT_RESPONSE only then) */
	return nghttp2_session_want_read(u->s) && u->sid < (1 << 30);
}

/* The HBONE stream to `ep` with the client's identity when it is on another node and this
 * skiffd carries HBONE; -ENOENT when the endpoint is to be dialled directly. */
static int h2_tunnel(struct l7route *rt, const struct skiff_punt_key *client,
		     const struct l7_endpoint *ep, const char *traceparent)
{
	if (ep->local || !rt->o.tunnel)
		return -ENOENT;
	return rt->o.tunnel(rt->o.ctx, client, &ep->addr, traceparent);
}

/* One request on a connection of its own, closed after it: `fd` from h2_tunnel, or a direct
 * dial (bounded by `dial_dl`) when that is -ENOENT. Such a connection is never pooled. */
static enum l7r_outcome h2_dial_request(int fd, const struct l7_endpoint *ep, uint64_t dial_dl,
					const struct h2_req *r)
{
	struct h2_up *u;
	enum l7r_outcome o;

	if (fd == -ENOENT)
		fd = l7r_dial(&ep->addr, dial_dl);
	u = fd < 0 ? NULL : up_new(fd, &ep->addr);
	if (!u)
		return OUT_CONNECT_FAIL;
	o = request(u, r);
	up_close(u);
	return o;
}

enum l7r_outcome l7r_h2_once(struct l7route *rt, const struct skiff_punt_key *client,
			     const struct l7_endpoint *ep, const nghttp2_nv *nva, size_t nvlen,
			     const struct l7_buf *body, uint64_t dl, const int *cancel,
			     struct l7r_h2_resp *rs)
{
	const struct h2_req r = {nva, nvlen, body, dl, cancel, rs};

	return h2_dial_request(h2_tunnel(rt, client, ep, NULL), ep, dl, &r);
}

enum l7r_outcome l7r_h2_try(struct l7r_conn *c, const struct l7_endpoint *ep, const nghttp2_nv *nva,
			    size_t nvlen, const struct l7_buf *body, uint64_t dl, const int *cancel,
			    struct l7r_h2_resp *rs, bool *tunnel, const char *traceparent)
{
	const struct h2_req r = {nva, nvlen, body, dl, cancel, rs};
	uint64_t cdl = l7r_deadline(L7R_CONNECT_MS);
	struct h2_up *u = NULL;
	enum l7r_outcome o;
	bool reused, any;
	int fd;

	/* one CONNECT per try: it names the stream's span, the destination's parent */
	fd = h2_tunnel(c->rt, &c->client, ep, traceparent);
	*tunnel = fd != -ENOENT;
	if (*tunnel)
		return h2_dial_request(fd, ep, dl, &r);
	u = pool_get(c->rt->h2pool, &ep->addr);
	reused = u != NULL;
	for (;;) {
		if (!u) {
			fd = l7r_dial(&ep->addr, dl < cdl ? dl : cdl);
			if (fd == -ETIMEDOUT && dl != L7R_NO_DEADLINE && l7r_now_ns() >= dl)
				return OUT_TRY_TIMEOUT;
			u = fd < 0 ? NULL : up_new(fd, &ep->addr);
			if (!u)
				return OUT_CONNECT_FAIL;
		}
		o = request(u, &r);
		any = u->any;
		if (o == OUT_RESPONSE && reusable(u))
			pool_put(c->rt->h2pool, u);
		else
			up_close(u);
		/* a pooled connection the endpoint was closing: redialled, not counted as a try */
		if ((o != OUT_RESET && o != OUT_REFUSED) || !reused || any)
			return o;
		l7r_h2_resp_free(rs);
		u = NULL;
		reused = false;
	}
}
