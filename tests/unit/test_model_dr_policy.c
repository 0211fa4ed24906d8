// SPDX-License-Identifier: Apache-2.0
/*
 * DestinationRule trafficPolicy as a typed model: every field the upstream library reads,
 * Istio's merge of top level, port level and subset (pilot's MergeSubsetTrafficPolicy), the
 * defaults, which rule applies from which namespace, and the errors (file:line) for values
 * Istio refuses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model/model.h"

#define DR_HEAD                                                                                    \
	"apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: dr\n"       \
	"  namespace: ns\nspec:\n  host: reviews\n" /* further fields from line 8 */

/* Top level: ROUND_ROBIN, a pool and outlier detection. Port 9080: RANDOM only. Subset v2:
 * Maglev on a header. Subset v3: a port level on 80 with only a load balancer. */
static const char *const FULL =
    DR_HEAD "  trafficPolicy:\n"
	    "    loadBalancer:\n      simple: ROUND_ROBIN\n"
	    "    connectionPool:\n"
	    "      tcp:\n        maxConnections: 100\n        connectTimeout: 30ms\n"
	    "        tcpKeepalive:\n          time: 7200s\n          interval: 75s\n"
	    "      http:\n        http1MaxPendingRequests: 7\n        http2MaxRequests: 9\n"
	    "        maxRequestsPerConnection: 3\n        maxRetries: 4\n"
	    "        idleTimeout: 2s\n"
	    "    outlierDetection:\n      consecutive5xxErrors: 0\n"
	    "      consecutiveGatewayErrors: 2\n      interval: 1s\n"
	    "      baseEjectionTime: 3m\n      maxEjectionPercent: 50\n"
	    "      minHealthPercent: 25\n"
	    "    portLevelSettings:\n    - port:\n        number: 9080\n"
	    "      loadBalancer:\n        simple: RANDOM\n"
	    "  subsets:\n  - name: v1\n    labels:\n      version: v1\n"
	    "  - name: v2\n    labels:\n      version: v2\n"
	    "    trafficPolicy:\n      loadBalancer:\n        consistentHash:\n"
	    "          httpHeaderName: x-user\n          maglev:\n            tableSize: 1021\n"
	    "  - name: v3\n    labels:\n      version: v3\n"
	    "    trafficPolicy:\n      portLevelSettings:\n      - port:\n          number: 80\n"
	    "        loadBalancer:\n          consistentHash:\n            httpCookie:\n"
	    "              name: sess\n              path: /\n              ttl: 10s\n";

static void load_ok(const char *yaml, struct model *m)
{
	struct diag d = {0};
	int rc = model_load_string("t.yaml", yaml, m, &d);

	if (rc)
		diag_print(&d);
	assert_int_equal(rc, 0);
	diag_free(&d);
}

static void expect_err(const char *yaml, int line, const char *text)
{
	struct diag d = {0};
	struct model m;
	char loc[32];
	bool found = false;
	int rc;

	snprintf(loc, sizeof(loc), "t.yaml:%d: ", line);
	rc = model_load_string("t.yaml", yaml, &m, &d);
	for (size_t i = 0; i < d.n; i++)
		if (d.v[i].level == DIAG_ERROR && strstr(d.v[i].msg, loc) &&
		    strstr(d.v[i].msg, text))
			found = true;
	if (!found) {
		fprintf(stderr, "expected error at %s\"%s\"; got rc %d and:\n", loc, text, rc);
		diag_print(&d);
	}
	if (rc == 0)
		model_free(&m);
	assert_int_equal(rc, -EINVAL);
	assert_true(found);
	diag_free(&d);
}

static void test_typed_fields(void **state)
{
	const struct m_destinationrule *dr;
	const struct m_pool_policy *p;
	const struct m_outlier_policy *o;
	struct model m;

	(void)state;
	load_ok(FULL, &m);
	dr = &m.destinationrules[0];
	assert_true(dr->tp.set);
	assert_int_equal(dr->tp.s.lb.simple, M_LB_ROUND_ROBIN);
	p = &dr->tp.s.pool;
	assert_true(p->set);
	assert_int_equal(p->max_connections, 100);
	assert_int_equal(p->connect_timeout_ms, 30);
	assert_true(p->keepalive);
	assert_int_equal(p->keepalive_time_ms, 7200000);
	assert_int_equal(p->keepalive_interval_ms, 75000);
	assert_int_equal(p->http1_max_pending, 7);
	assert_int_equal(p->http2_max_requests, 9);
	assert_int_equal(p->max_requests_per_conn, 3);
	assert_int_equal(p->max_retries, 4);
	assert_int_equal(p->idle_timeout_ms, 2000);
	o = &dr->tp.s.od;
	assert_true(o->set && o->has_5xx && o->has_gateway && !o->has_local);
	assert_int_equal(o->consecutive_5xx, 0);
	assert_int_equal(o->consecutive_gateway, 2);
	assert_int_equal(o->interval_ms, 1000);
	assert_int_equal(o->base_ejection_ms, 180000);
	assert_int_equal(o->max_ejection_pct, 50);
	assert_int_equal(o->min_health_pct, 25);
	assert_int_equal(dr->tp.nports, 1);
	assert_int_equal(dr->tp.ports[0].port, 9080);
	assert_int_equal(dr->tp.ports[0].s.lb.simple, M_LB_RANDOM);
	assert_int_equal(dr->subsets[1].tp.s.lb.simple, M_LB_CONSISTENT_HASH);
	assert_int_equal(dr->subsets[1].tp.s.lb.hash_on, M_HASH_HEADER);
	assert_string_equal(dr->subsets[1].tp.s.lb.hash_name, "x-user");
	assert_int_equal(dr->subsets[1].tp.s.lb.algo, M_HASH_MAGLEV);
	assert_int_equal(dr->subsets[1].tp.s.lb.maglev_size, 1021);
	assert_false(dr->subsets[0].tp.set);
	model_free(&m);
}

static void test_merge(void **state)
{
	const struct m_destinationrule *dr;
	struct m_tp_settings s;
	struct model m;

	(void)state;
	load_ok(FULL, &m);
	dr = &m.destinationrules[0];
	/* top level on a port without its own settings */
	assert_int_equal(model_traffic_policy(dr, NULL, 80, &s), 0);
	assert_int_equal(s.lb.simple, M_LB_ROUND_ROBIN);
	assert_int_equal(s.pool.max_connections, 100);
	/* a port level replaces all four settings: the pool and detection are not inherited */
	assert_int_equal(model_traffic_policy(dr, NULL, 9080, &s), 0);
	assert_int_equal(s.lb.simple, M_LB_RANDOM);
	assert_false(s.pool.set);
	assert_false(s.od.set);
	/* a subset without a policy takes the top level's */
	assert_int_equal(model_traffic_policy(dr, "v1", 80, &s), 0);
	assert_int_equal(s.lb.simple, M_LB_ROUND_ROBIN);
	/* a subset's block replaces that block only */
	assert_int_equal(model_traffic_policy(dr, "v2", 80, &s), 0);
	assert_int_equal(s.lb.simple, M_LB_CONSISTENT_HASH);
	assert_int_equal(s.pool.max_connections, 100);
	assert_int_equal(s.od.consecutive_gateway, 2);
	/* ... and on 9080 it still beats the top level's port level for that block */
	assert_int_equal(model_traffic_policy(dr, "v2", 9080, &s), 0);
	assert_int_equal(s.lb.algo, M_HASH_MAGLEV);
	assert_false(s.pool.set);
	/* a subset's port level replaces every block, even those it leaves out */
	assert_int_equal(model_traffic_policy(dr, "v3", 80, &s), 0);
	assert_int_equal(s.lb.hash_on, M_HASH_COOKIE);
	assert_string_equal(s.lb.hash_name, "sess");
	assert_string_equal(s.lb.cookie_path, "/");
	assert_int_equal(s.lb.cookie_ttl_ms, 10000);
	assert_false(s.pool.set);
	assert_false(s.od.set);
	/* on another port the subset has nothing of its own: the top level's */
	assert_int_equal(model_traffic_policy(dr, "v3", 81, &s), 0);
	assert_int_equal(s.lb.simple, M_LB_ROUND_ROBIN);
	assert_int_equal(s.pool.max_connections, 100);
	assert_int_equal(model_traffic_policy(dr, "v9", 80, &s), -ENOENT);
	model_free(&m);
}

static void test_defaults(void **state)
{
	struct m_tp_settings s;

	(void)state;
	memset(&s, 0, sizeof(s));
	model_policy_defaults(&s);
	assert_int_equal(s.lb.simple, M_LB_LEAST_REQUEST);
	assert_int_equal(s.pool.max_connections, UINT32_MAX);
	assert_int_equal(s.pool.connect_timeout_ms, 10000);
	assert_int_equal(s.pool.http1_max_pending, UINT32_MAX);
	assert_int_equal(s.pool.max_requests_per_conn, 0);
	assert_false(s.od.set);
	assert_int_equal(s.od.consecutive_5xx, 0);

	memset(&s, 0, sizeof(s));
	s.lb.simple = M_LB_CONSISTENT_HASH;
	s.od.set = true;
	s.od.split_local = true;
	model_policy_defaults(&s);
	assert_int_equal(s.lb.ring_min, 1024);
	assert_int_equal(s.lb.maglev_size, 65537);
	assert_int_equal(s.od.consecutive_5xx, 5);
	assert_int_equal(s.od.consecutive_gateway, 0);
	assert_int_equal(s.od.consecutive_local, 5);
	assert_int_equal(s.od.interval_ms, 10000);
	assert_int_equal(s.od.base_ejection_ms, 30000);
	assert_int_equal(s.od.max_ejection_pct, 10);
	assert_int_equal(s.od.min_health_pct, 0);
}

#define SVC(ns)                                                                                    \
	"apiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\n  namespace: " ns "\n"         \
	"spec:\n  clusterIP: 10.96.0.10\n  ports:\n  - port: 80\n---\n"
#define DR_IN(name, ns, simple)                                                                    \
	"apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: " name      \
	"\n  namespace: " ns "\nspec:\n  host: reviews.bk.svc.cluster.local\n"                     \
	"  trafficPolicy:\n    loadBalancer:\n      simple: " simple "\n---\n"

static void test_rule_lookup(void **state)
{
	const struct m_destinationrule *dr;
	struct model m;

	(void)state;
	load_ok(SVC("bk") DR_IN("root", "istio-system", "RANDOM") DR_IN("own", "bk", "ROUND_ROBIN")
		    DR_IN("client", "web", "LEAST_REQUEST"),
		&m);
	dr = model_dr_for(&m, &m.services[0], "web");
	assert_non_null(dr);
	assert_string_equal(dr->meta.name, "client");
	dr = model_dr_for(&m, &m.services[0], "other");
	assert_string_equal(dr->meta.name, "own");
	model_free(&m);
	load_ok(SVC("bk") DR_IN("root", "istio-system", "RANDOM"), &m);
	assert_string_equal(model_dr_for(&m, &m.services[0], NULL)->meta.name, "root");
	model_free(&m);
	load_ok(SVC("bk"), &m);
	assert_null(model_dr_for(&m, &m.services[0], "bk"));
	model_free(&m);
}

static void test_errors(void **state)
{
	(void)state;
	expect_err(DR_HEAD "  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n"
			   "        httpHeaderName: x\n        useSourceIp: true\n",
		   11, "set only one of httpHeaderName, httpCookie, useSourceIp");
	expect_err(DR_HEAD
		   "  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n"
		   "        useSourceIp: true\n        maglev:\n          tableSize: 1000\n",
		   13, "must be a prime number");
	/* the kernel's table: a prime up to 4093 with useSourceIp, the error says which */
	expect_err(DR_HEAD
		   "  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n"
		   "        useSourceIp: true\n        maglev:\n          tableSize: 65537\n",
		   13,
		   "maglev.tableSize 65537 is too large with useSourceIp: the client address "
		   "is hashed in the kernel, whose table holds at most 4093 entries; use a "
		   "prime up to 4093");
	expect_err(DR_HEAD "  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n"
			   "        useSourceIp: true\n        ringHash:\n"
			   "          minimumRingSize: 9000000\n",
		   13, "ringHash.minimumRingSize 9000000 must be <= 8388608");
	expect_err(DR_HEAD "  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n"
			   "        httpHeaderName: \"bad header\"\n",
		   11, "is not a valid HTTP header name");
	expect_err(DR_HEAD "  trafficPolicy:\n    outlierDetection:\n"
			   "      maxEjectionPercent: 101\n",
		   10, "maxEjectionPercent 101 must be <= 100");
	expect_err(DR_HEAD "  trafficPolicy:\n    outlierDetection:\n      interval: 10x\n", 10,
		   "spec.trafficPolicy.outlierDetection.interval \"10x\" is not a duration");
	expect_err(DR_HEAD "  trafficPolicy:\n    connectionPool:\n      tcp:\n"
			   "        maxConnections: -1\n",
		   11, "maxConnections -1 must be >= 0");
	expect_err(DR_HEAD "  trafficPolicy:\n    portLevelSettings:\n"
			   "    - port:\n        number: 80\n      loadBalancer:\n"
			   "        simple: RANDOM\n"
			   "    - port:\n        number: 80\n      loadBalancer:\n"
			   "        simple: RANDOM\n",
		   15, "port.number 80 is already set at line 10");
	expect_err(DR_HEAD "  trafficPolicy:\n    loadBalancer:\n      simple: FASTEST\n", 10,
		   "loadBalancer.simple");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_typed_fields), cmocka_unit_test(test_merge),
	    cmocka_unit_test(test_defaults),	 cmocka_unit_test(test_rule_lookup),
	    cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
