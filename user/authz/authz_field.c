// SPDX-License-Identifier: Apache-2.0
/*
 * One field of a rule, from YAML to matcher: which request attribute a key names, whether that
 * attribute exists for TCP traffic, and each listed value parsed once.
 *
 * The model has already validated every value (IPs, ports, templates, when keys), so an error
 * here means a tree the model did not check; it is still reported, never assumed away.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz_internal.h"

struct az_key {
	const char *name;
	enum az_attr attr;
	bool negated;
};

static const struct az_key az_source_keys[] = {
    {"principals", AZ_PRINCIPAL, false},
    {"notPrincipals", AZ_PRINCIPAL, true},
    {"requestPrincipals", AZ_REQUEST_AUTH, false},
    {"notRequestPrincipals", AZ_REQUEST_AUTH, true},
    {"namespaces", AZ_NAMESPACE, false},
    {"notNamespaces", AZ_NAMESPACE, true},
    {"serviceAccounts", AZ_SERVICE_ACCOUNT, false},
    {"notServiceAccounts", AZ_SERVICE_ACCOUNT, true},
    {"trustDomains", AZ_TRUST_DOMAIN, false},
    {"notTrustDomains", AZ_TRUST_DOMAIN, true},
    {"ipBlocks", AZ_SOURCE_IP, false},
    {"notIpBlocks", AZ_SOURCE_IP, true},
    {"remoteIpBlocks", AZ_REMOTE_IP, false},
    {"notRemoteIpBlocks", AZ_REMOTE_IP, true},
    {NULL, 0, false},
};

static const struct az_key az_operation_keys[] = {
    {"hosts", AZ_HOST, false},
    {"notHosts", AZ_HOST, true},
    {"ports", AZ_DEST_PORT, false},
    {"notPorts", AZ_DEST_PORT, true},
    {"methods", AZ_METHOD, false},
    {"notMethods", AZ_METHOD, true},
    {"paths", AZ_PATH, false},
    {"notPaths", AZ_PATH, true},
    {NULL, 0, false},
};

/* `when` keys with one fixed attribute; request.headers[], request.auth.* and
 * experimental.envoy.filters.* are handled by prefix. */
static const struct az_key az_when_keys[] = {
    {"source.ip", AZ_SOURCE_IP, false},
    {"remote.ip", AZ_REMOTE_IP, false},
    {"source.namespace", AZ_NAMESPACE, false},
    {"source.principal", AZ_PRINCIPAL, false},
    {"source.serviceAccount", AZ_SERVICE_ACCOUNT, false},
    {"source.trustDomain", AZ_TRUST_DOMAIN, false},
    {"destination.ip", AZ_DEST_IP, false},
    {"destination.port", AZ_DEST_PORT, false},
    {"connection.sni", AZ_SNI, false},
    {NULL, 0, false},
};

void az_report(struct az_cc *c, enum diag_level lvl, const struct ynode *at, const char *fmt, ...)
{
	const struct meta *m = &c->ap->meta;
	char *body = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&body, fmt, ap) < 0)
		abort();
	va_end(ap);
	diag_add(c->d, lvl, at ? at->file : m->file, at ? at->line : m->line,
		 "AuthorizationPolicy %s/%s: %s", m->ns, m->name, body);
	free(body);
	if (lvl == DIAG_ERROR)
		c->errors++;
}

const char *az_pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return buf;
}

void *az_push(void *arr, size_t *n, size_t elem)
{
	char *v = realloc(*(void **)arr, (*n + 1) * elem);

	if (!v)
		abort();
	*(void **)arr = v;
	memset(v + *n * elem, 0, elem);
	return v + (*n)++ * elem;
}

/* HTTP-only attributes, as Istio's authz builder sorts them: methods, paths, hosts,
 * requestPrincipals, request.* and remote.ip / remoteIpBlocks. */
static bool az_attr_http_only(enum az_attr a)
{
	return a == AZ_HOST || a == AZ_METHOD || a == AZ_PATH || a == AZ_HEADER ||
	       a == AZ_REQUEST_AUTH || a == AZ_REMOTE_IP;
}

/* "sa" is "<policy namespace>/sa", as Istio reads serviceAccounts. */
static void az_value_service_account(struct az_cc *c, struct az_value *v, const char *s)
{
	memset(v, 0, sizeof(*v));
	v->form = AZ_EXACT;
	if (strchr(s, '/'))
		v->text = strdup(s);
	else if (asprintf(&v->text, "%s/%s", c->ap->meta.ns, s) < 0)
		v->text = NULL;
	if (!v->text)
		abort();
}

static int az_value_port(struct az_value *v, const char *s)
{
	char *end;
	long p = strtol(s, &end, 10);

	memset(v, 0, sizeof(*v));
	v->form = AZ_PORT;
	if (!s[0] || *end || p < 1 || p > 65535)
		return -EINVAL;
	v->port = (uint16_t)p;
	return 0;
}

static int az_value_compile(struct az_cc *c, enum az_attr attr, const struct ynode *n,
			    const char *path, struct az_value *v)
{
	const char *s = n->scalar;

	switch (attr) {
	case AZ_SOURCE_IP:
	case AZ_REMOTE_IP:
	case AZ_DEST_IP:
		if (az_value_cidr(v, s))
			return 0;
		az_report(c, DIAG_ERROR, n, "%s: \"%s\" is not an IP address or CIDR", path, s);
		return -EINVAL;
	case AZ_DEST_PORT:
		if (!az_value_port(v, s))
			return 0;
		az_report(c, DIAG_ERROR, n, "%s: \"%s\" is not a port between 1 and 65535", path,
			  s);
		return -EINVAL;
	case AZ_SERVICE_ACCOUNT:
		az_value_service_account(c, v, s);
		return 0;
	case AZ_PATH:
		if (!strstr(s, "{*}") && !strstr(s, "{**}"))
			break;
		memset(v, 0, sizeof(*v));
		v->form = AZ_TEMPLATE;
		v->text = strdup(s);
		if (!v->text)
			abort();
		return 0;
	case AZ_PRINCIPAL:
		if (!strncmp(s, "spiffe://", 9))
			az_report(c, DIAG_WARN, n,
				  "%s: \"%s\" never matches: Istio compares principals without "
				  "spiffe:// (write \"%s\")",
				  path, s, s + 9);
		break;
	default:
		break;
	}
	az_value_string(v, s);
	return 0;
}

static void az_values_free(struct az_value *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].text);
	free(v);
}

/* Parse a list of scalars into *vals. Returns the count, or -1 on error. */
static int az_values(struct az_cc *c, enum az_attr attr, const struct ynode *list, const char *path,
		     struct az_value **vals)
{
	size_t n = 0;

	*vals = NULL;
	if (!list || list->kind == YNODE_SCALAR) /* absent or null: not set */
		return 0;
	if (list->kind != YNODE_SEQ) {
		az_report(c, DIAG_ERROR, list, "%s must be a list of strings", path);
		return -1;
	}
	for (size_t i = 0; i < list->n; i++) {
		const struct ynode *it = list->items[i];
		struct az_value *v = az_push(vals, &n, sizeof(**vals));

		if (it->kind != YNODE_SCALAR || !it->scalar[0]) {
			az_report(c, DIAG_ERROR, it, "%s[%zu] must be a non-empty string", path, i);
			goto out_free;
		}
		if (az_value_compile(c, attr, it, path, v) < 0)
			goto out_free;
	}
	return (int)n;

out_free:
	az_values_free(*vals, n);
	*vals = NULL;
	return -1;
}

static void az_warn_unsupported(struct az_cc *c, const struct az_field *f, const struct ynode *at,
				const char *path)
{
	if (f->attr == AZ_REQUEST_AUTH)
		az_report(c, DIAG_WARN, at,
			  "%s: skiff validates no JWT (RequestAuthentication is not supported), so "
			  "request credentials are always absent: listed values never match, "
			  "not-values always do",
			  path);
	else if (f->attr == AZ_UNKNOWABLE)
		az_report(c, DIAG_WARN, at,
			  "%s: skiff has no Envoy filter metadata: an ALLOW rule using it never "
			  "matches; in DENY, CUSTOM and AUDIT rules the condition is ignored",
			  path);
}

int az_field_from_key(struct az_cc *c, const char *key, const struct ynode *list, bool operation,
		      const char *path, struct az_field *out)
{
	const struct az_key *k = operation ? az_operation_keys : az_source_keys;
	struct az_value *vals;
	int n;

	while (k->name && strcmp(k->name, key))
		k++;
	if (!k->name)
		return 0;
	memset(out, 0, sizeof(*out));
	out->attr = k->attr;
	out->http_only = az_attr_http_only(k->attr);
	n = az_values(c, k->attr, list, path, &vals);
	if (k->negated) {
		out->out = vals;
		out->nout = n > 0 ? (size_t)n : 0;
	} else {
		out->in = vals;
		out->nin = n > 0 ? (size_t)n : 0;
	}
	if (n <= 0) {
		az_field_free(out);
		return n;
	}
	az_warn_unsupported(c, out, list, path);
	return 1;
}

/* "request.headers[x-foo]" -> "x-foo" (owned). */
static char *az_bracket(const char *key)
{
	const char *open = strchr(key, '[');
	size_t n = strlen(key);
	char *r;

	if (!open || key[n - 1] != ']' || (size_t)(open - key) + 2 >= n)
		return NULL;
	r = strndup(open + 1, n - (size_t)(open - key) - 2);
	if (!r)
		abort();
	return r;
}

/* The attribute a `when` key names; false for a key Istio does not know. */
static bool az_when_attr(const char *key, struct az_field *f)
{
	for (const struct az_key *k = az_when_keys; k->name; k++)
		if (!strcmp(k->name, key)) {
			f->attr = k->attr;
			f->http_only = az_attr_http_only(k->attr);
			return true;
		}
	if (!strncmp(key, "request.headers[", 16)) {
		f->attr = AZ_HEADER;
		f->key = az_bracket(key);
		f->http_only = true;
		return f->key != NULL;
	}
	f->http_only = !strncmp(key, "request.", 8);
	if (!strncmp(key, "request.auth.", 13))
		f->attr = AZ_REQUEST_AUTH;
	else if (!strncmp(key, "experimental.envoy.filters.", 27) ||
		 !strncmp(key, "request.experimental.", 21))
		f->attr = AZ_UNKNOWABLE;
	else
		return false;
	return true;
}

int az_field_from_condition(struct az_cc *c, const struct ynode *cond, const char *path,
			    struct az_field *out)
{
	const char *key = ynode_str(ynode_get(cond, "key"));
	char p[512];
	int nin, nout;

	memset(out, 0, sizeof(*out));
	if (!key || !az_when_attr(key, out)) {
		az_report(c, DIAG_ERROR, cond, "%s.key: unknown attribute \"%s\"", path,
			  key ? key : "");
		az_field_free(out);
		return -1;
	}
	az_pathf(p, sizeof(p), "%s.values", path);
	nin = az_values(c, out->attr, ynode_get(cond, "values"), p, &out->in);
	out->nin = nin > 0 ? (size_t)nin : 0;
	az_pathf(p, sizeof(p), "%s.notValues", path);
	nout = az_values(c, out->attr, ynode_get(cond, "notValues"), p, &out->out);
	out->nout = nout > 0 ? (size_t)nout : 0;
	if (nin < 0 || nout < 0 || nin + nout == 0) {
		if (nin + nout == 0)
			az_report(c, DIAG_ERROR, cond, "%s needs values or notValues", path);
		az_field_free(out);
		return -1;
	}
	az_pathf(p, sizeof(p), "%s (%s)", path, key);
	az_warn_unsupported(c, out, cond, p);
	return 1;
}

void az_field_free(struct az_field *f)
{
	az_values_free(f->in, f->nin);
	az_values_free(f->out, f->nout);
	free(f->key);
	memset(f, 0, sizeof(*f));
}
