// SPDX-License-Identifier: Apache-2.0
/*
 * VirtualService: parse spec.hosts/gateways and the http, tcp and tls routes, and apply Istio's
 * validation rules (its pkg/config/validation). The kernel enforces weighted destinations only;
 * everything else that is valid (matches, retries, faults, ...) is recorded in vs->unenforced so
 * that skiffd warns about it instead of silently ignoring it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_istio_common.h"

#define PATH_MAX_LEN 256

struct vsctx {
	struct pctx *c;
	struct m_virtualservice *vs;
	bool mesh; /* bound to the mesh: no gateways, or "mesh" among them */
};

/* Record `path` ("spec.http[0].retries") as valid but not enforced; stored without "spec.". */
static void unenforced(struct vsctx *v, const struct ynode *at, const char *path)
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
		unenforced(v, ynode_get(spec, "gateways"), "spec.gateways");
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

/* Destination {host, subset, port.number}; fills `d` (owned strings). */
static void vs_destination(struct vsctx *v, const struct ynode *dst, const char *path,
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

static void vs_destination_scratch(struct vsctx *v, const struct ynode *dst, const char *path)
{
	struct m_destination d = {0};

	vs_destination(v, dst, path, &d);
	free(d.host);
	free(d.subset);
}

static void vs_headers(struct vsctx *v, const struct ynode *h, const char *path);

/* route[]: HTTPRouteDestination / RouteDestination list, into r->dests. */
static void vs_route_dests(struct vsctx *v, const struct ynode *seq, const char *path,
			   struct m_route *r, bool http)
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
				   pathf(q, sizeof(q), "%s.headers", p));
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

/* ---- matches ---- */

/*
 * StringMatch {exact|prefix|regex}. An empty map is a presence match (headers) and is allowed.
 * Regexes are RE2 in Istio; istio_regex_valid() approximates that with POSIX ERE.
 */
static void vs_string_match(struct vsctx *v, const struct ynode *sm, const char *path,
			    bool empty_prefix_ok, bool star_regex_ok)
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
	for (int i = 0; known[i]; i++) {
		n = pget(c, sm, known[i], YNODE_SCALAR, false,
			 pathf(p, sizeof(p), "%s.%s", path, known[i]));
		if (!n)
			continue;
		set++;
		if (i == 1 && !empty_prefix_ok && !n->scalar[0])
			perr(c, n, "%s must not be empty (use exact, or a non-empty prefix)", p);
		if (i == 2 && !(star_regex_ok && !strcmp(n->scalar, "*")) &&
		    !istio_regex_valid(n->scalar))
			perr(c, n, "%s: \"%s\" is not a valid regular expression", p, n->scalar);
	}
	if (set > 1)
		perr(c, sm, "%s: set only one of exact, prefix or regex", path);
}

/* A map of name -> StringMatch (headers, withoutHeaders, queryParams). */
static void vs_match_map(struct vsctx *v, const struct ynode *m, const char *key, const char *path,
			 bool header_names)
{
	struct pctx *c = v->c;
	const struct ynode *map;
	char p[PATH_MAX_LEN];

	map = pget(c, m, key, YNODE_MAP, false, pathf(p, sizeof(p), "%s.%s", path, key));
	if (!map)
		return;
	for (size_t i = 0; i < map->n; i++) {
		const char *name = map->keys[i];
		bool star = !strcmp(key, "withoutHeaders");

		pathf(p, sizeof(p), "%s.%s[%s]", path, key, name);
		if (header_names && !strncmp(name, "@request.auth.claims", 20)) {
			if (v->mesh)
				perr(c, map->items[i],
				     "%s: JWT claim routing is only allowed for a VirtualService "
				     "bound to gateways only (not to the mesh)",
				     p);
		} else if (header_names && !istio_header_name_valid(name)) {
			perr(c, map->items[i], "%s: \"%s\" is not a valid header name", p, name);
		}
		vs_string_match(v, map->items[i], p, false, star);
	}
}

static void vs_http_match_one(struct vsctx *v, const struct ynode *m, const char *path)
{
	static const char *const known[] = {"name",
					    "uri",
					    "scheme",
					    "method",
					    "authority",
					    "headers",
					    "port",
					    "sourceLabels",
					    "gateways",
					    "queryParams",
					    "ignoreUriCase",
					    "withoutHeaders",
					    "sourceNamespace",
					    "statPrefix",
					    NULL};
	static const char *const sm_keys[] = {"uri", "scheme", "method", "authority", NULL};
	struct pctx *c = v->c;
	char p[PATH_MAX_LEN];
	struct labels l = {0};
	char **gw = NULL;
	size_t ngw = 0;
	int64_t port;
	bool b;

	if (m->kind != YNODE_MAP) {
		perr(c, m, "%s must be a mapping", path);
		return;
	}
	punknown(c, m, known, path);
	for (int i = 0; sm_keys[i]; i++) {
		const struct ynode *n = ynode_get(m, sm_keys[i]);

		if (n)
			vs_string_match(v, n, pathf(p, sizeof(p), "%s.%s", path, sm_keys[i]),
					i == 0, false);
	}
	vs_match_map(v, m, "headers", path, true);
	vs_match_map(v, m, "withoutHeaders", path, true);
	vs_match_map(v, m, "queryParams", path, false);
	pint(c, m, "port", 1, 65535, &port, pathf(p, sizeof(p), "%s.port", path));
	plabels(c, m, "sourceLabels", &l, pathf(p, sizeof(p), "%s.sourceLabels", path));
	labels_free(&l);
	pstrlist(c, m, "gateways", &gw, &ngw, pathf(p, sizeof(p), "%s.gateways", path));
	istio_strlist_free(gw, ngw);
	pbool(c, m, "ignoreUriCase", &b, pathf(p, sizeof(p), "%s.ignoreUriCase", path));
	istio_check_label_field(c, m, "sourceNamespace",
				pathf(p, sizeof(p), "%s.sourceNamespace", path));
}

/* match[] of an http or tcp route. Returns true when at least one match is given. */
static bool vs_matches(struct vsctx *v, const struct ynode *route, const char *path, bool http)
{
	const struct ynode *seq;
	char p[PATH_MAX_LEN];

	seq = pget(v->c, route, "match", YNODE_SEQ, false, pathf(p, sizeof(p), "%s.match", path));
	if (!seq || seq->n == 0)
		return false;
	for (size_t i = 0; i < seq->n; i++) {
		char q[PATH_MAX_LEN];

		pathf(q, sizeof(q), "%s[%zu]", p, i);
		if (http)
			vs_http_match_one(v, seq->items[i], q);
		else
			istio_l4_match(v->c, seq->items[i], q, false);
	}
	unenforced(v, seq, p);
	return true;
}

/* ---- http route actions ---- */

static void vs_header_ops(struct vsctx *v, const struct ynode *h, const char *key, const char *path)
{
	static const char *const known[] = {"set", "add", "remove", NULL};
	struct pctx *c = v->c;
	const struct ynode *ops;
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
	struct labels l = {0};
	char **rm = NULL;
	size_t nrm = 0;

	ops = pget(c, h, key, YNODE_MAP, false, pathf(p, sizeof(p), "%s.%s", path, key));
	if (!ops)
		return;
	punknown(c, ops, known, p);
	plabels(c, ops, "set", &l, pathf(q, sizeof(q), "%s.set", p));
	labels_free(&l);
	plabels(c, ops, "add", &l, pathf(q, sizeof(q), "%s.add", p));
	labels_free(&l);
	pstrlist(c, ops, "remove", &rm, &nrm, pathf(q, sizeof(q), "%s.remove", p));
	istio_strlist_free(rm, nrm);
}

static void vs_headers(struct vsctx *v, const struct ynode *h, const char *path)
{
	static const char *const known[] = {"request", "response", NULL};

	if (h->kind != YNODE_MAP) {
		perr(v->c, h, "%s must be a mapping with request and/or response", path);
		return;
	}
	punknown(v->c, h, known, path);
	vs_header_ops(v, h, "request", path);
	vs_header_ops(v, h, "response", path);
	unenforced(v, h, path);
}

static void vs_percentage(struct vsctx *v, const struct ynode *parent, const char *key,
			  const char *path)
{
	static const char *const known[] = {"value", NULL};
	const struct ynode *pc;
	char p[PATH_MAX_LEN];

	pc = pget(v->c, parent, key, YNODE_MAP, false, pathf(p, sizeof(p), "%s.%s", path, key));
	if (!pc)
		return;
	punknown(v->c, pc, known, p);
	istio_percent(v->c, pc, "value", pathf(p, sizeof(p), "%s.%s.value", path, key));
}

/* The deprecated integer `percent` of faults and mirrors: still valid, with a warning. */
static void vs_old_percent(struct vsctx *v, const struct ynode *parent, const char *key,
			   const char *path, const char *instead)
{
	char p[PATH_MAX_LEN];
	int64_t pct;

	if (pint(v->c, parent, key, 0, 100, &pct, pathf(p, sizeof(p), "%s.%s", path, key)) == 1)
		pwarn(v->c, ynode_get(parent, key), "%s is deprecated; use %s.%s instead", p, path,
		      instead);
}

static void vs_fault_delay(struct vsctx *v, const struct ynode *d, const char *path)
{
	static const char *const known[] = {"fixedDelay", "exponentialDelay", "percentage",
					    "percent", NULL};
	char p[PATH_MAX_LEN];
	int64_t ms;

	punknown(v->c, d, known, path);
	if (ynode_get(d, "exponentialDelay"))
		perr(v->c, ynode_get(d, "exponentialDelay"),
		     "%s.exponentialDelay is not supported (Istio rejects it too); use fixedDelay",
		     path);
	else if (pduration(v->c, d, "fixedDelay", &ms,
			   pathf(p, sizeof(p), "%s.fixedDelay", path)) == 0)
		perr(v->c, d, "%s.fixedDelay is required", path);
	vs_percentage(v, d, "percentage", path);
	vs_old_percent(v, d, "percent", path, "percentage.value");
}

static void vs_fault_abort(struct vsctx *v, const struct ynode *a, const char *path)
{
	static const char *const known[] = {"httpStatus", "grpcStatus", "http2Error",
					    "percentage", "percent",	NULL};
	struct pctx *c = v->c;
	char p[PATH_MAX_LEN];
	const struct ynode *g;
	int64_t st;
	int kinds = 0;

	punknown(c, a, known, path);
	if (ynode_get(a, "http2Error")) {
		perr(c, ynode_get(a, "http2Error"),
		     "%s.http2Error is not supported (Istio rejects it too); use httpStatus or "
		     "grpcStatus",
		     path);
		kinds++;
	}
	/* The API says 200..599; Istio's validation allows 600, and so do we. */
	if (pint(c, a, "httpStatus", 200, 600, &st, pathf(p, sizeof(p), "%s.httpStatus", path)))
		kinds++;
	g = pget(c, a, "grpcStatus", YNODE_SCALAR, false,
		 pathf(p, sizeof(p), "%s.grpcStatus", path));
	if (g) {
		kinds++;
		if (!istio_grpc_status_valid(g->scalar))
			perr(c, g,
			     "%s: \"%s\" is not a gRPC status name (e.g. UNAVAILABLE, "
			     "NOT_FOUND)",
			     p, g->scalar);
	}
	if (kinds == 0)
		pwarn(c, a, "%s has no httpStatus or grpcStatus: it aborts nothing", path);
	else if (kinds > 1)
		perr(c, a, "%s: set only one of httpStatus, grpcStatus or http2Error", path);
	vs_percentage(v, a, "percentage", path);
	vs_old_percent(v, a, "percent", path, "percentage.value");
}

static void vs_fault(struct vsctx *v, const struct ynode *f, const char *path)
{
	static const char *const known[] = {"delay", "abort", NULL};
	const struct ynode *d, *a;
	char p[PATH_MAX_LEN];

	punknown(v->c, f, known, path);
	d = pget(v->c, f, "delay", YNODE_MAP, false, pathf(p, sizeof(p), "%s.delay", path));
	if (d)
		vs_fault_delay(v, d, p);
	a = pget(v->c, f, "abort", YNODE_MAP, false, pathf(p, sizeof(p), "%s.abort", path));
	if (a)
		vs_fault_abort(v, a, p);
	if (!ynode_get(f, "delay") && !ynode_get(f, "abort"))
		perr(v->c, f, "%s needs an abort, a delay, or both", path);
}

static void vs_retry_on(struct vsctx *v, const struct ynode *n, const char *path)
{
	char *copy = strdup(n->scalar), *save = NULL;

	if (!copy)
		abort();
	if (!copy[0])
		perr(v->c, n, "%s must not be empty", path);
	/* strtok_r would skip empty items; Istio rejects them, so split by hand. */
	for (char *tok = copy, *next; tok; tok = next) {
		next = strchr(tok, ',');
		if (next)
			*next++ = '\0';
		save = istio_trim(tok);
		if (!istio_retry_on_valid(save))
			perr(v->c, n,
			     "%s: \"%s\" is not a retry condition (5xx, gateway-error, reset, "
			     "connect-failure, retriable-4xx, refused-stream, "
			     "retriable-status-codes, "
			     "an HTTP status code like 503, ...)",
			     path, save);
	}
	free(copy);
}

static void vs_retries(struct vsctx *v, const struct ynode *r, const char *path)
{
	static const char *const known[] = {"attempts",
					    "perTryTimeout",
					    "retryOn",
					    "retryRemoteLocalities",
					    "retryIgnorePreviousHosts",
					    "backoff",
					    NULL};
	struct pctx *c = v->c;
	char p[PATH_MAX_LEN];
	const struct ynode *on;
	int64_t attempts = 0, ms;
	bool b;

	punknown(c, r, known, path);
	pint(c, r, "attempts", 0, INT32_MAX, &attempts, pathf(p, sizeof(p), "%s.attempts", path));
	pduration(c, r, "perTryTimeout", &ms, pathf(p, sizeof(p), "%s.perTryTimeout", path));
	pduration(c, r, "backoff", &ms, pathf(p, sizeof(p), "%s.backoff", path));
	pbool(c, r, "retryRemoteLocalities", &b,
	      pathf(p, sizeof(p), "%s.retryRemoteLocalities", path));
	pbool(c, r, "retryIgnorePreviousHosts", &b,
	      pathf(p, sizeof(p), "%s.retryIgnorePreviousHosts", path));
	on = pget(c, r, "retryOn", YNODE_SCALAR, false, pathf(p, sizeof(p), "%s.retryOn", path));
	if (on)
		vs_retry_on(v, on, p);
	/* A missing attempts is 0 too, as in Istio's proto. */
	if (attempts == 0 && (ynode_get(r, "perTryTimeout") || ynode_get(r, "retryOn") ||
			      ynode_get(r, "retryRemoteLocalities")))
		perr(c, r,
		     "%s: perTryTimeout, retryOn and retryRemoteLocalities need attempts > 0 "
		     "(attempts 0 or absent disables retries)",
		     path);
}

static void vs_redirect(struct vsctx *v, const struct ynode *r, const char *path)
{
	static const char *const known[] = {"uri",    "authority",    "port", "derivePort",
					    "scheme", "redirectCode", NULL};
	static const char *const derive[] = {"FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT", NULL};
	struct pctx *c = v->c;
	char p[PATH_MAX_LEN];
	int64_t n;

	punknown(c, r, known, path);
	pint(c, r, "port", 1, 65535, &n, pathf(p, sizeof(p), "%s.port", path));
	pint(c, r, "redirectCode", 300, 399, &n, pathf(p, sizeof(p), "%s.redirectCode", path));
	istio_check_enum(c, r, "derivePort", derive, pathf(p, sizeof(p), "%s.derivePort", path));
	if (!ynode_get(r, "uri") && !ynode_get(r, "authority") && !ynode_get(r, "port") &&
	    !ynode_get(r, "derivePort") && !ynode_get(r, "scheme"))
		perr(c, r, "%s must set at least one of uri, authority, scheme or port", path);
	if (ynode_get(r, "port") && ynode_get(r, "derivePort"))
		perr(c, r, "%s: set only one of port or derivePort", path);
}

static void vs_direct_response(struct vsctx *v, const struct ynode *r, const char *path)
{
	static const char *const known[] = {"status", "body", NULL};
	static const char *const bknown[] = {"string", "bytes", "fileName", NULL};
	struct pctx *c = v->c;
	char p[PATH_MAX_LEN];
	const struct ynode *body;
	int64_t st;

	punknown(c, r, known, path);
	if (pint(c, r, "status", 200, 599, &st, pathf(p, sizeof(p), "%s.status", path)) == 0)
		perr(c, r, "%s.status is required", path);
	body = pget(c, r, "body", YNODE_MAP, false, pathf(p, sizeof(p), "%s.body", path));
	if (body) {
		punknown(c, body, bknown, p);
		if ((ynode_get(body, "string") != NULL) + (ynode_get(body, "bytes") != NULL) +
			(ynode_get(body, "fileName") != NULL) !=
		    1)
			perr(c, body, "%s: set exactly one of string, bytes or fileName", p);
	}
}

static void vs_rewrite(struct vsctx *v, const struct ynode *r, const char *path)
{
	static const char *const known[] = {"uri", "authority", "uriRegexRewrite", NULL};
	static const char *const rknown[] = {"match", "rewrite", NULL};
	struct pctx *c = v->c;
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN];
	const struct ynode *rx;
	char *s;

	punknown(c, r, known, path);
	rx = pget(c, r, "uriRegexRewrite", YNODE_MAP, false,
		  pathf(p, sizeof(p), "%s.uriRegexRewrite", path));
	if (rx) {
		punknown(c, rx, rknown, p);
		s = pstr(c, rx, "match", true, pathf(q, sizeof(q), "%s.match", p));
		if (s && !istio_regex_valid(s))
			perr(c, ynode_get(rx, "match"),
			     "%s: \"%s\" is not a valid regular "
			     "expression",
			     q, s);
		free(s);
		free(pstr(c, rx, "rewrite", true, pathf(q, sizeof(q), "%s.rewrite", p)));
	}
	if (ynode_get(r, "uri") && rx)
		perr(c, r, "%s: set only one of uri or uriRegexRewrite", path);
	if (!ynode_get(r, "uri") && !ynode_get(r, "authority") && !ynode_get(r, "uriRegexRewrite"))
		perr(c, r, "%s must set at least one of uri, authority or uriRegexRewrite", path);
}

static void vs_cors(struct vsctx *v, const struct ynode *cp, const char *path)
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
				pathf(p, sizeof(p), "%s.allowOrigins[%zu]", path, i), false, false);
	if (ynode_get(cp, "allowOrigin"))
		pwarn(c, ynode_get(cp, "allowOrigin"),
		      "%s.allowOrigin is deprecated; use allowOrigins", path);
	pduration(c, cp, "maxAge", &ms, pathf(p, sizeof(p), "%s.maxAge", path));
	pbool(c, cp, "allowCredentials", &b, pathf(p, sizeof(p), "%s.allowCredentials", path));
	istio_check_enum(c, cp, "unmatchedPreflights", preflight,
			 pathf(p, sizeof(p), "%s.unmatchedPreflights", path));
}

static void vs_mirrors(struct vsctx *v, const struct ynode *h, const char *path)
{
	static const char *const known[] = {"destination", "percentage", NULL};
	struct pctx *c = v->c;
	const struct ynode *m, *seq;
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN];

	if (ynode_get(h, "mirror") && ynode_get(h, "mirrors"))
		perr(c, ynode_get(h, "mirrors"), "%s: set only one of mirror or mirrors", path);
	m = pget(c, h, "mirror", YNODE_MAP, false, pathf(p, sizeof(p), "%s.mirror", path));
	if (m) {
		vs_destination_scratch(v, m, p);
		unenforced(v, m, p);
	}
	seq = pget(c, h, "mirrors", YNODE_SEQ, false, pathf(p, sizeof(p), "%s.mirrors", path));
	for (size_t i = 0; seq && i < seq->n; i++) {
		const struct ynode *it = seq->items[i], *dst;

		pathf(q, sizeof(q), "%s[%zu]", p, i);
		if (it->kind != YNODE_MAP) {
			perr(c, it, "%s must be a mapping with a destination", q);
			continue;
		}
		punknown(c, it, known, q);
		vs_percentage(v, it, "percentage", q);
		pathf(q, sizeof(q), "%s[%zu].destination", p, i);
		dst = pget(c, it, "destination", YNODE_MAP, true, q);
		if (dst)
			vs_destination_scratch(v, dst, q);
	}
	if (seq)
		unenforced(v, seq, p);
	vs_percentage(v, h, "mirrorPercentage", path);
	vs_old_percent(v, h, "mirrorPercent", path, "mirrorPercentage.value");
	if (ynode_get(h, "mirror_percent"))
		pwarn(c, ynode_get(h, "mirror_percent"),
		      "%s.mirror_percent is deprecated and ignored; use mirrorPercentage", path);
}

/* An optional map-valued action: check its kind, validate it, and record it as unenforced. */
static const struct ynode *
vs_action(struct vsctx *v, const struct ynode *h, const char *key, const char *path,
	  void (*check)(struct vsctx *, const struct ynode *, const char *))
{
	char p[PATH_MAX_LEN];
	const struct ynode *n;

	n = pget(v->c, h, key, YNODE_MAP, false, pathf(p, sizeof(p), "%s.%s", path, key));
	if (!n)
		return NULL;
	check(v, n, p);
	unenforced(v, n, p);
	return n;
}

/* The combinations Istio forbids between route, redirect, directResponse, fault and rewrite. */
static void vs_http_actions_combine(struct vsctx *v, const struct ynode *h, const char *path)
{
	const struct ynode *r = ynode_get(h, "route");
	bool route = r && !(r->kind == YNODE_SEQ && r->n == 0), redirect = ynode_get(h, "redirect");
	bool direct = ynode_get(h, "directResponse"), fault = ynode_get(h, "fault");
	bool rewrite = ynode_get(h, "rewrite"), delegate = ynode_get(h, "delegate");

	if (!route && !redirect && !direct && !delegate)
		perr(v->c, h, "%s needs one of route, redirect or directResponse", path);
	if (redirect && (route || fault || rewrite || direct))
		perr(v->c, h,
		     "%s: redirect cannot be combined with route, fault, rewrite or "
		     "directResponse",
		     path);
	else if (direct && (route || fault || rewrite))
		perr(v->c, h, "%s: directResponse cannot be combined with route, fault or rewrite",
		     path);
}

static void vs_http_one(struct vsctx *v, const struct ynode *h, const char *path, struct m_route *r)
{
	static const char *const known[] = {"name",
					    "match",
					    "route",
					    "redirect",
					    "directResponse",
					    "delegate",
					    "rewrite",
					    "timeout",
					    "retries",
					    "fault",
					    "mirror",
					    "mirrors",
					    "mirrorPercentage",
					    "mirrorPercent",
					    "mirror_percent",
					    "corsPolicy",
					    "headers",
					    NULL};
	struct pctx *c = v->c;
	char p[PATH_MAX_LEN];
	const struct ynode *n;
	int64_t ms;

	r->line = h->line;
	if (h->kind != YNODE_MAP) {
		perr(c, h, "%s must be a mapping", path);
		return;
	}
	punknown(c, h, known, path);
	vs_http_actions_combine(v, h, path);
	r->has_match = vs_matches(v, h, path, true);
	n = pget(c, h, "route", YNODE_SEQ, false, pathf(p, sizeof(p), "%s.route", path));
	if (n)
		vs_route_dests(v, n, p, r, true);
	vs_action(v, h, "redirect", path, vs_redirect);
	vs_action(v, h, "directResponse", path, vs_direct_response);
	vs_action(v, h, "rewrite", path, vs_rewrite);
	vs_action(v, h, "retries", path, vs_retries);
	vs_action(v, h, "fault", path, vs_fault);
	vs_action(v, h, "corsPolicy", path, vs_cors);
	n = ynode_get(h, "headers");
	if (n)
		vs_headers(v, n, pathf(p, sizeof(p), "%s.headers", path));
	if (pduration(c, h, "timeout", &ms, pathf(p, sizeof(p), "%s.timeout", path)) == 1)
		unenforced(v, ynode_get(h, "timeout"), p);
	if (ynode_get(h, "delegate"))
		unenforced(v, ynode_get(h, "delegate"), pathf(p, sizeof(p), "%s.delegate", path));
	vs_mirrors(v, h, path);
}

/* ---- tcp and tls ---- */

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
	r->has_match = vs_matches(v, t, path, false);
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
		if (istio_l4_match(v->c, seq->items[i], q, true))
			vs_sni_hosts(v, seq->items[i], q);
	}
	seq = pget(v->c, t, "route", YNODE_SEQ, true, pathf(p, sizeof(p), "%s.route", path));
	if (seq && seq->n == 0)
		perr(v->c, seq, "%s must list at least one destination", p);
	else if (seq)
		vs_route_dests(v, seq, p, &scratch, false);
	for (size_t i = 0; i < scratch.ndests; i++) {
		free(scratch.dests[i].host);
		free(scratch.dests[i].subset);
	}
	free(scratch.dests);
	unenforced(v, t, path);
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
		unenforced(&v, ynode_get(spec, "exportTo"), "spec.exportTo");
	vs_all_routes(&v, spec);
	return c->errors > errors ? -EINVAL : 0;
}
