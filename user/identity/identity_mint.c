// SPDX-License-Identifier: Apache-2.0
/*
 * Workload certificates, shaped like the ones Istio's CA issues (an X.509-SVID): the subject is
 * empty and the SPIFFE ID is the only identity, in a URI subjectAltName marked critical (RFC 5280
 * requires that when the subject is empty). No CN, no DNS names: a peer that matched on anything
 * but the SPIFFE ID would be matching on nothing.
 */
#include <errno.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "identity/identity_internal.h"

static const struct id_ext leaf_exts[] = {
    {NID_basic_constraints, "critical,CA:FALSE"},
    /* keyEncipherment is meaningless for an EC key, but Istio sets it and some verifiers
     * written against Istio's certificates look for it */
    {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
    {NID_ext_key_usage, "serverAuth,clientAuth"},
    {NID_authority_key_identifier, "keyid:always"},
};

/* The SPIFFE ID as the one, critical, URI SAN. Built as a GENERAL_NAME rather than config
 * text, so no character of the ID is ever read as config syntax. */
static int add_spiffe_san(X509 *x, const struct spiffe_id *id)
{
	char uri[sizeof(*id) + 32];
	GENERAL_NAMES *names = GENERAL_NAMES_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();
	int n = identity_spiffe_format(id, uri, sizeof(uri)), ok = 0;

	if (names && gn && s && n > 0 && ASN1_STRING_set(s, uri, n)) {
		GENERAL_NAME_set0_value(gn, GEN_URI, s);
		s = NULL;
		if (sk_GENERAL_NAME_push(names, gn)) {
			gn = NULL;
			ok = X509_add1_ext_i2d(x, NID_subject_alt_name, names, 1,
					       X509V3_ADD_DEFAULT);
		}
	}
	ASN1_IA5STRING_free(s);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(names);
	return ok == 1 ? 0 : -1;
}

/* Build and sign the leaf for `key`. */
static X509 *leaf_new(const struct identity_ca *ca, const struct spiffe_id *id, EVP_PKEY *key,
		      time_t not_before, time_t not_after)
{
	X509 *x = id_x509_new(key, not_before, not_after);

	if (!x || !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
	    add_spiffe_san(x, id) ||
	    id_x509_add_exts(x, ca->cert, leaf_exts, sizeof(leaf_exts) / sizeof(leaf_exts[0])) ||
	    !X509_sign(x, ca->key, EVP_sha256())) {
		X509_free(x);
		return NULL;
	}
	return x;
}

int identity_mint(const struct identity_ca *ca, const struct spiffe_id *id, time_t now, long ttl,
		  struct identity_cert *out, struct identity_err *err)
{
	time_t ca_end = id_time(X509_get0_notAfter(ca->cert));
	char uri[sizeof(*id) + 32];

	memset(out, 0, sizeof(*out));
	identity_spiffe_format(id, uri, sizeof(uri));
	if (ttl <= 0)
		return id_fail(err, -EINVAL, "%s: certificate lifetime %ld s must be positive", uri,
			       ttl);
	if (now >= ca_end)
		return id_fail(err, -EKEYEXPIRED,
			       "%s: the mesh root CA has expired; nothing it "
			       "signs would verify",
			       uri);
	out->id = *id;
	out->issued = now;
	out->not_before = now - IDENTITY_CLOCK_SKEW;
	/* a leaf that outlives its root only fails later, with a less clear error */
	out->not_after = now + ttl < ca_end ? now + ttl : ca_end;
	out->key = id_key_new();
	if (out->key)
		out->cert = leaf_new(ca, id, out->key, out->not_before, out->not_after);
	if (!out->cert) {
		identity_cert_free(out);
		return id_fail_ssl(err, -ENOMEM, "%s: cannot mint the workload certificate", uri);
	}
	return 0;
}

time_t identity_cert_refresh_at(const struct identity_cert *c)
{
	return c->issued + (c->not_after - c->issued) / 2;
}

void identity_cert_free(struct identity_cert *c)
{
	EVP_PKEY_free(c->key);
	X509_free(c->cert);
	c->key = NULL;
	c->cert = NULL;
}
