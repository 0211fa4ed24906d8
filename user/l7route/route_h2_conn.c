// SPDX-License-Identifier: Apache-2.0
/*
 * A client connection of the router that speaks HTTP/2, on its own thread: nghttp2, as the
 * server, reads the client's frames; each stream, once its request head is complete, goes to a
 * thread of its own (route_h2_stream.c) that routes and tries it. Request DATA is handed to that
 * thread as it comes, and the response's head, DATA and trailers come back as the thread gets
 * them, through an eventfd and the connection's ready list. Only this thread touches nghttp2's
 * state.
 *
 * Flow control is manual (NO_AUTO_WINDOW_UPDATE): the client's windows open again only for the
 * bytes a try has taken (l7r_h2_notify_locked reports them), so a slow endpoint stops the client
 * instead of filling the router. A response's DATA provider defers while the stream thread has
 * nothing new.
 *
 * Bounds: at most L7R_H2_MAX_STREAMS streams at once (SETTINGS_MAX_CONCURRENT_STREAMS; nghttp2
 * refuses more), a header list of H2_MAX_LIST, L7R_H2_STREAM_WINDOW of unsent request bytes per
 * stream and L7R_H2_CONN_WINDOW per connection, plus L7R_BODY_BUFFER per stream kept for
 * retries, and the h2c filter's flood rules (route_h2_limits.c). Draining says GOAWAY and ends
 * once the streams under way are answered.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "l7/l7_h2_limits.h"
#include "l7route/route_h2.h"
#include "l7route/route_workers.h"

bool l7r_is_h2(struct l7r_conn *c)
{
	while (l7_buf_unread(&c->in) < L7_H2_PREFACE_LEN) {
		size_t have = l7_buf_unread(&c->in);
		uint8_t buf[4096];
		ssize_t n;

		if (memcmp(l7_buf_head(&c->in), L7_H2_PREFACE, have))
			return false;
		n = l7r_read(c->fd, buf, sizeof(buf), l7r_deadline(30000));
		if (n <= 0 || l7_buf_put(&c->in, buf, (size_t)n))
			return false;
	}
	return !memcmp(l7_buf_head(&c->in), L7_H2_PREFACE, L7_H2_PREFACE_LEN);
}

void l7r_h2_poke(struct l7r_h2s *s)
{
	uint64_t one = 1;

	if (s->wfd >= 0)
		(void)!write(s->wfd, &one, sizeof(one));
}

void l7r_h2_cancel_locked(struct l7r_h2s *s)
{
	__atomic_store_n(&s->cancel, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&s->wake);
	l7r_h2_poke(s);
}

void l7r_h2_notify_locked(struct l7r_h2s *s)
{
	uint64_t one = 1;

	if (s->queued)
		return;
	s->queued = true;
	s->next = s->h->ready;
	s->h->ready = s;
	(void)!write(s->h->efd, &one, sizeof(one));
}

bool l7r_h2_wait(struct l7r_h2s *s, uint64_t deadline)
{
	struct l7r_h2 *h = s->h;
	struct timespec ts = {.tv_sec = (time_t)(deadline / 1000000000ull),
			      .tv_nsec = (long)(deadline % 1000000000ull)};
	bool cancelled;

	pthread_mutex_lock(&h->lock);
	while (!(cancelled = __atomic_load_n(&s->cancel, __ATOMIC_RELAXED)) &&
	       l7r_now_ns() < deadline) {
		if (deadline == L7R_NO_DEADLINE)
			pthread_cond_wait(&s->wake, &h->lock);
		else
			pthread_cond_timedwait(&s->wake, &h->lock, &ts);
	}
	pthread_mutex_unlock(&h->lock);
	return !cancelled;
}

static void stream_free(struct l7r_h2 *h, struct l7r_h2s *s)
{
	if (s->all_prev)
		s->all_prev->all_next = s->all_next;
	else
		h->all = s->all_next;
	if (s->all_next)
		s->all_next->all_prev = s->all_prev;
	free(s->method);
	free(s->path);
	free(s->authority);
	free(s->scheme);
	free(s->nva);
	l7r_h2_fields_free(&s->fields);
	l7_buf_free(&s->q.body);
	if (s->wfd >= 0)
		close(s->wfd);
	l7r_h2_resp_free(&s->rs);
	pthread_cond_destroy(&s->wake);
	free(s);
}

/* The stream is over: what happened to it, then it goes. */
static void stream_done(struct l7r_h2 *h, struct l7r_h2s *s, bool complete)
{
	struct l7r_conn *c = h->c;
	struct l7r_record *rec = &s->q.rec;

	if (rec->start_ns) {
		if (!complete || !s->answered)
			rec->flags |= L7R_F_DC;
		if (!s->answered)
			rec->code = 0;
		rec->duration_ns = l7r_now_ns() - rec->start_ns;
		rec->src_pod = c->src_pod;
		rec->dst_svc = s->q.dest && s->q.dest->target ? s->q.dest->target : c->sp->svc;
		rec->rq = &s->q.rq;
		rec->client = &c->client;
		rec->vip = &c->vip;
		rec->subset = s->q.dest && s->q.dest->dst ? s->q.dest->dst->subset : NULL;
		rec->dst_port = s->q.dest ? s->q.dest->port : c->sp->port->port;
		if (c->rt->o.record)
			c->rt->o.record(c->rt->o.ctx, c->sp, rec);
		l7r_trace_end(c, &s->q);
	}
	stream_free(h, s);
}

static struct l7r_h2s *stream_of(struct l7r_h2 *h, int32_t sid)
{
	return nghttp2_session_get_stream_user_data(h->s, sid);
}

static int on_begin_frame(nghttp2_session *ss, const nghttp2_frame_hd *hd, void *arg)
{
	(void)ss;
	return l7r_h2_frame_begin(arg, hd);
}

static int on_begin_headers(nghttp2_session *ss, const nghttp2_frame *f, void *arg)
{
	struct l7r_h2 *h = arg;
	struct l7r_h2s *s;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0; /* the client's trailers: not forwarded (the request was complete) */
	s = calloc(1, sizeof(*s));
	if (!s)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	s->h = h;
	s->sid = f->hd.stream_id;
	s->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_cond_init(&s->wake, &h->clock); /* CLOCK_MONOTONIC, as l7r_now_ns */
	s->q.rec.route = -1;
	s->q.rec.h2 = true;
	s->all_next = h->all;
	if (h->all)
		h->all->all_prev = s;
	h->all = s;
	h->requests++;
	nghttp2_session_set_stream_user_data(ss, s->sid, s);
	return 0;
}

static int pseudo(struct l7r_h2s *s, const char *name, const char *value, size_t vlen)
{
	char **to = !strcmp(name, ":method")	  ? &s->method
		    : !strcmp(name, ":path")	  ? &s->path
		    : !strcmp(name, ":authority") ? &s->authority
		    : !strcmp(name, ":scheme")	  ? &s->scheme
						  : NULL;

	if (!to || *to)
		return 0; /* nghttp2 has refused unknown and repeated pseudo-headers already */
	*to = strndup(value, vlen);
	return *to ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static int on_header(nghttp2_session *ss, const nghttp2_frame *f, const uint8_t *name, size_t nlen,
		     const uint8_t *value, size_t vlen, uint8_t flags, void *arg)
{
	struct l7r_h2s *s = stream_of(arg, f->hd.stream_id);

	(void)ss;
	(void)flags;
	if (!s || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	s->list_size += nlen + vlen + H2_FIELD_OVERHEAD;
	if (s->list_size > H2_MAX_LIST)
		s->oversized = true;
	if (s->oversized)
		return 0;
	if (nlen && name[0] == ':')
		return pseudo(s, (const char *)name, (const char *)value, vlen);
	return l7r_h2_fields_add(&s->fields, (const char *)name, nlen, (const char *)value, vlen)
		   ? NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE
		   : 0;
}

static int on_data(nghttp2_session *ss, uint8_t flags, int32_t sid, const uint8_t *data, size_t len,
		   void *arg)
{
	struct l7r_h2 *h = arg;
	struct l7r_h2s *s = stream_of(h, sid);
	int err = 0;

	(void)flags;
	if (!s)
		return 0;
	s->q.rec.request_bytes += len;
	pthread_mutex_lock(&h->lock);
	if (s->discard || !s->running) {
		/* answered, or never routed: granted back at once and dropped */
		s->in_total += len;
		s->in_taken = s->in_granted = s->in_total;
		pthread_mutex_unlock(&h->lock);
		return nghttp2_session_consume(ss, sid, len) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
	}
	err = l7_buf_put(&s->q.body, data, len);
	s->in_total += len;
	if (s->in_total > L7R_BODY_BUFFER)
		s->in_over = true;
	l7r_h2_poke(s);
	pthread_mutex_unlock(&h->lock);
	return err ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

/* The request ended: a try waiting for more sends END_STREAM. A head that ends the request
 * comes before its thread starts, which reads in_eof first: no wake-up to pay for. */
static void request_end(struct l7r_h2 *h, struct l7r_h2s *s)
{
	pthread_mutex_lock(&h->lock);
	s->in_eof = true;
	if (s->running)
		l7r_h2_poke(s);
	pthread_mutex_unlock(&h->lock);
}

/* The request head is complete: its thread routes it while the body comes. */
static void start(struct l7r_h2 *h, struct l7r_h2s *s)
{
	s->q.rec.start_ns = l7r_now_ns();
	s->q.rec.request_bytes += s->list_size;
	s->running = true;
	pthread_mutex_lock(&h->lock);
	h->running++;
	pthread_mutex_unlock(&h->lock);
	if (l7r_workers_run(h->c->rt->h2w, l7r_h2_stream_main, s)) {
		pthread_mutex_lock(&h->lock);
		h->running--;
		pthread_mutex_unlock(&h->lock);
		s->running = false;
		nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, s->sid, NGHTTP2_REFUSED_STREAM);
	}
}

static int on_frame_recv(nghttp2_session *ss, const nghttp2_frame *f, void *arg)
{
	struct l7r_h2 *h = arg;
	struct l7r_h2s *s = stream_of(h, f->hd.stream_id);

	(void)ss;
	if (f->hd.type == NGHTTP2_RST_STREAM && s && !s->answered)
		return l7r_h2_reset_counted(h);
	if (!s)
		return 0;
	/* the client's trailers end the request; they are not forwarded. A head that ends it
	 * says so before its thread starts: the try then sends no body at all. */
	if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
	    (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		request_end(h, s);
	if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST &&
	    !s->q.rec.start_ns)
		start(h, s);
	return 0;
}

static int on_close(nghttp2_session *ss, int32_t sid, uint32_t code, void *arg)
{
	struct l7r_h2 *h = arg;
	struct l7r_h2s *s = stream_of(h, sid);
	uint64_t owed;

	if (!s)
		return 0;
	s->closed = true;
	pthread_mutex_lock(&h->lock);
	l7r_h2_cancel_locked(s);
	/* what it received and no try took: the connection's window, else it shrinks for good */
	owed = s->in_total - s->in_granted;
	s->in_taken = s->in_granted = s->in_total;
	pthread_mutex_unlock(&h->lock);
	if (owed)
		nghttp2_session_consume_connection(ss, owed);
	if (!s->running) /* else its thread hands it back, and it ends then */
		stream_done(h, s, code == NGHTTP2_NO_ERROR);
	return 0;
}

/* The response's trailers after its last DATA (0), or END_STREAM on that DATA when it has
 * none or they cannot be submitted. */
static int submit_trailers(nghttp2_session *ss, struct l7r_h2s *s, uint32_t *flags)
{
	nghttp2_nv *t;

	*flags |= NGHTTP2_DATA_FLAG_EOF;
	if (!s->rs.trailers.n)
		return 0;
	t = calloc(s->rs.trailers.n, sizeof(*t));
	if (!t)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	for (size_t i = 0; i < s->rs.trailers.n; i++)
		t[i] = l7r_h2_nv(s->rs.trailers.v[i].name, s->rs.trailers.v[i].value);
	*flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
	if (nghttp2_submit_trailer(ss, s->sid, t, s->rs.trailers.n))
		*flags &= ~NGHTTP2_DATA_FLAG_NO_END_STREAM;
	free(t);
	return 0;
}

/* The response body as the stream thread gets it: deferred while there is nothing new (the
 * thread's news resumes it); each byte taken reopens the endpoint's window by as much. */
static ssize_t body_read(nghttp2_session *ss, int32_t sid, uint8_t *buf, size_t len,
			 uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	struct l7r_h2s *s = src->ptr;
	struct l7r_h2 *h = s->h;
	ssize_t rc;
	size_t left;

	(void)sid;
	(void)arg;
	pthread_mutex_lock(&h->lock);
	left = l7_buf_unread(&s->rs.body);
	if (len > left)
		len = left;
	if (len) {
		memcpy(buf, l7_buf_head(&s->rs.body), len);
		l7_buf_consume(&s->rs.body, len);
		s->out_taken += len;
		s->q.rec.response_bytes += len;
		if (!s->out_eof) /* the endpoint still sends: its window reopens by as much */
			l7r_h2_poke(s);
	}
	rc = (ssize_t)len;
	if (len == left && s->out_reset)
		rc = len ? rc : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM */
	else if (len == left && s->out_eof)
		rc = submit_trailers(ss, s, flags) ?: rc;
	else if (!len)
		rc = NGHTTP2_ERR_DEFERRED;
	pthread_mutex_unlock(&h->lock);
	return rc;
}

/* The stream thread's response head to the client; its body and trailers follow through
 * body_read. */
static void submit(struct l7r_h2 *h, struct l7r_h2s *s)
{
	nghttp2_data_provider dp = {.source.ptr = s, .read_callback = body_read};
	struct l7r_h2_resp *rs = &s->rs;
	size_t n = 0;
	bool bare;

	if (rs->status)
		s->nva = calloc(rs->fields.n + 1, sizeof(*s->nva));
	if (!s->nva) { /* no answer (the thread gave up as the client left), or no memory */
		nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, s->sid, NGHTTP2_INTERNAL_ERROR);
		return;
	}
	snprintf(s->status, sizeof(s->status), "%d", rs->status);
	s->nva[n++] = l7r_h2_nv(":status", s->status);
	for (size_t i = 0; i < rs->fields.n; i++) {
		s->nva[n++] = l7r_h2_nv(rs->fields.v[i].name, rs->fields.v[i].value);
		s->q.rec.response_bytes += s->nva[n - 1].namelen + s->nva[n - 1].valuelen;
	}
	pthread_mutex_lock(&h->lock);
	bare = s->out_eof && !s->out_reset && !l7_buf_unread(&rs->body) && !rs->trailers.n;
	pthread_mutex_unlock(&h->lock);
	if (nghttp2_submit_response(h->s, s->sid, s->nva, n, bare ? NULL : &dp)) {
		nghttp2_submit_rst_stream(h->s, NGHTTP2_FLAG_NONE, s->sid, NGHTTP2_INTERNAL_ERROR);
		return;
	}
	s->answered = true;
}

/* One stream's news: request bytes taken (the client's window reopened by as much), the response
 * head, more of its body or its end, the thread done. */
static void take_one(struct l7r_h2 *h, struct l7r_h2s *s)
{
	uint64_t grant;
	bool fin, head;

	pthread_mutex_lock(&h->lock);
	s->queued = false;
	fin = s->finished;
	head = s->head_ready;
	grant = s->in_taken - s->in_granted;
	s->in_granted = s->in_taken;
	pthread_mutex_unlock(&h->lock);
	if (fin)
		s->running = false;
	if (s->closed) {
		if (fin)
			stream_done(h, s, false);
		return;
	}
	if (grant)
		nghttp2_session_consume(h->s, s->sid, grant);
	if (s->answered)
		nghttp2_session_resume_data(h->s, s->sid);
	else if (head || fin)
		submit(h, s);
}

/* Streams the threads have news of. */
static void take_ready(struct l7r_h2 *h)
{
	struct l7r_h2s *s, *next;
	uint64_t v;

	(void)!read(h->efd, &v, sizeof(v));
	pthread_mutex_lock(&h->lock);
	s = h->ready;
	h->ready = NULL;
	pthread_mutex_unlock(&h->lock);
	for (; s; s = next) {
		next = s->next;
		take_one(h, s);
	}
}

static int h2_server_new(struct l7r_h2 *h)
{
	nghttp2_settings_entry set[] = {
	    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, L7R_H2_MAX_STREAMS},
	    {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, H2_MAX_LIST},
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, L7R_H2_STREAM_WINDOW},
	};
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	int rc;

	if (nghttp2_session_callbacks_new(&cb))
		return -ENOMEM;
	nghttp2_session_callbacks_set_on_begin_frame_callback(cb, on_begin_frame);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	if (nghttp2_option_new(&opt)) {
		nghttp2_session_callbacks_del(cb);
		return -ENOMEM;
	}
	/* windows reopen as the streams' tries take the bytes (take_one), not on receipt */
	nghttp2_option_set_no_auto_window_update(opt, 1);
	rc = nghttp2_session_server_new2(&h->s, cb, h, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	if (rc)
		return -ENOMEM;
	if (nghttp2_submit_settings(h->s, NGHTTP2_FLAG_NONE, set, 3) ||
	    nghttp2_session_set_local_window_size(h->s, NGHTTP2_FLAG_NONE, 0, L7R_H2_CONN_WINDOW))
		return -ENOMEM;
	return 0;
}

/* Everything nghttp2 has to say, to the client. */
static int flush(struct l7r_h2 *h)
{
	struct l7_buf b = {0};
	int err = l7r_h2_collect(h->s, &b);

	if (!err && b.len)
		err = l7r_write_all(h->c->fd, b.data, b.len, l7r_deadline(30000));
	l7_buf_free(&b);
	return err;
}

/* Read what the client sent (and what the stream threads finished) and answer, until the
 * connection is over. */
static void serve(struct l7r_h2 *h)
{
	struct l7r_conn *c = h->c;
	struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = h->efd, .events = POLLIN}};
	bool goaway = false;
	uint8_t buf[16384];

	if (nghttp2_session_mem_recv(h->s, l7_buf_head(&c->in), l7_buf_unread(&c->in)) < 0)
		return;
	l7_buf_consume(&c->in, l7_buf_unread(&c->in));
	for (;;) {
		if (!goaway && __atomic_load_n(&c->rt->draining, __ATOMIC_RELAXED)) {
			nghttp2_submit_goaway(h->s, NGHTTP2_FLAG_NONE,
					      nghttp2_session_get_last_proc_stream_id(h->s),
					      NGHTTP2_NO_ERROR, NULL, 0);
			goaway = true;
		}
		if (flush(h))
			return;
		if (!nghttp2_session_want_read(h->s) && !nghttp2_session_want_write(h->s))
			return;
		if (poll(p, 2, 200) < 0 && errno != EINTR)
			return;
		if (p[1].revents & POLLIN)
			take_ready(h);
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(c->fd, buf, sizeof(buf));

			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n <= 0 || nghttp2_session_mem_recv(h->s, buf, (size_t)n) < 0) {
				flush(h); /* a GOAWAY the limits asked for */
				return;
			}
		}
	}
}

void l7r_h2_serve(struct l7r_conn *c)
{
	struct l7r_h2 h = {.c = c};

	h.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&h.lock, NULL);
	pthread_cond_init(&h.idle, NULL);
	pthread_condattr_init(&h.clock);
	pthread_condattr_setclock(&h.clock, CLOCK_MONOTONIC);
	if (h.efd >= 0 && !h2_server_new(&h))
		serve(&h);
	/* the client left or broke the protocol: stop every stream thread, then free */
	pthread_mutex_lock(&h.lock);
	for (struct l7r_h2s *s = h.all; s; s = s->all_next)
		l7r_h2_cancel_locked(s);
	while (h.running)
		pthread_cond_wait(&h.idle, &h.lock);
	pthread_mutex_unlock(&h.lock);
	for (struct l7r_h2s *s = h.all, *next; s; s = next) {
		next = s->all_next; /* read first: stream_done frees s */
		stream_done(&h, s, false);
	}
	nghttp2_session_del(h.s);
	if (h.efd >= 0)
		close(h.efd);
	pthread_mutex_destroy(&h.lock);
	pthread_cond_destroy(&h.idle);
	pthread_condattr_destroy(&h.clock);
}
