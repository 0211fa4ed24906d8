// SPDX-License-Identifier: Apache-2.0
/*
 * A response body as it arrives: one JSON value after another (a list is one, a watch is one
 * event per line), cut by the network anywhere, even inside a string or a number.
 *
 * json-c's tokener does not read a value the same whatever the cuts: with a cut after the "80-"
 * of a malformed 80-0 it reports 80, where the whole value is an error. So the tokener is given
 * the body only in lines: bytes wait here until a newline (or the body's end, kube_stream_end),
 * and what it reads depends on the body alone. A value may still span lines (pretty-printed
 * JSON); a newline is never inside a token, so the tokener carries it over soundly.
 *
 * Between values, the separating newlines and spaces are skipped here, but never while a value is
 * under way, where a space may be part of a string or the delimiter that ends a number. Every
 * value the API sends is an object (a List, a Status, a watch event) and only objects are taken:
 * json-c reports a top-level number without consuming the byte after it. The tokener is strict
 * (RFC 8259, what the API writes): its extensions read past a value, a `/` after one as the
 * start of a comment.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_json.h"

void kube_stream_init(struct kube_stream *s, json_tokener *tok)
{
	*s = (struct kube_stream){.tok = tok};
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
}

void kube_stream_free(struct kube_stream *s)
{
	free(s->line);
	s->line = NULL;
	s->len = s->cap = 0;
}

/* Whole lines (or the body's last bytes) through the tokener. */
static int parse(struct kube_stream *s, const char *p, size_t len, kube_stream_fn fn, void *ctx)
{
	while (len) {
		struct json_object *o;
		enum json_tokener_error e;
		size_t used;
		int rc;

		if (!s->mid && (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t')) {
			p++;
			len--;
			continue;
		}
		if (!s->mid && *p != '{')
			return -EPROTO;
		o = json_tokener_parse_ex(s->tok, p, (int)len);
		e = json_tokener_get_error(s->tok);
		if (e == json_tokener_continue) {
			s->mid = true; /* the rest of this value comes in the next line */
			return 0;
		}
		if (e != json_tokener_success)
			return -EPROTO;
		s->mid = false;
		used = json_tokener_get_parse_end(s->tok);
		json_tokener_reset(s->tok);
		rc = fn(ctx, o);
		json_object_put(o);
		if (rc < 0)
			return rc;
		p += used;
		len -= used;
	}
	return 0;
}

static int keep(struct kube_stream *s, const char *p, size_t n)
{
	if (n > KUBE_STREAM_LINE_MAX - s->len)
		return -E2BIG;
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *l;

		while (cap < s->len + n)
			cap *= 2;
		l = realloc(s->line, cap);
		if (!l)
			return -ENOMEM;
		s->line = l;
		s->cap = cap;
	}
	memcpy(s->line + s->len, p, n);
	s->len += n;
	return 0;
}

int kube_stream_feed(struct kube_stream *s, const char *p, size_t len, kube_stream_fn fn, void *ctx)
{
	while (len) {
		const char *nl = memchr(p, '\n', len);
		size_t n = nl ? (size_t)(nl - p) + 1 : len;
		int rc;

		if (!nl)
			return keep(s, p, n);
		if (s->len) { /* the line began in an earlier piece */
			rc = keep(s, p, n);
			if (!rc)
				rc = parse(s, s->line, s->len, fn, ctx);
			s->len = 0;
		} else {
			rc = parse(s, p, n, fn, ctx);
		}
		if (rc)
			return rc;
		p += n;
		len -= n;
	}
	return 0;
}

int kube_stream_end(struct kube_stream *s, kube_stream_fn fn, void *ctx)
{
	int rc = s->len ? parse(s, s->line, s->len, fn, ctx) : 0;

	s->len = 0;
	if (!rc && s->mid)
		rc = -EPROTO; /* the body ended inside a value */
	return rc;
}
