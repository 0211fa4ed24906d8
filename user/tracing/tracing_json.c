// SPDX-License-Identifier: Apache-2.0
/*
 * Spans as JSON: Zipkin's v2 model (a list of spans, ids in lower-case hex, times in
 * microseconds) and OTLP/HTTP's JSON mapping (resourceSpans -> scopeSpans -> spans, ids in hex,
 * times in nanoseconds as decimal strings, kind 2 SERVER / 3 CLIENT). json-c does the escaping:
 * tag values come from requests (paths, user agents).
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static struct json_object *zipkin_endpoint(const char *service, const char *ip, uint16_t port)
{
	struct json_object *e = json_object_new_object();

	if (service)
		add_str(e, "serviceName", service);
	if (ip && ip[0])
		add_str(e, strchr(ip, ':') ? "ipv6" : "ipv4", ip);
	if (port)
		json_object_object_add(e, "port", json_object_new_int(port));
	return e;
}

static struct json_object *zipkin_span(const struct trace_span *s)
{
	struct json_object *o = json_object_new_object(), *tags = json_object_new_object();

	add_hex(o, "traceId", s->ids.trace_id, TRACE_ID_LEN);
	add_hex(o, "id", s->ids.span_id, TRACE_SPAN_LEN);
	if (s->ids.has_parent)
		add_hex(o, "parentId", s->ids.parent_id, TRACE_SPAN_LEN);
	add_str(o, "kind", s->kind == TRACE_SERVER ? "SERVER" : "CLIENT");
	add_str(o, "name", s->name);
	json_object_object_add(o, "timestamp", json_object_new_int64((int64_t)s->start_us));
	json_object_object_add(o, "duration",
			       json_object_new_int64(s->duration_us ? (int64_t)s->duration_us : 1));
	json_object_object_add(o, "localEndpoint", zipkin_endpoint(s->service, s->local_ip, 0));
	if (s->remote_ip[0])
		json_object_object_add(o, "remoteEndpoint",
				       zipkin_endpoint(NULL, s->remote_ip, s->remote_port));
	for (size_t i = 0; i < s->ntags; i++)
		add_str(tags, s->tags[i].key, s->tags[i].val);
	if (s->error)
		add_str(tags, "error", "true");
	json_object_object_add(o, "tags", tags);
	return o;
}

static char *take_text(struct json_object *root)
{
	char *out = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));

	json_object_put(root);
	return out;
}

char *trace_zipkin_json(const struct trace_span *const *s, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, zipkin_span(s[i]));
	return take_text(a);
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
