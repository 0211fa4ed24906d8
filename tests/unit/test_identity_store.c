// SPDX-License-Identifier: Apache-2.0
/*
 * The per-workload identity store and its rotation, with time injected: a certificate is minted
 * on first use, left alone before half its life, re-minted at half-life with a new key, and the
 * one it replaced is kept (and still verifies) until the next rotation or its expiry. A failed
 * rotation keeps the current certificate.
 */
#include "unit/identity_test.h"

#define TTL 3600L

static struct identity_ca ca;

static int setup(void **state)
{
	(void)state;
	ca_make_at(&ca, T0 - DAY, IDENTITY_CA_TTL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	identity_ca_free(&ca);
	return 0;
}

static void store_make(struct identity_store *s)
{
	struct identity_store_opts o = {.ttl = TTL, .trust_domain = "mesh.example"};
	struct identity_err err = {{0}};

	if (identity_store_init(s, &ca, &o, &err))
		fail_msg("store init: %s", err.msg);
}

static const struct identity_workload *get(struct identity_store *s, const char *ns, const char *sa,
					   time_t now)
{
	struct identity_err err = {{0}};
	const struct identity_workload *w = identity_store_get(s, ns, sa, now, &err);

	if (!w)
		fail_msg("get %s/%s: %s", ns, sa, err.msg);
	return w;
}

static void test_get_mints_once(void **state)
{
	struct identity_store s;
	const struct identity_workload *w, *again;
	struct spiffe_id id;

	(void)state;
	store_make(&s);
	w = get(&s, "payments", "api", T0);
	assert_non_null(w->cur.cert.cert);
	assert_non_null(w->cur.tls);
	assert_null(w->prev.tls);
	assert_string_equal(w->cur.cert.id.trust_domain, "mesh.example");
	assert_int_equal(w->cur.cert.not_after, T0 + TTL);
	assert_int_equal(identity_verify(&ca, w->cur.cert.cert, NULL, T0, &id), ID_VERIFY_OK);
	assert_string_equal(id.sa, "api");
	again = get(&s, "payments", "api", T0 + 10);
	assert_ptr_equal(again, w);
	assert_ptr_equal(again->cur.cert.cert, w->cur.cert.cert); /* not re-minted */
	assert_int_equal(s.n, 1);
	identity_store_free(&s);
}

static void test_rotation_at_half_life(void **state)
{
	struct identity_store s;
	const struct identity_workload *w;
	X509 *first;
	struct spiffe_id id;
	const time_t half = T0 + TTL / 2;

	(void)state;
	store_make(&s);
	w = get(&s, "payments", "api", T0);
	first = w->cur.cert.cert;
	X509_up_ref(first); /* like a connection made with it */
	assert_int_equal(identity_store_next_refresh(&s), half);
	assert_int_equal(identity_store_rotate(&s, half - 1, NULL), 0);
	assert_ptr_equal(w->cur.cert.cert, first);

	assert_int_equal(identity_store_rotate(&s, half, NULL), 1);
	assert_ptr_not_equal(w->cur.cert.cert, first);
	assert_ptr_equal(w->prev.cert.cert, first);
	assert_non_null(w->prev.tls);
	assert_int_not_equal(EVP_PKEY_eq(w->cur.cert.key, w->prev.cert.key), 1); /* a new key */
	assert_int_equal(w->cur.cert.issued, half);
	assert_int_equal(w->cur.cert.not_after, half + TTL);
	assert_int_equal(identity_store_next_refresh(&s), half + TTL / 2);
	/* the previous certificate is not revoked: it still verifies for its remaining half */
	assert_int_equal(identity_verify(&ca, first, NULL, half + 1, &id), ID_VERIFY_OK);
	assert_int_equal(identity_verify(&ca, first, NULL, T0 + TTL - 1, &id), ID_VERIFY_OK);
	assert_int_equal(identity_verify(&ca, w->cur.cert.cert, NULL, half + 1, &id), ID_VERIFY_OK);
	/* nothing more until the new one is half way */
	assert_int_equal(identity_store_rotate(&s, half + 60, NULL), 0);
	X509_free(first);
	identity_store_free(&s);
}

/* The previous generation goes when it expires, or when the next rotation replaces it. */
static void test_previous_dropped(void **state)
{
	struct identity_store s;
	const struct identity_workload *w;
	X509 *second;

	(void)state;
	store_make(&s);
	w = get(&s, "payments", "api", T0); /* first: expires T0 + 3600 */
	/* rotated a little late (the timer fired at 2000 s, not 1800 s) */
	assert_int_equal(identity_store_rotate(&s, T0 + 2000, NULL), 1);
	second = w->cur.cert.cert; /* refresh at T0 + 2000 + 1800 */
	assert_non_null(w->prev.tls);
	assert_int_equal(identity_store_rotate(&s, T0 + TTL - 1, NULL), 0);
	assert_non_null(w->prev.tls); /* still valid for a second: kept */
	assert_int_equal(identity_store_rotate(&s, T0 + TTL, NULL), 0);
	assert_null(w->prev.tls); /* expired: dropped, nothing rotated */
	assert_null(w->prev.cert.cert);
	assert_int_equal(identity_store_rotate(&s, T0 + 2000 + TTL / 2, NULL), 1);
	assert_ptr_equal(w->prev.cert.cert, second); /* replaced by the next rotation */
	identity_store_free(&s);
}

/* Workloads minted at different times rotate on their own schedules. */
static void test_rotation_per_workload(void **state)
{
	struct identity_store s;
	const struct identity_workload *a, *b;
	X509 *b_first;

	(void)state;
	store_make(&s);
	a = get(&s, "payments", "api", T0);
	b = get(&s, "shop", "web", T0 + 1000);
	b_first = b->cur.cert.cert;
	assert_int_equal(identity_store_next_refresh(&s), T0 + TTL / 2);
	assert_int_equal(identity_store_rotate(&s, T0 + TTL / 2, NULL), 1);
	assert_non_null(a->prev.tls);
	assert_ptr_equal(b->cur.cert.cert, b_first);
	assert_int_equal(identity_store_next_refresh(&s), T0 + 1000 + TTL / 2);
	/* a long pause (a suspended node): everything due is rotated in one call */
	assert_int_equal(identity_store_rotate(&s, T0 + 10 * TTL, NULL), 2);
	identity_store_free(&s);
}

static void test_remove_and_pointers(void **state)
{
	struct identity_store s;
	const struct identity_workload *first;
	char sa[16];

	(void)state;
	store_make(&s);
	first = get(&s, "ns", "sa-0", T0);
	for (int i = 1; i < 40; i++) { /* past the first growth of the table */
		snprintf(sa, sizeof(sa), "sa-%d", i);
		get(&s, "ns", sa, T0);
	}
	assert_ptr_equal(get(&s, "ns", "sa-0", T0), first); /* the pointer survived growth */
	identity_store_remove(&s, "ns", "sa-0");
	identity_store_remove(&s, "ns", "never-there");
	assert_int_equal(s.n, 39);
	assert_int_equal(get(&s, "ns", "sa-0", T0 + 5)->cur.cert.issued, T0 + 5); /* a new one */
	assert_int_equal(s.n, 40);
	identity_store_free(&s);
}

static void test_bad_input(void **state)
{
	struct identity_store s;
	struct identity_store_opts o = {.trust_domain = "Mesh"};
	struct identity_err err = {{0}};

	(void)state;
	assert_int_equal(identity_store_init(&s, &ca, &o, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "uppercase"));
	o = (struct identity_store_opts){.ttl = -1};
	assert_int_equal(identity_store_init(&s, &ca, &o, &err), -EINVAL);
	assert_int_equal(identity_store_init(&s, &ca, NULL, &err), 0); /* defaults */
	assert_string_equal(s.trust_domain, "cluster.local");
	assert_int_equal(s.ttl, IDENTITY_TTL_DEFAULT);
	assert_null(identity_store_get(&s, "Bad_NS", "sa", T0, &err));
	assert_non_null(strstr(err.msg, "namespace \"Bad_NS\""));
	assert_int_equal(s.n, 0);
	identity_store_free(&s);
}

/* The root expires under a running store: rotation fails, says why, keeps what it has. */
static void test_failed_rotation_keeps_current(void **state)
{
	struct identity_ca short_ca;
	struct identity_store s;
	struct identity_store_opts o = {.ttl = TTL};
	struct identity_err err = {{0}};
	const struct identity_workload *w;
	X509 *cur;

	(void)state;
	ca_make_at(&short_ca, T0, TTL); /* ends at T0 + TTL */
	assert_int_equal(identity_store_init(&s, &short_ca, &o, &err), 0);
	w = get(&s, "payments", "api", T0);
	cur = w->cur.cert.cert;
	assert_int_equal(w->cur.cert.not_after, T0 + TTL);
	assert_int_equal(identity_store_rotate(&s, T0 + TTL, &err), -EKEYEXPIRED);
	assert_non_null(strstr(err.msg, "spiffe://cluster.local/ns/payments/sa/api: the mesh "
					"root CA has expired"));
	assert_ptr_equal(w->cur.cert.cert, cur);
	identity_store_free(&s);
	identity_ca_free(&short_ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_mints_once),
	    cmocka_unit_test(test_rotation_at_half_life),
	    cmocka_unit_test(test_previous_dropped),
	    cmocka_unit_test(test_rotation_per_workload),
	    cmocka_unit_test(test_remove_and_pointers),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_failed_rotation_keeps_current),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
