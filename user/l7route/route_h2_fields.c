// SPDX-License-Identifier: Apache-2.0
/*
 * Header lists of the router's HTTP/2 side: what a client stream sent, what an endpoint
 * answered; and the frames nghttp2 has to send, gathered for one write (frames written one by
 * one would meet Nagle and the peer's delayed ACK, 40 ms). Kept as struct authz_header so that route matching, AuthorizationPolicy and the
 * header operations of the HTTP/1.1 path read them unchanged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "l7route/route_h2.h"

int l7r_h2_fields_add(struct l7r_h2_fields *f, const char *name, size_t nlen, const char *value,
		      size_t vlen)
{
	char *n, *v;

	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 16;
		struct authz_header *t = realloc(f->v, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		f->v = t;
		f->cap = cap;
	}
	n = strndup(name, nlen);
	v = strndup(value, vlen);
	if (!n || !v) {
		free(n);
		free(v);
		return -ENOMEM;
	}
	f->v[f->n++] = (struct authz_header){.name = n, .value = v};
	return 0;
}

void l7r_h2_fields_free(struct l7r_h2_fields *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free((char *)f->v[i].name);
		free((char *)f->v[i].value);
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
}

const char *l7r_h2_field(const struct l7r_h2_fields *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].name, name))
			return f->v[i].value;
	return NULL;
}

nghttp2_nv l7r_h2_nv(const char *name, const char *value)
{
	return (nghttp2_nv){.name = (uint8_t *)name,
			    .value = (uint8_t *)value,
			    .namelen = strlen(name),
			    .valuelen = strlen(value),
			    .flags = NGHTTP2_NV_FLAG_NONE};
}

void l7r_h2_resp_free(struct l7r_h2_resp *rs)
{
	l7r_h2_fields_free(&rs->fields);
	l7r_h2_fields_free(&rs->trailers);
	l7_buf_free(&rs->body);
	rs->status = 0;
}

int l7r_h2_collect(nghttp2_session *s, struct l7_buf *out)
{
	const uint8_t *p;
	ssize_t n;

	while ((n = nghttp2_session_mem_send(s, &p)) > 0)
		if (l7_buf_put(out, p, (size_t)n))
			return -ENOMEM;
	return n < 0 ? -EPROTO : 0;
}
