// SPDX-License-Identifier: Apache-2.0
/*
 * The L7 router's HTTP/2 mapping without sockets: a stream's pseudo-headers and fields as route
 * matching reads them, the request head toward the endpoint (rewrite, header operations,
 * lower-case names, hop-by-hop fields dropped, gRPC's `te: trailers` kept), the retry decision
 * reading grpc-status from the trailers, REFUSED_STREAM under refused-stream, gRPC status names,
 * request_protocol "grpc" in the metrics, and the flood rules at their bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include "l7/l7_h2_limits.h"
#include "l7route/route_h2.h"
#include "model/model_istio_common.h"

static const char *const YAML =
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {skiff.io/mesh: enabled}\n"
    "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
    "spec:\n  clusterIP: 10.96.0.5\n  selector: {app: web}\n  ports:\n  - {name: grpc, port: 80, "
    "targetPort: 8080}\n"
    "---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\n"
    "spec: {nodeName: n1}\nstatus: {podIP: 10.0.0.1}\n"
    "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-a\n"
    "  namespace: shop\n  labels: {kubernetes.io/service-name: web}\naddressType: IPv4\n"
    "ports: [{name: grpc, port: 8080}]\nendpoints:\n"
    "- addresses: [10.0.0.1]\n  targetRef: {kind: Pod, name: web-1}\n"
    "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, "
    "namespace: shop}\nspec:\n  hosts: [web]\n  http:\n"
    "  - match:\n    - headers: {x-canary: {exact: 'yes'}}\n      uri: {prefix: /pkg.Svc}\n"
    "    rewrite: {uri: /pkg.SvcV2, authority: web-v2}\n"
    "    headers:\n      request:\n        set: {X-Route: canary}\n        remove: [x-drop]\n"
    "    route: [{destination: {host: web}}]\n"
    "  - route: [{destination: {host: web}}]\n"
    "    retries: {attempts: 2, retryOn: unavailable}\n";

struct fx {
	struct model m;
	struct l7_table t;
	struct l7r_conn c;
	struct l7r_h2 h;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct diag d = {0};

	if (model_load_string("t.yaml", YAML, &f->m, &d) ||
	    compile_l7_table(&f->m, "n1", &f->t, &d)) {
		diag_print(&d);
		return -1;
	}
	diag_free(&d);
	inet_pton(AF_INET, "10.96.0.5", &f->c.vip.addr.v4);
	f->c.vip.port = htons(80);
	f->c.vip.family = SKIFF_AF_INET;
	f->c.sp = l7_table_find(&f->t, &f->c.vip);
	f->c.t = &f->t;
	f->h.c = &f->c;
	*state = f;
	return f->c.sp ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	l7_table_free(&f->t);
	model_free(&f->m);
	free(f);
	return 0;
}

static void add(struct l7r_h2_fields *fl, const char *n, const char *v)
{
	assert_int_equal(l7r_h2_fields_add(fl, n, strlen(n), v, strlen(v)), 0);
}

static void stream(struct fx *f, struct l7r_h2s *s, const char *path)
{
	memset(s, 0, sizeof(*s));
	s->h = &f->h;
	s->method = strdup("POST");
	s->path = strdup(path);
	s->authority = strdup("web");
	s->scheme = strdup("http");
	add(&s->fields, "content-type", "application/grpc");
	add(&s->fields, "te", "trailers");
	add(&s->fields, "x-drop", "1");
	add(&s->fields, "connection", "keep-alive");
	l7r_h2_view(s);
}

static void stream_free(struct l7r_h2s *s)
{
	free(s->method);
	free(s->path);
	free(s->authority);
	free(s->scheme);
	l7r_h2_fields_free(&s->fields);
}

/* The first route matches on a header and a path prefix, as for HTTP/1.1; without the header,
 * the second. The request is gRPC by its content-type. */
static void test_view_and_match(void **state)
{
	struct fx *f = *state;
	struct l7r_h2s s;

	stream(f, &s, "/pkg.Svc/Get");
	assert_string_equal(s.q.rq.authority, "web");
	assert_int_equal(s.q.rq.port, 80);
	assert_string_equal(s.q.rec.protocol, "grpc");
	assert_int_equal(l7r_route_match(f->c.sp, &s.q.rq), 1);
	add(&s.fields, "x-canary", "yes");
	l7r_h2_view(&s);
	assert_int_equal(l7r_route_match(f->c.sp, &s.q.rq), 0);
	stream_free(&s);
}

/* The head toward the endpoint: path prefix and authority rewritten, the route's set and
 * remove applied (the set name lower-cased, as HTTP/2 requires), connection dropped, te kept. */
static void test_request_head(void **state)
{
	struct fx *f = *state;
	struct l7r_h2_fields out = {0};
	struct l7r_h2s s;
	char *path = NULL;

	stream(f, &s, "/pkg.Svc/Get");
	add(&s.fields, "x-canary", "yes");
	l7r_h2_view(&s);
	s.q.route = &f->c.sp->routes[0];
	l7r_note_match(&s.q);
	assert_int_equal(l7r_h2_request_head(&s, &out, &path), 0);
	assert_string_equal(l7r_h2_field(&out, ":method"), "POST");
	assert_string_equal(l7r_h2_field(&out, ":path"), "/pkg.SvcV2/Get");
	assert_string_equal(l7r_h2_field(&out, ":authority"), "web-v2");
	assert_string_equal(l7r_h2_field(&out, ":scheme"), "http");
	assert_string_equal(l7r_h2_field(&out, "x-route"), "canary");
	assert_string_equal(l7r_h2_field(&out, "te"), "trailers");
	assert_string_equal(l7r_h2_field(&out, "content-type"), "application/grpc");
	assert_null(l7r_h2_field(&out, "x-drop"));
	assert_null(l7r_h2_field(&out, "connection"));
	assert_null(l7r_h2_field(&out, "X-Route"));
	l7r_h2_fields_free(&out);
	free(path);
	stream_free(&s);
}

/* retryOn unavailable reads grpc-status 14 from the trailers of an HTTP 200; other statuses
 * and policies without it do not retry; REFUSED_STREAM is retried under refused-stream. */
static void test_retry_grpc(void **state)
{
	struct fx *f = *state;
	const struct m_retries *r = f->c.sp->routes[1].r->h->retries;
	struct l7r_h2_resp rs = {.status = 200};
	struct m_retries def;

	add(&rs.fields, "content-type", "application/grpc");
	assert_false(l7r_h2_retriable(r, OUT_RESPONSE, &rs));
	add(&rs.trailers, "grpc-status", "14");
	assert_true(l7r_h2_retriable(r, OUT_RESPONSE, &rs));
	l7r_h2_fields_free(&rs.trailers);
	add(&rs.trailers, "grpc-status", "3");
	assert_false(l7r_h2_retriable(r, OUT_RESPONSE, &rs));
	l7r_h2_fields_free(&rs.fields);
	add(&rs.fields, "grpc-status", "14"); /* trailers-only: the status in the head */
	assert_true(l7r_h2_retriable(r, OUT_RESPONSE, &rs));
	m_retries_default(&def);
	assert_true(l7r_h2_retriable(&def, OUT_REFUSED, &rs));
	assert_false(l7r_h2_retriable(r, OUT_REFUSED, &rs));
	l7r_h2_resp_free(&rs);
}

static const struct l7_table *acquire_t(void *ctx, void **ref)
{
	*ref = NULL; /* the fixture owns the table */
	return ctx;
}

/* Streams pick through the table's plan, each with a cache of its own: two streams of one
 * connection resolve the destination once (the same planned target), and pick its endpoint. */
static void test_stream_plan_pick(void **state)
{
	struct fx *f = *state;
	struct l7route rt = {.o = {.acquire = acquire_t, .ctx = &f->t}};
	struct l7r_lb_pick lp1 = {0}, lp2 = {0};
	const struct l7_endpoint *e1, *e2;
	const struct l7_dest *d;
	struct l7r_h2s s1, s2;

	pthread_mutex_init(&rt.lock, NULL);
	rt.lbs = l7r_lbs_new(NULL, NULL);
	assert_non_null(rt.lbs);
	f->c.rt = &rt;
	f->c.plan = l7r_plan_get(&rt, &f->t);
	assert_non_null(f->c.plan);
	stream(f, &s1, "/pkg.Svc/Get");
	stream(f, &s2, "/pkg.Svc/Put");
	d = &f->c.sp->routes[1].dests[0];
	e1 = l7r_plan_pick(&f->c, &s1.pick, d, &s1.q.rq, NULL, &lp1);
	e2 = l7r_plan_pick(&f->c, &s2.pick, d, &s2.q.rq, NULL, &lp2);
	assert_non_null(e1);
	assert_ptr_equal(e1, e2);
	assert_int_equal(ntohs(e1->addr.port), 8080);
	assert_non_null(s1.pick.tg);
	assert_ptr_equal(s1.pick.tg, s2.pick.tg); /* one resolution per plan, not per stream */
	assert_ptr_equal(s1.pick.tg->d, d);
	assert_null(f->c.pick.tg); /* the connection's own cache is untouched */
	l7r_lb_end(&lp1);
	l7r_lb_end(&lp2);
	stream_free(&s1);
	stream_free(&s2);
	l7r_plan_put(&rt, f->c.plan);
	f->c.plan = NULL;
	f->c.rt = NULL;
	l7r_lbs_free(rt.lbs);
	pthread_mutex_destroy(&rt.lock);
}

struct waits {
	unsigned n;
	uint64_t longest_ns; /* the longest wait asked for, from the time of asking */
	int leave_at;	     /* the wait (1-based) at which the client leaves; 0: never */
};

static int fake_wait(void *arg, uint64_t until)
{
	struct waits *w = arg;
	uint64_t now = l7r_now_ns(), d = until > now ? until - now : 0;

	w->n++;
	if (d > w->longest_ns)
		w->longest_ns = d;
	return w->leave_at && (int)w->n == w->leave_at ? -ECONNRESET : 0;
}

/* The policy between tries both paths share: retries on what retryOn matches, each after a
 * back-off below Envoy's interval, until the attempts are spent (the answer is then a retried
 * one, URX); nothing retried that did not match, or when the body is not held whole; the client
 * leaving during a back-off ends the request. */
static void test_retry_policy(void **state)
{
	struct fx *f = *state;
	const struct m_http_route *h = f->c.sp->routes[1].r->h; /* attempts 2, unavailable */
	struct l7r_h2_resp rs = {.status = 200};
	struct l7r_lb_pick lp = {0};
	struct waits w = {0};
	struct l7r_retry r;
	enum l7r_outcome o;
	struct h1_msg m;
	struct authz_header *all;

	add(&rs.trailers, "grpc-status", "14");
	all = l7r_h2_resp_view(&rs, &m);
	l7r_retry_begin(&r, h, true, fake_wait, &w);
	assert_int_equal(r.tries, 3);
	o = OUT_RESPONSE;
	assert_true(l7r_retry_again(&r, &lp, &o, &m));
	assert_true(w.longest_ns <= 25 * 1000000ull);
	assert_true(l7r_retry_again(&r, &lp, &o, &m));
	assert_true(w.longest_ns <= 50 * 1000000ull);
	assert_false(l7r_retry_again(&r, &lp, &o, &m)); /* spent: this answer stands */
	assert_int_equal(o, OUT_RESPONSE);
	assert_true(l7r_retry_urx(&r, o, 3));
	l7r_retry_end(&r);

	l7r_retry_begin(&r, h, false, fake_wait, &w); /* a body not held whole: one try */
	assert_int_equal(r.tries, 1);
	assert_false(l7r_retry_again(&r, &lp, &o, &m));
	free(all);

	l7r_h2_fields_free(&rs.trailers);
	add(&rs.trailers, "grpc-status", "3");
	all = l7r_h2_resp_view(&rs, &m);
	l7r_retry_begin(&r, h, true, fake_wait, &w);
	assert_false(l7r_retry_again(&r, &lp, &o, &m)); /* not under retryOn */
	assert_false(l7r_retry_urx(&r, o, 1));
	free(all);

	w = (struct waits){.leave_at = 1};
	l7r_retry_begin(&r, h, true, fake_wait, &w);
	o = OUT_REFUSED; /* not under `unavailable` alone */
	assert_false(l7r_retry_again(&r, &lp, &o, &m));
	/* Istio's default retries it, but the client leaves in the back-off (a draw of 0 ms has no
	 * wait to leave in: drawn again) */
	for (int k = 0; k < 100 && !w.n; k++) {
		l7r_retry_begin(&r, NULL, true, fake_wait, &w);
		assert_int_equal(r.tries, 3);
		o = OUT_REFUSED;
		if (!l7r_retry_again(&r, &lp, &o, &m))
			break;
	}
	assert_int_equal(o, OUT_CLIENT_GONE);
	assert_int_equal(w.n, 1);
	l7r_h2_resp_free(&rs);
}

static void test_grpc_codes(void **state)
{
	(void)state;
	/* one table for the validator and the router: Istio's spelling only */
	assert_int_equal(istio_grpc_code("OK"), 0);
	assert_int_equal(istio_grpc_code("UNAVAILABLE"), 14);
	assert_int_equal(istio_grpc_code("DEADLINE_EXCEEDED"), 4);
	assert_int_equal(istio_grpc_code("UNAUTHENTICATED"), 16);
	assert_int_equal(istio_grpc_code("unavailable"), -1);
	assert_int_equal(istio_grpc_code("8"), -1);
	assert_int_equal(istio_grpc_code("NOPE"), -1);
}

static void test_metrics_protocol(void **state)
{
	struct fx *f = *state;
	struct l7r_record rec = {.code = 200, .protocol = "grpc", .h2 = true};
	struct metrics_key k;
	struct metrics_http h;
	char flags[64];

	rec.dst_svc = f->c.sp->svc;
	l7r_metrics(&rec, NULL, &k, &h, flags, sizeof(flags));
	assert_string_equal(k.protocol, "grpc");
	rec.protocol = NULL; /* HTTP/2 that is not gRPC: Istio's "http" */
	l7r_metrics(&rec, NULL, &k, &h, flags, sizeof(flags));
	assert_string_equal(k.protocol, "http");
}

/* The h2c filter's flood rules on the router's connections: each ends the connection with
 * GOAWAY(ENHANCE_YOUR_CALM) at its bound and not before. */
static void test_flood_limits(void **state)
{
	nghttp2_session_callbacks *cb;
	struct l7r_h2 h = {0};
	nghttp2_frame_hd ping = {.type = NGHTTP2_PING, .length = 8};
	nghttp2_frame_hd empty = {.type = NGHTTP2_DATA, .stream_id = 1};
	nghttp2_frame_hd data = {.type = NGHTTP2_DATA, .stream_id = 1, .length = 1};
	nghttp2_frame_hd hdrs = {.type = NGHTTP2_HEADERS, .stream_id = 3, .length = 100};
	nghttp2_frame_hd cont = {.type = NGHTTP2_CONTINUATION, .stream_id = 3, .length = 10};

	(void)state;
	assert_int_equal(nghttp2_session_callbacks_new(&cb), 0);
	assert_int_equal(nghttp2_session_server_new(&h.s, cb, &h), 0);
	for (int i = 0; i < H2_MAX_CONTROL_RUN; i++)
		assert_int_equal(l7r_h2_frame_begin(&h, &ping), 0);
	assert_int_equal(l7r_h2_frame_begin(&h, &data), 0); /* DATA ends the run */
	for (int i = 0; i < H2_MAX_CONTROL_RUN; i++)
		assert_int_equal(l7r_h2_frame_begin(&h, &ping), 0);
	assert_int_not_equal(l7r_h2_frame_begin(&h, &ping), 0);

	h.ctl_run = 0;
	assert_int_equal(l7r_h2_frame_begin(&h, &empty), 0);
	assert_int_not_equal(l7r_h2_frame_begin(&h, &empty), 0);
	assert_int_equal(l7r_h2_frame_begin(&h, &data), 0);

	assert_int_equal(l7r_h2_frame_begin(&h, &hdrs), 0);
	for (int i = 0; i < H2_MAX_CONTINUATION; i++)
		assert_int_equal(l7r_h2_frame_begin(&h, &cont), 0);
	assert_int_not_equal(l7r_h2_frame_begin(&h, &cont), 0);

	/* rapid reset: half of the first H2_RESET_MIN_STREAMS reset is allowed, one more is not */
	h.requests = H2_RESET_MIN_STREAMS;
	for (int i = 0; i < H2_RESET_MIN_STREAMS / 2; i++)
		assert_int_equal(l7r_h2_reset_counted(&h), 0);
	assert_int_not_equal(l7r_h2_reset_counted(&h), 0);
	nghttp2_session_del(h.s);
	nghttp2_session_callbacks_del(cb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_view_and_match),   cmocka_unit_test(test_request_head),
	    cmocka_unit_test(test_retry_grpc),	     cmocka_unit_test(test_grpc_codes),
	    cmocka_unit_test(test_metrics_protocol), cmocka_unit_test(test_flood_limits),
	    cmocka_unit_test(test_stream_plan_pick), cmocka_unit_test(test_retry_policy),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
