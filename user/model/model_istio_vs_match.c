// SPDX-License-Identifier: Apache-2.0
/*
 * VirtualService http[].match: each HTTPMatchRequest validated as Istio does and stored typed
 * (model_http.h), regexes compiled once here so that the router only runs them.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_istio_vs.h"

static void lower(char *s)
{
	for (; s && *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* A map of name -> StringMatch (headers, withoutHeaders, queryParams) into *out. */
static void match_map(struct vsctx *v, const struct ynode *m, const char *key, const char *path,
		      bool header_names, struct m_named_match **out, size_t *nout)
{
	struct pctx *c = v->c;
	const struct ynode *map;
	char p[PATH_MAX_LEN];
	bool star = !strcmp(key, "withoutHeaders");

	map = pget(c, m, key, YNODE_MAP, false, pathf(p, sizeof(p), "%s.%s", path, key));
	if (!map)
		return;
	for (size_t i = 0; i < map->n; i++) {
		const char *name = map->keys[i];
		struct m_named_match *nm;

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
		nm = PUSH(*out, *nout);
		nm->name = strdup(name);
		if (!nm->name)
			abort();
		if (header_names)
			lower(nm->name);
		vs_string_match(v, map->items[i], p, false, star, &nm->m);
	}
}

static void match_one(struct vsctx *v, const struct ynode *m, const char *path,
		      struct m_http_match *hm)
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
	struct m_string_match *sm[] = {&hm->uri, &hm->scheme, &hm->method, &hm->authority};
	struct pctx *c = v->c;
	char p[PATH_MAX_LEN];
	char **gw = NULL;
	size_t ngw = 0;
	int64_t port;

	hm->line = m->line;
	if (m->kind != YNODE_MAP) {
		perr(c, m, "%s must be a mapping", path);
		return;
	}
	punknown(c, m, known, path);
	hm->name = pstr(c, m, "name", false, pathf(p, sizeof(p), "%s.name", path));
	for (int i = 0; sm_keys[i]; i++) {
		const struct ynode *n = ynode_get(m, sm_keys[i]);

		if (n)
			vs_string_match(v, n, pathf(p, sizeof(p), "%s.%s", path, sm_keys[i]),
					i == 0, false, sm[i]);
	}
	match_map(v, m, "headers", path, true, &hm->headers, &hm->nheaders);
	match_map(v, m, "withoutHeaders", path, true, &hm->without_headers, &hm->nwithout_headers);
	match_map(v, m, "queryParams", path, false, &hm->query_params, &hm->nquery_params);
	if (pint(c, m, "port", 1, 65535, &port, pathf(p, sizeof(p), "%s.port", path)) == 1)
		hm->port = (uint16_t)port;
	plabels(c, m, "sourceLabels", &hm->source_labels,
		pathf(p, sizeof(p), "%s.sourceLabels", path));
	pstrlist(c, m, "gateways", &gw, &ngw, pathf(p, sizeof(p), "%s.gateways", path));
	istio_strlist_free(gw, ngw);
	pbool(c, m, "ignoreUriCase", &hm->ignore_uri_case,
	      pathf(p, sizeof(p), "%s.ignoreUriCase", path));
	istio_check_label_field(c, m, "sourceNamespace",
				pathf(p, sizeof(p), "%s.sourceNamespace", path));
	hm->source_namespace = pstr(c, m, "sourceNamespace", false, p);
}

/* http[].match into h->matches. Returns true when at least one match is given. */
bool vs_http_matches(struct vsctx *v, const struct ynode *route, const char *path,
		     struct m_http_route *h)
{
	const struct ynode *seq;
	char p[PATH_MAX_LEN], q[PATH_MAX_LEN];

	seq = pget(v->c, route, "match", YNODE_SEQ, false, pathf(p, sizeof(p), "%s.match", path));
	if (!seq || seq->n == 0)
		return false;
	for (size_t i = 0; i < seq->n; i++)
		match_one(v, seq->items[i], pathf(q, sizeof(q), "%s[%zu]", p, i),
			  PUSH(h->matches, h->nmatches));
	return true;
}
