// SPDX-License-Identifier: Apache-2.0
/*
 * The exposition formats: Prometheus text 0.0.4 and OpenMetrics 1.0. They differ, for what skiffd
 * writes, in three places: an OpenMetrics counter family is named without its _total suffix
 * (the samples keep it), the body ends with "# EOF", and the content type.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "metrics/metrics.h"

/* Envoy's default histogram bounds, which Istio's standard metrics use unchanged. */
const double metrics_buckets[METRICS_NBUCKETS] = {
    0.5,  1,	5,     10,    25,    50,     100,    250,     500,     1000,
    2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
};

void metrics_hist_observe(struct metrics_hist *h, double v)
{
	for (int i = 0; i < METRICS_NBUCKETS; i++) {
		if (v <= metrics_buckets[i]) {
			h->b[i]++;
			break;
		}
	}
	h->count++;
	h->sum += v;
}

void metrics_family(struct strbuf *b, enum metrics_fmt f, const char *name, const char *type,
		    const char *help)
{
	size_t n = strlen(name);

	if (f == METRICS_OPENMETRICS && !strcmp(type, "counter") && n > 6 &&
	    !strcmp(name + n - 6, "_total"))
		n -= 6;
	sb_printf(b, "# HELP %.*s %s\n# TYPE %.*s %s\n", (int)n, name, help, (int)n, name, type);
}

static void put_str(struct strbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

void metrics_label(struct strbuf *b, const char *name, const char *value)
{
	const char *p = value ? value : "";

	if (b->len)
		sb_put(b, ",", 1);
	put_str(b, name);
	sb_put(b, "=\"", 2);
	while (*p) {
		size_t run = strcspn(p, "\\\"\n");

		sb_put(b, p, run);
		p += run;
		if (!*p)
			break;
		sb_put(b, *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : "\\n", 2);
		p++;
	}
	sb_put(b, "\"", 1);
}

/* A page of 10,000 series is tens of MB: samples are appended without printf. */
static void sample_head(struct strbuf *b, const char *name, const char *labels)
{
	put_str(b, name);
	if (labels && *labels) {
		sb_put(b, "{", 1);
		put_str(b, labels);
		sb_put(b, "}", 1);
	}
	sb_put(b, " ", 1);
}

static void put_u64(struct strbuf *b, uint64_t v)
{
	char d[24];
	int i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sb_put(b, d + i, sizeof(d) - (size_t)i);
}

/* Shortest form that reads back as the same double; integers without an exponent. */
static void put_double(struct strbuf *b, double v)
{
	if (isnan(v))
		sb_printf(b, "NaN");
	else if (isinf(v))
		sb_printf(b, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		sb_printf(b, "%.0f", v);
	else {
		/* the shortest text that reads back as the same double */
		char t[32];

		for (int p = 15; p <= 17; p++) {
			snprintf(t, sizeof(t), "%.*g", p, v);
			if (strtod(t, NULL) == v)
				break;
		}
		put_str(b, t);
	}
}

void metrics_sample(struct strbuf *b, const char *name, const char *labels, double v)
{
	sample_head(b, name, labels);
	put_double(b, v);
	sb_printf(b, "\n");
}

void metrics_sample_u64(struct strbuf *b, const char *name, const char *labels, uint64_t v)
{
	sample_head(b, name, labels);
	put_u64(b, v);
	sb_put(b, "\n", 1);
}

void metrics_hist_render(struct strbuf *b, const char *name, const char *labels,
			 const struct metrics_hist *h)
{
	const char *sep = labels && *labels ? "," : "";
	uint64_t cum = 0;

	for (int i = 0; i < METRICS_NBUCKETS; i++) {
		cum += h->b[i];
		put_str(b, name);
		sb_put(b, "_bucket{", 8);
		put_str(b, labels ? labels : "");
		put_str(b, sep);
		sb_put(b, "le=\"", 4);
		put_double(b, metrics_buckets[i]);
		sb_put(b, "\"} ", 3);
		put_u64(b, cum);
		sb_put(b, "\n", 1);
	}
	sb_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels ? labels : "", sep,
		  (unsigned long long)h->count);
	sb_printf(b, "%s_sum", name);
	if (labels && *labels)
		sb_printf(b, "{%s}", labels);
	sb_printf(b, " ");
	put_double(b, h->sum);
	sb_printf(b, "\n");
	sb_printf(b, "%s_count", name);
	if (labels && *labels)
		sb_printf(b, "{%s}", labels);
	sb_printf(b, " %llu\n", (unsigned long long)h->count);
}

void metrics_end(struct strbuf *b, enum metrics_fmt f)
{
	if (f == METRICS_OPENMETRICS)
		sb_printf(b, "# EOF\n");
}

const char *metrics_content_type(enum metrics_fmt f)
{
	return f == METRICS_OPENMETRICS
		   ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
		   : "text/plain; version=0.0.4; charset=utf-8";
}

/* q of one media range ("type/sub;a=b;q=0.5"); -1 when its version is not one skiffd writes. */
static double range_q(const char *r, size_t n, bool om)
{
	double q = 1;
	const char *p = memchr(r, ';', n);

	while (p && p < r + n) {
		p++;
		while (*p == ' ')
			p++;
		if (!strncasecmp(p, "q=", 2))
			q = atof(p + 2);
		else if (!strncasecmp(p, "version=", 8)) {
			const char *v = p + 8;

			if (om && strncmp(v, "1.0.0", 5) && strncmp(v, "0.0.1", 5))
				return -1;
			if (!om && strncmp(v, "0.0.4", 5))
				return -1;
		}
		p = memchr(p, ';', (size_t)(r + n - p));
	}
	return q;
}

enum metrics_fmt metrics_negotiate(const char *accept)
{
	double best_om = -1, best_text = -1;
	const char *r = accept;

	while (r && *r) {
		const char *end = strchr(r, ',');
		size_t n = end ? (size_t)(end - r) : strlen(r);

		while (n && *r == ' ') {
			r++;
			n--;
		}
		if (!strncasecmp(r, "application/openmetrics-text", 28)) {
			double q = range_q(r, n, true);

			best_om = q > best_om ? q : best_om;
		} else if (!strncasecmp(r, "text/plain", 10) || !strncasecmp(r, "*/*", 3) ||
			   !strncasecmp(r, "text/*", 6)) {
			double q = range_q(r, n, false);

			best_text = q > best_text ? q : best_text;
		}
		r = end ? end + 1 : NULL;
	}
	return best_om > 0 && best_om >= best_text ? METRICS_OPENMETRICS : METRICS_TEXT;
}
