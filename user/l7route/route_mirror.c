// SPDX-License-Identifier: Apache-2.0
/*
 * mirror / mirrors: a copy of the request to an endpoint of each mirror destination, drawn with
 * its percentage, fire and forget: the copy goes on its own thread, its response is read and
 * dropped, and nothing about it reaches the client or delays its response. The copy's Host gets
 * "-shadow" after its host part, as Envoy marks shadowed traffic. Only requests whose body is
 * buffered whole are copied. The copy is traced as a request of its own (route_trace.c): its
 * span is a child of the request's, and the copy carries that span's ids, not the request's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "l7route/route_conn.h"
#include "l7route/route_pick.h"
#include "tracing/tracing.h"

struct mirror_job {
	struct l7r_mirror m; /* first: the job is spawned as one */
	struct l7_buf req;   /* head and body */
	struct trace_ids ids;
	struct trace_span *span; /* NULL: not sampled */
};

/* The status of the response whose first bytes are `p`, 0 when they are no status line. */
static int status_of(const uint8_t *p, ssize_t n)
{
	char line[16];

	if (n < 12)
		return 0;
	memcpy(line, p, 12);
	line[12] = 0;
	return !strncmp(line, "HTTP/1.", 7) ? atoi(line + 9) : 0;
}

static void *mirror_main(void *arg)
{
	struct mirror_job *j = arg;
	uint64_t dl = l7r_deadline(L7R_CONNECT_MS);
	int fd = -ENOENT, status = 0;
	char tp[TRACE_PARENT_LEN];
	uint8_t buf[4096];
	ssize_t n;

	trace_format_traceparent(&j->ids, tp);
	if (!j->m.ep.local && j->m.rt->o.tunnel)
		fd = j->m.rt->o.tunnel(j->m.rt->o.ctx, &j->m.client, &j->m.ep.addr, tp);
	if (fd == -ENOENT)
		fd = l7r_dial(&j->m.ep.addr, dl);
	if (fd >= 0 && !l7r_write_all(fd, l7_buf_head(&j->req), l7_buf_unread(&j->req), dl))
		while ((n = l7r_read(fd, buf, sizeof(buf), dl)) > 0)
			if (!status) /* the response is dropped; it ends when the endpoint closes */
				status = status_of(buf, n);
	if (fd >= 0)
		close(fd);
	l7r_trace_mirror_end(j->span, status);
	l7_buf_free(&j->req);
	free(j);
	return NULL;
}

void l7r_shadow_host(const char *host, char *out, size_t len)
{
	const char *colon = strrchr(host, ':');

	if (colon && !strchr(colon, ']'))
		snprintf(out, len, "%.*s-shadow%s", (int)(colon - host), host, colon);
	else
		snprintf(out, len, "%s-shadow", host);
}

/* The request a copy is made of. */
struct mirror_src {
	struct l7r_conn *c;
	struct l7r_req *q;
	const struct l7_dest *d;
};

/* The copy as HTTP/1.1 bytes: the rewritten path, the Host marked shadowed, the client's fields
 * but for Host, Connection and the trace fields, a child span's ids, then the body. */
static int fill(struct l7r_mirror *m, void *arg)
{
	struct mirror_job *j = (struct mirror_job *)m;
	const struct mirror_src *src = arg;
	struct l7r_req *q = src->q;
	char host[512];
	char *path;
	int err;

	l7r_shadow_host(q->rq.authority ? q->rq.authority : src->d->target->meta.name, host,
			sizeof(host));
	path = l7r_rewritten_path(q);
	err = !path ||
	      l7_buf_printf(&j->req, "%s %s HTTP/1.1\r\nHost: %s\r\n", q->msg.method, path, host);
	for (size_t i = 0; !err && i < q->msg.nfields; i++)
		if (strcasecmp(q->msg.fields[i].name, "host") &&
		    strcasecmp(q->msg.fields[i].name, "connection") &&
		    !trace_field_replaced(q->msg.fields[i].name))
			err = l7_buf_printf(&j->req, "%s: %s\r\n", q->msg.fields[i].name,
					    q->msg.fields[i].value);
	trace_ids_child(&q->trace, &j->ids);
	if (!err)
		err = trace_inject(&j->ids, q->request_id_new ? q->request_id : NULL, &j->req);
	if (!err)
		err = l7_buf_printf(&j->req, "Connection: close\r\n\r\n") ||
		      l7_buf_put(&j->req, q->body.data, q->body.len);
	free(path);
	if (!err)
		j->span = l7r_trace_mirror_begin(src->c, q, src->d, &m->ep, host, &j->ids);
	return err;
}

static void drop(struct l7r_mirror *m)
{
	struct mirror_job *j = (struct mirror_job *)m;

	free(j->span);
	l7_buf_free(&j->req);
}

static const struct l7r_mirror_ops h1_mirror = {
    .size = sizeof(struct mirror_job), .fill = fill, .run = mirror_main, .drop = drop};

static void mirror_one(struct l7r_conn *c, struct l7r_req *q, const struct l7_dest *d)
{
	struct mirror_src src = {.c = c, .q = q, .d = d};

	l7r_mirror_spawn(c, d, &h1_mirror, &src);
}

void l7r_mirror(struct l7r_conn *c, struct l7r_req *q)
{
	const struct m_http_route *h = q->route->r->h;

	if (!h || !q->body_done)
		return;
	for (size_t i = 0; i < q->route->nmirrors && i < h->nmirrors; i++)
		if (q->route->mirrors[i].neps && l7r_rand01() * 100.0 < h->mirrors[i].pct)
			mirror_one(c, q, &q->route->mirrors[i]);
}
