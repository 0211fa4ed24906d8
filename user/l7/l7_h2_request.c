// SPDX-License-Identifier: Apache-2.0
/*
 * A client's header block is complete: a request's is checked, decided and forwarded or answered
 * (l7_h2_deny.c); trailers are checked and forwarded.
 *
 * What the pod receives is what was decided. The :path is decided and forwarded normalised
 * (authz_path_forward: `/public/../admin` reaches the pod as `/admin`, as Envoy forwards it under
 * Istio's default), and a request has one authority: a Host field that repeats :authority is
 * dropped, one that names another host makes the request malformed (RFC 9113 8.3.1).
 *
 * Refused without a decision:
 *   - malformed requests (RFC 9113 8.1.1, 8.2, 8.3): RST_STREAM(PROTOCOL_ERROR), like the pod
 *     would, counted as bad;
 *   - CONNECT, extended or not: no tunnel is configured, so 403 without a body (as the
 *     HTTP/1.1 filter answers it), and nothing of the stream reaches the pod;
 *   - header lists over h2_list_limit(): 431, counted as bad, and after H2_MAX_OVERSIZED of them
 *     GOAWAY(ENHANCE_YOUR_CALM).
 * Malformed or oversized trailers reset the stream both ways: the pod, which has the request
 * already, hears RST_STREAM(CANCEL).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "l7/l7_h2.h"

/* What the decider sees of one request. */
struct h2_req {
	const char *method, *scheme, *authority, *path, *protocol;
	const char *host, *content_length;
	size_t path_i, host_i; /* their fields */
	struct authz_header *headers;
	size_t nheaders;
	char *cookie; /* the cookie crumbs joined with "; ", as HTTP/1.1 would carry them */
	char *target; /* the :path it is decided and forwarded with */
};

enum { REQ_OK, REQ_MALFORMED, REQ_CONNECT };

/* A pseudo-header into its slot; false when unknown or repeated. */
static bool pseudo_set(struct h2_req *r, const char *name, const char *value, size_t i)
{
	static const char *const names[] = {":method", ":scheme", ":authority", ":path",
					    ":protocol"};
	const char **slots[] = {&r->method, &r->scheme, &r->authority, &r->path, &r->protocol};

	for (size_t k = 0; k < sizeof(names) / sizeof(*names); k++) {
		if (strcmp(name, names[k]))
			continue;
		if (*slots[k])
			return false;
		*slots[k] = value;
		if (slots[k] == &r->path)
			r->path_i = i;
		return true;
	}
	return false;
}

/* Host and Content-Length once at most; false when repeated. */
static bool single_set(const char **slot, size_t *slot_i, const char *value, size_t i)
{
	if (*slot)
		return false;
	*slot = value;
	if (slot_i)
		*slot_i = i;
	return true;
}

/* The cookie crumbs joined: measured first, copied once, so that many crumbs cost linear time. */
static int cookie_join(const struct h2_fields *fl, struct h2_req *r)
{
	size_t len = 0, n;
	char *p;

	for (size_t i = 0; i < fl->n; i++)
		if (!strcmp(h2_field_name(fl, i), "cookie"))
			len += fl->v[i].valuelen + 2;
	if (!len)
		return 0;
	p = r->cookie = malloc(len);
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < fl->n; i++) {
		if (strcmp(h2_field_name(fl, i), "cookie"))
			continue;
		if (p != r->cookie) {
			memcpy(p, "; ", 2);
			p += 2;
		}
		n = fl->v[i].valuelen;
		memcpy(p, h2_field_value(fl, i), n);
		p += n;
	}
	*p = '\0';
	r->headers[r->nheaders++] = (struct authz_header){"cookie", r->cookie};
	return 0;
}

/* The fields into *r: REQ_OK, REQ_MALFORMED, or -ENOMEM. */
static int req_fields(const struct h2_fields *fl, struct h2_req *r)
{
	bool regular = false;

	r->headers = calloc(fl->n + 1, sizeof(*r->headers));
	if (!r->headers)
		return -ENOMEM;
	for (size_t i = 0; i < fl->n; i++) {
		const char *name = h2_field_name(fl, i), *value = h2_field_value(fl, i);
		enum h2_name_kind kind = h2_field_check(fl, i);

		if (kind == H2_NAME_BAD)
			return REQ_MALFORMED;
		if (kind == H2_NAME_PSEUDO) { /* all of them first (RFC 9113 8.3) */
			if (regular || !pseudo_set(r, name, value, i))
				return REQ_MALFORMED;
			continue;
		}
		regular = true;
		if ((!strcmp(name, "host") && !single_set(&r->host, &r->host_i, value, i)) ||
		    (!strcmp(name, "content-length") &&
		     (!single_set(&r->content_length, NULL, value, i) ||
		      !h2_content_length_ok(value))))
			return REQ_MALFORMED;
		if (strcmp(name, "cookie") && strcmp(name, "host"))
			r->headers[r->nheaders++] = (struct authz_header){name, value};
	}
	return cookie_join(fl, r);
}

/* One authority, whichever field carries it (RFC 9113 8.3.1). */
static bool authority_ok(const struct h2_req *r)
{
	if (!r->authority && !r->host)
		return false; /* Envoy refuses a request that names no host */
	if ((r->authority && !h2_authority_ok(r->authority)) ||
	    (r->host && !h2_authority_ok(r->host)))
		return false;
	return !r->authority || !r->host || !strcasecmp(r->authority, r->host);
}

/* The :path to decide and forward: REQ_OK with r->target set, REQ_MALFORMED, or -ENOMEM. */
static int req_target(struct h2_req *r, enum authz_path_norm norm)
{
	if (!strcmp(r->path, "*")) { /* asterisk-form: OPTIONS only (RFC 9113 8.3.1) */
		if (strcmp(r->method, "OPTIONS"))
			return REQ_MALFORMED;
		r->target = strdup(r->path);
		return r->target ? REQ_OK : -ENOMEM;
	}
	if (!nghttp2_check_path((const uint8_t *)r->path, strlen(r->path)))
		return REQ_MALFORMED;
	r->target = authz_path_forward(r->path, norm); /* NULL: no leading '/', or a '#' */
	return r->target ? REQ_OK : REQ_MALFORMED;
}

/* REQ_OK, REQ_MALFORMED, REQ_CONNECT, or -ENOMEM. */
static int req_parse(const struct l7_filter *f, struct h2_req *r)
{
	int rc = req_fields(&f->blk.fields, r);

	if (rc)
		return rc;
	if (!r->method || !nghttp2_check_method((const uint8_t *)r->method, strlen(r->method)))
		return REQ_MALFORMED;
	if (!strcmp(r->method, "CONNECT"))
		return REQ_CONNECT; /* with or without :protocol, whatever else it carries */
	if (r->protocol || !r->scheme || !h2_scheme_ok(r->scheme) || !r->path)
		return REQ_MALFORMED; /* :protocol is for CONNECT alone (RFC 8441 4) */
	if (!authority_ok(r))
		return REQ_MALFORMED;
	return req_target(r, f->dec.path_norm);
}

static bool req_decide(struct l7_filter *f, struct authz_request *rq)
{
	char why[160] = "";

	if (!f->dec.decide)
		return true;
	return f->dec.decide(f->dec.ctx, rq, why, sizeof(why));
}

/* A propagation field for the pod, kept as name\0value\0 in `arg` (an l7_buf). */
static int extra_field(void *arg, const char *name, const char *value)
{
	struct l7_buf *b = arg;

	return l7_buf_put(b, name, strlen(name) + 1) ?: l7_buf_put(b, value, strlen(value) + 1);
}

/* Forward the request as decided, with the stream's propagation fields when it is traced. */
static int req_forward(struct l7_filter *f, const struct h2_req *r, const struct authz_request *rq)
{
	size_t drop = r->authority && r->host ? r->host_i : SIZE_MAX;
	struct l7_buf extra = {0};
	int rc = 0;

	if (f->dec.stream_begin)
		rc = f->dec.stream_begin(f->dec.ctx, f->blk.sid, rq, true, extra_field, &extra);
	if (!rc)
		rc = h2_hpack_forward(f, r->target, r->path_i, drop,
				      f->dec.stream_begin ? &extra : NULL);
	l7_buf_free(&extra);
	return rc;
}

/* A well-formed request: decide it, then forward it as decided or answer 403. */
static int req_decide_forward(struct l7_filter *f, const struct h2_req *r, bool end_stream)
{
	uint32_t sid = f->blk.sid;
	uint64_t head = f->blk.fields.size; /* the request's head as the metrics count it */
	enum h2_answer a;
	struct authz_request rq = {
	    .tcp = false,
	    .host = r->authority ? r->authority : r->host,
	    .method = r->method,
	    .path = r->target,
	    .headers = r->headers,
	    .nheaders = r->nheaders,
	};
	int rc;

	if (!end_stream && f->nopen == H2_MAX_OPEN)
		return h2_denied_add(f, sid, H2_ANSWER_REFUSED, false);
	if (!req_decide(f, &rq)) {
		f->counts.denied++;
		a = strcmp(r->method, "HEAD") ? H2_ANSWER_403 : H2_ANSWER_403_HEAD;
		if (f->dec.stream_begin &&
		    !f->dec.stream_begin(f->dec.ctx, sid, &rq, false, extra_field, NULL))
			h2_stream_end(f, sid, 403, "-", head, h2_reply_size(a));
		return h2_denied_add(f, sid, a, end_stream);
	}
	rc = req_forward(f, r, &rq);
	if (!rc && f->dec.stream_begin)
		h2_tally_open(f, sid, head);
	if (!rc && !end_stream)
		rc = h2_open_add(f, sid);
	return rc;
}

/* A list over the limit: 431, until the client has done it too often. */
static int refuse_oversized(struct l7_filter *f, bool end_stream)
{
	if (++f->oversized > H2_MAX_OVERSIZED)
		return h2_calm(f);
	f->counts.bad++;
	return h2_denied_add(f, f->blk.sid, H2_ANSWER_431, end_stream);
}

int h2_request_done(struct l7_filter *f)
{
	bool end_stream = f->blk.flags & NGHTTP2_FLAG_END_STREAM;
	struct h2_req r = {.path_i = SIZE_MAX, .host_i = SIZE_MAX};
	int rc;

	f->counts.requests++;
	if (f->blk.fields.oversized)
		return refuse_oversized(f, end_stream);
	rc = req_parse(f, &r);
	if (rc == REQ_MALFORMED) {
		f->counts.bad++;
		rc = h2_reset_counted(f);
		if (!rc)
			rc = h2_denied_add(f, f->blk.sid, H2_ANSWER_RESET, end_stream);
	} else if (rc == REQ_CONNECT) {
		f->counts.denied++;
		rc = h2_denied_add(f, f->blk.sid, H2_ANSWER_CONNECT, end_stream);
	} else if (rc == REQ_OK) {
		rc = req_decide_forward(f, &r, end_stream);
	}
	free(r.headers);
	free(r.cookie);
	free(r.target);
	return rc;
}

/* Trailers carry regular fields only (RFC 9113 8.1) and end the stream. */
static bool trailers_ok(const struct l7_filter *f)
{
	const struct h2_fields *fl = &f->blk.fields;

	if (fl->oversized || !(f->blk.flags & NGHTTP2_FLAG_END_STREAM))
		return false;
	for (size_t i = 0; i < fl->n; i++)
		if (h2_field_check(fl, i) != H2_NAME_REGULAR)
			return false;
	return true;
}

int h2_trailers_done(struct l7_filter *f)
{
	bool end_stream = f->blk.flags & NGHTTP2_FLAG_END_STREAM;
	uint32_t sid = f->blk.sid;
	int rc;

	h2_open_remove(f, sid); /* ended by these trailers, or reset below */
	if (trailers_ok(f))
		return h2_hpack_forward(f, NULL, SIZE_MAX, SIZE_MAX, NULL);
	if (f->blk.fields.oversized && ++f->oversized > H2_MAX_OVERSIZED)
		return h2_calm(f);
	f->counts.bad++;
	rc = h2_put_u32_frame(f->out_up, NGHTTP2_RST_STREAM, sid, NGHTTP2_CANCEL);
	return rc ? rc : h2_denied_add(f, sid, H2_ANSWER_RESET, end_stream);
}
