// SPDX-License-Identifier: Apache-2.0
/*
 * An HBONE stream and its local socket: on the sending node the punted client, on the receiving
 * node the pod. Bytes read from the local socket wait in `up` until nghttp2 asks for them (the
 * data provider); bytes of DATA frames wait in `down` until the local socket takes them, and only
 * then are acknowledged to the peer. A FIN becomes END_STREAM and back; a reset either way resets
 * the other side.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/addr.h"
#include "hbone/hbone_internal.h"
#include "skiff/guard.h"

struct hb_stream *hb_stream_new(struct hb_conn *c, int local_fd)
{
	struct hb_stream *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->up.data = malloc(HB_UP_BUF);
	st->down.data = malloc(HBONE_STREAM_WINDOW);
	if (!st->up.data || !st->down.data) {
		free(st->up.data);
		free(st->down.data);
		free(st);
		return NULL;
	}
	st->conn = c;
	st->id = -1;
	st->active_ms = st->start_ms = c->p->now_ms;
	st->out_ready = true; /* a new socket has room; a short write() says otherwise */
	st->local = (struct proxy_ev){.kind = EV_HB_LOCAL, .fd = local_fd, .st = st};
	st->next = c->streams;
	c->streams = st;
	c->nstreams++;
	if (local_fd >= 0) {
		struct epoll_event ev = {.events = 0, .data.ptr = &st->local};

		epoll_ctl(c->p->epfd, EPOLL_CTL_ADD, local_fd, &ev);
	}
	return st;
}

/* The metrics' and access log's view of a stream that carries bytes: the client's side is the
 * local one on the client node, the peer's on the destination node. */
static void stream_view(const struct hb_stream *st, bool reset, struct proxy_stream_end *out)
{
	const struct hb_conn *c = st->conn;
	struct proxy_stream_end e = {
	    .server = c->server,
	    .mtls = true,
	    .src = &st->src,
	    .dst = &st->dst,
	    .src_id = c->server ? c->peer_id : c->src_id,
	    .dst_id = c->server ? "" : c->peer_id,
	    .bytes_up = c->server ? st->bytes_down : st->bytes_up,
	    .bytes_down = c->server ? st->bytes_up : st->bytes_down,
	    .duration_ms = c->p->now_ms - st->start_ms,
	    .reset = reset,
	};

	*out = e;
}

void hb_stream_opened(struct hb_stream *st)
{
	struct proxy *p = st->conn->p;
	struct proxy_stream_end e;

	if (!p->o.stream_open)
		return;
	stream_view(st, false, &e);
	e.bytes_up = e.bytes_down = e.duration_ms = 0;
	p->o.stream_open(p->o.ctx, &e);
}

void hb_stream_failed(struct hb_stream *st)
{
	struct proxy_stream_end e;

	stream_view(st, true, &e);
	proxy_report_failed(st->conn->p, &e);
}

void hb_stream_free(struct hb_stream *st, bool reset)
{
	struct hb_conn *c = st->conn;

	if (st->open && c->p->o.stream_end) {
		struct proxy_stream_end e;

		stream_view(st, reset, &e);
		c->p->o.stream_end(c->p->o.ctx, &e);
	}

	for (struct hb_stream **pp = &c->streams; *pp; pp = &(*pp)->next)
		if (*pp == st) {
			*pp = st->next;
			break;
		}
	c->nstreams--;
	if (!st->closed && st->id >= 0 && c->h2) {
		nghttp2_session_set_stream_user_data(c->h2, st->id, NULL);
		nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
	}
	proxy_close(c->p, st->local.fd, reset);
	free(st->up.data);
	free(st->down.data);
	hb_pipe_put(st->pipe); /* frames still queued from it hold their own reference */
	st->gone = true;
	proxy_defer_free(c->p, st);
}

bool hb_stream_down(struct hb_stream *st, const uint8_t *data, size_t len)
{
	struct hb_buf *b = &st->down;

	if (b->off + b->len + len > HBONE_STREAM_WINDOW) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	if (b->len + len > HBONE_STREAM_WINDOW)
		return false; /* more than the window we granted */
	memcpy(b->data + b->off + b->len, data, len);
	b->len += len;
	return true;
}

void hb_stream_take_up(struct hb_stream *st, uint8_t *out, size_t len)
{
	struct hb_buf *b = &st->up;

	memcpy(out, b->data + b->off, len);
	b->off += len;
	b->len -= len;
	if (!b->len)
		b->off = 0;
}

ssize_t hb_stream_read_cb(nghttp2_session *s, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
			  nghttp2_data_source *src, void *user)
{
	struct hb_stream *st = src->ptr;
	size_t n = st->up.len < len ? st->up.len : len;

	(void)s;
	(void)id;
	(void)buf;
	(void)user;
	if (n == st->up.len && st->local_eof) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		st->end_sent = true;
	} else if (!n) {
		return NGHTTP2_ERR_DEFERRED;
	}
	/* hb_tls_send_data writes the frame, its bytes taken from `up` there */
	*flags |= NGHTTP2_DATA_FLAG_NO_COPY;
	return (ssize_t)n;
}

/* local -> up: read what fits while the socket has bytes (a short read() drains it); a FIN ends
 * the stream once `up` drains. */
static int pump_up(struct hb_stream *st)
{
	struct hb_buf *b = &st->up;
	size_t room;
	ssize_t n;

	while (st->open && !st->local_eof && st->in_ready && b->len < HB_UP_BUF) {
		/* nghttp2 takes from the front as the windows allow: compact when the tail is short */
		if (b->off && HB_UP_BUF - b->off - b->len < HB_UP_BUF / 4) {
			memmove(b->data, b->data + b->off, b->len);
			b->off = 0;
		}
		room = HB_UP_BUF - b->off - b->len;
		n = read(st->local.fd, b->data + b->off + b->len, room);
		if (n > 0) {
			b->len += n;
			st->bytes_up += (uint64_t)n;
			st->in_ready = (size_t)n == room;
		} else if (n == 0) {
			st->local_eof = true;
		} else if (errno == EAGAIN) {
			st->in_ready = false;
			break;
		} else {
			return -errno;
		}
		nghttp2_session_resume_data(st->conn->h2, st->id);
	}
	return 0;
}

/* down -> local: write what the socket takes, acknowledge it to the peer. */
static int pump_down(struct hb_stream *st)
{
	struct hb_buf *b = &st->down;
	ssize_t n;

	while (b->len && st->out_ready) {
		n = write(st->local.fd, b->data + b->off, b->len);
		if (n < 0) {
			if (errno != EAGAIN)
				return -errno;
			st->out_ready = false;
			break;
		}
		st->out_ready = (size_t)n == b->len;
		st->bytes_down += (uint64_t)n;
		b->off += n;
		b->len -= n;
		if (!st->closed)
			nghttp2_session_consume(st->conn->h2, st->id, n);
	}
	if (b->len)
		return 0;
	b->off = 0;
	if (st->remote_eof && !st->local_shut) {
		shutdown(st->local.fd, SHUT_WR);
		st->local_shut = true;
	}
	return 0;
}

int hb_stream_pump(struct hb_stream *st)
{
	const struct hb_rec_ops *ops = st->conn->ops; /* NULL while the handshake runs */
	int err;

	if (st->local.fd < 0 || st->local_connecting)
		return 0;
	err = pump_down(st);
	if (err)
		return err;
	/* splice() where the kernel seals, unless sk_msg may redirect into the local socket */
	return ops && ops->splice && !st->local_fast ? hb_splice_up(st) : pump_up(st);
}

/* The local socket's epoll interest, changed only when it differs from what is armed. */
void hb_stream_rearm(struct hb_stream *st)
{
	struct epoll_event ev = {.data.ptr = &st->local};
	int epfd = st->conn->p->epfd;

	if (st->local.fd < 0 || st->ev_mask == HB_EV_GONE)
		return;
	/* a local socket shut both ways reports EPOLLHUP forever: it leaves epoll instead */
	if (st->local_eof && st->local_shut && !st->down.len) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, st->local.fd, NULL);
		st->ev_mask = HB_EV_GONE;
		return;
	}
	if (st->local_connecting)
		ev.events = EPOLLOUT;
	else {
		if (st->open && !st->local_eof &&
		    (st->pipe ? !st->pipe->stalled && st->pipe->len < HB_UP_BUF
			      : st->up.len < HB_UP_BUF))
			ev.events |= EPOLLIN;
		if (st->down.len && !st->out_ready)
			ev.events |= EPOLLOUT;
	}
	if (ev.events == st->ev_mask)
		return;
	st->ev_mask = ev.events;
	epoll_ctl(epfd, EPOLL_CTL_MOD, st->local.fd, &ev);
}

/* One line per inbound stream, like ztunnel's access log: who (the verified SPIFFE ID of the
 * client's certificate), to where, and what happened. */
void hb_access_log(const struct hb_conn *c, const struct hb_stream *st, const char *what)
{
	char dst[ADDR_ENDPOINT_MAX];

	addr_endpoint(&st->dst.addr, st->dst.family, ntohs(st->dst.port), dst, sizeof(dst));
	fprintf(stderr,
		"skiffd hbone: inbound src.principal=%s dst=%s stream=%d %s baggage=%s "
		"traceparent=%s\n",
		c->peer_id, dst, st->id, what, st->baggage[0] ? st->baggage : "-",
		st->trace[0] ? st->trace : "-");
}

/* Server side: the pod answered the connect() (or did not). */
static void dial_done(struct hb_stream *st)
{
	struct hb_conn *c = st->conn;
	socklen_t len = sizeof(int);
	int err = 0;

	st->local_connecting = false;
	st->out_ready = true;
	if (getsockopt(st->local.fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		proxy_dial_withdraw(c->p, &st->dial);
		c->p->stats.hbone_pod_failed++;
		hb_access_log(c, st, "pod refused");
		hb_session_respond(c, st, 503);
		return;
	}
	c->p->stats.hbone_in++;
	hb_access_log(c, st, "connected");
	hb_session_respond(c, st, 200);
}

void hbone_stream_event(struct hb_stream *st, uint32_t events)
{
	if (st->gone) /* closed earlier in this batch of events */
		return;
	st->active_ms = st->conn->p->now_ms;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		st->in_ready = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		st->out_ready = true;
	if (st->local_connecting)
		dial_done(st);
	else if (hb_stream_pump(st))
		st->local_reset = true;
	hb_conn_kick(st->conn);
}

int hb_stream_dial(struct hb_stream *st)
{
	struct sockaddr_storage ss;
	socklen_t len = proxy_sockaddr(&st->dst, &ss);
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = &st->local};
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	unsigned int mark = SKIFF_MARK_AGENT; /* the STRICT guard lets skiffd's SYNs in */

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
	proxy_nodelay(fd);
	proxy_reset_on_exit(fd);
	proxy_dial_file(st->conn->p, fd, &st->dst, &st->dial);
	if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		proxy_dial_withdraw(st->conn->p, &st->dial);
		close(fd);
		st->conn->p->stats.hbone_pod_failed++;
		return -ECONNREFUSED;
	}
	st->local.fd = fd;
	st->local_connecting = true;
	st->local_fast = st->conn->p->o.fast_hops; /* marked: the kernel may accelerate it */
	epoll_ctl(st->conn->p->epfd, EPOLL_CTL_ADD, fd, &ev);
	return 0;
}
