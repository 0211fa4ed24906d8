// SPDX-License-Identifier: Apache-2.0
/*
 * identity_verify(): a good peer certificate gives its SPIFFE ID; every way a peer certificate
 * can fail gives its own verdict (another CA, even one with the mesh root's exact name; expired;
 * not yet valid; no SAN; two URIs; a non-SPIFFE URI; a malformed SPIFFE ID; a CA certificate
 * as a leaf; nothing at all), and the verdicts read differently when logged.
 */
#include "unit/identity_test.h"

static struct identity_ca ca;

static int setup(void **state)
{
	(void)state;
	ca_make_at(&ca, time(NULL) - 30 * DAY, IDENTITY_CA_TTL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	identity_ca_free(&ca);
	return 0;
}

static void expect(X509 *leaf, time_t now, enum identity_verdict want)
{
	struct spiffe_id id;
	enum identity_verdict v = identity_verify(&ca, leaf, NULL, now, &id);

	if (v != want)
		fail_msg("verdict \"%s\", want \"%s\"", identity_verdict_str(v),
			 identity_verdict_str(want));
}

static void test_good_chain(void **state)
{
	struct identity_cert c;
	struct spiffe_id id;
	time_t now = time(NULL);

	(void)state;
	mint_at(&ca, "payments", "api", now, DAY, &c);
	memset(&id, 0, sizeof(id));
	assert_int_equal(identity_verify(&ca, c.cert, NULL, now, &id), ID_VERIFY_OK);
	assert_string_equal(id.trust_domain, "cluster.local");
	assert_string_equal(id.ns, "payments");
	assert_string_equal(id.sa, "api");
	/* the clock-skew margin: a peer whose clock is 30 s behind still accepts it */
	expect(c.cert, now - 30, ID_VERIFY_OK);
	identity_cert_free(&c);
}

/* Another skiff root has the very same subject name: only the signature tells them apart. */
static void test_other_ca(void **state)
{
	struct identity_ca other;
	struct identity_cert c;

	(void)state;
	ca_make(&other);
	assert_int_equal(
	    X509_NAME_cmp(X509_get_subject_name(other.cert), X509_get_subject_name(ca.cert)), 0);
	mint_at(&other, "payments", "api", time(NULL), DAY, &c);
	expect(c.cert, time(NULL), ID_VERIFY_UNTRUSTED);
	/* and the other root itself, presented as a peer */
	expect(other.cert, time(NULL), ID_VERIFY_UNTRUSTED);
	identity_cert_free(&c);
	identity_ca_free(&other);
}

/* Expired and not-yet-valid, with real certificates (minted at another time) and with
 * "now" moved instead. */
static void test_validity(void **state)
{
	struct identity_cert old, future, c;
	time_t now = time(NULL);

	(void)state;
	mint_at(&ca, "payments", "api", now - 2 * DAY, DAY, &old);
	expect(old.cert, now, ID_VERIFY_EXPIRED);
	mint_at(&ca, "payments", "api", now + DAY, DAY, &future);
	expect(future.cert, now, ID_VERIFY_NOT_YET_VALID);
	mint_at(&ca, "payments", "api", now, 3600, &c);
	expect(c.cert, now + 3600, ID_VERIFY_EXPIRED);
	expect(c.cert, now + 3599, ID_VERIFY_OK);
	expect(c.cert, now - IDENTITY_CLOCK_SKEW - 1, ID_VERIFY_NOT_YET_VALID);
	identity_cert_free(&old);
	identity_cert_free(&future);
	identity_cert_free(&c);
}

static void expect_san(const char *san, enum identity_verdict want)
{
	EVP_PKEY *key;
	X509 *x = leaf_with_san(&ca, san, &key);

	expect(x, time(NULL), want);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void test_san_shapes(void **state)
{
	(void)state;
	expect_san("URI:spiffe://cluster.local/ns/a/sa/b", ID_VERIFY_OK); /* the helper is sound */
	expect_san(NULL, ID_VERIFY_NO_URI_SAN);
	expect_san("DNS:api.payments.svc", ID_VERIFY_NO_URI_SAN);
	expect_san("URI:spiffe://cluster.local/ns/a/sa/b,URI:spiffe://cluster.local/ns/c/sa/d",
		   ID_VERIFY_MULTIPLE_URI_SANS);
	expect_san("URI:https://example.com/ns/a/sa/b", ID_VERIFY_NOT_SPIFFE);
	expect_san("URI:spiffe://cluster.local/workload/x", ID_VERIFY_BAD_SPIFFE_ID);
	expect_san("URI:spiffe://cluster.local/ns/A/sa/b", ID_VERIFY_BAD_SPIFFE_ID);
	/* other SAN types beside the one SPIFFE URI are allowed (and ignored) */
	expect_san("DNS:api.payments.svc,URI:spiffe://cluster.local/ns/a/sa/b", ID_VERIFY_OK);
}

static void test_ca_as_leaf_and_nothing(void **state)
{
	struct spiffe_id id;

	(void)state;
	expect(ca.cert, time(NULL), ID_VERIFY_CA_AS_LEAF); /* chains fine, is no workload */
	assert_int_equal(identity_verify(&ca, NULL, NULL, time(NULL), &id), ID_VERIFY_NO_CERT);
	assert_int_equal(identity_spiffe_of_cert(NULL, &id), ID_VERIFY_NO_CERT);
}

/* Every verdict has its own words: a log line tells the cases apart. */
static void test_verdict_strings_distinct(void **state)
{
	(void)state;
	for (int a = ID_VERIFY_OK; a <= ID_VERIFY_LAST; a++)
		for (int b = a + 1; b <= ID_VERIFY_LAST; b++)
			assert_string_not_equal(identity_verdict_str(a), identity_verdict_str(b));
	assert_string_equal(identity_verdict_str(99), "unknown verdict");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_chain),
	    cmocka_unit_test(test_other_ca),
	    cmocka_unit_test(test_validity),
	    cmocka_unit_test(test_san_shapes),
	    cmocka_unit_test(test_ca_as_leaf_and_nothing),
	    cmocka_unit_test(test_verdict_strings_distinct),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
