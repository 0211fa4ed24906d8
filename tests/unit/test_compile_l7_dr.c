// SPDX-License-Identifier: Apache-2.0
/*
 * A DestinationRule alone makes a Service port L7: which policies ask for the per-request router
 * (LEAST_REQUEST, a hash of a header, cookie or query parameter, HTTP connection-pool limits,
 * outlierDetection) and which stay in the kernel (a source-address hash, round robin, TCP
 * limits); merged per port and per subset as Istio merges them; only on ports declared HTTP;
 * and the router's table for a port no VirtualService routes (one route to the Service itself).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/strbuf.h"
#include "compile/compile.h"
#include "compile/compile_l7.h"
#include "compile_test.h"

/* Namespace shop in the mesh; Service echo 10.96.0.10 with ports 80 (http), 81 (http-alt),
 * 82 (tcp-db) and 83 (web: no protocol Istio knows), all to 8080; pods v1-0 at 198.18.1.10 and v2-0 at 198.18.2.10,
 * on node-a and ready. */
static const char *const SCENE =
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n"
    "    skiff.io/mesh: enabled\n"
    "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: front\n  labels:\n"
    "    skiff.io/mesh: enabled\n"
    "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: echo\n  namespace: shop\n"
    "spec:\n  selector:\n    app: echo\n  clusterIP: 10.96.0.10\n  ports:\n"
    "  - {port: 80, name: http, targetPort: 8080}\n"
    "  - {port: 81, name: http-alt, targetPort: 8080}\n"
    "  - {port: 82, name: tcp-db, targetPort: 8080}\n"
    "  - {port: 83, name: web, targetPort: 8080}\n"
    "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: echo-a\n"
    "  namespace: shop\n  labels:\n    kubernetes.io/service-name: echo\naddressType: IPv4\n"
    "ports:\n- {port: 8080, name: http, protocol: TCP}\n"
    "- {port: 8080, name: http-alt, protocol: TCP}\n"
    "- {port: 8080, name: tcp-db, protocol: TCP}\n"
    "- {port: 8080, name: web, protocol: TCP}\nendpoints:\n"
    "- addresses: [\"198.18.1.10\"]\n  targetRef: {kind: Pod, name: v1-0}\n"
    "- addresses: [\"198.18.2.10\"]\n  targetRef: {kind: Pod, name: v2-0}\n"
    "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: v1-0\n  namespace: shop\n"
    "  uid: uid-v1-0\n  labels: {app: echo, version: v1}\nspec:\n  nodeName: node-a\n"
    "  containers: [{name: c, image: e}]\nstatus:\n  podIP: 198.18.1.10\n"
    "  podIPs: [{ip: 198.18.1.10}]\n"
    "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: v2-0\n  namespace: shop\n"
    "  uid: uid-v2-0\n  labels: {app: echo, version: v2}\nspec:\n  nodeName: node-a\n"
    "  containers: [{name: c, image: e}]\nstatus:\n  podIP: 198.18.2.10\n"
    "  podIPs: [{ip: 198.18.2.10}]\n";

/* The scene with DestinationRule `echo` in namespace `ns`: `spec` is its spec after the host
 * (indented two spaces), with subsets v1 and v2 appended when `subsets`. */
static void scene(struct fx *f, const char *ns, const char *spec, bool subsets)
{
	fx_reset(f);
	sb_printf(&f->y, "%s", SCENE);
	sb_printf(&f->y,
		  "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n"
		  "  name: echo\n  namespace: %s\nspec:\n  host: echo.shop.svc.cluster.local\n%s",
		  ns, spec);
	if (subsets)
		sb_printf(&f->y, "  subsets:\n  - name: v1\n    labels: {version: v1}\n"
				 "  - name: v2\n    labels: {version: v2}\n");
}

/* A VirtualService splitting echo 90/10 over v1 and v2: weights only, the kernel's alone. */
static void vs_weights(struct fx *f)
{
	sb_printf(&f->y, "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
			 "metadata:\n  name: echo\n  namespace: shop\nspec:\n  hosts: [echo]\n"
			 "  http:\n  - route:\n    - destination: {host: echo, subset: v1}\n"
			 "      weight: 90\n    - destination: {host: echo, subset: v2}\n"
			 "      weight: 10\n");
}

static uint32_t flags_of(const struct fx *f, uint16_t port)
{
	char name[64];

	snprintf(name, sizeof(name), "shop/echo:%u/TCP", port);
	for (size_t i = 0; i < f->v.nservices; i++)
		if (!strcmp(f->v.services[i].name, name) && f->v.services[i].key.family == 4)
			return f->v.services[i].val.flags;
	fail_msg("no service %s in the view", name);
	return 0;
}

static bool l7(const struct fx *f, uint16_t port)
{
	return flags_of(f, port) & SKIFF_SVC_F_L7;
}

/* Each policy alone, top level, no VirtualService: L7 on the http ports only when it asks for
 * something per request. */
static void test_which_policies(void **state)
{
	static const struct {
		const char *spec;
		bool l7;
	} cases[] = {
	    {"  trafficPolicy:\n    loadBalancer:\n      consistentHash: {httpHeaderName: "
	     "x-user}\n",
	     true},
	    {"  trafficPolicy:\n    loadBalancer:\n      consistentHash:\n"
	     "        httpCookie: {name: s, ttl: 0s}\n",
	     true},
	    {"  trafficPolicy:\n    loadBalancer:\n"
	     "      consistentHash: {httpQueryParameterName: u}\n",
	     true},
	    {"  trafficPolicy:\n    loadBalancer: {simple: LEAST_REQUEST}\n", true},
	    {"  trafficPolicy:\n    connectionPool:\n      http: {http1MaxPendingRequests: 1}\n",
	     true},
	    {"  trafficPolicy:\n    connectionPool:\n      http: {http2MaxRequests: 10}\n", true},
	    {"  trafficPolicy:\n    connectionPool:\n      http: {maxRequestsPerConnection: 5}\n",
	     true},
	    {"  trafficPolicy:\n    connectionPool:\n      http: {maxRetries: 1}\n", true},
	    {"  trafficPolicy:\n    connectionPool:\n      http: {idleTimeout: 2s}\n", true},
	    {"  trafficPolicy:\n    outlierDetection: {consecutive5xxErrors: 3}\n", true},
	    /* the kernel's: Maglev at connect, weighted random, TCP limits */
	    {"  trafficPolicy:\n    loadBalancer:\n      consistentHash: {useSourceIp: true}\n",
	     false},
	    {"  trafficPolicy:\n    loadBalancer: {simple: ROUND_ROBIN}\n", false},
	    {"  trafficPolicy:\n    loadBalancer: {simple: RANDOM}\n", false},
	    {"  trafficPolicy:\n    connectionPool:\n      tcp: {maxConnections: 5}\n", false},
	    {"  trafficPolicy:\n    connectionPool:\n      tcp: {connectTimeout: 1s}\n", false},
	};
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		scene(f, "shop", cases[i].spec, false);
		fx_compile_ok(f);
		if (l7(f, 80) != cases[i].l7 || l7(f, 81) != cases[i].l7)
			fail_msg("case %zu: port 80 %d, 81 %d, want %d:\n%s", i, l7(f, 80),
				 l7(f, 81), cases[i].l7, cases[i].spec);
		/* never a port that does not say it speaks HTTP: the router does not sniff */
		assert_false(l7(f, 82));
		assert_false(l7(f, 83));
	}
}

/* The router's table for a port no VirtualService routes: one route, no match, no action, to
 * the Service itself with both pods on the target port; a source-address hash stays a Maglev
 * table in the kernel. */
static void test_table_without_virtualservice(void **state)
{
	struct fx *f = *state;
	struct skiff_sock_origin vip = {.port = htons(80), .family = SKIFF_AF_INET};
	const struct l7_svcport *sp;
	struct l7_table t;

	scene(
	    f, "shop",
	    "  trafficPolicy:\n    loadBalancer:\n      consistentHash: {httpHeaderName: x-user}\n",
	    false);
	fx_compile_ok(f);
	assert_int_equal(flags_of(f, 80), SKIFF_SVC_F_L7);
	assert_int_equal(compile_l7_table(&f->m, "node-a", &t, &f->d), 0);
	assert_int_equal(t.n, 2); /* ports 80 and 81 */
	inet_pton(AF_INET, "10.96.0.10", &vip.addr.v4);
	sp = l7_table_find(&t, &vip);
	assert_non_null(sp);
	assert_null(sp->vs);
	assert_int_equal(sp->nroutes, 1);
	assert_null(sp->routes[0].r->h);
	assert_int_equal(sp->routes[0].ndests, 1);
	assert_int_equal(sp->routes[0].total, 1);
	assert_ptr_equal(sp->routes[0].dests[0].target, sp->svc);
	assert_null(sp->routes[0].dests[0].dst->subset);
	assert_null(sp->routes[0].dests[0].dst->headers);
	assert_int_equal(sp->routes[0].dests[0].port, 80);
	assert_int_equal(sp->routes[0].dests[0].neps, 2);
	assert_int_equal(ntohs(sp->routes[0].dests[0].eps[0].addr.port), 8080);
	assert_true(sp->routes[0].dests[0].eps[0].local);
	l7_table_free(&t);

	scene(f, "shop",
	      "  trafficPolicy:\n    loadBalancer:\n      consistentHash: {useSourceIp: true}\n",
	      false);
	fx_compile_ok(f);
	assert_int_equal(flags_of(f, 80), SKIFF_SVC_F_MAGLEV);
	assert_int_equal(compile_l7_table(&f->m, "node-a", &t, &f->d), 0);
	assert_int_equal(t.n, 0);
	l7_table_free(&t);
}

/* Subsets v1 and v2, v2 hashing on a header. */
static const char *const V2_HASH =
    "  subsets:\n  - name: v1\n    labels: {version: v1}\n"
    "  - name: v2\n    labels: {version: v2}\n    trafficPolicy:\n      loadBalancer:\n"
    "        consistentHash: {httpHeaderName: x-user}\n";

/* A port level replaces the top level for its port only; a subset's policy counts only for
 * traffic a route sends to that subset. */
static void test_port_and_subset_levels(void **state)
{
	struct fx *f = *state;
	struct l7_table t;

	scene(f, "shop",
	      "  trafficPolicy:\n    loadBalancer: {simple: LEAST_REQUEST}\n"
	      "    portLevelSettings:\n    - port: {number: 80}\n"
	      "      loadBalancer: {simple: ROUND_ROBIN}\n",
	      false);
	fx_compile_ok(f);
	assert_false(l7(f, 80));
	assert_true(l7(f, 81));

	scene(f, "shop",
	      "  trafficPolicy:\n    portLevelSettings:\n    - port: {number: 81}\n"
	      "      outlierDetection: {consecutive5xxErrors: 2}\n",
	      false);
	fx_compile_ok(f);
	assert_false(l7(f, 80));
	assert_true(l7(f, 81));

	/* v2's hash: no route names v2 without a VirtualService, so nothing asks */
	scene(f, "shop", V2_HASH, false);
	fx_compile_ok(f);
	assert_false(l7(f, 80));

	/* a weights-only split sending 10 % to v2: the split goes per request with v2's hash */
	scene(f, "shop", V2_HASH, false);
	vs_weights(f);
	fx_compile_ok(f);
	assert_true(l7(f, 80));
	assert_false(l7(f, 82));
	assert_int_equal(compile_l7_table(&f->m, "node-a", &t, &f->d), 0);
	assert_int_equal(t.n, 2);
	assert_non_null(t.v[0].vs);
	assert_int_equal(t.v[0].nroutes, 1);
	assert_int_equal(t.v[0].routes[0].ndests, 2);
	assert_int_equal(t.v[0].routes[0].total, 100);
	assert_null(t.v[0].self_route);
	l7_table_free(&t);

	/* the same split with no policy anywhere stays in the kernel */
	scene(f, "shop", "", true);
	vs_weights(f);
	fx_compile_ok(f);
	assert_false(l7(f, 80));
}

/* A rule in a client's namespace is the one its requests get, so it counts too; a second rule
 * in a namespace never applies (the router takes the first). */
static void test_rule_namespaces(void **state)
{
	struct fx *f = *state;

	scene(f, "front", "  trafficPolicy:\n    loadBalancer: {simple: LEAST_REQUEST}\n", false);
	fx_compile_ok(f);
	assert_true(l7(f, 80));

	scene(f, "shop", "  trafficPolicy:\n    loadBalancer: {simple: RANDOM}\n", false);
	sb_printf(&f->y,
		  "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n"
		  "  name: echo-2\n  namespace: shop\nspec:\n  host: echo\n  trafficPolicy:\n"
		  "    loadBalancer: {simple: LEAST_REQUEST}\n");
	fx_compile_ok(f);
	assert_false(l7(f, 80));
}

/* A VirtualService whose only route is tcp keeps the port in the kernel: the router would have
 * no http route for it. */
static void test_tcp_route_stays(void **state)
{
	struct fx *f = *state;

	scene(f, "shop", "  trafficPolicy:\n    outlierDetection: {consecutive5xxErrors: 3}\n",
	      false);
	sb_printf(&f->y, "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
			 "metadata:\n  name: echo\n  namespace: shop\nspec:\n  hosts: [echo]\n"
			 "  tcp:\n  - route:\n    - destination: {host: echo}\n");
	fx_compile_ok(f);
	assert_false(l7(f, 80));
}

/* Never a silent ignore: what only the router applies, on a port that stays in the kernel, is a
 * warning naming the port; a source-address hash (the kernel's own) is not. */
static void test_kernel_port_warned(void **state)
{
	struct fx *f = *state;

	scene(f, "shop", "  trafficPolicy:\n    outlierDetection: {consecutive5xxErrors: 3}\n",
	      false);
	fx_compile_ok(f);
	assert_true(l7(f, 80));
	assert_false(l7(f, 82));
	assert_true(diag_contains(&f->d, "Service shop/echo port 82 (tcp-db): a DestinationRule "
					 "sets connection-pool limits, outlier detection"));
	assert_false(diag_contains(&f->d, "port 80 (http)"));
	diag_free(&f->d);
	scene(f, "shop", "  trafficPolicy:\n    connectionPool:\n      tcp: {maxConnections: 5}\n",
	      false);
	fx_compile_ok(f);
	assert_false(l7(f, 80));
	assert_true(diag_contains(&f->d, "Service shop/echo port 80 (http): a DestinationRule"));
	diag_free(&f->d);
	scene(f, "shop",
	      "  trafficPolicy:\n    loadBalancer:\n      consistentHash: {useSourceIp: true}\n",
	      false);
	fx_compile_ok(f);
	assert_false(diag_contains(&f->d, "a DestinationRule sets connection-pool limits"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_which_policies),	    T(test_table_without_virtualservice),
	    T(test_port_and_subset_levels), T(test_rule_namespaces),
	    T(test_tcp_route_stays),	    T(test_kernel_port_warned),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
