// SPDX-License-Identifier: Apache-2.0
/*
 * The request side: every attribute a field can name, read once per request, and the test of
 * one field against them.
 *
 * Identity comes only from the peer principal, as in Istio: `namespaces` is `.../ns/<ns>/...` of
 * the principal, `serviceAccounts` its ns/sa, `trustDomains` its `spiffe://<td>/` prefix. A
 * plaintext request has none of them, so `principals: ["*"]` does not match it and
 * `notPrincipals: ["*"]` does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "authz/authz_internal.h"

/* Copy s[0..n) into dst (size cap); false when it does not fit or is empty. */
static bool az_copy(char *dst, size_t cap, const char *s, size_t n)
{
	if (n == 0 || n >= cap)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

/* "td/ns/NS/sa/SA[/...]" -> td, NS and "NS/SA". */
static void az_identity_parse(struct az_attrs *a)
{
	const char *p = a->principal, *slash = strchr(p, '/'), *ns, *sa, *end;

	if (!slash)
		return;
	a->has_td = az_copy(a->td, sizeof(a->td), p, (size_t)(slash - p));
	if (strncmp(slash, "/ns/", 4))
		return;
	ns = slash + 4;
	sa = strstr(ns, "/sa/");
	if (!sa || memchr(ns, '/', (size_t)(sa - ns)))
		return;
	a->has_ns = az_copy(a->ns, sizeof(a->ns), ns, (size_t)(sa - ns));
	sa += 4;
	end = sa + strcspn(sa, "/");
	if (a->has_ns && end > sa && (size_t)(end - sa) < AZ_NAME_MAX) {
		snprintf(a->sa, sizeof(a->sa), "%s/%.*s", a->ns, (int)(end - sa), sa);
		a->has_sa = true;
	}
}

void az_attrs_init(struct az_attrs *a, const struct authz_request *rq, enum authz_path_norm norm)
{
	const char *p = rq->principal;

	memset(a, 0, sizeof(*a));
	a->rq = rq;
	if (p && !strncmp(p, "spiffe://", 9))
		p += 9;
	if (p && p[0]) {
		a->principal = p;
		az_identity_parse(a);
	}
	az_ip_parse(rq->source_ip, &a->src);
	az_ip_parse(rq->remote_ip ? rq->remote_ip : rq->source_ip, &a->remote);
	az_ip_parse(rq->dest_ip, &a->dst);
	if (!rq->tcp && rq->path)
		a->path = az_path_normalize(rq->path, norm);
}

void az_attrs_free(struct az_attrs *a)
{
	free(a->path);
	a->path = NULL;
}

static const char *az_nonempty(const char *s)
{
	return s && s[0] ? s : NULL;
}

/* Join the `count` headers named `name` with ',', in one allocation: a client controls how many
 * copies it sends, and growing the joined string per copy would be quadratic in their number. */
static char *az_header_join(const struct authz_request *rq, const char *name, size_t count,
			    size_t len)
{
	char *joined = malloc(len + count), *w = joined;

	if (!joined)
		abort();
	for (size_t i = 0; i < rq->nheaders; i++) {
		const struct authz_header *h = &rq->headers[i];
		size_t n;

		if (strcasecmp(h->name, name))
			continue;
		if (w != joined)
			*w++ = ',';
		n = strlen(h->value);
		memcpy(w, h->value, n);
		w += n;
	}
	*w = '\0';
	return joined;
}

/* A header by name; several of the same name are joined with ',' as Envoy does (*joined owned). */
static const char *az_header(const struct authz_request *rq, const char *name, char **joined)
{
	const char *found = NULL;
	size_t count = 0, len = 0;

	if (!strcmp(name, ":method"))
		return az_nonempty(rq->method);
	if (!strcmp(name, ":path"))
		return az_nonempty(rq->path);
	if (!strcmp(name, ":authority") || (!strcasecmp(name, "host") && rq->host))
		return az_nonempty(rq->host);
	for (size_t i = 0; i < rq->nheaders; i++) {
		const struct authz_header *h = &rq->headers[i];

		if (strcasecmp(h->name, name))
			continue;
		found = found ? found : h->value;
		count++;
		len += strlen(h->value);
	}
	if (count < 2)
		return found;
	*joined = az_header_join(rq, name, count, len);
	return *joined;
}

/* The string an attribute has in this request, NULL when the request has none. */
static const char *az_attr_string(const struct az_field *f, const struct az_attrs *a, char **joined)
{
	const struct authz_request *rq = a->rq;

	switch (f->attr) {
	case AZ_PRINCIPAL:
		return a->principal;
	case AZ_NAMESPACE:
		return a->has_ns ? a->ns : NULL;
	case AZ_SERVICE_ACCOUNT:
		return a->has_sa ? a->sa : NULL;
	case AZ_TRUST_DOMAIN:
		return a->has_td ? a->td : NULL;
	case AZ_SNI:
		return az_nonempty(rq->sni);
	case AZ_HOST:
		return rq->tcp ? NULL : az_nonempty(rq->host);
	case AZ_METHOD:
		return rq->tcp ? NULL : az_nonempty(rq->method);
	case AZ_HEADER:
		return rq->tcp ? NULL : az_header(rq, f->key, joined);
	default:
		return NULL;
	}
}

/* One value against the request; `s` is the attribute's string (az_attr_string). */
static bool az_value_match(const struct az_field *f, const struct az_value *v,
			   const struct az_attrs *a, const char *s)
{
	switch (f->attr) {
	case AZ_SOURCE_IP:
		return az_cidr_match(&v->cidr, &a->src);
	case AZ_REMOTE_IP:
		return az_cidr_match(&v->cidr, &a->remote);
	case AZ_DEST_IP:
		return az_cidr_match(&v->cidr, &a->dst);
	case AZ_DEST_PORT:
		return a->rq->dest_port && v->port == a->rq->dest_port;
	case AZ_PATH:
		if (v->form == AZ_TEMPLATE)
			return a->path && az_path_template_match(v->text, a->path);
		return az_string_match(v, a->path, false);
	case AZ_REQUEST_AUTH:
	case AZ_UNKNOWABLE:
		return false; /* never present (see authz.h) */
	default:
		return az_string_match(v, s, f->attr == AZ_HOST);
	}
}

/* The attribute is read once per list, not once per value: a joined header costs one join. */
static bool az_any(const struct az_field *f, const struct az_value *v, size_t n,
		   const struct az_attrs *a)
{
	char *joined = NULL;
	const char *s = az_attr_string(f, a, &joined);
	bool hit = false;

	for (size_t i = 0; i < n && !hit; i++)
		hit = az_value_match(f, &v[i], a, s);
	free(joined);
	return hit;
}

bool az_field_match(const struct az_field *f, const struct az_attrs *a)
{
	if (f->nin && !az_any(f, f->in, f->nin, a))
		return false;
	return !(f->nout && az_any(f, f->out, f->nout, a));
}
