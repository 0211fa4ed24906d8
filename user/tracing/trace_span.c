// SPDX-License-Identifier: Apache-2.0
/*
 * Building a span: tags, the clock, the pod's Istio tags, and the propagation fields written for
 * the next hop.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "metrics/metrics.h"
#include "model/model.h"
#include "tracing/tracing.h"

/* src into dst[size], cut to fit, always terminated */
static void copy_cut(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = 0;
}

void trace_tag(struct trace_span *s, const char *key, const char *fmt, ...)
{
	struct trace_tag *t;
	va_list ap;

	if (s->ntags == TRACE_MAX_TAGS)
		return;
	t = &s->tags[s->ntags++];
	copy_cut(t->key, sizeof(t->key), key);
	va_start(ap, fmt);
	/* most tags are one string: copied, not formatted (a span has about 18) */
	if (!strcmp(fmt, "%s"))
		copy_cut(t->val, sizeof(t->val), va_arg(ap, const char *));
	else
		vsnprintf(t->val, sizeof(t->val), fmt, ap);
	va_end(ap);
}

uint64_t trace_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void trace_pod_tags(struct trace_span *s, const struct m_pod *p)
{
	char wl[128];
	const char *svc, *rev;

	if (!p) {
		snprintf(s->service, sizeof(s->service), "unknown");
		return;
	}
	metrics_workload_name(p, wl, sizeof(wl));
	svc = metrics_canonical_service(&p->meta.labels, wl);
	rev = metrics_canonical_revision(&p->meta.labels);
	snprintf(s->service, sizeof(s->service), "%s.%s", svc, p->meta.ns);
	trace_tag(s, "istio.canonical_service", "%s", svc);
	trace_tag(s, "istio.canonical_revision", "%s", rev);
	trace_tag(s, "istio.namespace", "%s", p->meta.ns);
	trace_tag(s, "istio.workload", "%s", wl);
}

int trace_fields(const struct trace_ids *ids, const char *request_id, trace_field_fn emit,
		 void *arg)
{
	char t[33], sp[17], par[17], tp[TRACE_PARENT_LEN];
	int err;

	trace_hex(ids->trace_id, TRACE_ID_LEN, t);
	trace_hex(ids->span_id, TRACE_SPAN_LEN, sp);
	trace_format_traceparent(ids, tp);
	err = emit(arg, "x-b3-traceid", t) ?: emit(arg, "x-b3-spanid", sp);
	if (!err && ids->has_parent) {
		trace_hex(ids->parent_id, TRACE_SPAN_LEN, par);
		err = emit(arg, "x-b3-parentspanid", par);
	}
	if (!err)
		err = emit(arg, "x-b3-sampled", ids->sampled ? "1" : "0")
			  ?: emit(arg, "traceparent", tp);
	if (!err && request_id)
		err = emit(arg, "x-request-id", request_id);
	return err;
}

static int h1_line(void *arg, const char *name, const char *value)
{
	return l7_buf_printf(arg, "%s: %s\r\n", name, value);
}

int trace_inject(const struct trace_ids *ids, const char *request_id, struct l7_buf *out)
{
	return trace_fields(ids, request_id, h1_line, out);
}
