// SPDX-License-Identifier: Apache-2.0
/*
 * The L7 router's table (compile_l7.h): for every L7 service port and IP family, the
 * VirtualService's http routes in order (or, without one, a route to the Service itself), each
 * destination resolved to the ready endpoints of its subset in the VIP's family, and whether each
 * endpoint is on this node.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "compile/compile_internal.h"
#include "compile/compile_l7.h"

/* The ready endpoints of destination `cd` on port `tp` of its target, in the VIP's family. */
static int endpoints_on(const struct cc_index *ix, const struct cc_dest *cd,
			const struct m_service_port *tp, const struct cc_svcport *sp,
			const char *node, struct l7_dest *out)
{
	struct cc_slots slots = {0};
	int n;

	out->dst = cd->dst;
	out->target = cd->target;
	out->weight = cd->weight;
	out->port = tp->port;
	n = compile_endpoints(ix, cd->target, tp, sp->family, cd->subset, &slots);
	if (n < 0)
		return n;
	out->eps = calloc(slots.n ? slots.n : 1, sizeof(*out->eps));
	if (!out->eps) {
		compile_slots_free(&slots);
		return -ENOMEM;
	}
	for (size_t i = 0; i < slots.n; i++) {
		struct l7_endpoint *e = &out->eps[out->neps++];
		const struct m_pod *pod;

		e->addr.addr = slots.v[i].addr;
		e->addr.port = htons(slots.v[i].port);
		e->addr.family = slots.v[i].family;
		pod = compile_index_pod_by_addr(ix, &slots.v[i].addr, slots.v[i].family);
		e->pod = pod;
		e->local = pod && pod->node_name && node && !strcmp(pod->node_name, node);
	}
	compile_slots_free(&slots);
	return 0;
}

static int dest_endpoints(const struct cc_index *ix, const struct m_virtualservice *vs,
			  const struct cc_dest *cd, const struct cc_svcport *sp, const char *node,
			  struct l7_dest *out, struct diag *d)
{
	const struct m_service_port *tp;

	out->dst = cd->dst;
	out->target = cd->target;
	out->weight = cd->weight;
	tp = compile_dest_port(vs, cd, sp->port->port, IPPROTO_TCP, d);
	if (!tp)
		return -EINVAL;
	return endpoints_on(ix, cd, tp, sp, node, out);
}

/* Mirrors resolve like destinations; one that does not resolve is left without endpoints. */
static int route_mirrors(const struct cc_index *ix, const struct m_virtualservice *vs,
			 const struct m_route *rt, const struct cc_svcport *sp, const char *node,
			 struct l7_route *lr, struct diag *d)
{
	const struct m_http_route *h = rt->h;

	if (!h || !h->nmirrors)
		return 0;
	lr->mirrors = calloc(h->nmirrors, sizeof(*lr->mirrors));
	if (!lr->mirrors)
		return -ENOMEM;
	lr->nmirrors = h->nmirrors;
	for (size_t i = 0; i < h->nmirrors; i++) {
		struct m_route one = {.dests = (struct m_destination *)&h->mirrors[i].dest,
				      .ndests = 1};
		struct cc_route cr;
		int err = compile_resolve_route(ix, vs, &one, &cr, d);

		if (err == -ENOMEM)
			return err;
		if (!err && cr.ndests)
			err = dest_endpoints(ix, vs, &cr.dests[0], sp, node, &lr->mirrors[i], d);
		compile_route_free(&cr);
		if (err == -ENOMEM)
			return err;
	}
	return 0;
}

static int one_route(const struct cc_index *ix, const struct m_virtualservice *vs,
		     const struct m_route *rt, const struct cc_svcport *sp, const char *node,
		     struct l7_route *lr, struct diag *d)
{
	struct cc_route cr;
	int err;

	lr->r = rt;
	err = compile_resolve_route(ix, vs, rt, &cr, d);
	if (err)
		return err;
	lr->dests = calloc(cr.ndests ? cr.ndests : 1, sizeof(*lr->dests));
	if (!lr->dests)
		err = -ENOMEM;
	for (size_t i = 0; !err && i < cr.ndests; i++) {
		err = dest_endpoints(ix, vs, &cr.dests[i], sp, node, &lr->dests[lr->ndests], d);
		lr->total += lr->dests[lr->ndests].weight;
		lr->ndests++;
	}
	compile_route_free(&cr);
	return err ? err : route_mirrors(ix, vs, rt, sp, node, lr, d);
}

static void svcport_head(const struct cc_svcport *sp, const struct m_virtualservice *vs,
			 struct l7_svcport *out)
{
	out->vip.addr = sp->addr;
	out->vip.port = htons(sp->port->port);
	out->vip.family = sp->family;
	out->svc = sp->svc;
	out->port = sp->port;
	out->vs = vs;
}

static int one_svcport(const struct cc_index *ix, const struct m_virtualservice *vs,
		       const struct cc_svcport *sp, const char *node, struct l7_svcport *out,
		       struct diag *d)
{
	int err = 0;

	svcport_head(sp, vs, out);
	out->routes = calloc(vs->nhttp ? vs->nhttp : 1, sizeof(*out->routes));
	if (!out->routes)
		return -ENOMEM;
	for (size_t i = 0; i < vs->nhttp && err != -ENOMEM; i++) {
		int e = one_route(ix, vs, &vs->http[i], sp, node, &out->routes[out->nroutes++], d);

		if (e)
			err = e;
	}
	return err;
}

/* The route and destination Istio gives a Service no VirtualService routes, in one block the
 * table owns: no match, no action, the Service itself with every endpoint on the port dialled. */
struct self_route {
	struct m_route r;
	struct m_destination dst;
};

/* A port no VirtualService routes, made L7 by a DestinationRule: one route to the Service. */
static int self_svcport(const struct cc_index *ix, const struct cc_svcport *sp, const char *node,
			struct l7_svcport *out)
{
	struct self_route *sr = calloc(1, sizeof(*sr));
	struct cc_dest cd = {.target = sp->svc, .weight = 1};

	svcport_head(sp, NULL, out);
	out->routes = calloc(1, sizeof(*out->routes));
	if (!sr || !out->routes) {
		free(sr);
		return -ENOMEM;
	}
	sr->dst.host = sp->svc->meta.name;
	sr->dst.line = sp->svc->meta.line;
	sr->r.dests = &sr->dst;
	sr->r.ndests = 1;
	sr->r.line = sp->svc->meta.line;
	out->self_route = &sr->r; /* first member: l7_table_free frees the block through it */
	cd.dst = &sr->dst;
	out->nroutes = 1;
	out->routes[0].r = &sr->r;
	out->routes[0].total = 1;
	out->routes[0].dests = calloc(1, sizeof(*out->routes[0].dests));
	if (!out->routes[0].dests)
		return -ENOMEM;
	out->routes[0].ndests = 1;
	return endpoints_on(ix, &cd, sp->port, sp, node, &out->routes[0].dests[0]);
}

static int vip_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct l7_svcport *)a)->vip, &((const struct l7_svcport *)b)->vip,
		      sizeof(struct skiff_sock_origin));
}

/* The table from lookup tables already built: a full compile's, or compile_live's with the
 * EndpointSlices changed since. */
int compile_l7_table_ix(const struct model *m, const struct cc_index *ix,
			const struct cc_svcport *sps, size_t nsps, const char *node,
			struct l7_table *t, struct diag *d)
{
	int err = 0;

	memset(t, 0, sizeof(*t));
	t->m = m;
	t->v = calloc(nsps ? nsps : 1, sizeof(*t->v));
	if (!t->v)
		return -ENOMEM;
	for (size_t i = 0; i < nsps && err != -ENOMEM; i++) {
		const struct m_virtualservice *vs = compile_find_vs(ix, sps[i].svc, d);
		int e;

		if (!compile_l7_port(ix, vs, sps[i].svc, sps[i].port, d))
			continue;
		if (vs)
			e = one_svcport(ix, vs, &sps[i], node, &t->v[t->n++], d);
		else
			e = self_svcport(ix, &sps[i], node, &t->v[t->n++]);
		if (e)
			err = e;
	}
	if (err) {
		l7_table_free(t);
		return err;
	}
	qsort(t->v, t->n, sizeof(*t->v), vip_cmp);
	return 0;
}

int compile_l7_table(const struct model *m, const char *node, struct l7_table *t, struct diag *d)
{
	struct cc_svcport *sps = NULL;
	struct cc_index ix;
	size_t nsps = 0;
	int err;

	memset(t, 0, sizeof(*t));
	t->m = m;
	err = compile_svcports(m, &sps, &nsps, d);
	if (err)
		return err;
	if (compile_index_build(m, &ix)) {
		free(sps);
		return -ENOMEM;
	}
	err = compile_l7_table_ix(m, &ix, sps, nsps, node, t, d);
	compile_index_free(&ix);
	free(sps);
	return err;
}

const struct l7_svcport *l7_table_find(const struct l7_table *t,
				       const struct skiff_sock_origin *vip)
{
	struct l7_svcport key;

	memset(&key, 0, sizeof(key));
	key.vip.addr = vip->addr;
	key.vip.port = vip->port;
	key.vip.family = vip->family;
	if (!t || !t->n)
		return NULL;
	return bsearch(&key, t->v, t->n, sizeof(*t->v), vip_cmp);
}

static void dests_free(struct l7_dest *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].eps);
	free(v);
}

void l7_table_free(struct l7_table *t)
{
	for (size_t i = 0; t && i < t->n; i++) {
		for (size_t k = 0; k < t->v[i].nroutes; k++) {
			dests_free(t->v[i].routes[k].dests, t->v[i].routes[k].ndests);
			dests_free(t->v[i].routes[k].mirrors, t->v[i].routes[k].nmirrors);
		}
		free(t->v[i].routes);
		free(t->v[i].self_route);
	}
	if (t) {
		free(t->v);
		memset(t, 0, sizeof(*t));
	}
}
