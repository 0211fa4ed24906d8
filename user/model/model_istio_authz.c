// SPDX-License-Identifier: Apache-2.0
/*
 * AuthorizationPolicy: selector, action, provider, and Istio's validation of rules (its
 * pkg/config/validation). The rules stay in the YAML tree (ap->rules) for the authz module to
 * compile; here we only make sure they are well formed, so that module can trust them.
 *
 * Policies annotated istio.io/dry-run: "true" are validated and then left out of the model:
 * in Istio they are shadow policies that never change a decision.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_istio_common.h"

#define PLEN 256

struct azctx {
	struct pctx *c;
	enum m_authz_action action;
};

/* ---- value checks, each returns a problem description or NULL ---- */

static const char *az_ip(const char *v)
{
	return istio_ip_or_cidr_valid(v) ? NULL : "is not an IP address or CIDR";
}

static const char *az_port(const char *v)
{
	char *end;
	long p;

	if (!isdigit((unsigned char)v[0]))
		return "is not a port number";
	p = strtol(v, &end, 10);
	if (*end)
		return "is not a port number";
	return p >= 1 && p <= 65535 ? NULL : "is not a port between 1 and 65535";
}

static const char *az_service_account(const char *v)
{
	const char *slash = strchr(v, '/');

	if (strchr(v, '*'))
		return "must not contain a wildcard";
	if (strlen(v) > 320)
		return "is longer than 320 characters";
	if (slash && (slash == v || !slash[1] || strchr(slash + 1, '/')))
		return "must be 'serviceAccount' or 'namespace/serviceAccount'";
	return NULL;
}

/* RFC 3986 pchar, the characters Envoy allows in a literal segment of a path template. */
static bool az_pchar_segment(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-._~%!$&'()+,;:@=", s[i]))
			return false;
	return true;
}

const char *istio_authz_path_problem(const char *v)
{
	bool tmpl = strstr(v, "{*}") || strstr(v, "{**}"), any = false;
	const char *s = v, *e;
	size_t n;

	while (*s == '/')
		s++;
	for (; *s; s = *e ? e + 1 : e) {
		e = strchr(s, '/');
		if (!e)
			e = s + strlen(s);
		n = (size_t)(e - s);
		if (!*e && n == 0)
			break; /* trailing slash */
		if ((n == 3 && !strncmp(s, "{*}", 3)) || (n == 4 && !strncmp(s, "{**}", 4))) {
			if (any)
				return "has {*} or {**} after {**}; {**} must be the last operator";
			any = n == 4;
			continue;
		}
		if (memchr(s, '{', n) || memchr(s, '}', n))
			return "has '{' or '}' outside a whole {*} or {**} segment";
		if (tmpl && !az_pchar_segment(s, n))
			return "has a segment with characters not allowed in a path template";
	}
	return NULL;
}

static bool az_null(const struct ynode *n)
{
	return n->kind == YNODE_SCALAR && n->plain &&
	       (!n->scalar[0] || !strcmp(n->scalar, "~") || !strcmp(n->scalar, "null"));
}

/*
 * A list of strings at map[key]: no empty strings, each passing `check` when given. Returns the
 * number of entries (0 when absent), -1 on a type error.
 */
static int az_list(struct azctx *x, const struct ynode *map, const char *key, const char *path,
		   const char *(*check)(const char *))
{
	struct pctx *c = x->c;
	const struct ynode *seq;
	char p[PLEN];

	seq = pget(c, map, key, YNODE_SEQ, false, pathf(p, sizeof(p), "%s.%s", path, key));
	if (!seq) /* absent or null: 0; any other kind was reported by pget */
		return ynode_get(map, key) && !az_null(ynode_get(map, key)) ? -1 : 0;
	for (size_t i = 0; i < seq->n; i++) {
		const struct ynode *it = seq->items[i];
		const char *why;

		if (it->kind != YNODE_SCALAR) {
			perr(c, it, "%s[%zu] must be a string, not a %s", p, i,
			     ynode_kind_name(it->kind));
			continue;
		}
		if (!it->scalar[0]) {
			perr(c, it, "%s[%zu]: empty value not allowed", p, i);
			continue;
		}
		why = check ? check(it->scalar) : NULL;
		if (why)
			perr(c, it, "%s[%zu]: \"%s\" %s", p, i, it->scalar, why);
	}
	return (int)seq->n;
}

/* ---- from[].source ---- */

static void az_source(struct azctx *x, const struct ynode *src, const char *path)
{
	static const char *const known[] = {
	    "principals",	    "notPrincipals",	  "requestPrincipals",
	    "notRequestPrincipals", "namespaces",	  "notNamespaces",
	    "serviceAccounts",	    "notServiceAccounts", "trustDomains",
	    "notTrustDomains",	    "ipBlocks",		  "notIpBlocks",
	    "remoteIpBlocks",	    "notRemoteIpBlocks",  NULL,
	};
	static const char *(*const checks[])(const char *) = {
	    NULL, NULL, NULL,  NULL,  NULL,  NULL,  az_service_account, az_service_account,
	    NULL, NULL, az_ip, az_ip, az_ip, az_ip,
	};
	struct pctx *c = x->c;
	int total = 0, n[14];

	punknown(c, src, known, path);
	for (int i = 0; known[i]; i++) {
		n[i] = az_list(x, src, known[i], path, checks[i]);
		total += n[i] != 0;
		if (n[i] > 16 && checks[i] == az_service_account)
			perr(c, ynode_get(src, known[i]), "%s.%s may not have more than 16 values",
			     path, known[i]);
		/* The first ten are identity fields the ext-authz (CUSTOM) filter cannot see. */
		if (n[i] && i < 10 && x->action == AUTHZ_CUSTOM)
			perr(c, ynode_get(src, known[i]),
			     "%s.%s is not supported with action CUSTOM", path, known[i]);
	}
	if (total == 0)
		perr(c, src, "%s must not be empty: set at least one field, or remove the entry",
		     path);
	if (n[6] && (n[0] || n[4]))
		perr(c, src,
		     "%s: Cannot set serviceAccounts with namespaces or principals in the "
		     "same source; use separate sources",
		     path);
}

/* ---- to[].operation ---- */

static void az_operation(struct azctx *x, const struct ynode *op, const char *path)
{
	static const char *const known[] = {"hosts",	"notHosts", "ports",
					    "notPorts", "methods",  "notMethods",
					    "paths",	"notPaths", NULL};
	static const char *(*const checks[])(const char *) = {
	    NULL,
	    NULL,
	    az_port,
	    az_port,
	    NULL,
	    NULL,
	    istio_authz_path_problem,
	    istio_authz_path_problem,
	};
	int total = 0;

	punknown(x->c, op, known, path);
	for (int i = 0; known[i]; i++)
		total += az_list(x, op, known[i], path, checks[i]) != 0;
	if (total == 0)
		perr(x->c, op, "%s must not be empty: set at least one field, or remove the entry",
		     path);
}

/* from[] / to[]: a non-empty list of {<inner>: {...}}. */
static void az_clauses(struct azctx *x, const struct ynode *rule, const char *key,
		       const char *inner, const char *path,
		       void (*check)(struct azctx *, const struct ynode *, const char *))
{
	struct pctx *c = x->c;
	const struct ynode *seq, *in;
	char p[PLEN], q[PLEN];

	seq = pget(c, rule, key, YNODE_SEQ, false, pathf(p, sizeof(p), "%s.%s", path, key));
	if (!seq)
		return;
	if (seq->n == 0)
		perr(c, seq, "%s must not be empty: list at least one entry, or remove it", p);
	for (size_t i = 0; i < seq->n; i++) {
		const struct ynode *it = seq->items[i];

		pathf(q, sizeof(q), "%s[%zu]", p, i);
		if (it->kind != YNODE_MAP) {
			perr(c, it, "%s must be a mapping with %s", q, inner);
			continue;
		}
		punknown(c, it, (const char *const[]){inner, NULL}, q);
		in = pget(c, it, inner, YNODE_MAP, true,
			  pathf(q, sizeof(q), "%s[%zu].%s", p, i, inner));
		if (in)
			check(x, in, q);
	}
}

/* ---- when[] ---- */

/* "name[sub]" with a non-empty name and sub (request.headers[x], claims[a][b], ...). */
static bool az_map_key(const char *key)
{
	const char *open = strchr(key, '[');
	size_t n = strlen(key);

	return open && open > key && key[n - 1] == ']' && (size_t)(open - key) < n - 2;
}

/* Checks values of a known key; returns false for an unknown key. `why` is set for keys that
 * have a shape problem. */
static bool az_when_key(const char *key, const char *(**check)(const char *), const char **why)
{
	static const char *const plain[] = {"source.namespace",	      "source.principal",
					    "source.trustDomain",     "request.auth.principal",
					    "request.auth.audiences", "request.auth.presenter",
					    "connection.sni",	      NULL};
	static const char *const mapped[] = {"request.headers", "request.auth.claims",
					     "request.experimental.inline.headers",
					     "experimental.envoy.filters.", NULL};

	*check = NULL;
	*why = NULL;
	if (!strcmp(key, "source.ip") || !strcmp(key, "remote.ip") ||
	    !strcmp(key, "destination.ip")) {
		*check = az_ip;
		return true;
	}
	if (!strcmp(key, "destination.port")) {
		*check = az_port;
		return true;
	}
	if (!strcmp(key, "source.serviceAccount")) {
		*check = az_service_account;
		return true;
	}
	for (int i = 0; plain[i]; i++)
		if (!strcmp(key, plain[i]))
			return true;
	for (int i = 0; mapped[i]; i++)
		if (!strncmp(key, mapped[i], strlen(mapped[i]))) {
			if (!az_map_key(key))
				*why = "should have the form name[key]";
			return true;
		}
	return false;
}

/* Keys naming the peer or request identity, which the ext-authz (CUSTOM) filter cannot use. */
static bool az_identity_key(const char *key)
{
	return !strcmp(key, "source.namespace") || !strcmp(key, "source.principal") ||
	       !strcmp(key, "source.serviceAccount") || !strcmp(key, "source.trustDomain") ||
	       !strncmp(key, "request.auth.", 13);
}

static void az_condition(struct azctx *x, const struct ynode *w, const char *path)
{
	static const char *const known[] = {"key", "values", "notValues", NULL};
	const char *(*check)(const char *);
	struct pctx *c = x->c;
	const struct ynode *k;
	const char *why;
	char p[PLEN];
	int nv, nnv;

	if (w->kind != YNODE_MAP) {
		perr(c, w, "%s must be a mapping with key and values", path);
		return;
	}
	punknown(c, w, known, path);
	k = pget(c, w, "key", YNODE_SCALAR, true, pathf(p, sizeof(p), "%s.key", path));
	if (k && !k->scalar[0]) {
		perr(c, k, "%s must not be empty", p);
		k = NULL;
	}
	if (k && !az_when_key(k->scalar, &check, &why)) {
		perr(c, k,
		     "%s: unknown attribute \"%s\" (use request.headers[...], source.ip, "
		     "remote.ip, source.namespace, source.principal, request.auth.*, "
		     "destination.ip, destination.port, connection.sni, ...)",
		     p, k->scalar);
		k = NULL;
	} else if (k && why) {
		perr(c, k, "%s: \"%s\" %s", p, k->scalar, why);
	}
	if (k && x->action == AUTHZ_CUSTOM && az_identity_key(k->scalar))
		perr(c, k, "%s: \"%s\" is not supported with action CUSTOM", p, k->scalar);
	if (!k)
		check = NULL;
	nv = az_list(x, w, "values", path, check);
	nnv = az_list(x, w, "notValues", path, check);
	if (nv == 0 && nnv == 0)
		perr(c, w, "%s needs at least one of values or notValues", path);
}

static void az_rule(struct azctx *x, const struct ynode *r, const char *path)
{
	static const char *const known[] = {"from", "to", "when", NULL};
	const struct ynode *seq;
	char p[PLEN];

	if (r->kind != YNODE_MAP) {
		perr(x->c, r,
		     "%s must be a mapping; write {} for a rule that matches every "
		     "request",
		     path);
		return;
	}
	punknown(x->c, r, known, path);
	az_clauses(x, r, "from", "source", path, az_source);
	az_clauses(x, r, "to", "operation", path, az_operation);
	seq = pget(x->c, r, "when", YNODE_SEQ, false, pathf(p, sizeof(p), "%s.when", path));
	for (size_t i = 0; seq && i < seq->n; i++) {
		char q[PLEN];

		az_condition(x, seq->items[i], pathf(q, sizeof(q), "%s[%zu]", p, i));
	}
}

/* ---- spec ---- */

static void az_selector(struct pctx *c, struct m_authorizationpolicy *ap, const struct ynode *spec)
{
	const struct ynode *sel;
	int refs;

	sel = pget(c, spec, "selector", YNODE_MAP, false, "spec.selector");
	if (sel) {
		ap->has_selector = true;
		punknown(c, sel, (const char *const[]){"matchLabels", NULL}, "spec.selector");
		plabels(c, sel, "matchLabels", &ap->selector, "spec.selector.matchLabels");
	}
	refs = !!ynode_get(spec, "selector") + !!ynode_get(spec, "targetRef") +
	       !!ynode_get(spec, "targetRefs");
	if (refs > 1)
		perr(c, spec, "spec: use only one of selector, targetRef or targetRefs");
	/* Without this error the policy would look namespace-wide and apply far too broadly. */
	if (ynode_get(spec, "targetRef") || ynode_get(spec, "targetRefs"))
		perr(c, ynode_get(spec, "targetRef") ?: ynode_get(spec, "targetRefs"),
		     "spec.%s: policies attached to a Gateway, Service or waypoint are not "
		     "supported by skiff; select workloads with spec.selector.matchLabels",
		     ynode_get(spec, "targetRef") ? "targetRef" : "targetRefs");
}

static void az_action(struct pctx *c, struct m_authorizationpolicy *ap, const struct ynode *spec)
{
	static const char *const actions[] = {"ALLOW", "DENY", "AUDIT", "CUSTOM", NULL};
	const struct ynode *prov;
	int a;

	a = istio_check_enum(c, spec, "action", actions, "spec.action");
	ap->action = a >= 0 ? (enum m_authz_action)a : AUTHZ_ALLOW;
	prov = pget(c, spec, "provider", YNODE_MAP, false, "spec.provider");
	if (prov && ap->action != AUTHZ_CUSTOM)
		perr(c, prov, "spec.provider is only allowed with action CUSTOM (action is %s)",
		     actions[ap->action]);
	if (prov) {
		punknown(c, prov, (const char *const[]){"name", NULL}, "spec.provider");
		ap->provider =
		    pstr(c, prov, "name", ap->action == AUTHZ_CUSTOM, "spec.provider.name");
	} else if (ap->action == AUTHZ_CUSTOM) {
		perr(c, spec,
		     "spec.provider.name is required with action CUSTOM (name an "
		     "extension provider)");
	}
}

_Static_assert(AUTHZ_ALLOW == 0 && AUTHZ_DENY == 1 && AUTHZ_AUDIT == 2 && AUTHZ_CUSTOM == 3,
	       "actions[] is indexed by enum m_authz_action");

static void az_rules(struct pctx *c, struct m_authorizationpolicy *ap, const struct ynode *spec)
{
	struct azctx x = {.c = c, .action = ap->action};
	const struct ynode *rules = ynode_get(spec, "rules");
	char p[PLEN];

	ap->has_rules = rules != NULL;
	if (rules)
		ap->rules = pget(c, spec, "rules", YNODE_SEQ, false, "spec.rules");
	if ((ap->action == AUTHZ_DENY || ap->action == AUTHZ_CUSTOM) &&
	    (!ap->rules || ap->rules->n == 0))
		perr(c, rules ? rules : spec,
		     "spec.rules: action %s without rules never triggers; add rules, or an empty "
		     "rule {} to match every request",
		     ap->action == AUTHZ_DENY ? "DENY" : "CUSTOM");
	for (size_t i = 0; ap->rules && i < ap->rules->n; i++)
		az_rule(&x, ap->rules->items[i], pathf(p, sizeof(p), "spec.rules[%zu]", i));
}

static bool az_dry_run(const struct ynode *doc)
{
	const struct ynode *ann = ynode_path(doc, "metadata.annotations");
	const char *v = ynode_str(ynode_get(ann, "istio.io/dry-run"));

	return v && !strcmp(v, "true");
}

static void az_free(struct m_authorizationpolicy *ap)
{
	meta_free(&ap->meta);
	labels_free(&ap->selector);
	free(ap->provider);
}

int parse_authorizationpolicy(struct pctx *c)
{
	static const char *const known[] = {"selector", "targetRef", "targetRefs", "action",
					    "provider", "rules",     NULL};
	struct m_authorizationpolicy ap = {0};
	const struct ynode *spec;
	int errors = c->errors;

	pmeta(c, &ap.meta, true);
	spec = ynode_get(c->doc, "spec");
	if (spec && !(spec->kind == YNODE_SCALAR && spec->plain && !spec->scalar[0])) {
		spec = pget(c, c->doc, "spec", YNODE_MAP, false, "spec");
		punknown(c, spec, known, "spec");
		if (spec) {
			az_selector(c, &ap, spec);
			az_action(c, &ap, spec);
			az_rules(c, &ap, spec);
		}
	}
	if (c->errors > errors) {
		az_free(&ap);
		return -EINVAL;
	}
	if (az_dry_run(c->doc)) {
		pwarn(c, ynode_path(c->doc, "metadata.annotations"),
		      "istio.io/dry-run is \"true\": the policy is validated but has no effect");
		az_free(&ap);
		return 0;
	}
	*PUSH(c->m->authorizationpolicies, c->m->nauthorizationpolicies) = ap;
	return 0;
}
