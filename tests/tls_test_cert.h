/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One throwaway self-signed P-256 certificate (and its key) for the TLS servers of a cmocka test:
 * CN and DNS SAN TLS_TEST_DNS, valid an hour. tls_test_cert_setup / _teardown are cmocka group
 * fixtures; the test's servers use tls_test_cert and tls_test_key.
 */
#ifndef SKIFF_TESTS_TLS_TEST_CERT_H
#define SKIFF_TESTS_TLS_TEST_CERT_H

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define TLS_TEST_DNS "skiff-tls.test"

static EVP_PKEY *tls_test_key;
static X509 *tls_test_cert;

static X509 *tls_test_self_signed(EVP_PKEY *pkey)
{
	X509V3_CTX v3;
	X509_EXTENSION *san;
	X509_NAME *name;
	X509 *x = X509_new();

	if (!x)
		return NULL;
	name = X509_get_subject_name(x);
	if (!X509_set_version(x, 2) || !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -60) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 3600) || !X509_set_pubkey(x, pkey) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (unsigned char *)TLS_TEST_DNS, -1,
					-1, 0) ||
	    !X509_set_issuer_name(x, name))
		goto fail;
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:" TLS_TEST_DNS);
	if (!san)
		goto fail;
	X509_add_ext(x, san, -1);
	X509_EXTENSION_free(san);
	if (!X509_sign(x, pkey, EVP_sha256()))
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

static int tls_test_cert_setup(void **state)
{
	(void)state;
	tls_test_key = EVP_EC_gen("P-256");
	tls_test_cert = tls_test_key ? tls_test_self_signed(tls_test_key) : NULL;
	if (!tls_test_cert) {
		ERR_print_errors_fp(stderr);
		return -1;
	}
	return 0;
}

static int tls_test_cert_teardown(void **state)
{
	(void)state;
	X509_free(tls_test_cert);
	EVP_PKEY_free(tls_test_key);
	return 0;
}

#endif
