// SPDX-License-Identifier: Apache-2.0
/*
 * The heads the router sends: the request to the endpoint (path and authority rewritten, the
 * route's and destination's request header operations applied) and the response to the client
 * (response header operations applied). Hop-by-hop fields are the router's own business on each
 * side, so they are dropped and written anew.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "l7route/route_conn.h"
#include "model/model_regex.h"

static bool hop_by_hop(const char *name)
{
	static const char *const hop[] = {"connection", "keep-alive", "proxy-connection",
					  "upgrade",	"te",	      "expect",
					  "host",	NULL};

	for (int i = 0; hop[i]; i++)
		if (!strcasecmp(hop[i], name))
			return true;
	return false;
}

static bool in_labels(const struct labels *l, const char *name)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (!strcasecmp(l->v[i].key, name))
			return true;
	return false;
}

static bool removed(const struct m_header_ops *o, const char *name)
{
	for (size_t i = 0; o && i < o->nremove; i++)
		if (!strcasecmp(o->remove[i], name))
			return true;
	return false;
}

/* Fields kept from `m`, then the set/add of the route's and destination's operations. */
static int fields_out(const struct h1_msg *m, const struct m_header_ops *a,
		      const struct m_header_ops *b, struct l7_buf *out)
{
	int err = 0;

	for (size_t i = 0; i < m->nfields && !err; i++) {
		const char *n = m->fields[i].name;

		if (hop_by_hop(n) || removed(a, n) || removed(b, n) ||
		    (a && in_labels(&a->set, n)) || (b && in_labels(&b->set, n)))
			continue;
		err = l7_buf_printf(out, "%s: %s\r\n", n, m->fields[i].value);
	}
	for (int k = 0; k < 2 && !err; k++) {
		const struct m_header_ops *o = k ? b : a;

		for (size_t i = 0; o && i < o->set.n && !err; i++)
			if (!(k == 0 && b && in_labels(&b->set, o->set.v[i].key)))
				err = l7_buf_printf(out, "%s: %s\r\n", o->set.v[i].key,
						    o->set.v[i].val);
		for (size_t i = 0; o && i < o->add.n && !err; i++)
			err = l7_buf_printf(out, "%s: %s\r\n", o->add.v[i].key, o->add.v[i].val);
	}
	return err;
}

char *l7r_rewritten_path(const struct l7r_req *q)
{
	const struct m_rewrite *rw = q->route->r->h ? q->route->r->h->rewrite : NULL;
	const char *path = q->rq.path, *query = strchr(path, '?');
	size_t plen = query ? (size_t)(query - path) : strlen(path);
	char *base = strndup(path, plen), *out = NULL, *np = NULL;

	if (!base)
		return NULL;
	if (rw && rw->regex) {
		np = m_regex_replace(rw->regex, base, rw->regex_rewrite);
	} else if (rw && rw->uri) {
		const struct m_http_match *m = q->matched;

		/* a prefix match has its prefix replaced; otherwise the whole path is */
		if (m && m->uri.kind == M_SM_PREFIX)
			(void)!asprintf(&np, "%s%s", rw->uri, base + strlen(m->uri.value));
		else
			np = strdup(rw->uri);
	}
	if (asprintf(&out, "%s%s", np ? np : base, query ? query : "") < 0)
		out = NULL;
	free(np);
	free(base);
	return out;
}

int l7r_request_head(const struct l7r_conn *c, const struct l7r_req *q, struct l7_buf *out)
{
	const struct m_http_route *h = q->route->r->h;
	const struct m_headers *dh = q->dest ? q->dest->dst->headers : NULL;
	const char *auth = h && h->rewrite && h->rewrite->authority ? h->rewrite->authority
								    : q->rq.authority;
	char *path = l7r_rewritten_path(q);
	int err;

	(void)c;
	if (!path)
		return -ENOMEM;
	err = l7_buf_printf(out, "%s %s HTTP/1.1\r\n", q->msg.method, path);
	if (!err && auth)
		err = l7_buf_printf(out, "Host: %s\r\n", auth);
	if (!err)
		err = fields_out(&q->msg, h && h->headers ? &h->headers->request : NULL,
				 dh ? &dh->request : NULL, out);
	if (!err)
		err = l7_buf_printf(out, "\r\n");
	free(path);
	return err;
}

int l7r_response_head(const struct l7r_conn *c, const struct l7r_req *q,
		      const struct h1_msg *rs, struct l7_buf *out)
{
	const struct m_http_route *h = q->route->r->h;
	const struct m_headers *dh = q->dest ? q->dest->dst->headers : NULL;
	const char *reason = rs->status == 200 ? "OK" : "";
	int err;

	err = l7_buf_printf(out, "HTTP/1.1 %d %s\r\n", rs->status, reason);
	if (!err)
		err = fields_out(rs, h && h->headers ? &h->headers->response : NULL,
				 dh ? &dh->response : NULL, out);
	if (!err && q->set_cookie[0])
		err = l7_buf_printf(out, "%s", q->set_cookie);
	if (!err && c->close)
		err = l7_buf_printf(out, "Connection: close\r\n");
	if (!err)
		err = l7_buf_printf(out, "\r\n");
	return err;
}
