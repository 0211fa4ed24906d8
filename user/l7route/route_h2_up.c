// SPDX-License-Identifier: Apache-2.0
/*
 * One try of an HTTP/2 request to an endpoint: nghttp2 as the client, one request at a time per
 * connection, on the stream's thread. The request body goes up as the client sends it (a DATA
 * provider that defers while the stream has nothing new, woken by the stream's eventfd); the try
 * is judged on the final response head, and a response that is taken goes on streaming to the
 * client (l7r_h2_rest), its DATA into the stream for the connection thread. The endpoint's
 * window reopens only for bytes the client has had (NO_AUTO_WINDOW_UPDATE), so a slow client
 * stops the endpoint instead of filling the router. A connection that served its request
 * cleanly goes back to a small per-endpoint pool; anything else (a reset, a timeout, a GOAWAY)
 * closes it, so a pooled connection never has a stream under way. An endpoint on another node is reached over
 * its own HBONE stream, as HTTP/1.1 does, and that connection is never pooled: it carries one
 * client's identity.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "l7route/route_h2.h"

struct l7r_h2_up {
	struct skiff_sock_origin ep;
	int fd;
	nghttp2_session *s;
	bool tunnel; /* an HBONE stream: never pooled */
	/* the request under way: its body from `body` (whole), or from stream `st` as it comes */
	int32_t sid;
	struct l7r_h2_resp *rs;
	const struct l7_buf *body;
	struct l7r_h2s *st;
	uint64_t body_off; /* of the request body, sent */
	bool deferred;	   /* the body provider waits for more of the client's */
	bool committed;	   /* the head went to the client: DATA goes there too */
	uint64_t unacked;  /* DATA received, not yet given back as window */
	uint64_t acked;	   /* of st->out_taken, given back */
	bool any;	   /* a frame of the stream arrived */
	bool final;	   /* the final (non-1xx) response head arrived */
	bool done;	   /* the stream closed */
	uint32_t code;	   /* its RST_STREAM / GOAWAY error code */
	bool too_large;	   /* the body passed L7R_H2_BODY_MAX */
	struct l7r_h2_up *next;
};

struct l7r_h2_pool {
	pthread_mutex_t lock;
	struct l7r_h2_up *idle;
};

static bool same_ep(const struct skiff_sock_origin *a, const struct skiff_sock_origin *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(&a->addr, &b->addr, sizeof(a->addr));
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
	struct l7r_h2_up *u = arg;

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
	struct l7r_h2_up *u = arg;

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
	struct l7r_h2_up *u = arg;

	(void)s;
	if (f->hd.type == NGHTTP2_HEADERS && f->hd.stream_id == u->sid && u->rs->status >= 200)
		u->final = true;
	return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data, size_t len,
		   void *arg)
{
	struct l7r_h2_up *u = arg;
	int err;

	(void)flags;
	if (sid != u->sid) /* not ours: given back at once */
		return nghttp2_session_consume(s, sid, len) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
	if (!u->st) { /* a mirror's: read whole, bounded, window given back at once */
		if (u->rs->body.len + len > L7R_H2_BODY_MAX) {
			u->too_large = true;
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
		}
		if (nghttp2_session_consume(s, sid, len))
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		return l7_buf_put(&u->rs->body, data, len) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
	}
	/* the window reopens as the client takes it (give_back) */
	u->unacked += len;
	pthread_mutex_lock(&u->st->h->lock);
	err = l7_buf_put(&u->rs->body, data, len);
	if (u->committed)
		l7r_h2_notify_locked(u->st);
	pthread_mutex_unlock(&u->st->h->lock);
	return err ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

static int on_close(nghttp2_session *s, int32_t sid, uint32_t code, void *arg)
{
	struct l7r_h2_up *u = arg;

	(void)s;
	if (sid == u->sid) {
		u->done = true;
		u->code = code;
	}
	return 0;
}

/* A whole body (a mirror's). */
static ssize_t body_whole(struct l7r_h2_up *u, uint8_t *buf, size_t len, uint32_t *flags)
{
	size_t left = u->body->len - (size_t)u->body_off;

	if (len > left)
		len = left;
	memcpy(buf, u->body->data + u->body_off, len);
	u->body_off += len;
	if (u->body_off == u->body->len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)len;
}

/* The stream's body as the client sends it; what is taken past the retry buffer is let go. */
static ssize_t body_stream(struct l7r_h2_up *u, uint8_t *buf, size_t len, uint32_t *flags)
{
	struct l7r_h2s *st = u->st;
	size_t left;

	pthread_mutex_lock(&st->h->lock);
	left = (size_t)(st->in_total - u->body_off);
	if (len > left)
		len = left;
	/* a retry starts at 0, and is made only while the buffer still starts there */
	memcpy(buf, l7_buf_head(&st->q.body) + (u->body_off - st->in_base), len);
	u->body_off += len;
	if (u->body_off > st->in_taken) {
		st->in_taken = u->body_off;
		l7r_h2_notify_locked(st);
	}
	if (st->in_over) {
		l7_buf_consume(&st->q.body, (size_t)(u->body_off - st->in_base));
		st->in_base = u->body_off;
	}
	u->deferred = !len && !st->in_eof;
	if (u->body_off == st->in_total && st->in_eof)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	pthread_mutex_unlock(&st->h->lock);
	return u->deferred ? NGHTTP2_ERR_DEFERRED : (ssize_t)len;
}

static ssize_t body_read(nghttp2_session *s, int32_t sid, uint8_t *buf, size_t len, uint32_t *flags,
			 nghttp2_data_source *src, void *arg)
{
	struct l7r_h2_up *u = arg;

	(void)s;
	(void)sid;
	(void)src;
	return u->st ? body_stream(u, buf, len, flags) : body_whole(u, buf, len, flags);
}

static void up_close(struct l7r_h2_up *u)
{
	if (!u)
		return;
	nghttp2_session_del(u->s);
	close(u->fd);
	free(u);
}

static struct l7r_h2_up *up_new(int fd, const struct skiff_sock_origin *ep)
{
	nghttp2_settings_entry set[] = {
	    {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, L7R_H2_STREAM_WINDOW}};
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt = NULL;
	struct l7r_h2_up *u = calloc(1, sizeof(*u));
	int rc;

	if (!u || nghttp2_option_new(&opt) || nghttp2_session_callbacks_new(&cb)) {
		nghttp2_option_del(opt);
		free(u);
		close(fd);
		return NULL;
	}
	/* the window reopens as the client takes the bytes (give_back) */
	nghttp2_option_set_no_auto_window_update(opt, 1);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	u->fd = fd;
	u->ep = *ep;
	rc = nghttp2_session_client_new2(&u->s, cb, u, opt);
	nghttp2_session_callbacks_del(cb);
	nghttp2_option_del(opt);
	if (rc || nghttp2_submit_settings(u->s, NGHTTP2_FLAG_NONE, set, 2) ||
	    nghttp2_session_set_local_window_size(u->s, NGHTTP2_FLAG_NONE, 0,
						  L7R_H2_STREAM_WINDOW)) {
		up_close(u);
		return NULL;
	}
	return u;
}

/* What an idle connection has received since its last request (a GOAWAY, a PING, EOF): still
 * usable? */
static bool up_alive(struct l7r_h2_up *u)
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

/* An idle connection to `ep`. One the endpoint closed meanwhile shows as a close or a refusal
 * before any response frame and is redialled then (l7r_h2_try); `check` reads what came while
 * it idled first, for a request that could not be sent again. */
static struct l7r_h2_up *pool_get(struct l7r_h2_pool *p, const struct skiff_sock_origin *ep,
				  bool check)
{
	struct l7r_h2_up **pp, *u = NULL;

	pthread_mutex_lock(&p->lock);
	for (pp = &p->idle; *pp; pp = &(*pp)->next)
		if (same_ep(&(*pp)->ep, ep)) {
			u = *pp;
			*pp = u->next;
			break;
		}
	pthread_mutex_unlock(&p->lock);
	if (u && check && !up_alive(u)) {
		up_close(u);
		return NULL;
	}
	return u;
}

static void pool_put(struct l7r_h2_pool *p, struct l7r_h2_up *u)
{
	size_t n = 0;

	pthread_mutex_lock(&p->lock);
	for (struct l7r_h2_up *i = p->idle; i; i = i->next)
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
		struct l7r_h2_up *u = p->idle;

		p->idle = u->next;
		up_close(u);
	}
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* The client took response bytes: the endpoint's window reopens by as much. */
static void give_back(struct l7r_h2_up *u)
{
	uint64_t taken;

	pthread_mutex_lock(&u->st->h->lock);
	taken = u->st->out_taken;
	pthread_mutex_unlock(&u->st->h->lock);
	if (taken > u->acked && u->unacked) {
		uint64_t n = taken - u->acked < u->unacked ? taken - u->acked : u->unacked;

		if (u->done)
			nghttp2_session_consume_connection(u->s, n);
		else
			nghttp2_session_consume(u->s, u->sid, n);
		u->unacked -= n;
	}
	u->acked = taken;
}

/* The stream's news: the client reset it (-ECONNRESET), more of its body, room in its window. */
static int stream_news(struct l7r_h2_up *u)
{
	uint64_t v;

	if (u->st->wfd >= 0)
		(void)!read(u->st->wfd, &v, sizeof(v));
	if (__atomic_load_n(&u->st->cancel, __ATOMIC_RELAXED))
		return -ECONNRESET;
	if (u->deferred) {
		u->deferred = false;
		nghttp2_session_resume_data(u->s, u->sid);
	}
	give_back(u);
	return 0;
}

/* Wait for the endpoint or the stream until `until`: 0, -ETIMEDOUT, -ECONNRESET (the client). */
static int up_wait(struct l7r_h2_up *u, uint64_t until)
{
	struct pollfd p[2] = {{.fd = u->fd, .events = POLLIN},
			      {.fd = u->st ? u->st->wfd : -1, .events = POLLIN}};
	uint64_t now = l7r_now_ns();
	int ms = until == L7R_NO_DEADLINE ? -1 : until <= now ? 0 : 60000;

	if (ms > 0 && until - now < 60000000000ull)
		ms = (int)((until - now + 999999) / 1000000);
	if (poll(p, 2, ms) < 0 && errno != EINTR)
		return -errno;
	if (u->st && ((p[1].revents & POLLIN) || __atomic_load_n(&u->st->cancel, __ATOMIC_RELAXED)))
		if (stream_news(u))
			return -ECONNRESET;
	return p[0].revents ? 0 : -ETIMEDOUT;
}

/* Write what nghttp2 has to send, then read, until the stream closes or (`head`) its final
 * response head arrived. */
static enum l7r_outcome exchange(struct l7r_h2_up *u, uint64_t dl, const int *cancel, bool head)
{
	uint64_t quiet =
	    l7r_now_ns(); /* the last byte either way: the stream idle timeout's start */
	uint8_t buf[16384];

	for (;;) {
		struct l7_buf b = {0};
		uint64_t until, idle_dl;
		ssize_t n;
		int err = l7r_h2_collect(u->s, &b);

		if (!err && b.len) {
			err = l7r_write_all(u->fd, b.data, b.len, dl);
			quiet = l7r_now_ns();
		}
		l7_buf_free(&b);
		if (err)
			return err == -ETIMEDOUT ? OUT_TRY_TIMEOUT : OUT_RESET;
		if (u->done || (head && u->final))
			break;
		if (!nghttp2_session_want_read(u->s))
			return OUT_RESET;
		/* a stream wakes us through its eventfd; a mirror's cancel is looked at now and then */
		idle_dl = quiet + l7r_stream_idle_ns();
		until = u->st ? dl : l7r_deadline(100);
		until = until < idle_dl ? until : idle_dl;
		err = up_wait(u, until < dl ? until : dl);
		if (err == -ECONNRESET)
			return OUT_CLIENT_GONE;
		if (err == -ETIMEDOUT) {
			if (l7r_now_ns() >= dl || l7r_now_ns() >= idle_dl)
				return OUT_TRY_TIMEOUT;
			if (__atomic_load_n(cancel, __ATOMIC_RELAXED))
				return OUT_CLIENT_GONE;
			continue;
		}
		if (err)
			return OUT_RESET;
		n = recv(u->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0 || nghttp2_session_mem_recv(u->s, buf, (size_t)n) < 0)
			return OUT_RESET;
		quiet = l7r_now_ns();
	}
	if (!u->done && u->final)
		return OUT_RESPONSE; /* the head: the rest follows */
	if (u->final && !u->code && !u->too_large)
		return OUT_RESPONSE;
	return u->code == NGHTTP2_REFUSED_STREAM ? OUT_REFUSED : OUT_RESET;
}

/* One request's part of a try: what goes out, until when, and where the response goes. */
struct h2_req {
	const nghttp2_nv *nva;
	size_t nvlen;
	const struct l7_buf *body; /* a whole body, or */
	struct l7r_h2s *st;	   /* the stream whose body comes as the client sends it */
	uint64_t dl;
	const int *cancel;
	struct l7r_h2_resp *rs;
};

/* The request, and its response up to the final head (a stream's) or whole (a mirror's). */
static enum l7r_outcome request(struct l7r_h2_up *u, const struct h2_req *r)
{
	nghttp2_data_provider dp = {.read_callback = body_read};
	bool body = r->st || r->body->len;

	u->rs = r->rs;
	u->body = r->body;
	u->st = r->st;
	u->body_off = 0;
	u->any = u->final = u->done = u->too_large = u->deferred = u->committed = false;
	u->code = 0;
	u->unacked = u->acked = 0;
	if (r->st) { /* a request with END_STREAM on its head has no body */
		pthread_mutex_lock(&r->st->h->lock);
		body = !r->st->in_eof || r->st->in_total;
		pthread_mutex_unlock(&r->st->h->lock);
	}
	u->sid = nghttp2_submit_request(u->s, NULL, r->nva, r->nvlen, body ? &dp : NULL, NULL);
	if (u->sid < 0)
		return OUT_RESET;
	return exchange(u, r->dl, r->cancel, r->st != NULL);
}

static bool reusable(const struct l7r_h2_up *u)
{
	/* its one stream is closed cleanly, every byte of it given back as window */
	return u->done && !u->code && !u->tunnel && nghttp2_session_want_read(u->s) &&
	       u->sid < (1 << 30);
}

/* The WINDOW_UPDATEs a pooled connection owes, sent before it idles. */
static int flush_now(struct l7r_h2_up *u)
{
	struct l7_buf b = {0};
	int err = l7r_h2_collect(u->s, &b);

	if (!err && b.len)
		err = l7r_write_all(u->fd, b.data, b.len, l7r_deadline(1000));
	l7_buf_free(&b);
	return err;
}

/* A try is over: the connection back to the pool when it is clean, else closed. */
static void up_release(struct l7r_conn *c, struct l7r_h2_up *u)
{
	if (u->unacked) { /* what the client never took, given back to the connection */
		nghttp2_session_consume_connection(u->s, u->unacked);
		u->unacked = 0;
	}
	if (reusable(u) && !flush_now(u))
		pool_put(c->rt->h2pool, u);
	else
		up_close(u);
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

enum l7r_outcome l7r_h2_once(struct l7route *rt, const struct skiff_punt_key *client,
			     const struct l7_endpoint *ep, const nghttp2_nv *nva, size_t nvlen,
			     const struct l7_buf *body, uint64_t dl, const int *cancel,
			     struct l7r_h2_resp *rs)
{
	const struct h2_req r = {nva, nvlen, body, NULL, dl, cancel, rs};
	int fd = h2_tunnel(rt, client, ep, NULL);
	struct l7r_h2_up *u;
	enum l7r_outcome o;

	if (fd == -ENOENT)
		fd = l7r_dial(&ep->addr, dl);
	u = fd < 0 ? NULL : up_new(fd, &ep->addr);
	if (!u)
		return OUT_CONNECT_FAIL;
	o = request(u, &r);
	up_close(u);
	return o;
}

/* The try's head is in: the response goes on (*open), or it is over. */
static enum l7r_outcome tried(struct l7r_conn *c, struct l7r_h2_up *u, enum l7r_outcome o,
			      struct l7r_h2_up **open)
{
	if (o == OUT_RESPONSE && !u->done) {
		*open = u;
		return o;
	}
	if (o == OUT_RESPONSE)
		up_release(c, u);
	else
		l7r_h2_drop(u); /* a client's cancel reaches the endpoint as RST_STREAM(CANCEL) */
	return o;
}

/* A connection for a try: an HBONE stream of its own, a pooled one, or a new one. NULL with
 * *o set when there is none. */
static struct l7r_h2_up *up_get(struct l7r_conn *c, const struct l7_endpoint *ep, uint64_t dl,
				bool *tunnel, const char *traceparent, bool pooled, bool check,
				enum l7r_outcome *o)
{
	uint64_t cdl = l7r_deadline(L7R_CONNECT_MS);
	struct l7r_h2_up *u = NULL;
	int fd;

	*o = OUT_CONNECT_FAIL;
	/* one CONNECT per try: it names the stream's span, the destination's parent */
	fd = h2_tunnel(c->rt, &c->client, ep, traceparent);
	*tunnel = fd != -ENOENT;
	if (!*tunnel && pooled)
		u = pool_get(c->rt->h2pool, &ep->addr, check);
	if (u)
		return u;
	if (!*tunnel)
		fd = l7r_dial(&ep->addr, dl < cdl ? dl : cdl);
	if (fd == -ETIMEDOUT && dl != L7R_NO_DEADLINE && l7r_now_ns() >= dl)
		*o = OUT_TRY_TIMEOUT;
	u = fd < 0 ? NULL : up_new(fd, &ep->addr);
	if (u)
		u->tunnel = *tunnel;
	return u;
}

enum l7r_outcome l7r_h2_try(struct l7r_conn *c, const struct l7_endpoint *ep, const nghttp2_nv *nva,
			    size_t nvlen, struct l7r_h2s *s, uint64_t dl, bool *tunnel,
			    const char *traceparent, struct l7r_h2_up **open)
{
	static const struct l7_buf none;
	const struct h2_req r = {nva, nvlen, &none, s, dl, &s->cancel, &s->rs};
	struct l7r_h2_up *u;
	enum l7r_outcome o;
	bool again, check;

	*open = NULL;
	/* a request whose body has not all come may pass the retry buffer and be unable to go
	 * again: its pooled connection is checked before use */
	pthread_mutex_lock(&s->h->lock);
	check = !s->in_eof;
	pthread_mutex_unlock(&s->h->lock);
	for (bool pooled = true;; pooled = false) {
		u = up_get(c, ep, dl, tunnel, traceparent, pooled, check, &o);
		if (!u)
			return o;
		o = request(u, &r);
		/* a pooled connection the endpoint was closing: redialled, not counted as a try,
		 * while the body is still held from its first byte */
		pthread_mutex_lock(&s->h->lock);
		again = (o == OUT_RESET || o == OUT_REFUSED) && pooled && !*tunnel && !u->any &&
			!s->in_base;
		pthread_mutex_unlock(&s->h->lock);
		if (!again)
			return tried(c, u, o, open);
		up_close(u);
		l7r_h2_resp_free(&s->rs);
	}
}

enum l7r_outcome l7r_h2_rest(struct l7r_conn *c, struct l7r_h2_up *u, uint64_t dl)
{
	enum l7r_outcome o;

	pthread_mutex_lock(&u->st->h->lock);
	u->committed = true;
	pthread_mutex_unlock(&u->st->h->lock);
	o = exchange(u, dl, &u->st->cancel, false);
	if (o == OUT_RESPONSE)
		up_release(c, u);
	else
		l7r_h2_drop(u);
	return o;
}

void l7r_h2_drop(struct l7r_h2_up *u)
{
	struct l7_buf b = {0};

	/* a reset said before the connection goes: an endpoint may count it (a cancel) */
	if (u && !u->done &&
	    nghttp2_submit_rst_stream(u->s, NGHTTP2_FLAG_NONE, u->sid, NGHTTP2_CANCEL) == 0 &&
	    !l7r_h2_collect(u->s, &b) && b.len)
		(void)!send(u->fd, b.data, b.len, MSG_DONTWAIT | MSG_NOSIGNAL);
	l7_buf_free(&b);
	up_close(u);
}
