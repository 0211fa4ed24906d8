// SPDX-License-Identifier: Apache-2.0
/*
 * X.509 building blocks shared by the root and the workload certificates: the key, the
 * certificate's skeleton (version, serial, validity, public key) and its extensions.
 */
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "identity/identity_internal.h"

/* RFC 5280 allows 20 octets; 128 random bits make a collision between two certificates of one
 * CA as unlikely as a key collision, which is what a verifier's caches assume. */
#define ID_SERIAL_BITS 128

EVP_PKEY *id_key_new(void)
{
	return EVP_EC_gen("P-256");
}

static int set_random_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int ok;

	/* the top bit set: every serial is exactly 128 bits, never zero, always positive */
	ok = bn && BN_rand(bn, ID_SERIAL_BITS, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) &&
	     BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	return ok ? 0 : -1;
}

X509 *id_x509_new(EVP_PKEY *pub, time_t not_before, time_t not_after)
{
	X509 *x = X509_new();

	if (!x || !X509_set_version(x, X509_VERSION_3) || set_random_serial(x) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), not_after) || !X509_set_pubkey(x, pub)) {
		X509_free(x);
		return NULL;
	}
	return x;
}

int id_x509_add_exts(X509 *x, X509 *issuer, const struct id_ext *exts, size_t n)
{
	X509V3_CTX ctx;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	for (size_t i = 0; i < n; i++) {
		X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, exts[i].nid, exts[i].value);
		int ok = e && X509_add_ext(x, e, -1);

		X509_EXTENSION_free(e);
		if (!ok)
			return -1;
	}
	return 0;
}

time_t id_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return timegm(&tm);
}

enum identity_verdict id_verdict_of_x509(int x509_err)
{
	switch (x509_err) {
	case X509_V_OK:
		return ID_VERIFY_OK;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return ID_VERIFY_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return ID_VERIFY_NOT_YET_VALID;
	/* no path to the root: issued by another CA (same name or not), or self-signed */
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		return ID_VERIFY_UNTRUSTED;
	case X509_V_ERR_INVALID_PURPOSE: /* libssl's own usage check for the peer's role */
		return ID_VERIFY_KEY_USAGE;
	default:
		return ID_VERIFY_BAD_CHAIN;
	}
}
