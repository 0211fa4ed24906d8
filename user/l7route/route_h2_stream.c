// SPDX-License-Identifier: Apache-2.0
/*
 * One HTTP/2 stream's request, on a thread of its own: the same decisions as an HTTP/1.1
 * request (route_conn.c, route_forward.c) with the same functions: first matching route, redirect
 * and directResponse, fault delay and abort, a weighted destination and an endpoint per request,
 * connectionPool admission, the same-node AuthorizationPolicy, tries with the retry policy (or
 * Istio's default), per-try and route timeouts, header operations and rewrites. The thread starts
 * once the request head is in: the body goes up as it comes and the response streams back, so
 * client-streaming, server-streaming and bidirectional gRPC pass. A try is judged on its final
 * response head, and once that head is the client's the stream is not retried; nor is it once
 * its body passed the retry buffer (L7R_BODY_BUFFER), as Envoy does. The route timeout bounds
 * the whole stream, a per-try timeout the wait for the head. gRPC is HTTP/2 with a content-type
 * of application/grpc: its grpc-status in a trailers-only head is what the gRPC retryOn
 * conditions read, and a fault's grpcStatus aborts it the gRPC way.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "common/addr.h"
#include "l7/upstream.h"
#include "l7route/route_h2.h"
#include "l7route/route_pick.h"
#include "model/model_istio_common.h"

static bool is_grpc(const struct l7r_h2s *s)
{
	const char *ct = l7r_h2_field(&s->fields, "content-type");

	return ct && !strncasecmp(ct, "application/grpc", 16);
}

void l7r_h2_view(struct l7r_h2s *s)
{
	struct l7r_conn *c = s->h->c;
	struct l7r_req *q = &s->q;

	q->rq.method = s->method;
	q->rq.path = s->path;
	q->rq.authority = s->authority ? s->authority : l7r_h2_field(&s->fields, "host");
	q->rq.scheme = s->scheme ? s->scheme : "http";
	q->rq.headers = s->fields.v;
	q->rq.nheaders = s->fields.n;
	q->rq.port = ntohs(c->vip.port);
	q->rq.src_pod = c->src_pod;
	q->msg.method = s->method;
	q->body_done = true; /* kept for retries until it passes L7R_BODY_BUFFER (in_over) */
	if (is_grpc(s))
		q->rec.protocol = "grpc";
}

/* HTTP/2 names are lower-case; header operations may name them otherwise. */
static int emit(void *arg, const char *name, const char *value)
{
	char low[256];
	size_t n = strlen(name);

	if (n >= sizeof(low))
		return -E2BIG;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	return l7r_h2_fields_add(arg, low, n, value, strlen(value));
}

/* The client's propagation fields are the router's to replace (l7r_trace_fields). */
static int emit_request(void *arg, const char *name, const char *value)
{
	return trace_field_replaced(name) ? 0 : emit(arg, name, value);
}

/* A response the router makes itself (0, for the callers' tail calls). */
static int answer(struct l7r_h2s *s, int status, const char *ctype, const char *body, size_t len,
		  const char *name, const char *value)
{
	char cl[24];

	l7r_h2_resp_free(&s->rs);
	s->rs.status = status;
	snprintf(cl, sizeof(cl), "%zu", len);
	if (ctype)
		emit(&s->rs.fields, "content-type", ctype);
	if (name)
		emit(&s->rs.fields, name, value);
	emit(&s->rs.fields, "content-length", cl);
	if (len && strcmp(s->method, "HEAD"))
		l7_buf_put(&s->rs.body, body, len);
	s->q.rec.code = status;
	return 0;
}

/* A fault's delay (DI) and abort (FI), each drawn with its percentage. 1: answered, -1: the
 * client left meanwhile. */
static int fault(struct l7r_h2s *s, const struct m_fault *f)
{
	char code[12];

	if (f->delay && l7r_rand01() * 100.0 < f->delay_pct) {
		s->q.rec.flags |= L7R_F_DI;
		if (!l7r_h2_wait(s, l7r_deadline((uint64_t)f->delay_ms)))
			return -1;
	}
	if (!f->abort || l7r_rand01() * 100.0 >= f->abort_pct)
		return 0;
	if (f->abort_status) {
		s->q.rec.flags |= L7R_F_FI;
		answer(s, f->abort_status, "text/plain", L7R_BODY_FI, strlen(L7R_BODY_FI), NULL,
		       NULL);
		return 1;
	}
	if (!f->abort_grpc || !is_grpc(s))
		return 0;
	s->q.rec.flags |= L7R_F_FI;
	/* the model refused any other name: UNKNOWN only for a model built without validation */
	snprintf(code, sizeof(code), "%d",
		 istio_grpc_code(f->abort_grpc) >= 0 ? istio_grpc_code(f->abort_grpc) : 2);
	answer(s, 200, "application/grpc", "", 0, "grpc-status", code);
	emit(&s->rs.fields, "grpc-message", L7R_BODY_FI);
	return 1;
}

int l7r_h2_request_head(struct l7r_h2s *s, struct l7r_h2_fields *out, char **path)
{
	const struct m_header_ops *a, *b;
	const char *auth = l7r_rewritten_authority(&s->q), *te;
	int err;

	*path = l7r_rewritten_path(&s->q);
	if (!*path)
		return -ENOMEM;
	err = emit(out, ":method", s->method) ?: emit(out, ":scheme", s->q.rq.scheme) ?:
	      emit(out, ":path", *path);
	if (!err && auth)
		err = emit(out, ":authority", auth);
	l7r_header_ops(&s->q, false, &a, &b);
	if (!err)
		err = l7r_fields(s->fields.v, s->fields.n, a, b, emit_request, out);
	if (!err)
		err = l7r_trace_fields(&s->q, emit, out);
	te = l7r_h2_field(&s->fields, "te");
	if (!err && te && !strcasecmp(te, "trailers")) /* gRPC's: the only TE HTTP/2 allows */
		err = emit(out, "te", "trailers");
	return err;
}

static nghttp2_nv *nv_of(const struct l7r_h2_fields *f)
{
	nghttp2_nv *nv = calloc(f->n ? f->n : 1, sizeof(*nv));

	for (size_t i = 0; nv && i < f->n; i++)
		nv[i] = l7r_h2_nv(f->v[i].name, f->v[i].value);
	return nv;
}

struct authz_header *l7r_h2_resp_view(const struct l7r_h2_resp *rs, struct h1_msg *m)
{
	struct authz_header *all = calloc(rs->fields.n + rs->trailers.n + 1, sizeof(*all));

	*m = (struct h1_msg){.status = rs->status};
	if (!all)
		return NULL;
	if (rs->fields.n)
		memcpy(all, rs->fields.v, rs->fields.n * sizeof(*all));
	if (rs->trailers.n)
		memcpy(all + rs->fields.n, rs->trailers.v, rs->trailers.n * sizeof(*all));
	m->fields = all;
	m->nfields = rs->fields.n + rs->trailers.n;
	return all;
}

bool l7r_h2_retriable(const struct m_retries *r, enum l7r_outcome o, const struct l7r_h2_resp *rs)
{
	struct h1_msg m;
	struct authz_header *all = l7r_h2_resp_view(rs, &m);
	bool yes = l7r_retriable(r, o, &m);

	free(all);
	return yes;
}

/* A generated hash cookie (consistentHash.httpCookie with a ttl) goes to the client with the
 * response, so its next requests carry it and stay on the endpoint. */
static void set_cookie(struct l7r_h2s *s)
{
	static const char pre[] = "Set-Cookie: ";
	const char *v = s->q.set_cookie;
	size_t n = strlen(v);

	if (n < sizeof(pre) + 2 || strncmp(v, pre, sizeof(pre) - 1))
		return;
	v += sizeof(pre) - 1;
	n -= sizeof(pre) - 1 + 2; /* the field's CRLF */
	l7r_h2_fields_add(&s->rs.fields, "set-cookie", 10, v, n);
}

/* The endpoint's response head to the client, with the response header operations: false
 * when it could not be made (the router answered 503 instead). */
static bool respond(struct l7r_h2s *s)
{
	const struct m_header_ops *a, *b;
	struct l7r_h2_fields f = {0};

	l7r_header_ops(&s->q, true, &a, &b);
	if (l7r_fields(s->rs.fields.v, s->rs.fields.n, a, b, emit, &f)) {
		l7r_h2_fields_free(&f);
		answer(s, 503, "text/plain", L7R_BODY_UC, strlen(L7R_BODY_UC), NULL, NULL);
		return false;
	}
	l7r_h2_fields_free(&s->rs.fields);
	s->rs.fields = f;
	s->q.rec.code = s->rs.status;
	set_cookie(s);
	return true;
}

/* The head goes to the client, and the rest of the response after it as it comes; the route
 * timeout still bounds it. A response that breaks now can only reset the stream. One that came
 * whole goes with the thread's last news (l7r_h2_stream_main): one wake-up of the connection's
 * thread, not two. */
static void stream_rest(struct l7r_h2s *s, struct l7r_h2_up *open, uint64_t route_dl)
{
	struct l7r_h2 *h = s->h;
	enum l7r_outcome o = OUT_RESPONSE;

	pthread_mutex_lock(&h->lock);
	s->head_ready = true;
	s->out_eof = !open;
	if (open)
		l7r_h2_notify_locked(s);
	pthread_mutex_unlock(&h->lock);
	if (!open)
		return;
	o = l7r_h2_rest(h->c, open, route_dl);
	if (o == OUT_TIMEOUT || o == OUT_TRY_TIMEOUT)
		s->q.rec.flags |= L7R_F_UT;
	else if (o == OUT_CLIENT_GONE)
		s->q.rec.flags |= L7R_F_DC;
	else if (o != OUT_RESPONSE)
		s->q.rec.flags |= L7R_F_UR;
	pthread_mutex_lock(&h->lock);
	if (o == OUT_RESPONSE)
		s->out_eof = true;
	else
		s->out_reset = true;
	l7r_h2_notify_locked(s);
	pthread_mutex_unlock(&h->lock);
}

static void fail(struct l7r_h2s *s, enum l7r_outcome o)
{
	switch (o) {
	case OUT_CONNECT_FAIL:
		s->q.rec.flags |= L7R_F_UF;
		answer(s, 503, "text/plain", L7R_BODY_UF, strlen(L7R_BODY_UF), NULL, NULL);
		break;
	case OUT_TIMEOUT:
	case OUT_TRY_TIMEOUT:
		s->q.rec.flags |= L7R_F_UT;
		answer(s, 504, "text/plain", L7R_BODY_UT, strlen(L7R_BODY_UT), NULL, NULL);
		break;
	case OUT_CLIENT_GONE:
		l7r_h2_resp_free(&s->rs);
		s->q.rec.flags |= L7R_F_DC;
		break;
	default:
		s->q.rec.flags |= L7R_F_UC;
		answer(s, 503, "text/plain", L7R_BODY_UC, strlen(L7R_BODY_UC), NULL, NULL);
	}
}

/* One try to an endpoint of q->dest: the outcome, or -1 when the router answered itself. */
static int try_one(struct l7r_h2s *s, const struct l7_endpoint *ep, const nghttp2_nv *nv, size_t n,
		   uint64_t dl, uint64_t route_dl, struct l7r_lb_pick *lp, struct l7r_h2_up **open)
{
	struct l7r_conn *c = s->h->c;
	struct l7r_record *rec = &s->q.rec;
	char tp[TRACE_PARENT_LEN];
	enum l7r_outcome o;
	bool tunnel;

	trace_format_traceparent(&s->q.trace, tp);
	addr_endpoint(&ep->addr.addr, ep->addr.family, ntohs(ep->addr.port), rec->upstream,
		      sizeof(rec->upstream));
	rec->dst_pod = ep->pod;
	rec->hbone = false;
	if (!l7r_authorized(c, &s->q, ep)) {
		answer(s, 403, "text/plain", L7_DENY_BODY, strlen(L7_DENY_BODY), NULL, NULL);
		return -1;
	}
	if (l7r_lb_admit(lp, route_dl)) {
		rec->flags |= L7R_F_UO;
		answer(s, 503, "text/plain", L7R_BODY_UO, strlen(L7R_BODY_UO), NULL, NULL);
		return -1;
	}
	rec->attempts++;
	l7r_h2_resp_free(&s->rs);
	rec->upstream_ns = l7r_now_ns();
	o = l7r_h2_try(c, ep, nv, n, s, dl, &tunnel, tp, open);
	rec->upstream_ns = l7r_now_ns() - rec->upstream_ns;
	rec->hbone = tunnel;
	if (o == OUT_TRY_TIMEOUT && route_dl != L7R_NO_DEADLINE && l7r_now_ns() >= route_dl)
		o = OUT_TIMEOUT;
	if (l7r_up_outcome(o, s->rs.status) >= 0)
		l7r_lb_report(lp, l7r_up_outcome(o, s->rs.status));
	return (int)o;
}

/* The back-off between tries ends early when the client resets the stream. */
static int wait_stream(void *arg, uint64_t until)
{
	return l7r_h2_wait(arg, until) ? 0 : -ECONNRESET;
}

/* After a try: the shared policy between tries (route_retry.c) on the response head alone, as
 * Envoy judges it (a gRPC status there is a trailers-only response), whether or not the rest
 * came already. A body past the retry buffer is not held whole: no retry, and no URX. */
static bool again(struct l7r_h2s *s, struct l7r_retry *rty, struct l7r_lb_pick *lp,
		  enum l7r_outcome *o)
{
	struct h1_msg m;
	struct l7r_h2_resp head;
	struct authz_header *all;
	bool yes, over;

	pthread_mutex_lock(&s->h->lock);
	over = s->in_over;
	pthread_mutex_unlock(&s->h->lock);
	head = s->rs;
	head.trailers.n = 0;
	all = over ? NULL : l7r_h2_resp_view(&head, &m);
	if (!all) {
		rty->matched = false;
		return false;
	}
	yes = l7r_retry_again(rty, lp, o, &m);
	free(all);
	return yes;
}

/* Tries to endpoints of a weighted destination until the policy is satisfied or spent. */
static void forward(struct l7r_h2s *s, const struct m_http_route *h)
{
	struct l7r_conn *c = s->h->c;
	struct l7r_h2_fields head = {0};
	struct l7r_lb_pick lp = {0};
	struct l7r_h2_up *open = NULL;
	struct l7r_retry rty;
	enum l7r_outcome o = OUT_CONNECT_FAIL;
	nghttp2_nv *nv = NULL;
	char *path = NULL;
	int rc;

	l7r_retry_begin(&rty, h, true, wait_stream, s); /* again() stops past the buffer */
	s->q.rq.cookie_seed = ((uint64_t)l7r_rand32() << 32) | l7r_rand32();
	s->q.dest = l7r_pick_dest(s->q.route, l7r_rand01());
	if (!s->q.dest)
		goto no_upstream;
	if (l7r_h2_request_head(s, &head, &path) || !(nv = nv_of(&head))) {
		fail(s, OUT_RESET);
		goto out;
	}
	for (unsigned t = 0; t < rty.tries; t++) {
		const struct l7_endpoint *ep;

		l7r_lb_end(&lp);
		ep = l7r_plan_pick(c, &s->pick, s->q.dest, &s->q.rq, rty.last, &lp);
		if (!ep && !t)
			goto no_upstream;
		if (!ep)
			break;
		rty.last = ep;
		if (!t)
			l7r_lb_set_cookie(&lp, &s->q.rq, &c->client, s->q.set_cookie,
					  sizeof(s->q.set_cookie));
		rc = try_one(s, ep, nv, head.n, l7r_retry_try_deadline(&rty), rty.route_dl, &lp,
			     &open);
		if (rc < 0)
			goto out;
		o = (enum l7r_outcome)rc;
		if (!again(s, &rty, &lp, &o))
			break; /* the answer stands, or the wait ended in a timeout or a reset */
		l7r_h2_drop(open); /* retried: this response is not the client's */
		open = NULL;
	}
	if (l7r_retry_urx(&rty, o, s->q.rec.attempts))
		s->q.rec.flags |= L7R_F_URX;
	if (o == OUT_RESPONSE && respond(s)) {
		stream_rest(s, open, rty.route_dl);
		open = NULL;
	} else if (o != OUT_RESPONSE) {
		fail(s, o);
	}
	l7r_h2_mirror(s, &head);
	goto out;
no_upstream:
	s->q.rec.flags |= L7R_F_UH;
	answer(s, 503, "text/plain", L7R_BODY_UH, strlen(L7R_BODY_UH), NULL, NULL);
out:
	l7r_h2_drop(open);
	l7r_retry_end(&rty);
	l7r_lb_end(&lp);
	l7r_h2_fields_free(&head);
	free(nv);
	free(path);
}

static int decide(struct l7r_h2s *s)
{
	struct l7r_conn *c = s->h->c;
	const struct m_http_route *h;
	char loc[2048];
	int idx;

	l7r_h2_view(s);
	l7r_trace_begin(c, &s->q);
	if (s->oversized)
		return answer(s, 431, NULL, "", 0, NULL, NULL);
	if (!s->method || !s->path)
		return answer(s, 400, NULL, "", 0, NULL, NULL); /* CONNECT: no tunnel here */
	idx = l7r_route_match(c->sp, &s->q.rq);
	s->q.rec.route = idx;
	if (idx < 0) {
		s->q.rec.flags |= L7R_F_NR;
		return answer(s, 404, NULL, "", 0, NULL, NULL);
	}
	s->q.route = &c->sp->routes[idx];
	l7r_note_match(&s->q);
	h = s->q.route->r->h;
	if (h && h->redirect) {
		l7r_redirect_location(&s->q, h->redirect, loc, sizeof(loc));
		return answer(s, h->redirect->code, NULL, "", 0, "location", loc);
	}
	if (h && h->direct)
		return answer(s, h->direct->status, h->direct->body ? "text/plain" : NULL,
			      h->direct->body, h->direct->body_len, NULL, NULL);
	if (h && h->fault && fault(s, h->fault))
		return 0;
	forward(s, h);
	return 0;
}

void *l7r_h2_stream_main(void *arg)
{
	struct l7r_h2s *s = arg;
	struct l7r_h2 *h = s->h;

	(void)decide(s);
	pthread_mutex_lock(&h->lock);
	if (!s->head_ready) { /* an answer of the router's, whole (or none: a reset) */
		s->head_ready = s->rs.status != 0;
		s->out_eof = true;
	} else if (!s->out_eof) {
		s->out_reset = true;
	}
	/* the rest of the request is nobody's: granted back and dropped as it comes */
	s->finished = s->discard = true;
	s->in_taken = s->in_total;
	l7_buf_free(&s->q.body);
	s->in_base = s->in_total;
	l7r_h2_notify_locked(s);
	if (--h->running == 0)
		pthread_cond_broadcast(&h->idle);
	pthread_mutex_unlock(&h->lock);
	return NULL;
}
