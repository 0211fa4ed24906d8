// SPDX-License-Identifier: Apache-2.0
/*
 * Route matching: the first http route of the VirtualService whose match list accepts the
 * request wins, as in Istio. Within one HTTPMatchRequest every condition must hold; the list is
 * an OR. The uri conditions see the path without its query string, as Envoy's do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "l7route/route_request.h"
#include "model/model_regex.h"

const char *l7r_header(const struct l7r_request *rq, const char *name)
{
	for (size_t i = 0; i < rq->nheaders; i++)
		if (!strcasecmp(rq->headers[i].name, name))
			return rq->headers[i].value;
	return NULL;
}

/* `v` (len bytes, not NUL-terminated) against a StringMatch; NONE accepts anything. */
static bool sm_match(const struct m_string_match *sm, const char *v, size_t len, bool icase)
{
	size_t n;

	switch (sm->kind) {
	case M_SM_NONE:
	case M_SM_PRESENT:
		return true;
	case M_SM_EXACT:
		n = strlen(sm->value);
		return n == len &&
		       (icase ? !strncasecmp(v, sm->value, n) : !memcmp(v, sm->value, n));
	case M_SM_PREFIX:
		n = strlen(sm->value);
		return n <= len &&
		       (icase ? !strncasecmp(v, sm->value, n) : !memcmp(v, sm->value, n));
	case M_SM_REGEX:
		return sm->re && m_regex_match(sm->re, v, len);
	}
	return false;
}

static bool sm_match_str(const struct m_string_match *sm, const char *v)
{
	return v && sm_match(sm, v, strlen(v), false);
}

/* The value of query parameter `name` in `q` (after '?'), into buf; NULL when absent. */
static const char *query_param(const char *q, const char *name, char *buf, size_t len)
{
	size_t nl = strlen(name);

	while (q && *q) {
		const char *amp = strchr(q, '&'), *end = amp ? amp : q + strlen(q);
		const char *eq = memchr(q, '=', (size_t)(end - q));
		const char *kend = eq ? eq : end;

		if ((size_t)(kend - q) == nl && !memcmp(q, name, nl)) {
			size_t vl = eq ? (size_t)(end - eq - 1) : 0;

			if (vl >= len)
				vl = len - 1;
			memcpy(buf, eq ? eq + 1 : "", vl);
			buf[vl] = '\0';
			return buf;
		}
		q = amp ? amp + 1 : NULL;
	}
	return NULL;
}

static bool headers_match(const struct m_named_match *v, size_t n, const struct l7r_request *rq,
			  bool without)
{
	for (size_t i = 0; i < n; i++) {
		const char *val = l7r_header(rq, v[i].name);
		bool hit = val && sm_match_str(&v[i].m, val);

		if (hit == without)
			return false;
	}
	return true;
}

static bool query_match(const struct m_http_match *m, const char *q)
{
	char buf[1024];

	for (size_t i = 0; i < m->nquery_params; i++) {
		const char *val = query_param(q, m->query_params[i].name, buf, sizeof(buf));

		if (!val || !sm_match_str(&m->query_params[i].m, val))
			return false;
	}
	return true;
}

static bool source_match(const struct m_http_match *m, const struct l7r_request *rq)
{
	if (m->source_namespace &&
	    (!rq->src_pod || strcmp(rq->src_pod->meta.ns, m->source_namespace)))
		return false;
	if (m->source_labels.n &&
	    (!rq->src_pod || !labels_match(&m->source_labels, &rq->src_pod->meta.labels)))
		return false;
	return true;
}

bool l7r_match_one(const struct m_http_match *m, const struct l7r_request *rq)
{
	const char *path = rq->path ? rq->path : "/", *q = strchr(path, '?');
	size_t plen = q ? (size_t)(q - path) : strlen(path);

	if (m->port && m->port != rq->port)
		return false;
	if (!sm_match(&m->uri, path, plen, m->ignore_uri_case))
		return false;
	if (!sm_match_str(&m->method, rq->method) || !sm_match_str(&m->scheme, rq->scheme))
		return false;
	if (m->authority.kind != M_SM_NONE &&
	    (!rq->authority || !sm_match_str(&m->authority, rq->authority)))
		return false;
	if (!headers_match(m->headers, m->nheaders, rq, false) ||
	    !headers_match(m->without_headers, m->nwithout_headers, rq, true))
		return false;
	return query_match(m, q ? q + 1 : NULL) && source_match(m, rq);
}

int l7r_route_match(const struct l7_svcport *sp, const struct l7r_request *rq)
{
	for (size_t i = 0; i < sp->nroutes; i++) {
		const struct m_http_route *h = sp->routes[i].r->h;

		if (!h || !h->nmatches)
			return (int)i;
		for (size_t k = 0; k < h->nmatches; k++)
			if (l7r_match_one(&h->matches[k], rq))
				return (int)i;
	}
	return -1;
}

const char *l7r_flags_str(uint32_t flags, char *buf, size_t len)
{
	static const char *const names[] = {"UH", "UF", "UO", "NR", "URX", "UT",
					    "DI", "FI", "UC", "DC", "UR"};
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (flags & (1u << i))
			off += (size_t)snprintf(buf + off, off < len ? len - off : 0, "%s%s",
						off ? "," : "", names[i]);
	if (!off)
		snprintf(buf, len, "-");
	return buf;
}
