/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Trace identity of a request: ids, the propagation headers (B3 multi and single header, W3C
 * traceparent) read from a request and written to the next hop, and x-request-id.
 *
 * Everything here is pure (no clock, no I/O beyond getrandom) so that the parsers can be tested
 * with malformed headers directly.
 */
#ifndef SKIFF_TRACING_TRACE_CTX_H
#define SKIFF_TRACING_TRACE_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authz/authz.h" /* struct authz_header */

#define TRACE_ID_LEN	 16 /* 128 bits; a 64-bit B3 trace id is held left-padded with zeros */
#define TRACE_SPAN_LEN	 8
#define TRACE_REQID_LEN	 37 /* a UUID's 36 characters and the NUL */
#define TRACE_PARENT_LEN 56 /* "00-<32>-<16>-01" and the NUL */

/* What a request says about the trace it belongs to. */
struct trace_in {
	uint8_t trace_id[TRACE_ID_LEN];
	uint8_t span_id[TRACE_SPAN_LEN]; /* the caller's span: our span's parent */
	bool has_ids;			 /* trace_id and span_id are valid */
	int sampled;			 /* 1, 0, or -1 when the request leaves it to us */
	bool w3c;			 /* the ids came from traceparent (else B3) */
};

/* One hop's span identity: what goes out to the next hop. */
struct trace_ids {
	uint8_t trace_id[TRACE_ID_LEN];
	uint8_t span_id[TRACE_SPAN_LEN];
	uint8_t parent_id[TRACE_SPAN_LEN];
	bool has_parent;
	bool sampled;
};

/* Random bytes, never all zero (an all-zero id is invalid in B3 and W3C alike). */
void trace_random(uint8_t *out, size_t len);
/* A new UUID version 4 for x-request-id. */
void trace_request_id(char out[TRACE_REQID_LEN]);

/* "00-<trace>-<span>-<flags>" (W3C trace-context level 1). 0, or -EINVAL when malformed: wrong
 * length, upper-case or non-hex digits, version ff, all-zero ids. A later version is read by its
 * first four fields, as the specification asks. */
int trace_parse_traceparent(const char *v, struct trace_in *out);
/* B3 multi-header: x-b3-traceid (16 or 32 hex), x-b3-spanid (16 hex), x-b3-sampled ("1", "0",
 * "true", "false"), x-b3-flags ("1": debug, sampled). Any argument may be NULL. 0, or -EINVAL
 * when an id is present and malformed (then nothing of it is used). */
int trace_parse_b3(const char *traceid, const char *spanid, const char *sampled, const char *flags,
		   struct trace_in *out);
/* The single `b3` header: "{trace}-{span}[-{sampling}[-{parent}]]" or a bare "0", "1", "d". */
int trace_parse_b3_single(const char *v, struct trace_in *out);
/* What the request's fields say (B3 first, as Istio's Zipkin tracer reads them, then b3, then
 * traceparent). Malformed headers are ignored: the request starts a new trace. */
void trace_extract(const struct authz_header *h, size_t n, struct trace_in *out);

/* This hop's span: a child of `in` when it has ids, else the root of a new trace. `sampled`
 * applies only when the request left the decision to us. */
void trace_child(const struct trace_in *in, bool sampled, struct trace_ids *out);

/* A span of this hop's own under `parent` (same trace, same sampling decision): a request the
 * hop sends besides the one it forwards, such as a mirror's copy. */
void trace_ids_child(const struct trace_ids *parent, struct trace_ids *out);

/* Lower-case hex of `len` bytes into out (2 * len + 1 bytes). */
void trace_hex(const uint8_t *p, size_t len, char *out);
/* The traceparent that makes `ids`' span the parent of the next hop. */
void trace_format_traceparent(const struct trace_ids *ids, char out[TRACE_PARENT_LEN]);

/* A propagation field this hop replaces (x-b3-*, b3, traceparent), case-insensitive.
 * tracestate passes untouched, as W3C asks of a hop that adds no vendor entry. */
bool trace_field_replaced(const char *name);

#endif
