// SPDX-License-Identifier: Apache-2.0
/*
 * The L7 router's decisions without sockets: which route a request takes (every match field, first
 * match wins), weighted destinations, the endpoint choice with retries preferring untried ones,
 * DestinationRule load balancing, request hashes, outlier ejections and connection pools, path
 * rewrites, Envoy's flag names, and a request's labels in Istio's metrics (source side).
 * `test_l7route --bench` instead prints the CPU time of one endpoint pick, with the destination
 * resolved per request and per table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <arpa/inet.h>

#include "l7/upstream.h"
#include "l7route/l7route.h"
#include "l7route/route_conn.h"
#include "l7route/route_lb.h"
#include "l7route/route_pick.h"
#include "l7route/route_request.h"

static const char *const YAML =
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {skiff.io/mesh: enabled}\n"
    "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
    "spec:\n  clusterIP: 10.96.0.5\n  selector: {app: web}\n  ports:\n  - {name: http, port: 80, "
    "targetPort: 8080}\n"
    "---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web, "
    "version: v1}}\nspec: {nodeName: n1}\nstatus: {podIP: 10.0.0.1}\n"
    "---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-2, namespace: shop, labels: {app: web, "
    "version: v2}}\nspec: {nodeName: n2}\nstatus: {podIP: 10.0.0.2}\n"
    "---\napiVersion: v1\nkind: Pod\nmetadata: {name: client, namespace: shop, labels: {app: "
    "front}}\nspec: {nodeName: n1}\nstatus: {podIP: 10.0.0.9}\n"
    "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-a\n"
    "  namespace: shop\n  labels: {kubernetes.io/service-name: web}\naddressType: IPv4\n"
    "ports: [{name: http, port: 8080}]\nendpoints:\n"
    "- addresses: [10.0.0.1]\n  targetRef: {kind: Pod, name: web-1}\n"
    "- addresses: [10.0.0.2]\n  targetRef: {kind: Pod, name: web-2}\n"
    "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web, "
    "namespace: shop}\nspec:\n  host: web\n"
    "  trafficPolicy:\n    loadBalancer:\n      consistentHash: {httpHeaderName: x-user}\n"
    "    outlierDetection: {consecutive5xxErrors: 3, interval: 1ms, baseEjectionTime: 20ms}\n"
    "    connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}\n"
    "  subsets:\n  - {name: v1, labels: {version: v1}}\n"
    "  - {name: v2, labels: {version: v2}}\n"
    "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, "
    "namespace: shop}\nspec:\n  hosts: [web]\n  http:\n"
    "  - match:\n    - headers: {end-user: {exact: jason}}\n      uri: {prefix: /api}\n"
    "      ignoreUriCase: true\n"
    "    - queryParams: {debug: {exact: '1'}}\n"
    "    rewrite: {uri: /v2}\n"
    "    route: [{destination: {host: web, subset: v2}}]\n"
    "  - match:\n    - sourceLabels: {app: front}\n      method: {exact: POST}\n"
    "      withoutHeaders: {x-skip: {}}\n"
    "    route: [{destination: {host: web, subset: v1}}]\n"
    "  - match:\n    - uri: {regex: '/r/[0-9]+'}\n    directResponse: {status: 204}\n"
    "  - route:\n    - {destination: {host: web, subset: v1}, weight: 75}\n"
    "    - {destination: {host: web, subset: v2}, weight: 25}\n";

struct fx {
	struct model m;
	struct l7_table t;
	const struct l7_svcport *sp;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct skiff_sock_origin vip = {0};
	struct diag d = {0};

	if (model_load_string("t.yaml", YAML, &f->m, &d) ||
	    compile_l7_table(&f->m, "n1", &f->t, &d)) {
		diag_print(&d);
		return -1;
	}
	diag_free(&d);
	inet_pton(AF_INET, "10.96.0.5", &vip.addr.v4);
	vip.port = htons(80);
	vip.family = SKIFF_AF_INET;
	f->sp = l7_table_find(&f->t, &vip);
	*state = f;
	return f->sp ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	l7_table_free(&f->t);
	model_free(&f->m);
	free(f);
	return 0;
}

static int route_of(const struct fx *f, const char *method, const char *path,
		    const struct authz_header *h, size_t nh, bool from_client)
{
	struct l7r_request rq = {.method = method,
				 .path = path,
				 .authority = "web",
				 .scheme = "http",
				 .headers = h,
				 .nheaders = nh,
				 .port = 80};

	rq.src_pod = from_client ? model_pod(&f->m, "shop", "client") : NULL;
	return l7r_route_match(f->sp, &rq);
}

static void test_first_match_wins(void **state)
{
	const struct fx *f = *state;
	const struct authz_header jason[] = {{"End-User", "jason"}};
	const struct authz_header skip[] = {{"x-skip", "1"}};

	assert_int_equal(route_of(f, "GET", "/api/x", jason, 1, false), 0);
	assert_int_equal(route_of(f, "GET", "/API/x?y=1", jason, 1, false), 0); /* ignoreUriCase */
	assert_int_equal(route_of(f, "GET", "/other", jason, 1, false), 3);
	assert_int_equal(route_of(f, "GET", "/x?a=2&debug=1", NULL, 0, false), 0); /* 2nd match */
	assert_int_equal(route_of(f, "GET", "/x?debug=10", NULL, 0, false), 3);
	assert_int_equal(route_of(f, "POST", "/x", NULL, 0, true), 1);	  /* sourceLabels */
	assert_int_equal(route_of(f, "POST", "/x", NULL, 0, false), 3);	  /* unknown source */
	assert_int_equal(route_of(f, "POST", "/x", skip, 1, true), 3);	  /* withoutHeaders */
	assert_int_equal(route_of(f, "GET", "/r/42", NULL, 0, false), 2); /* regex, whole */
	assert_int_equal(route_of(f, "GET", "/r/42/x", NULL, 0, false), 3);
	assert_int_equal(route_of(f, "GET", "/r/42?q=1", NULL, 0, false), 2); /* without query */
}

static void test_weighted_dest(void **state)
{
	const struct fx *f = *state;
	const struct l7_route *r = &f->sp->routes[3];

	assert_int_equal(r->total, 100);
	assert_string_equal(l7r_pick_dest(r, 0.0)->dst->subset, "v1");
	assert_string_equal(l7r_pick_dest(r, 0.7499)->dst->subset, "v1");
	assert_string_equal(l7r_pick_dest(r, 0.75)->dst->subset, "v2");
	assert_string_equal(l7r_pick_dest(r, 0.9999)->dst->subset, "v2");
}

static void test_endpoint_retry_elsewhere(void **state)
{
	const struct fx *f = *state;
	struct l7_dest two = f->sp->routes[3].dests[0];
	struct l7_endpoint eps[2];
	const struct l7_endpoint *tried[1];

	assert_int_equal(f->sp->routes[3].dests[0].neps, 1);
	assert_true(f->sp->routes[3].dests[0].eps[0].local); /* web-1 is on n1 */
	assert_false(f->sp->routes[3].dests[1].eps[0].local);
	eps[0] = f->sp->routes[3].dests[0].eps[0];
	eps[1] = f->sp->routes[3].dests[1].eps[0];
	two.eps = eps;
	two.neps = 2;
	for (uint32_t r = 0; r < 8; r++) {
		tried[0] = &eps[r % 2];
		assert_ptr_equal(l7r_pick_endpoint(&two, tried, 1, r), &eps[(r + 1) % 2]);
	}
	tried[0] = &eps[0];
	two.neps = 1; /* the only endpoint was tried: it is tried again */
	assert_ptr_equal(l7r_pick_endpoint(&two, tried, 1, 5), &eps[0]);
	two.neps = 0;
	assert_null(l7r_pick_endpoint(&two, NULL, 0, 5));
}

/* Both pods of web behind one destination, as a subset-less route would have them. */
static struct l7_dest both_pods(const struct fx *f, struct l7_endpoint eps[2])
{
	struct l7_dest two = f->sp->routes[3].dests[0];

	eps[0] = f->sp->routes[3].dests[0].eps[0];
	eps[1] = f->sp->routes[3].dests[1].eps[0];
	two.eps = eps;
	two.neps = 2;
	return two;
}

/* consistentHash.httpHeaderName: one value, one pod; many values reach both; a retry moves. */
static void test_lb_header_hash(void **state)
{
	const struct fx *f = *state;
	struct l7_endpoint eps[2];
	struct l7_dest two = both_pods(f, eps);
	struct l7r_lbs *b = l7r_lbs_new(NULL, NULL);
	struct authz_header h = {.name = "X-User", .value = "alice"};
	struct l7r_request rq = {.method = "GET", .path = "/", .headers = &h, .nheaders = 1};
	struct skiff_punt_key client = {.family = SKIFF_AF_INET, .addr.v4 = htonl(0x0a000009)};
	const struct l7_endpoint *first, *e;
	struct l7r_lb_pick p;
	char val[24]; /* "user-" and any int: no truncation for the compiler to doubt */
	unsigned hits[2] = {0};

	assert_non_null(b);
	first = l7r_lb_pick(b, &f->m, &two, &rq, &client, NULL, &p);
	assert_non_null(first);
	l7r_lb_end(&p);
	for (int i = 0; i < 50; i++) {
		assert_ptr_equal(l7r_lb_pick(b, &f->m, &two, &rq, &client, NULL, &p), first);
		l7r_lb_end(&p);
	}
	e = l7r_lb_pick(b, &f->m, &two, &rq, &client, first, &p); /* a retry: elsewhere */
	assert_ptr_equal(e, &eps[first == &eps[0]]);
	l7r_lb_end(&p);
	h.value = val;
	for (int i = 0; i < 64; i++) {
		snprintf(val, sizeof(val), "user-%d", i);
		e = l7r_lb_pick(b, &f->m, &two, &rq, &client, NULL, &p);
		assert_non_null(e);
		hits[e - eps]++;
		assert_ptr_equal(l7r_lb_pick(b, &f->m, &two, &rq, &client, NULL, &p), e);
		l7r_lb_end(&p);
	}
	assert_true(hits[0] > 0 && hits[1] > 0);
	two.neps = 0;
	assert_null(l7r_lb_pick(b, &f->m, &two, &rq, &client, NULL, &p));
	l7r_lbs_free(b);
}

/* Resolved once per table: the same set as a per-request resolution; requests under two tables
 * with different endpoints each get an endpoint of their own table's destination. */
static void test_lb_target_tables(void **state)
{
	const struct fx *f = *state;
	struct l7_endpoint eps[2], only[1];
	struct l7_dest two = both_pods(f, eps), one = two;
	struct l7r_lbs *b = l7r_lbs_new(NULL, NULL);
	struct authz_header h = {.name = "X-User", .value = "bob"};
	struct l7r_request rq = {.method = "GET", .path = "/", .headers = &h, .nheaders = 1};
	struct skiff_punt_key client = {.family = SKIFF_AF_INET, .addr.v4 = htonl(0x0a000009)};
	struct l7r_lb_target old_t, new_t;
	const struct l7_endpoint *e, *first;
	struct l7r_lb_pick p;

	assert_non_null(b);
	only[0] = eps[1];
	one.eps = only;
	one.neps = 1;
	first = l7r_lb_pick(b, &f->m, &two, &rq, &client, NULL, &p);
	l7r_lb_end(&p);
	l7r_lb_resolve(b, &f->m, &two, "shop", 1, &old_t);
	assert_non_null(old_t.lb);
	assert_int_equal(old_t.pol.lb.simple, M_LB_CONSISTENT_HASH);
	assert_ptr_equal(l7r_lb_pick_target(&old_t, &rq, &client, NULL, &p), first);
	l7r_lb_end(&p);
	l7r_lb_resolve(b, &f->m, &one, "shop", 2, &new_t);
	assert_ptr_equal(new_t.lb, old_t.lb); /* same Service, subset, port and rule: one set */
	for (int i = 0; i < 6; i++) {
		const struct l7r_lb_target *tg = i % 2 ? &old_t : &new_t;

		e = l7r_lb_pick_target(tg, &rq, &client, NULL, &p);
		assert_non_null(e);
		assert_true(e >= tg->d->eps && e < tg->d->eps + tg->d->neps);
		assert_memory_equal(&p.ep, &e->addr, sizeof(p.ep));
		l7r_lb_end(&p);
	}
	assert_ptr_equal(l7r_lb_pick_target(&new_t, &rq, &client, NULL, &p), &only[0]);
	l7r_lb_end(&p);
	l7r_lbs_free(b);
}

struct ejections {
	struct skiff_svc_key svc;
	struct skiff_sock_origin ep;
	int out, back;
};

static void record_eject(void *ctx, const struct skiff_svc_key *svc,
			 const struct skiff_sock_origin *ep, bool out)
{
	struct ejections *e = ctx;

	e->svc = *svc;
	e->ep = *ep;
	if (out)
		e->out++;
	else
		e->back++;
}

/* Three 503s in a row eject the endpoint: the owner hears of it with the Service's VIP and port,
 * picks avoid it, and the timer brings it back; one that leaves the set while out is returned. */
static void test_lb_outlier(void **state)
{
	const struct fx *f = *state;
	struct l7_endpoint eps[2];
	struct l7_dest two = both_pods(f, eps);
	struct ejections ev = {0};
	struct l7r_lbs *b = l7r_lbs_new(record_eject, &ev);
	struct authz_header h = {.name = "x-user", .value = "alice"};
	struct l7r_request rq = {.method = "GET", .path = "/", .headers = &h, .nheaders = 1};
	struct skiff_punt_key client = {.family = SKIFF_AF_INET};
	const struct l7_endpoint *p, *e;
	struct l7r_lb_pick lp;
	struct timespec ms30 = {0, 30 * 1000000L};
	struct skiff_sock_origin was;

	p = l7r_lb_pick(b, &f->m, &two, &rq, &client, NULL, &lp);
	assert_non_null(p);
	for (int i = 0; i < 3; i++) {
		assert_ptr_equal(l7r_lb_pick(b, &f->m, &two, &rq, &client, NULL, &lp), p);
		l7r_lb_report(&lp, UP_HTTP_GATEWAY);
		l7r_lb_end(&lp);
	}
	assert_int_equal(ev.out, 1);
	assert_memory_equal(&ev.ep, &p->addr, sizeof(ev.ep));
	assert_int_equal(ev.svc.addr.v4, htonl(0x0a600005)); /* web's VIP 10.96.0.5, port 80 */
	assert_int_equal(ntohs(ev.svc.port), 80);
	assert_int_equal(ev.svc.proto, IPPROTO_TCP);
	e = l7r_lb_pick(b, &f->m, &two, &rq, &client, NULL, &lp);
	assert_ptr_not_equal(e, p);
	l7r_lb_end(&lp);
	nanosleep(&ms30, NULL);
	l7r_lbs_tick(b);
	assert_int_equal(ev.back, 1);
	assert_ptr_equal(l7r_lb_pick(b, &f->m, &two, &rq, &client, NULL, &lp), p);
	l7r_lb_end(&lp);
	for (int i = 0; i < 3; i++) { /* out again; then its pod leaves the destination */
		l7r_lb_pick(b, &f->m, &two, &rq, &client, NULL, &lp);
		l7r_lb_report(&lp, UP_HTTP_5XX);
		l7r_lb_end(&lp);
	}
	assert_int_equal(ev.out, 2);
	was = p->addr;
	eps[0] = *e;
	two.neps = 1;
	assert_ptr_equal(l7r_lb_pick(b, &f->m, &two, &rq, &client, NULL, &lp), &eps[0]);
	l7r_lb_end(&lp);
	assert_int_equal(ev.back, 2);
	assert_memory_equal(&ev.ep, &was, sizeof(ev.ep));
	l7r_lbs_free(b);
}

struct waiter {
	struct l7r_lbs *b;
	const struct fx *f;
	struct l7_dest *d;
	int rc;
};

static void *admit_waiting(void *arg)
{
	struct waiter *w = arg;
	struct l7r_request rq = {.method = "GET", .path = "/"};
	struct skiff_punt_key client = {.family = SKIFF_AF_INET};
	struct l7r_lb_pick lp;

	l7r_lb_pick(w->b, &w->f->m, w->d, &rq, &client, NULL, &lp);
	w->rc = l7r_lb_admit(&lp, l7r_now_ns() + 10000000000ull); /* 10 s: a generous bound */
	l7r_lb_end(&lp);
	return NULL;
}

/* maxConnections 1 and http1MaxPendingRequests 1: one request under way, one waiting for its
 * connection, a third refused at once; a wait that reaches its deadline is refused too. */
static void test_lb_pool(void **state)
{
	const struct fx *f = *state;
	struct l7_endpoint eps[2];
	struct l7_dest two = both_pods(f, eps);
	struct l7r_lbs *b = l7r_lbs_new(NULL, NULL);
	struct l7r_request rq = {.method = "GET", .path = "/"};
	struct skiff_punt_key client = {.family = SKIFF_AF_INET};
	struct waiter w = {.b = b, .f = f, .d = &two, .rc = 1};
	struct timespec ms50 = {0, 50 * 1000000L};
	struct l7r_lb_pick first, other;
	pthread_t th;

	assert_non_null(l7r_lb_pick(b, &f->m, &two, &rq, &client, NULL, &first));
	assert_int_equal(l7r_lb_admit(&first, L7R_NO_DEADLINE), 0);
	l7r_lb_pick(b, &f->m, &two, &rq, &client, NULL, &other);
	assert_int_equal(l7r_lb_admit(&other, l7r_now_ns() + 20000000ull), -EBUSY); /* waited */
	l7r_lb_end(&other);
	assert_int_equal(pthread_create(&th, NULL, admit_waiting, &w), 0);
	nanosleep(&ms50, NULL); /* a generous bound for the thread to start waiting */
	l7r_lb_pick(b, &f->m, &two, &rq, &client, NULL, &other);
	assert_int_equal(l7r_lb_admit(&other, L7R_NO_DEADLINE), -EBUSY); /* the queue is full */
	l7r_lb_end(&other);
	l7r_lb_end(&first); /* its connection goes to the waiting one */
	pthread_join(th, NULL);
	assert_int_equal(w.rc, 0);
	l7r_lb_pick(b, &f->m, &two, &rq, &client, NULL, &other);
	assert_int_equal(l7r_lb_admit(&other, L7R_NO_DEADLINE), 0);
	l7r_lb_end(&other);
	l7r_lbs_free(b);
}

/* Which request attribute each hash reads, and that a missing one is reported as missing. */
static void test_lb_hash_attrs(void **state)
{
	struct authz_header h[2] = {{.name = "cookie", .value = "a=1; sid=xyz; b=2"},
				    {.name = "x-user", .value = "bob"}};
	struct l7r_request rq = {.path = "/p?x=1&uid=42&y", .headers = h, .nheaders = 2};
	struct skiff_punt_key c1 = {.family = SKIFF_AF_INET, .addr.v4 = htonl(0x0a000009)};
	struct skiff_punt_key c2 = c1;
	struct m_lb_policy lb = {.simple = M_LB_CONSISTENT_HASH};
	uint64_t v, w;

	(void)state;
	lb.hash_on = M_HASH_COOKIE;
	lb.hash_name = "sid";
	assert_true(l7r_lb_hash(&lb, &rq, &c1, &v));
	assert_true(v == up_hash_bytes("xyz", 3));
	lb.hash_name = "si";
	assert_false(l7r_lb_hash(&lb, &rq, &c1, &v));
	lb.hash_on = M_HASH_QUERY;
	lb.hash_name = "uid";
	assert_true(l7r_lb_hash(&lb, &rq, &c1, &v));
	assert_true(v == up_hash_bytes("42", 2));
	lb.hash_name = "y";
	assert_true(l7r_lb_hash(&lb, &rq, &c1, &v));
	lb.hash_name = "id";
	assert_false(l7r_lb_hash(&lb, &rq, &c1, &v));
	lb.hash_on = M_HASH_HEADER;
	lb.hash_name = "X-USER";
	assert_true(l7r_lb_hash(&lb, &rq, &c1, &v));
	assert_true(v == up_hash_bytes("bob", 3));
	lb.hash_on = M_HASH_SOURCE_IP;
	c2.port = htons(999); /* the port is no part of it */
	assert_true(l7r_lb_hash(&lb, &rq, &c1, &v));
	assert_true(l7r_lb_hash(&lb, &rq, &c2, &w));
	assert_true(v == w);
	c2.addr.v4 = htonl(0x0a00000a);
	assert_true(l7r_lb_hash(&lb, &rq, &c2, &w));
	assert_true(v != w);
}

static void test_prefix_rewrite(void **state)
{
	const struct fx *f = *state;
	struct l7r_req q = {0};
	char *p;

	q.route = &f->sp->routes[0];
	q.matched = &q.route->r->h->matches[0];
	q.rq.path = "/api/items?x=1";
	p = l7r_rewritten_path(&q);
	assert_string_equal(p, "/v2/items?x=1");
	free(p);
	q.matched = &q.route->r->h->matches[1]; /* not a uri prefix: the whole path */
	p = l7r_rewritten_path(&q);
	assert_string_equal(p, "/v2?x=1");
	free(p);
}

/* The request line and Host as sent upstream: the rewritten path, or the client's as it came. */
static void test_request_head(void **state)
{
	const struct fx *f = *state;
	struct l7r_req q = {0};
	struct l7_buf out = {0};
	static const char want_rw[] = "GET /v2/items?x=1 HTTP/1.1\r\nHost: web\r\n";
	static const char want[] = "GET /api/items?x=1 HTTP/1.1\r\nHost: web\r\n";

	q.msg.method = "GET";
	q.rq.path = q.msg.path = "/api/items?x=1";
	q.rq.authority = "web";
	q.route = &f->sp->routes[0];
	q.matched = &q.route->r->h->matches[0];
	assert_int_equal(l7r_request_head(NULL, &q, &out), 0);
	assert_true(l7_buf_unread(&out) > sizeof(want_rw) - 1);
	assert_memory_equal(l7_buf_head(&out), want_rw, sizeof(want_rw) - 1);
	l7_buf_free(&out);
	q.route = &f->sp->routes[1]; /* no rewrite */
	q.matched = NULL;
	assert_int_equal(l7r_request_head(NULL, &q, &out), 0);
	assert_memory_equal(l7_buf_head(&out), want, sizeof(want) - 1);
	assert_memory_equal(l7_buf_head(&out) + l7_buf_unread(&out) - 2, "\r\n", 2);
	l7_buf_free(&out);
}

static void test_flags(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(l7r_flags_str(0, buf, sizeof(buf)), "-");
	assert_string_equal(l7r_flags_str(L7R_F_UF | L7R_F_URX, buf, sizeof(buf)), "UF,URX");
	assert_string_equal(l7r_flags_str(L7R_F_UT, buf, sizeof(buf)), "UT");
}

/* A request over HBONE to web-2: the client's workload, the endpoint's pod, the Service, mTLS
 * with both principals; its duration and sizes in the histograms. */
static void test_metrics_reached(void **state)
{
	const struct fx *f = *state;
	struct l7r_record rec = {.code = 200,
				 .flags = 0,
				 .duration_ns = 3500000,
				 .request_bytes = 120,
				 .response_bytes = 700,
				 .hbone = true};
	struct metrics_key k;
	struct metrics_http h;
	char flags[64];

	rec.src_pod = model_pod(&f->m, "shop", "client");
	rec.dst_pod = model_pod(&f->m, "shop", "web-2");
	rec.dst_svc = f->sp->svc;
	l7r_metrics(&rec, "example.org", &k, &h, flags, sizeof(flags));
	assert_string_equal(k.reporter, "source");
	assert_string_equal(k.src.workload, "client");
	assert_string_equal(k.src.app, "front");
	assert_string_equal(k.src.principal, "spiffe://example.org/ns/shop/sa/default");
	assert_string_equal(k.dst.workload, "web-2");
	assert_string_equal(k.dst.version, "v2");
	assert_string_equal(k.dst.principal, "spiffe://example.org/ns/shop/sa/default");
	assert_string_equal(k.dst_service, "web.shop.svc.cluster.local");
	assert_string_equal(k.dst_service_name, "web");
	assert_string_equal(k.dst_service_ns, "shop");
	assert_string_equal(k.protocol, "http");
	assert_int_equal(k.response_code, 200);
	assert_string_equal(k.response_flags, "-");
	assert_string_equal(k.security, "mutual_tls");
	assert_int_equal(h.requests, 1);
	assert_int_equal(h.duration_ms.count, 1);
	assert_true(h.duration_ms.sum > 3.49 && h.duration_ms.sum < 3.51);
	assert_int_equal(h.request_bytes.count, 1);
	assert_true(h.request_bytes.sum == 120.0);
	assert_true(h.response_bytes.sum == 700.0);
}

/* A fault abort answered by the router: no pod reached, the Service still named, Envoy's flag;
 * a plaintext hop proves no identity, so both principals and the policy are "unknown". */
static void test_metrics_abort(void **state)
{
	const struct fx *f = *state;
	struct l7r_record rec = {.code = 503, .flags = L7R_F_FI, .attempts = 0};
	struct metrics_table *t = metrics_table_new(16);
	struct metrics_key k;
	struct metrics_http h;
	struct strbuf b = {0};
	char flags[64];

	assert_non_null(t);
	rec.src_pod = model_pod(&f->m, "shop", "client");
	rec.dst_svc = f->sp->svc;
	l7r_metrics(&rec, NULL, &k, &h, flags, sizeof(flags));
	assert_string_equal(k.dst.workload, "unknown");
	assert_string_equal(k.dst_service_name, "web");
	assert_string_equal(k.src.principal, "unknown");
	assert_string_equal(k.dst.principal, "unknown");
	assert_string_equal(k.security, "unknown");
	assert_int_equal(metrics_table_add_http(t, &k, &h), 0);
	rec.flags = L7R_F_UT;
	rec.code = 504;
	l7r_metrics(&rec, NULL, &k, &h, flags, sizeof(flags));
	assert_int_equal(metrics_table_add_http(t, &k, &h), 0);
	metrics_table_render(t, METRICS_TEXT, &b);
	assert_non_null(strstr(b.s, "response_code=\"503\",response_flags=\"FI\","
				    "connection_security_policy=\"unknown\"} 1\n"));
	assert_non_null(strstr(b.s, "response_code=\"504\",response_flags=\"UT\""));
	assert_non_null(strstr(b.s, "istio_requests_total{reporter=\"source\",source_workload="
				    "\"client\""));
	sb_free(&b);
	metrics_table_free(t);
}

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* CPU per pick over `n` endpoints: resolved on every request (l7r_lb_pick) and once per table
 * (l7r_lb_pick_target), the same set and policy (the fixture's consistent hash on a header). */
static void bench_picks(const struct fx *f, size_t n)
{
	struct l7_endpoint *eps = calloc(n, sizeof(*eps));
	struct l7_dest d = f->sp->routes[3].dests[0];
	struct l7r_lbs *b = l7r_lbs_new(NULL, NULL);
	struct authz_header h = {.name = "X-User", .value = "alice"};
	struct l7r_request rq = {.method = "GET", .path = "/", .headers = &h, .nheaders = 1};
	struct skiff_punt_key client = {.family = SKIFF_AF_INET, .addr.v4 = htonl(0x0a000009)};
	struct l7r_lb_target tg;
	struct l7r_lb_pick p;
	const int rounds = 200000;
	double t0, t1, t2;

	for (size_t i = 0; i < n; i++) {
		eps[i] = d.eps[0];
		eps[i].addr.port = htons((uint16_t)(8080 + i));
	}
	d.eps = eps;
	d.neps = n;
	t0 = cpu_ns();
	for (int i = 0; i < rounds; i++) {
		l7r_lb_pick(b, &f->m, &d, &rq, &client, NULL, &p);
		l7r_lb_end(&p);
	}
	t1 = cpu_ns();
	l7r_lb_resolve(b, &f->m, &d, "shop", 1, &tg);
	for (int i = 0; i < rounds; i++) {
		l7r_lb_pick_target(&tg, &rq, &client, NULL, &p);
		l7r_lb_end(&p);
	}
	t2 = cpu_ns();
	printf("endpoint pick, %zu endpoints: %.0f ns resolved per request, %.0f ns resolved per "
	       "table\n",
	       n, (t1 - t0) / rounds, (t2 - t1) / rounds);
	l7r_lbs_free(b);
	free(eps);
}

/* `test_l7route --bench`: what choosing an endpoint costs a request. */
static int bench(void)
{
	void *state;

	if (setup(&state))
		return 1;
	bench_picks(state, 2);
	bench_picks(state, 100);
	teardown(&state);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_match_wins),
	    cmocka_unit_test(test_weighted_dest),
	    cmocka_unit_test(test_endpoint_retry_elsewhere),
	    cmocka_unit_test(test_lb_header_hash),
	    cmocka_unit_test(test_lb_hash_attrs),
	    cmocka_unit_test(test_lb_outlier),
	    cmocka_unit_test(test_lb_pool),
	    cmocka_unit_test(test_lb_target_tables),
	    cmocka_unit_test(test_prefix_rewrite),
	    cmocka_unit_test(test_request_head),
	    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_metrics_reached),
	    cmocka_unit_test(test_metrics_abort),
	};

	if (argc > 1 && !strcmp(argv[1], "--bench"))
		return bench();
	return cmocka_run_group_tests(tests, setup, teardown);
}
