// SPDX-License-Identifier: Apache-2.0
/*
 * skiffctl analyze. Istio's own analyzer inputs (tests/conformance/istio/.../analyzers/testdata,
 * unchanged) each run through the one analyzer the case is about, and must give exactly the
 * messages Istio's analyzers_test.go expects (code and resource, any order). Then the Istio
 * guide's two common mistakes as fixtures, through the command itself: code, resource, file:line
 * and the fix; -o json's shape; thresholds and exit codes (79 when an Error is found).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "analyze/analyze.h"

#define TESTDATA "pkg/config/analysis/analyzers/testdata/"
#define FIX	 "tests/unit/fixtures/analyze/"

static const char *conformance_dir(void)
{
	const char *e = getenv("SKIFF_CONFORMANCE_DIR");

	return e && e[0] ? e : "tests/conformance/istio";
}

struct istio_case {
	const char *file, *analyzer;
	const char *file2;    /* a second input read with the first, or NULL */
	const char *want[20]; /* "CODE Kind ns/name" as Istio's table writes them, NULL-ended */
};

/*
 * From analyzers_test.go (SOURCE.md §1.2). injection.yaml also expects IST0103 PodMissingProxy
 * for default/noninjectedpod: that is about sidecars, which skiff never injects, so skiff has no
 * IST0103 and the case compares IST codes only (skiff's SKF0006 for sidecar-labelled namespaces
 * is its own). Every other case compares every message.
 */
static const struct istio_case cases[] = {
    {"authorizationpolicies.yaml",
     "authz.AuthorizationPoliciesAnalyzer",
     NULL,
     {"IST0127 AuthorizationPolicy istio-system/meshwide-httpbin-v1",
      "IST0127 AuthorizationPolicy httpbin-empty/httpbin-empty-namespace-wide",
      "IST0127 AuthorizationPolicy httpbin/httpbin-nopods",
      "IST0101 AuthorizationPolicy httpbin/httpbin-bogus-ns",
      "IST0101 AuthorizationPolicy httpbin/httpbin-bogus-ns",
      "IST0101 AuthorizationPolicy httpbin/httpbin-bogus-not-ns",
      "IST0101 AuthorizationPolicy httpbin/httpbin-bogus-not-ns",
      "IST0127 AuthorizationPolicy test-ambient/no-workload"}},
    {"injection.yaml",
     "injection.Analyzer",
     NULL,
     {"IST0102 Namespace bar", "IST0123 Namespace busted", "IST0123 Namespace multi-ns-1",
      "IST0123 Namespace multi-ns-2", "IST0123 Namespace multi-ns-3"}},
    {"service-no-port-name.yaml",
     "service.PortNameAnalyzer",
     NULL,
     {"IST0118 Service my-namespace1/my-service1", "IST0118 Service my-namespace1/my-service1",
      "IST0118 Service my-namespace2/my-service2"}},
    {"service-port-name.yaml", "service.PortNameAnalyzer", NULL, {NULL}},
    {"service-no-port-name-system-namespace.yaml", "service.PortNameAnalyzer", NULL, {NULL}},
    {"deployment-multi-service.yaml",
     "deployment.ServiceAssociationAnalyzer",
     NULL,
     {"IST0116 Deployment bookinfo/multiple-svc-multiple-prot",
      "IST0116 Deployment bookinfo/multiple-without-port",
      "IST0137 Deployment bookinfo/conflicting-ports"}},
    {"deployment-multi-service-different-ns.yaml",
     "deployment.ServiceAssociationAnalyzer",
     NULL,
     {NULL}},
    {"deployment-service-no-selector.yaml", "deployment.ServiceAssociationAnalyzer", NULL, {NULL}},
    {"virtualservice_conflictingmeshgatewayhosts.yaml",
     "virtualservice.ConflictingMeshGatewayHostsAnalyzer",
     NULL,
     {"IST0109 VirtualService team3/ratings", "IST0109 VirtualService team4/ratings",
      "IST0109 VirtualService foo/ratings", "IST0109 VirtualService bar/ratings",
      "IST0109 VirtualService foo/productpage", "IST0109 VirtualService foo/bogus-productpage",
      "IST0109 VirtualService team2/ratings"}},
    {"virtualservice_conflictingmeshgatewayhosts_with_exportto.yaml",
     "virtualservice.ConflictingMeshGatewayHostsAnalyzer",
     NULL,
     {"IST0109 VirtualService foo/productpage", "IST0109 VirtualService bar/productpage",
      "IST0109 VirtualService foo/productpage-c", "IST0109 VirtualService bar/productpage-c",
      "IST0109 VirtualService foo/productpage-d", "IST0109 VirtualService bar/productpage-d"}},
    {"virtualservice_destinationhosts.yaml",
     "virtualservice.DestinationHostAnalyzer",
     NULL,
     {"IST0101 VirtualService default/reviews-bogushost",
      "IST0101 VirtualService default/reviews-bogushost",
      "IST0101 VirtualService default/reviews-bookinfo-other",
      "IST0101 VirtualService default/reviews-mirror-bogushost",
      "IST0101 VirtualService default/reviews-bogusport",
      "IST0112 VirtualService default/reviews-2port-missing",
      "IST0101 VirtualService istio-system/cross-namespace-details",
      "IST0101 VirtualService hello/hello-export-to-bogus"}},
    {"virtualservice_destinationrules.yaml",
     "virtualservice.DestinationRuleAnalyzer",
     NULL,
     {"IST0101 VirtualService default/reviews-bogussubset",
      "IST0101 VirtualService default/reviews-mirror-bogussubset"}},
    {"destinationrule-with-fake-host.yaml",
     "destinationrule.PodNotSelectedAnalyzer",
     NULL,
     {"IST0174 DestinationRule default/fake-host"}},
    {"destinationrule-subsets-not-select-pods.yaml",
     "destinationrule.PodNotSelectedAnalyzer",
     NULL,
     {"IST0173 DestinationRule default/subsets-not-select-pods"}},
    {"destinationrule-subsets-with-topology-labels.yaml",
     "destinationrule.PodNotSelectedAnalyzer",
     NULL,
     {NULL}},
    {"destinationrule-empty-topology-labels.yaml",
     "destinationrule.PodNotSelectedAnalyzer",
     NULL,
     {"IST0173 DestinationRule default/empty-topology-labels"}},
    /* Istio runs its VirtualService schema validation on both files together */
    {"virtualservice_dupmatches.yaml",
     "schema.VirtualServiceRulesAnalyzer",
     "virtualservice_overlappingmatches.yaml",
     {"IST0130 VirtualService default/duplicate-match",
      "IST0130 VirtualService foo/sample-foo-cluster01",
      "IST0131 VirtualService default/almost-duplicate-match",
      "IST0131 VirtualService default/duplicate-match",
      "IST0130 VirtualService default/duplicate-tcp-match",
      "IST0130 VirtualService default/duplicate-empty-tcp",
      "IST0131 VirtualService default/almost-duplicate-tcp-match",
      "IST0131 VirtualService default/duplicate-tcp-match",
      "IST0130 VirtualService none/tls-routing",
      "IST0131 VirtualService none/tls-routing-almostmatch",
      "IST0131 VirtualService none/tls-routing", "IST0131 VirtualService default/non-method-get",
      "IST0131 VirtualService default/overlapping-in-single-match",
      "IST0131 VirtualService default/overlapping-in-two-matches",
      "IST0131 VirtualService default/overlapping-mathes-with-different-methods"}},
};

static void msg_key(const struct an_msg *m, char *buf, size_t len)
{
	if (m->ns[0])
		snprintf(buf, len, "%s %s %s/%s", analyze_code(m->code)->id, m->kind, m->ns,
			 m->name);
	else
		snprintf(buf, len, "%s %s %s", analyze_code(m->code)->id, m->kind, m->name);
}

static void run_case(const struct istio_case *c)
{
	char path[1024], path2[1024], key[600];
	const char *paths[2] = {path, path2};
	struct an_result load = {0}, got = {0};
	struct diag d = {0};
	struct model m;
	bool used[20] = {false};
	size_t nwant = 0, ngot = 0;
	const struct analyzer *a = analyze_find(c->analyzer);

	snprintf(path, sizeof(path), "%s/" TESTDATA "%s", conformance_dir(), c->file);
	assert_non_null(a);
	snprintf(path2, sizeof(path2), "%s/" TESTDATA "%s", conformance_dir(),
		 c->file2 ? c->file2 : "");
	assert_int_equal(analyze_load(paths, c->file2 ? 2 : 1, NULL, &m, &load, &d), 0);
	analyze_run(&m, a, &got);
	while (nwant < 20 && c->want[nwant])
		nwant++;
	for (size_t i = 0; i < got.n; i++) {
		bool found = false;

		if (strncmp(analyze_code(got.v[i].code)->id, "IST", 3))
			continue;
		ngot++;
		msg_key(&got.v[i], key, sizeof(key));
		for (size_t j = 0; j < nwant && !found; j++)
			if (!used[j] && !strcmp(c->want[j], key))
				found = used[j] = true;
		if (!found)
			print_error("%s: unexpected %s\n", c->file, key);
		assert_true(found);
		/* every message names its file and line */
		assert_non_null(got.v[i].file);
		assert_true(got.v[i].line > 0);
	}
	for (size_t j = 0; j < nwant; j++)
		if (!used[j])
			print_error("%s: missing %s\n", c->file, c->want[j]);
	assert_int_equal(ngot, nwant);
	analyze_result_free(&load);
	analyze_result_free(&got);
	diag_free(&d);
	model_free(&m);
}

static void test_istio_analyzer_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

/* Runs analyze_cli with `args` (NULL-ended); returns the exit code and the output in *out. */
static int cli(char **out, ...)
{
	char *argv[16];
	int argc = 0, rc;
	size_t len;
	FILE *f = open_memstream(out, &len), *err = fopen("/dev/null", "w");
	va_list ap;

	va_start(ap, out);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	rc = analyze_cli(argc, argv, f, err);
	fclose(f);
	fclose(err);
	return rc;
}

static void test_guide_namespace_not_labelled(void **state)
{
	char *out = NULL;

	(void)state;
	/* Info only: shown by default, and no failure (istioctl's failure threshold is Error) */
	assert_int_equal(cli(&out, "-n", "payments", "-f", FIX "ns-unlabelled", NULL), 0);
	assert_non_null(strstr(out, "Info [IST0102] (Namespace payments " FIX
				    "ns-unlabelled/payments.yaml:4) The namespace is not in "
				    "the mesh"));
	assert_non_null(strstr(out, "    fix: kubectl label namespace payments "
				    "istio.io/dataplane-mode=ambient\n"));
	free(out);
	assert_int_equal(cli(&out, "--output-threshold", "Warning", FIX "ns-unlabelled", NULL), 0);
	assert_null(strstr(out, "IST0102"));
	assert_non_null(strstr(out, "No validation issues found"));
	free(out);
	assert_int_equal(cli(&out, "--failure-threshold", "Info", FIX "ns-unlabelled", NULL), 79);
	free(out);
}

static void test_guide_vs_host_typo(void **state)
{
	char *out = NULL;

	(void)state;
	assert_int_equal(cli(&out, FIX "vs-host-typo", NULL), 79);
	assert_non_null(strstr(out, "Error [IST0101] (VirtualService payments/payments-api " FIX
				    "vs-host-typo/payments.yaml:54) Referenced host not found: "
				    "\"payments-apii\"\n    fix: "));
	/* the compiler's own words for the same mistake are not repeated */
	assert_null(strstr(out, "SKF0008"));
	free(out);
	/* -n other: the message is about payments, so nothing is shown and nothing fails */
	assert_int_equal(cli(&out, "-n", "frontend", FIX "vs-host-typo", NULL), 0);
	assert_null(strstr(out, "IST0101"));
	free(out);
}

static void test_json_shape(void **state)
{
	char *out = NULL;
	json_object *arr, *o, *v;

	(void)state;
	assert_int_equal(cli(&out, "-o", "json", "-f", FIX "vs-host-typo", NULL), 79);
	arr = json_tokener_parse(out);
	assert_non_null(arr);
	assert_true(json_object_is_type(arr, json_type_array));
	assert_int_equal(json_object_array_length(arr), 1);
	o = json_object_array_get_idx(arr, 0);
	static const char *const fields[][2] = {
	    {"code", "IST0101"},
	    {"name", "ReferencedResourceNotFound"},
	    {"level", "Error"},
	    {"message", "Referenced host not found: \"payments-apii\""},
	    {"origin", "VirtualService payments/payments-api"},
	    {"reference", FIX "vs-host-typo/payments.yaml:54"},
	    {"documentationUrl", "https://istio.io/latest/docs/reference/config/analysis/ist0101/"},
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		assert_true(json_object_object_get_ex(o, fields[i][0], &v));
		assert_string_equal(json_object_get_string(v), fields[i][1]);
	}
	assert_true(json_object_object_get_ex(o, "fix", &v));
	json_object_put(arr);
	free(out);
	assert_int_equal(
	    cli(&out, "-o", "json", FIX "ns-unlabelled", "--output-threshold", "Error", NULL), 0);
	assert_string_equal(out, "[\n]\n");
	free(out);
}

/* skiff's own codes, and IST0167 as skiff means it (not in the mesh): exactly these, in order. */
static void test_skiff_codes(void **state)
{
	static const char *const want[][3] = {
	    {"SKF0006", "Namespace legacy", FIX "skiff-codes/config.yaml:11"},
	    {"IST0118", "Service shop/web", FIX "skiff-codes/config.yaml:26"},
	    {"SKF0001", "VirtualService shop/web", FIX "skiff-codes/config.yaml:65"},
	    {"SKF0003", "AuthorizationPolicy shop/web-get", FIX "skiff-codes/config.yaml:69"},
	    {"SKF0002", "AuthorizationPolicy shop/web-ext", FIX "skiff-codes/config.yaml:83"},
	    {"IST0167", "AuthorizationPolicy legacy/old-deny", FIX "skiff-codes/config.yaml:100"},
	};
	size_t n = sizeof(want) / sizeof(want[0]);
	char *out = NULL;
	json_object *arr, *v;

	(void)state;
	assert_int_equal(cli(&out, "-o", "json", FIX "skiff-codes", NULL), 0);
	arr = json_tokener_parse(out);
	assert_non_null(arr);
	assert_int_equal(json_object_array_length(arr), n);
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i);

		assert_true(json_object_object_get_ex(o, "code", &v));
		assert_string_equal(json_object_get_string(v), want[i][0]);
		assert_true(json_object_object_get_ex(o, "origin", &v));
		assert_string_equal(json_object_get_string(v), want[i][1]);
		assert_true(json_object_object_get_ex(o, "reference", &v));
		assert_string_equal(json_object_get_string(v), want[i][2]);
		assert_true(json_object_object_get_ex(o, "fix", &v));
	}
	json_object_put(arr);
	free(out);
}

static void test_schema_error_and_usage(void **state)
{
	char *out = NULL;

	(void)state;
	/* skiff's validator refuses these Services (no port names, protocol HTTP): IST0106 each,
	 * and the rest of the file is still analyzed */
	assert_int_equal(cli(&out, "-f",
			     "tests/conformance/istio/" TESTDATA "deployment-multi-service.yaml",
			     NULL),
			 79);
	assert_non_null(strstr(out, "Error [IST0106] (Service bookinfo/details-http-v1 "));
	assert_non_null(strstr(out, "Schema validation error: spec.ports[0].protocol HTTP must be "
				    "TCP, UDP or SCTP"));
	assert_non_null(strstr(out, "Warning [IST0116] (Deployment bookinfo/"
				    "multiple-svc-multiple-prot "));
	free(out);
	assert_int_equal(cli(&out, NULL), 2);
	free(out);
	assert_int_equal(cli(&out, "-o", "xml", FIX "vs-host-typo", NULL), 2);
	free(out);
	assert_int_equal(cli(&out, "--output-threshold", "Loud", FIX "vs-host-typo", NULL), 2);
	free(out);
	assert_int_equal(cli(&out, "-f", FIX "no-such-dir", NULL), 1);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_istio_analyzer_cases),
	    cmocka_unit_test(test_guide_namespace_not_labelled),
	    cmocka_unit_test(test_guide_vs_host_typo),
	    cmocka_unit_test(test_json_shape),
	    cmocka_unit_test(test_skiff_codes),
	    cmocka_unit_test(test_schema_error_and_usage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
