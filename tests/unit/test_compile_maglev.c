// SPDX-License-Identifier: Apache-2.0
/*
 * The compiler and consistentHash.useSourceIp: which service ports become Maglev tables
 * (SKIFF_SVC_F_MAGLEV), what the table holds (the upstream library's table over the ready
 * endpoints in address order), where the policy is merged from (subset, port level), when it
 * is not applied (a weighted split), and the pod addresses the kernel hashes for unbound sockets.
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
#include "compile_test.h"
#include "l7/upstream.h"

/* Namespace shop in the mesh; Service echo 10.96.0.10:80 -> 8080; pods v1 at 198.18.1.10..12,
 * v2 at 198.18.2.10, all on node-a and ready. */
static const char *const SCENE =
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n"
    "    skiff.io/mesh: enabled\n"
    "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: echo\n  namespace: shop\n"
    "spec:\n  selector:\n    app: echo\n  clusterIP: 10.96.0.10\n  ports:\n"
    "  - port: 80\n    name: http\n    targetPort: 8080\n"
    "  - port: 81\n    name: http-alt\n    targetPort: 8080\n"
    "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: echo-a\n"
    "  namespace: shop\n  labels:\n    kubernetes.io/service-name: echo\naddressType: IPv4\n"
    "ports:\n- port: 8080\n  name: http\n  protocol: TCP\n- port: 8080\n  name: http-alt\n"
    "  protocol: TCP\nendpoints:\n"
    "- addresses: [\"198.18.1.12\"]\n  targetRef:\n    kind: Pod\n    name: v1-2\n"
    "- addresses: [\"198.18.1.10\"]\n  targetRef:\n    kind: Pod\n    name: v1-0\n"
    "- addresses: [\"198.18.2.10\"]\n  targetRef:\n    kind: Pod\n    name: v2-0\n"
    "- addresses: [\"198.18.1.11\"]\n  targetRef:\n    kind: Pod\n    name: v1-1\n";

static void pod(struct strbuf *b, const char *name, const char *ip, const char *version)
{
	sb_printf(b,
		  "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: shop\n"
		  "  uid: uid-%s\n  labels:\n    app: echo\n    version: %s\nspec:\n"
		  "  nodeName: node-a\n  containers:\n  - name: c\n    image: e\n"
		  "status:\n  podIP: %s\n  podIPs:\n  - ip: %s\n",
		  name, name, version, ip, ip);
}

static void scene(struct strbuf *b)
{
	sb_printf(b, "%s", SCENE);
	pod(b, "v1-0", "198.18.1.10", "v1");
	pod(b, "v1-1", "198.18.1.11", "v1");
	pod(b, "v1-2", "198.18.1.12", "v1");
	pod(b, "v2-0", "198.18.2.10", "v2");
}

/* A DestinationRule; `top` and `v1` are trafficPolicy bodies (indented 4, lines ending in a
 * newline) or NULL. */
static void dr(struct strbuf *b, const char *top, const char *v1)
{
	sb_printf(b, "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n"
		     "  name: echo\n  namespace: shop\nspec:\n  host: echo\n");
	if (top)
		sb_printf(b, "  trafficPolicy:\n%s", top);
	sb_printf(b, "  subsets:\n  - name: v1\n    labels:\n      version: v1\n");
	if (v1) {
		sb_printf(b, "    trafficPolicy:\n");
		/* two more spaces: under a subset item */
		/* stops at a last line without its newline rather than reading past it */
		for (const char *l = v1, *e; *l && (e = strchr(l, '\n')); l = e + 1)
			sb_printf(b, "  %.*s\n", (int)(e - l), l);
	}
	sb_printf(b, "  - name: v2\n    labels:\n      version: v2\n");
}

static void vs(struct strbuf *b, const char *route)
{
	sb_printf(b,
		  "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n"
		  "  name: echo\n  namespace: shop\nspec:\n  hosts:\n  - echo\n  http:\n"
		  "  - route:\n%s",
		  route);
}

#define SOURCE_IP "    loadBalancer:\n      consistentHash:\n        useSourceIp: true\n"

static const struct cv_service *port_of(const struct node_view *v, uint16_t port)
{
	for (size_t i = 0; i < v->nservices; i++)
		if (ntohs(v->services[i].key.port) == port)
			return &v->services[i];
	fail_msg("no service port %u", port);
	return NULL;
}

static const struct cv_backend *slots(const struct node_view *v, const struct cv_service *s)
{
	for (size_t i = 0; i < v->nbackends; i++)
		if (v->backends[i].key.svc_id == s->val.svc_id)
			return &v->backends[i];
	return NULL;
}

/* The port is a Maglev table of `size` entries over exactly `ips` (in address order), as
 * up_maglev_build says. */
static void assert_maglev_of(const struct node_view *v, uint16_t port, const char *const *ips,
			     size_t n, uint32_t size)
{
	const struct cv_service *s = port_of(v, port);
	const struct cv_backend *b = slots(v, s);
	uint32_t *table = calloc(size, sizeof(*table));
	uint64_t keys[8];

	assert_non_null(table);
	assert_int_equal(s->val.flags, SKIFF_SVC_F_MAGLEV);
	assert_int_equal(s->val.count, size);
	assert_int_equal(s->val.weight_total, size);
	for (size_t i = 0; i < n; i++) {
		struct up_addr a = {.port = 8080, .family = SKIFF_AF_INET};

		assert_int_equal(inet_pton(AF_INET, ips[i], &a.addr.v4), 1);
		keys[i] = up_endpoint_key(&a);
	}
	assert_int_equal(up_maglev_build(keys, n, size, table), 0);
	for (uint32_t e = 0; e < size; e++) {
		char ip[INET_ADDRSTRLEN];

		assert_int_equal(b[e].key.slot, e);
		assert_int_equal(b[e].val.weight_end, e + 1);
		assert_int_equal(ntohs(b[e].val.port), 8080);
		inet_ntop(AF_INET, &b[e].val.addr.v4, ip, sizeof(ip));
		assert_string_equal(ip, ips[table[e]]);
		assert_non_null(b[e].pod);
	}
	free(table);
}

static void assert_maglev(const struct node_view *v, uint16_t port, const char *const *ips,
			  size_t n)
{
	assert_maglev_of(v, port, ips, n, SKIFF_MAGLEV_SIZE);
}

/* maglev.tableSize sizes the kernel's table (a prime up to 4093); 4093 when left out. */
static void test_table_size(void **state)
{
	static const char *const all[] = {"198.18.1.10", "198.18.1.11", "198.18.1.12",
					  "198.18.2.10"};
	struct fx *f = *state;

	scene(&f->y);
	dr(&f->y,
	   "    loadBalancer:\n      consistentHash:\n        useSourceIp: true\n"
	   "        maglev:\n          tableSize: 1021\n",
	   NULL);
	fx_compile_ok(f);
	assert_maglev_of(&f->v, 80, all, 4, 1021);
}

/* A table smaller than the endpoints cannot hash them: weighted random per connection. */
static void test_table_too_small(void **state)
{
	struct fx *f = *state;
	const struct cv_service *s;

	scene(&f->y);
	dr(&f->y,
	   "    loadBalancer:\n      consistentHash:\n        useSourceIp: true\n"
	   "        maglev:\n          tableSize: 3\n",
	   NULL);
	fx_compile_ok(f);
	s = port_of(&f->v, 80);
	assert_int_equal(s->val.flags & SKIFF_SVC_F_MAGLEV, 0);
	assert_int_equal(s->val.count, 4);
}

static void test_top_level_source_ip(void **state)
{
	static const char *const all[] = {"198.18.1.10", "198.18.1.11", "198.18.1.12",
					  "198.18.2.10"};
	struct fx *f = *state;

	scene(&f->y);
	dr(&f->y, SOURCE_IP, NULL);
	fx_compile_ok(f);
	assert_maglev(&f->v, 80, all, 4);
	assert_maglev(&f->v, 81, all, 4);
	/* the pods' own addresses, for their unbound sockets */
	assert_int_equal(f->v.npods, 4);
	for (size_t i = 0; i < f->v.npods; i++) {
		char ip[INET_ADDRSTRLEN];

		assert_true(f->v.pods[i].src.has4);
		assert_false(f->v.pods[i].src.has6);
		inet_ntop(AF_INET, &f->v.pods[i].src.v4.v4, ip, sizeof(ip));
		assert_non_null(strstr(ip, "198.18."));
	}
}

/* The subset's policy wins for its route; the top level's RANDOM stays per connection. */
static void test_subset_source_ip(void **state)
{
	static const char *const v1[] = {"198.18.1.10", "198.18.1.11", "198.18.1.12"};
	struct fx *f = *state;

	scene(&f->y);
	dr(&f->y, "    loadBalancer:\n      simple: RANDOM\n", SOURCE_IP);
	vs(&f->y, "    - destination:\n        host: echo\n        subset: v1\n");
	fx_compile_ok(f);
	assert_maglev(&f->v, 80, v1, 3);
	fx_reset(f);
	scene(&f->y);
	dr(&f->y, SOURCE_IP, "    loadBalancer:\n      simple: RANDOM\n");
	vs(&f->y, "    - destination:\n        host: echo\n        subset: v1\n");
	fx_compile_ok(f);
	assert_int_equal(port_of(&f->v, 80)->val.flags, 0);
	assert_int_equal(port_of(&f->v, 80)->val.count, 3);
}

/* A port level for 81 only: port 80 keeps its weights. */
static void test_port_level_source_ip(void **state)
{
	static const char *const all[] = {"198.18.1.10", "198.18.1.11", "198.18.1.12",
					  "198.18.2.10"};
	struct fx *f = *state;

	scene(&f->y);
	dr(&f->y,
	   "    portLevelSettings:\n    - port:\n        number: 81\n"
	   "      loadBalancer:\n        consistentHash:\n          useSourceIp: true\n",
	   NULL);
	fx_compile_ok(f);
	assert_int_equal(port_of(&f->v, 80)->val.flags, 0);
	assert_int_equal(port_of(&f->v, 80)->val.count, 4);
	assert_maglev(&f->v, 81, all, 4);
}

/* Weights across subsets cannot be a hash of the client: kept, with a warning. */
static void test_weighted_split_keeps_weights(void **state)
{
	struct fx *f = *state;
	bool warned = false;

	scene(&f->y);
	dr(&f->y, SOURCE_IP, NULL);
	vs(&f->y, "    - destination:\n        host: echo\n        subset: v1\n      weight: 90\n"
		  "    - destination:\n        host: echo\n        subset: v2\n      weight: 10\n");
	fx_compile_ok(f);
	assert_int_equal(port_of(&f->v, 80)->val.flags, 0);
	assert_int_equal(port_of(&f->v, 80)->val.count, 4);
	for (size_t i = 0; i < f->d.n; i++)
		warned |= f->d.v[i].level == DIAG_WARN &&
			  strstr(f->d.v[i].msg, "consistentHash.useSourceIp is not applied");
	assert_true(warned);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_top_level_source_ip, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_table_size, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_table_too_small, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_subset_source_ip, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_port_level_source_ip, fx_setup, fx_teardown),
	    cmocka_unit_test_setup_teardown(test_weighted_split_keeps_weights, fx_setup,
					    fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
