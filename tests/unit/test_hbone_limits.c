// SPDX-License-Identifier: Apache-2.0
/*
 * HBONE against its limits, on real sockets (loopback, no root): two of skiffd's proxies, A with
 * an outbound listener whose every connection is routed over HBONE to B, and B with its inbound
 * 15008 on an address of its own in 127/8, both with mesh certificates minted by a test root.
 * The "pod" is a listening socket of the test. Limits in milliseconds:
 *   - a stream with no byte either way for idle_ms is reset on both nodes: the client and the
 *     pod each see their connection end, and the bytes before went through;
 *   - an inbound connection that completed its handshake and opened no stream is closed after
 *     idle_ms;
 *   - a TCP connection to 15008 that never starts its handshake is closed after connect_ms.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "hbone/hbone.h"
#include "identity/identity.h"
#include "proxy/proxy.h"

#define T_IDLE_MS    1000
#define T_CONNECT_MS 300
/*
 * Tests that need a handshake to finish use a connect limit that even an emulated CPU meets (a
 * TCG guest on a loaded machine took up to 6 s for the two handshakes); only the test of that
 * limit uses the short one.
 */
#define T_SLOW_CONNECT_MS 15000
#define T_WAIT_S	  20 /* the most any step may take, on a loaded emulated CPU */
#define TD		  "cluster.local"

struct hrig {
	struct identity_ca ca;
	struct identity_cert cc, sc;
	SSL_CTX *cctx, *sctx;
	struct proxy *a, *b;
	char node[32]; /* B's address: 127.77.x.y */
	int pod_lfd;
	uint16_t pod_port, a_port;
};

static uint16_t bound_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int orig_dst(void *ctx, const struct skiff_punt_key *k, struct skiff_sock_origin *dst)
{
	struct hrig *h = ctx;

	(void)k;
	*dst = (struct skiff_sock_origin){.family = SKIFF_AF_INET, .port = htons(h->pod_port)};
	dst->addr.v4 = htonl(INADDR_LOOPBACK);
	return 0;
}

static int route(void *ctx, const struct skiff_punt_key *client,
		 const struct skiff_sock_origin *dst, struct proxy_route *r)
{
	struct hrig *h = ctx;
	struct sockaddr_in *sin = (struct sockaddr_in *)&r->node;

	(void)client;
	(void)dst;
	memset(r, 0, sizeof(*r));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(HBONE_PORT);
	inet_pton(AF_INET, h->node, &sin->sin_addr);
	r->node_len = sizeof(*sin);
	r->ctx = h->cctx;
	snprintf(r->src_id, sizeof(r->src_id), "spiffe://" TD "/ns/shop/sa/web");
	return 0;
}

static SSL_CTX *server_ctx(void *ctx)
{
	return ((struct hrig *)ctx)->sctx;
}

static enum proxy_verdict allow(void *ctx, const char *principal,
				const struct skiff_sock_origin *src,
				const struct skiff_sock_origin *dst, struct proxy_l7 *l7)
{
	(void)ctx, (void)principal, (void)src, (void)dst, (void)l7;
	return PROXY_ALLOW;
}

static SSL_CTX *mint_ctx(struct hrig *h, const char *ns, const char *sa, struct identity_cert *c)
{
	struct identity_err err = {{0}};
	struct spiffe_id id;
	SSL_CTX *ctx;

	assert_int_equal(identity_spiffe_make(TD, ns, sa, &id, &err), 0);
	assert_int_equal(identity_mint(&h->ca, &id, time(NULL), 3600, c, &err), 0);
	ctx = identity_tls_ctx(&h->ca, c, "h2", &err);
	if (!ctx)
		fail_msg("identity_tls_ctx: %s", err.msg);
	return ctx;
}

static int setup_with(void **state, uint32_t connect_ms)
{
	const struct proxy_limits lim = {.idle_ms = T_IDLE_MS, .connect_ms = connect_ms};
	struct sockaddr_in pod = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct identity_err err = {{0}};
	struct hrig *h = calloc(1, sizeof(*h));
	struct proxy_opts
	    oa = {.addr4 = "127.0.0.1", .orig_dst = orig_dst, .route = route, .limits = lim},
	    ob = {.orig_dst = orig_dst, .server_ctx = server_ctx, .authz = allow, .limits = lim};

	assert_non_null(h);
	*state = h;
	/* an address of B's own, so that 15008 is free whatever else runs on this machine */
	snprintf(h->node, sizeof(h->node), "127.77.%u.%u", (getpid() >> 8) & 0xff,
		 1 + getpid() % 250);
	assert_int_equal(identity_ca_create(time(NULL), 86400, &h->ca, &err), 0);
	h->cctx = mint_ctx(h, "shop", "web", &h->cc);
	h->sctx = mint_ctx(h, "skiff-system", "skiffd", &h->sc);
	h->pod_lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(h->pod_lfd, (struct sockaddr *)&pod, sizeof(pod)), 0);
	assert_int_equal(listen(h->pod_lfd, 16), 0);
	h->pod_port = bound_port(h->pod_lfd);
	oa.ctx = ob.ctx = h;
	ob.addr4 = h->node;
	assert_int_equal(proxy_start(&ob, &h->b), 0);
	assert_int_equal(proxy_start(&oa, &h->a), 0);
	h->a_port = bound_port(h->a->listeners[0].fd);
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, T_SLOW_CONNECT_MS);
}

static int setup_short_connect(void **state)
{
	return setup_with(state, T_CONNECT_MS);
}

static int teardown(void **state)
{
	struct hrig *h = *state;

	proxy_stop(h->a);
	proxy_stop(h->b);
	close(h->pod_lfd);
	SSL_CTX_free(h->cctx);
	SSL_CTX_free(h->sctx);
	identity_cert_free(&h->cc);
	identity_cert_free(&h->sc);
	identity_ca_free(&h->ca);
	free(h);
	return 0;
}

static int tcp_to(const char *ip, uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct timeval tv = {.tv_sec = T_WAIT_S};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, ip, &sin.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* The peer ends `fd` within T_WAIT_S, and not before `min_ms` from `since`. */
static void expect_closed(int fd, uint64_t since, uint64_t min_ms)
{
	char c;
	ssize_t n = recv(fd, &c, 1, 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		fail_msg("the connection is still open after %d s", T_WAIT_S);
	assert_true(n <= 0);
	if (now_ms() - since < min_ms)
		fail_msg("closed after %llu ms, before its %llu ms limit",
			 (unsigned long long)(now_ms() - since), (unsigned long long)min_ms);
}

static void xfer(int from, int to, const char *msg)
{
	char buf[64] = {0};
	size_t n = strlen(msg), got = 0;
	ssize_t r = 0;

	assert_int_equal(send(from, msg, n, MSG_NOSIGNAL), (ssize_t)n);
	while (got < n && (r = recv(to, buf + got, n - got, 0)) > 0)
		got += r;
	if (got < n)
		fail_msg("\"%s\": %zu of %zu bytes, then %s", msg, got, n,
			 r == 0 ? "the end" : strerror(errno));
	assert_memory_equal(buf, msg, n);
}

static struct proxy_stats stats(struct proxy *p)
{
	struct proxy_stats s;

	proxy_stats_read(p, &s);
	return s;
}

/* A stream both ways through HBONE, then silence: reset on both nodes after idle_ms. */
static void test_stream_idle(void **state)
{
	struct hrig *h = *state;
	struct timeval tv = {.tv_sec = T_WAIT_S};
	struct pollfd pfd;
	int cl = tcp_to("127.0.0.1", h->a_port), pod;
	uint64_t t0;

	pfd = (struct pollfd){.fd = h->pod_lfd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, T_WAIT_S * 1000), 1);
	pod = accept(h->pod_lfd, NULL, NULL);
	assert_true(pod >= 0);
	setsockopt(pod, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	xfer(cl, pod, "ping");
	xfer(pod, cl, "pong");
	t0 = now_ms();
	expect_closed(cl, t0, T_IDLE_MS / 2);
	expect_closed(pod, t0, T_IDLE_MS / 2);
	close(cl);
	close(pod);
	assert_true(stats(h->a).idle_closed + stats(h->b).idle_closed >= 1);
	assert_int_equal(stats(h->a).hbone_out, 1);
	assert_int_equal(stats(h->b).hbone_in, 1);
}

/* A verified HBONE client that opens no stream: B closes it after idle_ms. */
static void test_conn_without_streams(void **state)
{
	struct hrig *h = *state;
	int fd = tcp_to(h->node, HBONE_PORT);
	SSL *ssl = SSL_new(h->cctx);
	uint64_t t0;
	char c;

	assert_non_null(ssl);
	SSL_set_fd(ssl, fd);
	assert_int_equal(SSL_connect(ssl), 1);
	t0 = now_ms();
	while (SSL_read(ssl, &c, 1) > 0) /* B's SETTINGS, then the end */
		;
	if (now_ms() - t0 < T_IDLE_MS / 2 || now_ms() - t0 > T_WAIT_S * 1000)
		fail_msg("closed after %llu ms", (unsigned long long)(now_ms() - t0));
	SSL_free(ssl);
	close(fd);
	assert_int_equal(stats(h->b).idle_closed, 1);
}

/* A TCP connection to 15008 that never says ClientHello: closed after connect_ms. */
static void test_handshake_timeout(void **state)
{
	struct hrig *h = *state;
	int fd = tcp_to(h->node, HBONE_PORT);

	expect_closed(fd, now_ms(), T_CONNECT_MS / 2);
	close(fd);
	assert_int_equal(stats(h->b).connect_timeouts, 1);
	assert_int_equal(stats(h->b).idle_closed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_stream_idle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conn_without_streams, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_handshake_timeout, setup_short_connect, teardown),
	};

	/* as in skiffd (agent_loop.c): a relay's write or splice to a socket its peer closed
	 * (an idle timeout's, here) returns EPIPE instead of ending the process */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
