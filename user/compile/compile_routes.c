// SPDX-License-Identifier: Apache-2.0
/*
 * Which VirtualService and which route decide where connections to a Service go, and what each
 * destination of that route means: the target Service, its subset (through the DestinationRule
 * of the target host), its weight.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile_internal.h"
#include "compile/compile_l7.h"

void compile_svc_fqdn(const struct m_service *svc, char *buf, size_t len)
{
	snprintf(buf, len, "%s.%s.svc.cluster.local", svc->meta.name, svc->meta.ns);
}

void compile_diag_once(struct diag *d, enum diag_level lvl, const char *file, int line,
		       const char *fmt, ...)
{
	char body[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (diag_contains(d, body))
		return;
	diag_add(d, lvl, file, line, "%s", body);
}

/* Is `a` a better choice than `b` for `svc`: same namespace first, then lowest ns/name. */
static bool vs_better(const struct m_virtualservice *a, const struct m_virtualservice *b,
		      const struct m_service *svc)
{
	bool a_local = !strcmp(a->meta.ns, svc->meta.ns);
	bool b_local = !strcmp(b->meta.ns, svc->meta.ns);
	int c;

	if (a_local != b_local)
		return a_local;
	c = strcmp(a->meta.ns, b->meta.ns);
	if (c)
		return c < 0;
	return strcmp(a->meta.name, b->meta.name) < 0;
}

/* The VirtualService for `svc` among the mesh-bound ones whose hosts resolve to it; the others
 * are named in a warning. */
static const struct m_virtualservice *find_vs(const struct cc_index *ix,
					      const struct m_service *svc, struct diag *d)
{
	const struct m_virtualservice *best = NULL;
	const struct cc_pair *v;
	size_t n;

	v = compile_index_pairs(ix->vs, ix->nvs, ix, svc, &n);
	for (size_t i = 0; i < n; i++) {
		const struct m_virtualservice *vs = v[i].obj;

		if (!best || vs_better(vs, best, svc))
			best = vs;
	}
	for (size_t i = 0; i < n; i++) {
		const struct m_virtualservice *vs = v[i].obj;

		if (vs == best ||
		    !vs) /* an index pair always has its object; the analyzer doubts */
			continue;
		compile_diag_once(d, DIAG_WARN, vs->meta.file, vs->meta.line,
				  "VirtualService %s/%s: ignored for Service %s/%s, which "
				  "VirtualService %s/%s already routes; merge the two",
				  vs->meta.ns, vs->meta.name, svc->meta.ns, svc->meta.name,
				  best->meta.ns, best->meta.name);
	}
	return best;
}

/* The route the kernel can apply: the first one that matches everything. */
static bool tcp_route_on_port(const struct m_route *r, uint16_t port)
{
	if (!r->has_match)
		return true;
	for (size_t i = 0; i < r->nports; i++)
		if (!r->ports[i] || r->ports[i] == port)
			return true;
	return false;
}

static const struct m_route *first_http(const struct m_virtualservice *vs)
{
	for (size_t i = 0; i < vs->nhttp; i++)
		if (!vs->http[i].has_match)
			return &vs->http[i];
	return NULL;
}

static const struct m_route *first_tcp(const struct m_virtualservice *vs, uint16_t port)
{
	for (size_t i = 0; i < vs->ntcp; i++)
		if (tcp_route_on_port(&vs->tcp[i], port))
			return &vs->tcp[i];
	return NULL;
}

static void warn_routes_skip_port(const struct m_virtualservice *vs, const struct m_service *svc,
				  const struct m_service_port *p, const char *kind, struct diag *d)
{
	compile_diag_once(d, DIAG_WARN, vs->meta.file, vs->meta.line,
			  "VirtualService %s/%s: its %s routes do not apply to Service %s/%s "
			  "port %u (%s), which %s HTTP; connections to it go to the Service's "
			  "endpoints (add a %s route, or set the port's name or appProtocol)",
			  vs->meta.ns, vs->meta.name, kind, svc->meta.ns, svc->meta.name, p->port,
			  p->app_protocol ? p->app_protocol : p->name,
			  kind[0] == 'h' ? "is not" : "is", kind[0] == 'h' ? "tcp" : "http");
}

/*
 * The route the kernel's slots carry for one port, chosen as Istio's outbound listener for that
 * port would without reading a request: on an HTTP port the first http route without a match
 * (matched ones are the router's); on a port declared another protocol the first tcp route with
 * no match or one naming the port; on an unnamed port (Istio sniffs; the kernel cannot) the
 * http catch-all, else that tcp route.
 */
static const struct m_route *pick_route(const struct m_virtualservice *vs,
					const struct m_service *svc, const struct m_service_port *p,
					struct diag *d)
{
	enum port_proto proto = p->proto == IPPROTO_TCP ? compile_port_proto(p) : PORT_PROTO_UNSET;
	const struct m_route *http = proto == PORT_PROTO_OTHER ? NULL : first_http(vs);
	const struct m_route *tcp =
	    proto == PORT_PROTO_HTTP || proto == PORT_PROTO_HTTP2 ? NULL : first_tcp(vs, p->port);

	if (http)
		return http;
	if (tcp)
		return tcp;
	if (proto == PORT_PROTO_OTHER && vs->nhttp && !vs->ntcp)
		warn_routes_skip_port(vs, svc, p, "http", d);
	else if (proto != PORT_PROTO_OTHER && proto != PORT_PROTO_UNSET && vs->ntcp && !vs->nhttp)
		warn_routes_skip_port(vs, svc, p, "tcp", d);
	else if (proto != PORT_PROTO_OTHER && vs->nhttp)
		compile_diag_once(
		    d, DIAG_WARN, vs->meta.file, vs->meta.line,
		    "VirtualService %s/%s: only matched routes; connections the kernel keeps (a "
		    "non-HTTP port, or no outbound listener) get equal weights (add a route "
		    "without "
		    "match to set weights)",
		    vs->meta.ns, vs->meta.name);
	return NULL;
}

/*
 * The subset `name` of `target`, from the first namespace that has a DestinationRule for it:
 * the target's namespace, the VirtualService's, then the root namespace. Several DRs for one
 * host in that namespace: Istio merges their subsets, so any of them may define it.
 */
static const struct m_subset *find_subset(const struct cc_index *ix, const struct m_service *target,
					  const char *vs_ns, const char *name)
{
	const char *order[3] = {target->meta.ns, vs_ns, ix->m->root_namespace};
	const struct cc_pair *v;
	size_t n;

	v = compile_index_pairs(ix->dr, ix->ndr, ix, target, &n);
	for (size_t o = 0; o < 3; o++) {
		bool seen = false;

		for (size_t i = 0; order[o] && i < n; i++) {
			const struct m_destinationrule *dr = v[i].obj;

			if (strcmp(dr->meta.ns, order[o]))
				continue;
			seen = true;
			for (size_t k = 0; k < dr->nsubsets; k++)
				if (!strcmp(dr->subsets[k].name, name))
					return &dr->subsets[k];
		}
		if (seen)
			return NULL;
	}
	return NULL;
}

static int resolve_dest(const struct cc_index *ix, const struct m_virtualservice *vs,
			const struct m_destination *dst, struct cc_dest *out, struct diag *d)
{
	const struct meta *vm = &vs->meta;
	char fqdn[512];

	out->dst = dst;
	out->target = model_resolve_host(ix->m, vm->ns, dst->host);
	if (!out->target) {
		compile_diag_once(
		    d, DIAG_ERROR, vm->file, dst->line,
		    "VirtualService %s/%s: route destination host %s is not a Service "
		    "(write name, name.namespace or the FQDN of a Service)",
		    vm->ns, vm->name, dst->host);
		return -EINVAL;
	}
	if (!dst->subset)
		return 0;
	out->subset = find_subset(ix, out->target, vm->ns, dst->subset);
	if (out->subset)
		return 0;
	compile_svc_fqdn(out->target, fqdn, sizeof(fqdn));
	compile_diag_once(d, DIAG_ERROR, vm->file, dst->line,
			  "VirtualService %s/%s: route destination %s subset %s is not defined in "
			  "any DestinationRule for %s (add it to the DestinationRule's subsets or "
			  "remove it from the route)",
			  vm->ns, vm->name, dst->host, dst->subset, fqdn);
	return -EINVAL;
}

/*
 * Weight of destination i: a single destination takes everything, whatever its weight. Several
 * destinations whose weights total 0 are rejected by validation; should one get here, it is
 * read as equal weights rather than as a route to nowhere.
 */
static uint64_t dest_weight(const struct m_route *rt, size_t i)
{
	bool any = false;

	if (rt->ndests == 1)
		return 1;
	for (size_t k = 0; k < rt->ndests; k++)
		any |= rt->dests[k].weight > 0;
	if (!any)
		return 1;
	return rt->dests[i].weight > 0 ? (uint64_t)rt->dests[i].weight : 0;
}

static int resolve_route(const struct cc_index *ix, const struct m_virtualservice *vs,
			 const struct m_route *rt, struct cc_route *r, struct diag *d)
{
	int err = 0;

	r->dests = calloc(rt->ndests ? rt->ndests : 1, sizeof(*r->dests));
	if (!r->dests)
		return -ENOMEM;
	for (size_t i = 0; i < rt->ndests; i++) {
		uint64_t w = dest_weight(rt, i);
		struct cc_dest cd = {.weight = w};

		if (w > UINT32_MAX) {
			compile_diag_once(d, DIAG_ERROR, vs->meta.file, rt->dests[i].line,
					  "VirtualService %s/%s: weight %llu is larger than %u",
					  vs->meta.ns, vs->meta.name, (unsigned long long)w,
					  UINT32_MAX);
			err = -EINVAL;
			continue;
		}
		/* Report an unusable destination even at weight 0: it is a config mistake. */
		if (resolve_dest(ix, vs, &rt->dests[i], &cd, d)) {
			err = -EINVAL;
			continue;
		}
		if (w)
			r->dests[r->ndests++] = cd;
	}
	return err;
}

const struct m_virtualservice *compile_find_vs(const struct cc_index *ix,
					       const struct m_service *svc, struct diag *d)
{
	return find_vs(ix, svc, d);
}

int compile_resolve_route(const struct cc_index *ix, const struct m_virtualservice *vs,
			  const struct m_route *rt, struct cc_route *r, struct diag *d)
{
	int err;

	memset(r, 0, sizeof(*r));
	r->vs = vs;
	err = resolve_route(ix, vs, rt, r, d);
	if (err)
		compile_route_free(r);
	return err;
}

int compile_route_for(const struct cc_index *ix, const struct m_service *svc,
		      const struct m_service_port *port, struct cc_route *r, struct diag *d)
{
	const struct m_route *rt;
	int err;

	memset(r, 0, sizeof(*r));
	r->vs = find_vs(ix, svc, d);
	if (!r->vs)
		return 0;
	rt = pick_route(r->vs, svc, port, d);
	if (!rt || !rt->ndests) {
		r->vs = NULL;
		return 0;
	}
	err = resolve_route(ix, r->vs, rt, r, d);
	if (err)
		compile_route_free(r);
	return err;
}

void compile_route_free(struct cc_route *r)
{
	free(r->dests);
	memset(r, 0, sizeof(*r));
}

const struct m_service_port *compile_dest_port(const struct m_virtualservice *vs,
					       const struct cc_dest *dest, uint16_t port,
					       uint8_t proto, struct diag *d)
{
	const struct m_service *t = dest->target;
	const struct m_service_port *any = NULL;
	uint32_t want = dest->dst->port ? dest->dst->port : port;

	/* Same number; the dialled protocol first (DNS has 53/UDP and 53/TCP). */
	for (size_t i = 0; i < t->nports; i++) {
		if (t->ports[i].port != want)
			continue;
		if (t->ports[i].proto == proto)
			return &t->ports[i];
		if (!any)
			any = &t->ports[i];
	}
	if (any)
		return any;
	if (!dest->dst->port && t->nports == 1)
		return &t->ports[0];
	if (dest->dst->port)
		compile_diag_once(
		    d, DIAG_ERROR, vs->meta.file, dest->dst->line,
		    "VirtualService %s/%s: route destination %s port %u is not a port "
		    "of Service %s/%s",
		    vs->meta.ns, vs->meta.name, dest->dst->host, dest->dst->port, t->meta.ns,
		    t->meta.name);
	else
		compile_diag_once(d, DIAG_ERROR, vs->meta.file, dest->dst->line,
				  "VirtualService %s/%s: route destination %s has no port %u and "
				  "several ports; set destination.port",
				  vs->meta.ns, vs->meta.name, dest->dst->host, port);
	return NULL;
}

static int check_routes(const struct cc_index *ix, const struct m_virtualservice *vs,
			const struct m_route *routes, size_t n, struct diag *d)
{
	int err = 0;

	for (size_t r = 0; r < n; r++) {
		for (size_t i = 0; i < routes[r].ndests; i++) {
			struct cc_dest cd = {0};

			if (resolve_dest(ix, vs, &routes[r].dests[i], &cd, d))
				err = -EINVAL;
		}
	}
	return err;
}

/*
 * Every destination of every mesh VirtualService must resolve — not only the route the kernel
 * uses today. A typo in a matched route, or in a VirtualService shadowed by another, is a mistake
 * that would bite the moment L7 routing or a merge makes it live; refuse it now, with its line.
 */
int compile_check_destinations(const struct cc_index *ix, struct diag *d)
{
	int err = 0;

	for (size_t i = 0; i < ix->nvs; i++) {
		const struct m_virtualservice *vs = ix->vs[i].obj;
		bool seen = false;

		for (size_t k = 0; k < i && !seen; k++)
			seen = ix->vs[k].obj == vs;
		if (seen)
			continue;
		if (check_routes(ix, vs, vs->http, vs->nhttp, d) ||
		    check_routes(ix, vs, vs->tcp, vs->ntcp, d))
			err = -EINVAL;
	}
	return err;
}
