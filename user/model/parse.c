// SPDX-License-Identifier: Apache-2.0
/*
 * Field helpers for the per-kind parsers (see parse.h). Each reports a problem once, as
 * "file:line: Kind ns/name: <field path> <problem>", and counts it in c->errors so a parser can
 * keep going and show every problem of a document in one pass.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/parse.h"

static void preport(struct pctx *c, enum diag_level lvl, const char *file, int line,
		    const char *fmt, va_list ap)
{
	char *body = NULL;

	if (vasprintf(&body, fmt, ap) < 0)
		abort();
	if (c->ns && c->ns[0])
		diag_add(c->d, lvl, file, line, "%s %s/%s: %s", c->kind, c->ns, c->name, body);
	else
		diag_add(c->d, lvl, file, line, "%s %s: %s", c->kind, c->name, body);
	free(body);
	if (lvl == DIAG_ERROR)
		c->errors++;
}

static const struct ynode *ploc(struct pctx *c, const struct ynode *at)
{
	return at ? at : c->doc;
}

void perr(struct pctx *c, const struct ynode *at, const char *fmt, ...)
{
	const struct ynode *n = ploc(c, at);
	va_list ap;

	va_start(ap, fmt);
	preport(c, DIAG_ERROR, n ? n->file : NULL, n ? n->line : 0, fmt, ap);
	va_end(ap);
}

void pwarn(struct pctx *c, const struct ynode *at, const char *fmt, ...)
{
	const struct ynode *n = ploc(c, at);
	va_list ap;

	va_start(ap, fmt);
	preport(c, DIAG_WARN, n ? n->file : NULL, n ? n->line : 0, fmt, ap);
	va_end(ap);
}

/* Report at an explicit line: a key's line, where the value may sit on a later line. */
static void preport_line(struct pctx *c, enum diag_level lvl, const struct ynode *in, int line,
			 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void preport_line(struct pctx *c, enum diag_level lvl, const struct ynode *in, int line,
			 const char *fmt, ...)
{
	const struct ynode *n = ploc(c, in);
	va_list ap;

	va_start(ap, fmt);
	preport(c, lvl, n ? n->file : NULL, line, fmt, ap);
	va_end(ap);
}

/* `key:` with nothing after it, `~` or `null`: Kubernetes treats these as "not set". */
static bool ynode_is_null(const struct ynode *n)
{
	if (n->kind != YNODE_SCALAR || !n->plain)
		return false;
	return !n->scalar[0] || !strcmp(n->scalar, "~") || !strcmp(n->scalar, "null") ||
	       !strcmp(n->scalar, "Null") || !strcmp(n->scalar, "NULL");
}

static bool plain_is_bool(const char *s)
{
	static const char *const words[] = {"true",  "True",  "TRUE", "false",
					    "False", "FALSE", NULL};

	for (size_t i = 0; words[i]; i++)
		if (!strcmp(s, words[i]))
			return true;
	return false;
}

static bool plain_is_number(const char *s)
{
	char *end;

	if (!s[0] || isspace((unsigned char)s[0]))
		return false;
	errno = 0;
	(void)strtod(s, &end);
	return *end == '\0';
}

/* A plain scalar YAML would read as a number, a bool or null, where a string is wanted. */
static bool ynode_is_nonstring(const struct ynode *n)
{
	return n->kind == YNODE_SCALAR && n->plain &&
	       (plain_is_bool(n->scalar) || plain_is_number(n->scalar) || ynode_is_null(n));
}

#define PATH(path, key) ((path) ? (path) : (key))

const struct ynode *pget(struct pctx *c, const struct ynode *map, const char *key,
			 enum ynode_kind want, bool required, const char *path)
{
	const struct ynode *n;

	if (!map || map->kind != YNODE_MAP)
		return NULL;
	n = ynode_get(map, key);
	if (!n || ynode_is_null(n)) {
		if (required)
			preport_line(c, DIAG_ERROR, map, ynode_key_line(map, key), "%s is required",
				     PATH(path, key));
		return NULL;
	}
	if (n->kind != want) {
		perr(c, n, "%s must be a %s, not a %s", PATH(path, key), ynode_kind_name(want),
		     ynode_kind_name(n->kind));
		return NULL;
	}
	return n;
}

static char *pxstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		abort();
	return p;
}

char *pstr(struct pctx *c, const struct ynode *map, const char *key, bool required,
	   const char *path)
{
	const struct ynode *n = pget(c, map, key, YNODE_SCALAR, required, path);

	if (!n)
		return NULL;
	if (required && !n->scalar[0]) {
		perr(c, n, "%s must not be empty", PATH(path, key));
		return NULL;
	}
	return pxstrdup(n->scalar);
}

int pint(struct pctx *c, const struct ynode *map, const char *key, int64_t min, int64_t max,
	 int64_t *out, const char *path)
{
	const struct ynode *n = pget(c, map, key, YNODE_SCALAR, false, path);
	const char *s;
	long long v;
	char *end;

	if (!n)
		return ynode_get(map, key) && !ynode_is_null(ynode_get(map, key)) ? -1 : 0;
	s = n->scalar;
	if (!n->plain) {
		perr(c, n, "%s must be an integer, not the string \"%s\" (remove the quotes)",
		     PATH(path, key), s);
		return -1;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (!s[0] || *end || errno == ERANGE || isspace((unsigned char)s[0])) {
		perr(c, n, "%s must be an integer, not %s", PATH(path, key), s);
		return -1;
	}
	if (v < min) {
		perr(c, n, "%s %lld must be >= %lld", PATH(path, key), v, (long long)min);
		return -1;
	}
	if (v > max) {
		perr(c, n, "%s %lld must be <= %lld", PATH(path, key), v, (long long)max);
		return -1;
	}
	*out = v;
	return 1;
}

int pbool(struct pctx *c, const struct ynode *map, const char *key, bool *out, const char *path)
{
	const struct ynode *n = pget(c, map, key, YNODE_SCALAR, false, path);
	const char *s;

	if (!n)
		return ynode_get(map, key) && !ynode_is_null(ynode_get(map, key)) ? -1 : 0;
	s = n->scalar;
	if (n->plain && plain_is_bool(s)) {
		*out = s[0] == 't' || s[0] == 'T';
		return 1;
	}
	perr(c, n, "%s must be true or false, not %s%s%s", PATH(path, key), n->plain ? "" : "\"", s,
	     n->plain ? "" : "\"");
	return -1;
}

/* The unit after a number of a duration, in nanoseconds; -1 when unknown. "ms" comes before
 * "m" so that the minute does not swallow the millisecond. */
static double duration_unit_ns(const char **p)
{
	static const struct {
		const char *u;
		double ns;
	} units[] = {{"ns", 1},	 {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6},
		     {"s", 1e9}, {"m", 60e9}, {"h", 3600e9},	  {NULL, 0}};

	for (size_t i = 0; units[i].u; i++) {
		size_t len = strlen(units[i].u);

		if (!strncmp(*p, units[i].u, len)) {
			*p += len;
			return units[i].ns;
		}
	}
	return -1;
}

static int duration_parse(const char *s, double *ns)
{
	const char *p = s;
	double total = 0, v, unit;
	char *end;

	if (!*p)
		return -1;
	while (*p) {
		if (!isdigit((unsigned char)*p) && *p != '.')
			return -1;
		v = strtod(p, &end);
		if (end == p)
			return -1;
		p = end;
		unit = duration_unit_ns(&p);
		if (unit < 0)
			return -1;
		total += v * unit;
	}
	*ns = total;
	return 0;
}

int duration_ms_parse(const char *s, int64_t *ms)
{
	long long msr;
	double ns;

	if (duration_parse(s, &ns) < 0)
		return -1;
	if (ns < 1e6)
		return -2;
	msr = llround(ns / 1e6);
	if (ns > 1e21 || fabs((double)msr * 1e6 - ns) > 0.5)
		return -3;
	*ms = msr;
	return 0;
}

int pduration(struct pctx *c, const struct ynode *map, const char *key, int64_t *ms,
	      const char *path)
{
	const struct ynode *n = pget(c, map, key, YNODE_SCALAR, false, path);
	long long msr;
	double ns;

	if (!n)
		return ynode_get(map, key) && !ynode_is_null(ynode_get(map, key)) ? -1 : 0;
	if (duration_parse(n->scalar, &ns) < 0) {
		perr(c, n, "%s \"%s\" is not a duration (write e.g. 2s, 150ms, 1.5s, 1m)",
		     PATH(path, key), n->scalar);
		return -1;
	}
	if (ns < 1e6) {
		perr(c, n, "%s %s must be at least 1ms", PATH(path, key), n->scalar);
		return -1;
	}
	msr = llround(ns / 1e6);
	if (ns > 1e21 || fabs((double)msr * 1e6 - ns) > 0.5) {
		perr(c, n, "%s %s must be a whole number of milliseconds", PATH(path, key),
		     n->scalar);
		return -1;
	}
	*ms = msr;
	return 1;
}

static void labels_add(struct labels *l, const char *k, const char *v)
{
	struct kv *e = PUSH(l->v, l->n);

	e->key = pxstrdup(k);
	e->val = pxstrdup(v);
}

int plabels(struct pctx *c, const struct ynode *map, const char *key, struct labels *out,
	    const char *path)
{
	const struct ynode *n = pget(c, map, key, YNODE_MAP, false, path);
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!n)
		return ynode_get(map, key) && !ynode_is_null(ynode_get(map, key)) ? -1 : 0;
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *v = n->items[i];

		if (v->kind != YNODE_SCALAR) {
			perr(c, v, "%s.%s must be a string, not a %s", PATH(path, key), n->keys[i],
			     ynode_kind_name(v->kind));
			rc = -1;
			continue;
		}
		if (ynode_is_nonstring(v)) {
			perr(c, v, "%s.%s must be a string: write \"%s\" in quotes",
			     PATH(path, key), n->keys[i], v->scalar);
			rc = -1;
			continue;
		}
		labels_add(out, n->keys[i], v->scalar);
	}
	return rc;
}

int pstrlist(struct pctx *c, const struct ynode *map, const char *key, char ***out, size_t *nout,
	     const char *path)
{
	const struct ynode *n = pget(c, map, key, YNODE_SEQ, false, path);
	int rc = 0;

	*out = NULL;
	*nout = 0;
	if (!n)
		return ynode_get(map, key) && !ynode_is_null(ynode_get(map, key)) ? -1 : 0;
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *v = n->items[i];

		if (v->kind != YNODE_SCALAR) {
			perr(c, v, "%s[%zu] must be a string, not a %s", PATH(path, key), i,
			     ynode_kind_name(v->kind));
			rc = -1;
			continue;
		}
		*PUSH(*out, *nout) = pxstrdup(v->scalar);
	}
	if (rc < 0) { /* all or nothing: callers that give up on an error hold no half list */
		for (size_t i = 0; i < *nout; i++)
			free((*out)[i]);
		free(*out);
		*out = NULL;
		*nout = 0;
	}
	return rc;
}

void punknown(struct pctx *c, const struct ynode *map, const char *const *known, const char *path)
{
	if (!map || map->kind != YNODE_MAP)
		return;
	for (size_t i = 0; i < map->n; i++) {
		size_t k;

		for (k = 0; known[k]; k++)
			if (!strcmp(known[k], map->keys[i]))
				break;
		if (known[k])
			continue;
		preport_line(c, DIAG_WARN, map, map->key_lines[i], "%s%s%s: unknown field, ignored",
			     path && path[0] ? path : "", path && path[0] ? "." : "", map->keys[i]);
	}
}

void punenforced(struct pctx *c, struct m_unenforced **v, size_t *n, const struct ynode *at,
		 const char *field)
{
	struct m_unenforced *u = PUSH(*v, *n);

	u->field = pxstrdup(field);
	u->line = ploc(c, at) ? ploc(c, at)->line : 0;
}

int pproto(struct pctx *c, const struct ynode *map, const char *key, uint8_t *out, const char *path)
{
	const struct ynode *n = pget(c, map, key, YNODE_SCALAR, false, path);

	if (!n) {
		if (ynode_get(map, key) && !ynode_is_null(ynode_get(map, key)))
			return -1;
		*out = IPPROTO_TCP;
		return 0;
	}
	if (!strcmp(n->scalar, "TCP"))
		*out = IPPROTO_TCP;
	else if (!strcmp(n->scalar, "UDP"))
		*out = IPPROTO_UDP;
	else if (!strcmp(n->scalar, "SCTP"))
		*out = IPPROTO_SCTP;
	else {
		perr(c, n, "%s %s must be TCP, UDP or SCTP", PATH(path, key), n->scalar);
		return -1;
	}
	return 1;
}

int pip(struct pctx *c, const struct ynode *at, int family, const char *path)
{
	const char *s = ynode_str(at);
	unsigned char buf[sizeof(struct in6_addr)];
	int got = 0;

	if (s && inet_pton(AF_INET, s, buf) == 1)
		got = 4;
	else if (s && inet_pton(AF_INET6, s, buf) == 1)
		got = 6;
	if (got && (!family || family == got))
		return got;
	if (!s)
		perr(c, at, "%s must be an IP address, not a %s", path,
		     at ? ynode_kind_name(at->kind) : "nothing");
	else
		perr(c, at, "%s \"%s\" is not an %s address", path, s,
		     family == 4   ? "IPv4"
		     : family == 6 ? "IPv6"
				   : "IP");
	return -1;
}

static bool dns_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static bool dns1123_label_n(const char *s, size_t len)
{
	if (len == 0 || len > 63 || !dns_alnum(s[0]) || !dns_alnum(s[len - 1]))
		return false;
	for (size_t i = 1; i + 1 < len; i++)
		if (!dns_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool dns1123_label(const char *s)
{
	return s && dns1123_label_n(s, strlen(s));
}

bool dns1123_subdomain(const char *s)
{
	const char *p, *dot;

	if (!s || !s[0] || strlen(s) > 253)
		return false;
	for (p = s;; p = dot + 1) {
		dot = strchr(p, '.');
		if (!dns1123_label_n(p, dot ? (size_t)(dot - p) : strlen(p)))
			return false;
		if (!dot)
			return true;
	}
}

/* Capacity is implicit: 1, then doubled whenever the count reaches a power of two. Most of a
 * cluster's arrays hold one or two items (a Service's ports and labels, a slice's ports): a
 * first room of four left 10,000 Services and their slices about 3 MB of it unused. */
void *parray_push(void **arr, size_t *n, size_t elem)
{
	size_t cnt = *n, cap;
	char *p;

	if (!(cnt & (cnt - 1))) {
		cap = cnt ? 2 * cnt : 1;
		p = realloc(*arr, cap * elem);
		if (!p)
			abort();
		*arr = p;
	}
	p = (char *)*arr + cnt * elem;
	memset(p, 0, elem);
	*n = cnt + 1;
	return p;
}

void labels_free(struct labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].val);
	}
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void meta_free(struct meta *m)
{
	free(m->name);
	free(m->ns);
	labels_free(&m->labels);
	memset(m, 0, sizeof(*m));
}

/* Namespaces and Services are DNS labels (they become DNS names); other objects subdomains. */
static bool pmeta_wants_label(const struct pctx *c)
{
	return !strcmp(c->kind, "Namespace") || !strcmp(c->kind, "Service");
}

static void pmeta_check_name(struct pctx *c, const struct ynode *md, const char *name)
{
	if (pmeta_wants_label(c) && !dns1123_label(name))
		perr(c, ynode_get(md, "name"),
		     "metadata.name \"%s\" must be a lowercase RFC 1123 label (a-z, 0-9, '-', at "
		     "most 63 characters)",
		     name);
	else if (!pmeta_wants_label(c) && !dns1123_subdomain(name))
		perr(c, ynode_get(md, "name"),
		     "metadata.name \"%s\" must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-', "
		     "'.')",
		     name);
}

int pmeta(struct pctx *c, struct meta *out, bool namespaced)
{
	const struct ynode *md;
	int before = c->errors;

	memset(out, 0, sizeof(*out));
	out->file = c->doc->file;
	out->line = ynode_key_line(c->doc, "kind");
	out->doc = c->doc;
	md = pget(c, c->doc, "metadata", YNODE_MAP, true, NULL);
	if (!md)
		return -EINVAL;
	out->name = pstr(c, md, "name", true, "metadata.name");
	if (out->name)
		pmeta_check_name(c, md, out->name);
	if (namespaced) {
		out->ns = pstr(c, md, "namespace", false, "metadata.namespace");
		if (!out->ns)
			out->ns = pxstrdup("default");
		else if (!dns1123_label(out->ns))
			perr(c, ynode_get(md, "namespace"),
			     "metadata.namespace \"%s\" must be a lowercase RFC 1123 label",
			     out->ns);
	} else {
		out->ns = pxstrdup("");
	}
	/* checked for all kinds, kept only by pods, the one kind whose uid is read (model_k8s_pod.c) */
	free(pstr(c, md, "uid", false, "metadata.uid"));
	plabels(c, md, "labels", &out->labels, "metadata.labels");
	return c->errors > before ? -EINVAL : 0;
}
