/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP part of a VirtualService route, typed: what skiffd's L7 router (user/l7route/) needs
 * to decide each request. Parsed and validated by model_istio_vs_http.c; included by model.h.
 * Absent optional actions are NULL pointers, so "not set" and "set to zero" stay apart.
 */
#ifndef SKIFF_MODEL_HTTP_H
#define SKIFF_MODEL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct m_regex;

enum m_sm_kind {
	M_SM_NONE = 0, /* not given: matches anything */
	M_SM_EXACT,
	M_SM_PREFIX,
	M_SM_REGEX,
	M_SM_PRESENT, /* `{}` on a header: the header is present, any value */
};

/* Istio StringMatch. A regex is compiled once, at load (whole-string match, RE2 syntax). */
struct m_string_match {
	enum m_sm_kind kind;
	char *value;
	struct m_regex *re;
};

/* A header, query parameter or withoutHeaders entry: a name and how its value must match. */
struct m_named_match {
	char *name; /* header names lower-cased (HTTP headers compare without case) */
	struct m_string_match m;
};

/* One HTTPMatchRequest: all conditions must hold (AND); the route's list of them is an OR. */
struct m_http_match {
	char *name;
	struct m_string_match uri, scheme, method, authority;
	struct m_named_match *headers;
	size_t nheaders;
	struct m_named_match *without_headers;
	size_t nwithout_headers;
	struct m_named_match *query_params;
	size_t nquery_params;
	uint16_t port; /* 0: any */
	struct labels source_labels;
	char *source_namespace; /* NULL: any */
	bool ignore_uri_case;
	int line;
};

struct m_header_ops {
	struct labels set; /* replace */
	struct labels add; /* append */
	char **remove;
	size_t nremove;
};

/* HTTPRoute.headers and HTTPRouteDestination.headers. */
struct m_headers {
	struct m_header_ops request, response;
};

struct m_rewrite {
	char *uri;	       /* replaces the matched prefix (or the whole path for exact/regex) */
	char *authority;       /* replaces the Host / :authority */
	struct m_regex *regex; /* uriRegexRewrite.match, not anchored (every match replaced) */
	char *regex_match, *regex_rewrite;
};

enum m_redirect_port {
	M_REDIRECT_PORT_KEEP = 0,
	M_REDIRECT_PORT_SET,
	M_REDIRECT_FROM_REQUEST,
	M_REDIRECT_FROM_PROTOCOL
};

struct m_redirect {
	char *uri, *authority, *scheme; /* NULL: keep the request's */
	enum m_redirect_port port_mode;
	uint16_t port;
	uint16_t code; /* 301 unless set */
};

struct m_direct_response {
	uint16_t status;
	char *body; /* decoded (bytes are base64 in YAML); NULL: no body */
	size_t body_len;
};

/* retryOn conditions, Envoy's names. Bare status codes set M_RETRY_STATUS_CODES and `codes`. */
enum m_retry_on {
	M_RETRY_5XX = 1u << 0,
	M_RETRY_GATEWAY_ERROR = 1u << 1,
	M_RETRY_RESET = 1u << 2,
	M_RETRY_RESET_BEFORE_REQUEST = 1u << 3,
	M_RETRY_CONNECT_FAILURE = 1u << 4,
	M_RETRY_RETRIABLE_4XX = 1u << 5,
	M_RETRY_REFUSED_STREAM = 1u << 6,
	M_RETRY_STATUS_CODES = 1u << 7,
	M_RETRY_RETRIABLE_HEADERS = 1u << 8,
	M_RETRY_ENVOY_RATELIMITED = 1u << 9,
	M_RETRY_HTTP3_POST_CONNECT = 1u << 10,
	M_RETRY_CANCELLED = 1u << 11, /* gRPC status names: from grpc-status */
	M_RETRY_DEADLINE_EXCEEDED = 1u << 12,
	M_RETRY_INTERNAL = 1u << 13,
	M_RETRY_RESOURCE_EXHAUSTED = 1u << 14,
	M_RETRY_UNAVAILABLE = 1u << 15,
};

/* One retryOn token -> its bit, or 0 when it is not a condition name (maybe a status code). */
uint32_t m_retry_on_bit(const char *tok);

struct m_retries {
	uint32_t attempts;	    /* retries after the first try; 0 disables */
	int64_t per_try_timeout_ms; /* 0: the route timeout bounds each try */
	uint32_t on;		    /* M_RETRY_* */
	uint16_t *codes;	    /* retriable status codes */
	size_t ncodes;
	bool remote_localities; /* retryRemoteLocalities */
	int64_t backoff_ms;	/* backoff: the base interval; 0: Envoy's 25 ms */
	int line;
};

/* What Istio sets when a route has no retries: 2 attempts on connect-failure, refused-stream,
 * unavailable, cancelled and retriable-status-codes with 503. */
void m_retries_default(struct m_retries *r);

struct m_fault {
	bool delay;
	int64_t delay_ms;
	double delay_pct; /* 0..100; 100 when percentage is absent */
	bool abort;
	uint16_t abort_status; /* httpStatus, or 0 with abort_grpc */
	char *abort_grpc;      /* grpcStatus name, or NULL */
	double abort_pct;
};

struct m_mirror {
	struct m_destination dest;
	double pct; /* 0..100; 100 when not given */
	int line;
};

struct m_http_route {
	char *name;
	struct m_http_match *matches; /* none: matches every request */
	size_t nmatches;
	struct m_rewrite *rewrite;
	struct m_redirect *redirect;
	struct m_direct_response *direct;
	struct m_retries *retries; /* NULL: Istio's default policy */
	struct m_fault *fault;
	struct m_headers *headers;
	int64_t timeout_ms; /* 0: none (Istio's default for HTTP routes) */
	struct m_mirror *mirrors;
	size_t nmirrors;
};

/* Does this http route need an L7 proxy (anything beyond weights)? */
bool m_http_route_is_l7(const struct m_route *r);

void m_http_route_free(struct m_http_route *h);
void m_headers_free(struct m_headers *h);

#endif
