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
#include "tracing/tracing.h"

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

int l7r_fields(const struct authz_header *f, size_t n, const struct m_header_ops *a,
	       const struct m_header_ops *b, l7r_field_fn emit, void *arg)
{
	int err = 0;

	for (size_t i = 0; i < n && !err; i++) {
		const char *nm = f[i].name;

		if (hop_by_hop(nm) || removed(a, nm) || removed(b, nm) ||
		    (a && in_labels(&a->set, nm)) || (b && in_labels(&b->set, nm)))
			continue;
		err = emit(arg, nm, f[i].value);
	}
	for (int k = 0; k < 2 && !err; k++) {
		const struct m_header_ops *o = k ? b : a;

		for (size_t i = 0; o && i < o->set.n && !err; i++)
			if (!(k == 0 && b && in_labels(&b->set, o->set.v[i].key)))
				err = emit(arg, o->set.v[i].key, o->set.v[i].val);
		for (size_t i = 0; o && i < o->add.n && !err; i++)
			err = emit(arg, o->add.v[i].key, o->add.v[i].val);
	}
	return err;
}

void l7r_header_ops(const struct l7r_req *q, bool response, const struct m_header_ops **route,
		    const struct m_header_ops **dest)
{
	const struct m_http_route *h = q->route ? q->route->r->h : NULL;
	const struct m_headers *dh = q->dest ? q->dest->dst->headers : NULL;

	*route = h && h->headers ? response ? &h->headers->response : &h->headers->request : NULL;
	*dest = dh ? response ? &dh->response : &dh->request : NULL;
}

/* Every field of every request and response: copied, not formatted. */
static int emit_h1(void *arg, const char *name, const char *value)
{
	struct l7_buf *b = arg;

	return l7_buf_put(b, name, strlen(name)) ?: l7_buf_put(b, ": ", 2)
		?: l7_buf_put(b, value, strlen(value)) ?: l7_buf_put(b, "\r\n", 2);
}

/* A request's trace fields are the router's to write (trace_inject): the client's are dropped. */
static int emit_h1_request(void *arg, const char *name, const char *value)
{
	return trace_field_replaced(name) ? 0 : emit_h1(arg, name, value);
}

/* Fields kept from `m`, then the set/add of the route's and destination's operations. */
static int fields_out(const struct h1_msg *m, const struct l7r_req *q, bool response,
		      struct l7_buf *out)
{
	const struct m_header_ops *a, *b;

	l7r_header_ops(q, response, &a, &b);
	return l7r_fields(m->fields, m->nfields, a, b, response ? emit_h1 : emit_h1_request, out);
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

const char *l7r_rewritten_authority(const struct l7r_req *q)
{
	const struct m_http_route *h = q->route->r->h;

	return h && h->rewrite && h->rewrite->authority ? h->rewrite->authority : q->rq.authority;
}

/* s into out, unformatted */
static int put_str(struct l7_buf *out, const char *s)
{
	return l7_buf_put(out, s, strlen(s));
}

int l7r_request_head(const struct l7r_conn *c, const struct l7r_req *q, struct l7_buf *out)
{
	const struct m_rewrite *rw = q->route->r->h ? q->route->r->h->rewrite : NULL;
	const char *auth = l7r_rewritten_authority(q);
	/* without a path rewrite the client's path goes as it came: no copy per request */
	char *path = rw && (rw->regex || rw->uri) ? l7r_rewritten_path(q) : NULL;
	int err;

	(void)c;
	if (rw && (rw->regex || rw->uri) && !path)
		return -ENOMEM;
	err = put_str(out, q->msg.method) ?: put_str(out, " ")
		?: put_str(out, path ? path : q->rq.path) ?: put_str(out, " HTTP/1.1\r\n");
	if (!err && auth)
		err = put_str(out, "Host: ") ?: put_str(out, auth) ?: put_str(out, "\r\n");
	if (!err)
		err = fields_out(&q->msg, q, false, out);
	if (!err)
		err = trace_inject(&q->trace, q->request_id_new ? q->request_id : NULL, out);
	if (!err)
		err = l7_buf_printf(out, "\r\n");
	free(path);
	return err;
}

int l7r_response_head(const struct l7r_conn *c, const struct l7r_req *q, const struct h1_msg *rs,
		      struct l7_buf *out)
{
	const char *reason = rs->status == 200 ? "OK" : "";
	int err;

	err = l7_buf_printf(out, "HTTP/1.1 %d %s\r\n", rs->status, reason);
	if (!err)
		err = fields_out(rs, q, true, out);
	if (!err && q->set_cookie[0])
		err = l7_buf_printf(out, "%s", q->set_cookie);
	if (!err && c->close)
		err = l7_buf_printf(out, "Connection: close\r\n");
	if (!err)
		err = l7_buf_printf(out, "\r\n");
	return err;
}
