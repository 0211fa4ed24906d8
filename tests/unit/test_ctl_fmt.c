// SPDX-License-Identifier: Apache-2.0
/*
 * skiffctl's text formatting (user/ctl/ctl_fmt.c) and target parsing (ctl_http.c): shares and
 * their rounding, map fill levels, the one-line service summary, and --node-addr lists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/ctl_fmt.h"
#include "ctl/ctl_http.h"

static void share_is(uint64_t part, uint64_t total, const char *want)
{
	char buf[32];

	ctl_fmt_share(buf, sizeof(buf), part, total);
	assert_string_equal(buf, want);
}

static void test_share(void **state)
{
	(void)state;
	share_is(45, 100, "45 %");
	share_is(1, 3, "33.3 %");
	share_is(2, 3, "66.7 %");
	share_is(0, 5, "0 %");
	share_is(1, 100000, "<0.1 %"); /* a share the kernel still picks never reads as 0 */
	share_is(5, 5, "100 %");
	share_is(3, 0, "-");
	share_is(9, 10, "90 %");
}

static void test_fill(void **state)
{
	char buf[64];

	(void)state;
	ctl_fmt_fill(buf, sizeof(buf), 8, 131072);
	assert_string_equal(buf, "8/131072 (100 % free)");
	ctl_fmt_fill(buf, sizeof(buf), 950, 1000);
	assert_string_equal(buf, "950/1000 (5 % free)");
	ctl_fmt_fill(buf, sizeof(buf), 1000, 1000);
	assert_string_equal(buf, "1000/1000 (0 % free)");
	ctl_fmt_fill(buf, sizeof(buf), -1, 0);
	assert_string_equal(buf, "n/a (socket storage)");
	assert_true(ctl_fill_low(950, 1000));
	assert_true(ctl_fill_low(1000, 1000));
	assert_false(ctl_fill_low(900, 1000)); /* exactly 10 % free is enough */
	assert_false(ctl_fill_low(-1, 0));
	assert_false(ctl_fill_low(0, 16));
}

static char *service_line(const char *name, const struct ctl_backend *be, size_t n, uint32_t total)
{
	struct strbuf b = {0};

	ctl_fmt_service(&b, name, be, n, total);
	return sb_take(&b);
}

static void test_service(void **state)
{
	const struct ctl_backend canary[] = {{"v1", 45}, {"v1", 45}, {"v2", 10}};
	const struct ctl_backend one[] = {{"shop/echo-0", 7}};
	const struct ctl_backend starved[] = {{"v1", 90}, {NULL, 10}};
	char *s;

	(void)state;
	s = service_line("payments/payments-api:80/TCP", canary, 3, 100);
	assert_string_equal(s, "payments/payments-api:80 \u2192 3 backends (v1 45 %, v1 45 %, v2 "
			       "10 %)");
	free(s);
	s = service_line("shop/echo:53/UDP", one, 1, 7);
	assert_string_equal(s, "shop/echo:53/UDP \u2192 1 backend (shop/echo-0 100 %)");
	free(s);
	/* a subset without ready pods keeps its share: connections there are refused */
	s = service_line("payments/payments-api:80/TCP", starved, 2, 100);
	assert_string_equal(s, "payments/payments-api:80 \u2192 1 backend (v1 90 %, no backend "
			       "10 %)");
	free(s);
	s = service_line("shop/empty:80/TCP", NULL, 0, 0);
	assert_string_equal(s, "shop/empty:80 \u2192 0 backends");
	free(s);
}

static void test_targets(void **state)
{
	struct ctl_target t[4];
	char err[256];
	size_t n = 0;

	(void)state;
	assert_int_equal(ctl_parse_targets("10.0.0.1,10.0.0.2:16000,[fd00::1]:15000,fd00::2", t, &n,
					   4, err, sizeof(err)),
			 0);
	assert_int_equal(n, 4);
	assert_string_equal(t[0].addr, "10.0.0.1:15020"); /* the status port on the node */
	assert_string_equal(t[1].addr, "10.0.0.2:16000");
	assert_string_equal(t[2].addr, "[fd00::1]:15000");
	assert_string_equal(t[3].addr, "[fd00::2]:15020");
	assert_string_equal(t[0].netns, "");
	n = 0;
	assert_int_equal(ctl_parse_targets("node-1.example", t, &n, 4, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'node-1.example' is not an IP address"));
	n = 0;
	assert_int_equal(ctl_parse_targets("10.0.0.1,10.0.0.2", t, &n, 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 1 node addresses"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_share),
	    cmocka_unit_test(test_fill),
	    cmocka_unit_test(test_service),
	    cmocka_unit_test(test_targets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
