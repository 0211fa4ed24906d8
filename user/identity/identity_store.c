// SPDX-License-Identifier: Apache-2.0
/*
 * The credentials of this node's workloads, one entry per (namespace, service account), minted
 * on first use and rotated at half-life, as Istio's agent does. Rotation never cuts a
 * connection: a TLS connection holds its own references to the context, key and certificate it
 * was made with, and the certificate it replaced still has half its life left; the store keeps
 * that previous generation until the next rotation or its expiry, for callers that look it up.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "identity/identity_internal.h"

static void cred_free(struct identity_cred *c)
{
	identity_cert_free(&c->cert);
	SSL_CTX_free(c->tls);
	memset(c, 0, sizeof(*c));
}

/* A fresh generation for `id`: certificate and the TLS context that presents it. */
static int cred_mint(struct identity_store *s, const struct spiffe_id *id, time_t now,
		     struct identity_cred *out, struct identity_err *err)
{
	int rc = identity_mint(s->ca, id, now, s->ttl, &out->cert, err);

	if (rc)
		return rc;
	out->tls = identity_tls_ctx(s->ca, &out->cert, s->alpn[0] ? s->alpn : NULL, err);
	if (!out->tls) {
		identity_cert_free(&out->cert);
		return -ENOMEM;
	}
	return 0;
}

int identity_store_init(struct identity_store *s, const struct identity_ca *ca,
			const struct identity_store_opts *o, struct identity_err *err)
{
	struct identity_store_opts none = {0};
	struct spiffe_id probe;
	int rc;

	memset(s, 0, sizeof(*s));
	o = o ? o : &none;
	/* check the trust domain once, here, with names that are always valid */
	rc = identity_spiffe_make(o->trust_domain, "default", "default", &probe, err);
	if (rc)
		return rc;
	if (o->ttl < 0)
		return id_fail(err, -EINVAL, "certificate lifetime %ld s must be positive", o->ttl);
	if (o->alpn && strlen(o->alpn) >= sizeof(s->alpn))
		return id_fail(err, -EINVAL, "ALPN protocol \"%s\" is too long", o->alpn);
	s->ca = ca;
	memcpy(s->trust_domain, probe.trust_domain, sizeof(s->trust_domain));
	s->ttl = o->ttl ? o->ttl : IDENTITY_TTL_DEFAULT;
	snprintf(s->alpn, sizeof(s->alpn), "%s", o->alpn ? o->alpn : "");
	return 0;
}

static struct identity_workload *find(struct identity_store *s, const char *ns, const char *sa)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i]->cur.cert.id.ns, ns) && !strcmp(s->v[i]->cur.cert.id.sa, sa))
			return s->v[i];
	return NULL;
}

const struct identity_workload *identity_store_get(struct identity_store *s, const char *ns,
						   const char *sa, time_t now,
						   struct identity_err *err)
{
	struct identity_workload *w = ns && sa ? find(s, ns, sa) : NULL;
	struct spiffe_id id;

	if (w)
		return w;
	if (identity_spiffe_make(s->trust_domain, ns, sa, &id, err))
		return NULL;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct identity_workload **v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			id_fail(err, -ENOMEM, "%s/%s: out of memory", ns, sa);
			return NULL;
		}
		s->v = v;
		s->cap = cap;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		id_fail(err, -ENOMEM, "%s/%s: out of memory", ns, sa);
		return NULL;
	}
	if (cred_mint(s, &id, now, &w->cur, err)) {
		free(w);
		return NULL;
	}
	s->v[s->n++] = w;
	return w;
}

void identity_store_remove(struct identity_store *s, const char *ns, const char *sa)
{
	struct identity_workload *w = find(s, ns, sa);

	if (!w)
		return;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == w) {
			s->v[i] = s->v[--s->n]; /* order does not matter: lookups are by name */
			break;
		}
	cred_free(&w->cur);
	cred_free(&w->prev);
	free(w);
}

/* Rotate one workload if it is due; 1 when it was, 0 when not, -errno on failure. */
static int rotate_one(struct identity_store *s, struct identity_workload *w, time_t now,
		      struct identity_err *err)
{
	struct identity_cred next;
	int rc;

	if (w->prev.tls && now >= w->prev.cert.not_after)
		cred_free(&w->prev); /* expired: nobody can use it any more */
	if (now < identity_cert_refresh_at(&w->cur.cert))
		return 0;
	rc = cred_mint(s, &w->cur.cert.id, now, &next, err);
	if (rc)
		return rc;
	cred_free(&w->prev);
	w->prev = w->cur;
	w->cur = next;
	return 1;
}

int identity_store_rotate(struct identity_store *s, time_t now, struct identity_err *err)
{
	int rotated = 0, first_rc = 0;

	for (size_t i = 0; i < s->n; i++) {
		/* a failure is reported once (the first); later ones must not overwrite it */
		int rc = rotate_one(s, s->v[i], now, first_rc ? NULL : err);

		if (rc > 0)
			rotated++;
		else if (rc < 0 && !first_rc)
			first_rc = rc;
	}
	return first_rc ? first_rc : rotated;
}

time_t identity_store_next_refresh(const struct identity_store *s)
{
	time_t next = 0;

	for (size_t i = 0; i < s->n; i++) {
		time_t t = identity_cert_refresh_at(&s->v[i]->cur.cert);

		if (!next || t < next)
			next = t;
	}
	return next;
}

void identity_store_free(struct identity_store *s)
{
	for (size_t i = 0; i < s->n; i++) {
		cred_free(&s->v[i]->cur);
		cred_free(&s->v[i]->prev);
		free(s->v[i]);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}
