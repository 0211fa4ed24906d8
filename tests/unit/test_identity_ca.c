// SPDX-License-Identifier: Apache-2.0
/*
 * The mesh root CA: what identity_ca_create() makes (the fields a verifier relies on), that
 * saving and loading gives back the same root with the file modes promised, that an existing
 * root is never replaced without force, and that every way a CA directory can be wrong is
 * refused with its own error code and a message that names the file and the fix.
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

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void fingerprint(X509 *x, unsigned char md[32])
{
	unsigned int n = 0;

	assert_int_equal(X509_digest(x, EVP_sha256(), md, &n), 1);
	assert_int_equal(n, 32);
}

/* The root carries what verifiers check: CA:TRUE (critical), keyCertSign+cRLSign (critical),
 * SKI = AKI, P-256, a 128-bit serial, ten years backdated by the clock skew. */
static void test_create_fields(void **state)
{
	struct identity_ca ca;
	const ASN1_OCTET_STRING *ski, *aki;
	BIGNUM *serial;
	int crit = -1;
	BASIC_CONSTRAINTS *bc;
	char name[128];

	(void)state;
	ca_make_at(&ca, T0, IDENTITY_CA_TTL);
	X509_NAME_oneline(X509_get_subject_name(ca.cert), name, sizeof(name));
	assert_string_equal(name, "/O=skiff/CN=skiff mesh root CA");
	assert_int_equal(
	    X509_NAME_cmp(X509_get_subject_name(ca.cert), X509_get_issuer_name(ca.cert)), 0);
	bc = X509_get_ext_d2i(ca.cert, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_true(bc->ca);
	assert_int_equal(crit, 1);
	BASIC_CONSTRAINTS_free(bc);
	assert_int_equal(X509_get_key_usage(ca.cert), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(
			     ca.cert, X509_get_ext_by_NID(ca.cert, NID_key_usage, -1))),
			 1);
	ski = X509_get0_subject_key_id(ca.cert);
	aki = X509_get0_authority_key_id(ca.cert);
	assert_non_null(ski);
	assert_non_null(aki);
	assert_int_equal(ASN1_OCTET_STRING_cmp(ski, aki), 0);
	assert_int_equal(EVP_PKEY_get_bits(ca.key), 256);
	assert_true(EVP_PKEY_is_a(ca.key, "EC"));
	serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(ca.cert), NULL);
	assert_int_equal(BN_num_bits(serial), 128);
	BN_free(serial);
	assert_int_equal(id_time(X509_get0_notBefore(ca.cert)), T0 - IDENTITY_CLOCK_SKEW);
	assert_int_equal(id_time(X509_get0_notAfter(ca.cert)), T0 + 3652 * DAY);
	assert_int_equal(identity_ca_check(&ca, T0, NULL), 0);
	identity_ca_free(&ca);
}

/* Two roots never share a serial or a key. */
static void test_create_is_random(void **state)
{
	struct identity_ca a, b;

	(void)state;
	ca_make_at(&a, T0, DAY);
	ca_make_at(&b, T0, DAY);
	assert_int_not_equal(
	    ASN1_INTEGER_cmp(X509_get0_serialNumber(a.cert), X509_get0_serialNumber(b.cert)), 0);
	assert_int_not_equal(EVP_PKEY_eq(a.key, b.key), 1);
	identity_ca_free(&a);
	identity_ca_free(&b);
}

static void test_save_load_round_trip(void **state)
{
	struct identity_ca ca, back;
	struct identity_err err = {{0}};
	unsigned char m1[32], m2[32];
	char sub[128], p[256];

	(void)state;
	ca_make(&ca);
	snprintf(sub, sizeof(sub), "%s/mesh-ca", dir); /* created by save, 0700 */
	assert_int_equal(identity_ca_save(&ca, sub, false, &err), 0);
	file_mode_is(sub, 0700);
	snprintf(p, sizeof(p), "%s/ca.key", sub);
	file_mode_is(p, 0600);
	snprintf(p, sizeof(p), "%s/ca.crt", sub);
	file_mode_is(p, 0644);
	if (identity_ca_load(sub, time(NULL), &back, &err))
		fail_msg("load: %s", err.msg);
	fingerprint(ca.cert, m1);
	fingerprint(back.cert, m2);
	assert_memory_equal(m1, m2, 32);
	assert_int_equal(EVP_PKEY_eq(ca.key, back.key), 1);
	identity_ca_free(&back);
	identity_ca_free(&ca);
}

static void test_save_refuses_overwrite(void **state)
{
	struct identity_ca a, b, back;
	struct identity_err err = {{0}};
	unsigned char m1[32], m2[32];

	(void)state;
	ca_make(&a);
	ca_make(&b);
	assert_int_equal(identity_ca_save(&a, dir, false, &err), 0);
	assert_int_equal(identity_ca_save(&b, dir, false, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "already holds a mesh CA"));
	assert_non_null(strstr(err.msg, "--force"));
	assert_int_equal(identity_ca_load(dir, time(NULL), &back, &err), 0);
	fingerprint(a.cert, m1);
	fingerprint(back.cert, m2);
	assert_memory_equal(m1, m2, 32); /* untouched */
	identity_ca_free(&back);

	assert_int_equal(identity_ca_save(&b, dir, true, &err), 0);
	assert_int_equal(identity_ca_load(dir, time(NULL), &back, &err), 0);
	fingerprint(b.cert, m1);
	fingerprint(back.cert, m2);
	assert_memory_equal(m1, m2, 32); /* replaced, key and certificate together */
	identity_ca_free(&back);
	identity_ca_free(&a);
	identity_ca_free(&b);
}

/* A lone ca.key (a half-restored Secret) also counts as an existing CA. */
static void test_save_refuses_lone_key(void **state)
{
	struct identity_ca ca;
	struct identity_err err = {{0}};
	char p[128];

	(void)state;
	ca_make(&ca);
	path_of(p, sizeof(p), "ca.key");
	assert_int_equal(id_write_key(p, ca.key, NULL), 0);
	assert_int_equal(identity_ca_save(&ca, dir, false, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "ca.key"));
	identity_ca_free(&ca);
}

static void expect_load_error(int want, const char *msg_part)
{
	struct identity_ca ca;
	struct identity_err err = {{0}};
	int rc = identity_ca_load(dir, time(NULL), &ca, &err);

	if (rc != want || !strstr(err.msg, msg_part))
		fail_msg("load: rc %d (want %d), message \"%s\" (want \"%s\")", rc, want, err.msg,
			 msg_part);
	assert_null(ca.cert); /* nothing half-loaded is handed back */
	assert_null(ca.key);
}

static void test_load_missing(void **state)
{
	struct identity_ca ca;
	char p[128];

	(void)state;
	expect_load_error(-ENOENT, "ca.crt: missing; create a mesh CA with `skiffctl ca init");
	ca_make(&ca);
	path_of(p, sizeof(p), "ca.crt");
	assert_int_equal(id_write_cert(p, ca.cert, NULL), 0);
	expect_load_error(-ENOENT, "ca.key: missing");
	identity_ca_free(&ca);
}

static void write_text(const char *name, const char *text)
{
	char p[128];
	FILE *f;

	path_of(p, sizeof(p), name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_load_garbage(void **state)
{
	struct identity_ca ca;
	char p[128];

	(void)state;
	write_text("ca.crt", "not a certificate\n");
	expect_load_error(-EBADMSG, "ca.crt: not a PEM certificate");
	ca_make(&ca);
	path_of(p, sizeof(p), "ca.crt");
	assert_int_equal(id_write_cert(p, ca.cert, NULL), 0);
	path_of(p, sizeof(p), "ca.key");
	write_text("ca.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
	expect_load_error(-EBADMSG, "ca.key: not an unencrypted PEM private key");
	identity_ca_free(&ca);
}

static void test_load_key_mismatch(void **state)
{
	struct identity_ca a, b;
	char p[128];

	(void)state;
	ca_make(&a);
	ca_make(&b);
	path_of(p, sizeof(p), "ca.crt");
	assert_int_equal(id_write_cert(p, a.cert, NULL), 0);
	path_of(p, sizeof(p), "ca.key");
	assert_int_equal(id_write_key(p, b.key, NULL), 0);
	expect_load_error(-EKEYREJECTED, "ca.key does not belong to ca.crt");
	identity_ca_free(&a);
	identity_ca_free(&b);
}

/* A workload certificate and its key, saved where the root should be. */
static void test_load_not_a_ca(void **state)
{
	struct identity_ca ca, fake;
	struct identity_cert leaf;

	(void)state;
	ca_make(&ca);
	mint_at(&ca, "default", "default", time(NULL), DAY, &leaf);
	fake = (struct identity_ca){.cert = leaf.cert, .key = leaf.key};
	assert_int_equal(identity_ca_save(&fake, dir, false, NULL), 0);
	expect_load_error(-ENOTSUP, "ca.crt: the certificate is not a CA");
	identity_cert_free(&leaf);
	identity_ca_free(&ca);
}

/* A CA certificate issued by another CA: skiff trusts the root alone, so it is refused. */
static void test_load_not_self_signed(void **state)
{
	static const struct id_ext exts[] = {
	    {NID_basic_constraints, "critical,CA:TRUE"},
	    {NID_key_usage, "critical,keyCertSign,cRLSign"},
	    {NID_subject_key_identifier, "hash"},
	    {NID_authority_key_identifier, "keyid:always"},
	};
	struct identity_ca root, mid;
	time_t now = time(NULL);

	(void)state;
	ca_make(&root);
	mid.key = id_key_new();
	mid.cert = id_x509_new(mid.key, now - 60, now + DAY);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(mid.cert), "CN", MBSTRING_ASC,
				   (const unsigned char *)"intermediate", -1, -1, 0);
	X509_set_issuer_name(mid.cert, X509_get_subject_name(root.cert));
	assert_int_equal(id_x509_add_exts(mid.cert, root.cert, exts, 4), 0);
	assert_int_not_equal(X509_sign(mid.cert, root.key, EVP_sha256()), 0);
	assert_int_equal(identity_ca_save(&mid, dir, false, NULL), 0);
	expect_load_error(-ENOTSUP, "not self-signed");
	identity_ca_free(&mid);
	identity_ca_free(&root);
}

static void test_load_expired(void **state)
{
	struct identity_ca ca;

	(void)state;
	ca_make_at(&ca, time(NULL) - 11 * 365 * DAY, IDENTITY_CA_TTL);
	assert_int_equal(identity_ca_save(&ca, dir, false, NULL), 0);
	expect_load_error(-EKEYEXPIRED, "the mesh root CA expired");
	identity_ca_free(&ca);
}

static void test_load_not_yet_valid(void **state)
{
	struct identity_ca ca;

	(void)state;
	ca_make_at(&ca, time(NULL) + DAY, IDENTITY_CA_TTL);
	assert_int_equal(identity_ca_save(&ca, dir, false, NULL), 0);
	expect_load_error(-EKEYEXPIRED, "is not valid for another");
	identity_ca_free(&ca);
}

static void test_save_into_a_file(void **state)
{
	struct identity_ca ca;
	struct identity_err err = {{0}};
	char p[128];

	(void)state;
	ca_make(&ca);
	write_text("plain", "x");
	path_of(p, sizeof(p), "plain");
	assert_int_equal(identity_ca_save(&ca, p, false, &err), -ENOTDIR);
	assert_non_null(strstr(err.msg, "is not a directory"));
	identity_ca_free(&ca);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_create_fields),	   T(test_create_is_random),
	    T(test_save_load_round_trip),  T(test_save_refuses_overwrite),
	    T(test_save_refuses_lone_key), T(test_load_missing),
	    T(test_load_garbage),	   T(test_load_key_mismatch),
	    T(test_load_not_a_ca),	   T(test_load_not_self_signed),
	    T(test_load_expired),	   T(test_load_not_yet_valid),
	    T(test_save_into_a_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
