// SPDX-License-Identifier: Apache-2.0
/*
 * SPIFFE IDs (what names are accepted, with which error) and workload certificates: every field
 * identity_mint() promises, read back with OpenSSL's API, and the same certificates judged by the
 * real `openssl verify` and `openssl x509 -text`, so "valid" is not only skiff's own opinion.
 */
#include "unit/identity_test.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	tmpdir_make(dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tmpdir_remove(dir);
	return 0;
}

/* ---- SPIFFE IDs ---- */

static void test_spiffe_make_and_format(void **state)
{
	struct spiffe_id id;
	char buf[600];

	(void)state;
	assert_int_equal(identity_spiffe_make(NULL, "payments", "api-sa", &id, NULL), 0);
	assert_string_equal(id.trust_domain, "cluster.local");
	assert_int_equal(identity_spiffe_format(&id, buf, sizeof(buf)),
			 strlen("spiffe://cluster.local/ns/payments/sa/api-sa"));
	assert_string_equal(buf, "spiffe://cluster.local/ns/payments/sa/api-sa");
	/* SPIFFE's trust-domain alphabet, a dotted service account (Kubernetes allows it) */
	assert_int_equal(identity_spiffe_make("my_td-1.example", "a", "ci.bot", &id, NULL), 0);
	identity_spiffe_format(&id, buf, sizeof(buf));
	assert_string_equal(buf, "spiffe://my_td-1.example/ns/a/sa/ci.bot");
	assert_int_equal(identity_spiffe_format(&id, buf, 10), -ENOSPC);
}

static void test_spiffe_make_errors(void **state)
{
	static const struct {
		const char *td, *ns, *sa, *msg;
	} bad[] = {
	    {"", "a", "b", "trust domain is empty"},
	    {"Cluster.local", "a", "b", "has uppercase letters"},
	    {"td/x", "a", "b", "has '/' at position 3"},
	    {"td:1", "a", "b", "has ':' at position 3"},
	    {"td", "Payments", "b", "namespace \"Payments\" is not a Kubernetes namespace"},
	    {"td", "-a", "b", "namespace \"-a\""},
	    {"td", "a.b", "b", "namespace \"a.b\""}, /* a label: no dots */
	    {"td", "", "b", "namespace \"\""},
	    {"td", "a", "", "service account \"\" (namespace a)"},
	    {"td", "a", "B", "service account \"B\""},
	    {"td", "a", "x/y", "service account \"x/y\""},
	    {"td", "a", "a..b", "service account \"a..b\""},
	};
	struct identity_err err;
	struct spiffe_id id;
	char longtd[300];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = '\0';
		if (identity_spiffe_make(bad[i].td, bad[i].ns, bad[i].sa, &id, &err) != -EINVAL ||
		    !strstr(err.msg, bad[i].msg))
			fail_msg("(%s, %s, %s): \"%s\", want \"%s\"", bad[i].td, bad[i].ns,
				 bad[i].sa, err.msg, bad[i].msg);
	}
	memset(longtd, 'a', 256);
	longtd[256] = '\0';
	assert_int_equal(identity_spiffe_make(longtd, "a", "b", &id, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "at most 255"));
	longtd[255] = '\0';
	assert_int_equal(identity_spiffe_make(longtd, "a", "b", &id, &err), 0);
	assert_int_equal(identity_spiffe_make("td", NULL, "b", &id, &err), -EINVAL);
}

static void test_spiffe_parse(void **state)
{
	static const char *const bad[] = {
	    "https://cluster.local/ns/a/sa/b",
	    "spiffe://cluster.local/ns/a/sa/b/",
	    "spiffe://cluster.local/ns/a/sa/b/c",
	    "spiffe://cluster.local/ns/a",
	    "spiffe://cluster.local/namespace/a/sa/b",
	    "spiffe://cluster.local/ns/a/serviceaccount/b",
	    "spiffe:///ns/a/sa/b",
	    "spiffe://Cluster.local/ns/a/sa/b",
	    "spiffe://cluster.local/ns/A/sa/b",
	    "spiffe://cluster.local",
	    "spiffe:/",
	};
	const char *good = "spiffe://td.example/ns/payments/sa/api";
	struct spiffe_id id;

	(void)state;
	assert_int_equal(identity_spiffe_parse(good, strlen(good), &id, NULL), 0);
	assert_string_equal(id.trust_domain, "td.example");
	assert_string_equal(id.ns, "payments");
	assert_string_equal(id.sa, "api");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (identity_spiffe_parse(bad[i], strlen(bad[i]), &id, NULL) != -EINVAL)
			fail_msg("accepted \"%s\"", bad[i]);
	/* a NUL inside the SAN bytes must not cut the ID short into a valid-looking one */
	assert_int_equal(identity_spiffe_parse("spiffe://td/ns/a/sa/b\0x", 23, &id, NULL), -EINVAL);
}

/* ---- the certificate, field by field ---- */

static void check_only_san_is_uri(X509 *x, const char *want)
{
	int crit = -1;
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	const GENERAL_NAME *gn;

	assert_non_null(names);
	assert_int_equal(crit, 1); /* critical: the subject is empty (RFC 5280 4.2.1.6) */
	assert_int_equal(sk_GENERAL_NAME_num(names), 1);
	gn = sk_GENERAL_NAME_value(names, 0);
	assert_int_equal(gn->type, GEN_URI);
	assert_string_equal((const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
			    want);
	GENERAL_NAMES_free(names);
}

static bool ext_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	return i >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

static void test_mint_fields(void **state)
{
	struct identity_ca ca;
	struct identity_cert c;
	BIGNUM *serial;
	EVP_PKEY *ca_pub;

	(void)state;
	ca_make_at(&ca, T0 - DAY, IDENTITY_CA_TTL);
	mint_at(&ca, "payments", "api", T0, 3600, &c);
	assert_string_equal(c.id.ns, "payments");
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(c.cert)), 0);
	assert_int_equal(
	    X509_NAME_cmp(X509_get_issuer_name(c.cert), X509_get_subject_name(ca.cert)), 0);
	check_only_san_is_uri(c.cert, "spiffe://cluster.local/ns/payments/sa/api");
	assert_int_equal(X509_get_key_usage(c.cert), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	assert_true(ext_critical(c.cert, NID_key_usage));
	assert_int_equal(X509_get_extended_key_usage(c.cert), XKU_SSL_SERVER | XKU_SSL_CLIENT);
	assert_true(X509_get_extension_flags(c.cert) & EXFLAG_BCONS);
	assert_int_equal(X509_check_ca(c.cert), 0);
	assert_true(ext_critical(c.cert, NID_basic_constraints));
	assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(c.cert),
					       X509_get0_subject_key_id(ca.cert)),
			 0);
	assert_true(EVP_PKEY_is_a(c.key, "EC"));
	assert_int_equal(EVP_PKEY_get_bits(c.key), 256);
	assert_int_equal(X509_check_private_key(c.cert, c.key), 1);
	serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c.cert), NULL);
	assert_int_equal(BN_num_bits(serial), 128);
	BN_free(serial);
	ca_pub = X509_get0_pubkey(ca.cert);
	assert_int_equal(X509_verify(c.cert, ca_pub), 1);
	/* validity: backdated for clock skew, `ttl` after the issue time */
	assert_int_equal(c.issued, T0);
	assert_int_equal(c.not_before, T0 - IDENTITY_CLOCK_SKEW);
	assert_int_equal(id_time(X509_get0_notBefore(c.cert)), T0 - IDENTITY_CLOCK_SKEW);
	assert_int_equal(c.not_after, T0 + 3600);
	assert_int_equal(id_time(X509_get0_notAfter(c.cert)), T0 + 3600);
	assert_int_equal(identity_cert_refresh_at(&c), T0 + 1800);
	identity_cert_free(&c);
	identity_ca_free(&ca);
}

static void test_mint_fresh_key_each_time(void **state)
{
	struct identity_ca ca;
	struct identity_cert a, b;

	(void)state;
	ca_make_at(&ca, T0, DAY);
	mint_at(&ca, "ns", "sa", T0, 60, &a);
	mint_at(&ca, "ns", "sa", T0, 60, &b);
	assert_int_not_equal(EVP_PKEY_eq(a.key, b.key), 1);
	assert_int_not_equal(
	    ASN1_INTEGER_cmp(X509_get0_serialNumber(a.cert), X509_get0_serialNumber(b.cert)), 0);
	identity_cert_free(&a);
	identity_cert_free(&b);
	identity_ca_free(&ca);
}

/* A leaf never outlives its root; a root that has expired signs nothing. */
static void test_mint_limits(void **state)
{
	struct identity_ca ca;
	struct identity_cert c;
	struct identity_err err;
	struct spiffe_id id;
	time_t ca_end;

	(void)state;
	ca_make_at(&ca, T0, 7200);
	ca_end = id_time(X509_get0_notAfter(ca.cert));
	mint_at(&ca, "ns", "sa", T0 + 3600, DAY, &c);
	assert_int_equal(c.not_after, ca_end);
	assert_int_equal(id_time(X509_get0_notAfter(c.cert)), ca_end);
	identity_cert_free(&c);

	identity_spiffe_make(NULL, "ns", "sa", &id, NULL);
	assert_int_equal(identity_mint(&ca, &id, ca_end, DAY, &c, &err), -EKEYEXPIRED);
	assert_non_null(strstr(err.msg, "spiffe://cluster.local/ns/ns/sa/sa: the mesh root CA "
					"has expired"));
	assert_null(c.cert);
	assert_int_equal(identity_mint(&ca, &id, T0, 0, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "lifetime 0 s must be positive"));
	identity_ca_free(&ca);
}

/* ---- what the openssl command line says ---- */

static void write_pair(const struct identity_ca *ca, const struct identity_cert *c)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/ca.crt", dir);
	assert_int_equal(id_write_cert(p, ca->cert, NULL), 0);
	snprintf(p, sizeof(p), "%s/leaf.pem", dir);
	assert_int_equal(id_write_cert(p, c->cert, NULL), 0);
}

static void test_openssl_verify(void **state)
{
	struct identity_ca ca, other;
	struct identity_cert c;
	char out[4096], p[128];
	int rc;

	(void)state;
	ca_make(&ca);
	mint_at(&ca, "payments", "api", time(NULL), DAY, &c);
	write_pair(&ca, &c);
	for (int i = 0; i < 3; i++) {
		static const char *const purpose[] = {"", "-purpose sslclient",
						      "-purpose sslserver"};

		rc = run_cmd(out, sizeof(out), "openssl verify %s -CAfile %s/ca.crt %s/leaf.pem",
			     purpose[i], dir, dir);
		if (rc != 0 || !strstr(out, "leaf.pem: OK"))
			fail_msg("openssl verify %s: exit %d: %s", purpose[i], rc, out);
	}
	/* the same leaf against another root: refused */
	ca_make(&other);
	snprintf(p, sizeof(p), "%s/other.crt", dir);
	assert_int_equal(id_write_cert(p, other.cert, NULL), 0);
	rc = run_cmd(out, sizeof(out), "openssl verify -CAfile %s %s/leaf.pem", p, dir);
	if (rc == 0 || strstr(out, "leaf.pem: OK"))
		fail_msg("openssl verify accepted a leaf of another CA: %s", out);
	identity_ca_free(&other);
	identity_cert_free(&c);
	identity_ca_free(&ca);
}

static void test_openssl_verify_expired(void **state)
{
	struct identity_ca ca;
	struct identity_cert c;
	char out[4096];
	int rc;

	(void)state;
	ca_make_at(&ca, time(NULL) - 3 * DAY, IDENTITY_CA_TTL);
	mint_at(&ca, "payments", "api", time(NULL) - 2 * DAY, DAY, &c); /* expired a day ago */
	write_pair(&ca, &c);
	rc = run_cmd(out, sizeof(out), "openssl verify -CAfile %s/ca.crt %s/leaf.pem", dir, dir);
	if (rc == 0 || !strstr(out, "certificate has expired"))
		fail_msg("openssl verify: exit %d: %s", rc, out);
	identity_cert_free(&c);
	identity_ca_free(&ca);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* The text a person reads: one URI SAN, marked critical, and no other identity anywhere. */
static void test_openssl_text(void **state)
{
	struct identity_ca ca;
	struct identity_cert c;
	char out[16384];

	(void)state;
	ca_make(&ca);
	mint_at(&ca, "payments", "api", time(NULL), DAY, &c);
	write_pair(&ca, &c);
	assert_int_equal(
	    run_cmd(out, sizeof(out), "openssl x509 -in %s/leaf.pem -noout -text", dir), 0);
	assert_non_null(strstr(out,
			       "X509v3 Subject Alternative Name: critical\n"
			       "                URI:spiffe://cluster.local/ns/payments/sa/api\n"));
	assert_int_equal(count(out, "URI:"), 1);
	assert_int_equal(count(out, "DNS:"), 0);
	assert_int_equal(count(out, "IP Address:"), 0);
	assert_int_equal(count(out, "email:"), 0);
	assert_int_equal(count(out, "CN ="), 1); /* the issuer's; the subject has none */
	assert_non_null(strstr(out, "Subject: \n"));
	assert_non_null(
	    strstr(out, "X509v3 Basic Constraints: critical\n                CA:FALSE"));
	assert_non_null(strstr(out, "X509v3 Key Usage: critical\n"
				    "                Digital Signature, Key Encipherment"));
	assert_non_null(strstr(out, "TLS Web Server Authentication, TLS Web Client "
				    "Authentication"));
	assert_non_null(strstr(out, "X509v3 Authority Key Identifier"));
	assert_non_null(strstr(out, "ASN1 OID: prime256v1"));
	assert_non_null(strstr(out, "Signature Algorithm: ecdsa-with-SHA256"));
	assert_int_equal(
	    run_cmd(out, sizeof(out), "openssl x509 -in %s/leaf.pem -noout -subject", dir), 0);
	assert_string_equal(out, "subject=\n");
	identity_cert_free(&c);
	identity_ca_free(&ca);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spiffe_make_and_format),
	    cmocka_unit_test(test_spiffe_make_errors),
	    cmocka_unit_test(test_spiffe_parse),
	    cmocka_unit_test(test_mint_fields),
	    cmocka_unit_test(test_mint_fresh_key_each_time),
	    cmocka_unit_test(test_mint_limits),
	    T(test_openssl_verify),
	    T(test_openssl_verify_expired),
	    T(test_openssl_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
