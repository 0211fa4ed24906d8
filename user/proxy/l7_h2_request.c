// SPDX-License-Identifier: Apache-2.0
/*
 * A client's request header block is complete: check it, ask the decider, then forward it
 * re-encoded or answer it (l7_h2_deny.c).
 *
 * A request the pod would have to reject as malformed (RFC 9113 8.1.1, 8.2, 8.3) is refused here
 * with RST_STREAM(PROTOCOL_ERROR) instead of being decided: with two :path fields or a :path after
 * a regular field, the filter and the pod could read different requests, and the decision would
 * be about the wrong one. A header list over h2_list_limit() is refused with 431 (counted as bad),
 * and after H2_MAX_OVERSIZED of them the connection ends with GOAWAY(ENHANCE_YOUR_CALM).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/l7_h2.h"

/* What the decider sees of one request. */
struct h2_req {
	const char *method, *scheme, *authority, *path, *protocol;
	struct authz_header *headers;
	size_t nheaders;
	char *cookie; /* the cookie crumbs joined with "; ", as HTTP/1.1 would carry them */
};

static const char *const connection_specific[] = {"connection", "proxy-connection", "keep-alive",
						  "transfer-encoding", "upgrade"};

static bool name_ok(const char *name, size_t len)
{
	size_t i;

	if (!len)
		return false;
	for (i = 0; i < len; i++)
		if ((name[i] >= 'A' && name[i] <= 'Z') || name[i] == '\0')
			return false;
	for (i = 0; i < sizeof(connection_specific) / sizeof(*connection_specific); i++)
		if (!strcmp(name, connection_specific[i]))
			return false;
	return true;
}

/* NUL, CR and LF are never part of a value (RFC 9113 8.2.1); a NUL would also cut what the
 * decider compares short of what the pod reads. */
static bool value_ok(const char *value, size_t len)
{
	return !memchr(value, '\0', len) && !memchr(value, '\r', len) && !memchr(value, '\n', len);
}

/* A pseudo-header into its slot; false when unknown or repeated. */
static bool pseudo_set(struct h2_req *r, const char *name, const char *value)
{
	static const char *const names[] = {":method", ":scheme", ":authority", ":path",
					    ":protocol"};
	const char **slots[] = {&r->method, &r->scheme, &r->authority, &r->path, &r->protocol};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(*names); i++) {
		if (strcmp(name, names[i]))
			continue;
		if (*slots[i])
			return false;
		*slots[i] = value;
		return true;
	}
	return false;
}

static int cookie_add(struct h2_req *r, const char *value)
{
	size_t old = r->cookie ? strlen(r->cookie) : 0, add = strlen(value);
	char *p = realloc(r->cookie, old + add + 3);

	if (!p)
		return -ENOMEM;
	if (old) {
		memcpy(p + old, "; ", 2);
		old += 2;
	}
	memcpy(p + old, value, add + 1);
	r->cookie = p;
	return 0;
}

/* Fill *r from the block's fields. 1: malformed, 0: fine, -ENOMEM. */
static int req_parse(const struct h2_fields *fl, struct h2_req *r)
{
	bool regular = false;
	size_t i;

	r->headers = calloc(fl->n + 1, sizeof(*r->headers));
	if (!r->headers)
		return -ENOMEM;
	for (i = 0; i < fl->n; i++) {
		const char *name = h2_field_name(fl, i), *value = h2_field_value(fl, i);

		if (!name_ok(name, fl->v[i].namelen) || !value_ok(value, fl->v[i].valuelen))
			return 1;
		if (name[0] == ':') {
			if (regular || !pseudo_set(r, name, value))
				return 1;
			continue;
		}
		regular = true;
		if (!strcmp(name, "te") && strcmp(value, "trailers"))
			return 1;
		if (!strcmp(name, "cookie")) {
			if (cookie_add(r, value))
				return -ENOMEM;
			continue;
		}
		r->headers[r->nheaders++] = (struct authz_header){name, value};
	}
	if (r->cookie)
		r->headers[r->nheaders++] = (struct authz_header){"cookie", r->cookie};
	if (!r->method)
		return 1;
	/* CONNECT names only an authority, unless it is the extended CONNECT (RFC 8441) */
	if (!strcmp(r->method, "CONNECT") && !r->protocol)
		return !r->authority || r->path || r->scheme;
	return !r->scheme || !r->path || !r->path[0];
}

static bool req_decide(struct l7_filter *f, const struct h2_req *r)
{
	struct authz_request rq = {
	    .tcp = false,
	    .host = r->authority,
	    .method = r->method,
	    .path = r->path,
	    .headers = r->headers,
	    .nheaders = r->nheaders,
	};
	char why[160] = "";
	size_t i;

	for (i = 0; !rq.host && i < r->nheaders; i++)
		if (!strcmp(r->headers[i].name, "host"))
			rq.host = r->headers[i].value;
	if (!f->dec.decide)
		return true;
	return f->dec.decide(f->dec.ctx, &rq, why, sizeof(why));
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
	struct h2_req r = {0};
	int rc;

	f->counts.requests++;
	if (f->blk.fields.oversized)
		return refuse_oversized(f, end_stream);
	rc = req_parse(&f->blk.fields, &r);
	if (rc == 1) {
		f->counts.bad++;
		rc = h2_denied_add(f, f->blk.sid, H2_ANSWER_RESET, end_stream);
	} else if (!rc && req_decide(f, &r)) {
		rc = h2_hpack_forward(f, NULL, SIZE_MAX, SIZE_MAX);
	} else if (!rc) {
		f->counts.denied++;
		rc = h2_denied_add(f, f->blk.sid,
				   strcmp(r.method, "HEAD") ? H2_ANSWER_403 : H2_ANSWER_403_HEAD,
				   end_stream);
	}
	free(r.headers);
	free(r.cookie);
	return rc;
}
