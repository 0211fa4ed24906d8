// SPDX-License-Identifier: Apache-2.0
/*
 * mirror / mirrors for HTTP/2 streams: a copy of the request, as it goes to the endpoint but with
 * "-shadow" after its authority's host, to an endpoint of each mirror destination drawn with its
 * percentage. The copy speaks HTTP/2 (a gRPC server has no HTTP/1.1 to mirror to) on a
 * connection of its own, on a thread of its own; its response is read and dropped, and nothing
 * about it reaches the client or delays its response. Only a stream whose body is held whole
 * is copied, as for HTTP/1.1.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "l7route/route_h2.h"
#include "l7route/route_pick.h"

struct h2_mirror {
	struct l7route *rt;
	struct skiff_punt_key client;
	struct l7_endpoint ep;
	struct l7r_h2_fields head;
	struct l7_buf body;
};

static void job_free(struct h2_mirror *j)
{
	l7r_h2_fields_free(&j->head);
	l7_buf_free(&j->body);
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
		(void)l7r_h2_once(j->rt, &j->client, &j->ep, nv, j->head.n, &j->body,
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

static void mirror_one(struct l7r_h2s *s, const struct l7r_h2_fields *head, const struct l7_dest *d)
{
	const struct l7_endpoint *ep = l7r_pick_endpoint(d, NULL, 0, l7r_rand32());
	struct l7r_conn *c = s->h->c;
	struct h2_mirror *j;
	pthread_attr_t at;
	pthread_t th;
	int err;

	if (!ep || !(j = calloc(1, sizeof(*j))))
		return;
	j->rt = c->rt;
	j->client = c->client;
	j->ep = *ep;
	err = shadow_head(s, head, d, &j->head) ||
	      l7_buf_put(&j->body, s->q.body.data, s->q.body.len);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 128 << 10);
	if (err || pthread_create(&th, &at, mirror_main, j))
		job_free(j);
	pthread_attr_destroy(&at);
}

void l7r_h2_mirror(struct l7r_h2s *s, const struct l7r_h2_fields *head)
{
	const struct l7_route *r = s->q.route;
	const struct m_http_route *h = r->r->h;

	if (!h || !s->q.body_done)
		return;
	for (size_t i = 0; i < r->nmirrors && i < h->nmirrors; i++)
		if (r->mirrors[i].neps && l7r_rand01() * 100.0 < h->mirrors[i].pct)
			mirror_one(s, head, &r->mirrors[i]);
}
