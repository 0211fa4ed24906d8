// SPDX-License-Identifier: Apache-2.0
/*
 * Forwarding a request: tries to endpoints of the chosen destination until one gives an answer
 * the retry policy accepts or the policy is spent (Istio's default when the route sets none).
 * A retry goes to another endpoint where one exists. The route timeout bounds the whole exchange
 * (504, UT); a per-try timeout bounds each try and is retried. A pooled connection the endpoint
 * closed before it answered is redialled once without counting as a try: that is keep-alive's
 * race, not the endpoint's failure. Before each retry the router waits Envoy's jittered back-off
 * and takes one of the destination's maxRetries (none left: no retry, the last try's answer goes
 * to the client). The DestinationRule's connectionPool shapes each upstream connection: connect
 * timeout, TCP keepalive, requests per connection, idle time in the pool.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <sys/uio.h>

#include "common/addr.h"
#include "l7/upstream.h"
#include "l7route/route_conn.h"
#include "l7route/route_pick.h"


struct attempt {
	const struct l7_endpoint *ep;
	int fd;
	bool tunnel;	 /* an HBONE stream for this client: never pooled */
	uint32_t served; /* requests the connection carried before this one */
	struct l7r_up_opts uo;
	struct h1_head head;
	struct h1_msg rs;
	struct l7_buf rest; /* upstream bytes after the response head */
};

static void attempt_reset(struct attempt *a, bool close_fd)
{
	if (close_fd && a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	h1_msg_free(&a->rs);
	memset(&a->rs, 0, sizeof(a->rs));
	l7_buf_free(&a->head.raw);
	memset(&a->head, 0, sizeof(a->head));
	l7_buf_free(&a->rest);
}

/* The response head from a->fd; 1xx interim responses are skipped. The response is never there
 * yet when this starts, so each read waits first; the same poll watches the client, whose close
 * ends the try (Envoy's DC). */
static enum l7r_outcome read_response(struct l7r_conn *c, struct l7r_req *q, struct attempt *a,
				      uint64_t dl, bool *any)
{
	uint8_t buf[16384];

	for (;;) {
		ssize_t n = l7r_read_wait(a->fd, buf, sizeof(buf), dl, c->fd);
		size_t used = 0, off = 0;
		int rc;

		if (n == -ECANCELED)
			return OUT_CLIENT_GONE;
		if (n == -ETIMEDOUT)
			return OUT_TRY_TIMEOUT;
		if (n <= 0)
			return OUT_RESET;
		*any = true;
		while (off < (size_t)n) {
			rc = h1_head_feed(&a->head, buf + off, (size_t)n - off, &used);
			off += used;
			if (rc < 0)
				return OUT_RESET;
			if (rc == 0)
				break;
			if (h1_parse_response(&a->head.raw, &a->rs))
				return OUT_RESET;
			if (a->rs.status >= 200 || a->rs.status == 101) {
				q->rec.upstream_ns = l7r_now_ns() - q->rec.upstream_ns;
				return l7_buf_put(&a->rest, buf + off, (size_t)n - off)
					   ? OUT_RESET
					   : OUT_RESPONSE;
			}
			h1_msg_free(&a->rs); /* 1xx: the final one follows */
			memset(&a->rs, 0, sizeof(a->rs));
			l7_buf_free(&a->head.raw);
			memset(&a->head, 0, sizeof(a->head));
		}
	}
}

/* Send the request on a->fd (head and held body in one send) and read the response head. */
static enum l7r_outcome exchange(struct l7r_conn *c, struct l7r_req *q, struct attempt *a,
				 const struct l7_buf *head, uint64_t dl, bool *any)
{
	struct iovec iov[2] = {{(void *)l7_buf_head(head), l7_buf_unread(head)},
			       {q->body.data, q->body.len}};
	int err;

	q->rec.upstream_ns = l7r_now_ns();
	err = l7r_writev_all(a->fd, iov, q->body.len ? 2 : 1, dl);
	if (!err && !q->body_done)
		err = l7r_body_rest(c, q, a->fd, dl);
	if (err == -ETIMEDOUT)
		return OUT_TRY_TIMEOUT;
	if (err)
		return OUT_RESET;
	return read_response(c, q, a, dl, any);
}

static enum l7r_outcome try_once(struct l7r_conn *c, struct l7r_req *q, struct attempt *a,
				 const struct l7_buf *head, uint64_t dl)
{
	bool reused, any = false;
	enum l7r_outcome o;

	a->tunnel = false;
	if (!a->ep->local && c->rt->o.tunnel) {
		char tp[TRACE_PARENT_LEN];

		/* the stream's CONNECT names this request's span: the destination's parent */
		trace_format_traceparent(&q->trace, tp);
		a->fd = c->rt->o.tunnel(c->rt->o.ctx, &c->client, &a->ep->addr, tp);
		if (a->fd != -ENOENT) {
			a->tunnel = true;
			return a->fd < 0 ? OUT_CONNECT_FAIL : exchange(c, q, a, head, dl, &any);
		}
	}
	/* a request that can be sent again learns of a connection closed while idle from its
	 * first wait (redialled below); one whose body is not held whole checks it first */
	a->fd = l7r_pool_get(c->rt->pool, &a->ep->addr, &a->served, !q->body_done);
	reused = a->fd >= 0;
	for (;;) {
		uint64_t cdl = l7r_deadline(a->uo.connect_ms);

		if (a->fd < 0)
			a->fd = l7r_dial_ka(&a->ep->addr, dl < cdl ? dl : cdl, &a->uo.ka);
		if (a->fd == -ETIMEDOUT && dl != L7R_NO_DEADLINE && l7r_now_ns() >= dl)
			return OUT_TRY_TIMEOUT;
		if (a->fd < 0)
			return OUT_CONNECT_FAIL;
		o = exchange(c, q, a, head, dl, &any);
		if (o != OUT_RESET || !reused || any || !q->body_done)
			return o;
		attempt_reset(a, true); /* keep-alive race: the idle connection was closing */
		a->served = 0;
		reused = false;
	}
}

static bool has_code(const struct m_retries *r, int status)
{
	for (size_t i = 0; i < r->ncodes; i++)
		if (r->codes[i] == status)
			return true;
	return false;
}

/* gRPC status names Istio's retryOn accepts, from the grpc-status field. */
static bool grpc_retriable(const struct m_retries *r, const struct h1_msg *rs)
{
	const char *g = NULL;
	int code;

	for (size_t i = 0; i < rs->nfields && !g; i++)
		if (!strcasecmp(rs->fields[i].name, "grpc-status"))
			g = rs->fields[i].value;
	if (!g)
		return false;
	code = atoi(g);
	return (code == 1 && (r->on & M_RETRY_CANCELLED)) ||
	       (code == 4 && (r->on & M_RETRY_DEADLINE_EXCEEDED)) ||
	       (code == 8 && (r->on & M_RETRY_RESOURCE_EXHAUSTED)) ||
	       (code == 13 && (r->on & M_RETRY_INTERNAL)) ||
	       (code == 14 && (r->on & M_RETRY_UNAVAILABLE));
}

static bool header_is(const struct h1_msg *rs, const char *name)
{
	for (size_t i = 0; i < rs->nfields; i++)
		if (!strcasecmp(rs->fields[i].name, name))
			return true;
	return false;
}

bool l7r_retriable(const struct m_retries *r, enum l7r_outcome o, const struct h1_msg *rs)
{
	uint32_t on = r->on;
	int st = rs->status;

	switch (o) {
	case OUT_CONNECT_FAIL:
		return on & (M_RETRY_CONNECT_FAILURE | M_RETRY_5XX | M_RETRY_GATEWAY_ERROR |
			     M_RETRY_RESET | M_RETRY_RESET_BEFORE_REQUEST);
	case OUT_RESET:
		return on & (M_RETRY_RESET | M_RETRY_5XX | M_RETRY_GATEWAY_ERROR);
	case OUT_REFUSED:
		return on & (M_RETRY_REFUSED_STREAM | M_RETRY_RESET | M_RETRY_5XX);
	case OUT_TRY_TIMEOUT:
		return on & (M_RETRY_5XX | M_RETRY_GATEWAY_ERROR | M_RETRY_RESET);
	case OUT_RESPONSE:
		return ((on & M_RETRY_5XX) && st >= 500 && st <= 599) ||
		       ((on & M_RETRY_GATEWAY_ERROR) && st >= 502 && st <= 504) ||
		       ((on & M_RETRY_RETRIABLE_4XX) && st == 409) ||
		       ((on & M_RETRY_STATUS_CODES) && has_code(r, st)) ||
		       ((on & M_RETRY_ENVOY_RATELIMITED) && header_is(rs, "x-envoy-ratelimited")) ||
		       grpc_retriable(r, rs);
	default:
		return false;
	}
}

/* The response head `out` (when still unsent) and n bytes of the body to the client, in one
 * send. */
static int to_client(struct l7r_conn *c, struct l7_buf *out, const void *p, size_t n)
{
	struct iovec iov[2] = {{(void *)l7_buf_head(out), l7_buf_unread(out)}, {(void *)p, n}};
	int err = l7r_writev_all(c->fd, iov, 2, l7r_deadline(30000));

	l7_buf_consume(out, l7_buf_unread(out));
	return err;
}

/* How the response's body ends; *reusable: whether a->fd may carry another request after it. */
static void body_kind(struct l7r_conn *c, struct l7r_req *q, struct attempt *a, struct h1_body *b,
		      bool *reusable)
{
	*reusable = !h1_msg_closes(&a->rs);
	if (!strcmp(q->msg.method, "HEAD") || a->rs.status == 204 || a->rs.status == 304)
		h1_body_start(b, H1_BODY_NONE, 0);
	else if (a->rs.te_chunked)
		h1_body_start(b, H1_BODY_CHUNKED, 0);
	else if (a->rs.has_cl)
		h1_body_start(b, a->rs.cl ? H1_BODY_LENGTH : H1_BODY_NONE, a->rs.cl);
	else {
		h1_body_start(b, H1_BODY_CLOSE, 0);
		*reusable = false;
		c->close = true; /* the client learns the end by our close */
	}
}

/* The response head `out`, then its body from a->rest and a->fd, to the client: the head goes
 * with the body bytes that came with it, in one send. 0, or < 0 (the connection ends; DC when
 * the client left). */
static int relay_body(struct l7r_conn *c, struct l7r_req *q, struct attempt *a, uint64_t dl,
		      struct l7_buf *out, bool *reusable)
{
	struct h1_body b;
	uint8_t buf[16384];
	int rc = 0;

	body_kind(c, q, a, &b, reusable);
	if (b.kind == H1_BODY_NONE) {
		if (to_client(c, out, NULL, 0))
			goto gone;
		return 0;
	}
	for (;;) {
		size_t used = 0, have = l7_buf_unread(&a->rest);
		ssize_t n;

		if (have) {
			rc = b.kind == H1_BODY_CLOSE
				 ? 0
				 : h1_body_feed(&b, l7_buf_head(&a->rest), have, &used);
			if (b.kind == H1_BODY_CLOSE)
				used = have;
			if (rc < 0)
				return -ECONNRESET;
			if (to_client(c, out, l7_buf_head(&a->rest), used))
				goto gone;
			q->rec.response_bytes += used;
			l7_buf_consume(&a->rest, used);
			if (rc == 1)
				return 0;
			continue;
		}
		/* the head goes on its own before a wait for the body: a slow body is streamed */
		if (l7_buf_unread(out) && to_client(c, out, NULL, 0))
			goto gone;
		n = l7r_read_wait(a->fd, buf, sizeof(buf), dl, c->fd);
		if (n == -ECANCELED)
			goto gone;
		if (n == 0 && b.kind == H1_BODY_CLOSE)
			return 0;
		/* the head went out: the client keeps its code, the flag says why the body ended */
		if (n <= 0) {
			q->rec.flags |= n == -ETIMEDOUT ? L7R_F_UT : L7R_F_UC;
			return -ECONNRESET;
		}
		if (l7_buf_put(&a->rest, buf, (size_t)n))
			return -ENOMEM;
	}
gone:
	q->rec.flags |= L7R_F_DC; /* the endpoint's code stands, as in Envoy */
	return -ECONNRESET;
}

/* The response of a->fd to the client; its connection back to the pool when it may be reused. */
static int respond(struct l7r_conn *c, struct l7r_req *q, struct attempt *a, uint64_t dl)
{
	struct l7_buf out = {0};
	bool reusable = false;
	int err;

	err = l7r_response_head(c, q, &a->rs, &out);
	q->rec.code = a->rs.status;
	q->rec.response_bytes += l7_buf_unread(&out);
	if (!err)
		err = relay_body(c, q, a, dl, &out, &reusable);
	l7_buf_free(&out);
	a->served++;
	if (a->uo.max_requests_per_conn && a->served >= a->uo.max_requests_per_conn)
		reusable = false; /* maxRequestsPerConnection: closed below, a new one next time */
	if (!err && reusable && !a->tunnel && !l7_buf_unread(&a->rest)) {
		l7r_pool_put(c->rt->pool, &a->ep->addr, a->fd, a->served, a->uo.idle_ms);
		a->fd = -1;
	}
	return err;
}

static int fail(struct l7r_conn *c, struct l7r_req *q, enum l7r_outcome o)
{
	static const char uf[] = L7R_BODY_UF, uc[] = L7R_BODY_UC, ut[] = L7R_BODY_UT;

	switch (o) {
	case OUT_CONNECT_FAIL:
		q->rec.flags |= L7R_F_UF;
		return l7r_answer(c, q, 503, "text/plain", uf, sizeof(uf) - 1, NULL);
	case OUT_TIMEOUT:
	case OUT_TRY_TIMEOUT:
		q->rec.flags |= L7R_F_UT;
		return l7r_answer(c, q, 504, "text/plain", ut, sizeof(ut) - 1, NULL);
	case OUT_CLIENT_GONE:
		q->rec.flags |= L7R_F_DC;
		return -ECONNRESET;
	default:
		q->rec.flags |= L7R_F_UC;
		return l7r_answer(c, q, 503, "text/plain", uc, sizeof(uc) - 1, NULL);
	}
}

bool l7r_authorized(struct l7r_conn *c, struct l7r_req *q, const struct l7_endpoint *ep)
{
	struct skiff_sock_origin src = {
	    .addr = c->client.addr, .port = c->client.port, .family = c->client.family};
	char src_ip[64] = "", dst_ip[64] = "";
	struct authz_request rq = {0};
	struct proxy_l7 l7 = {0};
	bool ok;

	if (!c->rt->o.authz)
		return true;
	switch (c->rt->o.authz(c->rt->o.ctx, NULL, &src, &ep->addr, &l7)) {
	case PROXY_ALLOW:
		return true;
	case PROXY_DENY:
		return false;
	default:
		break;
	}
	addr_text(&src.addr, src.family, src_ip, sizeof(src_ip));
	addr_text(&ep->addr.addr, ep->addr.family, dst_ip, sizeof(dst_ip));
	rq.source_ip = src_ip;
	rq.dest_ip = dst_ip;
	rq.dest_port = ntohs(ep->addr.port);
	rq.host = q->rq.authority;
	rq.method = q->rq.method;
	rq.path = q->rq.path;
	rq.headers = q->rq.headers;
	rq.nheaders = q->rq.nheaders;
	ok = l7.d.decide(l7.d.ctx, &rq, NULL, 0);
	if (l7.release)
		l7.release(l7.d.ctx);
	return ok;
}

int l7r_up_outcome(enum l7r_outcome o, int status)
{
	switch (o) {
	case OUT_RESPONSE:
		return up_outcome_of_status(status);
	case OUT_CONNECT_FAIL:
	case OUT_RESET:
	case OUT_REFUSED:
	case OUT_TRY_TIMEOUT:
	case OUT_TIMEOUT:
		return UP_LOCAL_FAILURE;
	default:
		return -1;
	}
}

/* connectionPool refused the try (Envoy's circuit breaker) */
static int overflow(struct l7r_conn *c, struct l7r_req *q)
{
	static const char body[] = L7R_BODY_UO;

	q->rec.flags |= L7R_F_UO;
	return l7r_answer(c, q, 503, "text/plain", body, sizeof(body) - 1, NULL);
}

/* The back-off between tries ends early when the client closes. */
static int wait_client(void *arg, uint64_t until)
{
	return l7r_wait(((struct l7r_conn *)arg)->fd, until);
}

static int no_upstream(struct l7r_conn *c, struct l7r_req *q)
{
	static const char body[] = L7R_BODY_UH;

	q->rec.flags |= L7R_F_UH;
	return l7r_answer(c, q, 503, "text/plain", body, sizeof(body) - 1, NULL);
}

int l7r_forward(struct l7r_conn *c, struct l7r_req *q)
{
	const struct m_http_route *h = q->route->r->h;
	struct l7_buf head = {0};
	struct attempt a = {.fd = -1};
	struct l7r_lb_pick lp = {0};
	struct l7r_retry rty;
	enum l7r_outcome o = OUT_CONNECT_FAIL;
	int err = 0;

	l7r_retry_begin(&rty, h, q->body_done, wait_client, c);
	q->rq.cookie_seed = ((uint64_t)l7r_rand32() << 32) | l7r_rand32();
	q->dest = l7r_pick_dest(q->route, l7r_rand01());
	if (!q->dest)
		return no_upstream(c, q);
	if (l7r_request_head(c, q, &head)) {
		l7_buf_free(&head);
		return -ENOMEM;
	}
	for (unsigned t = 0; t < rty.tries; t++) {
		l7r_lb_end(&lp);
		a.ep = l7r_conn_pick(c, q->dest, &q->rq, rty.last, &lp);
		if (!a.ep) {
			err = t ? fail(c, q, o) : no_upstream(c, q);
			goto out;
		}
		rty.last = a.ep;
		l7r_lb_up_opts(&lp, &a.uo);
		if (!t)
			l7r_lb_set_cookie(&lp, &q->rq, &c->client, q->set_cookie,
					  sizeof(q->set_cookie));
		addr_endpoint(&a.ep->addr.addr, a.ep->addr.family, ntohs(a.ep->addr.port),
			      q->rec.upstream, sizeof(q->rec.upstream));
		q->rec.dst_pod = a.ep->pod;
		q->rec.hbone = false;
		if (!l7r_authorized(c, q, a.ep)) {
			err = l7r_answer(c, q, 403, "text/plain", L7_DENY_BODY,
					 strlen(L7_DENY_BODY), NULL);
			goto out;
		}
		if (l7r_lb_admit(&lp, rty.route_dl)) {
			err = overflow(c, q);
			goto out;
		}
		q->rec.attempts++;
		o = try_once(c, q, &a, &head, l7r_retry_try_deadline(&rty));
		q->rec.hbone = a.tunnel;
		if (o == OUT_TRY_TIMEOUT && rty.route_dl != L7R_NO_DEADLINE &&
		    l7r_now_ns() >= rty.route_dl)
			o = OUT_TIMEOUT;
		if (l7r_up_outcome(o, a.rs.status) >= 0)
			l7r_lb_report(&lp, l7r_up_outcome(o, a.rs.status));
		if (!l7r_retry_again(&rty, &lp, &o, &a.rs))
			break; /* the answer stands, or the wait ended in a timeout or a close */
		attempt_reset(&a, true);
	}
	if (l7r_retry_urx(&rty, o, q->rec.attempts))
		q->rec.flags |= L7R_F_URX;
	err = o == OUT_RESPONSE ? respond(c, q, &a, rty.route_dl) : fail(c, q, o);
out:
	l7r_retry_end(&rty);
	l7r_lb_end(&lp); /* in flight until its response is relayed (LEAST_REQUEST) */
	attempt_reset(&a, true);
	l7_buf_free(&head);
	return err;
}
