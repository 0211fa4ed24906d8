// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP/1.1 L7 filter (l7_http1_ops), client side: each request head is parsed, decided and
 * either passed to the pod with its body (the head as it was decided: head_forward), or answered
 * 403 by the filter with its body dropped. Every request takes a place in the queue of requests
 * in flight, whatever its fate, so the answers reach the client in request order
 * (l7_http1_upstream.c writes them). How the pieces fit is in l7_http1.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "l7/l7_http1.h"
#include "tracing/trace_ctx.h"

/* ---- the queue of requests in flight ---- */

static int queue_push(struct l7_filter *f, const struct h1_pending *e)
{
	if (f->qlen == H1_QUEUE_MAX)
		return -EPROTO;
	if (f->qlen == f->qcap) {
		size_t cap = f->qcap ? 2 * f->qcap : 8;
		struct h1_pending *q = malloc(cap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		for (size_t i = 0; i < f->qlen; i++)
			q[i] = f->q[(f->qhead + i) % f->qcap];
		free(f->q);
		f->q = q;
		f->qcap = cap;
		f->qhead = 0;
	}
	f->q[(f->qhead + f->qlen++) % f->qcap] = *e;
	if (f->dec.request)
		f->dec.request(f->dec.ctx);
	return 0;
}

struct h1_pending *h1_queue_head(struct l7_filter *f)
{
	return f->qlen ? &f->q[f->qhead] : NULL;
}

void h1_exchange_sizes(struct l7_filter *f, uint64_t response_bytes)
{
	const struct h1_pending *e = h1_queue_head(f);

	if (e && e->status && f->dec.response)
		f->dec.response(f->dec.ctx, e->status, "-");
	if (e && f->dec.sizes)
		f->dec.sizes(f->dec.ctx, e->bytes, response_bytes);
}

/* The request being read is the newest in the queue while it is there (the next one is queued
 * only once its body is in); a request answered early has left the queue and counts no more. */
static void request_bytes(struct l7_filter *f, size_t n)
{
	if (f->qlen)
		f->q[(f->qhead + f->qlen - 1) % f->qcap].bytes += n;
}

void h1_queue_pop(struct l7_filter *f)
{
	if (!f->qlen)
		return;
	f->qhead = (f->qhead + 1) % f->qcap;
	f->qlen--;
}

/* ---- one request ---- */

/* The request cannot be read safely: answer 400 (431 for a huge head) in turn, then close. */
static int bad_request(struct l7_filter *f, enum h1_answer answer)
{
	struct h1_pending e = {.answer = answer, .close = true};

	f->counts.bad++;
	f->cl = H1_CL_DRAIN;
	return queue_push(f, &e);
}

/* Framing the pod might read differently from us (RFC 9112 §6.1, §6.3). */
static bool framing_bad(const struct h1_msg *m)
{
	if (!m->has_te)
		return false;
	return m->has_cl || !m->te_chunked || m->te_bad || m->minor == 0;
}

/* The request as the decider sees it (no connection facts: the decider adds them). */
static struct authz_request request_of(const struct h1_msg *m)
{
	return (struct authz_request){
	    .tcp = false,
	    .host = m->host,
	    .method = m->method,
	    .path = m->path,
	    .headers = m->fields,
	    .nheaders = m->nfields,
	};
}

static bool request_decide(struct l7_filter *f, const struct h1_msg *m)
{
	struct authz_request rq = request_of(m);
	char why[160] = "";

	if (!f->dec.decide)
		return true;
	return f->dec.decide(f->dec.ctx, &rq, why, sizeof(why));
}

/* The Host field whose value an absolute-form target's authority replaces. */
static bool field_is_replaced_host(const struct h1_msg *m, size_t i)
{
	return m->authority && m->nhost && i == m->host_field;
}

/* A field line the pod must not see as sent: dropped, or (Host) given another value. With
 * `traced`, the propagation fields too: the relay's span writes its own. */
static bool field_rewritten(const struct h1_msg *m, size_t i, bool traced)
{
	const char *name = m->fields[i].name;

	if (field_is_replaced_host(m, i) || (traced && trace_field_replaced(name)))
		return true;
	return m->upgrade_h2c &&
	       (!strcasecmp(name, "upgrade") || !strcasecmp(name, "http2-settings"));
}

/*
 * The head the pod receives: the request it was decided as, the client's bytes otherwise.
 *   - The request line carries the normalised target (origin-form), so the pod serves the path
 *     the policy approved: `/public/../admin` reaches it as `/admin`, which was decided.
 *   - An absolute-form target's authority replaces the Host value (RFC 9112 §3.2.2 makes it the
 *     one that counts, and it was the one decided), or is added as Host when there was none.
 *   - An offer to upgrade to h2c would carry HTTP/2 past this filter, its requests undecided;
 *     without Upgrade and HTTP2-Settings the pod answers in HTTP/1.1, as if the client had not
 *     asked, which RFC 9113 §3.1 allows.
 *   - `trace` (the tracing fields of this hop, may be empty) goes before the blank line that ends
 *     the head, the request's own propagation fields left out.
 */
static int head_forward(const struct l7_buf *raw, const struct h1_msg *m,
			const struct l7_buf *trace, struct l7_buf *to_up)
{
	const char *h = (const char *)raw->data + raw->off;
	size_t len = l7_buf_unread(raw), from = (const char *)memchr(h, '\n', len) - h + 1;
	bool traced = l7_buf_unread(trace) > 0;
	size_t eol = len >= 2 && h[len - 2] == '\r' ? 2 : 1; /* the blank line */

	if (l7_buf_printf(to_up, "%s %s HTTP/1.%d\r\n", m->method, m->path, m->minor))
		return -ENOMEM;
	if (m->authority && !m->nhost && l7_buf_printf(to_up, "host: %s\r\n", m->host))
		return -ENOMEM;
	for (size_t i = 0; i < m->nfields; i++) {
		size_t at = m->field_line[i];

		if (!field_rewritten(m, i, traced))
			continue;
		if (l7_buf_put(to_up, h + from, at - from))
			return -ENOMEM;
		if (field_is_replaced_host(m, i) &&
		    l7_buf_printf(to_up, "%s: %s\r\n", m->fields[i].name, m->host))
			return -ENOMEM;
		from = (const char *)memchr(h + at, '\n', len - at) - h + 1;
	}
	if (l7_buf_put(to_up, h + from, len - from - eol) ||
	    l7_buf_put(to_up, l7_buf_head(trace), l7_buf_unread(trace)))
		return -ENOMEM;
	return l7_buf_put(to_up, h + len - eol, eol);
}

/* The request's body is in (or it had none): what comes next from the client. */
static void request_end(struct l7_filter *f)
{
	f->cl = f->cl_after;
	if (f->cl == H1_CL_HOLD && !f->qlen)
		f->cl = H1_CL_HEAD; /* the pod already answered, and not by switching protocols */
}

/*
 * A parsed request: refused, denied, or forwarded (its head now in to_up). CONNECT never
 * reaches the decider: skiff configures no tunnels, so a CONNECT would open one the filter
 * could not look into. It is answered as Envoy answers an upgrade its listener has no
 * configuration for (CONNECT is one to Envoy): 403 — not 405, which would owe the client an
 * Allow field listing the pod's methods. What the client sends after it was meant for the
 * tunnel, not a request: the connection ends.
 */
static int request_route(struct l7_filter *f, const struct h1_msg *m, bool body,
			 struct h1_pending *e, struct l7_buf *to_up)
{
	struct l7_buf trace = {0};
	int err;

	f->counts.requests++;
	if (!m->method) /* never, h1_parse_request sets it when it succeeds; for the analyzer */
		return bad_request(f, H1_ANSWER_400);
	if (!strcmp(m->method, "CONNECT")) {
		f->counts.denied++;
		e->answer = H1_ANSWER_NO_TUNNEL;
		e->close = true;
		return 0;
	}
	if (f->dec.trace) {
		struct authz_request rq = request_of(m);

		if (f->dec.trace(f->dec.ctx, &rq, &trace)) {
			l7_buf_free(&trace);
			return -ENOMEM;
		}
	}
	if (!request_decide(f, m)) {
		l7_buf_free(&trace);
		f->counts.denied++;
		e->answer = H1_ANSWER_403;
		/* the client waits for 100 before its body: it will not send it now */
		e->close |= m->expect_continue && body;
		return 0;
	}
	e->upgrade = m->upgrade && !m->upgrade_h2c;
	err = head_forward(&f->rq_head.raw, m, &trace, to_up);
	l7_buf_free(&trace);
	return err;
}

/* A complete head in f->rq_head: decide, forward or queue an answer, set up the body. */
static int request_start(struct l7_filter *f, struct l7_buf *to_up)
{
	struct h1_pending e = {0};
	enum h1_body_kind kind;
	struct h1_msg m;
	uint64_t cl;
	int rc;

	rc = h1_parse_request(&f->rq_head.raw, f->dec.path_norm, &m);
	if (rc == -EPROTO || rc == -E2BIG || (!rc && framing_bad(&m))) {
		h1_msg_free(&m);
		return bad_request(f, rc == -E2BIG ? H1_ANSWER_431 : H1_ANSWER_400);
	}
	kind = m.te_chunked ? H1_BODY_CHUNKED : m.cl ? H1_BODY_LENGTH : H1_BODY_NONE;
	cl = m.cl;
	e.head = m.method && !strcmp(m.method, "HEAD");
	e.close = h1_msg_closes(&m);
	e.keep_alive = m.minor == 0 && !e.close;
	e.bytes = f->rq_head.size;
	if (!rc)
		rc = request_route(f, &m, kind != H1_BODY_NONE, &e, to_up);
	h1_msg_free(&m);
	if (!rc)
		rc = queue_push(f, &e);
	if (rc)
		return rc;
	f->rq_forward = e.answer == H1_FORWARDED;
	if (e.close)
		f->cl_after = H1_CL_DRAIN;
	else
		f->cl_after = f->rq_forward && e.upgrade ? H1_CL_HOLD : H1_CL_HEAD;
	if (e.close && !f->rq_forward) {
		f->cl = H1_CL_DRAIN; /* its answer is our last word: the body does not matter */
		return 0;
	}
	h1_body_start(&f->rq_body, kind, cl);
	f->cl = H1_CL_BODY;
	if (kind == H1_BODY_NONE)
		request_end(f);
	return 0;
}

static int client_head(struct l7_filter *f, const uint8_t *in, size_t len, size_t *used,
		       struct l7_buf *to_up)
{
	int rc = h1_head_feed(&f->rq_head, in, len, used);

	if (rc == -E2BIG)
		return bad_request(f, H1_ANSWER_431);
	if (rc == -EPROTO)
		return bad_request(f, H1_ANSWER_400);
	if (rc <= 0)
		return rc;
	rc = request_start(f, to_up);
	h1_head_reset(&f->rq_head);
	return rc;
}

static int client_body(struct l7_filter *f, const uint8_t *in, size_t len, size_t *used,
		       struct l7_buf *to_up)
{
	int rc = h1_body_feed(&f->rq_body, in, len, used);

	if (rc < 0) /* the pod has part of a body it will never see end: only closing helps */
		return f->rq_forward ? -EPROTO : bad_request(f, H1_ANSWER_400);
	if (f->rq_forward && l7_buf_put(to_up, in, *used))
		return -ENOMEM;
	request_bytes(f, *used);
	if (rc == 1)
		request_end(f);
	return 0;
}

int h1_client_feed(struct l7_filter *f, const uint8_t *in, size_t len, struct l7_buf *to_up,
		   struct l7_buf *to_client)
{
	int rc = 0;

	while (len && !rc && !f->done) {
		size_t used = len;

		switch (f->cl) {
		case H1_CL_HEAD:
			rc = client_head(f, in, len, &used, to_up);
			break;
		case H1_CL_BODY:
			rc = client_body(f, in, len, &used, to_up);
			break;
		case H1_CL_HOLD:
			rc = l7_buf_unread(&f->held) + len > H1_HOLD_MAX
				 ? -EPROTO
				 : l7_buf_put(&f->held, in, len);
			break;
		case H1_CL_TUNNEL:
			rc = l7_buf_put(to_up, in, len);
			break;
		case H1_CL_DRAIN:
			break;
		}
		in += used;
		len -= used;
	}
	return rc ? rc : h1_answers_flush(f, to_client);
}

/* ---- the ops ---- */

static struct l7_filter *h1_open(const struct l7_decider *d)
{
	struct l7_filter *f = calloc(1, sizeof(*f));

	if (f && d)
		f->dec = *d;
	return f;
}

static int h1_from_client(struct l7_filter *f, const uint8_t *in, size_t len, struct l7_buf *to_up,
			  struct l7_buf *to_client)
{
	return h1_client_feed(f, in, len, to_up, to_client);
}

static int h1_from_upstream(struct l7_filter *f, const uint8_t *in, size_t len,
			    struct l7_buf *to_client, struct l7_buf *to_up)
{
	return h1_upstream_feed(f, in, len, to_client, to_up);
}

static bool h1_done(const struct l7_filter *f)
{
	return f->done;
}

static const struct l7_counts *h1_counts(const struct l7_filter *f)
{
	return &f->counts;
}

/* A request head has begun (its first byte came) and not ended. */
static bool h1_in_head(const struct l7_filter *f)
{
	return !f->done && f->cl == H1_CL_HEAD && f->rq_head.size;
}

/* The requests in line that no answer reached: the client gets none, the metrics see why. A
 * response whose body was under way keeps its status: cut short (UC, DC), as Envoy logs a
 * body the upstream's close cut off; unless the pod's close is what ends that body. */
static void h1_end(struct l7_filter *f, bool pod_gone)
{
	const char *why = pod_gone ? "UC" : "DC";

	for (size_t i = 0; i < f->qlen; i++) {
		struct h1_pending *e = &f->q[(f->qhead + i) % f->qcap];

		if (!i && e->status && f->up == H1_UP_BODY) {
			if (pod_gone && f->rs_body.kind == H1_BODY_CLOSE) {
				h1_exchange_sizes(f, f->rs_bytes);
			} else if (f->dec.response) {
				f->dec.response(f->dec.ctx, e->status, why);
			}
			e->status = 0;
			continue;
		}
		if (e->answered)
			continue;
		e->answered = true;
		if (f->dec.response)
			f->dec.response(f->dec.ctx, 0, why);
	}
}

static void h1_close(struct l7_filter *f)
{
	if (!f)
		return;
	l7_buf_free(&f->rq_head.raw);
	l7_buf_free(&f->rs_head.raw);
	l7_buf_free(&f->held);
	free(f->q);
	free(f);
}

const struct l7_filter_ops l7_http1_ops = {
    .name = "http/1.1",
    .open = h1_open,
    .from_client = h1_from_client,
    .from_upstream = h1_from_upstream,
    .done = h1_done,
    .counts = h1_counts,
    .close = h1_close,
    .in_head = h1_in_head,
    .end = h1_end,
};
