// SPDX-License-Identifier: Apache-2.0
/*
 * A response body as it arrives: one JSON value after another (a list is one, a watch is one
 * event per line), cut by the network anywhere, even inside a string. json-c's tokener keeps a
 * value under way across pieces; the separating newlines are skipped here.
 */
#include <errno.h>

#include "kube/kube_json.h"

void kube_stream_init(struct kube_stream *s, json_tokener *tok)
{
	s->tok = tok;
}

int kube_stream_feed(struct kube_stream *s, const char *p, size_t len, kube_stream_fn fn,
		     void *ctx)
{
	while (len) {
		struct json_object *o;
		enum json_tokener_error e;
		size_t used;
		int rc;

		if (*p == '\n' || *p == '\r' || *p == ' ') {
			p++;
			len--;
			continue;
		}
		o = json_tokener_parse_ex(s->tok, p, (int)len);
		e = json_tokener_get_error(s->tok);
		if (e == json_tokener_continue)
			return 0; /* the rest of this value comes in the next piece */
		if (e != json_tokener_success)
			return -EPROTO;
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
