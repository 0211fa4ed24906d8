// SPDX-License-Identifier: Apache-2.0
/*
 * Tracing: ids and x-request-id, the B3 and W3C parsers with malformed input, the fields written
 * for the next hop, span JSON for Zipkin v2 and OTLP/HTTP (parsed back with json-c), meshConfig's
 * tracing settings with their errors, and the exporter POSTing a batch to a real socket on
 * loopback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/model.h"
#include "tracing/tracing.h"

static const char TP[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

static void hex_is(const uint8_t *id, size_t len, const char *want)
{
	char h[65];

	trace_hex(id, len, h);
	assert_string_equal(h, want);
}

static void test_request_id(void **s)
{
	char a[TRACE_REQID_LEN], b[TRACE_REQID_LEN];

	(void)s;
	trace_request_id(a);
	trace_request_id(b);
	assert_int_equal(strlen(a), 36);
	assert_true(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
	assert_int_equal(a[14], '4');		/* version 4 */
	assert_non_null(strchr("89ab", a[19])); /* RFC 4122 variant */
	assert_string_not_equal(a, b);
}

/* Tags are cut to their fields, whether copied ("%s") or formatted, and always terminated. */
static void test_tag_bounds(void **s)
{
	struct trace_span *sp = calloc(1, sizeof(*sp));
	char longv[400], longk[64];

	(void)s;
	memset(longv, 'v', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = 0;
	memset(longk, 'k', sizeof(longk) - 1);
	longk[sizeof(longk) - 1] = 0;
	trace_tag(sp, longk, "%s", longv);
	trace_tag(sp, "n", "%d-%s", 7, longv);
	trace_tag(sp, "short", "%s", "x");
	assert_int_equal(strlen(sp->tags[0].key), sizeof(sp->tags[0].key) - 1);
	assert_int_equal(strlen(sp->tags[0].val), sizeof(sp->tags[0].val) - 1);
	assert_int_equal(strlen(sp->tags[1].val), sizeof(sp->tags[1].val) - 1);
	assert_memory_equal(sp->tags[1].val, "7-vv", 4);
	assert_string_equal(sp->tags[2].val, "x");
	for (size_t i = sp->ntags; i < TRACE_MAX_TAGS + 2; i++)
		trace_tag(sp, "more", "%s", "y");
	assert_int_equal(sp->ntags, TRACE_MAX_TAGS);
	free(sp);
}

static void test_traceparent_ok(void **s)
{
	struct trace_in t;

	(void)s;
	assert_int_equal(trace_parse_traceparent(TP, &t), 0);
	assert_true(t.has_ids && t.w3c);
	assert_int_equal(t.sampled, 1);
	hex_is(t.trace_id, TRACE_ID_LEN, "4bf92f3577b34da6a3ce929d0e0e4736");
	hex_is(t.span_id, TRACE_SPAN_LEN, "00f067aa0ba902b7");
	assert_int_equal(
	    trace_parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", &t),
	    0);
	assert_int_equal(t.sampled, 0);
	/* a later version is read by its first fields, whatever follows */
	assert_int_equal(trace_parse_traceparent(
			     "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz", &t),
			 0);
}

static void test_traceparent_malformed(void **s)
{
	static const char *const bad[] = {
	    "",
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",	/* no flags */
	    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",	/* upper case */
	    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",	/* zero trace id */
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",	/* zero span id */
	    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",	/* version ff */
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", /* v00 with more */
	    "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",	/* separator */
	    "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",	/* not hex */
	    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", /* later, no dash */
	    NULL};
	struct trace_in t;

	(void)s;
	for (int i = 0; bad[i]; i++) {
		memset(&t, 0, sizeof(t));
		if (trace_parse_traceparent(bad[i], &t) != -EINVAL)
			fail_msg("accepted traceparent \"%s\"", bad[i]);
	}
	assert_int_equal(trace_parse_traceparent(NULL, &t), -EINVAL);
}

static void test_b3(void **s)
{
	struct trace_in t;

	(void)s;
	/* a 64-bit trace id is held left-padded */
	assert_int_equal(trace_parse_b3("a3ce929d0e0e4736", "00f067aa0ba902b7", "1", NULL, &t), 0);
	assert_true(t.has_ids && !t.w3c);
	assert_int_equal(t.sampled, 1);
	hex_is(t.trace_id, TRACE_ID_LEN, "0000000000000000a3ce929d0e0e4736");
	assert_int_equal(trace_parse_b3("4BF92F3577B34DA6A3CE929D0E0E4736", "00F067AA0BA902B7",
					"false", NULL, &t),
			 0);
	assert_int_equal(t.sampled, 0);
	hex_is(t.trace_id, TRACE_ID_LEN, "4bf92f3577b34da6a3ce929d0e0e4736");
	/* debug flag samples */
	assert_int_equal(trace_parse_b3(NULL, NULL, "0", "1", &t), 0);
	assert_int_equal(t.sampled, 1);
	assert_false(t.has_ids);
	/* a decision alone */
	assert_int_equal(trace_parse_b3(NULL, NULL, "0", NULL, &t), 0);
	assert_int_equal(t.sampled, 0);
	/* malformed ids: refused whole */
	assert_int_equal(trace_parse_b3("a3ce929d0e0e473", "00f067aa0ba902b7", NULL, NULL, &t),
			 -EINVAL);
	assert_int_equal(trace_parse_b3("a3ce929d0e0e4736", "00f067aa0ba902b", NULL, NULL, &t),
			 -EINVAL);
	assert_int_equal(trace_parse_b3("a3ce929d0e0e4736", NULL, NULL, NULL, &t), -EINVAL);
	assert_int_equal(trace_parse_b3("0000000000000000", "00f067aa0ba902b7", NULL, NULL, &t),
			 -EINVAL);
	assert_int_equal(trace_parse_b3("a3ce929d0e0e4736", "00f067aa0ba902bz", NULL, NULL, &t),
			 -EINVAL);
}

static void test_b3_single(void **s)
{
	struct trace_in t;

	(void)s;
	assert_int_equal(
	    trace_parse_b3_single("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-"
				  "05e3ac9a4f6e3b90",
				  &t),
	    0);
	assert_true(t.has_ids);
	assert_int_equal(t.sampled, 1);
	hex_is(t.span_id, TRACE_SPAN_LEN, "e457b5a2e4d86bd1");
	assert_int_equal(trace_parse_b3_single("80f198ee56343ba8-e457b5a2e4d86bd1", &t), 0);
	assert_int_equal(t.sampled, -1);
	assert_int_equal(trace_parse_b3_single("0", &t), 0);
	assert_int_equal(t.sampled, 0);
	assert_false(t.has_ids);
	assert_int_equal(trace_parse_b3_single("d", &t), 0);
	assert_int_equal(t.sampled, 1);
	assert_int_equal(trace_parse_b3_single("x", &t), -EINVAL);
	assert_int_equal(trace_parse_b3_single("80f198ee56343ba8-e457b5a2e4d86bd1-2", &t), -EINVAL);
	assert_int_equal(trace_parse_b3_single("80f198ee56343ba8", &t), -EINVAL);
	assert_int_equal(trace_parse_b3_single("80f198ee56343ba8-e457b5a2e4d86bd1-1-05e3", &t),
			 -EINVAL);
}

static void test_extract_precedence(void **s)
{
	const struct authz_header both[] = {
	    {"traceparent", TP},
	    {"X-B3-TraceId", "a3ce929d0e0e4736"},
	    {"X-B3-SpanId", "00f067aa0ba902b7"},
	    {"x-b3-sampled", "0"},
	};
	const struct authz_header bad_b3[] = {
	    {"x-b3-traceid", "nothex"},
	    {"x-b3-spanid", "00f067aa0ba902b7"},
	    {"traceparent", TP},
	};
	const struct authz_header only_decision[] = {
	    {"x-b3-sampled", "0"},
	    {"traceparent", TP},
	};
	const struct authz_header junk[] = {{"traceparent", "garbage"}, {"b3", "zz"}};
	struct trace_in t;

	(void)s;
	trace_extract(both, 4, &t); /* B3 first, as Istio's Zipkin tracer */
	assert_false(t.w3c);
	assert_int_equal(t.sampled, 0);
	hex_is(t.trace_id, TRACE_ID_LEN, "0000000000000000a3ce929d0e0e4736");
	trace_extract(bad_b3, 3, &t); /* a malformed B3 id is ignored, traceparent used */
	assert_true(t.w3c && t.has_ids);
	trace_extract(only_decision, 2, &t); /* B3's decision stands, W3C's ids */
	assert_true(t.has_ids);
	assert_int_equal(t.sampled, 0);
	trace_extract(junk, 2, &t);
	assert_false(t.has_ids);
	assert_int_equal(t.sampled, -1);
}

static void test_child_and_inject(void **s)
{
	struct trace_in in;
	struct trace_ids a, b;
	struct l7_buf out = {0};
	char tp[TRACE_PARENT_LEN], want[256], span[17];

	(void)s;
	assert_int_equal(trace_parse_traceparent(TP, &in), 0);
	trace_child(&in, false, &a); /* the request's decision wins over ours */
	assert_true(a.sampled && a.has_parent);
	hex_is(a.trace_id, TRACE_ID_LEN, "4bf92f3577b34da6a3ce929d0e0e4736");
	hex_is(a.parent_id, TRACE_SPAN_LEN, "00f067aa0ba902b7");
	assert_memory_not_equal(a.span_id, in.span_id, TRACE_SPAN_LEN);
	trace_child(NULL, false, &b); /* a root */
	assert_false(b.has_parent || b.sampled);
	assert_memory_not_equal(a.trace_id, b.trace_id, TRACE_ID_LEN);

	assert_int_equal(trace_inject(&a, "rid-1", &out), 0);
	trace_hex(a.span_id, TRACE_SPAN_LEN, span);
	trace_format_traceparent(&a, tp);
	snprintf(want, sizeof(want),
		 "x-b3-traceid: 4bf92f3577b34da6a3ce929d0e0e4736\r\nx-b3-spanid: %s\r\n"
		 "x-b3-parentspanid: 00f067aa0ba902b7\r\nx-b3-sampled: 1\r\ntraceparent: %s\r\n"
		 "x-request-id: rid-1\r\n",
		 span, tp);
	assert_int_equal(l7_buf_unread(&out), strlen(want));
	assert_memory_equal(l7_buf_head(&out), want, strlen(want));
	/* what we write, we read back */
	assert_int_equal(trace_parse_traceparent(tp, &in), 0);
	assert_memory_equal(in.span_id, a.span_id, TRACE_SPAN_LEN);
	l7_buf_free(&out);
	assert_true(trace_field_replaced("X-B3-Sampled") && trace_field_replaced("b3") &&
		    trace_field_replaced("TraceParent"));
	assert_false(trace_field_replaced("tracestate") || trace_field_replaced("x-request-id"));
}

static void make_span(struct trace_span *sp, enum trace_kind kind, bool parent)
{
	struct trace_in in;

	memset(sp, 0, sizeof(*sp));
	assert_int_equal(trace_parse_traceparent(TP, &in), 0);
	trace_child(parent ? &in : NULL, true, &sp->ids);
	sp->kind = kind;
	snprintf(sp->name, sizeof(sp->name), "echo.ns.svc.cluster.local:8080/*");
	snprintf(sp->service, sizeof(sp->service), "client.ns");
	snprintf(sp->local_ip, sizeof(sp->local_ip), "10.1.0.5");
	snprintf(sp->remote_ip, sizeof(sp->remote_ip), "10.2.0.7");
	sp->remote_port = 8080;
	sp->start_us = 1700000000000000ull;
	sp->duration_us = 1500;
	sp->error = true;
	trace_tag(sp, "http.method", "GET");
	trace_tag(sp, "http.url", "http://echo/\"quoted\"\\path");
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	assert_true(json_object_object_get_ex(o, k, &v));
	return json_object_get_string(v);
}

static void test_zipkin_json(void **s)
{
	struct trace_span a, b;
	const struct trace_span *v[] = {&a, &b};
	struct json_object *root, *sp, *tags, *ep;
	char *text;
	char id[17];

	(void)s;
	make_span(&a, TRACE_CLIENT, true);
	make_span(&b, TRACE_SERVER, false);
	text = trace_zipkin_json(v, 2);
	assert_non_null(text);
	root = json_tokener_parse(text);
	assert_non_null(root);
	assert_int_equal(json_object_array_length(root), 2);
	sp = json_object_array_get_idx(root, 0);
	assert_string_equal(jstr(sp, "traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_string_equal(jstr(sp, "parentId"), "00f067aa0ba902b7");
	trace_hex(a.ids.span_id, TRACE_SPAN_LEN, id);
	assert_string_equal(jstr(sp, "id"), id);
	assert_string_equal(jstr(sp, "kind"), "CLIENT");
	assert_string_equal(jstr(sp, "timestamp"), "1700000000000000");
	assert_string_equal(jstr(sp, "duration"), "1500");
	assert_true(json_object_object_get_ex(sp, "localEndpoint", &ep));
	assert_string_equal(jstr(ep, "serviceName"), "client.ns");
	assert_string_equal(jstr(ep, "ipv4"), "10.1.0.5");
	assert_true(json_object_object_get_ex(sp, "remoteEndpoint", &ep));
	assert_string_equal(jstr(ep, "port"), "8080");
	assert_true(json_object_object_get_ex(sp, "tags", &tags));
	assert_string_equal(jstr(tags, "http.url"), "http://echo/\"quoted\"\\path");
	assert_string_equal(jstr(tags, "error"), "true");
	sp = json_object_array_get_idx(root, 1);
	assert_string_equal(jstr(sp, "kind"), "SERVER");
	assert_false(json_object_object_get_ex(sp, "parentId", NULL)); /* a root has none */
	json_object_put(root);
	free(text);
}

static void test_otlp_json(void **s)
{
	struct trace_span a;
	const struct trace_span *v[] = {&a};
	struct json_object *root, *rs, *res, *attrs, *ss, *spans, *sp, *st;
	char *text;

	(void)s;
	make_span(&a, TRACE_SERVER, true);
	text = trace_otlp_json(v, 1);
	root = json_tokener_parse(text);
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "resourceSpans", &rs));
	rs = json_object_array_get_idx(rs, 0);
	assert_true(json_object_object_get_ex(rs, "resource", &res));
	assert_true(json_object_object_get_ex(res, "attributes", &attrs));
	assert_string_equal(jstr(json_object_array_get_idx(attrs, 0), "key"), "service.name");
	assert_true(json_object_object_get_ex(rs, "scopeSpans", &ss));
	assert_true(json_object_object_get_ex(json_object_array_get_idx(ss, 0), "spans", &spans));
	sp = json_object_array_get_idx(spans, 0);
	assert_string_equal(jstr(sp, "traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_string_equal(jstr(sp, "parentSpanId"), "00f067aa0ba902b7");
	assert_string_equal(jstr(sp, "kind"), "2"); /* SPAN_KIND_SERVER */
	assert_string_equal(jstr(sp, "startTimeUnixNano"), "1700000000000000000");
	assert_string_equal(jstr(sp, "endTimeUnixNano"), "1700000000001500000");
	assert_true(json_object_object_get_ex(sp, "status", &st));
	assert_string_equal(jstr(st, "code"), "2"); /* STATUS_CODE_ERROR */
	json_object_put(root);
	free(text);
}

/* ---- meshConfig ---- */

#define IOP_HEAD                                                                                   \
	"apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata:\n"                  \
	"  name: istio\n  namespace: istio-system\nspec:\n  meshConfig:\n"

static void test_mesh_config(void **s)
{
	struct diag d = {0};
	struct model m;

	(void)s;
	assert_int_equal(model_load_string("t.yaml",
					   IOP_HEAD
					   "    accessLogFile: /dev/stdout\n"
					   "    defaultConfig:\n      tracing:\n"
					   "        sampling: 100.0\n        zipkin:\n"
					   "          address: zipkin.istio-system:9411\n"
					   "    extensionProviders:\n"
					   "    - name: otel\n      opentelemetry:\n"
					   "        service: otel.istio-system.svc.cluster.local\n"
					   "        port: 4318\n        http:\n"
					   "          path: /v1/traces\n"
					   "    - name: logs\n      envoyFileAccessLog:\n"
					   "        path: /dev/stdout\n"
					   "    defaultProviders:\n      tracing: [otel]\n",
					   &m, &d),
			 0);
	assert_true(m.tracing.enabled);
	assert_true(m.tracing.sampling == 100.0);
	assert_string_equal(m.tracing.zipkin_address, "zipkin.istio-system:9411");
	assert_int_equal(m.tracing.nproviders, 1);
	assert_int_equal(m.tracing.providers[0].proto, M_TRACE_OTLP);
	assert_int_equal(m.tracing.providers[0].port, 4318);
	assert_string_equal(m.tracing.providers[0].path, "/v1/traces");
	assert_string_equal(m.tracing.default_provider, "otel");
	model_free(&m);
	diag_free(&d);

	/* nothing said: Istio's defaults */
	assert_int_equal(model_load_string("t.yaml", IOP_HEAD "    enableTracing: true\n", &m, &d),
			 0);
	assert_true(m.tracing.sampling < 0 && !m.tracing.zipkin_address);
	model_free(&m);
	diag_free(&d);
}

static void expect_mesh_err(const char *yaml, const char *text)
{
	struct diag d = {0};
	struct model m;
	bool found = false;

	assert_int_equal(model_load_string("t.yaml", yaml, &m, &d), -EINVAL);
	for (size_t i = 0; i < d.n; i++)
		found |= d.v[i].level == DIAG_ERROR && strstr(d.v[i].msg, text) &&
			 !strncmp(d.v[i].msg, "t.yaml:", 7);
	if (!found) {
		diag_print(&d);
		fail_msg("no error with \"%s\"", text);
	}
	diag_free(&d);
}

static void test_mesh_config_errors(void **s)
{
	(void)s;
	expect_mesh_err(IOP_HEAD "    defaultConfig:\n      tracing:\n        sampling: 150\n",
			"t.yaml:10: IstioOperator istio-system/istio: "
			"spec.meshConfig.defaultConfig.tracing.sampling 150 must be a percentage");
	expect_mesh_err(IOP_HEAD "    defaultConfig:\n      tracing:\n        zipkin:\n"
				 "          address: zipkin\n",
			"zipkin.address \"zipkin\" must be host:port");
	expect_mesh_err(IOP_HEAD "    defaultProviders:\n      tracing: [nope]\n",
			"defaultProviders.tracing names \"nope\"");
	expect_mesh_err(IOP_HEAD "    extensionProviders:\n    - name: z\n      zipkin:\n"
				 "        service: zipkin\n",
			"port is required");
}


/* ---- Telemetry tracing: parse, precedence, per-pod sampling, reporting and tags ---- */

#define TPODS                                                                                      \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: app, labels: {app: a}}\n"       \
	"spec: {nodeName: n1}\n---\n"                                                              \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: b, namespace: app, labels: {app: b}}\n"       \
	"spec: {nodeName: n1}\n---\n"                                                              \
	"apiVersion: v1\nkind: Pod\nmetadata: {name: c, namespace: other}\nspec: {nodeName: n1}\n"
#define TTEL(name, ns, body)                                                                       \
	"---\napiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: " name          \
	", namespace: " ns "}\nspec:\n" body

static const struct m_pod *pod_named(const struct model *m, const char *name)
{
	for (size_t i = 0; i < m->npods; i++)
		if (!strcmp(m->pods[i].meta.name, name))
			return &m->pods[i];
	fail_msg("no pod %s", name);
	return NULL;
}

static void test_telemetry_tracing(void **s)
{
	struct diag d = {0};
	struct m_trace_eff e;
	struct model m;

	(void)s;
	if (model_load_string(
		"t.yaml",
		TPODS TTEL("mesh", "istio-system",
			   "  tracing:\n  - randomSamplingPercentage: 10.0\n"
			   "    customTags:\n      team: {literal: {value: core}}\n")
		    TTEL("ns", "app",
			 "  tracing:\n  - randomSamplingPercentage: 0\n"
			 "    customTags:\n      team: {literal: {value: app}}\n"
			 "      user: {header: {name: x-user, defaultValue: anon}}\n")
			TTEL("wl", "app",
			     "  selector: {matchLabels: {app: b}}\n"
			     "  tracing:\n  - match: {mode: SERVER}\n"
			     "    randomSamplingPercentage: 100\n    disableSpanReporting: true\n"),
		&m, &d) < 0) {
		diag_print(&d);
		fail_msg("model refused");
	}
	/* a: root 10 %, then its namespace's 0 %; tags merged by name, the namespace's win */
	model_tel_tracing_for(&m, pod_named(&m, "a"), false, &e);
	assert_true(e.any && e.sampling == 0 && !e.disable);
	assert_int_equal(e.ntags, 2);
	assert_string_equal(e.tags[0]->value, "app");
	assert_int_equal(e.tags[1]->kind, M_TAG_HEADER);
	/* b's SERVER side: the workload's entry on top; its CLIENT side does not see it */
	model_tel_tracing_for(&m, pod_named(&m, "b"), true, &e);
	assert_true(e.sampling == 100 && e.disable);
	model_tel_tracing_for(&m, pod_named(&m, "b"), false, &e);
	assert_true(e.sampling == 0 && !e.disable);
	/* c: the mesh-wide one only */
	model_tel_tracing_for(&m, pod_named(&m, "c"), false, &e);
	assert_true(e.sampling == 10 && e.ntags == 1);
	model_free(&m);
	diag_free(&d);
}

static void test_workload_table(void **s)
{
	struct tracing_config c = {.sampling = 100};
	struct trace_workload *v = calloc(2, sizeof(*v));
	struct m_pod pa = {.meta = {.ns = "app", .name = "a"}};
	struct m_pod pb = {.meta = {.ns = "app", .name = "b"}};
	struct authz_header h[] = {{.name = "X-User", .value = "ann"}};
	struct trace_tag out[4];
	int n = 0;

	(void)s;
	tracing_configure(&c);
	snprintf(v[0].pod, sizeof(v[0].pod), "app/a");
	v[0].kind = TRACE_CLIENT;
	v[0].sampling = 0;
	v[0].tags = calloc(2, sizeof(*v[0].tags));
	v[0].tags[0] = (struct trace_custom_tag){.name = strdup("user"),
						 .value = strdup("x-user"),
						 .def = strdup("anon"),
						 .header = true};
	v[0].tags[1] = (struct trace_custom_tag){.name = strdup("team"), .value = strdup("app")};
	v[0].ntags = 2;
	snprintf(v[1].pod, sizeof(v[1].pod), "app/a");
	v[1].kind = TRACE_SERVER;
	v[1].sampling = -1;
	v[1].disable = true;
	tracing_set_workloads(v, 2);
	for (int i = 0; i < 500; i++)
		n += tracing_sample(&pa, TRACE_CLIENT);
	assert_int_equal(n, 0); /* the pod's 0 % beats the mesh's 100 % */
	for (int i = 0; i < 500; i++)
		n += tracing_sample(&pa, TRACE_SERVER) + tracing_sample(&pb, TRACE_CLIENT);
	assert_int_equal(n, 1000); /* no rate of its own: the mesh's */
	assert_true(tracing_reports(&pa, TRACE_CLIENT) && !tracing_reports(&pa, TRACE_SERVER));
	assert_true(tracing_reports(&pb, TRACE_SERVER));
	assert_int_equal(tracing_custom_tags(&pa, TRACE_CLIENT, h, 1, out, 4), 2);
	assert_string_equal(out[0].key, "user");
	assert_string_equal(out[0].val, "ann");
	assert_string_equal(out[1].val, "app");
	assert_int_equal(tracing_custom_tags(&pa, TRACE_CLIENT, NULL, 0, out, 4), 2);
	assert_string_equal(out[0].val, "anon");
	assert_int_equal(tracing_custom_tags(&pb, TRACE_CLIENT, h, 1, out, 4), 0);
	tracing_set_workloads(NULL, 0);
}

#define expect_tel_err(body, text)                                                                 \
	expect_mesh_err(TPODS TTEL("t", "app", "  tracing:\n" body), text)

static void test_telemetry_tracing_errors(void **s)
{
	(void)s;
	expect_tel_err("  - randomSamplingPercentage: 101\n",
		       "t.yaml:21: Telemetry app/t: spec.tracing[0].randomSamplingPercentage 101 "
		       "must be between 0 and 100");
	expect_tel_err("  - {}\n  - {}\n", "multiple tracing entries are not supported");
	expect_tel_err("  - customTags:\n      x: {literal: {}}\n",
		       "customTags.x.literal.value is required");
	expect_tel_err("  - customTags:\n      x: {cluster: {name: y}}\n", "needs one of literal");
	expect_tel_err("  - useRequestIdForTraceSampling: false\n",
		       "useRequestIdForTraceSampling: false is not supported");
	expect_tel_err("  - providers: [{name: nope}]\n",
		       "t.yaml:21: Telemetry app/t: spec.tracing[0].providers names \"nope\", "
		       "which no meshConfig extensionProviders entry");
	expect_mesh_err(IOP_HEAD "    extensionProviders:\n"
				 "    - {name: z1, zipkin: {service: a, port: 9411}}\n"
				 "    - {name: z2, zipkin: {service: b, port: 9411}}\n"
				 "    defaultProviders: {tracing: [z1]}\n" TTEL(
				     "t", "app", "  tracing:\n  - providers: [{name: z2}]\n"),
			"one collector, \"z1\"");
}

/* ---- the exporter, to a socket on loopback ---- */

static void read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	char *body;
	long cl = -1;

	for (;;) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);

		assert_true(n > 0);
		len += (size_t)n;
		buf[len] = '\0';
		body = strstr(buf, "\r\n\r\n");
		if (body && cl < 0) {
			char *h = strcasestr(buf, "content-length:");

			assert_non_null(h);
			cl = strtol(h + 15, NULL, 10);
		}
		if (body && (long)(len - (size_t)(body + 4 - buf)) >= cl)
			return;
	}
}

static int listen_loopback(uint16_t *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return lfd;
}

/* One POST on lfd: its request into req, answered `status`. */
static void serve_one(int lfd, char *req, size_t cap, const char *status)
{
	char resp[128];
	int fd = accept(lfd, NULL, NULL);
	int n = snprintf(resp, sizeof(resp), "HTTP/1.1 %s\r\ncontent-length: 0\r\n\r\n", status);

	assert_true(fd >= 0);
	read_request(fd, req, cap);
	assert_true(write(fd, resp, (size_t)n) == n);
	close(fd);
}

static void test_export(void **s)
{
	struct tracing_config c = {.proto = TRACE_PROTO_ZIPKIN, .sampling = 100};
	struct tracing_stats st;
	struct trace_span sp;
	static char req[1 << 20];
	struct json_object *root, *rs;
	uint16_t port;
	int lfd;

	(void)s;
	lfd = listen_loopback(&port);
	snprintf(c.url, sizeof(c.url), "http://127.0.0.1:%u/api/v2/spans", port);
	tracing_configure(&c);
	/* no exporter yet: dropped, counted */
	make_span(&sp, TRACE_CLIENT, true);
	tracing_submit(&sp);
	tracing_stats(&st);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(tracing_start(), 0);
	for (int i = 0; i < 3; i++)
		tracing_submit(&sp);
	serve_one(lfd, req, sizeof(req), "202 Accepted");
	assert_non_null(strstr(req, "POST /api/v2/spans HTTP/1.1\r\n"));
	assert_non_null(strcasestr(req, "content-type: application/json"));
	root = json_tokener_parse(strstr(req, "\r\n\r\n") + 4);
	assert_non_null(root);
	assert_int_equal(json_object_array_length(root), 3);
	json_object_put(root);

	/* the same exporter, reconfigured: OTLP/HTTP, and a collector that refuses */
	c.proto = TRACE_PROTO_OTLP;
	snprintf(c.url, sizeof(c.url), "http://127.0.0.1:%u/v1/traces", port);
	tracing_configure(&c);
	tracing_submit(&sp);
	serve_one(lfd, req, sizeof(req), "503 Service Unavailable");
	assert_non_null(strstr(req, "POST /v1/traces HTTP/1.1\r\n"));
	root = json_tokener_parse(strstr(req, "\r\n\r\n") + 4);
	assert_true(json_object_object_get_ex(root, "resourceSpans", &rs));
	assert_int_equal(json_object_array_length(rs), 1);
	json_object_put(root);
	tracing_stop();
	close(lfd);
	tracing_stats(&st);
	assert_int_equal(st.spans, 5);
	assert_int_equal(st.exported, 3);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.dropped, 1);

	/* no collector configured: nothing is queued or counted */
	c.proto = TRACE_PROTO_NONE;
	tracing_configure(&c);
	tracing_submit(&sp);
	tracing_stats(&st);
	assert_int_equal(st.spans, 5);
}

static void test_sampling(void **s)
{
	struct tracing_config c = {.sampling = 0};
	int n = 0;

	(void)s;
	tracing_configure(&c);
	for (int i = 0; i < 1000; i++)
		n += tracing_sample(NULL, TRACE_CLIENT);
	assert_int_equal(n, 0);
	c.sampling = 100;
	tracing_configure(&c);
	for (int i = 0; i < 1000; i++)
		n += tracing_sample(NULL, TRACE_CLIENT);
	assert_int_equal(n, 1000);
	c.sampling = 50;
	tracing_configure(&c);
	n = 0;
	for (int i = 0; i < 10000; i++)
		n += tracing_sample(NULL, TRACE_CLIENT);
	assert_in_range(n, 4000, 6000); /* a generous bound on a fair coin */
}

/* ---- the relay's HTTP/1.1 filter writes this hop's fields in place of the request's ---- */

static int hook_trace(void *ctx, const struct authz_request *rq, struct l7_buf *fields)
{
	(void)ctx;
	(void)rq;
	return l7_buf_printf(fields, "x-b3-traceid: 0000000000000000000000000000beef\r\n");
}

static bool hook_allow(void *ctx, struct authz_request *rq, char *why, size_t len)
{
	(void)ctx;
	(void)rq;
	(void)why;
	(void)len;
	return true;
}

static void test_filter_fields(void **s)
{
	static const char in[] =
	    "GET /a HTTP/1.1\r\nHost: echo\r\nX-B3-TraceId: 1111111111111111\r\n"
	    "traceparent: junk\r\ntracestate: k=v\r\nb3: 0\r\n\r\n";
	static const char want[] = "GET /a HTTP/1.1\r\nHost: echo\r\ntracestate: k=v\r\n"
				   "x-b3-traceid: 0000000000000000000000000000beef\r\n\r\n";
	struct l7_decider d = {.decide = hook_allow, .trace = hook_trace};
	struct l7_filter *f = l7_http1_ops.open(&d);
	struct l7_buf up = {0}, down = {0};

	(void)s;
	assert_int_equal(
	    l7_http1_ops.from_client(f, (const uint8_t *)in, sizeof(in) - 1, &up, &down), 0);
	assert_int_equal(l7_buf_unread(&up), sizeof(want) - 1);
	assert_memory_equal(l7_buf_head(&up), want, sizeof(want) - 1);
	l7_buf_free(&up);
	l7_buf_free(&down);
	l7_http1_ops.close(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_id),
	    cmocka_unit_test(test_tag_bounds),
	    cmocka_unit_test(test_traceparent_ok),
	    cmocka_unit_test(test_traceparent_malformed),
	    cmocka_unit_test(test_b3),
	    cmocka_unit_test(test_b3_single),
	    cmocka_unit_test(test_extract_precedence),
	    cmocka_unit_test(test_child_and_inject),
	    cmocka_unit_test(test_zipkin_json),
	    cmocka_unit_test(test_otlp_json),
	    cmocka_unit_test(test_mesh_config),
	    cmocka_unit_test(test_mesh_config_errors),
	    cmocka_unit_test(test_telemetry_tracing),
	    cmocka_unit_test(test_telemetry_tracing_errors),
	    cmocka_unit_test(test_workload_table),
	    cmocka_unit_test(test_export),
	    cmocka_unit_test(test_sampling),
	    cmocka_unit_test(test_filter_fields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
