// SPDX-License-Identifier: Apache-2.0
/*
 * Syntax checks shared by the Istio kind parsers: host names, gateway names, IPs and CIDRs,
 * regexes, retry conditions, percentages, enums. See model_istio_common.h for the contracts.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_istio_common.h"
#include "model/model_regex.h"

/* Wildcard first label: "*", "*foo", "*-foo" or a plain DNS-1123 label (Istio's rule). */
static bool wildcard_label(const char *l, size_t n)
{
	char buf[64];

	if (n == 0 || n > 63)
		return false;
	memcpy(buf, l, n);
	buf[n] = '\0';
	if (buf[0] != '*')
		return dns1123_label(buf);
	if (n == 1)
		return true;
	return dns1123_label(buf[1] == '-' ? buf + 2 : buf + 1);
}

static bool is_ip(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

bool istio_host_valid(const char *h, bool allow_star)
{
	const char *dot;
	size_t len = strlen(h);

	if (!strcmp(h, "*"))
		return allow_star;
	if (len == 0 || len > 255)
		return false;
	if (is_ip(h))
		return true;
	dot = strchr(h, '.');
	if (!wildcard_label(h, dot ? (size_t)(dot - h) : len))
		return false;
	/* The remaining labels are plain DNS-1123 labels; a trailing dot (FQDN) is fine. */
	while (dot && dot[1]) {
		const char *start = dot + 1;
		char buf[64];
		size_t n;

		dot = strchr(start, '.');
		n = dot ? (size_t)(dot - start) : strlen(start);
		if (n == 0 || n > 63)
			return false;
		memcpy(buf, start, n);
		buf[n] = '\0';
		if (!dns1123_label(buf))
			return false;
	}
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

bool istio_hosts_overlap(const char *a, const char *b)
{
	bool wa = a[0] == '*', wb = b[0] == '*';

	if (wa && wb)
		return strlen(a) < strlen(b) ? ends_with(b + 1, a + 1) : ends_with(a + 1, b + 1);
	if (wa)
		return ends_with(b, a + 1);
	if (wb)
		return ends_with(a, b + 1);
	return !strcmp(a, b);
}

bool istio_host_within(const char *inner, const char *outer)
{
	if (!strcmp(inner, outer))
		return true;
	if (outer[0] != '*')
		return false;
	return ends_with(inner[0] == '*' ? inner + 1 : inner, outer + 1);
}

void istio_check_gateway_name(struct pctx *c, const struct ynode *at, const char *name,
			      const char *path)
{
	const char *slash = strchr(name, '/');
	char ns[64];
	size_t n;

	if (!slash) {
		if (!dns1123_subdomain(name))
			perr(c, at,
			     "%s: \"%s\" is not a valid gateway name; write <namespace>/<name>",
			     path, name);
		else if (strchr(name, '.'))
			pwarn(c, at,
			      "%s: \"%s\" uses the legacy FQDN gateway format; prefer "
			      "<namespace>/<name>",
			      path, name);
		return;
	}
	n = (size_t)(slash - name);
	if (n > 0 && n < sizeof(ns)) {
		memcpy(ns, name, n);
		ns[n] = '\0';
	}
	if (n == 0 || n >= sizeof(ns) || !dns1123_label(ns) || !dns1123_label(slash + 1))
		perr(c, at,
		     "%s: \"%s\" is not a valid gateway reference; write <namespace>/<name> "
		     "with DNS-1123 labels",
		     path, name);
}

bool istio_check_export_to(struct pctx *c, const struct ynode *spec, const char *path)
{
	const struct ynode *seq;
	char **v = NULL;
	size_t n = 0;
	bool restricts;

	if (pstrlist(c, spec, "exportTo", &v, &n, path) < 0)
		return false;
	restricts = n > 1 || (n == 1 && strcmp(v[0], "*"));
	seq = ynode_get(spec, "exportTo");
	for (size_t i = 0; i < n && seq && i < seq->n; i++)
		if (strcmp(v[i], ".") && strcmp(v[i], "*") && strcmp(v[i], "~") &&
		    !dns1123_label(v[i]))
			perr(c, seq->items[i],
			     "%s[%zu]: \"%s\" must be \".\", \"*\", \"~\" or a "
			     "namespace name",
			     path, i, v[i]);
	istio_strlist_free(v, n);
	return restricts;
}

/* Istio validates regexes as RE2: model_regex.c checks RE2's syntax and compiles with PCRE2. */
bool istio_regex_valid(const char *re)
{
	char buf[160];

	return m_regex_problem(re, buf, sizeof(buf)) == NULL;
}

bool istio_header_name_valid(const char *name)
{
	const char *p = name[0] == ':' ? name + 1 : name;

	if (!*p)
		return false;
	for (; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("!#$%&'*+-.^_`|~", *p))
			return false;
	return true;
}

bool istio_ip_or_cidr_valid(const char *s)
{
	unsigned char a[16];
	const char *slash = strchr(s, '/');
	char ip[64], *end;
	long bits;
	size_t n;
	int fam;

	if (!slash)
		return is_ip(s);
	n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(ip))
		return false;
	memcpy(ip, s, n);
	ip[n] = '\0';
	fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(fam, ip, a) != 1)
		return false;
	if (!isdigit((unsigned char)slash[1]))
		return false;
	errno = 0;
	bits = strtol(slash + 1, &end, 10);
	return !errno && !*end && bits >= 0 && bits <= (fam == AF_INET ? 32 : 128);
}

int istio_grpc_code(const char *name)
{
	static const char *const codes[] = {
	    "OK",
	    "CANCELLED",
	    "UNKNOWN",
	    "INVALID_ARGUMENT",
	    "DEADLINE_EXCEEDED",
	    "NOT_FOUND",
	    "ALREADY_EXISTS",
	    "PERMISSION_DENIED",
	    "RESOURCE_EXHAUSTED",
	    "FAILED_PRECONDITION",
	    "ABORTED",
	    "OUT_OF_RANGE",
	    "UNIMPLEMENTED",
	    "INTERNAL",
	    "UNAVAILABLE",
	    "DATA_LOSS",
	    "UNAUTHENTICATED",
	    NULL,
	};

	for (int i = 0; codes[i]; i++)
		if (!strcmp(codes[i], name))
			return i;
	return -1;
}

bool istio_retry_on_valid(const char *tok)
{
	static const char *const names[] = {
	    "5xx",
	    "gateway-error",
	    "reset",
	    "reset-before-request",
	    "connect-failure",
	    "retriable-4xx",
	    "refused-stream",
	    "retriable-status-codes",
	    "retriable-headers",
	    "envoy-ratelimited",
	    "http3-post-connect-failure",
	    "cancelled",
	    "deadline-exceeded",
	    "internal",
	    "resource-exhausted",
	    "unavailable",
	    NULL,
	};
	char *end;
	long code;

	for (int i = 0; names[i]; i++)
		if (!strcmp(names[i], tok))
			return true;
	if (!isdigit((unsigned char)tok[0]))
		return false;
	code = strtol(tok, &end, 10);
	return !*end && code >= 100 && code <= 599;
}

bool istio_label_value_valid(const char *v)
{
	size_t n = strlen(v);

	if (n == 0)
		return true;
	if (n > 63 || !isalnum((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && !strchr("-_.", v[i]))
			return false;
	return true;
}

bool istio_label_key_valid(const char *k)
{
	const char *slash = strrchr(k, '/');
	const char *name = slash ? slash + 1 : k;

	if (slash) {
		char prefix[254];
		size_t n = (size_t)(slash - k);

		if (n == 0 || n >= sizeof(prefix))
			return false;
		memcpy(prefix, k, n);
		prefix[n] = '\0';
		if (!dns1123_subdomain(prefix))
			return false;
	}
	return name[0] && istio_label_value_valid(name);
}

char *istio_trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int istio_number(struct pctx *c, const struct ynode *map, const char *key, double *out,
		 const char *path)
{
	const struct ynode *n = ynode_get(map, key);
	char *end;
	double v;

	if (!n)
		return 0;
	if (n->kind != YNODE_SCALAR || !n->plain) {
		perr(c, n, "%s must be a number%s", path,
		     n->kind == YNODE_SCALAR ? " (remove the quotes)" : "");
		return -1;
	}
	errno = 0;
	v = strtod(n->scalar, &end);
	if (errno || end == n->scalar || *end || !isfinite(v)) {
		perr(c, n, "%s: \"%s\" is not a number", path, n->scalar);
		return -1;
	}
	*out = v;
	return 1;
}

int istio_percent(struct pctx *c, const struct ynode *map, const char *key, const char *path)
{
	double v;
	int rc = istio_number(c, map, key, &v, path);

	if (rc != 1)
		return rc;
	if (v < 0 || v > 100 || (v > 0 && v < 0.0001)) {
		perr(c, ynode_get(map, key), "%s: %s must be 0 or between 0.0001 and 100", path,
		     ynode_get(map, key)->scalar);
		return -1;
	}
	return 1;
}

int istio_check_enum(struct pctx *c, const struct ynode *map, const char *key,
		     const char *const *allowed, const char *path)
{
	const struct ynode *n = pget(c, map, key, YNODE_SCALAR, false, path);
	char list[256] = "";
	size_t len = 0;

	if (!n)
		return ynode_get(map, key) ? -EINVAL : -ENOENT;
	for (int i = 0; allowed[i]; i++) {
		if (!strcmp(allowed[i], n->scalar))
			return i;
		len += snprintf(list + len, len < sizeof(list) ? sizeof(list) - len : 0, "%s%s",
				i ? ", " : "", allowed[i]);
	}
	perr(c, n, "%s: unsupported value \"%s\" (one of %s)", path, n->scalar, list);
	return -EINVAL;
}

void istio_check_label_field(struct pctx *c, const struct ynode *map, const char *key,
			     const char *path)
{
	const struct ynode *n = pget(c, map, key, YNODE_SCALAR, false, path);

	if (n && !dns1123_label(n->scalar))
		perr(c, n, "%s: \"%s\" is not a valid namespace name (DNS-1123 label)", path,
		     n->scalar);
}

static void check_subnets(struct pctx *c, const struct ynode *m, const char *key, const char *path,
			  bool list)
{
	char p[256];
	const struct ynode *n;

	pathf(p, sizeof(p), "%s.%s", path, key);
	n = pget(c, m, key, list ? YNODE_SEQ : YNODE_SCALAR, false, p);
	if (!n)
		return;
	for (size_t i = 0; i < (list ? n->n : 1); i++) {
		const struct ynode *it = list ? n->items[i] : n;

		if (it->kind != YNODE_SCALAR || !istio_ip_or_cidr_valid(it->scalar))
			perr(c, it, "%s: \"%s\" is not an IP address or CIDR", p,
			     it->kind == YNODE_SCALAR ? it->scalar : "?");
	}
}

bool istio_l4_match(struct pctx *c, const struct ynode *m, const char *path, bool tls,
		    int64_t *port_out)
{
	static const char *const tcp_keys[] = {
	    "destinationSubnets", "port", "sourceLabels", "gateways", "sourceNamespace",
	    "sourceSubnet",	  NULL};
	static const char *const tls_keys[] = {
	    "sniHosts", "destinationSubnets", "port", "sourceLabels",
	    "gateways", "sourceNamespace",    NULL};
	struct labels l = {0};
	char **gw = NULL;
	size_t ngw = 0;
	char p[256];
	int64_t port = 0;

	if (m->kind != YNODE_MAP) {
		perr(c, m, "%s must be a mapping", path);
		return false;
	}
	punknown(c, m, tls ? tls_keys : tcp_keys, path);
	check_subnets(c, m, "destinationSubnets", path, true);
	if (!tls)
		check_subnets(c, m, "sourceSubnet", path, false);
	if (pint(c, m, "port", 1, 65535, &port, pathf(p, sizeof(p), "%s.port", path)) < 0)
		port = -1;
	if (port_out)
		*port_out = port;
	plabels(c, m, "sourceLabels", &l, pathf(p, sizeof(p), "%s.sourceLabels", path));
	labels_free(&l);
	pstrlist(c, m, "gateways", &gw, &ngw, pathf(p, sizeof(p), "%s.gateways", path));
	istio_strlist_free(gw, ngw);
	istio_check_label_field(c, m, "sourceNamespace",
				pathf(p, sizeof(p), "%s.sourceNamespace", path));
	return true;
}

void istio_strlist_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
