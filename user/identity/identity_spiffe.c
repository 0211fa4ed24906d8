// SPDX-License-Identifier: Apache-2.0
/*
 * SPIFFE IDs of workloads: spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>, the form
 * Istio gives every workload and AuthorizationPolicy `principals` match on. The same checks guard
 * what skiffd mints and what it accepts from a peer, so both sides agree on what an ID is.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "identity/identity_internal.h"
#include "model/parse.h" /* dns1123_label/subdomain: one definition of Kubernetes names */

#define SPIFFE_SCHEME "spiffe://"

static bool td_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

static int check_trust_domain(const char *td, size_t len, struct identity_err *err)
{
	if (len == 0)
		return id_fail(err, -EINVAL, "trust domain is empty (Istio's default is \"%s\")",
			       IDENTITY_TRUST_DOMAIN_DEFAULT);
	if (len > 255)
		return id_fail(err, -EINVAL,
			       "trust domain \"%.40s...\" is %zu bytes; SPIFFE allows "
			       "at most 255",
			       td, len);
	for (size_t i = 0; i < len; i++)
		if (td[i] >= 'A' && td[i] <= 'Z')
			return id_fail(err, -EINVAL,
				       "trust domain \"%.*s\" has uppercase letters; SPIFFE trust "
				       "domains are lowercase (cluster.local, not Cluster.local)",
				       (int)len, td);
		else if (!td_char(td[i]))
			return id_fail(err, -EINVAL,
				       "trust domain \"%.*s\" has '%c' at position %zu; SPIFFE "
				       "allows lowercase letters, digits, '.', '-' and '_' only",
				       (int)len, td, td[i], i + 1);
	return 0;
}

static int check_names(const char *ns, const char *sa, struct identity_err *err)
{
	if (!dns1123_label(ns))
		return id_fail(
		    err, -EINVAL,
		    "namespace \"%s\" is not a Kubernetes namespace name (DNS-1123 label: "
		    "lowercase letters, digits and '-', starting and ending with a letter "
		    "or digit, at most 63 characters)",
		    ns ? ns : "");
	if (!dns1123_subdomain(sa))
		return id_fail(
		    err, -EINVAL,
		    "service account \"%s\" (namespace %s) is not a Kubernetes service "
		    "account name (DNS-1123 subdomain: lowercase letters, digits, '-' and "
		    "'.', at most 253 characters)",
		    sa ? sa : "", ns);
	return 0;
}

int identity_spiffe_make(const char *trust_domain, const char *ns, const char *sa,
			 struct spiffe_id *out, struct identity_err *err)
{
	int rc;

	if (!trust_domain)
		trust_domain = IDENTITY_TRUST_DOMAIN_DEFAULT;
	rc = check_trust_domain(trust_domain, strlen(trust_domain), err);
	if (!rc)
		rc = check_names(ns, sa, err);
	if (rc)
		return rc;
	/* the checks above bound every length to its field */
	snprintf(out->trust_domain, sizeof(out->trust_domain), "%s", trust_domain);
	snprintf(out->ns, sizeof(out->ns), "%s", ns);
	snprintf(out->sa, sizeof(out->sa), "%s", sa);
	return 0;
}

/* Copy the next '/'-free segment of [*p, end) into buf (NUL-terminated); false if too long. */
static bool next_segment(const char **p, const char *end, char *buf, size_t len)
{
	const char *s = *p, *slash = memchr(s, '/', end - s);
	size_t n = (slash ? slash : end) - s;

	if (n >= len)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*p = slash ? slash + 1 : end;
	return true;
}

int identity_spiffe_parse(const char *uri, size_t len, struct spiffe_id *out,
			  struct identity_err *err)
{
	const size_t scheme = strlen(SPIFFE_SCHEME);
	const char *p = uri + scheme, *end = uri + len;
	char td[256], k1[4], k2[4], ns[64], sa[254];

	if (len < scheme || memcmp(uri, SPIFFE_SCHEME, scheme))
		return id_fail(err, -EINVAL, "\"%.*s\" is not a SPIFFE ID (spiffe://...)",
			       (int)(len > 200 ? 200 : len), uri);
	if (memchr(uri, '\0', len) || !next_segment(&p, end, td, sizeof(td)) ||
	    !next_segment(&p, end, k1, sizeof(k1)) || !next_segment(&p, end, ns, sizeof(ns)) ||
	    !next_segment(&p, end, k2, sizeof(k2)) || !next_segment(&p, end, sa, sizeof(sa)) ||
	    p != end || strcmp(k1, "ns") || strcmp(k2, "sa") || uri[len - 1] == '/')
		return id_fail(err, -EINVAL,
			       "\"%.*s\" is not a workload SPIFFE ID "
			       "(spiffe://TRUST-DOMAIN/ns/NAMESPACE/sa/SERVICE-ACCOUNT)",
			       (int)(len > 200 ? 200 : len), uri);
	return identity_spiffe_make(td, ns, sa, out, err);
}

int identity_spiffe_format(const struct spiffe_id *id, char *buf, size_t len)
{
	int n =
	    snprintf(buf, len, SPIFFE_SCHEME "%s/ns/%s/sa/%s", id->trust_domain, id->ns, id->sa);

	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}
