// SPDX-License-Identifier: Apache-2.0
/*
 * VirtualService: parse spec.hosts/gateways, destinations, and the tcp and tls routes, and apply
 * Istio's validation rules (its pkg/config/validation); http routes are in
 * model_istio_vs_http.c. What is valid but not enforced is recorded in vs->unenforced so that
 * skiffd warns about it instead of silently ignoring it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_istio_vs.h"
#include "model/model_regex.h"

void vs_unenforced(struct vsctx *v, const struct ynode *at, const char *path)
{
	if (!strncmp(path, "spec.", 5))
		path += 5;
	punenforced(v->c, &v->vs->unenforced, &v->vs->nunenforced, at, path);
}

/* ---- hosts and gateways ---- */

static void vs_gateways(struct vsctx *v, const struct ynode *spec)
{
	struct m_virtualservice *vs = v->vs;

	const struct ynode *seq = ynode_get(spec, "gateways");

	if (pstrlist(v->c, spec, "gateways", &vs->gateways, &vs->ngateways, "spec.gateways") < 0)
		seq = NULL; /* reported; the names we got are still checked, at the list's line */
	v->mesh = vs->ngateways == 0;
	for (size_t i = 0; i < vs->ngateways; i++) {
		const struct ynode *at = seq ? seq->items[i] : ynode_get(spec, "gateways");

		if (!strcmp(vs->gateways[i], "mesh")) {
			v->mesh = true;
			continue;
		}
		istio_check_gateway_name(v->c, at, vs->gateways[i], "spec.gateways");
	}
	if (vs->ngateways > (v->mesh ? 1u : 0u))
		vs_unenforced(v, ynode_get(spec, "gateways"), "spec.gateways");
}

static void vs_hosts(struct vsctx *v, const struct ynode *spec)
{
	struct m_virtualservice *vs = v->vs;
	const struct ynode *seq;
	bool all_valid = true;

	if (pstrlist(v->c, spec, "hosts", &vs->hosts, &vs->nhosts, "spec.hosts") < 0)
		return;
	seq = ynode_get(spec, "hosts");
	if (vs->nhosts == 0) {
		perr(v->c, seq ? seq : spec,
		     "spec.hosts is required: list the service names this VirtualService routes "
		     "(delegate VirtualServices are not supported)");
		return;
	}
	for (size_t i = 0; i < vs->nhosts; i++) {
		const char *h = vs->hosts[i];

		if (!istio_host_valid(h, true)) {
			perr(v->c, seq->items[i],
			     "spec.hosts[%zu]: \"%s\" is not a valid host name (DNS-1123 names, "
			     "optionally with a leading wildcard label like *.example.com)",
			     i, h);
			all_valid = false;
		} else if (v->mesh && !strcmp(h, "*")) {
			perr(v->c, seq->items[i],
			     "spec.hosts[%zu]: wildcard host * is not allowed for a VirtualService "
			     "bound to the mesh; name the services, or bind it to a gateway only",
			     i);
			all_valid = false;
		}
	}
	if (!all_valid)
		return;
	for (size_t i = 0; i < vs->nhosts; i++)
		for (size_t j = i + 1; j < vs->nhosts; j++)
			if (istio_hosts_overlap(vs->hosts[i], vs->hosts[j]))
				perr(v->c, seq->items[j],
				     "spec.hosts[%zu]: \"%s\" duplicates or overlaps "
				     "spec.hosts[%zu] "
				     "\"%s\"; list each host once",
				     j, vs->hosts[j], i, vs->hosts[i]);
}

/* ---- destinations ---- */

void vs_destination(struct vsctx *v, const struct ynode *dst, const char *path,
		    struct m_destination *d)
{
	static const char *const known[] = {"host", "subset", "port", NULL};
	struct pctx *c = v->c;
	char p[PATH_MAX_LEN];
	const struct ynode *port;
	int64_t num;

	punknown(c, dst, known, path);
	d->line = dst->line;
	d->host = pstr(c, dst, "host", true, pathf(p, sizeof(p), "%s.host", path));
	if (d->host && !strcmp(d->host, "*"))
		perr(c, ynode_get(dst, "host"),
		     "%s: * is not a valid destination host; name one service", p);
	else if (d->host && !istio_host_valid(d->host, true))
		perr(c, ynode_get(dst, "host"), "%s: \"%s\" is not a valid host name", p, d->host);
	d->subset = pstr(c, dst, "subset", false, pathf(p, sizeof(p), "%s.subset", path));
	if (d->subset && !dns1123_label(d->subset))
		perr(c, ynode_get(dst, "subset"),
		     "%s: \"%s\" is not a valid subset name (DNS-1123 label: lowercase letters, "
		     "digits and '-', at most 63 characters)",
		     p, d->subset);
	port = pget(c, dst, "port", YNODE_MAP, false, pathf(p, sizeof(p), "%s.port", path));
	if (port) {
		static const char *const pknown[] = {"number", NULL};

		punknown(c, port, pknown, p);
		if (pint(c, port, "number", 1, 65535, &num,
			 pathf(p, sizeof(p), "%s.port.number", path)) == 1)
			d->port = (uint32_t)num;
	}
}

void vs_destination_free(struct m_destination *d)
{
	free(d->host);
	free(d->subset);
	m_headers_free(d->headers);
	d->host = d->subset = NULL;
	d->headers = NULL;
}

/* route[]: HTTPRouteDestination / RouteDestination list, into r->dests. */
void vs_route_dests(struct vsctx *v, const struct ynode *seq, const char *path, struct m_route *r,
		    bool http)
{
	static const char *const known_http[] = {"destination", "weight", "headers", NULL};
	static const char *const known_l4[] = {"destination", "weight", NULL};
	struct pctx *c = v->c;
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
	int64_t total = 0, w;

	for (size_t i = 0; i < seq->n; i++) {
		const struct ynode *it = seq->items[i], *dst;
		struct m_destination *d;

		pathf(p, sizeof(p), "%s[%zu]", path, i);
		if (it->kind != YNODE_MAP) {
			perr(c, it, "%s must be a mapping with a destination", p);
			continue;
		}
		punknown(c, it, http ? known_http : known_l4, p);
		d = PUSH(r->dests, r->ndests);
		d->line = it->line;
		dst = pget(c, it, "destination", YNODE_MAP, true,
			   pathf(q, sizeof(q), "%s.destination", p));
		if (dst) {
			vs_destination(v, dst, q, d);
			d->line = it->line;
		}
		if (pint(c, it, "weight", 0, INT32_MAX, &w, pathf(q, sizeof(q), "%s.weight", p)) ==
		    1) {
			d->weight = w;
			d->weight_set = true;
			total += w;
		}
		if (http && ynode_get(it, "headers"))
			vs_headers(v, ynode_get(it, "headers"),
				   pathf(q, sizeof(q), "%s.headers", p), &d->headers);
	}
	if (r->ndests > 1 && total == 0)
		perr(c, seq,
		     "%s: the weights of %zu destinations total 0; give at least one destination a "
		     "weight > 0 (weights are relative and need not sum to 100)",
		     path, r->ndests);
	if (r->ndests > INT32_MAX / 2 || total > INT32_MAX)
		perr(c, seq, "%s: total weight %lld is too large (at most %d)", path,
		     (long long)total, INT32_MAX);
}

/* ---- string matches and percentages ---- */

static void sm_store(struct vsctx *v, const struct ynode *n, const char *path, int which,
		     struct m_string_match *out)
{
	static const enum m_sm_kind kinds[] = {M_SM_EXACT, M_SM_PREFIX, M_SM_REGEX};
	char why[160];

	if (which == 2 && m_regex_problem(n->scalar, why, sizeof(why))) {
		perr(v->c, n, "%s: \"%s\" is not a valid regular expression: %s", path, n->scalar,
		     why);
		return;
	}
	if (!out)
		return;
	out->kind = kinds[which];
	out->value = strdup(n->scalar);
	if (!out->value)
		abort();
	if (which == 2)
		out->re = m_regex_compile(n->scalar, true, false);
}

/*
 * StringMatch {exact|prefix|regex} into `out` (NULL: validate only). An empty map is a presence
 * match (headers) and is allowed. Regexes are RE2 (model_regex.h), matched whole.
 */
void vs_string_match(struct vsctx *v, const struct ynode *sm, const char *path,
		     bool empty_prefix_ok, bool star_regex_ok, struct m_string_match *out)
{
	static const char *const known[] = {"exact", "prefix", "regex", NULL};
	struct pctx *c = v->c;
	const struct ynode *n;
	char p[PATH_MAX_LEN];
	int set = 0;

	if (sm->kind != YNODE_MAP) {
		perr(c, sm, "%s must be a mapping with one of exact, prefix or regex", path);
		return;
	}
	punknown(c, sm, known, path);
	if (out)
		out->kind = M_SM_PRESENT;
	for (int i = 0; known[i]; i++) {
		n = pget(c, sm, known[i], YNODE_SCALAR, false,
			 pathf(p, sizeof(p), "%s.%s", path, known[i]));
		if (!n)
			continue;
		if (set++)
			continue; /* reported below; the first one is kept */
		if (i == 1 && !empty_prefix_ok && !n->scalar[0])
			perr(c, n, "%s must not be empty (use exact, or a non-empty prefix)", p);
		else if (i == 2 && star_regex_ok && !strcmp(n->scalar, "*"))
			continue; /* withoutHeaders regex "*": any value, i.e. presence */
		else
			sm_store(v, n, p, i, out);
	}
	if (set > 1)
		perr(c, sm, "%s: set only one of exact, prefix or regex", path);
}

void vs_percentage(struct vsctx *v, const struct ynode *parent, const char *key, const char *path,
		   double *out)
{
	static const char *const known[] = {"value", NULL};
	const struct ynode *pc;
	char p[PATH_MAX_LEN];

	pc = pget(v->c, parent, key, YNODE_MAP, false, pathf(p, sizeof(p), "%s.%s", path, key));
	if (!pc)
		return;
	punknown(v->c, pc, known, p);
	pathf(p, sizeof(p), "%s.%s.value", path, key);
	if (istio_percent(v->c, pc, "value", p) == 1)
		istio_number(v->c, pc, "value", out, p);
	else if (!ynode_get(pc, "value"))
		*out = 0; /* an empty Percent is 0 %: the action never happens */
}

/* The deprecated integer `percent` of faults and mirrors: still valid, with a warning. */
void vs_old_percent(struct vsctx *v, const struct ynode *parent, const char *key, const char *path,
		    const char *instead, double *out)
{
	char p[PATH_MAX_LEN];
	int64_t pct;

	if (pint(v->c, parent, key, 0, 100, &pct, pathf(p, sizeof(p), "%s.%s", path, key)) == 1) {
		pwarn(v->c, ynode_get(parent, key), "%s is deprecated; use %s.%s instead", p, path,
		      instead);
		*out = (double)pct;
	}
}

void vs_cors(struct vsctx *v, const struct ynode *cp, const char *path)
{
	static const char *const known[] = {
	    "allowOrigins",	"allowOrigin",	       "allowMethods",
	    "allowHeaders",	"exposeHeaders",       "maxAge",
	    "allowCredentials", "unmatchedPreflights", NULL};
	static const char *const lists[] = {"allowOrigin", "allowMethods", "allowHeaders",
					    "exposeHeaders", NULL};
	static const char *const preflight[] = {"UNSPECIFIED", "FORWARD", "IGNORE", NULL};
	struct pctx *c = v->c;
	char p[PATH_MAX_LEN];
	const struct ynode *o;
	char **l;
	size_t n;
	int64_t ms;
	bool b;

	punknown(c, cp, known, path);
	for (int i = 0; lists[i]; i++) {
		l = NULL;
		n = 0;
		pstrlist(c, cp, lists[i], &l, &n, pathf(p, sizeof(p), "%s.%s", path, lists[i]));
		istio_strlist_free(l, n);
	}
	o = pget(c, cp, "allowOrigins", YNODE_SEQ, false,
		 pathf(p, sizeof(p), "%s.allowOrigins", path));
	for (size_t i = 0; o && i < o->n; i++)
		vs_string_match(v, o->items[i],
				pathf(p, sizeof(p), "%s.allowOrigins[%zu]", path, i), false, false,
				NULL);
	if (ynode_get(cp, "allowOrigin"))
		pwarn(c, ynode_get(cp, "allowOrigin"),
		      "%s.allowOrigin is deprecated; use allowOrigins", path);
	pduration(c, cp, "maxAge", &ms, pathf(p, sizeof(p), "%s.maxAge", path));
	pbool(c, cp, "allowCredentials", &b, pathf(p, sizeof(p), "%s.allowCredentials", path));
	istio_check_enum(c, cp, "unmatchedPreflights", preflight,
			 pathf(p, sizeof(p), "%s.unmatchedPreflights", path));
}

/* ---- tcp and tls ---- */

/* Whether a tcp match entry applies to mesh traffic: no gateways, or "mesh" among them. */
static bool l4_match_for_mesh(const struct ynode *m)
{
	const struct ynode *gw = ynode_get(m, "gateways");

	for (size_t i = 0; gw && gw->kind == YNODE_SEQ && i < gw->n; i++)
		if (gw->items[i]->kind == YNODE_SCALAR && !strcmp(gw->items[i]->scalar, "mesh"))
			return true;
	return !gw;
}

/*
 * One tcp match entry. The kernel chooses a port's route without knowing the client, so an
 * entry is applied when it names at most a port (and gateways including mesh); one that also
 * names sources or subnets is recorded as not enforced and never chosen.
 */
static void vs_tcp_match(struct vsctx *v, const struct ynode *m, const char *path,
			 struct m_route *r)
{
	static const char *const kernel_keys[] = {"port", "gateways", NULL};
	int64_t port = 0;

	if (!istio_l4_match(v->c, m, path, false, &port) || port < 0)
		return;
	if (!l4_match_for_mesh(m)) {
		vs_unenforced(v, m, path); /* for gateways only: skiff runs none */
		return;
	}
	for (size_t i = 0; i < m->n; i++) {
		size_t k = 0;

		while (kernel_keys[k] && strcmp(kernel_keys[k], m->keys[i]))
			k++;
		if (!kernel_keys[k]) {
			vs_unenforced(v, m, path);
			return;
		}
	}
	*PUSH(r->ports, r->nports) = (uint16_t)port;
}

/* match[] of a tcp route: true when it has entries (the route is then port-scoped). */
static bool vs_tcp_matches(struct vsctx *v, const struct ynode *route, const char *path,
			   struct m_route *r)
{
	const struct ynode *seq;
	char p[PATH_MAX_LEN];

	seq = pget(v->c, route, "match", YNODE_SEQ, false, pathf(p, sizeof(p), "%s.match", path));
	if (!seq || seq->n == 0)
		return false;
	for (size_t i = 0; i < seq->n; i++) {
		char q[PATH_MAX_LEN];

		vs_tcp_match(v, seq->items[i], pathf(q, sizeof(q), "%s[%zu]", p, i), r);
	}
	return true;
}

static void vs_tcp_one(struct vsctx *v, const struct ynode *t, const char *path, struct m_route *r)
{
	static const char *const known[] = {"match", "route", NULL};
	const struct ynode *n;
	char p[PATH_MAX_LEN];

	r->line = t->line;
	if (t->kind != YNODE_MAP) {
		perr(v->c, t, "%s must be a mapping", path);
		return;
	}
	punknown(v->c, t, known, path);
	r->has_match = vs_tcp_matches(v, t, path, r);
	n = pget(v->c, t, "route", YNODE_SEQ, true, pathf(p, sizeof(p), "%s.route", path));
	if (n && n->n == 0)
		perr(v->c, n, "%s must list at least one destination", p);
	else if (n)
		vs_route_dests(v, n, p, r, false);
}

static void vs_sni_hosts(struct vsctx *v, const struct ynode *m, const char *path)
{
	const struct m_virtualservice *vs = v->vs;
	char **sni = NULL;
	size_t nsni = 0;
	char p[PATH_MAX_LEN];

	pathf(p, sizeof(p), "%s.sniHosts", path);
	if (pstrlist(v->c, m, "sniHosts", &sni, &nsni, p) < 0)
		return;
	if (nsni == 0)
		perr(v->c, m, "%s is required: a TLS route matches on SNI", p);
	for (size_t i = 0; i < nsni; i++) {
		bool inside = false;

		for (size_t j = 0; j < vs->nhosts && !inside; j++)
			inside = istio_host_within(sni[i], vs->hosts[j]);
		if (!inside)
			perr(v->c, ynode_get(m, "sniHosts")->items[i],
			     "%s[%zu]: \"%s\" is not one of this VirtualService's hosts", p, i,
			     sni[i]);
	}
	istio_strlist_free(sni, nsni);
}

static void vs_tls_one(struct vsctx *v, const struct ynode *t, const char *path)
{
	static const char *const known[] = {"match", "route", NULL};
	struct m_route scratch = {0};
	const struct ynode *seq;
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN];

	if (t->kind != YNODE_MAP) {
		perr(v->c, t, "%s must be a mapping", path);
		return;
	}
	punknown(v->c, t, known, path);
	seq = pget(v->c, t, "match", YNODE_SEQ, true, pathf(p, sizeof(p), "%s.match", path));
	if (seq && seq->n == 0)
		perr(v->c, seq, "%s must have at least one entry with sniHosts", p);
	for (size_t i = 0; seq && i < seq->n; i++) {
		pathf(q, sizeof(q), "%s[%zu]", p, i);
		if (istio_l4_match(v->c, seq->items[i], q, true, NULL))
			vs_sni_hosts(v, seq->items[i], q);
	}
	seq = pget(v->c, t, "route", YNODE_SEQ, true, pathf(p, sizeof(p), "%s.route", path));
	if (seq && seq->n == 0)
		perr(v->c, seq, "%s must list at least one destination", p);
	else if (seq)
		vs_route_dests(v, seq, p, &scratch, false);
	for (size_t i = 0; i < scratch.ndests; i++)
		vs_destination_free(&scratch.dests[i]);
	free(scratch.dests);
	vs_unenforced(v, t, path);
}

/* http, tcp or tls: a sequence of routes. Returns the sequence or NULL. */
static const struct ynode *vs_routes(struct vsctx *v, const struct ynode *spec, const char *key)
{
	char p[PATH_MAX_LEN];

	return pget(v->c, spec, key, YNODE_SEQ, false, pathf(p, sizeof(p), "spec.%s", key));
}

static void vs_all_routes(struct vsctx *v, const struct ynode *spec)
{
	struct m_virtualservice *vs = v->vs;
	const struct ynode *seq;
	char p[PATH_MAX_LEN];

	seq = vs_routes(v, spec, "http");
	for (size_t i = 0; seq && i < seq->n; i++)
		vs_http_one(v, seq->items[i], pathf(p, sizeof(p), "spec.http[%zu]", i),
			    PUSH(vs->http, vs->nhttp));
	seq = vs_routes(v, spec, "tcp");
	for (size_t i = 0; seq && i < seq->n; i++)
		vs_tcp_one(v, seq->items[i], pathf(p, sizeof(p), "spec.tcp[%zu]", i),
			   PUSH(vs->tcp, vs->ntcp));
	seq = vs_routes(v, spec, "tls");
	for (size_t i = 0; seq && i < seq->n; i++, vs->ntls++)
		vs_tls_one(v, seq->items[i], pathf(p, sizeof(p), "spec.tls[%zu]", i));
	if (vs->nhttp + vs->ntcp + vs->ntls == 0)
		perr(v->c, spec, "spec: at least one of http, tcp or tls routes is required");
}

int parse_virtualservice(struct pctx *c)
{
	static const char *const known[] = {"hosts", "gateways", "http", "tcp",
					    "tls",   "exportTo", NULL};
	struct vsctx v = {.c = c};
	const struct ynode *spec;
	int errors = c->errors;

	v.vs = PUSH(c->m->virtualservices, c->m->nvirtualservices);
	pmeta(c, &v.vs->meta, true);
	spec = pget(c, c->doc, "spec", YNODE_MAP, true, "spec");
	if (!spec)
		return -EINVAL;
	punknown(c, spec, known, "spec");
	vs_gateways(&v, spec);
	vs_hosts(&v, spec);
	if (istio_check_export_to(c, spec, "spec.exportTo"))
		vs_unenforced(&v, ynode_get(spec, "exportTo"), "spec.exportTo");
	vs_all_routes(&v, spec);
	return c->errors > errors ? -EINVAL : 0;
}
