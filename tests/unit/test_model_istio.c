// SPDX-License-Identifier: Apache-2.0
/*
 * Istio kinds in the model: VirtualService, DestinationRule, PeerAuthentication and
 * AuthorizationPolicy parse and validate as Istio's pkg/config/validation does. Each invalid case
 * checks that the error names the field path and its file:line. Istio's own files, kept
 * unchanged in tests/conformance/istio, are loaded in place (env SKIFF_CONFORMANCE_DIR overrides
 * the folder).
 */
#include <errno.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/model.h"

/* ---- helpers ---- */

#define VS_HEAD                                                                                    \
	"apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs\n"        \
	"  namespace: ns\nspec:\n" /* spec fields start on line 7 */
#define DR_HEAD                                                                                    \
	"apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: dr\n"       \
	"  namespace: ns\nspec:\n"
#define PA_HEAD                                                                                    \
	"apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: pa\n"      \
	"  namespace: ns\nspec:\n"
#define AP_HEAD                                                                                    \
	"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: ap\n"     \
	"  namespace: ns\nspec:\n"

/* A simple, valid http route to append after spec fields (lines +0..+3). */
#define ROUTE_SVC "  http:\n  - route:\n    - destination:\n        host: svc\n"

static bool entry_has(const struct diag *d, enum diag_level lvl, const char *a, const char *b)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].level == lvl && strstr(d->v[i].msg, a) && strstr(d->v[i].msg, b))
			return true;
	return false;
}

/* The YAML is rejected, with an error at t.yaml:<line> that contains `text`. */
static void expect_err(const char *yaml, int line, const char *text)
{
	struct diag d = {0};
	struct model m;
	char loc[32];
	int rc;

	snprintf(loc, sizeof(loc), "t.yaml:%d: ", line);
	rc = model_load_string("t.yaml", yaml, &m, &d);
	if (rc != -EINVAL || !entry_has(&d, DIAG_ERROR, loc, text)) {
		fprintf(stderr, "expected error at %s\"%s\"; got rc %d and:\n", loc, text, rc);
		diag_print(&d);
	}
	if (rc == 0)
		model_free(&m);
	assert_int_equal(rc, -EINVAL);
	assert_true(entry_has(&d, DIAG_ERROR, loc, text));
	diag_free(&d);
}

/* The YAML loads; the caller inspects `m` and frees it. */
static void expect_ok(const char *yaml, struct model *m, struct diag *d)
{
	int rc = model_load_string("t.yaml", yaml, m, d);

	if (rc != 0)
		diag_print(d);
	assert_int_equal(rc, 0);
	assert_int_equal(d->errors, 0);
}

static void expect_ok_free(const char *yaml)
{
	struct diag d = {0};
	struct model m;

	expect_ok(yaml, &m, &d);
	model_free(&m);
	diag_free(&d);
}

/* Loads with a warning at t.yaml:<line> containing `text`. */
static void expect_warn(const char *yaml, int line, const char *text)
{
	struct diag d = {0};
	struct model m;
	char loc[32];

	snprintf(loc, sizeof(loc), "t.yaml:%d: ", line);
	expect_ok(yaml, &m, &d);
	if (!entry_has(&d, DIAG_WARN, loc, text)) {
		fprintf(stderr, "expected warning at %s\"%s\"; got:\n", loc, text);
		diag_print(&d);
	}
	assert_true(entry_has(&d, DIAG_WARN, loc, text));
	model_free(&m);
	diag_free(&d);
}

static bool has_unenforced(const struct m_unenforced *u, size_t n, const char *field)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(u[i].field, field))
			return true;
	return false;
}

/* Istio's files in tests/conformance/istio, relative to the repository root (tests/run.sh runs
 * from there); env SKIFF_CONFORMANCE_DIR points at another copy, e.g. a full Istio checkout. */
static const char *conformance_dir(void)
{
	const char *e = getenv("SKIFF_CONFORMANCE_DIR");

	return e && e[0] ? e : "tests/conformance/istio";
}

/* ---- the product guide, unchanged ---- */

static const char guide_payments[] = "apiVersion: networking.istio.io/v1\n"
				     "kind: DestinationRule\n"
				     "metadata:\n"
				     "  name: payments-api\n"
				     "  namespace: payments\n"
				     "spec:\n"
				     "  host: payments-api\n"
				     "  subsets:\n"
				     "  - name: v1\n"
				     "    labels:\n"
				     "      version: v1\n"
				     "  - name: v2\n"
				     "    labels:\n"
				     "      version: v2\n"
				     "---\n"
				     "apiVersion: networking.istio.io/v1\n"
				     "kind: VirtualService\n"
				     "metadata:\n"
				     "  name: payments-api\n"
				     "  namespace: payments\n"
				     "spec:\n"
				     "  hosts:\n"
				     "  - payments-api\n"
				     "  http:\n"
				     "  - route:\n"
				     "    - destination:\n"
				     "        host: payments-api\n"
				     "        subset: v1\n"
				     "      weight: 90\n"
				     "    - destination:\n"
				     "        host: payments-api\n"
				     "        subset: v2\n"
				     "      weight: 10\n"
				     "    retries:\n"
				     "      attempts: 3\n"
				     "      perTryTimeout: 2s\n"
				     "      retryOn: \"5xx,reset,connect-failure\"\n";

static void test_guide_payments(void **state)
{
	struct diag d = {0};
	struct model m;
	const struct m_virtualservice *vs;
	const struct m_destinationrule *dr;

	(void)state;
	expect_ok(guide_payments, &m, &d);
	assert_int_equal(m.nvirtualservices, 1);
	assert_int_equal(m.ndestinationrules, 1);
	vs = &m.virtualservices[0];
	assert_string_equal(vs->meta.ns, "payments");
	assert_int_equal(vs->nhosts, 1);
	assert_string_equal(vs->hosts[0], "payments-api");
	assert_int_equal(vs->nhttp, 1);
	assert_false(vs->http[0].has_match);
	assert_int_equal(vs->http[0].ndests, 2);
	assert_string_equal(vs->http[0].dests[0].host, "payments-api");
	assert_string_equal(vs->http[0].dests[0].subset, "v1");
	assert_int_equal(vs->http[0].dests[0].weight, 90);
	assert_true(vs->http[0].dests[0].weight_set);
	assert_int_equal(vs->http[0].dests[0].line, 26);
	assert_string_equal(vs->http[0].dests[1].subset, "v2");
	assert_int_equal(vs->http[0].dests[1].weight, 10);
	/* the L7 router enforces retries on HTTP ports */
	assert_false(has_unenforced(vs->unenforced, vs->nunenforced, "http[0].retries"));
	dr = &m.destinationrules[0];
	assert_string_equal(dr->host, "payments-api");
	assert_int_equal(dr->nsubsets, 2);
	assert_string_equal(dr->subsets[1].name, "v2");
	assert_string_equal(labels_get(&dr->subsets[1].labels, "version"), "v2");
	assert_int_equal(dr->nunenforced, 0);
	model_free(&m);
	diag_free(&d);
}

static void test_guide_patch_50_50(void **state)
{
	struct diag d = {0};
	struct model m;

	(void)state;
	expect_ok(VS_HEAD "  hosts:\n  - payments-api\n"
			  "  http:\n"
			  "  - route:\n"
			  "    - destination:\n"
			  "        host: payments-api\n"
			  "        subset: v1\n"
			  "      weight: 50\n"
			  "    - destination:\n"
			  "        host: payments-api\n"
			  "        subset: v2\n"
			  "      weight: 50\n",
		  &m, &d);
	assert_int_equal(m.virtualservices[0].http[0].dests[0].weight, 50);
	assert_int_equal(m.virtualservices[0].http[0].dests[1].weight, 50);
	assert_int_equal(m.virtualservices[0].nunenforced, 0);
	model_free(&m);
	diag_free(&d);
}

/* ---- VirtualService: hosts, gateways ---- */

static void test_vs_hosts_required(void **state)
{
	(void)state;
	expect_err(VS_HEAD ROUTE_SVC, 7, "spec.hosts is required");
}

static void test_vs_star_host(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  hosts:\n  - \"*\"\n" ROUTE_SVC, 8,
		   "spec.hosts[0]: wildcard host * is not allowed");
	expect_err(VS_HEAD "  hosts: [\"*\"]\n  gateways: [mesh, ns/gw]\n" ROUTE_SVC, 7,
		   "wildcard host * is not allowed");
	expect_ok_free(VS_HEAD "  hosts: [\"*\"]\n  gateways: [ns/gw]\n" ROUTE_SVC);
}

static void test_vs_overlapping_hosts(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  hosts:\n  - \"*.foo.com\"\n  - a.foo.com\n" ROUTE_SVC, 9,
		   "spec.hosts[1]: \"a.foo.com\" duplicates or overlaps spec.hosts[0]");
	expect_err(VS_HEAD "  hosts:\n  - svc\n  - svc\n" ROUTE_SVC, 9, "spec.hosts[1]");
	expect_err(VS_HEAD "  hosts:\n  - Bad_Host\n" ROUTE_SVC, 8,
		   "spec.hosts[0]: \"Bad_Host\" is not a valid host name");
}

static void test_vs_gateway_names(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  hosts: [svc]\n  gateways:\n  - ns/Bad\n" ROUTE_SVC, 9,
		   "spec.gateways: \"ns/Bad\" is not a valid gateway reference");
	expect_warn(VS_HEAD "  hosts: [svc]\n  gateways:\n  - gw.ns.svc.cluster.local\n" ROUTE_SVC,
		    9, "legacy FQDN gateway format");
}

static void test_vs_needs_routes(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  hosts: [svc]\n", 7, "spec: at least one of http, tcp or tls");
}

/* ---- VirtualService: http route actions ---- */

static void test_vs_http_needs_action(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  hosts: [svc]\n  http:\n  - timeout: 2s\n", 9,
		   "spec.http[0] needs one of route, redirect or directResponse");
	expect_err(VS_HEAD "  hosts: [svc]\n  http:\n  - name: empty\n    route: []\n", 9,
		   "spec.http[0] needs one of route, redirect or directResponse");
}

static void test_vs_redirect_combinations(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  hosts: [svc]\n  http:\n  - redirect:\n      uri: /new\n"
			   "    route:\n    - destination:\n        host: svc\n",
		   9, "spec.http[0]: redirect cannot be combined with route");
	expect_err(VS_HEAD "  hosts: [svc]\n  http:\n  - directResponse:\n      status: 503\n"
			   "    fault:\n      abort:\n        httpStatus: 500\n",
		   9, "spec.http[0]: directResponse cannot be combined with route, fault");
	expect_err(VS_HEAD "  hosts: [svc]\n  http:\n  - directResponse:\n      status: 700\n", 10,
		   "spec.http[0].directResponse.status 700 must be <= 599");
	expect_err(VS_HEAD "  hosts: [svc]\n  http:\n  - redirect: {redirectCode: 301}\n", 9,
		   "spec.http[0].redirect must set at least one of uri");
}

static void test_vs_redirect_ok_enforced(void **state)
{
	struct diag d = {0};
	struct model m;
	const struct m_virtualservice *vs;

	(void)state;
	expect_ok(VS_HEAD "  hosts: [svc]\n  http:\n  - redirect:\n      uri: /v2\n"
			  "      redirectCode: 308\n",
		  &m, &d);
	vs = &m.virtualservices[0];
	assert_int_equal(vs->http[0].ndests, 0);
	assert_false(has_unenforced(vs->unenforced, vs->nunenforced, "http[0].redirect"));
	assert_int_equal(vs->http[0].h->redirect->code, 308);
	model_free(&m);
	diag_free(&d);
}

static void test_vs_mirror_and_mirrors(void **state)
{
	(void)state;
	expect_err(VS_HEAD ROUTE_SVC "    mirror:\n      host: shadow\n"
				     "    mirrors:\n    - destination:\n        host: shadow2\n"
				     "  hosts: [svc]\n",
		   14, "spec.http[0]: set only one of mirror or mirrors");
	expect_err(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC "    mirrorPercentage:\n      value: 101\n",
		   13,
		   "spec.http[0].mirrorPercentage.value: 101 must be 0 or between 0.0001 and 100");
}

/* ---- VirtualService: destinations and weights ---- */

static void test_vs_weight_negative(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  hosts: [svc]\n  http:\n  - route:\n    - destination:\n"
			   "        host: svc\n      weight: -5\n",
		   12, "spec.http[0].route[0].weight -5 must be >= 0");
}

static void test_vs_weight_quoted(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  hosts: [svc]\n  http:\n  - route:\n    - destination:\n"
			   "        host: svc\n      weight: \"90\"\n",
		   12, "spec.http[0].route[0].weight must be an integer, not the string \"90\"");
}

static void test_vs_weights_total_zero(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  hosts: [svc]\n  http:\n  - route:\n    - destination:\n"
			   "        host: svc\n        subset: v1\n      weight: 0\n"
			   "    - destination:\n        host: svc\n        subset: v2\n",
		   10, "spec.http[0].route: the weights of 2 destinations total 0");
}

static void test_vs_weights_free_sum(void **state)
{
	struct diag d = {0};
	struct model m;
	const struct m_route *r;

	(void)state;
	/* No sum-to-100 rule; a single destination with weight 0 still gets all traffic. */
	expect_ok(VS_HEAD
		  "  hosts: [svc]\n  http:\n  - route:\n    - destination:\n"
		  "        host: svc\n        subset: a\n      weight: 550\n"
		  "    - destination:\n        host: svc\n        subset: b\n      weight: 500\n"
		  "  - route:\n    - destination:\n        host: svc\n      weight: 0\n",
		  &m, &d);
	r = m.virtualservices[0].http;
	assert_int_equal(r[0].dests[0].weight + r[0].dests[1].weight, 1050);
	assert_int_equal(r[1].ndests, 1);
	assert_true(r[1].dests[0].weight_set);
	assert_int_equal(r[1].dests[0].weight, 0);
	model_free(&m);
	diag_free(&d);
}

static void test_vs_destination_rules(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  hosts: [svc]\n  http:\n  - route:\n    - destination:\n"
			   "        host: \"*\"\n",
		   11, "spec.http[0].route[0].destination.host: * is not a valid destination host");
	expect_err(VS_HEAD "  hosts: [svc]\n  http:\n  - route:\n    - destination:\n"
			   "        host: svc\n        subset: V1\n",
		   12,
		   "spec.http[0].route[0].destination.subset: \"V1\" is not a valid subset name");
	expect_err(VS_HEAD "  hosts: [svc]\n  http:\n  - route:\n    - destination:\n"
			   "        host: svc\n        port:\n          number: 70000\n",
		   13, "spec.http[0].route[0].destination.port.number 70000 must be <= 65535");
	expect_err(VS_HEAD "  hosts: [svc]\n  http:\n  - route:\n    - destination:\n"
			   "        subset: v1\n",
		   11, "spec.http[0].route[0].destination.host is required");
}

static void test_vs_destination_port(void **state)
{
	struct diag d = {0};
	struct model m;

	(void)state;
	expect_ok(VS_HEAD
		  "  hosts: [svc]\n  http:\n  - route:\n    - destination:\n"
		  "        host: svc.ns.svc.cluster.local\n        port:\n          number: 8080\n",
		  &m, &d);
	assert_int_equal(m.virtualservices[0].http[0].dests[0].port, 8080);
	assert_false(m.virtualservices[0].http[0].dests[0].weight_set);
	model_free(&m);
	diag_free(&d);
}

/* ---- VirtualService: retries, timeouts, faults ---- */

static void test_vs_retries_attempts(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC "    retries:\n      attempts: -1\n", 13,
		   "spec.http[0].retries.attempts -1 must be >= 0");
	expect_err(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC
			   "    retries:\n      attempts: 0\n      perTryTimeout: 2s\n",
		   13,
		   "spec.http[0].retries: perTryTimeout, retryOn and retryRemoteLocalities need "
		   "attempts > 0");
	expect_err(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC "    retries:\n      retryOn: 5xx\n", 13,
		   "need attempts > 0");
	expect_ok_free(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC "    retries:\n      attempts: 0\n");
}

static void test_vs_retry_on(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC
			   "    retries:\n      attempts: 2\n      retryOn: 5xx,bogus\n",
		   14, "spec.http[0].retries.retryOn: \"bogus\" is not a retry condition");
	expect_err(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC
			   "    retries:\n      attempts: 2\n      retryOn: \"600\"\n",
		   14, "\"600\" is not a retry condition");
	expect_ok_free(VS_HEAD
		       "  hosts: [svc]\n" ROUTE_SVC
		       "    retries:\n      attempts: 2\n      retryOn: \"503,gateway-error,"
		       "reset-before-request,unavailable,cancelled\"\n      backoff: 25ms\n");
}

static void test_vs_timeouts(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC "    timeout: 2x\n", 12,
		   "spec.http[0].timeout \"2x\" is not a duration");
	expect_err(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC "    timeout: 0.5ms\n", 12,
		   "spec.http[0].timeout 0.5ms must be at least 1ms");
	expect_err(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC
			   "    retries:\n      attempts: 1\n      perTryTimeout: 1.0001s\n",
		   14,
		   "spec.http[0].retries.perTryTimeout 1.0001s must be a whole number of "
		   "milliseconds");
}

static void test_vs_fault_abort(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC "    fault:\n      abort:\n"
			   "        httpStatus: 601\n",
		   14, "spec.http[0].fault.abort.httpStatus 601 must be <= 600");
	expect_err(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC "    fault:\n      abort:\n"
			   "        grpcStatus: NOPE\n",
		   14, "spec.http[0].fault.abort.grpcStatus: \"NOPE\" is not a gRPC status name");
	expect_err(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC "    fault:\n      abort:\n"
			   "        http2Error: REFUSED_STREAM\n",
		   14, "spec.http[0].fault.abort.http2Error is not supported");
	expect_ok_free(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC "    fault:\n      abort:\n"
			       "        grpcStatus: UNAVAILABLE\n        percentage:\n"
			       "          value: 0.5\n");
	expect_ok_free(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC "    fault:\n      abort:\n"
			       "        httpStatus: 600\n");
}

static void test_vs_fault_delay(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC "    fault:\n      delay:\n"
			   "        exponentialDelay: 1s\n",
		   14, "spec.http[0].fault.delay.exponentialDelay is not supported");
	expect_err(VS_HEAD
		   "  hosts: [svc]\n" ROUTE_SVC "    fault:\n      delay:\n"
		   "        fixedDelay: 7s\n        percentage:\n          value: 0.00001\n",
		   16, "spec.http[0].fault.delay.percentage.value: 0.00001 must be 0 or between");
	expect_err(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC "    fault: {}\n", 12,
		   "spec.http[0].fault needs an abort, a delay, or both");
	expect_warn(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC "    fault:\n      delay:\n"
			    "        fixedDelay: 7s\n        percent: 50\n",
		    15, "spec.http[0].fault.delay.percent is deprecated");
}

/* ---- VirtualService: matches ---- */

static void test_vs_match_string_match(void **state)
{
	(void)state;
	expect_err(VS_HEAD
		   "  hosts: [svc]\n  http:\n  - match:\n    - headers:\n        end-user:\n"
		   "          prefix: \"\"\n    route:\n    - destination:\n        host: svc\n",
		   12, "spec.http[0].match[0].headers[end-user].prefix must not be empty");
	expect_err(VS_HEAD "  hosts: [svc]\n  http:\n  - match:\n    - uri:\n        regex: \"(\"\n"
			   "    route:\n    - destination:\n        host: svc\n",
		   11, "spec.http[0].match[0].uri.regex: \"(\" is not a valid regular expression");
	expect_err(VS_HEAD
		   "  hosts: [svc]\n  http:\n  - match:\n    - uri:\n        exact: /a\n"
		   "        prefix: /b\n    route:\n    - destination:\n        host: svc\n",
		   11, "spec.http[0].match[0].uri: set only one of exact, prefix or regex");
	expect_ok_free(VS_HEAD
		       "  hosts: [svc]\n  http:\n  - match:\n    - uri:\n        prefix: \"\"\n"
		       "      headers:\n        x-present: {}\n        x-re:\n"
		       "          regex: \"(?i)^ab+c$\"\n        x-grp:\n"
		       "          regex: \"^/api/(?:v1|v2)/(?P<rest>.*)$\"\n"
		       "    route:\n    - destination:\n        host: svc\n");
}

static void test_vs_match_fields(void **state)
{
	(void)state;
	expect_err(VS_HEAD "  hosts: [svc]\n  http:\n  - match:\n    - sourceNamespace: Bad_NS\n"
			   "    route:\n    - destination:\n        host: svc\n",
		   10,
		   "spec.http[0].match[0].sourceNamespace: \"Bad_NS\" is not a valid namespace");
	expect_err(VS_HEAD "  hosts: [svc]\n  http:\n  - match:\n    - port: 0\n"
			   "    route:\n    - destination:\n        host: svc\n",
		   10, "spec.http[0].match[0].port 0 must be >= 1");
	expect_err(VS_HEAD "  hosts: [svc]\n  http:\n  - match:\n    - headers:\n"
			   "        \"@request.auth.claims.group\":\n          exact: admin\n"
			   "    route:\n    - destination:\n        host: svc\n",
		   12, "JWT claim routing is only allowed");
}

static void test_vs_match_enforced_cors_not(void **state)
{
	struct diag d = {0};
	struct model m;
	const struct m_virtualservice *vs;

	(void)state;
	expect_ok(VS_HEAD
		  "  hosts: [svc]\n  http:\n  - match:\n    - headers:\n        end-user:\n"
		  "          exact: jason\n      method:\n        exact: GET\n"
		  "      sourceLabels:\n        app: x\n      withoutHeaders:\n"
		  "        x-skip:\n          regex: \"*\"\n"
		  "    route:\n    - destination:\n        host: svc\n        subset: v2\n"
		  "    timeout: 10s\n    headers:\n      request:\n        set:\n"
		  "          x-a: b\n    corsPolicy:\n      allowOrigins:\n      - exact: a.com\n"
		  "      maxAge: 24h\n    rewrite:\n      uri: /x\n"
		  "  - route:\n    - destination:\n        host: svc\n        subset: v1\n",
		  &m, &d);
	vs = &m.virtualservices[0];
	assert_true(vs->http[0].has_match);
	assert_false(vs->http[1].has_match);
	/* the L7 router enforces matches, timeout, headers and rewrite; not CORS */
	assert_false(has_unenforced(vs->unenforced, vs->nunenforced, "http[0].match"));
	assert_false(has_unenforced(vs->unenforced, vs->nunenforced, "http[0].timeout"));
	assert_false(has_unenforced(vs->unenforced, vs->nunenforced, "http[0].headers"));
	assert_true(has_unenforced(vs->unenforced, vs->nunenforced, "http[0].corsPolicy"));
	assert_false(has_unenforced(vs->unenforced, vs->nunenforced, "http[0].rewrite"));
	assert_false(has_unenforced(vs->unenforced, vs->nunenforced, "http[1].match"));
	model_free(&m);
	diag_free(&d);
}

static void test_vs_unknown_field_warns(void **state)
{
	(void)state;
	expect_warn(VS_HEAD "  hosts: [svc]\n" ROUTE_SVC "    retrys:\n      attempts: 3\n", 12,
		    "spec.http[0].retrys: unknown field, ignored");
}

/* ---- VirtualService: tcp, tls ---- */

static void test_vs_tcp(void **state)
{
	struct diag d = {0};
	struct model m;
	const struct m_virtualservice *vs;

	(void)state;
	expect_err(VS_HEAD "  hosts: [svc]\n  tcp:\n  - match:\n    - port: 9000\n", 9,
		   "spec.tcp[0].route is required");
	expect_ok(VS_HEAD
		  "  hosts: [tcp-echo]\n  tcp:\n  - match:\n    - port: 9000\n"
		  "    route:\n    - destination:\n        host: tcp-echo\n        subset: v1\n"
		  "      weight: 80\n    - destination:\n        host: tcp-echo\n"
		  "        subset: v2\n      weight: 20\n",
		  &m, &d);
	vs = &m.virtualservices[0];
	assert_int_equal(vs->ntcp, 1);
	assert_true(vs->tcp[0].has_match);
	assert_int_equal(vs->tcp[0].ndests, 2);
	assert_int_equal(vs->tcp[0].dests[1].weight, 20);
	/* a port alone is applied by the kernel, per Service port */
	assert_int_equal(vs->tcp[0].nports, 1);
	assert_int_equal(vs->tcp[0].ports[0], 9000);
	assert_int_equal(vs->nunenforced, 0);
	model_free(&m);
	diag_free(&d);

	/* an entry naming the client is not: recorded, and it never chooses the route */
	expect_ok(
	    VS_HEAD
	    "  hosts: [tcp-echo]\n  tcp:\n  - match:\n    - port: 9001\n"
	    "    - port: 9000\n      sourceLabels:\n        app: a\n    - gateways: [gw]\n"
	    "    - gateways: [mesh]\n    route:\n    - destination:\n        host: tcp-echo\n",
	    &m, &d);
	vs = &m.virtualservices[0];
	assert_int_equal(vs->tcp[0].nports, 2);
	assert_int_equal(vs->tcp[0].ports[0], 9001);
	assert_int_equal(vs->tcp[0].ports[1], 0); /* gateways: [mesh] alone: every port */
	assert_true(has_unenforced(vs->unenforced, vs->nunenforced, "tcp[0].match[1]"));
	assert_true(has_unenforced(vs->unenforced, vs->nunenforced, "tcp[0].match[2]"));
	assert_int_equal(vs->nunenforced, 2);
	model_free(&m);
	diag_free(&d);
}

static void test_vs_tls(void **state)
{
	struct diag d = {0};
	struct model m;

	(void)state;
	expect_err(VS_HEAD "  hosts: [a.com]\n  tls:\n  - match:\n    - port: 443\n"
			   "    route:\n    - destination:\n        host: a.com\n",
		   10, "spec.tls[0].match[0].sniHosts is required");
	expect_err(VS_HEAD "  hosts: [a.com]\n  tls:\n  - match:\n    - sniHosts: [b.com]\n"
			   "    route:\n    - destination:\n        host: a.com\n",
		   10,
		   "spec.tls[0].match[0].sniHosts[0]: \"b.com\" is not one of this "
		   "VirtualService's hosts");
	expect_ok(VS_HEAD "  hosts: [\"*.a.com\"]\n  tls:\n  - match:\n    - sniHosts: [x.a.com]\n"
			  "    route:\n    - destination:\n        host: x.a.com\n",
		  &m, &d);
	assert_int_equal(m.virtualservices[0].ntls, 1);
	assert_true(has_unenforced(m.virtualservices[0].unenforced,
				   m.virtualservices[0].nunenforced, "tls[0]"));
	model_free(&m);
	diag_free(&d);
}

/* ---- DestinationRule ---- */

static void test_dr_subsets(void **state)
{
	(void)state;
	expect_err(DR_HEAD "  host: svc\n  subsets:\n  - name: v1\n  - name: v1\n", 10,
		   "spec.subsets[1].name \"v1\" is already defined at line 9");
	expect_err(DR_HEAD "  host: svc\n  subsets:\n  - name: V_1\n", 9,
		   "spec.subsets[0].name \"V_1\" must be a DNS-1123 label");
	expect_err(DR_HEAD "  host: svc\n  subsets:\n  - labels:\n      version: v1\n", 9,
		   "spec.subsets[0].name is required");
	expect_err(DR_HEAD "  host: svc\n  subsets:\n  - name: v1\n    labels:\n"
			   "      version: \"-bad-\"\n",
		   11, "spec.subsets[0].labels.version: \"-bad-\" is not a valid label value");
	expect_err(DR_HEAD "  subsets:\n  - name: v1\n", 7, "spec.host is required");
}

static void test_dr_traffic_policy_empty(void **state)
{
	(void)state;
	expect_err(DR_HEAD "  host: svc\n  trafficPolicy: {}\n", 8,
		   "spec.trafficPolicy must set at least one field");
	expect_err(DR_HEAD "  host: svc\n  trafficPolicy:\n    tunnel:\n      targetHost: x\n"
			   "      targetPort: 443\n    proxyProtocol:\n      version: V1\n",
		   9, "spec.trafficPolicy: set only one of tunnel or proxyProtocol");
}

static void test_dr_load_balancer(void **state)
{
	(void)state;
	expect_err(DR_HEAD "  host: svc\n  trafficPolicy:\n    loadBalancer:\n"
			   "      consistentHash:\n        httpCookie:\n          ttl: 0s\n",
		   12,
		   "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name is required");
	expect_err(DR_HEAD "  host: svc\n  trafficPolicy:\n    loadBalancer:\n"
			   "      consistentHash:\n        useSourceIp: true\n        maglev:\n"
			   "          tableSize: 100\n",
		   13,
		   "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize 100 must be "
		   "a prime number below 5000011");
	expect_err(DR_HEAD
		   "  host: svc\n  trafficPolicy:\n    loadBalancer:\n      simple: FASTEST\n",
		   10, "spec.trafficPolicy.loadBalancer.simple: unsupported value \"FASTEST\"");
	expect_ok_free(DR_HEAD "  host: svc\n  trafficPolicy:\n    loadBalancer:\n"
			       "      consistentHash:\n        httpCookie:\n          name: user\n"
			       "          ttl: 0s\n        maglev:\n          tableSize: 65537\n");
}

static void test_dr_pool_and_outlier(void **state)
{
	(void)state;
	expect_err(DR_HEAD "  host: svc\n  trafficPolicy:\n    connectionPool:\n      tcp:\n"
			   "        maxConnections: -1\n",
		   11, "spec.trafficPolicy.connectionPool.tcp.maxConnections -1 must be >= 0");
	expect_err(DR_HEAD "  host: svc\n  trafficPolicy:\n    connectionPool: {}\n", 9,
		   "spec.trafficPolicy.connectionPool needs at least one of tcp or http");
	expect_err(DR_HEAD "  host: svc\n  trafficPolicy:\n    outlierDetection:\n"
			   "      maxEjectionPercent: 101\n",
		   10, "spec.trafficPolicy.outlierDetection.maxEjectionPercent 101 must be <= 100");
	expect_err(DR_HEAD "  host: svc\n  trafficPolicy:\n    outlierDetection:\n"
			   "      interval: 0.1ms\n",
		   10, "spec.trafficPolicy.outlierDetection.interval 0.1ms must be at least 1ms");
	expect_err(DR_HEAD "  host: svc\n  trafficPolicy:\n    outlierDetection:\n"
			   "      consecutiveLocalOriginFailures: 3\n",
		   10, "consecutiveLocalOriginFailures needs splitExternalLocalOriginErrors");
}

static void test_dr_tls_and_ports(void **state)
{
	(void)state;
	expect_err(DR_HEAD "  host: svc\n  trafficPolicy:\n    tls:\n      mode: MTLS\n", 10,
		   "spec.trafficPolicy.tls.mode: unsupported value \"MTLS\" (one of DISABLE, "
		   "SIMPLE, MUTUAL, ISTIO_MUTUAL)");
	expect_err(DR_HEAD "  host: svc\n  trafficPolicy:\n    portLevelSettings:\n"
			   "    - tls:\n        mode: SIMPLE\n",
		   10, "spec.trafficPolicy.portLevelSettings[0].port is required");
	expect_err(DR_HEAD "  host: svc\n  trafficPolicy:\n    portLevelSettings:\n"
			   "    - port:\n        number: 80\n",
		   10,
		   "spec.trafficPolicy.portLevelSettings[0] needs at least one of loadBalancer");
}

static void test_dr_unenforced_and_selector(void **state)
{
	struct diag d = {0};
	struct model m;
	const struct m_destinationrule *dr;

	(void)state;
	expect_ok(DR_HEAD "  host: reviews\n  workloadSelector:\n    matchLabels:\n      app: r\n"
			  "  exportTo: [\".\"]\n"
			  "  trafficPolicy:\n    tls:\n      mode: ISTIO_MUTUAL\n"
			  "  subsets:\n  - name: v1\n    labels:\n      version: v1\n"
			  "    trafficPolicy:\n      loadBalancer:\n        simple: RANDOM\n"
			  "        warmupDurationSecs: 10s\n",
		  &m, &d);
	dr = &m.destinationrules[0];
	assert_string_equal(labels_get(&dr->workload_selector, "app"), "r");
	assert_true(has_unenforced(dr->unenforced, dr->nunenforced, "trafficPolicy.tls"));
	/* the balancer is enforced (the kernel or the router); slow start is not */
	assert_false(has_unenforced(dr->unenforced, dr->nunenforced,
				    "subsets[0].trafficPolicy.loadBalancer"));
	assert_true(has_unenforced(dr->unenforced, dr->nunenforced,
				   "subsets[0].trafficPolicy.loadBalancer.warmupDurationSecs"));
	assert_true(has_unenforced(dr->unenforced, dr->nunenforced, "exportTo"));
	assert_int_equal(dr->nunenforced, 3);
	model_free(&m);
	diag_free(&d);
}

/* ---- PeerAuthentication ---- */

static void test_pa_modes(void **state)
{
	struct diag d = {0};
	struct model m;

	(void)state;
	expect_ok("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n"
		  "  name: default\n  namespace: payments\nspec:\n  mtls:\n    mode: STRICT\n"
		  "---\n" PA_HEAD "  selector:\n    matchLabels:\n      app: x\n",
		  &m, &d);
	assert_int_equal(m.npeerauthentications, 2);
	assert_int_equal(m.peerauthentications[0].mode, MTLS_STRICT);
	assert_false(m.peerauthentications[0].has_selector);
	assert_int_equal(m.peerauthentications[1].mode, MTLS_UNSET);
	assert_true(m.peerauthentications[1].has_selector);
	assert_string_equal(labels_get(&m.peerauthentications[1].selector, "app"), "x");
	model_free(&m);
	diag_free(&d);
	expect_err(PA_HEAD "  mtls:\n    mode: BLAH\n", 8,
		   "spec.mtls.mode: unsupported value \"BLAH\"");
}

static void test_pa_port_level(void **state)
{
	struct diag d = {0};
	struct model m;
	const struct m_peerauthentication *pa;

	(void)state;
	expect_err(PA_HEAD "  portLevelMtls:\n    \"80\":\n      mode: STRICT\n", 8,
		   "spec.portLevelMtls requires a non-empty spec.selector.matchLabels");
	expect_err(PA_HEAD "  selector:\n    matchLabels:\n      a: b\n  portLevelMtls: {}\n", 10,
		   "spec.portLevelMtls must not be empty");
	expect_err(PA_HEAD "  selector:\n    matchLabels:\n      a: b\n  portLevelMtls:\n"
			   "    \"0\":\n      mode: STRICT\n",
		   12, "spec.portLevelMtls[0]: port must be between 1-65535");
	expect_err(PA_HEAD "  selector:\n    matchLabels:\n      a: b\n  portLevelMtls:\n"
			   "    http:\n      mode: STRICT\n",
		   12, "spec.portLevelMtls[http]: \"http\" is not a port number");
	expect_ok(PA_HEAD
		  "  selector:\n    matchLabels:\n      a: b\n  mtls:\n    mode: PERMISSIVE\n"
		  "  portLevelMtls:\n    \"8080\":\n      mode: STRICT\n    \"9090\":\n"
		  "      mode: DISABLE\n",
		  &m, &d);
	pa = &m.peerauthentications[0];
	assert_int_equal(pa->mode, MTLS_PERMISSIVE);
	assert_int_equal(pa->nports, 2);
	assert_int_equal(pa->ports[0].port, 8080);
	assert_int_equal(pa->ports[0].mode, MTLS_STRICT);
	assert_int_equal(pa->ports[1].mode, MTLS_DISABLE);
	model_free(&m);
	diag_free(&d);
}

/* ---- AuthorizationPolicy ---- */

static const char guide_ap[] =
    "apiVersion: security.istio.io/v1\n"
    "kind: AuthorizationPolicy\n"
    "metadata:\n"
    "  name: payments-api-policy\n"
    "  namespace: payments\n"
    "spec:\n"
    "  selector:\n"
    "    matchLabels:\n"
    "      app: payments-api\n"
    "  action: ALLOW\n"
    "  rules:\n"
    "  - from:\n"
    "    - source:\n"
    "        principals: [\"cluster.local/ns/frontend/sa/frontend-sa\"]\n"
    "    to:\n"
    "    - operation:\n"
    "        methods: [\"GET\", \"POST\"]\n"
    "        paths: [\"/api/payments/*\"]\n"
    "  - from:\n"
    "    - source:\n"
    "        principals: [\"cluster.local/ns/monitoring/sa/prometheus\"]\n"
    "    to:\n"
    "    - operation:\n"
    "        methods: [\"GET\"]\n"
    "        paths: [\"/metrics\"]\n";

static void test_ap_guide(void **state)
{
	struct diag d = {0};
	struct model m;
	const struct m_authorizationpolicy *ap;

	(void)state;
	expect_ok(guide_ap, &m, &d);
	assert_int_equal(m.nauthorizationpolicies, 1);
	ap = &m.authorizationpolicies[0];
	assert_int_equal(ap->action, AUTHZ_ALLOW);
	assert_true(ap->has_selector);
	assert_string_equal(labels_get(&ap->selector, "app"), "payments-api");
	assert_true(ap->has_rules);
	assert_non_null(ap->rules);
	assert_int_equal(ap->rules->n, 2);
	assert_null(ap->provider);
	model_free(&m);
	diag_free(&d);
}

static void test_ap_selector_and_target_ref(void **state)
{
	(void)state;
	expect_err(AP_HEAD "  selector:\n    matchLabels:\n      a: b\n  targetRef:\n"
			   "    kind: Gateway\n    name: gw\n",
		   7, "spec: use only one of selector, targetRef or targetRefs");
	expect_err(AP_HEAD "  targetRefs:\n  - kind: Service\n    name: s\n", 8,
		   "spec.targetRefs: policies attached to a Gateway, Service or waypoint are not "
		   "supported");
}

static void test_ap_action_provider(void **state)
{
	struct diag d = {0};
	struct model m;

	(void)state;
	expect_err(AP_HEAD "  action: REJECT\n", 7,
		   "spec.action: unsupported value \"REJECT\" (one of ALLOW, DENY, AUDIT, CUSTOM)");
	expect_err(AP_HEAD "  action: DENY\n  provider:\n    name: ext\n  rules: [{}]\n", 9,
		   "spec.provider is only allowed with action CUSTOM (action is DENY)");
	expect_err(AP_HEAD "  action: CUSTOM\n  rules: [{}]\n", 7,
		   "spec.provider.name is required with action CUSTOM");
	expect_err(AP_HEAD "  action: CUSTOM\n  provider: {}\n  rules: [{}]\n", 8,
		   "spec.provider.name is required");
	expect_ok(AP_HEAD "  action: CUSTOM\n  provider:\n    name: ext\n  rules: [{}]\n", &m, &d);
	assert_int_equal(m.authorizationpolicies[0].action, AUTHZ_CUSTOM);
	assert_string_equal(m.authorizationpolicies[0].provider, "ext");
	model_free(&m);
	diag_free(&d);
}

static void test_ap_deny_needs_rules(void **state)
{
	struct diag d = {0};
	struct model m;

	(void)state;
	expect_err(AP_HEAD "  action: DENY\n", 7,
		   "spec.rules: action DENY without rules never "
		   "triggers");
	expect_err(AP_HEAD "  action: CUSTOM\n  provider:\n    name: ext\n", 7,
		   "spec.rules: action CUSTOM without rules");
	/* ALLOW without rules is valid: it matches nothing, so it denies the selected workloads. */
	expect_ok(AP_HEAD "  selector:\n    matchLabels:\n      a: b\n", &m, &d);
	assert_false(m.authorizationpolicies[0].has_rules);
	assert_null(m.authorizationpolicies[0].rules);
	model_free(&m);
	diag_free(&d);
	expect_ok(AP_HEAD "  action: DENY\n  rules:\n  - {}\n", &m, &d);
	assert_true(m.authorizationpolicies[0].has_rules);
	assert_int_equal(m.authorizationpolicies[0].rules->n, 1);
	model_free(&m);
	diag_free(&d);
}

static void test_ap_empty_clauses(void **state)
{
	(void)state;
	expect_err(AP_HEAD "  rules:\n  - from: []\n", 8, "spec.rules[0].from must not be empty");
	expect_err(AP_HEAD "  rules:\n  - to:\n    - operation: {}\n", 9,
		   "spec.rules[0].to[0].operation must not be empty");
	expect_err(AP_HEAD "  rules:\n  - from:\n    - {}\n", 9,
		   "spec.rules[0].from[0].source is required");
	expect_err(AP_HEAD
		   "  rules:\n  - from:\n    - source:\n        principals: [\"a\", \"\"]\n",
		   10, "spec.rules[0].from[0].source.principals[1]: empty value not allowed");
}

static void test_ap_ip_and_ports(void **state)
{
	(void)state;
	expect_err(
	    AP_HEAD "  rules:\n  - from:\n    - source:\n        ipBlocks: [\"1.2.3.4/33\"]\n", 10,
	    "spec.rules[0].from[0].source.ipBlocks[0]: \"1.2.3.4/33\" is not an IP address "
	    "or CIDR");
	expect_err(AP_HEAD
		   "  rules:\n  - from:\n    - source:\n        notRemoteIpBlocks: [\"x\"]\n",
		   10, "notRemoteIpBlocks[0]: \"x\" is not an IP address");
	expect_err(AP_HEAD "  rules:\n  - to:\n    - operation:\n        ports: [\"http\"]\n", 10,
		   "spec.rules[0].to[0].operation.ports[0]: \"http\" is not a port number");
	expect_err(AP_HEAD "  rules:\n  - to:\n    - operation:\n        notPorts: [\"70000\"]\n",
		   10, "notPorts[0]: \"70000\" is not a port between 1 and 65535");
	expect_ok_free(AP_HEAD "  rules:\n  - from:\n    - source:\n"
			       "        ipBlocks: [\"10.0.0.0/8\", \"2001:db8::/32\", \"::1\"]\n"
			       "    to:\n    - operation:\n        ports: [\"8080\"]\n");
}

static void test_ap_paths(void **state)
{
	(void)state;
	expect_err(AP_HEAD
		   "  rules:\n  - to:\n    - operation:\n        paths: [\"/api/{v1}/x\"]\n",
		   10, "spec.rules[0].to[0].operation.paths[0]: \"/api/{v1}/x\" has '{' or '}'");
	expect_err(AP_HEAD "  rules:\n  - to:\n    - operation:\n        paths: [\"/{**}/{*}\"]\n",
		   10, "{**} must be the last operator");
	expect_err(AP_HEAD
		   "  rules:\n  - to:\n    - operation:\n        notPaths: [\"/a/{**}x\"]\n",
		   10, "notPaths[0]");
	expect_ok_free(AP_HEAD
		       "  rules:\n  - to:\n    - operation:\n        paths: [\"/{**}/cart\", "
		       "\"/foo/{*}/bar/{**}\", \"/prefix/*\", \"*/suffix\"]\n");
}

static void test_ap_when(void **state)
{
	(void)state;
	expect_err(AP_HEAD "  rules:\n  - when:\n    - key: request.bogus\n      values: [a]\n", 9,
		   "spec.rules[0].when[0].key: unknown attribute \"request.bogus\"");
	expect_err(AP_HEAD "  rules:\n  - when:\n    - key: source.ip\n", 9,
		   "spec.rules[0].when[0] needs at least one of values or notValues");
	expect_err(AP_HEAD "  rules:\n  - when:\n    - key: destination.port\n"
			   "      values: [\"x\"]\n",
		   10, "spec.rules[0].when[0].values[0]: \"x\" is not a port number");
	expect_err(AP_HEAD "  rules:\n  - when:\n    - key: request.headers[]\n"
			   "      values: [\"x\"]\n",
		   9, "should have the form name[key]");
	expect_ok_free(AP_HEAD "  rules:\n  - when:\n    - key: request.auth.claims[groups]\n"
			       "      values: [admin]\n    - key: source.ip\n"
			       "      notValues: [\"10.0.0.0/8\"]\n");
}

static void test_ap_custom_identity(void **state)
{
	(void)state;
	expect_err(AP_HEAD "  action: CUSTOM\n  provider:\n    name: ext\n  rules:\n  - from:\n"
			   "    - source:\n        principals: [a]\n",
		   13,
		   "spec.rules[0].from[0].source.principals is not supported with action CUSTOM");
	expect_err(AP_HEAD "  action: CUSTOM\n  provider:\n    name: ext\n  rules:\n  - when:\n"
			   "    - key: source.namespace\n      values: [a]\n",
		   12,
		   "spec.rules[0].when[0].key: \"source.namespace\" is not supported with action "
		   "CUSTOM");
}

static void test_ap_service_accounts(void **state)
{
	(void)state;
	expect_err(AP_HEAD
		   "  rules:\n  - from:\n    - source:\n        serviceAccounts: [\"a/b\"]\n"
		   "        namespaces: [\"a\"]\n",
		   10, "Cannot set serviceAccounts with namespaces or principals");
	expect_err(AP_HEAD
		   "  rules:\n  - from:\n    - source:\n        serviceAccounts: [\"a/*\"]\n",
		   10, "serviceAccounts[0]: \"a/*\" must not contain a wildcard");
}

static void test_ap_dry_run(void **state)
{
	struct diag d = {0};
	struct model m;

	(void)state;
	expect_ok(
	    "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n"
	    "  name: shadow\n  namespace: ns\n  annotations:\n    istio.io/dry-run: \"true\"\n"
	    "spec:\n  action: DENY\n  rules: [{}]\n",
	    &m, &d);
	assert_int_equal(m.nauthorizationpolicies, 0);
	assert_true(entry_has(&d, DIAG_WARN, "t.yaml:", "istio.io/dry-run"));
	model_free(&m);
	diag_free(&d);
}

/* ---- real Istio files, loaded in place ---- */

static int load_file(const char *path, struct model *m, struct diag *d)
{
	const char *paths[1] = {path};

	return model_load_files(paths, 1, m, d);
}

/* Every file matching `pattern` (relative to the conformance dir) loads cleanly. */
static size_t load_all_ok(const char *pattern, const char *skip)
{
	char pat[1024];
	glob_t g;
	size_t n = 0;

	snprintf(pat, sizeof(pat), "%s/%s", conformance_dir(), pattern);
	if (glob(pat, 0, NULL, &g) != 0)
		fail_msg("no files match %s (not run from the repository root?)", pat);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct diag d = {0};
		struct model m;
		int rc;

		if (skip && strstr(g.gl_pathv[i], skip))
			continue;
		rc = load_file(g.gl_pathv[i], &m, &d);
		if (rc != 0) {
			fprintf(stderr, "%s rejected:\n", g.gl_pathv[i]);
			diag_print(&d);
		}
		assert_int_equal(rc, 0);
		model_free(&m);
		diag_free(&d);
		n++;
	}
	globfree(&g);
	return n;
}

static void test_conformance_bookinfo_networking(void **state)
{
	(void)state;
	assert_true(load_all_ok("samples/bookinfo/networking/*.yaml", NULL) >= 21);
}

static void test_conformance_authz_builder(void **state)
{
	(void)state;
	assert_true(load_all_ok("pilot/pkg/security/authz/builder/testdata/http/*-in.yaml", NULL) >=
		    20);
	assert_true(load_all_ok("pilot/pkg/security/authz/builder/testdata/tcp/*-in.yaml", NULL) >=
		    7);
}

static void load_conformance(const char *rel, struct model *m, struct diag *d, int want_rc)
{
	char path[1024];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", conformance_dir(), rel);
	rc = load_file(path, m, d);
	if (rc != want_rc)
		diag_print(d);
	assert_int_equal(rc, want_rc);
}

/* Istio accepts each policy alone; two CUSTOM providers on one workload deny at run time. */
static void test_conformance_custom_bad_providers(void **state)
{
	struct diag d = {0};
	struct model m;

	(void)state;
	load_conformance("pilot/pkg/security/authz/builder/testdata/http/"
			 "custom-bad-multiple-providers-in.yaml",
			 &m, &d, 0);
	assert_int_equal(m.nauthorizationpolicies, 2);
	assert_true(entry_has(&d, DIAG_WARN, "custom-bad-multiple-providers-in.yaml:20:",
			      "CUSTOM provider \"another\" differs from provider \"default\""));
	model_free(&m);
	diag_free(&d);
	load_conformance("pilot/pkg/security/authz/builder/testdata/http/dry-run-mix-in.yaml", &m,
			 &d, 0);
	assert_int_equal(m.nauthorizationpolicies, 1);
	assert_string_equal(m.authorizationpolicies[0].meta.name, "httpbin-2");
	model_free(&m);
	diag_free(&d);
}

/*
 * Istio applies each document of the validation corpus on its own (several share one name), so
 * load them one by one: parse the file in place, then build a model per document. Returns the
 * number of documents; errors[i] is the error count of document i, d holds every message.
 */
static size_t load_each_doc(const char *rel, size_t *errors, size_t max, struct diag *d)
{
	struct ydoc_set set = {0};
	char path[1024];
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", conformance_dir(), rel);
	if (yaml_parse_file(&set, path, d) < 0)
		fail_msg("cannot read %s (not run from the repository root?)", path);
	for (n = 0; n < set.n && n < max; n++) {
		struct model m = {0};
		size_t before = d->errors;

		m.root_namespace = strdup("istio-system");
		model_add_doc(&m, set.docs[n], d);
		model_validate(&m, d);
		errors[n] = d->errors - before;
		model_free(&m);
	}
	ydoc_set_free(&set);
	return n;
}

static void test_conformance_crds_valid(void **state)
{
	static const char *const files[] = {"authz-valid.yaml", "peerauth-valid.yaml",
					    "destinationrule-valid.yaml"};
	char rel[256];
	size_t errors[16], n;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct diag d = {0};

		snprintf(rel, sizeof(rel), "pkg/config/validation/testdata/crds/%s", files[i]);
		n = load_each_doc(rel, errors, 16, &d);
		assert_true(n >= 2);
		if (d.errors)
			diag_print(&d);
		assert_int_equal(d.errors, 0);
		diag_free(&d);
	}
}

/* Each document of the *-invalid files is rejected, for the reason its _err key gives. */
static void test_conformance_crds_invalid(void **state)
{
	static const struct {
		const char *file;
		size_t ndocs;
		const char *needles[6];
	} cases[] = {
	    {"authz-invalid.yaml",
	     2,
	     {"service-account-and-namespace: spec.rules[0].from[0].source: Cannot set",
	      "service-account-and-namespace-principal: spec.rules[0].from[0].source: "
	      "Cannot set"}},
	    {"peerauth-invalid.yaml",
	     6,
	     {"bad-mode: spec.mtls.mode: unsupported value \"BLAH\"",
	      "bad-port: spec.portLevelMtls[acd]: \"acd\" is not a port number",
	      "port-level-global: spec.portLevelMtls requires",
	      "empty-port-level: spec.portLevelMtls must not be empty",
	      "zero-port: spec.portLevelMtls[0]: port must be between 1-65535",
	      "high-port: spec.portLevelMtls[42949672]: port must be between 1-65535"}},
	    {"destinationrule-invalid.yaml",
	     3,
	     {"spec.trafficPolicy.loadBalancer.warmup.minimumPercent 150 must be between",
	      "spec.trafficPolicy.loadBalancer.warmup.duration is required",
	      "spec.trafficPolicy.loadBalancer.warmup.aggression -0.1 must be > 0"}},
	};
	char rel[256];
	size_t errors[16], n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct diag d = {0};

		snprintf(rel, sizeof(rel), "pkg/config/validation/testdata/crds/%s", cases[i].file);
		n = load_each_doc(rel, errors, 16, &d);
		assert_int_equal(n, cases[i].ndocs);
		for (size_t j = 0; j < n; j++) {
			if (errors[j] != 1 ||
			    !entry_has(&d, DIAG_ERROR, cases[i].file, cases[i].needles[j])) {
				diag_print(&d);
				fail_msg("%s document %zu: want one error containing \"%s\"",
					 cases[i].file, j, cases[i].needles[j]);
			}
		}
		diag_free(&d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_guide_payments),
	    cmocka_unit_test(test_guide_patch_50_50),
	    cmocka_unit_test(test_vs_hosts_required),
	    cmocka_unit_test(test_vs_star_host),
	    cmocka_unit_test(test_vs_overlapping_hosts),
	    cmocka_unit_test(test_vs_gateway_names),
	    cmocka_unit_test(test_vs_needs_routes),
	    cmocka_unit_test(test_vs_http_needs_action),
	    cmocka_unit_test(test_vs_redirect_combinations),
	    cmocka_unit_test(test_vs_redirect_ok_enforced),
	    cmocka_unit_test(test_vs_mirror_and_mirrors),
	    cmocka_unit_test(test_vs_weight_negative),
	    cmocka_unit_test(test_vs_weight_quoted),
	    cmocka_unit_test(test_vs_weights_total_zero),
	    cmocka_unit_test(test_vs_weights_free_sum),
	    cmocka_unit_test(test_vs_destination_rules),
	    cmocka_unit_test(test_vs_destination_port),
	    cmocka_unit_test(test_vs_retries_attempts),
	    cmocka_unit_test(test_vs_retry_on),
	    cmocka_unit_test(test_vs_timeouts),
	    cmocka_unit_test(test_vs_fault_abort),
	    cmocka_unit_test(test_vs_fault_delay),
	    cmocka_unit_test(test_vs_match_string_match),
	    cmocka_unit_test(test_vs_match_fields),
	    cmocka_unit_test(test_vs_match_enforced_cors_not),
	    cmocka_unit_test(test_vs_unknown_field_warns),
	    cmocka_unit_test(test_vs_tcp),
	    cmocka_unit_test(test_vs_tls),
	    cmocka_unit_test(test_dr_subsets),
	    cmocka_unit_test(test_dr_traffic_policy_empty),
	    cmocka_unit_test(test_dr_load_balancer),
	    cmocka_unit_test(test_dr_pool_and_outlier),
	    cmocka_unit_test(test_dr_tls_and_ports),
	    cmocka_unit_test(test_dr_unenforced_and_selector),
	    cmocka_unit_test(test_pa_modes),
	    cmocka_unit_test(test_pa_port_level),
	    cmocka_unit_test(test_ap_guide),
	    cmocka_unit_test(test_ap_selector_and_target_ref),
	    cmocka_unit_test(test_ap_action_provider),
	    cmocka_unit_test(test_ap_deny_needs_rules),
	    cmocka_unit_test(test_ap_empty_clauses),
	    cmocka_unit_test(test_ap_ip_and_ports),
	    cmocka_unit_test(test_ap_paths),
	    cmocka_unit_test(test_ap_when),
	    cmocka_unit_test(test_ap_custom_identity),
	    cmocka_unit_test(test_ap_service_accounts),
	    cmocka_unit_test(test_ap_dry_run),
	    cmocka_unit_test(test_conformance_bookinfo_networking),
	    cmocka_unit_test(test_conformance_authz_builder),
	    cmocka_unit_test(test_conformance_custom_bad_providers),
	    cmocka_unit_test(test_conformance_crds_valid),
	    cmocka_unit_test(test_conformance_crds_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
