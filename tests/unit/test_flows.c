// SPDX-License-Identifier: Apache-2.0
/*
 * Flow events in skiffd (user/flows): a kernel record named and written as a JSON line, the
 * /flows filters (parsing, refusals that name the parameter, matching either end), and names
 * by workload id, by address and by policy id.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "common/addr.h"
#include "flows/flows_internal.h"
#include "skiff/guard.h"

static struct flows_names *names(void)
{
	struct flows_names *n = flows_names_new();

	assert_non_null(n);
	assert_int_equal(flows_names_workload(n, 3, "shop", "client-1"), 0);
	assert_int_equal(flows_names_workload(n, 4, "shop", "echo-1"), 0);
	assert_int_equal(flows_names_addr(n, "198.18.1.2", "shop", "echo-1"), 0);
	assert_int_equal(flows_names_addr(n, "2001:db8::9", "outside", "stranger-1"), 0);
	assert_int_equal(flows_names_addr(n, "198.18.2.9", "outside", "stranger-1"), 0);
	assert_int_equal(flows_names_policy(n, 2, "shop", "deny-client-http"), 0);
	assert_int_equal(flows_names_policy(n, 0, "shop", "x"), -EINVAL);
	assert_int_equal(flows_names_addr(n, "not-an-ip", "a", "b"), -EINVAL);
	flows_names_sort(n);
	return n;
}

static void ev_addrs(struct skiff_event *e, const char *src, int sport, const char *dst, int dport)
{
	e->family = (__u8)addr_parse(dst, &e->daddr);
	if (src)
		addr_parse(src, &e->saddr);
	e->sport = htons((uint16_t)sport);
	e->dport = htons((uint16_t)dport);
}

static void test_names(void **state)
{
	struct flows_names *n = names();
	union skiff_addr a;

	(void)state;
	assert_string_equal(flows_name_wl(n, 3), "shop/client-1");
	assert_null(flows_name_wl(n, 0));
	assert_null(flows_name_wl(n, 2)); /* a gap */
	assert_null(flows_name_wl(n, 99));
	addr_parse("2001:db8::9", &a);
	assert_string_equal(flows_name_addr(n, &a, SKIFF_AF_INET6), "outside/stranger-1");
	addr_parse("198.18.1.3", &a);
	assert_null(flows_name_addr(n, &a, SKIFF_AF_INET));
	assert_string_equal(flows_name_policy(n, 2), "shop/deny-client-http");
	assert_null(flows_name_policy(n, 1));
	assert_null(flows_name_policy(n, 3));
	flows_names_free(n);
}

static json_object *jget(json_object *o, const char *path)
{
	char buf[64], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(o, k, &o))
			return NULL;
	return o;
}

static void test_denied_record(void **state)
{
	struct skiff_event e = {.kind = SKIFF_EV_DENIED,
				.reason = SKIFF_EV_DENY_POLICY,
				.src_workload = 3,
				.dst_workload = 4,
				.policy_id = 2};
	struct flows_names *n = names();
	struct flows_rec r;
	json_object *j;

	(void)state;
	ev_addrs(&e, NULL, 0, "198.18.1.2", 8080);
	flows_rec_build(&r, &e, 1796565018182, n, "node-1");
	flows_names_free(n); /* names replaced before anyone reads the event: its line keeps them */
	n = NULL;
	assert_string_equal(r.src, "shop/client-1");
	assert_string_equal(r.dst, "shop/echo-1");
	j = json_tokener_parse(flows_rec_json(&r));
	assert_non_null(j);
	assert_int_equal(r.json[strlen(r.json) - 1], '\n');
	assert_ptr_equal(flows_rec_json(&r), r.json); /* written once, kept */
	assert_string_equal(json_object_get_string(jget(j, "time")), "2026-12-06T13:50:18.182Z");
	assert_string_equal(json_object_get_string(jget(j, "event")), "denied");
	assert_string_equal(json_object_get_string(jget(j, "verdict")), "denied");
	assert_string_equal(json_object_get_string(jget(j, "node")), "node-1");
	assert_string_equal(json_object_get_string(jget(j, "source.pod")), "client-1");
	assert_true(json_object_is_type(jget(j, "source.ip"), json_type_null)); /* no bind yet */
	assert_string_equal(json_object_get_string(jget(j, "destination.ip")), "198.18.1.2");
	assert_int_equal(json_object_get_int(jget(j, "destination.port")), 8080);
	assert_string_equal(json_object_get_string(jget(j, "policy")), "shop/deny-client-http");
	assert_string_equal(json_object_get_string(jget(j, "reason")),
			    "AuthorizationPolicy shop/deny-client-http");
	json_object_put(j);
	flows_rec_free(&r);
}

static void test_dropped_and_closed_records(void **state)
{
	struct skiff_event d = {.kind = SKIFF_EV_DROPPED, .reason = SKIFF_GUARD_DROP_XDP};
	struct skiff_event c = {.kind = SKIFF_EV_CLOSED,
				.src_workload = 3,
				.dst_workload = 4,
				.bytes_received = 1000,
				.bytes_sent = 2000,
				.duration_ns = 3500000,
				.flags = SKIFF_EV_F_FAST};
	struct flows_names *n = names();
	struct flows_rec r;
	json_object *j;

	(void)state;
	ev_addrs(&d, "198.18.2.9", 40000, "198.18.1.2", 9000);
	flows_rec_build(&r, &d, 0, n, "node-1");
	assert_string_equal(r.src, "outside/stranger-1"); /* by address: not a pod of this node */
	j = json_tokener_parse(flows_rec_json(&r));
	assert_string_equal(json_object_get_string(jget(j, "verdict")), "dropped");
	assert_non_null(strstr(json_object_get_string(jget(j, "reason")), "uplink (xdp)"));
	assert_true(json_object_is_type(jget(j, "policy"), json_type_null));
	json_object_put(j);
	flows_rec_free(&r);

	ev_addrs(&c, "198.18.1.7", 41000, "198.18.1.2", 9000);
	flows_rec_build(&r, &c, 0, n, "node-1");
	j = json_tokener_parse(flows_rec_json(&r));
	assert_string_equal(json_object_get_string(jget(j, "verdict")), "forwarded");
	assert_int_equal(json_object_get_int64(jget(j, "bytes_received")), 1000);
	assert_int_equal(json_object_get_int64(jget(j, "bytes_sent")), 2000);
	assert_true(json_object_get_double(jget(j, "duration_ms")) == 3.5);
	assert_true(json_object_get_boolean(jget(j, "fast_path")));
	json_object_put(j);
	flows_rec_free(&r);
	flows_names_free(n);
}

static void test_filter_parse(void **state)
{
	struct flows_filter ft;
	char err[256];
	struct timespec ts;

	(void)state;
	assert_int_equal(flows_filter_parse("", &ft, err, sizeof(err)), 0);
	assert_int_equal(ft.follow, 0);
	assert_int_equal(flows_filter_parse("ns=shop&pod=shop%2Fecho-1&verdict=dropped&follow=1"
					    "&since=300",
					    &ft, err, sizeof(err)),
			 0);
	assert_string_equal(ft.ns, "shop");
	assert_string_equal(ft.pod, "shop/echo-1");
	assert_string_equal(ft.verdict, "dropped");
	assert_int_equal(ft.follow, 1);
	clock_gettime(CLOCK_REALTIME, &ts);
	assert_true(ft.since_ms <= (int64_t)ts.tv_sec * 1000 - 299000);
	assert_true(ft.since_ms >= (int64_t)ts.tv_sec * 1000 - 301000);
	assert_int_equal(flows_filter_parse("verdict=allowed", &ft, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "verdict=allowed"));
	assert_int_equal(flows_filter_parse("since=5m", &ft, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "since=5m"));
	assert_int_equal(flows_filter_parse("colour=red", &ft, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "colour"));
	assert_int_equal(flows_filter_parse("ns", &ft, err, sizeof(err)), -1);
}

static void test_filter_match(void **state)
{
	struct flows_rec r = {.ms = 1000, .kind = SKIFF_EV_DROPPED};
	struct flows_filter ft = {0};

	(void)state;
	strcpy(r.src, "outside/stranger-1");
	strcpy(r.dst, "shop/echo-1");
	assert_true(flows_rec_match(&r, &ft));
	strcpy(ft.ns, "shop"); /* either end */
	assert_true(flows_rec_match(&r, &ft));
	strcpy(ft.ns, "sho"); /* a prefix is another namespace */
	assert_false(flows_rec_match(&r, &ft));
	ft.ns[0] = '\0';
	strcpy(ft.pod, "stranger-1");
	assert_true(flows_rec_match(&r, &ft));
	strcpy(ft.pod, "shop/stranger-1"); /* NS/POD names one */
	assert_false(flows_rec_match(&r, &ft));
	strcpy(ft.pod, "echo-1");
	strcpy(ft.verdict, "denied");
	assert_false(flows_rec_match(&r, &ft));
	strcpy(ft.verdict, "dropped");
	assert_true(flows_rec_match(&r, &ft));
	ft.since_ms = 1001;
	assert_false(flows_rec_match(&r, &ft));
	r.src[0] = '\0'; /* no pod at one end: the other still matches */
	ft.since_ms = 0;
	assert_true(flows_rec_match(&r, &ft));
}

/* Names go into the JSON lines as strings: plain runs copied, the rest escaped. */
static void test_json_str(void **state)
{
	struct strbuf b = {0};
	char *s;

	(void)state;
	sb_json_str(&b, "shop/echo-1");
	sb_put(&b, " ", 1);
	sb_json_str(&b, "a\"b\\c\nd\te");
	sb_put(&b, " ", 1);
	sb_json_str(&b, "");
	sb_put(&b, " ", 1);
	sb_json_str(&b, NULL);
	sb_put(&b, " ", 1);
	sb_json_str(&b, "\001end");
	s = sb_take(&b);
	assert_string_equal(s,
			    "\"shop/echo-1\" \"a\\\"b\\\\c\\nd\\u0009e\" \"\" null \"\\u0001end\"");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),	  cmocka_unit_test(test_json_str),
	    cmocka_unit_test(test_denied_record), cmocka_unit_test(test_dropped_and_closed_records),
	    cmocka_unit_test(test_filter_parse),  cmocka_unit_test(test_filter_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
