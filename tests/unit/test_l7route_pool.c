// SPDX-License-Identifier: Apache-2.0
/*
 * The router's DestinationRule connection settings and retry pacing: connectionPool's
 * per-connection options as a pick hands them out, maxRetries, Envoy's jittered back-off, the
 * hash cookie generated for a request without one (and the stickiness it gives), the idle pool's
 * requests-per-connection count and idle timeout on real sockets, TCP keepalive as the kernel
 * reports it back, and the router's waits (the client's close ends one) and vectored sends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "l7/upstream.h"
#include "l7route/l7route.h"
#include "l7route/route_io.h"
#include "l7route/route_lb.h"
#include "l7route/route_pick.h"

static const char *const BASE =
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {skiff.io/mesh: enabled}\n"
    "---\napiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
    "spec:\n  clusterIP: 10.96.0.5\n  selector: {app: web}\n  ports:\n  - {name: http, port: 80, "
    "targetPort: 8080}\n"
    "---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\n"
    "spec: {nodeName: n1}\nstatus: {podIP: 10.0.0.1}\n"
    "---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-2, namespace: shop, labels: {app: web}}\n"
    "spec: {nodeName: n1}\nstatus: {podIP: 10.0.0.2}\n"
    "---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-3, namespace: shop, labels: {app: web}}\n"
    "spec: {nodeName: n1}\nstatus: {podIP: 10.0.0.3}\n"
    "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-a\n"
    "  namespace: shop\n  labels: {kubernetes.io/service-name: web}\naddressType: IPv4\n"
    "ports: [{name: http, port: 8080}]\nendpoints:\n"
    "- addresses: [10.0.0.1]\n  targetRef: {kind: Pod, name: web-1}\n"
    "- addresses: [10.0.0.2]\n  targetRef: {kind: Pod, name: web-2}\n"
    "- addresses: [10.0.0.3]\n  targetRef: {kind: Pod, name: web-3}\n"
    "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: web, "
    "namespace: shop}\nspec:\n  hosts: [web]\n  http:\n  - route: [{destination: {host: web}}]\n"
    "    retries: {attempts: 3, retryOn: 5xx}\n"
    "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: web, "
    "namespace: shop}\nspec:\n  host: web\n  trafficPolicy:\n";

static const char *const POOL =
    "    connectionPool:\n"
    "      tcp: {connectTimeout: 250ms, tcpKeepalive: {probes: 3, time: 30s, interval: 1500ms}}\n"
    "      http: {maxRequestsPerConnection: 2, idleTimeout: 90s, maxRetries: 1}\n";

static const char *const COOKIE = "    loadBalancer:\n      consistentHash:\n"
				  "        httpCookie: {name: sid, path: /shop, ttl: 90s}\n";

struct fx {
	struct model m;
	struct l7_table t;
	const struct l7_dest *d;
	struct l7r_lbs *b;
};

static struct fx *fx_new(const char *policy)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct skiff_sock_origin vip = {.family = SKIFF_AF_INET, .port = htons(80)};
	const struct l7_svcport *sp;
	struct diag d = {0};
	char *yaml = NULL;

	assert_non_null(f);
	assert_true(asprintf(&yaml, "%s%s", BASE, policy) > 0);
	if (model_load_string("t.yaml", yaml, &f->m, &d) ||
	    compile_l7_table(&f->m, "n1", &f->t, &d))
		diag_print(&d);
	assert_int_equal(d.errors, 0);
	diag_free(&d);
	free(yaml);
	inet_pton(AF_INET, "10.96.0.5", &vip.addr.v4);
	sp = l7_table_find(&f->t, &vip);
	assert_non_null(sp);
	f->d = &sp->routes[0].dests[0];
	assert_int_equal(f->d->neps, 3);
	f->b = l7r_lbs_new(NULL, NULL);
	return f;
}

static void fx_free(struct fx *f)
{
	l7r_lbs_free(f->b);
	l7_table_free(&f->t);
	model_free(&f->m);
	free(f);
}

static const struct skiff_punt_key CLIENT = {.family = SKIFF_AF_INET,
					     .addr.v4 = 0x0900000a /* 10.0.0.9 */};

/* connectionPool's connection settings come with the pick; without a rule, Istio's defaults. */
static void test_up_opts(void **state)
{
	struct fx *f = fx_new(POOL), *none = fx_new("    loadBalancer: {simple: ROUND_ROBIN}\n");
	struct l7r_request rq = {.method = "GET", .path = "/"};
	struct l7r_up_opts o;
	struct l7r_lb_pick lp;

	(void)state;
	assert_non_null(l7r_lb_pick(f->b, &f->m, f->d, &rq, &CLIENT, NULL, &lp));
	l7r_lb_up_opts(&lp, &o);
	assert_int_equal(o.connect_ms, 250);
	assert_true(o.ka.on);
	assert_int_equal(o.ka.probes, 3);
	assert_int_equal(o.ka.time_s, 30);
	assert_int_equal(o.ka.interval_s, 2); /* whole seconds, rounded up */
	assert_int_equal(o.max_requests_per_conn, 2);
	assert_int_equal(o.idle_ms, 90000);
	l7r_lb_end(&lp);

	assert_non_null(l7r_lb_pick(none->b, &none->m, none->d, &rq, &CLIENT, NULL, &lp));
	l7r_lb_up_opts(&lp, &o);
	assert_int_equal(o.connect_ms, 10000);
	assert_false(o.ka.on);
	assert_int_equal(o.max_requests_per_conn, 0);
	assert_int_equal(o.idle_ms, 3600000);
	l7r_lb_end(&lp);
	fx_free(f);
	fx_free(none);
}

/* maxRetries 1: a second retry under way at once is refused and counted; given back, it goes. */
static void test_max_retries(void **state)
{
	struct fx *f = fx_new(POOL);
	struct l7r_request rq = {.method = "GET", .path = "/"};
	struct l7r_lb_pick a, b;
	struct l7r_lb *ha, *hb;

	(void)state;
	l7r_lb_pick(f->b, &f->m, f->d, &rq, &CLIENT, NULL, &a);
	l7r_lb_pick(f->b, &f->m, f->d, &rq, &CLIENT, NULL, &b);
	assert_int_equal(l7r_lb_retry_take(&a, &ha), 0);
	assert_non_null(ha);
	assert_int_equal(l7r_lb_retry_take(&b, &hb), -EBUSY);
	assert_null(hb);
	assert_int_equal(l7r_lb_retry_overflows(&b), 1);
	l7r_lb_retry_done(ha);
	assert_int_equal(l7r_lb_retry_take(&b, &hb), 0);
	l7r_lb_retry_done(hb);
	assert_int_equal(l7r_lb_retry_overflows(&b), 1);
	l7r_lb_end(&a);
	l7r_lb_end(&b);
	fx_free(f);
}

/* Envoy's intervals: below 25, 50, 100, 200, then 250 ms (ten times the base) for good; the
 * draws cover each interval, not just its start. */
static void test_backoff(void **state)
{
	static const uint64_t iv[] = {25, 50, 100, 200, 250, 250, 250, 250};
	uint64_t hi, w;

	(void)state;
	srandom(7);
	for (unsigned r = 1; r <= 8; r++) {
		hi = 0;
		for (int i = 0; i < 2000; i++) {
			w = l7r_backoff_ms(L7R_BACKOFF_BASE_MS, r, (uint32_t)random());
			assert_true(w < iv[r - 1]);
			hi = w > hi ? w : hi;
		}
		assert_true(hi >= iv[r - 1] * 9 / 10);
	}
	/* retries.backoff: 100 ms is the base, 1 s the maximum */
	assert_true(l7r_backoff_ms(100, 1, 99999) < 100);
	assert_int_equal(l7r_backoff_ms(100, 30, 999), 999);
	assert_int_equal(l7r_backoff_ms(100, 30, 1999), 999);
	assert_int_equal(l7r_backoff_ms(0, 3, 12345), 0);
}

/* The value in `Set-Cookie: sid="VALUE"; ...` into v. */
static void cookie_of(const char *field, char *v, size_t len)
{
	const char *p = strstr(field, "sid=\"");

	assert_non_null(p);
	snprintf(v, len, "%.*s", (int)strcspn(p + 5, "\""), p + 5);
}

/* httpCookie with ttl: a request without the cookie gets one; sent back (quoted or not) it
 * reaches the endpoint the first request reached; fresh requests spread over the endpoints. */
static void test_generated_cookie(void **state)
{
	struct fx *f = fx_new(COOKIE);
	struct authz_header h[1] = {{.name = "Cookie"}};
	struct l7r_request rq = {.method = "GET", .path = "/"};
	const struct l7_endpoint *first, *again;
	char field[384], v[64], quoted[96], plain[96];
	struct l7r_lb_pick lp;
	bool seen[3] = {false};

	(void)state;
	rq.cookie_seed = 42;
	first = l7r_lb_pick(f->b, &f->m, f->d, &rq, &CLIENT, NULL, &lp);
	assert_non_null(first);
	l7r_lb_set_cookie(&lp, &rq, &CLIENT, field, sizeof(field));
	l7r_lb_end(&lp);
	assert_true(strstr(field, "Set-Cookie: sid=\"") == field);
	assert_non_null(strstr(field, "\"; Max-Age=90; Path=/shop; HttpOnly\r\n"));
	cookie_of(field, v, sizeof(v));
	assert_int_equal(strlen(v), 16);

	snprintf(quoted, sizeof(quoted), "a=1; sid=\"%s\"; b=2", v);
	snprintf(plain, sizeof(plain), "sid=%s", v);
	rq.headers = h;
	rq.nheaders = 1;
	for (int i = 0; i < 50; i++) {
		h[0].value = i % 2 ? quoted : plain;
		rq.cookie_seed = (uint64_t)i * 7919; /* not used: the cookie is there */
		again = l7r_lb_pick(f->b, &f->m, f->d, &rq, &CLIENT, NULL, &lp);
		l7r_lb_set_cookie(&lp, &rq, &CLIENT, field, sizeof(field));
		l7r_lb_end(&lp);
		assert_ptr_equal(again, first);
		assert_string_equal(field, ""); /* it has one: none set */
	}
	rq.nheaders = 0;
	for (uint64_t s = 1; s <= 60; s++) {
		rq.cookie_seed = s;
		again = l7r_lb_pick(f->b, &f->m, f->d, &rq, &CLIENT, NULL, &lp);
		l7r_lb_end(&lp);
		seen[again - f->d->eps] = true;
	}
	assert_true(seen[0] && seen[1] && seen[2]);
	fx_free(f);
}

/* A pooled connection keeps its request count; an idle one past its timeout is closed by the
 * sweep (its peer reads EOF); one the peer closed is not handed out when checked, or when it has
 * been idle over 250 ms. */
static void test_idle_pool(void **state)
{
	struct skiff_sock_origin ep = {.family = SKIFF_AF_INET, .port = htons(8080)};
	struct timespec ms20 = {0, 20 * 1000000L}, ms300 = {0, 300 * 1000000L};
	struct l7r_pool *p = l7r_pool_new();
	int a[2], b[2], fd;
	uint32_t served;
	ssize_t n;
	char c;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	l7r_pool_put(p, &ep, a[0], 3, 0);
	fd = l7r_pool_get(p, &ep, &served, true);
	assert_int_equal(fd, a[0]);
	assert_int_equal(served, 3);
	l7r_pool_put(p, &ep, a[0], 4, 10); /* 10 ms idle timeout */
	l7r_pool_put(p, &ep, b[0], 1, 60000);
	nanosleep(&ms20, NULL);
	l7r_pool_sweep(p);
	assert_int_equal(l7r_pool_idle(p), 1);
	assert_int_equal(read(a[1], &c, 1), 0); /* closed by the sweep */
	close(b[1]);				/* the endpoint closes the other one */
	assert_int_equal(l7r_pool_get(p, &ep, &served, true), -1);
	assert_int_equal(served, 0);
	assert_int_equal(l7r_pool_idle(p), 0);
	/* unchecked, a closed one is handed out: the caller's first wait reads its EOF */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	l7r_pool_put(p, &ep, b[0], 2, 0);
	close(b[1]);
	assert_int_equal(l7r_pool_get(p, &ep, &served, false), b[0]);
	assert_int_equal(served, 2);
	assert_int_equal(read(b[0], &c, 1), 0);
	close(b[0]);
	/* ...but not once it has been idle a while: an endpoint's unsolicited 408 before its idle
	 * close would be read as the response */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	l7r_pool_put(p, &ep, b[0], 5, 0);
	assert_int_equal(write(b[1], "HTTP/1.1 408 Request Timeout\r\n\r\n", 32), 32);
	nanosleep(&ms300, NULL);
	assert_int_equal(l7r_pool_get(p, &ep, &served, false), -1);
	/* closed, not handed out (its unread 408 makes the close a reset) */
	n = recv(b[1], &c, 1, MSG_DONTWAIT);
	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
	close(b[1]);
	close(a[1]);
	l7r_pool_free(p);
}

/* A wait for the endpoint ends at its bytes, at the deadline, or when the client closes; bytes
 * the client pipelines meanwhile are not a close. */
static void test_read_wait(void **state)
{
	int up[2], cl[2];
	char c;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, up), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, cl), 0);
	assert_int_equal(l7r_read_wait(up[0], &c, 1, l7r_deadline(20), cl[0]), -ETIMEDOUT);
	assert_int_equal(write(cl[1], "G", 1), 1); /* the next request, pipelined */
	assert_int_equal(l7r_read_wait(up[0], &c, 1, l7r_deadline(20), cl[0]), -ETIMEDOUT);
	assert_int_equal(write(up[1], "H", 1), 1);
	assert_int_equal(l7r_read_wait(up[0], &c, 1, l7r_deadline(1000), cl[0]), 1);
	assert_int_equal(c, 'H');
	assert_int_equal(l7r_read_wait(up[0], &c, 1, l7r_deadline(20), -1), -ETIMEDOUT);
	close(cl[1]); /* the client leaves */
	assert_int_equal(l7r_read_wait(up[0], &c, 1, l7r_deadline(1000), cl[0]), -ECANCELED);
	close(up[1]);
	assert_int_equal(l7r_read_wait(up[0], &c, 1, l7r_deadline(1000), -1), 0);
	close(cl[0]);
	close(up[0]);
}

struct drain {
	int fd;
	uint8_t *buf;
	size_t len;
};

static void *drain_all(void *arg)
{
	struct drain *d = arg;
	size_t got = 0;
	ssize_t n = 1;

	while (got < d->len && n > 0) {
		n = read(d->fd, d->buf + got, d->len - got);
		if (n > 0)
			got += (size_t)n;
	}
	d->len = got;
	return NULL;
}

/* Pieces larger than the socket takes at once arrive whole and in order: a short send resumes
 * in the middle of a piece. */
static void test_writev_all(void **state)
{
	enum { PIECE = 200000 };
	static uint8_t src[3][PIECE], dst[3 * PIECE];
	struct iovec iov[3];
	struct drain d = {.buf = dst, .len = sizeof(dst)};
	int sp[2], small = 4096;
	pthread_t th;

	(void)state;
	for (int i = 0; i < 3; i++) {
		for (size_t k = 0; k < PIECE; k++)
			src[i][k] = (uint8_t)(k * 7 + i);
		iov[i] = (struct iovec){src[i], PIECE};
	}
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	d.fd = sp[1];
	assert_int_equal(fcntl(sp[1], F_SETFL, 0), 0); /* the reader blocks */
	assert_int_equal(pthread_create(&th, NULL, drain_all, &d), 0);
	assert_int_equal(l7r_writev_all(sp[0], iov, 3, l7r_deadline(10000)), 0);
	pthread_join(th, NULL);
	assert_int_equal(d.len, sizeof(dst));
	for (int i = 0; i < 3; i++)
		assert_memory_equal(dst + (size_t)i * PIECE, src[i], PIECE);
	close(sp[0]);
	close(sp[1]);
}

/* tcpKeepalive as the kernel reads it back. */
static void test_keepalive(void **state)
{
	struct l7r_keepalive ka = {.on = true, .probes = 3, .time_s = 30, .interval_s = 2};
	int fd = socket(AF_INET, SOCK_STREAM, 0), v = 0;
	socklen_t len = sizeof(v);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(l7r_set_keepalive(fd, &ka), 0);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
	assert_int_equal(v, 1);
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, &len), 0);
	assert_int_equal(v, 3);
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len), 0);
	assert_int_equal(v, 30);
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, &len), 0);
	assert_int_equal(v, 2);
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ka.on = false;
	assert_int_equal(l7r_set_keepalive(fd, &ka), 0);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
	assert_int_equal(v, 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_up_opts),   cmocka_unit_test(test_max_retries),
	    cmocka_unit_test(test_backoff),   cmocka_unit_test(test_generated_cookie),
	    cmocka_unit_test(test_idle_pool), cmocka_unit_test(test_keepalive),
	    cmocka_unit_test(test_read_wait), cmocka_unit_test(test_writev_all),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
