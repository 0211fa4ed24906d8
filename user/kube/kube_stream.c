// SPDX-License-Identifier: Apache-2.0
/*
 * A response body as it arrives: one JSON value after another (a list is one, a watch is one
 * event per line), cut by the network anywhere, even inside a string. json-c's tokener keeps a
 * value under way across pieces. Between values the separating newlines and spaces are skipped
 * here, but never while a value is under way: there a space may be part of a string, or the
 * delimiter that ends a number, and both belong to the tokener.
 *
 * Every value the API sends is an object (a List, a Status, a watch event), and only objects are
 * taken: json-c ends a number only at the byte after it, and where a piece ends right after a
 * number at the top level it reports the number without consuming that byte, so the values read
 * would depend on where the network cut the body. The tokener is strict (RFC 8259, what the API
 * writes) for the same reason: json-c's extensions read what follows a value, a `/` as the start
 * of a comment, and fail or not by what the piece happens to hold; strict, it stops at the value.
 */
#include <errno.h>

#include "kube/kube_json.h"

void kube_stream_init(struct kube_stream *s, json_tokener *tok)
{
	s->tok = tok;
	s->mid = false;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
}

int kube_stream_feed(struct kube_stream *s, const char *p, size_t len, kube_stream_fn fn,
		     void *ctx)
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
			s->mid = true; /* the rest of this value comes in the next piece */
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
