// SPDX-License-Identifier: Apache-2.0
/*
 * mirror / mirrors for HTTP/2 streams: a copy of the request, as it goes to the endpoint but with
 * "-shadow" after its authority's host, to an endpoint of each mirror destination drawn with its
 * percentage. The copy speaks HTTP/2 (a gRPC server has no HTTP/1.1 to mirror to) on a
 * connection of its own, on a thread of its own; its response is read and dropped, and nothing
 * about it reaches the client or delays its response. Only a stream whose body is held whole
 * is copied, as for HTTP/1.1: the copy is made once the stream's own try is over and the request
 * ended within the retry buffer (a long stream is copied at its end, a body past the buffer not
 * at all).
 */
#include <stdlib.h>
#include <string.h>

#include "l7route/route_h2.h"
#include "l7route/route_pick.h"

struct h2_mirror {
	struct l7r_mirror m; /* first: the job is spawned as one */
	struct l7r_h2_fields head;
	struct l7_buf body;
};

static void drop(struct l7r_mirror *m)
{
	struct h2_mirror *j = (struct h2_mirror *)m;

	l7r_h2_fields_free(&j->head);
	l7_buf_free(&j->body);
}

static void job_free(struct h2_mirror *j)
{
	drop(&j->m);
	free(j);
}

static void *mirror_main(void *arg)
{
	struct h2_mirror *j = arg;
	nghttp2_nv *nv = calloc(j->head.n ? j->head.n : 1, sizeof(*nv));
	struct l7r_h2_resp rs = {0};
	int cancel = 0;

	for (size_t i = 0; nv && i < j->head.n; i++)
		nv[i] = l7r_h2_nv(j->head.v[i].name, j->head.v[i].value);
	if (nv)
		(void)l7r_h2_once(j->m.rt, &j->m.client, &j->m.ep, nv, j->head.n, &j->body,
				  l7r_deadline(L7R_CONNECT_MS), &cancel, &rs);
	l7r_h2_resp_free(&rs);
	free(nv);
	job_free(j);
	return NULL;
}

/* The head with the authority marked as shadowed. */
static int shadow_head(const struct l7r_h2s *s, const struct l7r_h2_fields *head,
		       const struct l7_dest *d, struct l7r_h2_fields *out)
{
	const char *auth = l7r_h2_field(head, ":authority");
	char host[512];
	int err = 0;

	l7r_shadow_host(auth		    ? auth
			: s->q.rq.authority ? s->q.rq.authority
					    : d->target->meta.name,
			host, sizeof(host));
	for (size_t i = 0; !err && i < head->n; i++) {
		const char *n = head->v[i].name, *v = head->v[i].value;

		if (!strcmp(n, ":authority"))
			v = host;
		err = l7r_h2_fields_add(out, n, strlen(n), v, strlen(v));
	}
	if (!err && !auth)
		err = l7r_h2_fields_add(out, ":authority", 10, host, strlen(host));
	return err;
}

/* The stream a copy is made of. */
struct mirror_src {
	const struct l7r_h2s *s;
	const struct l7r_h2_fields *head;
	const struct l7_dest *d;
};

static int fill(struct l7r_mirror *m, void *arg)
{
	struct h2_mirror *j = (struct h2_mirror *)m;
	const struct mirror_src *src = arg;

	return shadow_head(src->s, src->head, src->d, &j->head) ||
	       l7_buf_put(&j->body, src->s->q.body.data, src->s->q.body.len);
}

static const struct l7r_mirror_ops h2_mirror = {
    .size = sizeof(struct h2_mirror), .fill = fill, .run = mirror_main, .drop = drop};

static void mirror_one(struct l7r_h2s *s, const struct l7r_h2_fields *head, const struct l7_dest *d)
{
	struct mirror_src src = {.s = s, .head = head, .d = d};

	l7r_mirror_spawn(s->h->c, d, &h2_mirror, &src);
}

void l7r_h2_mirror(struct l7r_h2s *s, const struct l7r_h2_fields *head)
{
	const struct l7_route *r = s->q.route;
	const struct m_http_route *h = r->r->h;

	bool whole;

	pthread_mutex_lock(&s->h->lock);
	whole = s->in_eof && !s->in_over && !s->in_base;
	pthread_mutex_unlock(&s->h->lock);
	if (!h || !whole)
		return;
	for (size_t i = 0; i < r->nmirrors && i < h->nmirrors; i++)
		if (r->mirrors[i].neps && l7r_rand01() * 100.0 < h->mirrors[i].pct)
			mirror_one(s, head, &r->mirrors[i]);
}
