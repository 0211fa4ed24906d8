// SPDX-License-Identifier: Apache-2.0
/*
 * Is a peer's certificate a mesh identity, and whose? The chain must lead to the mesh root (the
 * only trust anchor), be valid at `now`, and end in a leaf whose one URI SAN is a workload
 * SPIFFE ID. Each way of failing is its own verdict, so the caller can log what was wrong with
 * the peer ("expired", "another CA") instead of "handshake failed".
 */
#include <openssl/x509v3.h>
#include <string.h>

#include "identity/identity_internal.h"

const char *identity_verdict_str(enum identity_verdict v)
{
	switch (v) {
	case ID_VERIFY_OK:
		return "ok";
	case ID_VERIFY_NO_CERT:
		return "no certificate presented";
	case ID_VERIFY_UNTRUSTED:
		return "not issued by the mesh root CA";
	case ID_VERIFY_EXPIRED:
		return "certificate expired";
	case ID_VERIFY_NOT_YET_VALID:
		return "certificate not valid yet (clock skew?)";
	case ID_VERIFY_BAD_CHAIN:
		return "invalid certificate chain";
	case ID_VERIFY_CA_AS_LEAF:
		return "a CA certificate presented as a workload identity";
	case ID_VERIFY_NO_URI_SAN:
		return "no URI subjectAltName (no SPIFFE ID)";
	case ID_VERIFY_MULTIPLE_URI_SANS:
		return "more than one URI subjectAltName";
	case ID_VERIFY_NOT_SPIFFE:
		return "URI subjectAltName is not a spiffe:// ID";
	case ID_VERIFY_BAD_SPIFFE_ID:
		return "SPIFFE ID is not spiffe://TD/ns/NS/sa/SA";
	case ID_VERIFY_OTHER_TRUST_DOMAIN:
		return "SPIFFE ID of another trust domain";
	case ID_VERIFY_KEY_USAGE:
		return "key usage does not allow this TLS role (digitalSignature, "
		       "serverAuth/clientAuth)";
	case ID_VERIFY_WRONG_PEER:
		return "not the identity this connection expects";
	}
	return "unknown verdict";
}

/* The one URI among `names` (NULL, with *v saying why, when there is none or more than one). */
static const ASN1_IA5STRING *only_uri(GENERAL_NAMES *names, enum identity_verdict *v)
{
	const ASN1_IA5STRING *uri = NULL;

	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		if (gn->type != GEN_URI)
			continue; /* other SAN types are allowed beside the SPIFFE ID, and unused */
		if (uri) {
			*v = ID_VERIFY_MULTIPLE_URI_SANS;
			return NULL;
		}
		uri = gn->d.uniformResourceIdentifier;
	}
	*v = uri ? ID_VERIFY_OK : ID_VERIFY_NO_URI_SAN;
	return uri;
}

enum identity_verdict identity_spiffe_of_cert(X509 *cert, struct spiffe_id *out)
{
	GENERAL_NAMES *names;
	const ASN1_IA5STRING *uri;
	enum identity_verdict v;
	const char *s;
	int n;

	if (!cert)
		return ID_VERIFY_NO_CERT;
	if (X509_check_ca(cert))
		return ID_VERIFY_CA_AS_LEAF;
	names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	v = ID_VERIFY_NO_URI_SAN;
	uri = names ? only_uri(names, &v) : NULL;
	if (uri) {
		s = (const char *)ASN1_STRING_get0_data(uri);
		n = ASN1_STRING_length(uri);
		if (n < 9 || strncmp(s, "spiffe://", 9))
			v = ID_VERIFY_NOT_SPIFFE;
		else if (identity_spiffe_parse(s, n, out, NULL))
			v = ID_VERIFY_BAD_SPIFFE_ID;
	}
	GENERAL_NAMES_free(names);
	return v;
}

enum identity_verdict identity_check_usage(X509 *cert, bool server)
{
	uint32_t flags = X509_get_extension_flags(cert); /* also caches the extensions */
	uint32_t want = server ? XKU_SSL_SERVER : XKU_SSL_CLIENT;

	/* a leaf without the extensions may be used for anything: a mesh leaf says what for */
	if (!(flags & EXFLAG_KUSAGE) || !(X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE) ||
	    !(flags & EXFLAG_XKUSAGE) || !(X509_get_extended_key_usage(cert) & want))
		return ID_VERIFY_KEY_USAGE;
	return ID_VERIFY_OK;
}

enum identity_verdict identity_verify(const struct identity_ca *ca, X509 *leaf,
				      STACK_OF(X509) * untrusted, time_t now, struct spiffe_id *out)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	enum identity_verdict v = ID_VERIFY_BAD_CHAIN;

	if (!leaf) {
		v = ID_VERIFY_NO_CERT;
		goto out;
	}
	if (!store || !ctx || !X509_STORE_add_cert(store, ca->cert) ||
	    !X509_STORE_CTX_init(ctx, store, leaf, untrusted))
		goto out;
	X509_STORE_CTX_set_time(ctx, 0, now);
	if (X509_verify_cert(ctx) == 1)
		v = identity_spiffe_of_cert(leaf, out);
	else
		v = id_verdict_of_x509(X509_STORE_CTX_get_error(ctx));
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return v;
}
