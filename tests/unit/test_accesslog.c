// SPDX-License-Identifier: Apache-2.0
/*
 * Access logs without a lab: the CEL filter subset (what it accepts, how absent attributes and
 * errors combine, and the column of what it refuses), the JSON line (Envoy's fields, escaping of
 * hostile header bytes so every line parses) and the TEXT line, and which pods log which side
 * under the mesh config and Telemetry resources (Istio's precedence and mergeLogs), including a
 * bad filter refused at file:line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "accesslog/accesslog.h"
#include "unit/model_test.h"

/* ---- CEL ---- */

struct hdr {
	const char *name, *value;
};

static const char *hdr_get(const void *ctx, const char *name)
{
	for (const struct hdr *h = ctx; h->name; h++)
		if (!strcmp(h->name, name))
			return h->value;
	return NULL;
}

static const struct hdr hdrs[] = {{"x-debug", "true"}, {"user-agent", "curl/8"}, {NULL, NULL}};

static const struct al_attrs http_req = {.http = true,
					 .method = "GET",
					 .path = "/filter-test?q=1",
					 .host = "echo",
					 .scheme = "http",
					 .protocol = "HTTP/1.1",
					 .request_id = "r1",
					 .user_agent = "curl/8",
					 .response_code = 503,
					 .mtls = true,
					 .source_address = "10.0.0.1",
					 .destination_address = "10.0.0.2",
					 .source_port = 40000,
					 .destination_port = 80,
					 .header = hdr_get,
					 .ctx = hdrs};

static const struct al_attrs tcp_conn = {.response_code = -1,
					 .source_address = "10.0.0.1",
					 .destination_address = "10.0.0.2",
					 .source_port = 40000,
					 .destination_port = 9000};

static bool eval(const char *src, const struct al_attrs *a)
{
	struct al_cel *e;
	char err[256];
	bool v;

	if (al_cel_parse(src, &e, err, sizeof(err)) < 0)
		fail_msg("%s: %s", src, err);
	v = al_cel_eval(e, a);
	al_cel_free(e);
	return v;
}

static void test_cel_istio_forms(void **state)
{
	(void)state;
	assert_true(eval("request.path == '/filter-test?q=1'", &http_req));
	assert_true(eval("request.url_path == \"/filter-test\"", &http_req));
	assert_false(eval("request.path == '/filter-test'", &http_req));
	assert_true(eval("response.code >= 400", &http_req));
	assert_false(eval("response.code < 400", &http_req));
	assert_true(eval("request.headers['x-debug'] == 'true'", &http_req));
	assert_true(eval("request.headers['X-Debug'] == 'true'", &http_req));
	assert_true(eval("has(request.headers.x_missing) || connection.mTLS", &http_req));
	assert_true(eval("!has(request.headers.foo) && connection.mtls", &http_req));
	assert_true(eval("'x-debug' in request.headers", &http_req));
	assert_true(
	    eval("request.path.startsWith('/filter') && request.host.endsWith('ho')", &http_req));
	assert_true(eval("(request.method == 'POST' || request.method == 'GET') && "
			 "!(destination.port != 80)",
			 &http_req));
	assert_true(eval("request.useragent.contains('curl')", &http_req));
}

/* An absent attribute is an error: only a decisive && / || side absorbs it. */
static void test_cel_absent_attributes(void **state)
{
	(void)state;
	assert_false(eval("response.code >= 400", &tcp_conn));
	assert_false(eval("response.code < 400", &tcp_conn));
	assert_false(eval("!(response.code >= 400)", &tcp_conn));
	assert_true(eval("response.code >= 400 || destination.port == 9000", &tcp_conn));
	assert_true(eval("destination.port == 9000 || response.code >= 400", &tcp_conn));
	assert_false(eval("response.code >= 400 && true", &tcp_conn));
	assert_false(eval("false && response.code >= 400", &tcp_conn));
	assert_false(eval("request.headers['x-debug'] == 'true'", &tcp_conn));
	assert_false(eval("request.headers['nope'] == 'x'", &http_req));
	assert_false(eval("has(response.code)", &tcp_conn));
	assert_true(eval("has(response.code)", &http_req));
}

static void expect_refused(const char *src, const char *want)
{
	struct al_cel *e = NULL;
	char err[256] = "";

	if (al_cel_parse(src, &e, err, sizeof(err)) == 0)
		fail_msg("%s was accepted", src);
	assert_null(e);
	if (!strstr(err, want))
		fail_msg("%s: error '%s' lacks '%s'", src, err, want);
}

static void test_cel_bad_input(void **state)
{
	(void)state;
	expect_refused("", "column 1: expected a value");
	expect_refused("response.code == '200'", "column 15: cannot compare int with string");
	expect_refused("request.pth == '/'", "unknown attribute request.pth");
	expect_refused("request.path", "a filter must be a bool, not string");
	expect_refused("request.path == '/x", "string not closed");
	expect_refused("(response.code == 200", "expected )");
	expect_refused("response.code == 200 extra", "unexpected extra");
	expect_refused("request.headers.exists(h, h == 'x')", "column 23: unexpected (h");
	expect_refused("size(request.path) > 2", "unknown attribute size");
	expect_refused("request.path.matches('a.*')", "unsupported call");
	expect_refused("response.code == 2.5", "only integers");
	expect_refused("!response.code", "! needs a bool");
	expect_refused("response.code && true", "&& needs bools");
	expect_refused("true < false", "does not order bools");
	expect_refused("request.headers == 'x'", "request.headers is a map");
	expect_refused("1 in request.path", "`in` only as");
}

/* Every prefix of valid expressions, and each with one byte changed: refused with a message or
 * accepted and evaluable, never a crash (valgrind / ASan see the rest). */
static void test_cel_prefixes(void **state)
{
	static const char *const exprs[] = {
	    "(request.headers['x-a'] == \"b\\\"c\" || !has(request.headers.y)) && "
	    "response.code >= -1",
	    "'k' in request.headers && request.url_path.startsWith('/a') != false",
	    "source.port < destination.port || connection.mTLS == true",
	};
	char buf[256], err[256];
	struct al_cel *e;

	(void)state;
	for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
		size_t n = strlen(exprs[i]);

		for (size_t k = 0; k <= n; k++)
			for (int flip = 0; flip < 2; flip++) {
				snprintf(buf, sizeof(buf), "%.*s", (int)k, exprs[i]);
				if (flip && k > 0) /* a byte of the prefix, never its NUL */
					buf[k / 2] = (char)(buf[k / 2] ^ 0x21);
				err[0] = '\0';
				if (al_cel_parse(buf, &e, err, sizeof(err)) == 0) {
					al_cel_eval(e, &http_req);
					al_cel_eval(e, &tcp_conn);
					al_cel_free(e);
				} else {
					assert_non_null(strstr(err, "column "));
				}
			}
		/* the whole expression with each byte changed three ways */
		for (size_t j = 0; j < n; j++)
			for (int x = 0; x < 3; x++) {
				snprintf(buf, sizeof(buf), "%s", exprs[i]);
				buf[j] = (char)(buf[j] ^ "\x01\x21\x40"[x]);
				err[0] = '\0';
				if (al_cel_parse(buf, &e, err, sizeof(err)) == 0) {
					al_cel_eval(e, &http_req);
					al_cel_eval(e, &tcp_conn);
					al_cel_free(e);
				} else {
					assert_non_null(strstr(err, "column "));
				}
			}
		assert_int_equal(al_cel_parse(exprs[i], &e, err, sizeof(err)), 0);
		al_cel_free(e);
	}
}

/* ---- lines ---- */

static const struct al_entry entry = {.start_ms = 1796566218182LL, /* 2026-12-06T14:10:18.182Z */
				      .side = AL_CLIENT,
				      .method = "GET",
				      .path = "/a\"b\\c\n\x01\xff\xc3\xa9",
				      .protocol = "HTTP/1.1",
				      .authority = "echo",
				      .user_agent = "curl/8",
				      .request_id = "r1",
				      .response_code = 200,
				      .response_flags = "UF,URX",
				      .bytes_received = 10,
				      .bytes_sent = 20,
				      .duration_ms = 3,
				      .upstream_host = "10.0.0.2:8080",
				      .upstream_cluster =
					  "outbound|80|v1|echo.default.svc.cluster.local",
				      .downstream_remote_address = "10.0.0.1:40000",
				      .source_principal = "spiffe://td/ns/a/sa/b"};

static void test_line_json(void **state)
{
	struct strbuf b = {0};

	(void)state;
	al_line_json(&b, &entry);
	assert_non_null(
	    strstr(b.s, "{\"start_time\":\"2026-12-06T14:10:18.182Z\",\"method\":\"GET\""));
	/* quote, backslash, newline and control escaped; a stray byte becomes U+FFFD; é kept */
	assert_non_null(strstr(b.s, "\"path\":\"/a\\\"b\\\\c\\u000a\\u0001\\ufffd\xc3\xa9\""));
	assert_non_null(strstr(b.s, "\"response_code\":200,\"response_flags\":\"UF,URX\","
				    "\"bytes_received\":10,\"bytes_sent\":20,\"duration\":3,"));
	assert_non_null(
	    strstr(b.s, "\"upstream_cluster\":\"outbound|80|v1|echo.default.svc.cluster.local\""));
	assert_non_null(strstr(b.s, "\"x_forwarded_for\":null"));
	assert_non_null(strstr(b.s, "\"reporter\":\"source\"}\n"));
	assert_int_equal(strchr(b.s, '\n') - b.s, (long)b.len - 1); /* one line */
	sb_free(&b);
}

static void test_line_text(void **state)
{
	struct strbuf b = {0};

	(void)state;
	al_line_text(&b, &entry);
	assert_non_null(strstr(b.s, "[2026-12-06T14:10:18.182Z] \"GET \"/a\\\"b\\\\c\\x0a\\x01"));
	assert_non_null(strstr(b.s,
			       " HTTP/1.1\" 200 UF,URX - \"-\" 10 20 3 \"-\" \"curl/8\" \"r1\" "
			       "\"echo\" \"10.0.0.2:8080\" outbound|80|v1|"));
	assert_int_equal(strchr(b.s, '\n') - b.s, (long)b.len - 1);
	sb_free(&b);
}

/* ---- who logs ---- */

#define PODS                                                                                       \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: app, labels: {app: a}}\n"       \
	"spec: {nodeName: n1}\n---\n"                                                              \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: app, labels: {app: b}}\n"       \
	"spec: {nodeName: n1}\n---\n"                                                              \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: c, namespace: other}\nspec: {nodeName: n1}\n"
#define MESH_ON                                                                                    \
	"---\napiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata:\n"             \
	"  name: istio-control-plane\n  namespace: istio-system\nspec:\n  profile: default\n"      \
	"  meshConfig:\n    accessLogFile: /dev/stdout\n"
#define TEL(ns, extra)                                                                             \
	"---\napiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t, "            \
	"namespace: " ns "}\nspec:\n" extra

/* "CS" letters for pods a, b, c: which sides log ('-' for none), '*' marks a filter. */
static void expect_sides(const char *yaml, const char *want)
{
	static const char *const pods[][2] = {{"app", "a"}, {"app", "b"}, {"other", "c"}};
	struct diag d = {0};
	struct model m;
	char got[64] = "";
	struct al_policy *p;

	if (model_load_string("t.yaml", yaml, &m, &d) < 0) {
		diag_print(&d);
		fail_msg("model refused");
	}
	p = al_policy_build(&m, NULL);
	for (size_t i = 0; i < 3; i++) {
		const struct al_cel *f;
		char s[8] = "";

		for (int side = AL_CLIENT; side <= AL_SERVER; side++)
			if (al_policy_logs(p, pods[i][0], pods[i][1], (enum al_side)side, &f))
				strcat(s, f ? (side ? "S*" : "C*") : (side ? "S" : "C"));
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "",
			 s[0] ? s : "-");
	}
	if (strcmp(got, want))
		fail_msg("want '%s', got '%s' for:\n%s", want, got, yaml);
	al_policy_unref(p);
	model_free(&m);
	diag_free(&d);
}

static void test_policy_mesh_config(void **state)
{
	struct diag d = {0};
	struct model m;

	(void)state;
	/* nothing asks for logs: no policy at all */
	assert_int_equal(model_load_string("t.yaml", PODS, &m, &d), 0);
	assert_null(al_policy_build(&m, NULL));
	model_free(&m);
	expect_sides(PODS MESH_ON, "CS CS CS");
	expect_sides(PODS MESH_ON "    accessLogEncoding: TEXT\n", "CS CS CS");
	/* both kinds are known now: no "not used by skiffd" (skiffctl analyze's SKF0005) */
	assert_int_equal(
	    model_load_string("t.yaml", PODS MESH_ON TEL("app", "  accessLogging: []\n"), &m, &d),
	    0);
	assert_int_equal(m.ntelemetries, 1);
	assert_true(m.mesh.set);
	assert_false(diag_contains(&d, "not used by skiffd"));
	model_free(&m);
	diag_free(&d);
}

#define CM(ns, name, mesh)                                                                         \
	"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: " name ", namespace: " ns "}\n"    \
	"data:\n  mesh: |-\n" mesh

/* Istio's own place for the mesh config (what Helm's --set meshConfig... writes) */
static void test_policy_istio_configmap(void **state)
{
	struct diag d = {0};
	struct model m;

	(void)state;
	expect_sides(PODS CM("istio-system", "istio",
			     "    accessLogFile: /dev/stdout\n"
			     "    accessLogEncoding: TEXT\n"),
		     "CS CS CS");
	/* another ConfigMap, or istio in another namespace, is not the mesh config */
	assert_int_equal(
	    model_load_string("t.yaml",
			      PODS CM("app", "istio", "    accessLogFile: /dev/stdout\n")
				  CM("istio-system", "other", "    accessLogFile: /dev/stdout\n"),
			      &m, &d),
	    0);
	assert_false(m.mesh.set);
	assert_null(al_policy_build(&m, NULL));
	model_free(&m);
	/* errors in the text name the ConfigMap and the line within the text */
	assert_int_not_equal(
	    model_load_string("t.yaml",
			      CM("istio-system", "istio",
				 "    accessLogFile: /dev/stdout\n    accessLogEncoding: XML\n"),
			      &m, &d),
	    0);
	if (!diag_contains(&d, "t.yaml (ConfigMap istio-system/istio data.mesh):2: ConfigMap "
			       "istio-system/istio: accessLogEncoding")) {
		diag_print(&d);
		fail_msg("no error at the text's line 2");
	}
	diag_free(&d);
	/* two sources: refused, naming the first */
	assert_int_not_equal(
	    model_load_string(
		"t.yaml", MESH_ON CM("istio-system", "istio", "    accessLogFile: \"\"\n"), &m, &d),
	    0);
	assert_true(diag_contains(&d, "a mesh config was already read from t.yaml:9"));
	diag_free(&d);
}

static void test_policy_telemetry(void **state)
{
	(void)state;
	/* Istio's examples, in namespace app */
	expect_sides(PODS TEL("app", "  accessLogging:\n  - providers: [{name: envoy}]\n"
				     "    match: {mode: CLIENT}\n"),
		     "C C -");
	expect_sides(PODS MESH_ON TEL("app", "  accessLogging:\n  - providers: [{name: envoy}]\n"
					     "    match: {mode: SERVER}\n"),
		     "S S CS");
	expect_sides(PODS TEL("app",
			      "  accessLogging:\n  - providers: [{name: envoy}]\n"
			      "    filter: {expression: \"request.path == '/filter-test'\"}\n"),
		     "C*S* C*S* -");
	expect_sides(PODS MESH_ON TEL("app", "  accessLogging:\n  - providers: [{name: envoy}]\n"
					     "    disabled: true\n"),
		     "- - CS");
	/* mesh-wide (root namespace), then a workload's own turns it off for pod a only */
	expect_sides(PODS TEL("istio-system", "  accessLogging:\n  - providers: [{name: envoy}]\n")
			 TEL("app", "  selector: {matchLabels: {app: a}}\n  accessLogging:\n"
				    "  - disabled: true\n"),
		     "- CS CS");
	/* an entry without providers inherits the one before; the workload's mode narrows it */
	expect_sides(PODS TEL("app", "  accessLogging:\n  - providers: [{name: envoy}]\n")
			 TEL("app", "  selector: {matchLabels: {app: b}}\n  accessLogging:\n"
				    "  - match: {mode: SERVER}\n    disabled: true\n"),
		     "CS C -");
	/* a provider skiffd cannot write (not envoy, not a file provider) logs nothing */
	expect_sides(PODS TEL("app", "  accessLogging:\n  - providers: [{name: otel}]\n"), "- - -");
	/* targetRef: a Gateway's, applies to no pod */
	expect_sides(PODS MESH_ON TEL("app",
				      "  targetRef: {kind: Gateway, group: "
				      "gateway.networking.k8s.io, name: gw}\n  accessLogging:\n"
				      "  - providers: [{name: envoy}]\n    disabled: true\n"),
		     "CS CS CS");
}

static void test_telemetry_bad_input(void **state)
{
	static const struct {
		const char *yaml, *want;
	} cases[] = {
	    {TEL("app", "  accessLogging:\n  - providers: [{name: envoy}]\n"
			"    filter:\n      expression: \"response.code == '500'\"\n"),
	     "t.yaml:9: Telemetry app/t: spec.accessLogging[0].filter.expression "
	     "\"response.code == '500'\": column 15: cannot compare int with string"},
	    {TEL("app", "  accessLogging:\n  - match: {mode: BOTH}\n"),
	     "spec.accessLogging[0].match.mode"},
	    {TEL("app", "  accessLogging:\n  - providers: [{nom: envoy}]\n"),
	     "spec.accessLogging[0].providers[0].name is required"},
	    {TEL("app", "  accessLogging:\n  - disabled: maybe\n"),
	     "spec.accessLogging[0].disabled must be true or false"},
	    {TEL("app", "  selector: {matchLabels: {app: a}}\n  targetRef: {kind: Gateway, "
			"name: gw}\n"),
	     "spec.selector and spec.targetRef are exclusive"},
	    {MESH_ON MESH_ON, "a mesh config was already read from t.yaml:9"},
	    {MESH_ON "    accessLogEncoding: XML\n", "spec.meshConfig.accessLogEncoding"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_model_refuses(cases[i].yaml, cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cel_istio_forms),
	    cmocka_unit_test(test_cel_absent_attributes),
	    cmocka_unit_test(test_cel_bad_input),
	    cmocka_unit_test(test_cel_prefixes),
	    cmocka_unit_test(test_line_json),
	    cmocka_unit_test(test_line_text),
	    cmocka_unit_test(test_policy_mesh_config),
	    cmocka_unit_test(test_policy_istio_configmap),
	    cmocka_unit_test(test_policy_telemetry),
	    cmocka_unit_test(test_telemetry_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
