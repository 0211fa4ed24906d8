// SPDX-License-Identifier: Apache-2.0
/*
 * Address conversions (user/common/addr.c): text, endpoints and socket addresses to and from
 * union skiff_addr, the IPv4-mapped form, and what is refused.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "common/addr.h"

static void test_parse_and_text(void **state)
{
	char buf[ADDR_TEXT_MAX];
	union skiff_addr a;

	(void)state;
	assert_int_equal(addr_parse("198.18.1.2", &a), SKIFF_AF_INET);
	assert_string_equal(addr_text(&a, SKIFF_AF_INET, buf, sizeof(buf)), "198.18.1.2");
	assert_int_equal(addr_parse("2001:db8:1::2", &a), SKIFF_AF_INET6);
	assert_string_equal(addr_text(&a, SKIFF_AF_INET6, buf, sizeof(buf)), "2001:db8:1::2");
	assert_int_equal(addr_parse("fe80::1%eth0", &a), 0);
	assert_int_equal(addr_parse("198.18.1", &a), 0);
	assert_int_equal(addr_parse(NULL, &a), 0);
	assert_int_equal(a.v6[0] | a.v6[1] | a.v6[2] | a.v6[3], 0);
	assert_string_equal(addr_text(&a, 0, buf, sizeof(buf)), "none");
}

static void test_endpoints(void **state)
{
	char buf[ADDR_ENDPOINT_MAX];
	union skiff_addr a;
	uint16_t port = 0;

	(void)state;
	assert_int_equal(addr_parse_endpoint("10.1.2.3:8080", 13, &a, &port), SKIFF_AF_INET);
	assert_int_equal(ntohs(port), 8080);
	assert_string_equal(addr_endpoint(&a, SKIFF_AF_INET, 8080, buf, sizeof(buf)),
			    "10.1.2.3:8080");
	assert_int_equal(addr_parse_endpoint("[fd00::1]:80", 12, &a, &port), SKIFF_AF_INET6);
	assert_int_equal(ntohs(port), 80);
	assert_string_equal(addr_endpoint(&a, SKIFF_AF_INET6, 80, buf, sizeof(buf)),
			    "[fd00::1]:80");
	/* only the first n bytes count */
	assert_int_equal(addr_parse_endpoint("10.1.2.3:80trailing", 11, &a, &port), SKIFF_AF_INET);
	static const char *const bad[] = {
	    "10.1.2.3",	    "10.1.2.3:",  "10.1.2.3:0",	   "10.1.2.3:65536",
	    "10.1.2.3:+80", "fd00::1:80", "[10.1.2.3]:80", "[fd00::1:80",
	    "name:80",	    ":80",	  "10.1.2.3: 80",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (addr_parse_endpoint(bad[i], strlen(bad[i]), &a, &port))
			fail_msg("'%s' was taken for an endpoint", bad[i]);
}

static void test_sockaddr_round_trip(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	char buf[ADDR_TEXT_MAX];
	union skiff_addr a;
	uint16_t port;

	(void)state;
	assert_int_equal(addr_sockaddr("127.0.0.1", 15001, &ss), sizeof(struct sockaddr_in));
	assert_int_equal(addr_from_sockaddr(&ss, &a, &port), SKIFF_AF_INET);
	assert_int_equal(ntohs(port), 15001);
	assert_string_equal(addr_text(&a, SKIFF_AF_INET, buf, sizeof(buf)), "127.0.0.1");
	assert_int_equal(addr_sockaddr("::1", 15008, &ss), sizeof(struct sockaddr_in6));
	assert_int_equal(addr_from_sockaddr(&ss, &a, NULL), SKIFF_AF_INET6);
	/* an IPv4-mapped peer on a dual-stack socket is the IPv4 peer */
	assert_int_equal(addr_sockaddr("::ffff:198.18.1.2", 80, &ss), sizeof(*sin6));
	assert_int_equal(addr_from_sockaddr(&ss, &a, &port), SKIFF_AF_INET);
	assert_string_equal(addr_text(&a, SKIFF_AF_INET, buf, sizeof(buf)), "198.18.1.2");
	assert_int_equal(addr_sockaddr("localhost", 80, &ss), -EINVAL);
	ss.ss_family = AF_UNIX;
	assert_int_equal(addr_from_sockaddr(&ss, &a, &port), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_and_text),
	    cmocka_unit_test(test_endpoints),
	    cmocka_unit_test(test_sockaddr_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
