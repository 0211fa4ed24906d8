// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP/1.1 filter, pod side: responses pass to the client untouched, but are parsed to know
 * where each one ends (RFC 9112 §6.3), because that is when the next request in the queue is
 * answered — by the pod, or here when the filter decided it (403) or could not read it (400).
 * Only a 101 to an allowed upgrade ends HTTP (bytes pass both ways from then on); CONNECT never
 * reaches the pod (l7_http1.c).
 */
#include <errno.h>
#include <string.h>

#include "l7/l7_http1.h"

/* The filter's own answers; `flags` as Envoy's codec flags a malformed request (DPE). */
static const struct {
	const char *status, *body;
	int code;
	const char *flags;
} answers[] = {
    [H1_ANSWER_403] = {"403 Forbidden", L7_DENY_BODY, 403, "-"},
    [H1_ANSWER_400] = {"400 Bad Request", "Bad Request", 400, "DPE"},
    [H1_ANSWER_431] = {"431 Request Header Fields Too Large", "Request Header Fields Too Large",
		       431, "DPE"},
    [H1_ANSWER_NO_TUNNEL] = {"403 Forbidden", "", 403, "-"},
};

static int answer_write(const struct h1_pending *e, struct l7_buf *to_client)
{
	const char *body = answers[e->answer].body;
	const char *conn = e->close	   ? "connection: close\r\n"
			   : e->keep_alive ? "connection: keep-alive\r\n"
					   : "";

	return l7_buf_printf(to_client,
			     "HTTP/1.1 %s\r\ncontent-length: %zu\r\ncontent-type: text/plain\r\n"
			     "%s\r\n%s",
			     answers[e->answer].status, strlen(body), conn, e->head ? "" : body);
}

int h1_answers_flush(struct l7_filter *f, struct l7_buf *to_client)
{
	struct h1_pending *e;

	while (!f->done && (e = h1_queue_head(f)) && e->answer != H1_FORWARDED) {
		size_t before = l7_buf_unread(to_client);
		int rc = answer_write(e, to_client);

		if (rc)
			return rc;
		if (f->dec.response)
			f->dec.response(f->dec.ctx, answers[e->answer].code,
					answers[e->answer].flags);
		e->answered = true;
		h1_exchange_sizes(f, l7_buf_unread(to_client) - before);
		f->done = e->close;
		h1_queue_pop(f);
	}
	return 0;
}

/* The response in flight is complete: the next request's turn. */
static int response_end(struct l7_filter *f, struct l7_buf *to_client, struct l7_buf *to_up)
{
	struct l7_buf held = f->held;
	bool last = h1_queue_head(f)->close;

	h1_exchange_sizes(f, f->rs_bytes);
	f->up = H1_UP_HEAD;
	h1_queue_pop(f);
	if (f->rs_close || last) {
		/* either side said this was the last exchange: nothing after it is answered */
		f->done = true;
		return 0;
	}
	if (f->cl != H1_CL_HOLD || f->qlen)
		return h1_answers_flush(f, to_client);
	/* the upgrade was refused: what the client sent after it are requests after all */
	f->cl = H1_CL_HEAD;
	f->held = (struct l7_buf){0};
	int rc = h1_client_feed(f, l7_buf_head(&held), l7_buf_unread(&held), to_up, to_client);

	l7_buf_free(&held);
	return rc;
}

/* Switched protocols: the held client bytes go first, then everything passes. */
static int tunnel_open(struct l7_filter *f, struct l7_buf *to_up)
{
	int rc = l7_buf_put(to_up, l7_buf_head(&f->held), l7_buf_unread(&f->held));

	l7_buf_free(&f->held);
	h1_queue_pop(f);
	f->up = H1_UP_TUNNEL;
	f->cl = H1_CL_TUNNEL;
	return rc;
}

/* How the body of a final response is framed (RFC 9112 §6.3); -1 when it cannot be read. */
static int response_framing(const struct h1_pending *e, const struct h1_msg *m)
{
	if (e->head || m->status == 204 || m->status == 304)
		return H1_BODY_NONE;
	if (m->has_te) {
		if (m->te_bad)
			return -1;
		return m->te_chunked ? H1_BODY_CHUNKED : H1_BODY_CLOSE;
	}
	if (m->has_cl)
		return m->cl ? H1_BODY_LENGTH : H1_BODY_NONE;
	return H1_BODY_CLOSE;
}

static int response_start(struct l7_filter *f, const struct h1_msg *m, struct l7_buf *to_client,
			  struct l7_buf *to_up)
{
	struct h1_pending *e = h1_queue_head(f);
	bool tunnel = m->status == 101;
	const struct l7_buf *raw = &f->rs_head.raw;
	int kind;

	if (tunnel && (f->cl != H1_CL_HOLD || !e->upgrade))
		return -EPROTO; /* switching protocols nobody asked to switch to */
	if (l7_buf_put(to_client, raw->data + raw->off, l7_buf_unread(raw)))
		return -ENOMEM;
	f->rs_bytes = l7_buf_unread(raw);
	if (tunnel && f->dec.response)
		f->dec.response(f->dec.ctx, m->status, "-");
	if (tunnel || m->status >= 200)
		e->answered = true;
	if (!tunnel && m->status >= 200)
		e->status = m->status; /* told when its body ends (h1_exchange_sizes) */
	if (tunnel)
		return tunnel_open(f, to_up);
	if (m->status < 200)
		return 0; /* interim (100 Continue, 103 Early Hints): the final response follows */
	kind = response_framing(e, m);
	if (kind < 0)
		return -EPROTO;
	f->rs_close = h1_msg_closes(m);
	h1_body_start(&f->rs_body, kind, m->cl);
	f->up = H1_UP_BODY;
	return kind == H1_BODY_NONE ? response_end(f, to_client, to_up) : 0;
}

static int response_head(struct l7_filter *f, const uint8_t *in, size_t len, size_t *used,
			 struct l7_buf *to_client, struct l7_buf *to_up)
{
	struct h1_msg m;
	int rc = h1_head_feed(&f->rs_head, in, len, used);

	if (rc <= 0)
		return rc == -ENOMEM ? rc : rc ? -EPROTO : 0;
	rc = h1_parse_response(&f->rs_head.raw, &m);
	if (!rc)
		rc = response_start(f, &m, to_client, to_up);
	h1_msg_free(&m);
	h1_head_reset(&f->rs_head);
	return rc;
}

static int response_body(struct l7_filter *f, const uint8_t *in, size_t len, size_t *used,
			 struct l7_buf *to_client, struct l7_buf *to_up)
{
	int rc = h1_body_feed(&f->rs_body, in, len, used);

	if (rc < 0)
		return rc;
	if (l7_buf_put(to_client, in, *used))
		return -ENOMEM;
	f->rs_bytes += *used;
	return rc ? response_end(f, to_client, to_up) : 0;
}

int h1_upstream_feed(struct l7_filter *f, const uint8_t *in, size_t len, struct l7_buf *to_client,
		     struct l7_buf *to_up)
{
	int rc = 0;

	while (len && !rc && !f->done) {
		size_t used = len;

		if (f->up == H1_UP_TUNNEL)
			rc = l7_buf_put(to_client, in, len);
		else if (!h1_queue_head(f))
			rc = -EPROTO; /* a response to no request */
		else if (f->up == H1_UP_HEAD)
			rc = response_head(f, in, len, &used, to_client, to_up);
		else
			rc = response_body(f, in, len, &used, to_client, to_up);
		in += used;
		len -= used;
	}
	return rc;
}
