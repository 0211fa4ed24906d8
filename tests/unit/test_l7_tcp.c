// SPDX-License-Identifier: Apache-2.0
/*
 * l7_tcp_ops: a connection to a pod with HTTP policies that is not HTTP is decided once as TCP
 * (the decider is asked with tcp = true), then passed through untouched, or, when denied, nothing
 * of it reaches the pod and the filter is done at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "l7/l7_filter.h"

struct verdict {
	bool allow;
	int calls;
	bool saw_tcp;
};

static bool decide(void *ctx, struct authz_request *rq, char *why, size_t whylen)
{
	struct verdict *v = ctx;

	(void)why;
	(void)whylen;
	v->calls++;
	v->saw_tcp = rq->tcp;
	return v->allow;
}

static void test_allowed_passes_bytes_both_ways(void **state)
{
	struct verdict v = {.allow = true};
	struct l7_decider d = {.decide = decide, .ctx = &v};
	struct l7_buf up = {0}, cl = {0};
	struct l7_filter *f = l7_tcp_ops.open(&d);
	static const uint8_t bin[] = {0x16, 0x03, 0x01, 0x00, 0xff, 0x00};

	(void)state;
	assert_non_null(f);
	assert_int_equal(v.calls, 1);
	assert_true(v.saw_tcp);
	assert_false(l7_tcp_ops.done(f));
	assert_int_equal(l7_tcp_ops.from_client(f, bin, sizeof(bin), &up, &cl), 0);
	assert_int_equal(l7_tcp_ops.from_upstream(f, (const uint8_t *)"pong", 4, &cl, &up), 0);
	assert_int_equal(l7_buf_unread(&up), sizeof(bin));
	assert_memory_equal(up.data + up.off, bin, sizeof(bin));
	assert_int_equal(l7_buf_unread(&cl), 4);
	assert_memory_equal(cl.data + cl.off, "pong", 4);
	assert_int_equal(v.calls, 1); /* one decision per connection */
	assert_int_equal(l7_tcp_ops.counts(f)->denied, 0);
	l7_tcp_ops.close(f);
	l7_buf_free(&up);
	l7_buf_free(&cl);
}

static void test_denied_forwards_nothing(void **state)
{
	struct verdict v = {.allow = false};
	struct l7_decider d = {.decide = decide, .ctx = &v};
	struct l7_buf up = {0}, cl = {0};
	struct l7_filter *f = l7_tcp_ops.open(&d);

	(void)state;
	assert_non_null(f);
	assert_true(v.saw_tcp);
	assert_true(l7_tcp_ops.done(f));
	assert_int_equal(l7_tcp_ops.from_client(f, (const uint8_t *)"secret", 6, &up, &cl), 0);
	assert_int_equal(l7_buf_unread(&up), 0);
	assert_int_equal(l7_buf_unread(&cl), 0);
	assert_int_equal(l7_tcp_ops.counts(f)->denied, 1);
	l7_tcp_ops.close(f);
	l7_buf_free(&up);
	l7_buf_free(&cl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_allowed_passes_bytes_both_ways),
	    cmocka_unit_test(test_denied_forwards_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
