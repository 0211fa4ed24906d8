// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP/1.1 L7 filter alone (l7_http1_ops), as a byte transform: what it passes to the pod,
 * what it answers the client, and in which order. The decider used here denies every request
 * whose path contains "deny" and records what it was shown. Responses are played by the test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "l7/l7_filter.h"

#define DENIED                                                                                     \
	"HTTP/1.1 403 Forbidden\r\ncontent-length: 19\r\ncontent-type: text/plain\r\n\r\n"         \
	"RBAC: access denied"
#define DENIED_CLOSE                                                                               \
	"HTTP/1.1 403 Forbidden\r\ncontent-length: 19\r\ncontent-type: text/plain\r\n"             \
	"connection: close\r\n\r\nRBAC: access denied"
#define BAD_REQUEST_STATUS "HTTP/1.1 400 Bad Request\r\n"

#define GET(path) "GET " path " HTTP/1.1\r\nHost: pay.example\r\n\r\n"
#define OK(body)  "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n" body

/* What the decider saw last. */
struct seen {
	int calls;
	char method[16], path[256], host[128];
	char headers[1024]; /* "name=value\n" each */
	char events[256];   /* the metrics hooks' calls: "q" per request, the status per answer */
};

struct fx {
	struct l7_filter *f;
	struct l7_buf up, cl;
	struct seen seen;
	char out[1 << 17]; /* take() copies here */
};

static bool decide(void *ctx, struct authz_request *rq, char *why, size_t whylen)
{
	struct seen *s = ctx;
	size_t n = 0;

	assert_false(rq->tcp);
	s->calls++;
	snprintf(s->method, sizeof(s->method), "%s", rq->method ? rq->method : "(null)");
	snprintf(s->path, sizeof(s->path), "%s", rq->path ? rq->path : "(null)");
	snprintf(s->host, sizeof(s->host), "%s", rq->host ? rq->host : "(null)");
	s->headers[0] = '\0';
	for (size_t i = 0; i < rq->nheaders && n < sizeof(s->headers); i++)
		n += snprintf(s->headers + n, sizeof(s->headers) - n, "%s=%s\n",
			      rq->headers[i].name, rq->headers[i].value);
	if (why)
		snprintf(why, whylen, "test");
	return !rq->path || !strstr(rq->path, "deny");
}

static void on_request(void *ctx)
{
	struct seen *s = ctx;

	strncat(s->events, "q ", sizeof(s->events) - strlen(s->events) - 1);
}

/* "200 ", or "400/DPE " when the answer carries Envoy flags */
static void on_response(void *ctx, int status, const char *flags)
{
	struct seen *s = ctx;
	char b[24];

	if (strcmp(flags, "-"))
		snprintf(b, sizeof(b), "%d/%s ", status, flags);
	else
		snprintf(b, sizeof(b), "%d ", status);
	strncat(s->events, b, sizeof(s->events) - strlen(s->events) - 1);
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct l7_decider d = {.decide = decide};

	assert_non_null(x);
	d.ctx = &x->seen;
	x->f = l7_http1_ops.open(&d);
	assert_non_null(x->f);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;

	l7_http1_ops.close(x->f);
	l7_buf_free(&x->up);
	l7_buf_free(&x->cl);
	free(x);
	return 0;
}

/* The filter again, with a decider that normalises paths by `norm`. */
static void reopen(struct fx *x, enum authz_path_norm norm)
{
	struct l7_decider d = {.decide = decide, .ctx = &x->seen, .path_norm = norm};

	l7_http1_ops.close(x->f);
	x->f = l7_http1_ops.open(&d);
	assert_non_null(x->f);
}

static int client_n(struct fx *x, const char *s, size_t n)
{
	return l7_http1_ops.from_client(x->f, (const uint8_t *)s, n, &x->up, &x->cl);
}

static int pod_n(struct fx *x, const char *s, size_t n)
{
	return l7_http1_ops.from_upstream(x->f, (const uint8_t *)s, n, &x->cl, &x->up);
}

#define client(x, s) assert_int_equal(client_n(x, s, strlen(s)), 0)
#define pod(x, s)    assert_int_equal(pod_n(x, s, strlen(s)), 0)
#define pod_rc(x, s) pod_n(x, s, strlen(s))

/* What the filter wrote to `b` since the last take, as a string. */
static const char *take(struct fx *x, struct l7_buf *b)
{
	size_t n = l7_buf_unread(b);

	assert_true(n < sizeof(x->out));
	if (n) /* an empty buffer may have no storage at all */
		memcpy(x->out, b->data + b->off, n);
	x->out[n] = '\0';
	l7_buf_consume(b, n);
	return x->out;
}

#define to_pod(x)    take(x, &(x)->up)
#define to_client(x) take(x, &(x)->cl)

static const struct l7_counts *counts(struct fx *x)
{
	return l7_http1_ops.counts(x->f);
}

/* ---- requests decided ---- */

static void test_get_allowed(void **state)
{
	struct fx *x = *state;

	client(x, GET("/api/ok?x=1"));
	assert_string_equal(to_pod(x), GET("/api/ok?x=1"));
	assert_string_equal(to_client(x), "");
	pod(x, OK("hi"));
	assert_string_equal(to_client(x), OK("hi"));
	assert_int_equal(counts(x)->requests, 1);
	assert_int_equal(counts(x)->denied, 0);
	assert_false(l7_http1_ops.done(x->f));
}

static void test_get_denied_then_next_works(void **state)
{
	struct fx *x = *state;

	client(x, GET("/deny"));
	assert_string_equal(to_pod(x), "");
	assert_string_equal(to_client(x), DENIED);
	assert_false(l7_http1_ops.done(x->f));
	client(x, GET("/ok"));
	assert_string_equal(to_pod(x), GET("/ok"));
	pod(x, OK("hi"));
	assert_string_equal(to_client(x), OK("hi"));
	assert_int_equal(counts(x)->requests, 2);
	assert_int_equal(counts(x)->denied, 1);
}

/* The 403 waits for the response to the request before it, and does not hold up the one after. */
static void test_pipelined_in_order(void **state)
{
	struct fx *x = *state;

	client(x, GET("/a") GET("/deny") GET("/c"));
	assert_string_equal(to_pod(x), GET("/a") GET("/c"));
	assert_string_equal(to_client(x), "");
	pod(x, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n");
	assert_string_equal(to_client(x), "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n");
	pod(x, "a");
	assert_string_equal(to_client(x), "a");
	pod(x, "A");
	assert_string_equal(to_client(x), "A" DENIED);
	pod(x, OK("cc"));
	assert_string_equal(to_client(x), OK("cc"));
	assert_int_equal(counts(x)->requests, 3);
	assert_int_equal(counts(x)->denied, 1);
}

/* The request-metrics hooks: one call per request as it joins the queue, then one per answer in
 * the client's order, with the pod's final status (not an interim 100) or the filter's own 403. */
static void test_metrics_hooks_in_order(void **state)
{
	struct fx *x = *state;
	struct l7_decider d = {
	    .decide = decide, .ctx = &x->seen, .request = on_request, .response = on_response};

	l7_http1_ops.close(x->f);
	x->f = l7_http1_ops.open(&d);
	client(x, GET("/a") GET("/deny") GET("/c"));
	assert_string_equal(x->seen.events, "q q q ");
	pod(x, "HTTP/1.1 100 Continue\r\n\r\n");
	assert_string_equal(x->seen.events, "q q q ");
	pod(x, OK("aa"));
	assert_string_equal(x->seen.events, "q q q 200 403 ");
	pod(x, "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
	assert_string_equal(x->seen.events, "q q q 200 403 503 ");
}

/* Envoy's flags with each status: a malformed request's 400 is DPE (the pod never saw it); the
 * requests the connection's end leaves unanswered are 0 with UC (the pod went first) or DC. */
static void test_metrics_flags(void **state)
{
	struct fx *x = *state;
	struct l7_decider d = {
	    .decide = decide, .ctx = &x->seen, .request = on_request, .response = on_response};

	l7_http1_ops.close(x->f);
	x->f = l7_http1_ops.open(&d);
	client(x, GET("/a") GET("/b"));
	pod(x, OK("aa"));
	l7_http1_ops.end(x->f, true);
	assert_string_equal(x->seen.events, "q q 200 0/UC ");
	l7_http1_ops.end(x->f, false); /* each request is answered once */
	assert_string_equal(x->seen.events, "q q 200 0/UC ");

	l7_http1_ops.close(x->f);
	x->f = l7_http1_ops.open(&d);
	x->seen.events[0] = 0;
	client(x, GET("/a"));
	l7_http1_ops.end(x->f, false);
	assert_string_equal(x->seen.events, "q 0/DC ");

	l7_http1_ops.close(x->f);
	x->f = l7_http1_ops.open(&d);
	x->seen.events[0] = 0;
	client(x, "GET /a HTTP/1.1\r\nHost: a\r\nbad header\r\n\r\n");
	assert_string_equal(x->seen.events, "q 400/DPE ");
	l7_http1_ops.end(x->f, true);
	assert_string_equal(x->seen.events, "q 400/DPE ");
}

static void on_sizes(void *ctx, uint64_t request, uint64_t response)
{
	struct seen *s = ctx;
	char b[48];

	snprintf(b, sizeof(b), "%llu/%llu ", (unsigned long long)request,
		 (unsigned long long)response);
	strncat(s->events, b, sizeof(s->events) - strlen(s->events) - 1);
}

/* The size hook: once an exchange ends, its request as read (head and body) and its response as
 * sent (head and body): the pod's, or the filter's own 403, after that exchange's status, which
 * for the pod's response comes once its body has passed. */
static void test_metrics_sizes(void **state)
{
	struct fx *x = *state;
	struct l7_decider d = {
	    .decide = decide, .ctx = &x->seen, .response = on_response, .sizes = on_sizes};
#define POST5 "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"
	char want[128];

	l7_http1_ops.close(x->f);
	x->f = l7_http1_ops.open(&d);
	client(x, POST5 "he");
	client(x, "llo" GET("/deny"));
	pod(x, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n");
	assert_string_equal(x->seen.events, ""); /* its status waits for its body */
	pod(x, "ok");
	snprintf(want, sizeof(want), "200 %zu/%zu 403 %zu/%zu ", strlen(POST5) + 5,
		 strlen(OK("ok")), strlen(GET("/deny")), strlen(DENIED));
	assert_string_equal(x->seen.events, want);
}

/* A body the pod's close cuts short keeps the pod's status, with UC (Envoy's "200 UC"), and no
 * sizes; the client's leaving is DC. A body that ends at the close is complete. */
static void test_metrics_cut_short(void **state)
{
	struct fx *x = *state;
	struct l7_decider d = {
	    .decide = decide, .ctx = &x->seen, .response = on_response, .sizes = on_sizes};
	char want[64];

	l7_http1_ops.close(x->f);
	x->f = l7_http1_ops.open(&d);
	client(x, GET("/truncate"));
	pod(x, "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc");
	assert_string_equal(x->seen.events, "");
	l7_http1_ops.end(x->f, true);
	assert_string_equal(x->seen.events, "200/UC ");
	l7_http1_ops.end(x->f, true); /* counted once */
	assert_string_equal(x->seen.events, "200/UC ");

	l7_http1_ops.close(x->f);
	x->f = l7_http1_ops.open(&d);
	x->seen.events[0] = 0;
	client(x, GET("/left"));
	pod(x, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n");
	l7_http1_ops.end(x->f, false);
	assert_string_equal(x->seen.events, "200/DC ");

	l7_http1_ops.close(x->f);
	x->f = l7_http1_ops.open(&d);
	x->seen.events[0] = 0;
	client(x, GET("/close"));
	pod(x, "HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nabc");
	l7_http1_ops.end(x->f, true);
	snprintf(want, sizeof(want), "200 %zu/%zu ", strlen(GET("/close")),
		 strlen("HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nabc"));
	assert_string_equal(x->seen.events, want);
}

static void test_denied_bodies_discarded(void **state)
{
	struct fx *x = *state;

	client(x, "POST /deny HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nGET /x HTTP");
	assert_string_equal(to_client(x), DENIED);
	client(x, GET("/after-cl"));
	assert_string_equal(to_pod(x), GET("/after-cl"));
	pod(x, OK("ok"));
	assert_string_equal(to_client(x), OK("ok"));

#define DENIED_CHUNKED                                                                             \
	"POST /deny HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"                     \
	"5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: t\r\n\r\n"

	client(x, DENIED_CHUNKED GET("/after-chunked"));
	assert_string_equal(to_pod(x), GET("/after-chunked"));
	assert_string_equal(to_client(x), DENIED);
	assert_string_equal(x->seen.path, "/after-chunked");
	assert_int_equal(counts(x)->requests, 4);
	assert_int_equal(counts(x)->denied, 2);
}

static void test_allowed_chunked_body_exact(void **state)
{
	struct fx *x = *state;
#define CHUNKED_RQ                                                                                 \
	"POST /up HTTP/1.1\r\nHost: a\r\ntransfer-encoding: gzip, Chunked\r\n\r\n"                 \
	"3;a=b;c\r\nabc\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"                                   \
	"0\r\nChecksum: 1\r\nMore: 2\r\n\r\n"

	client(x, CHUNKED_RQ GET("/next"));
	assert_string_equal(to_pod(x), CHUNKED_RQ GET("/next"));
	assert_int_equal(counts(x)->requests, 2);
	client(x, "PUT /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nxyz");
	assert_string_equal(to_pod(x),
			    "PUT /cl HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nxyz");
}

/* ---- responses: where each one ends ---- */

static void test_response_framing(void **state)
{
	struct fx *x = *state;
	const char *head = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n";
	const char *chunked = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
			      "4\r\nwxyz\r\n0\r\nT: 1\r\n\r\n";

	/* HEAD, 204, 304, 100 + final, chunked: each ends where the next 403 can follow */
	client(x, "HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n" GET("/deny"));
	pod(x, head);
	assert_string_equal(to_client(x), "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n" DENIED);
	client(x, GET("/n") GET("/deny"));
	pod(x, "HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n");
	assert_string_equal(to_client(x),
			    "HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n" DENIED);
	client(x, GET("/m") GET("/deny"));
	pod(x, "HTTP/1.1 304 Not Modified\r\netag: x\r\n\r\n");
	assert_string_equal(to_client(x), "HTTP/1.1 304 Not Modified\r\netag: x\r\n\r\n" DENIED);
	client(x, GET("/i") GET("/deny"));
	pod(x, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: x\r\n\r\n");
	assert_string_equal(
	    to_client(x),
	    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: x\r\n\r\n");
	pod(x, OK("ii"));
	assert_string_equal(to_client(x), OK("ii") DENIED);
	client(x, GET("/c") GET("/deny"));
	pod(x, chunked);
	assert_string_equal(to_client(x), "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
					  "4\r\nwxyz\r\n0\r\nT: 1\r\n\r\n" DENIED);
	assert_false(l7_http1_ops.done(x->f));
}

/* No length: the body runs until the pod closes, so nothing after it is answered. */
static void test_response_until_close(void **state)
{
	struct fx *x = *state;

	client(x, GET("/stream") GET("/deny"));
	pod(x, "HTTP/1.1 200 OK\r\n\r\nsome");
	pod(x, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nxx");
	assert_string_equal(to_client(x), "HTTP/1.1 200 OK\r\n\r\nsome"
					  "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nxx");
}

static void test_response_close_ends(void **state)
{
	struct fx *x = *state;

	client(x, GET("/a") GET("/deny"));
	pod(x, "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\nz");
	assert_string_equal(to_client(x),
			    "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 1\r\n\r\nz");
	assert_true(l7_http1_ops.done(x->f));

	teardown(state); /* the client's Connection: close ends it the same way */
	setup(state);
	x = *state;
	client(x, "GET /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" GET("/b"));
	assert_string_equal(to_pod(x), "GET /a HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
	pod(x, "HTTP/1.1 200 OK\r\n");
	assert_false(l7_http1_ops.done(x->f));
	pod(x, "content-length: 2\r\n\r\nok");
	assert_string_equal(to_client(x), "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
	assert_true(l7_http1_ops.done(x->f));
}

static void test_bad_responses(void **state)
{
	struct fx *x = *state;

	assert_int_equal(pod_rc(x, "HTTP/1.1 408 Timeout\r\n\r\n"), -EPROTO); /* unasked */
	teardown(state);
	setup(state);
	x = *state;
	client(x, GET("/a"));
	assert_int_equal(pod_rc(x, "HTTP/1.1 2x0 OK\r\n\r\n"), -EPROTO);
	teardown(state);
	setup(state);
	x = *state;
	client(x, GET("/a"));
	assert_int_equal(pod_rc(x, "HTTP/1.1 101 Switching\r\n\r\n"), -EPROTO); /* no Upgrade */
	teardown(state);
	setup(state);
	x = *state;
	client(x, GET("/a"));
	assert_int_equal(pod_rc(x, "HTTP/1.1 200 OK\r\ncontent-length: 1\r\n x\r\n\r\n"), -EPROTO);
}

/* ---- malformed requests ---- */

static void expect_answer_n(void **state, const char *before, const char *bad, size_t n,
			    const char *status)
{
	struct fx *x;

	teardown(state);
	setup(state);
	x = *state;
	client(x, before);
	assert_int_equal(client_n(x, bad, n), 0);
	assert_string_equal(to_pod(x), before);
	if (before[0]) { /* the 400 waits its turn */
		assert_string_equal(to_client(x), "");
		pod(x, OK("ok"));
		assert_memory_equal(to_client(x), OK("ok"), strlen(OK("ok")));
		assert_memory_equal(x->out + strlen(OK("ok")), status, strlen(status));
	} else {
		assert_memory_equal(to_client(x), status, strlen(status));
	}
	assert_non_null(strstr(x->out, "connection: close\r\n"));
	assert_true(l7_http1_ops.done(x->f));
	assert_int_equal(counts(x)->bad, 1);
	client(x, GET("/ignored"));
	assert_string_equal(to_pod(x), "");
}

/* `bad` is answered 400 in its turn (after `before`'s response), reaches nothing, and ends it. */
static void expect_400(void **state, const char *before, const char *bad)
{
	expect_answer_n(state, before, bad, strlen(bad), BAD_REQUEST_STATUS);
}

static void test_smuggling_refused(void **state)
{
	expect_400(state, GET("/first"),
		   "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
		   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
	expect_400(state, "",
		   "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n");
	expect_400(state, "", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4, 5\r\n\r\n");
	expect_400(state, "", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -4\r\n\r\n");
	expect_400(state, "", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n");
	expect_400(state, "",
		   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
	expect_400(state, "", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n");
	expect_400(state, "", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n");
	expect_400(state, "", "GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n");
	expect_400(state, "", "GET / HTTP/1.1\nHost: a\n\n");
	expect_400(state, "", "GET / HTTP/1.1\r\n\r\n");
	expect_400(state, "", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
	expect_400(state, "", "GET / HTTP/2.0\r\nHost: a\r\n\r\n");
	expect_400(state, "", "GET nopath HTTP/1.1\r\nHost: a\r\n\r\n");
	/* the same, in the other orders and spellings servers have disagreed on */
	expect_400(state, GET("/first"),
		   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		   "Content-Length: 4\r\n\r\n0\r\n\r\n");
	expect_400(state, "",
		   "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
	expect_400(state, "", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n");
	expect_400(state, "", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +4\r\n\r\n");
	expect_400(state, "", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4 4\r\n\r\n");
	expect_400(state, "", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x4\r\n\r\n");
	expect_400(state, "",
		   "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n");
	expect_400(state, "", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\tfolded\r\n\r\n");
	expect_400(state, "", "GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n");
	expect_400(state, "", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n\n");
	static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\n\x00X: 1\r\n\r\n";

	expect_answer_n(state, "", nul, sizeof(nul) - 1, BAD_REQUEST_STATUS);
}

/* Where a request head is under way, the relay bounds how long it may take (slowloris): from its
 * first byte to its blank line, and not between requests or in a body. */
static void test_in_head(void **state)
{
	struct fx *x = *state;

	assert_false(l7_http1_ops.in_head(x->f));
	client(x, "GET /a HT");
	assert_true(l7_http1_ops.in_head(x->f));
	client(x, "TP/1.1\r\nHost: a\r\n\r\n");
	assert_false(l7_http1_ops.in_head(x->f));
	client(x, "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nab");
	assert_false(l7_http1_ops.in_head(x->f));
	client(x, "cdG");
	assert_true(l7_http1_ops.in_head(x->f));
}

/* A broken chunk in a body being discarded: the 403 stands, then 400 and the end. */
static void test_broken_chunk_in_denied_body(void **state)
{
	struct fx *x = *state;

	client(x, "POST /deny HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
	assert_memory_equal(to_client(x), DENIED BAD_REQUEST_STATUS,
			    strlen(DENIED BAD_REQUEST_STATUS));
	assert_true(l7_http1_ops.done(x->f));
	assert_int_equal(counts(x)->denied, 1);
	assert_int_equal(counts(x)->bad, 1);
}

#define CHUNKED_HEAD(path) "POST " path " HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

/* A chunked body whose first chunk (5 bytes) has `size_line` and whose trailer section is
 * `trailers`, fed one byte at a time to an allowed request: the filter's return for the byte
 * where it stopped, and what reached the pod. */
static int chunked_bytewise(void **state, const char *size_line, const char *trailers, char *pod,
			    size_t cap)
{
	char rq[512];
	struct fx *x;
	int rc = 0;

	teardown(state);
	setup(state);
	x = *state;
	snprintf(rq, sizeof(rq), CHUNKED_HEAD("/up") "%s\r\nhello\r\n0\r\n%s\r\n", size_line,
		 trailers);
	for (size_t i = 0; rq[i] && !rc; i++)
		rc = client_n(x, rq + i, 1);
	snprintf(pod, cap, "%s", to_pod(x));
	return rc;
}

/* RFC 9112 §7.1.1: 1*HEXDIG, then extensions ";" name [= token / quoted-string] with blanks
 * around ';' and '=' only. Anything else ends the connection (the pod has part of a request). */
static void test_chunk_size_line_strict(void **state)
{
	static const char *const good[] = {"5",
					   "05",
					   "5;a",
					   "5 ;a",
					   "5\t; a = b ;c=d",
					   "5;n=\"\"",
					   "5;n=\"x;y\\\"z\"",
					   "5;n=\" \\\t\"",
					   "5;a;b;c=\"\xc3\"",
					   "0000000000000005"};
	static const char *const bad[] = {
	    "5 junk",
	    "5 ",
	    "5;",
	    "5;=b",
	    "5;a=",
	    "5;a=b c",
	    "5;a b",
	    "5;a ",
	    "5;a=\"x",
	    "5;a=\"x\"y",
	    "5;a\x01",
	    "5;a=\"\x7f\"",
	    ";a",
	    "0x5",
	    "-5",
	    "+5",
	    "5,a",
	    "5;a=b;",
	    "5;a=(b)",
	    " 5",
	    "5 5",
	    "0000000000000000005",
	    "10000000000000005",
	};
	size_t head = strlen(CHUNKED_HEAD("/up"));
	char pod[1024], want[1024];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = chunked_bytewise(state, good[i], "", pod, sizeof(pod));

		if (rc || (snprintf(want, sizeof(want),
				    CHUNKED_HEAD("/up") "%s\r\nhello\r\n0\r\n\r\n", good[i]),
			   strcmp(pod, want)))
			fail_msg("chunk size line \"%s\": rc %d, the pod got\n%s", good[i], rc,
				 pod);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = chunked_bytewise(state, bad[i], "", pod, sizeof(pod));

		/* bytes pass as they are read: the pod has the line's start, never its end */
		if (rc != -EPROTO || strncmp(pod, CHUNKED_HEAD("/up"), head) ||
		    strchr(pod + head, '\n'))
			fail_msg("chunk size line \"%s\": rc %d, the pod got\n%s", bad[i], rc, pod);
	}
}

/* Trailer fields follow the head's field rules. */
static void test_trailer_fields_strict(void **state)
{
	static const char *const good[] = {"X: 1\r\n", "X:\r\n", "X: a\tb\xff\r\nY: 2\r\n",
					   "!#$%&'*+-.^_`|~: v\r\n"};
	static const char *const bad[] = {
	    "X : 1\r\n",    " X: 1\r\n",    "\tX: 1\r\n",   ": 1\r\n",	 "X 1\r\n",
	    "X\x01: 1\r\n", "X: a\x01\r\n", "X: a\x7f\r\n", "X(: 1\r\n", "X: 1\r\n folded\r\n"};
	char pod[1024];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (chunked_bytewise(state, "5", good[i], pod, sizeof(pod)))
			fail_msg("trailer \"%s\" refused", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (chunked_bytewise(state, "5", bad[i], pod, sizeof(pod)) != -EPROTO)
			fail_msg("trailer \"%s\" let through", bad[i]);
}

/* A denied request's body is not forwarded: a bad size line there is answered 400. */
static void test_chunk_junk_in_denied_body(void **state)
{
	struct fx *x = *state;

	client(x, CHUNKED_HEAD("/deny") "5 junk\r\nhello\r\n0\r\n\r\n");
	assert_string_equal(to_pod(x), "");
	assert_memory_equal(to_client(x), DENIED BAD_REQUEST_STATUS,
			    strlen(DENIED BAD_REQUEST_STATUS));
	assert_true(l7_http1_ops.done(x->f));
	assert_int_equal(counts(x)->bad, 1);
}

static void test_broken_chunk_in_forwarded_body(void **state)
{
	struct fx *x = *state;

	client(x, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab");
	assert_int_equal(client_n(x, "XX", 2), -EPROTO); /* the pod has half a body: close */
}

static void test_header_too_large(void **state)
{
	struct fx *x = *state;
	size_t n = 70 << 10;
	char *big = malloc(n + 1);

	assert_non_null(big);
	memset(big, 'a', n);
	big[n] = '\0';
	memcpy(big, "GET / HTTP/1.1\r\nHost: a\r\nX: ", strlen("GET / HTTP/1.1\r\nHost: a\r\nX: "));
	client(x, big);
	free(big);
	assert_string_equal(to_pod(x), "");
	assert_memory_equal(to_client(x), "HTTP/1.1 431 ", 13);
	assert_non_null(strstr(x->out, "connection: close\r\n"));
	assert_true(l7_http1_ops.done(x->f));
}

/* ---- the request the pod receives is the one decided ---- */

/* `rq` reaches the pod as `want`, decided on path `decided`. */
static void expect_forward(struct fx *x, const char *rq, const char *want, const char *decided)
{
	client(x, rq);
	assert_string_equal(x->seen.path, decided);
	assert_string_equal(to_pod(x), want);
	pod(x, OK("ok"));
	assert_string_equal(to_client(x), OK("ok"));
}

static void test_forward_normalised_path(void **state)
{
	struct fx *x = *state;

	expect_forward(x, GET("/accounts/export-all/../../health"), GET("/health"), "/health");
	expect_forward(x, GET("/%61dmin"), GET("/admin"), "/admin");
	expect_forward(x, GET("/a/./b/%7Euser/%2e%2E/c?x=/../y&z=%61"), GET("/a/b/c?x=/../y&z=%61"),
		       "/a/b/c?x=/../y&z=%61");
	expect_forward(x, GET("/a%2fb/%2e/c"), GET("/a%2Fb/c"), "/a%2Fb/c"); /* '/' stays escaped */
	expect_forward(x, GET("/deny/../ok"), GET("/ok"), "/ok");
	expect_forward(x, GET("//store//cart/.."), GET("//store//"), "//store//");
#define RQ10(target)                                                                               \
	"POST " target " HTTP/1.0\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nhi"
	expect_forward(x, RQ10("/x/.."), RQ10("/"), "/");
	expect_forward(x, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		       "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "*");
	/* what it turns into is what is decided: each of these is /deny */
	client(x, GET("/ok/../deny") GET("/x/%2E%2E/deny") GET("/%64eny"));
	assert_string_equal(to_pod(x), "");
	assert_string_equal(to_client(x), DENIED DENIED DENIED);
	assert_int_equal(counts(x)->denied, 3);
	assert_int_equal(counts(x)->bad, 0);
	/* the policy set's normalisation: MERGE_SLASHES joins what BASE keeps */
	reopen(x, AUTHZ_PATH_MERGE_SLASHES);
	expect_forward(x, GET("//store//cart/..?q=//"), GET("/store/?q=//"), "/store/?q=//");
}

/* RFC 9112 §3.2.2: an absolute-form target's authority is the one that counts, so it is decided
 * and it is the Host the pod receives, with the target in origin-form. */
static void test_absolute_form_one_authority(void **state)
{
	struct fx *x = *state;

	client(x, "GET http://public.example/x/../y HTTP/1.1\r\nHost: admin.internal\r\n"
		  "Accept: */*\r\n\r\n");
	assert_string_equal(x->seen.host, "public.example");
	assert_string_equal(x->seen.path, "/y");
	assert_string_equal(x->seen.headers, "Host=public.example\nAccept=*/*\n");
	assert_string_equal(to_pod(x),
			    "GET /y HTTP/1.1\r\nHost: public.example\r\nAccept: */*\r\n\r\n");
	client(x, "GET HTTPS://a.example:8443?q=1 HTTP/1.1\r\nX: 1\r\nhOsT:  b  \r\n\r\n");
	assert_string_equal(x->seen.host, "a.example:8443");
	assert_string_equal(to_pod(x),
			    "GET /?q=1 HTTP/1.1\r\nX: 1\r\nhOsT: a.example:8443\r\n\r\n");
	/* HTTP/1.0 may go without Host: the decided one is added */
	client(x, "GET http://[::1]:81/z HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	assert_string_equal(x->seen.host, "[::1]:81");
	assert_string_equal(to_pod(x), "GET /z HTTP/1.0\r\nhost: [::1]:81\r\n"
				       "Connection: keep-alive\r\n\r\n");
	client(x, "GET http://ok.example/deny HTTP/1.1\r\nHost: ok.example\r\n\r\n");
	assert_string_equal(to_pod(x), "");
	assert_int_equal(counts(x)->denied, 1);
}

/* Targets Envoy refuses, and targets that are no form at all. */
static void test_bad_targets(void **state)
{
	static const char *const targets[] = {
	    "/public#/../admin",
	    "/a?b#c",
	    "http://a/x#f",
	    "http://a#f",
	    "ftp://a/x",
	    "http:///x",
	    "http://",
	    "http://user@a/x",
	    "http://a\\b/x",
	    "http://a%20b c/x",
	    "//a b",
	    "*",
	    "a/b",
	    "/a\tb",
	    "/a\x01"
	    "b",
	    "/a\x7f",
	    "/\xc3\xa9",
	    "",
	    "http:/a/x",
	};
	struct fx *x = *state;

	client(x, "GET HTTP://a/x/./ HTTP/1.1\r\nHost: a\r\n\r\n"); /* a scheme in any case */
	assert_string_equal(to_pod(x), "GET /x/ HTTP/1.1\r\nHost: a\r\n\r\n");
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		char rq[256];

		snprintf(rq, sizeof(rq), "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", targets[i]);
		expect_400(state, GET("/first"), rq);
	}
	expect_400(state, "", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n");
	expect_400(state, "", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n");
	expect_400(state, "", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n");
}

/* RFC 9112 §3.2: one Host, with a valid authority; empty is valid (no authority). */
static void test_host_rules(void **state)
{
	static const char *const bad[] = {
	    "a b", "a/b", "a\\b", "user@a", "a\tb", "a?b", "a\"b", "a<b>", "\xc3\xa9.example",
	};
	struct fx *x = *state;

	client(x, "GET / HTTP/1.1\r\nHost:\r\n\r\nGET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
	assert_string_equal(to_pod(x), "GET / HTTP/1.1\r\nHost:\r\n\r\n"
				       "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
	assert_string_equal(x->seen.host, "[::1]:8080");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char rq[256];

		snprintf(rq, sizeof(rq), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", bad[i]);
		expect_400(state, "", rq);
	}
	expect_400(state, "", "GET / HTTP/1.1\r\nX: 1\r\n\r\n");
	expect_400(state, "", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n");
	expect_400(state, "", "GET http://a/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
	expect_400(state, "", "GET http://a/ HTTP/1.1\r\nHost: a/b\r\n\r\n");
}

/* RFC 9110 §5.1, §5.5: names are tokens; values hold no CTL but HTAB (obs-text is allowed). */
static void test_field_rules(void **state)
{
	static const char *const bad[] = {
	    "Bad Name: x", "X@: y",	 "(x): y",     ": y",	   "X\x7f: y",
	    "X\xc3: y",	   "X: a\x01 b", "X: \x1b[0m", "X: a\x7f", "X: a\x0b",
	};
	static const char nul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
	struct fx *x = *state;

	client(x, "GET / HTTP/1.1\r\nHost: a\r\nX-Tab: a\tb\r\nX-Obs: caf\xc3\xa9\xff\r\n"
		  "X-Tok: !#$%&'*+-.^_`|~\r\n\r\n");
	assert_string_equal(to_pod(x), "GET / HTTP/1.1\r\nHost: a\r\nX-Tab: a\tb\r\n"
				       "X-Obs: caf\xc3\xa9\xff\r\nX-Tok: !#$%&'*+-.^_`|~\r\n\r\n");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char rq[256];

		snprintf(rq, sizeof(rq), "GET / HTTP/1.1\r\nHost: a\r\n%s\r\n\r\n", bad[i]);
		expect_400(state, GET("/first"), rq);
	}
	expect_answer_n(state, "", nul, sizeof(nul) - 1, BAD_REQUEST_STATUS);
}

/* Envoy's default max_headers_count: 100 fields pass, one more is 431. */
static void test_too_many_fields(void **state)
{
	char rq[4096];
	struct fx *x = *state;
	size_t n = snprintf(rq, sizeof(rq), "GET / HTTP/1.1\r\nHost: a\r\n");

	for (int i = 1; i < 100; i++)
		n += snprintf(rq + n, sizeof(rq) - n, "X: %d\r\n", i);
	snprintf(rq + n, sizeof(rq) - n, "\r\n");
	client(x, rq);
	assert_string_equal(to_pod(x), rq);
	snprintf(rq + n, sizeof(rq) - n, "X: 100\r\n\r\n");
	expect_answer_n(state, GET("/first"), rq, strlen(rq), "HTTP/1.1 431 ");
}

/* ---- the connection's end ---- */

static void test_denied_close(void **state)
{
	struct fx *x = *state;

	client(x, "GET /deny HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n" GET("/more"));
	assert_string_equal(to_client(x), DENIED_CLOSE);
	assert_string_equal(to_pod(x), "");
	assert_true(l7_http1_ops.done(x->f));

	teardown(state); /* HTTP/1.0 without keep-alive closes too; with it, it does not */
	setup(state);
	x = *state;
	client(x, "GET /deny HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	assert_non_null(strstr(to_client(x), "connection: keep-alive\r\n"));
	assert_false(l7_http1_ops.done(x->f));
	client(x, "GET /deny HTTP/1.0\r\n\r\n");
	assert_string_equal(to_client(x), DENIED_CLOSE);
	assert_true(l7_http1_ops.done(x->f));
}

static void test_denied_expect_continue(void **state)
{
	struct fx *x = *state;

	client(x, "PUT /deny HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n"
		  "Expect: 100-continue\r\n\r\n");
	assert_string_equal(to_client(x), DENIED_CLOSE);
	assert_true(l7_http1_ops.done(x->f));
}

static void test_denied_head_has_no_body(void **state)
{
	struct fx *x = *state;

	client(x, "HEAD /deny HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_string_equal(to_client(x), "HTTP/1.1 403 Forbidden\r\ncontent-length: 19\r\n"
					  "content-type: text/plain\r\n\r\n");
}

/* ---- switching protocols ---- */

static void test_upgrade_tunnel(void **state)
{
	struct fx *x = *state;
	const char *rq =
	    "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";

	client(x, rq);
	client(x, "early GET /deny HTTP/1.1\r\n");
	assert_string_equal(to_pod(x), rq); /* the rest is held until the pod answers */
	pod(x, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nframes");
	assert_string_equal(to_client(x),
			    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nframes");
	assert_string_equal(to_pod(x), "early GET /deny HTTP/1.1\r\n");
	client(x, GET("/deny"));
	assert_string_equal(to_pod(x), GET("/deny"));
	pod(x, "HTTP/1.1 garbage");
	assert_string_equal(to_client(x), "HTTP/1.1 garbage");
	assert_int_equal(counts(x)->requests, 1);
}

static void test_upgrade_refused_resumes(void **state)
{
	struct fx *x = *state;
	const char *rq = "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n";

	client(x, rq);
	client(x, GET("/deny") GET("/b"));
	assert_string_equal(to_pod(x), rq);
	pod(x, OK("no"));
	assert_string_equal(to_client(x), OK("no") DENIED);
	assert_string_equal(to_pod(x), GET("/b"));
}

#define NO_TUNNEL                                                                                  \
	"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\ncontent-type: text/plain\r\n"              \
	"connection: close\r\n\r\n"

/* No CONNECT is configured: refused in its turn without asking the decider, whatever its
 * target, and what follows (meant for the tunnel) is not read as requests. */
static void test_connect_refused(void **state)
{
	static const char *const rqs[] = {
	    "CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n",
	    "CONNECT /admin HTTP/1.1\r\nHost: a\r\n\r\nhello",
	    "CONNECT db:5432 HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
	};
	struct fx *x = *state;

	for (size_t i = 0; i < sizeof(rqs) / sizeof(rqs[0]); i++) {
		teardown(state);
		setup(state);
		x = *state;
		client(x, GET("/a"));
		client(x, rqs[i]);
		assert_string_equal(to_pod(x), GET("/a"));
		assert_int_equal(x->seen.calls, 1);
		/* a 2xx opens no tunnel: it answers /a, then the refusal, then the end */
		pod(x, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
		assert_string_equal(to_client(x),
				    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok" NO_TUNNEL);
		assert_true(l7_http1_ops.done(x->f));
		assert_int_equal(counts(x)->requests, 2);
		assert_int_equal(counts(x)->denied, 1);
		assert_int_equal(counts(x)->bad, 0);
		client(x, GET("/more"));
		assert_string_equal(to_pod(x), "");
	}
}

/* Only a 101 to an upgrade that was allowed and forwarded opens a tunnel. */
static void test_denied_upgrade_no_tunnel(void **state)
{
	struct fx *x = *state;

	client(x, "GET /deny HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
		  "\r\n" GET("/b"));
	assert_string_equal(to_client(x), DENIED);
	assert_string_equal(to_pod(x), GET("/b")); /* read as a request, not held */
	assert_int_equal(pod_rc(x, "HTTP/1.1 101 Switching Protocols\r\n\r\n"), -EPROTO);
}

/* An h2c upgrade would carry HTTP/2 past the filter: the pod never sees the offer. */
static void test_h2c_upgrade_stripped(void **state)
{
	struct fx *x = *state;

	client(x,
	       "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
	       "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nAccept: */*\r\n\r\n");
	assert_string_equal(to_pod(x),
			    "GET / HTTP/1.1\r\nHost: a\r\n"
			    "Connection: Upgrade, HTTP2-Settings\r\nAccept: */*\r\n\r\n");
	assert_int_equal(pod_rc(x, "HTTP/1.1 101 Switching Protocols\r\n\r\n"), -EPROTO);
}

/* ---- what the decider sees ---- */

static void test_decider_inputs(void **state)
{
	struct fx *x = *state;

	client(x, "POST /api/payments/x?y=%2F HTTP/1.1\r\nhOsT: pay.example:8080\r\n"
		  "X-Token:  abc  \r\nAccept: */*\r\ncontent-length: 0\r\n\r\n");
	assert_int_equal(x->seen.calls, 1);
	assert_string_equal(x->seen.method, "POST");
	assert_string_equal(x->seen.path, "/api/payments/x?y=%2F");
	assert_string_equal(x->seen.host, "pay.example:8080");
	assert_string_equal(x->seen.headers, "hOsT=pay.example:8080\nX-Token=abc\nAccept=*/*\n"
					     "content-length=0\n");
	/* absolute-form: path and host from the target */
	client(x, "GET http://other.example:81?q=1 HTTP/1.1\r\nHost: ignored\r\n\r\n");
	assert_string_equal(x->seen.path, "/?q=1");
	assert_string_equal(x->seen.host, "other.example:81");
	client(x, "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_string_equal(x->seen.path, "*");
	/* leading blank lines are skipped, not passed on */
	to_pod(x);
	client(x, "\r\n\r\n" GET("/after-blank"));
	assert_string_equal(x->seen.path, "/after-blank");
	assert_string_equal(to_pod(x), GET("/after-blank"));
	assert_int_equal(x->seen.calls, 4);
}

/* ---- bytes one at a time ---- */

struct step {
	bool pod;
	const char *bytes;
};

static const struct step conversation[] = {
    {false, "\r\nPOST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "4;x\r\nabcd\r\n0\r\nT: v\r\n\r\n"},
    {false, "POST /deny HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"},
    {false, "HEAD /c HTTP/1.1\r\nHost: a\r\n\r\n"},
    {false,
     "GET /deny HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nq\r\n0\r\n\r\n"},
    {true, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	   "3\r\nabc\r\n0\r\n\r\n"},
    {true, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"},
    {false, "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\n\r\nheld"},
    {true, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\ntunnel"},
    {false, "after"},
};

static void play(bool bytewise, char *up, char *cl, size_t cap)
{
	struct fx *x;
	void *st = NULL;

	setup(&st);
	x = st;
	for (size_t i = 0; i < sizeof(conversation) / sizeof(conversation[0]); i++) {
		const struct step *s = &conversation[i];
		size_t n = strlen(s->bytes), step = bytewise ? 1 : n;

		for (size_t at = 0; at < n; at += step)
			assert_int_equal(s->pod ? pod_n(x, s->bytes + at, step)
						: client_n(x, s->bytes + at, step),
					 0);
	}
	assert_true(l7_buf_unread(&x->up) < cap && l7_buf_unread(&x->cl) < cap);
	snprintf(up, cap, "%s", take(x, &x->up));
	snprintf(cl, cap, "%s", take(x, &x->cl));
	assert_int_equal(counts(x)->requests, 5);
	assert_int_equal(counts(x)->denied, 2);
	teardown(&st);
}

static void test_one_byte_at_a_time(void **state)
{
	char up1[2048], cl1[2048], up2[2048], cl2[2048];

	(void)state;
	play(false, up1, cl1, sizeof(up1));
	play(true, up2, cl2, sizeof(up2));
	assert_string_equal(up1, up2);
	assert_string_equal(cl1, cl2);
	assert_non_null(strstr(cl1, "0\r\n\r\n" DENIED "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n"
				    "\r\n" DENIED "HTTP/1.1 101"));
	assert_non_null(strstr(up1, "abcd\r\n0\r\nT: v\r\n\r\nHEAD /c"));
	assert_non_null(strstr(up1, "\r\n\r\nheldafter"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_get_allowed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_get_denied_then_next_works, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pipelined_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metrics_hooks_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metrics_flags, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metrics_sizes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_metrics_cut_short, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_denied_bodies_discarded, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_allowed_chunked_body_exact, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_response_framing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_response_until_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_response_close_ends, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_responses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forward_normalised_path, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_absolute_form_one_authority, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_targets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_field_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_too_many_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_smuggling_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_in_head, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chunk_size_line_strict, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_trailer_fields_strict, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chunk_junk_in_denied_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_chunk_in_forwarded_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_chunk_in_denied_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_header_too_large, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_denied_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_denied_expect_continue, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_denied_head_has_no_body, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upgrade_tunnel, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_upgrade_refused_resumes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_denied_upgrade_no_tunnel, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_h2c_upgrade_stripped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_decider_inputs, setup, teardown),
	    cmocka_unit_test(test_one_byte_at_a_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
