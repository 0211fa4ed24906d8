// SPDX-License-Identifier: Apache-2.0
/*
 * Trace ids and the propagation headers. The parsers are strict about what they accept (a
 * malformed id is ignored whole, never half used) because a wrong id silently splits a trace,
 * which is worse than starting a new one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "tracing/trace_ctx.h"

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Random bytes from a per-thread pool refilled 256 bytes at a time: a request takes two to four
 * ids (request id, trace, span), and a getrandom(2) for each was a syscall per id on the request's
 * path. A forked child starts with its parent's pool: skiffd does not fork request threads. */
#define TRACE_POOL 256

static void pool_take(uint8_t *out, size_t len)
{
	static __thread uint8_t pool[TRACE_POOL];
	static __thread size_t left;

	if (len > TRACE_POOL) {
		if (getrandom(out, len, 0) != (ssize_t)len)
			for (size_t i = 0; i < len; i++) /* never expected: still unique enough */
				out[i] = (uint8_t)(rand() >> 3);
		return;
	}
	if (left < len) {
		if (getrandom(pool, TRACE_POOL, 0) != TRACE_POOL)
			for (size_t i = 0; i < TRACE_POOL; i++) /* as above */
				pool[i] = (uint8_t)(rand() >> 3);
		left = TRACE_POOL;
	}
	memcpy(out, pool + TRACE_POOL - left, len);
	memset(pool + TRACE_POOL - left, 0, len); /* handed out once */
	left -= len;
}

void trace_random(uint8_t *out, size_t len)
{
	do
		pool_take(out, len);
	while (all_zero(out, len));
}

void trace_hex(const uint8_t *p, size_t len, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * len] = '\0';
}

void trace_request_id(char out[TRACE_REQID_LEN])
{
	static const uint8_t cut[] = {8, 12, 16, 20}; /* hex digits before each dash */
	uint8_t u[16];
	char h[33];
	size_t o = 0;

	trace_random(u, sizeof(u));
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	trace_hex(u, sizeof(u), h);
	/* 8-4-4-4-12, put together by hand: it is made for every request */
	for (size_t i = 0, c = 0; i < 32; i++) {
		if (c < sizeof(cut) && i == cut[c]) {
			out[o++] = '-';
			c++;
		}
		out[o++] = h[i];
	}
	out[o] = 0;
}

static int hexval(char c, bool lower_only)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (!lower_only && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* `n` hex digits of s into out (n / 2 bytes); false on any other character. */
static bool unhex(const char *s, size_t n, uint8_t *out, bool lower_only)
{
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(s[i], lower_only), lo = hexval(s[i + 1], lower_only);

		if (hi < 0 || lo < 0)
			return false;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

int trace_parse_traceparent(const char *v, struct trace_in *out)
{
	uint8_t ver, flags;
	size_t len = v ? strlen(v) : 0;

	if (len < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
		return -EINVAL;
	if (!unhex(v, 2, &ver, true) || ver == 0xff || (ver == 0 && len != 55) ||
	    (len > 55 && v[55] != '-'))
		return -EINVAL;
	if (!unhex(v + 3, 32, out->trace_id, true) || !unhex(v + 36, 16, out->span_id, true) ||
	    !unhex(v + 53, 2, &flags, true))
		return -EINVAL;
	if (all_zero(out->trace_id, TRACE_ID_LEN) || all_zero(out->span_id, TRACE_SPAN_LEN))
		return -EINVAL;
	out->has_ids = true;
	out->sampled = flags & 1;
	out->w3c = true;
	return 0;
}

/* A B3 trace id: 16 or 32 hex digits (either case, as Zipkin's libraries accept). */
static bool b3_trace_id(const char *s, size_t n, uint8_t id[TRACE_ID_LEN])
{
	memset(id, 0, TRACE_ID_LEN);
	if (n == 32)
		return unhex(s, 32, id, false) && !all_zero(id, TRACE_ID_LEN);
	return n == 16 && unhex(s, 16, id + 8, false) && !all_zero(id, TRACE_ID_LEN);
}

static bool b3_span_id(const char *s, size_t n, uint8_t id[TRACE_SPAN_LEN])
{
	return n == 16 && unhex(s, 16, id, false) && !all_zero(id, TRACE_SPAN_LEN);
}

static int b3_sampled(const char *s, size_t n)
{
	if ((n == 1 && (s[0] == '1' || s[0] == 'd')) || (n == 4 && !strncasecmp(s, "true", 4)))
		return 1;
	if ((n == 1 && s[0] == '0') || (n == 5 && !strncasecmp(s, "false", 5)))
		return 0;
	return -1;
}

int trace_parse_b3(const char *traceid, const char *spanid, const char *sampled, const char *flags,
		   struct trace_in *out)
{
	struct trace_in t = {.sampled = -1};

	if (traceid || spanid) {
		if (!traceid || !spanid || !b3_trace_id(traceid, strlen(traceid), t.trace_id) ||
		    !b3_span_id(spanid, strlen(spanid), t.span_id))
			return -EINVAL;
		t.has_ids = true;
	}
	if (sampled)
		t.sampled = b3_sampled(sampled, strlen(sampled));
	if (flags && !strcmp(flags, "1"))
		t.sampled = 1;
	*out = t;
	return 0;
}

int trace_parse_b3_single(const char *v, struct trace_in *out)
{
	struct trace_in t = {.sampled = -1};
	const char *d1, *d2, *d3;
	size_t n = v ? strlen(v) : 0;

	if (n == 1) {
		t.sampled = b3_sampled(v, 1);
		if (t.sampled < 0)
			return -EINVAL;
		*out = t;
		return 0;
	}
	d1 = v ? strchr(v, '-') : NULL;
	if (!d1 || !b3_trace_id(v, (size_t)(d1 - v), t.trace_id))
		return -EINVAL;
	d2 = strchr(d1 + 1, '-');
	if (!b3_span_id(d1 + 1, d2 ? (size_t)(d2 - d1 - 1) : strlen(d1 + 1), t.span_id))
		return -EINVAL;
	if (d2) {
		uint8_t parent[TRACE_SPAN_LEN];

		d3 = strchr(d2 + 1, '-');
		t.sampled = b3_sampled(d2 + 1, d3 ? (size_t)(d3 - d2 - 1) : strlen(d2 + 1));
		if (t.sampled < 0 || (d3 && !b3_span_id(d3 + 1, strlen(d3 + 1), parent)))
			return -EINVAL;
	}
	t.has_ids = true;
	*out = t;
	return 0;
}

static const char *field(const struct authz_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(h[i].name, name))
			return h[i].value;
	return NULL;
}

void trace_extract(const struct authz_header *h, size_t n, struct trace_in *out)
{
	struct trace_in t;
	const char *v;

	memset(out, 0, sizeof(*out));
	out->sampled = -1;
	if (!trace_parse_b3(field(h, n, "x-b3-traceid"), field(h, n, "x-b3-spanid"),
			    field(h, n, "x-b3-sampled"), field(h, n, "x-b3-flags"), &t)) {
		*out = t;
		if (t.has_ids)
			return;
	}
	v = field(h, n, "b3");
	if (v && !trace_parse_b3_single(v, &t)) {
		if (t.has_ids || out->sampled < 0)
			*out = t;
		if (t.has_ids)
			return;
	}
	v = field(h, n, "traceparent");
	if (v && !trace_parse_traceparent(v, &t)) {
		/* a sampling decision B3 stated alone still stands */
		if (out->sampled >= 0)
			t.sampled = out->sampled;
		*out = t;
	}
}

void trace_child(const struct trace_in *in, bool sampled, struct trace_ids *out)
{
	memset(out, 0, sizeof(*out));
	if (in && in->has_ids) {
		memcpy(out->trace_id, in->trace_id, TRACE_ID_LEN);
		memcpy(out->parent_id, in->span_id, TRACE_SPAN_LEN);
		out->has_parent = true;
	} else {
		trace_random(out->trace_id, TRACE_ID_LEN);
	}
	trace_random(out->span_id, TRACE_SPAN_LEN);
	out->sampled = in && in->sampled >= 0 ? in->sampled == 1 : sampled;
}

void trace_ids_child(const struct trace_ids *parent, struct trace_ids *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->trace_id, parent->trace_id, TRACE_ID_LEN);
	memcpy(out->parent_id, parent->span_id, TRACE_SPAN_LEN);
	out->has_parent = true;
	trace_random(out->span_id, TRACE_SPAN_LEN);
	out->sampled = parent->sampled;
}

void trace_format_traceparent(const struct trace_ids *ids, char out[TRACE_PARENT_LEN])
{
	char t[33], s[17];

	trace_hex(ids->trace_id, TRACE_ID_LEN, t);
	trace_hex(ids->span_id, TRACE_SPAN_LEN, s);
	snprintf(out, TRACE_PARENT_LEN, "00-%s-%s-%s", t, s, ids->sampled ? "01" : "00");
}

bool trace_field_replaced(const char *name)
{
	return !strncasecmp(name, "x-b3-", 5) || !strcasecmp(name, "b3") ||
	       !strcasecmp(name, "traceparent");
}
