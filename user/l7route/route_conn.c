// SPDX-License-Identifier: Apache-2.0
/*
 * A client connection of the router, on its own thread: read a request (head with the strict
 * parser of the L7 filter, then its body, kept up to L7R_BODY_BUFFER for retries), pick the
 * first route that matches, and answer locally (no route, redirect, directResponse, a fault's
 * abort) or forward (route_forward.c). Keep-alive until either side asks to close.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "l7route/route_conn.h"
#include "l7route/route_pick.h"

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "";
	}
}

int l7r_answer(struct l7r_conn *c, struct l7r_req *q, int status, const char *ctype,
	       const char *body, size_t len, const char *extra_fields)
{
	struct l7_buf out = {0};
	int err;

	err = l7_buf_printf(&out, "HTTP/1.1 %d %s\r\ncontent-length: %zu\r\n%s%s%s%s%s\r\n", status,
			    reason(status), len, ctype ? "content-type: " : "", ctype ? ctype : "",
			    ctype ? "\r\n" : "", extra_fields ? extra_fields : "",
			    c->close ? "connection: close\r\n" : "");
	if (!err && len && !(q->msg.method && !strcmp(q->msg.method, "HEAD")))
		err = l7_buf_put(&out, body, len);
	if (!err)
		err = l7r_write_all(c->fd, l7_buf_head(&out), l7_buf_unread(&out),
				    l7r_deadline(10000));
	q->rec.code = status;
	q->rec.response_bytes += l7_buf_unread(&out);
	l7_buf_free(&out);
	return err;
}

/* Client bytes into c->in; 0 at EOF. Called when none are buffered: on a keep-alive connection
 * the next request is rarely there right after a response, so it waits before it reads. */
static ssize_t fill(struct l7r_conn *c, uint64_t deadline)
{
	uint8_t buf[16384];
	ssize_t n = l7r_read_wait(c->fd, buf, sizeof(buf), deadline, -1);

	if (n > 0 && l7_buf_put(&c->in, buf, (size_t)n))
		return -ENOMEM;
	return n;
}

/* Feed buffered client bytes to the body parser, into `keep` (or drop them). 1: body done. */
static int body_take(struct l7r_conn *c, struct l7r_req *q, struct l7_buf *keep, size_t max)
{
	size_t avail = l7_buf_unread(&c->in), used = 0;
	int rc;

	if (avail > max)
		avail = max;
	rc = h1_body_feed(&q->bstate, l7_buf_head(&c->in), avail, &used);
	if (rc >= 0 && keep && l7_buf_put(keep, l7_buf_head(&c->in), used))
		rc = -ENOMEM;
	l7_buf_consume(&c->in, used);
	return rc;
}

/* The body as far as L7R_BODY_BUFFER: q->body_done when all of it fit. */
static int body_buffer(struct l7r_conn *c, struct l7r_req *q)
{
	int rc = 0;

	if (q->bstate.kind == H1_BODY_NONE) {
		q->body_done = true;
		return 0;
	}
	while (q->body.len < L7R_BODY_BUFFER) {
		if (l7_buf_unread(&c->in)) {
			rc = body_take(c, q, &q->body, L7R_BODY_BUFFER - q->body.len);
			if (rc != 0)
				break;
			continue;
		}
		rc = (int)fill(c, l7r_deadline(60000));
		if (rc <= 0)
			return rc ? rc : -ECONNRESET;
	}
	q->body_done = rc == 1;
	return rc < 0 ? rc : 0;
}

int l7r_body_rest(struct l7r_conn *c, struct l7r_req *q, int up_fd, uint64_t deadline)
{
	struct l7_buf chunk = {0};
	int rc = 0, err = 0;

	while (!q->body_done && !err) {
		if (!l7_buf_unread(&c->in)) {
			ssize_t n = fill(c, deadline);

			if (n <= 0)
				return n ? (int)n : -ECONNRESET;
		}
		rc = body_take(c, q, &chunk, SIZE_MAX);
		if (rc < 0)
			err = rc;
		else if (up_fd >= 0)
			err = l7r_write_all(up_fd, l7_buf_head(&chunk), l7_buf_unread(&chunk),
					    deadline);
		q->rec.request_bytes += l7_buf_unread(&chunk);
		l7_buf_consume(&chunk, l7_buf_unread(&chunk));
		q->body_done = rc == 1;
	}
	l7_buf_free(&chunk);
	return err;
}

/* A complete request head, parsed; 1 ok, 0 the client closed between requests, < 0 error. */
static int read_head(struct l7r_conn *c, struct l7r_req *q)
{
	for (;;) {
		size_t used = 0;
		int rc = l7_buf_unread(&c->in) ? h1_head_feed(&q->head, l7_buf_head(&c->in),
							      l7_buf_unread(&c->in), &used)
					       : 0;

		l7_buf_consume(&c->in, used);
		if (rc < 0)
			return rc;
		if (rc == 1)
			break;
		rc = (int)fill(c, L7R_NO_DEADLINE);
		if (rc <= 0)
			return q->head.size || rc < 0 ? -ECONNRESET : 0;
	}
	q->rec.start_ns = l7r_now_ns();
	return h1_parse_request(&q->head.raw, AUTHZ_PATH_BASE, &q->msg) ? -EPROTO : 1;
}

static void request_view(struct l7r_conn *c, struct l7r_req *q)
{
	q->rq.method = q->msg.method;
	q->rq.path = q->msg.path;
	q->rq.authority = q->msg.host;
	q->rq.scheme = "http";
	q->rq.headers = q->msg.fields;
	q->rq.nheaders = q->msg.nfields;
	q->rq.port = ntohs(c->vip.port);
	q->rq.src_pod = c->src_pod;
	/* draining: the answer to this request is the connection's last, so its client moves to
	 * the new skiffd between two requests, never during one */
	c->close = h1_msg_closes(&q->msg) || __atomic_load_n(&c->rt->draining, __ATOMIC_RELAXED);
	if (q->msg.te_chunked)
		h1_body_start(&q->bstate, H1_BODY_CHUNKED, 0);
	else if (q->msg.has_cl && q->msg.cl)
		h1_body_start(&q->bstate, H1_BODY_LENGTH, q->msg.cl);
	else
		h1_body_start(&q->bstate, H1_BODY_NONE, 0);
}

void l7r_note_match(struct l7r_req *q)
{
	const struct m_http_route *h = q->route->r->h;

	for (size_t i = 0; h && i < h->nmatches; i++)
		if (l7r_match_one(&h->matches[i], &q->rq)) {
			q->matched = &h->matches[i];
			return;
		}
}

void l7r_redirect_location(const struct l7r_req *q, const struct m_redirect *r, char *loc,
			   size_t len)
{
	char port[16] = "";
	const char *host = r->authority ? r->authority : q->rq.authority ? q->rq.authority : "";
	char hostonly[512];
	const char *colon;

	snprintf(hostonly, sizeof(hostonly), "%s", host);
	colon = strrchr(hostonly, ':');
	if (r->port_mode == M_REDIRECT_PORT_SET || r->port_mode == M_REDIRECT_FROM_PROTOCOL) {
		if (colon && !strchr(colon, ']'))
			hostonly[colon - hostonly] = '\0';
		if (r->port_mode == M_REDIRECT_PORT_SET)
			snprintf(port, sizeof(port), ":%u", r->port);
	}
	snprintf(loc, len, "%s://%s%s%s", r->scheme ? r->scheme : "http", hostonly, port,
		 r->uri ? r->uri : q->rq.path);
}

static int redirect(struct l7r_conn *c, struct l7r_req *q, const struct m_redirect *r)
{
	char loc[2048], fields[2100];

	l7r_redirect_location(q, r, loc, sizeof(loc));
	snprintf(fields, sizeof(fields), "location: %s\r\n", loc);
	return l7r_answer(c, q, r->code, NULL, "", 0, fields);
}

/* A fault's delay (DI) and abort (FI), each drawn with its percentage. 1: aborted. */
static int fault(struct l7r_conn *c, struct l7r_req *q, const struct m_fault *f)
{
	static const char body[] = L7R_BODY_FI;

	if (f->delay && l7r_rand01() * 100.0 < f->delay_pct) {
		q->rec.flags |= L7R_F_DI;
		if (l7r_wait(c->fd, l7r_deadline((uint64_t)f->delay_ms)))
			return -ECONNRESET;
	}
	if (f->abort && f->abort_status && l7r_rand01() * 100.0 < f->abort_pct) {
		q->rec.flags |= L7R_F_FI;
		return l7r_answer(c, q, f->abort_status, "text/plain", body, sizeof(body) - 1, NULL)
			   ?: 1;
	}
	return 0;
}

/* One request, head to the last byte of its answer. */
static int serve_one(struct l7r_conn *c, struct l7r_req *q)
{
	const struct m_http_route *h;
	int idx, err;

	request_view(c, q);
	l7r_trace_begin(c, q);
	if (q->msg.expect_continue && q->bstate.kind != H1_BODY_NONE &&
	    l7r_write_all(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, l7r_deadline(10000)))
		return -ECONNRESET;
	err = body_buffer(c, q);
	if (err)
		return err;
	idx = l7r_route_match(c->sp, &q->rq);
	q->rec.route = idx;
	if (idx < 0) {
		q->rec.flags |= L7R_F_NR;
		err = l7r_answer(c, q, 404, NULL, "", 0, NULL);
		return err ? err : l7r_body_rest(c, q, -1, l7r_deadline(60000));
	}
	q->route = &c->sp->routes[idx];
	l7r_note_match(q);
	h = q->route->r->h;
	if (h && h->redirect)
		return redirect(c, q, h->redirect) ?: l7r_body_rest(c, q, -1, l7r_deadline(60000));
	if (h && h->direct)
		return l7r_answer(c, q, h->direct->status, h->direct->body ? "text/plain" : NULL,
				  h->direct->body, h->direct->body_len, NULL)
			   ?: l7r_body_rest(c, q, -1, l7r_deadline(60000));
	if (h && h->fault) {
		err = fault(c, q, h->fault);
		if (err)
			return err < 0 ? err : l7r_body_rest(c, q, -1, l7r_deadline(60000));
	}
	l7r_mirror(c, q);
	return l7r_forward(c, q);
}

static void req_free(struct l7r_req *q)
{
	h1_msg_free(&q->msg);
	l7_buf_free(&q->head.raw);
	l7_buf_free(&q->body);
}

void l7r_conn_serve(struct l7r_conn *c)
{
	if (l7r_is_h2(c)) {
		l7r_h2_serve(c);
		return;
	}
	for (;;) {
		struct l7r_req q;
		int rc;

		memset(&q, 0, sizeof(q));
		q.rec.route = -1;
		rc = read_head(c, &q);
		if (rc == -EPROTO || rc == -E2BIG) {
			c->close = true;
			l7r_answer(c, &q, 400, NULL, "", 0, NULL);
		}
		if (rc == 1) {
			rc = serve_one(c, &q);
			if (rc && !q.rec.code)
				q.rec.flags |= L7R_F_DC;
			q.rec.duration_ns = l7r_now_ns() - q.rec.start_ns;
			/* the head and the buffered body; l7r_body_rest counted the rest */
			q.rec.request_bytes += q.head.size + q.body.len;
			q.rec.src_pod = c->src_pod;
			q.rec.dst_svc = q.dest && q.dest->target ? q.dest->target : c->sp->svc;
			q.rec.rq = &q.rq;
			q.rec.client = &c->client;
			q.rec.vip = &c->vip;
			q.rec.subset = q.dest && q.dest->dst ? q.dest->dst->subset : NULL;
			q.rec.dst_port = q.dest ? q.dest->port : c->sp->port->port;
			if (c->rt->o.record)
				c->rt->o.record(c->rt->o.ctx, c->sp, &q.rec);
			l7r_trace_end(c, &q);
		}
		req_free(&q);
		if (rc != 1 && rc != 0)
			break;
		if (rc == 0 && !q.rq.method)
			break; /* the client closed between requests */
		if (c->close)
			break;
	}
}
