// SPDX-License-Identifier: Apache-2.0
/*
 * Spans as JSON: Zipkin's v2 model (a list of spans, ids in lower-case hex, times in
 * microseconds) and OTLP/HTTP's JSON mapping (resourceSpans -> scopeSpans -> spans, ids in hex,
 * times in nanoseconds as decimal strings, kind 2 SERVER / 3 CLIENT). Tag values come from
 * requests (paths, user agents): both encodings escape them.
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "tracing/tracing.h"

static void add_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void add_hex(struct json_object *o, const char *k, const uint8_t *id, size_t len)
{
	char h[2 * TRACE_ID_LEN + 1];

	trace_hex(id, len, h);
	add_str(o, k, h);
}

/*
 * Zipkin's encoding is written directly (sb_json_str escapes what requests brought): built as
 * json-c objects it cost about 18 µs per span on the exporter thread, more than making the
 * span. A tag key given twice keeps its last value, as a JSON object's key does.
 */
static void zipkin_str(struct strbuf *b, const char *k, const char *v, bool comma)
{
	if (comma)
		sb_put(b, ",", 1);
	sb_json_str(b, k);
	sb_put(b, ":", 1);
	sb_json_str(b, v);
}

static void zipkin_hex(struct strbuf *b, const char *k, const uint8_t *id, size_t len)
{
	char h[2 * TRACE_ID_LEN + 1];

	trace_hex(id, len, h);
	zipkin_str(b, k, h, true);
}

static void zipkin_endpoint(struct strbuf *b, const char *k, const char *service, const char *ip,
			    uint16_t port)
{
	bool comma = false;

	sb_printf(b, ",\"%s\":{", k);
	if (service) {
		zipkin_str(b, "serviceName", service, false);
		comma = true;
	}
	if (ip && ip[0]) {
		zipkin_str(b, strchr(ip, ':') ? "ipv6" : "ipv4", ip, comma);
		comma = true;
	}
	if (port)
		sb_printf(b, "%s\"port\":%u", comma ? "," : "", port);
	sb_put(b, "}", 1);
}

/* Tag i is written unless a later one (or the error flag) sets the same key. */
static bool tag_last(const struct trace_span *s, size_t i)
{
	if (s->error && !strcmp(s->tags[i].key, "error"))
		return false;
	for (size_t j = i + 1; j < s->ntags; j++)
		if (!strcmp(s->tags[j].key, s->tags[i].key))
			return false;
	return true;
}

static void zipkin_span(struct strbuf *b, const struct trace_span *s)
{
	bool comma = false;

	sb_put(b, "{", 1);
	zipkin_str(b, "kind", s->kind == TRACE_SERVER ? "SERVER" : "CLIENT", false);
	zipkin_hex(b, "traceId", s->ids.trace_id, TRACE_ID_LEN);
	zipkin_hex(b, "id", s->ids.span_id, TRACE_SPAN_LEN);
	if (s->ids.has_parent)
		zipkin_hex(b, "parentId", s->ids.parent_id, TRACE_SPAN_LEN);
	zipkin_str(b, "name", s->name, true);
	sb_printf(b, ",\"timestamp\":%" PRIu64 ",\"duration\":%" PRIu64, s->start_us,
		  s->duration_us ? s->duration_us : 1);
	zipkin_endpoint(b, "localEndpoint", s->service, s->local_ip, 0);
	if (s->remote_ip[0])
		zipkin_endpoint(b, "remoteEndpoint", NULL, s->remote_ip, s->remote_port);
	sb_put(b, ",\"tags\":{", 9);
	for (size_t i = 0; i < s->ntags; i++) {
		if (!tag_last(s, i))
			continue;
		zipkin_str(b, s->tags[i].key, s->tags[i].val, comma);
		comma = true;
	}
	if (s->error)
		zipkin_str(b, "error", "true", comma);
	sb_put(b, "}}", 2);
}

static char *take_text(struct json_object *root)
{
	char *out = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));

	json_object_put(root);
	return out;
}

char *trace_zipkin_json(const struct trace_span *const *s, size_t n)
{
	struct strbuf b = {0};

	sb_grow(&b, n * 2048);
	sb_put(&b, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_put(&b, ",", 1);
		zipkin_span(&b, s[i]);
	}
	sb_put(&b, "]", 1);
	return sb_take(&b);
}

static struct json_object *otlp_attr(const char *k, const char *v)
{
	struct json_object *a = json_object_new_object(), *val = json_object_new_object();

	add_str(a, "key", k);
	add_str(val, "stringValue", v);
	json_object_object_add(a, "value", val);
	return a;
}

static void add_u64_str(struct json_object *o, const char *k, uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRIu64, v);
	add_str(o, k, b);
}

static struct json_object *otlp_span(const struct trace_span *s)
{
	struct json_object *o = json_object_new_object(), *attrs = json_object_new_array();
	struct json_object *status = json_object_new_object();

	add_hex(o, "traceId", s->ids.trace_id, TRACE_ID_LEN);
	add_hex(o, "spanId", s->ids.span_id, TRACE_SPAN_LEN);
	if (s->ids.has_parent)
		add_hex(o, "parentSpanId", s->ids.parent_id, TRACE_SPAN_LEN);
	add_str(o, "name", s->name);
	json_object_object_add(o, "kind", json_object_new_int(s->kind == TRACE_SERVER ? 2 : 3));
	add_u64_str(o, "startTimeUnixNano", s->start_us * 1000u);
	add_u64_str(o, "endTimeUnixNano", (s->start_us + s->duration_us) * 1000u);
	for (size_t i = 0; i < s->ntags; i++)
		json_object_array_add(attrs, otlp_attr(s->tags[i].key, s->tags[i].val));
	if (s->remote_ip[0])
		json_object_array_add(attrs, otlp_attr("net.peer.ip", s->remote_ip));
	json_object_object_add(o, "attributes", attrs);
	json_object_object_add(status, "code", json_object_new_int(s->error ? 2 : 0));
	json_object_object_add(o, "status", status);
	return o;
}

/* One resourceSpans per span: the resource (service.name) is per span's pod. */
static struct json_object *otlp_resource(const struct trace_span *s)
{
	struct json_object *rs = json_object_new_object(), *res = json_object_new_object();
	struct json_object *attrs = json_object_new_array(), *ss = json_object_new_object();
	struct json_object *scope = json_object_new_object(), *spans = json_object_new_array();
	struct json_object *sslist = json_object_new_array();

	json_object_array_add(attrs, otlp_attr("service.name", s->service));
	json_object_object_add(res, "attributes", attrs);
	json_object_object_add(rs, "resource", res);
	add_str(scope, "name", "skiffd");
	json_object_object_add(ss, "scope", scope);
	json_object_array_add(spans, otlp_span(s));
	json_object_object_add(ss, "spans", spans);
	json_object_array_add(sslist, ss);
	json_object_object_add(rs, "scopeSpans", sslist);
	return rs;
}

char *trace_otlp_json(const struct trace_span *const *s, size_t n)
{
	struct json_object *root = json_object_new_object(), *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, otlp_resource(s[i]));
	json_object_object_add(root, "resourceSpans", a);
	return take_text(root);
}
