// SPDX-License-Identifier: Apache-2.0
/*
 * The L7 relay on real sockets (127.0.0.1, no root): skiffd's proxy started with proxy_start, its
 * orig_dst pointing at a small HTTP/1.1 keep-alive server run by the test, its authz hook saying
 * what each case needs. Driven by real curl (several URLs on one connection), by a raw socket
 * for pipelining, and with the real evaluator deciding the Istio guide's payments policy.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "authz/authz.h"
#include "model/model.h"
#include "proxy/proxy_internal.h" /* the listener's port, when bound to port 0 */

#define DENIED                                                                                     \
	"HTTP/1.1 403 Forbidden\r\ncontent-length: 19\r\ncontent-type: text/plain\r\n\r\n"         \
	"RBAC: access denied"
#define FRONTEND "spiffe://cluster.local/ns/payments/sa/frontend-sa"

/* ---- the pod: answers every request "200" with "METHOD PATH\n", keeping the connection ---- */
/* (and notes each request's Host value apart, in srv.hosts) */

#define SRV_CONNS 16

struct srv_conn {
	int fd;
	char buf[16384];
	size_t len;
};

struct srv {
	int lfd, stop[2];
	uint16_t port;
	pthread_t th;
	bool running;
	pthread_mutex_t mu;
	int accepts;
	bool big_sent;	  /* the whole /big body was written */
	char seen[4096];  /* "METHOD PATH\n" per request served */
	char hosts[1024]; /* "HOST\n" per request served: its Host value */
	struct srv_conn c[SRV_CONNS];
};

#define BIG_BYTES   (64 << 20)	/* far more than every socket buffer on the way can hold */
#define PATTERN_LEN (251 * 256) /* byte i of the body is i % 251 */

/* GET /big: BIG_BYTES of a known pattern, written as fast as the connection takes them. */
static bool srv_big(struct srv *s, int fd)
{
	static uint8_t chunk[PATTERN_LEN];
	char head[128];
	size_t sent = 0;

	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = i % 251;
	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n", BIG_BYTES);
	if (send(fd, head, strlen(head), MSG_NOSIGNAL) < 0)
		return false;
	while (sent < BIG_BYTES) {
		size_t off = sent % PATTERN_LEN, n = PATTERN_LEN - off;
		ssize_t w = send(fd, chunk + off, n < BIG_BYTES - sent ? n : BIG_BYTES - sent,
				 MSG_NOSIGNAL);

		if (w <= 0)
			return false;
		sent += w;
	}
	pthread_mutex_lock(&s->mu);
	s->big_sent = true;
	pthread_mutex_unlock(&s->mu);
	return true;
}

/* A chunked body's length if it is all in (the test sends no trailers), else SIZE_MAX. */
static size_t chunked_len(const char *b, size_t n)
{
	const char *end;

	if (n >= 5 && !memcmp(b, "0\r\n\r\n", 5))
		return 5;
	end = memmem(b, n, "\r\n0\r\n\r\n", 7);
	return end ? (size_t)(end + 7 - b) : SIZE_MAX;
}

/* Note the Host value of the head in `h` (NUL-terminated, "-" when it has none). */
static void srv_note_host(struct srv *s, const char *h)
{
	const char *v = strcasestr(h, "\r\nhost:");
	int n = 1;

	if (v) {
		v += 7;
		v += strspn(v, " \t");
		n = strcspn(v, "\r");
	}
	pthread_mutex_lock(&s->mu);
	snprintf(s->hosts + strlen(s->hosts), sizeof(s->hosts) - strlen(s->hosts), "%.*s\n", n,
		 v ? v : "-");
	pthread_mutex_unlock(&s->mu);
}

/* Answer the complete requests in c->buf; false when the connection should close. */
static bool srv_answer(struct srv *s, struct srv_conn *c)
{
	char *end, method[16], path[256], rsp[512], body[300], *cl;
	size_t head, blen = 0;
	bool close_it;

	while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
		head = end + 4 - c->buf;
		*end = '\0';
		cl = strcasestr(c->buf, "\r\ncontent-length:");
		blen = cl ? strtoul(cl + 17, NULL, 10) : 0;
		if (strcasestr(c->buf, "\r\ntransfer-encoding: chunked")) /* no trailers here */
			blen = chunked_len(c->buf + head, c->len - head);
		if (blen > c->len - head) {
			*end = '\r';
			return true; /* the body is not all here yet */
		}
		if (sscanf(c->buf, "%15s %255s", method, path) != 2)
			return false;
		close_it = strcasestr(c->buf, "\r\nconnection: close") != NULL;
		snprintf(body, sizeof(body), "%s %s\n", method, path);
		snprintf(rsp, sizeof(rsp), "HTTP/1.1 200 OK\r\ncontent-length: %zu\r\n\r\n%s",
			 strlen(body), strcmp(method, "HEAD") ? body : "");
		pthread_mutex_lock(&s->mu);
		strncat(s->seen, body, sizeof(s->seen) - strlen(s->seen) - 1);
		pthread_mutex_unlock(&s->mu);
		srv_note_host(s, c->buf);
		if (!strcmp(path, "/big")) {
			if (!srv_big(s, c->fd))
				return false;
		} else if (send(c->fd, rsp, strlen(rsp), MSG_NOSIGNAL) < 0) {
			return false;
		}
		if (close_it)
			return false;
		memmove(c->buf, c->buf + head + blen, c->len - head - blen);
		c->len -= head + blen;
	}
	return c->len < sizeof(c->buf);
}

static void srv_accept(struct srv *s)
{
	int fd = accept(s->lfd, NULL, NULL);

	if (fd < 0)
		return;
	pthread_mutex_lock(&s->mu);
	s->accepts++;
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < SRV_CONNS; i++)
		if (s->c[i].fd < 0) {
			s->c[i].fd = fd;
			s->c[i].len = 0;
			return;
		}
	close(fd);
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	struct pollfd pf[SRV_CONNS + 2];

	for (;;) {
		pf[0] = (struct pollfd){.fd = s->stop[0], .events = POLLIN};
		pf[1] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
		for (int i = 0; i < SRV_CONNS; i++)
			pf[i + 2] = (struct pollfd){.fd = s->c[i].fd, .events = POLLIN};
		if (poll(pf, SRV_CONNS + 2, -1) < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			break;
		if (pf[1].revents)
			srv_accept(s);
		for (int i = 0; i < SRV_CONNS; i++) {
			struct srv_conn *c = &s->c[i];
			ssize_t n;

			if (c->fd < 0 || !pf[i + 2].revents)
				continue;
			n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
			if (n > 0)
				c->len += n;
			if (n <= 0 || !srv_answer(s, c)) {
				close(c->fd);
				c->fd = -1;
			}
		}
	}
	return NULL;
}

static uint16_t bound_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

static void srv_start(struct srv *s)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < SRV_CONNS; i++)
		s->c[i].fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(s->lfd, 16), 0);
	s->port = bound_port(s->lfd);
	assert_int_equal(pipe(s->stop), 0);
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
	s->running = true;
}

static void srv_stop(struct srv *s)
{
	if (!s->running)
		return;
	(void)!write(s->stop[1], "x", 1);
	pthread_join(s->th, NULL);
	for (int i = 0; i < SRV_CONNS; i++)
		if (s->c[i].fd >= 0)
			close(s->c[i].fd);
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
	pthread_mutex_destroy(&s->mu);
	s->running = false;
}

/* The Host values the pod was sent since the last call. */
static void srv_hosts(struct srv *s, char *out, size_t cap)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = strnlen(s->hosts, cap - 1);
	memcpy(out, s->hosts, n);
	out[n] = '\0';
	s->hosts[0] = '\0';
	pthread_mutex_unlock(&s->mu);
}

static void srv_seen(struct srv *s, char *out, size_t cap, int *accepts)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = strnlen(s->seen, cap - 1);
	memcpy(out, s->seen, n);
	out[n] = '\0';
	s->seen[0] = '\0';
	if (accepts)
		*accepts = s->accepts;
	pthread_mutex_unlock(&s->mu);
}

/* ---- the proxy and its hooks ---- */

static atomic_int releases; /* proxy_l7.release calls */

struct rt {
	struct srv srv;
	struct proxy *p;
	uint16_t port;	   /* the proxy's outbound listener */
	uint16_t dst_port; /* where orig_dst sends connections */
	enum proxy_verdict verdict;
	struct l7_decider dec;	      /* for PROXY_L7 */
	struct skiff_sock_origin src; /* what authz was given, last */
	bool authz_principal_null;
	bool via_socketpair; /* authz hands the relay a socketpair end instead (as HBONE does) */
	bool fast;	     /* orig_dst says the client is on the fast path (sk_msg redirect) */
	atomic_int pair_fd;  /* ... and the test gets the other end here */
	/* what proxy_opts.stream_open / stream_end reported: plain relays report themselves */
	atomic_int opened, ended, ended_uf, ended_bytes;
};

static void stream_open(void *ctx, const struct proxy_stream_end *e)
{
	struct rt *t = ctx;

	(void)e;
	atomic_fetch_add(&t->opened, 1);
}

static void stream_end(void *ctx, const struct proxy_stream_end *e)
{
	struct rt *t = ctx;

	atomic_fetch_add(&t->ended_bytes, (int)(e->bytes_up + e->bytes_down));
	if (e->flags && !strcmp(e->flags, "UF"))
		atomic_fetch_add(&t->ended_uf, 1);
	atomic_fetch_add(&t->ended, 1);
}

static int orig_dst(void *ctx, const struct skiff_punt_key *k, struct skiff_sock_origin *dst)
{
	struct rt *t = ctx;

	(void)k;
	*dst = (struct skiff_sock_origin){.family = SKIFF_AF_INET, .port = htons(t->dst_port)};
	dst->addr.v4 = htonl(INADDR_LOOPBACK);
	return t->fast;
}

static void release(void *ctx)
{
	(void)ctx;
	atomic_fetch_add(&releases, 1);
}

static enum proxy_verdict authz(void *ctx, const char *principal,
				const struct skiff_sock_origin *src,
				const struct skiff_sock_origin *dst, struct proxy_l7 *l7)
{
	struct rt *t = ctx;

	(void)dst;
	t->src = *src;
	t->authz_principal_null = principal == NULL;
	if (t->via_socketpair) { /* on the proxy thread, as hb_stream_attach_l7 runs */
		struct proxy_l7 pl7 = {.d = t->dec, .release = release};
		int sp[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp))
			return PROXY_DENY;
		if (l7_relay_open(t->p, sp[1], dst, &pl7)) {
			close(sp[0]);
			return PROXY_DENY;
		}
		atomic_store(&t->pair_fd, sp[0]);
		return PROXY_DENY; /* the TCP connection only served to get here */
	}
	if (t->verdict == PROXY_L7)
		*l7 = (struct proxy_l7){.d = t->dec, .release = release};
	return t->verdict;
}

/* Denies every request whose path contains "deny". */
static bool deny_word(void *ctx, struct authz_request *rq, char *why, size_t len)
{
	(void)ctx;
	(void)why;
	(void)len;
	return !rq->path || !strstr(rq->path, "deny");
}

/* The limits the bound cases run with: milliseconds instead of Envoy's hour. */
#define T_IDLE_MS    600
#define T_SNIFF_MS   300
#define T_HEAD_MS    300
#define T_CONNECT_MS 300
#define T_PER_SOURCE 4

static int setup_with(void **state, const struct proxy_limits *lim)
{
	struct rt *t = calloc(1, sizeof(*t));
	struct proxy_opts o = {.addr4 = "127.0.0.1",
			       .orig_dst = orig_dst,
			       .authz = authz,
			       .stream_open = stream_open,
			       .stream_end = stream_end};

	assert_non_null(t);
	*state = t;
	srv_start(&t->srv);
	t->dst_port = t->srv.port;
	t->verdict = PROXY_L7;
	t->dec = (struct l7_decider){.decide = deny_word};
	atomic_store(&t->pair_fd, -1);
	o.ctx = t;
	if (lim)
		o.limits = *lim;
	assert_int_equal(proxy_start(&o, &t->p), 0);
	t->port = bound_port(t->p->listeners[0].fd);
	atomic_store(&releases, 0);
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, NULL);
}

static int setup_bounded(void **state)
{
	const struct proxy_limits lim = {.idle_ms = T_IDLE_MS,
					 .sniff_ms = T_SNIFF_MS,
					 .head_ms = T_HEAD_MS,
					 .connect_ms = T_CONNECT_MS,
					 .per_source = T_PER_SOURCE};

	return setup_with(state, &lim);
}

/* A long idle limit and a short linger: which of the two ended a relay shows. */
static int setup_linger(void **state)
{
	const struct proxy_limits lim = {.idle_ms = 5000, .linger_ms = 200};

	return setup_with(state, &lim);
}

static int teardown(void **state)
{
	struct rt *t = *state;

	proxy_stop(t->p);
	srv_stop(&t->srv);
	if (atomic_load(&t->pair_fd) >= 0)
		close(atomic_load(&t->pair_fd));
	free(t);
	return 0;
}

static struct proxy_stats stats(struct rt *t)
{
	struct proxy_stats s;

	proxy_stats_read(t->p, &s);
	return s;
}

/* Wait up to 5 s for *v to reach `want` (the proxy thread closes relays on its own time). */
static bool wait_for(atomic_int *v, int want)
{
	for (int i = 0; i < 500 && atomic_load(v) != want; i++)
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	return atomic_load(v) == want;
}

/* ---- clients ---- */

/* Run curl with `args` (NULL-terminated, after "curl"); its stdout into `out`. Exit status. */
static int curl(char *out, size_t cap, const char *const *args)
{
	const char *argv[64] = {"curl"};
	int pfd[2], status;
	size_t n = 1, got = 0;
	ssize_t r;
	pid_t pid;

	while (args[n - 1] && n < 63) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execvp("curl", (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	while (got + 1 < cap && (r = read(pfd[0], out + got, cap - 1 - got)) > 0)
		got += r;
	out[got] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void url(char *buf, size_t cap, struct rt *t, const char *path)
{
	snprintf(buf, cap, "http://127.0.0.1:%u%s", t->port, path);
}

static int raw_connect(struct rt *t)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons(t->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/*
 * A TCP connection that only makes the proxy call authz (socketpair mode), which then resets it:
 * the reset can land before connect() has returned on a slow machine (TCG), so connect() may
 * fail with ECONNRESET; either way the proxy has seen it.
 */
static void trigger_connect(struct rt *t)
{
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_port = htons(t->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
		assert_int_equal(errno, ECONNRESET);
	for (int i = 0; i < 500 && atomic_load(&t->pair_fd) < 0; i++)
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	close(fd);
}

/* Read exactly strlen(want) bytes (or until EOF or 5 s) and compare. */
static void raw_expect(int fd, const char *want)
{
	size_t n = strlen(want), got = 0;
	char *buf = calloc(1, n + 1);
	ssize_t r;

	assert_non_null(buf);
	while (got < n && (r = recv(fd, buf + got, n - got, 0)) > 0)
		got += r;
	if (got != n || memcmp(buf, want, n)) {
		fprintf(stderr, "got %zu bytes:\n%s\nwanted:\n%s\n", got, buf, want);
		free(buf);
		fail_msg("the client did not get what it should");
	}
	free(buf);
}

static void raw_send(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

#define OK_FOR(line) "HTTP/1.1 200 OK\r\ncontent-length: " #line "\r\n\r\n"

/* ---- cases ---- */

/* curl's three URLs share one connection: allowed, denied, allowed. */
static void test_curl_one_connection(void **state)
{
	struct rt *t = *state;
	char u1[128], u2[128], u3[128], out[256], seen[512];
	const char *args[] = {"-s",
			      "--noproxy",
			      "*",
			      "--max-time",
			      "10",
			      "-o",
			      "/dev/null",
			      "-o",
			      "/dev/null",
			      "-o",
			      "/dev/null",
			      "-w",
			      "%{http_code} %{num_connects}\n",
			      u1,
			      u2,
			      u3,
			      NULL};
	struct proxy_stats s;
	int accepts;

	url(u1, sizeof(u1), t, "/ok");
	url(u2, sizeof(u2), t, "/deny/this");
	url(u3, sizeof(u3), t, "/ok/again");
	assert_int_equal(curl(out, sizeof(out), args), 0);
	assert_string_equal(out, "200 1\n403 0\n200 0\n");
	srv_seen(&t->srv, seen, sizeof(seen), &accepts);
	assert_string_equal(seen, "GET /ok\nGET /ok/again\n"); /* the denied one never reached it */
	assert_int_equal(accepts, 1);
	assert_true(wait_for(&releases, 1)); /* the relay ended when curl closed, and let go */
	s = stats(t);
	assert_int_equal(s.accepted, 1);
	assert_int_equal(s.l7_conns, 1);
	assert_int_equal(s.l7_requests, 3);
	assert_int_equal(s.l7_denied, 1);
	assert_int_equal(s.authz_denied, 0);
	assert_int_equal(s.relayed, 1);
	assert_int_equal(s.active, 0);
	/* the hook saw the client as the kernel filed it: address and port, no principal */
	assert_true(t->authz_principal_null);
	assert_int_equal(t->src.family, SKIFF_AF_INET);
	assert_int_equal(t->src.addr.v4, htonl(INADDR_LOOPBACK));
	assert_int_not_equal(t->src.port, 0);
}

/* Pipelined on a raw socket: answers in request order, denied bodies dropped. */
static void test_pipelined_raw(void **state)
{
	struct rt *t = *state;
	char seen[512];
	int fd = raw_connect(t);

	raw_send(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
		     "GET /deny HTTP/1.1\r\nHost: x\r\n\r\n"
		     "GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_expect(fd, OK_FOR(7) "GET /a\n" DENIED OK_FOR(7) "GET /c\n");
	raw_send(fd, "POST /deny HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"
		     "POST /d HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "3\r\nabc\r\n0\r\n\r\n"
		     "GET /e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	raw_expect(fd, DENIED OK_FOR(8) "POST /d\n" OK_FOR(7) "GET /e\n");
	close(fd);
	srv_seen(&t->srv, seen, sizeof(seen), NULL);
	assert_string_equal(seen, "GET /a\nGET /c\nPOST /d\nGET /e\n");
	assert_int_equal(stats(t).l7_requests, 6);
	assert_int_equal(stats(t).l7_denied, 2);
}

static bool big_sent(struct srv *s)
{
	bool sent;

	pthread_mutex_lock(&s->mu);
	sent = s->big_sent;
	pthread_mutex_unlock(&s->mu);
	return sent;
}

/* GET /big's body from fd: exactly BIG_BYTES, each byte where the pattern puts it. */
static void expect_big_body(int fd)
{
	char buf[65536];
	size_t got = 0;
	ssize_t r;

	while (got < BIG_BYTES && (r = recv(fd, buf, sizeof(buf), 0)) > 0) {
		for (ssize_t i = 0; i < r; i++)
			if ((uint8_t)buf[i] != (got + i) % 251)
				fail_msg("byte %zu of the body is %u", got + i, (uint8_t)buf[i]);
		got += r;
	}
	assert_int_equal(got, BIG_BYTES);
}

/*
 * Back-pressure: while the client reads nothing, the relay stops reading the pod once it holds
 * a mebibyte for the client, so the pod cannot finish writing 64 MiB. Then every byte arrives,
 * in order. A denied request's 4 MiB body is read and dropped on the way.
 */
static void test_big_bodies(void **state)
{
	struct rt *t = *state;
	static char body[4 << 20];
	char head[128];
	int fd = raw_connect(t);

	snprintf(head, sizeof(head),
		 "POST /deny HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", sizeof(body));
	raw_send(fd, head);
	memset(body, 'b', sizeof(body));
	assert_int_equal(send(fd, body, sizeof(body), MSG_NOSIGNAL), (ssize_t)sizeof(body));
	raw_send(fd, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_expect(fd, DENIED);
	nanosleep(&(struct timespec){.tv_nsec = 300 * 1000 * 1000}, NULL);
	assert_false(big_sent(&t->srv));
	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n", BIG_BYTES);
	raw_expect(fd, head);
	expect_big_body(fd);
	assert_true(big_sent(&t->srv));
	close(fd);
}

/* A client that half-closes after its request still gets the answer, then FIN. */
static void test_half_close(void **state)
{
	struct rt *t = *state;
	char c;
	int fd = raw_connect(t);

	raw_send(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /deny HTTP/1.1\r\nHost: x\r\n\r\n");
	shutdown(fd, SHUT_WR);
	raw_expect(fd, OK_FOR(7) "GET /a\n" DENIED);
	assert_int_equal(recv(fd, &c, 1, 0), 0);
	close(fd);
	assert_true(wait_for(&releases, 1));
	assert_int_equal(stats(t).relayed, 1);
}

/* The client's first bytes choose the filter: the HTTP/2 preface, even sent a byte at a time,
 * goes to the h2c filter (which passes it to the pod as it is); a line that only starts like it
 * is HTTP/1.1, where "HTTP/2.0" is a bad request. */
static void test_sniff_preface(void **state)
{
	struct rt *t = *state;
	const char *preface = L7_H2_PREFACE;
	char seen[512], buf[256];
	int fd = raw_connect(t), one = 1;
	ssize_t r;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (int i = 0; i < L7_H2_PREFACE_LEN; i++) {
		assert_int_equal(send(fd, preface + i, 1, MSG_NOSIGNAL), 1);
		nanosleep(&(struct timespec){.tv_nsec = 2 * 1000 * 1000}, NULL);
	}
	for (int i = 0; i < 500; i++) {
		srv_seen(&t->srv, seen, sizeof(seen), NULL);
		if (seen[0])
			break;
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
	}
	/* our HTTP/1.1 pod took the preface for a request "PRI *": the h2c filter passed it */
	assert_string_equal(seen, "PRI *\n");
	close(fd);

	fd = raw_connect(t);
	raw_send(fd, "PRI * HTTP/2.0\r\nHost: x\r\n\r\n");
	r = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_true(r > 0);
	buf[r] = '\0';
	assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request\r\n"));
	close(fd);
	srv_seen(&t->srv, seen, sizeof(seen), NULL);
	assert_string_equal(seen, "");
	assert_int_equal(stats(t).l7_conns, 2);
}

/* The client end may be a socketpair (HBONE hands the relay one): same answers, half-close
 * both ways, and a peer that goes away entirely ends the relay. */
static void test_socketpair_client(void **state)
{
	struct rt *t = *state;
	struct timeval tv = {.tv_sec = 5};
	int sp;
	char c;

	t->via_socketpair = true;
	trigger_connect(t);
	sp = atomic_exchange(&t->pair_fd, -1);
	assert_true(sp >= 0);
	fcntl(sp, F_SETFL, 0);
	setsockopt(sp, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	raw_send(sp, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /deny HTTP/1.1\r\nHost: x\r\n\r\n");
	shutdown(sp, SHUT_WR);
	raw_expect(sp, OK_FOR(7) "GET /a\n" DENIED);
	assert_int_equal(recv(sp, &c, 1, 0), 0);
	close(sp);
	assert_true(wait_for(&releases, 1));
	assert_int_equal(stats(t).relayed, 1);

	/* the peer closes with a request in flight: the relay cannot answer, and ends */
	trigger_connect(t);
	sp = atomic_exchange(&t->pair_fd, -1);
	assert_true(sp >= 0);
	raw_send(sp, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
	close(sp);
	assert_true(wait_for(&releases, 2));
	assert_int_equal(stats(t).active, 0);
}

/* A malformed request is answered 400 and the connection closed cleanly (not reset). */
static void test_bad_request_closes(void **state)
{
	struct rt *t = *state;
	char buf[512];
	size_t got = 0;
	ssize_t r;
	int fd = raw_connect(t);

	raw_send(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
		     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
	while (got < sizeof(buf) - 1 && (r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0)
		got += r;
	buf[got] = '\0';
	assert_int_equal(r, 0); /* FIN after the answer */
	assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request\r\n"));
	close(fd);
	assert_true(wait_for(&releases, 1));
}

/* Everything the client gets until the relay closes (at most cap - 1 bytes). */
static void raw_read_all(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t r;

	while (got < cap - 1 && (r = recv(fd, buf + got, cap - 1 - got, 0)) > 0)
		got += r;
	buf[got] = '\0';
}

/* curl (with --path-as-is: it sends the dots) fetches `paths` on one connection, "CODE\n" each. */
static void curl_paths(struct rt *t, const char *const *paths, int n, char *out, size_t cap)
{
	const char *args[64] = {"-s",	      "--path-as-is", "--noproxy", "*",
				"--max-time", "10",	      "-w",	   "%{http_code}\n"};
	char u[8][128];
	int k = 8;

	assert_true(n <= 8);
	for (int i = 0; i < n; i++) {
		url(u[i], sizeof(u[i]), t, paths[i]);
		args[k++] = "-o";
		args[k++] = "/dev/null";
	}
	for (int i = 0; i < n; i++)
		args[k++] = u[i];
	args[k] = NULL;
	assert_int_equal(curl(out, cap, args), 0);
}

/* The pod receives the path and the Host that were decided, not the client's spelling. */
static void test_forwarded_as_decided(void **state)
{
	static const char *const paths[] = {"/a/./b/../c", "/%7euser/%61%2fb?q=/../%61",
					    "/x/%2E%2E/deny/../ok"};
	struct rt *t = *state;
	char out[64], seen[512], hosts[512];
	int fd;

	curl_paths(t, paths, 3, out, sizeof(out));
	assert_string_equal(out, "200\n200\n200\n");
	srv_seen(&t->srv, seen, sizeof(seen), NULL);
	assert_string_equal(seen, "GET /a/c\nGET /~user/a%2Fb?q=/../%61\nGET /ok\n");
	srv_hosts(&t->srv, hosts, sizeof(hosts));
	/* an absolute-form target's authority beats Host: it is decided and it is sent */
	fd = raw_connect(t);
	raw_send(fd, "GET http://public.example/x/../y HTTP/1.1\r\nHost: admin.internal\r\n\r\n"
		     "GET /deny/../z HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n");
	raw_expect(fd, OK_FOR(7) "GET /y\n" OK_FOR(7) "GET /z\n");
	close(fd);
	srv_seen(&t->srv, seen, sizeof(seen), NULL);
	assert_string_equal(seen, "GET /y\nGET /z\n");
	srv_hosts(&t->srv, hosts, sizeof(hosts));
	assert_string_equal(hosts, "public.example\na.example\n");
}

/* CONNECT, a fragment, a chunk-size line with junk: refused, and nothing reaches the pod. */
static void test_refused_never_reach_pod(void **state)
{
	static const char *const rqs[] = {
	    "CONNECT pay.example:443 HTTP/1.1\r\nHost: pay.example:443\r\n\r\nGET /x HTTP/1.1\r\n",
	    "CONNECT /admin HTTP/1.1\r\nHost: x\r\n\r\n",
	    "GET /public#/../admin HTTP/1.1\r\nHost: x\r\n\r\n",
	    "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5 junk\r\nhello\r\n0\r\n\r\n",
	    "POST /deny HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5 junk\r\nhello\r\n0\r\n\r\n",
	};
	static const char *const answers[] = {
	    "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n",
	    "HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n",
	    "HTTP/1.1 400 Bad Request\r\n",
	    "", /* the head went on: only closing helps */
	    DENIED "HTTP/1.1 400 Bad Request\r\n",
	};
	struct rt *t = *state;
	char buf[1024], seen[512];

	for (size_t i = 0; i < sizeof(rqs) / sizeof(rqs[0]); i++) {
		int fd = raw_connect(t);

		raw_send(fd, rqs[i]);
		raw_read_all(fd, buf, sizeof(buf));
		close(fd);
		if (strncmp(buf, answers[i], strlen(answers[i])) || (!answers[i][0] && buf[0]))
			fail_msg("request %zu: the client got\n%s", i, buf);
		srv_seen(&t->srv, seen, sizeof(seen), NULL);
		assert_string_equal(seen, "");
	}
	assert_true(wait_for(&releases, sizeof(rqs) / sizeof(rqs[0])));
	assert_int_equal(stats(t).l7_denied, 3); /* two CONNECTs, one /deny */
}

struct eval_ctx {
	struct authz_set *set;
	struct authz_workload wl;
	const char *principal;
};

/* The agent's decider in small: what the connection knows, then the evaluator. */
static bool eval_decide(void *ctx, struct authz_request *rq, char *why, size_t len)
{
	struct eval_ctx *e = ctx;
	struct authz_decision dec;

	rq->principal = e->principal;
	rq->source_ip = "127.0.0.1";
	rq->dest_ip = "127.0.0.1";
	rq->dest_port = 8080;
	authz_evaluate(e->set, &e->wl, rq, &dec);
	authz_decision_format(&dec, why, len);
	return dec.allow;
}

static void curl_methods(struct rt *t, const char *const methods[4], const char *const paths[4],
			 char *out, size_t cap)
{
	char u[4][128];
	const char *args[64];
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		url(u[i], sizeof(u[i]), t, paths[i]);
		if (i)
			args[n++] = "--next";
		args[n++] = "-s";
		args[n++] = "--noproxy";
		args[n++] = "*";
		args[n++] = "--max-time";
		args[n++] = "10";
		args[n++] = "-o";
		args[n++] = "/dev/null";
		args[n++] = "-w";
		args[n++] = "%{http_code}\n";
		args[n++] = "-X";
		args[n++] = methods[i];
		args[n++] = u[i];
	}
	args[n] = NULL;
	assert_int_equal(curl(out, cap, args), 0);
}

/* The Istio guide's payments-api-policy, decided by the real evaluator. */
static void test_payments_policy(void **state)
{
	static const char *const methods[4] = {"GET", "POST", "DELETE", "GET"};
	static const char *const paths[4] = {"/api/payments/x", "/api/payments/x",
					     "/api/payments/x", "/admin"};
	struct kv app = {"app", "payments-api"};
	struct eval_ctx e = {.wl = {.ns = "payments"}, .principal = FRONTEND};
	struct labels labels = {.v = &app, .n = 1};
	struct rt *t = *state;
	struct model m = {0};
	struct diag d = {0};
	char out[128], seen[512];

	if (model_load_dir("tests/unit/fixtures/l7", &m, &d) ||
	    authz_compile(&m, NULL, &e.set, &d)) {
		diag_print(&d);
		fail_msg("tests/unit/fixtures/l7: the payments policy did not load");
	}
	e.wl.labels = &labels;
	t->dec = (struct l7_decider){.decide = eval_decide, .ctx = &e};
	curl_methods(t, methods, paths, out, sizeof(out));
	assert_string_equal(out, "200\n200\n403\n403\n");
	srv_seen(&t->srv, seen, sizeof(seen), NULL);
	assert_string_equal(seen, "GET /api/payments/x\nPOST /api/payments/x\n");
	/* another identity gets nothing; prometheus only its metrics */
	e.principal = "spiffe://cluster.local/ns/monitoring/sa/prometheus";
	curl_methods(t, methods,
		     (const char *const[4]){"/api/payments/x", "/metrics", "/metrics", "/metrics"},
		     out, sizeof(out));
	assert_string_equal(out, "403\n403\n403\n200\n");
	proxy_stop(t->p); /* the relays point at `e`: end them before it goes */
	t->p = NULL;
	authz_set_free(e.set);
	model_free(&m);
	diag_free(&d);
}

/*
 * A DENY on /admin through the real evaluator: every spelling of /admin is denied (dot
 * segments, an encoded 'a', an absolute-form target), and an allowed path reaches the pod in
 * the form it was decided in.
 */
static void test_deny_admin_policy(void **state)
{
	static const char *const paths[] = {"/public/../admin", "/%61dmin", "/public/./x",
					    "/admin/./../%61dmin/x"};
	struct kv app = {"app", "payments-api"};
	struct eval_ctx e = {.wl = {.ns = "payments"}, .principal = FRONTEND};
	struct labels labels = {.v = &app, .n = 1};
	struct rt *t = *state;
	struct model m = {0};
	struct diag d = {0};
	char out[128], seen[512];
	int fd;

	if (model_load_dir("tests/unit/fixtures/l7-admin", &m, &d) ||
	    authz_compile(&m, NULL, &e.set, &d)) {
		diag_print(&d);
		fail_msg("tests/unit/fixtures/l7-admin: the policy did not load");
	}
	e.wl.labels = &labels;
	t->dec = (struct l7_decider){
	    .decide = eval_decide, .ctx = &e, .path_norm = authz_set_path_norm(e.set)};
	curl_paths(t, paths, 4, out, sizeof(out));
	assert_string_equal(out, "403\n403\n200\n403\n");
	fd = raw_connect(t);
	raw_send(fd, "GET http://x/admin HTTP/1.1\r\nHost: y\r\n\r\n"
		     "GET HTTP://x/public/%2e%2e/admin?q HTTP/1.1\r\nHost: y\r\n\r\n"
		     "GET /public/ok HTTP/1.1\r\nHost: y\r\nConnection: close\r\n\r\n");
	raw_expect(fd, DENIED DENIED OK_FOR(15) "GET /public/ok\n");
	close(fd);
	srv_seen(&t->srv, seen, sizeof(seen), NULL);
	assert_string_equal(seen, "GET /public/x\nGET /public/ok\n");
	proxy_stop(t->p); /* the relays point at `e`: end them before it goes */
	t->p = NULL;
	authz_set_free(e.set);
	model_free(&m);
	diag_free(&d);
}

/* L4: a denied connection is reset before anything reaches the pod. */
static void test_l4_deny_resets(void **state)
{
	struct rt *t = *state;
	char u[128], out[64];
	const char *args[] = {"-s", "--noproxy",    "*", "--max-time", "10", "-o", "/dev/null",
			      "-w", "%{http_code}", u,	 NULL};
	int accepts;

	t->verdict = PROXY_DENY;
	url(u, sizeof(u), t, "/ok");
	assert_int_not_equal(curl(out, sizeof(out), args), 0);
	assert_string_equal(out, "000");
	srv_seen(&t->srv, out, sizeof(out), &accepts);
	assert_int_equal(accepts, 0);
	assert_int_equal(stats(t).authz_denied, 1);
	assert_int_equal(stats(t).l7_conns, 0);
	assert_int_equal(atomic_load(&releases), 0);
}

/* L4 allowed with no L7 rule: the plain relay carries it. */
static void test_l4_allow_plain(void **state)
{
	struct rt *t = *state;
	char u[128], out[64];
	const char *args[] = {"-s", "--noproxy",    "*", "--max-time", "10", "-o", "/dev/null",
			      "-w", "%{http_code}", u,	 NULL};

	t->verdict = PROXY_ALLOW;
	url(u, sizeof(u), t, "/deny");
	assert_int_equal(curl(out, sizeof(out), args), 0);
	assert_string_equal(out, "200");
	assert_int_equal(stats(t).l7_conns, 0);
	assert_int_equal(stats(t).authz_denied, 0);
}

/*
 * Allowed at L4, with the client on the fast path: not spliced (splice() would not see
 * redirected bytes) but read and written, untouched. A request the HTTP/1.1 filter would answer
 * 400 (Content-Length and chunked at once) reaches the pod as sent, the 64 MiB answer comes back
 * in order, and nothing counts as an L7 connection or request.
 */
static void test_l4_allow_fast_client(void **state)
{
	struct rt *t = *state;
	char head[128];
	int fd;

	t->verdict = PROXY_ALLOW;
	t->fast = true;
	fd = raw_connect(t);
	raw_send(fd, "GET /big HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
		     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n", BIG_BYTES);
	raw_expect(fd, head);
	/* the relay carrying it is a read/write one, not the splice relay (read while it is open)
	 */
	assert_null(__atomic_load_n(&t->p->relays, __ATOMIC_ACQUIRE));
	assert_non_null(__atomic_load_n(&t->p->l7_relays, __ATOMIC_ACQUIRE));
	expect_big_body(fd);
	close(fd);
	assert_int_equal(stats(t).fast, 1);
	assert_int_equal(stats(t).l7_conns, 0);
	assert_int_equal(stats(t).l7_requests, 0);
}

/* A pod that refuses: the client is reset, the decider released. */
static void test_pod_refuses(void **state)
{
	struct rt *t = *state;
	char u[128], out[64];
	const char *args[] = {"-s", "--noproxy",    "*", "--max-time", "10", "-o", "/dev/null",
			      "-w", "%{http_code}", u,	 NULL};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

	/* a port bound but not listening: connect() is refused */
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	t->dst_port = bound_port(fd);
	url(u, sizeof(u), t, "/ok");
	assert_int_not_equal(curl(out, sizeof(out), args), 0);
	close(fd);
	assert_string_equal(out, "000");
	assert_true(wait_for(&releases, 1));
	assert_int_equal(stats(t).upstream_failed, 1);
	assert_int_equal(stats(t).l7_conns, 1);
}

/*
 * Allowed at L4 and relayed in plaintext to a pod that refuses: the client is reset, and the
 * relay is reported as Envoy's tcp_proxy counts it, opened and closed at once with UF and no
 * bytes. An allowed relay that works reports no flag.
 */
static void test_plain_refused_reports_uf(void **state)
{
	struct rt *t = *state;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char b;

	t->verdict = PROXY_ALLOW;
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	t->dst_port = bound_port(fd); /* bound, not listening: connect() is refused */
	c = raw_connect(t);
	assert_true(recv(c, &b, 1, 0) <= 0);
	close(c);
	close(fd);
	assert_true(wait_for(&t->ended, 1));
	assert_int_equal(atomic_load(&t->opened), 1);
	assert_int_equal(atomic_load(&t->ended_uf), 1);
	assert_int_equal(atomic_load(&t->ended_bytes), 0);
	assert_int_equal(stats(t).upstream_failed, 1);

	t->dst_port = t->srv.port;
	test_l4_allow_plain(state);
	assert_true(wait_for(&t->ended, 2));
	assert_int_equal(atomic_load(&t->opened), 2);
	assert_int_equal(atomic_load(&t->ended_uf), 1);
	assert_true(atomic_load(&t->ended_bytes) > 0);
}

/* proxy_stop ends open L7 relays and releases their deciders. */
static void test_stop_closes(void **state)
{
	struct rt *t = *state;
	int fd = raw_connect(t);
	char c;

	raw_send(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_expect(fd, OK_FOR(7) "GET /a\n");
	assert_int_equal(atomic_load(&releases), 0);
	proxy_stop(t->p);
	t->p = NULL;
	assert_int_equal(atomic_load(&releases), 1);
	assert_true(recv(fd, &c, 1, 0) <= 0); /* reset */
	close(fd);
}

/* ---- bounds: what a client may hold, and for how long ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The proxy ends the connection (FIN or RST) within 5 s, and not before `min_ms` from `since`:
 * a limit is kept, and not cut short. */
static void expect_closed(int fd, uint64_t since, uint64_t min_ms)
{
	char c;
	ssize_t n = recv(fd, &c, 1, 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		fail_msg("the connection is still open after 5 s");
	assert_true(n <= 0);
	if (now_ms() - since < min_ms)
		fail_msg("closed after %llu ms, before its %llu ms limit",
			 (unsigned long long)(now_ms() - since), (unsigned long long)min_ms);
}

static void nap_ms(long ms)
{
	nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000}, NULL);
}

/* A connection with no byte either way for idle_ms is closed, on the L7 relay and on the plain
 * one; one that keeps sending requests outlives it many times over. */
static void test_idle_timeout(void **state)
{
	struct rt *t = *state;
	uint64_t t0;
	int fd;

	for (int plain = 0; plain < 2; plain++) {
		t->verdict = plain ? PROXY_ALLOW : PROXY_L7;
		fd = raw_connect(t);
		raw_send(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
		raw_expect(fd, OK_FOR(7) "GET /a\n");
		t0 = now_ms();
		expect_closed(fd, t0, T_IDLE_MS / 2);
		close(fd);
		assert_int_equal(stats(t).idle_closed, plain + 1);
	}
	t->verdict = PROXY_L7;
	fd = raw_connect(t);
	for (int i = 0; i < 8; i++) { /* 8 x 200 ms: well past the idle limit */
		raw_send(fd, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
		raw_expect(fd, OK_FOR(7) "GET /b\n");
		nap_ms(T_IDLE_MS / 3);
	}
	close(fd);
	assert_int_equal(stats(t).idle_closed, 2);
}

static bool deny_tcp(void *ctx, struct authz_request *rq, char *why, size_t len)
{
	(void)ctx;
	(void)why;
	(void)len;
	return !rq->tcp;
}

/*
 * A client whose first bytes could still start an HTTP method, and then stops: after sniff_ms
 * they are judged at L4 (here a policy that needs HTTP: the connection is refused and closed),
 * and nothing reached the pod. Before, the relay would have waited for ever. A client that sends
 * nothing at first (a pool's connection opened ahead of its request) is not sniffing: its
 * request, past sniff_ms, is still HTTP.
 */
static void test_sniff_timeout(void **state)
{
	struct rt *t = *state;
	char seen[64];
	int accepts, fd;
	uint64_t t0;

	t->dec.decide = deny_tcp;
	fd = raw_connect(t);
	nap_ms(T_SNIFF_MS * 3 / 2); /* past the sniffing limit, not the idle one */
	raw_send(fd, "GET /late HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_expect(fd, OK_FOR(10) "GET /late\n");
	close(fd);
	assert_int_equal(stats(t).sniff_timeouts, 0);
	fd = raw_connect(t);
	raw_send(fd, "GE");
	t0 = now_ms();
	expect_closed(fd, t0, T_SNIFF_MS / 2);
	close(fd);
	assert_int_equal(stats(t).sniff_timeouts, 1);
	assert_int_equal(stats(t).idle_closed, 0);
	srv_seen(&t->srv, seen, sizeof(seen), &accepts);
	assert_string_equal(seen, "GET /late\n");
}

/*
 * Slowloris: a request head that trickles in a byte every 100 ms never leaves the relay idle,
 * but must be whole within head_ms of its first byte: the connection is closed, and nothing of
 * the head reached the pod. A head sent at once on the same terms passes.
 */
static void test_slow_head(void **state)
{
	static const char head[] = "GET /slow HTTP/1.1\r\nHost: x\r\nx-a: 1\r\nx-b: 2\r\n"
				   "x-c: 3\r\nx-d: 4\r\nx-e: 5\r\n\r\n";
	struct rt *t = *state;
	char seen[64];
	int accepts, fd = raw_connect(t);
	uint64_t t0 = now_ms();
	size_t i;

	raw_send(fd, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_expect(fd, OK_FOR(10) "GET /fast\n");
	t0 = now_ms();
	for (i = 0; i < sizeof(head) - 1; i++) {
		if (send(fd, head + i, 1, MSG_NOSIGNAL) != 1)
			break; /* closed under our feet: what the case wants */
		nap_ms(100);
	}
	assert_true(i < sizeof(head) - 1);
	expect_closed(fd, t0, T_HEAD_MS / 2);
	close(fd);
	assert_int_equal(stats(t).head_timeouts, 1);
	assert_int_equal(stats(t).idle_closed, 0);
	srv_seen(&t->srv, seen, sizeof(seen), &accepts);
	assert_string_equal(seen, "GET /fast\n");
}

/* A pod that never answers the dial (its listener's queue is full: the SYN is dropped): the
 * client is reset after connect_ms, on the L7 relay and on the plain one. */
static void test_connect_timeout(void **state)
{
	struct rt *t = *state;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), fill[4], fd;
	uint64_t t0;

	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	sin.sin_port = htons(bound_port(lfd));
	for (int i = 0; i < 4; i++) { /* fill the accept queue; the rest wait in SYN_SENT */
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	nap_ms(100);
	t->dst_port = ntohs(sin.sin_port);
	for (int plain = 0; plain < 2; plain++) {
		t->verdict = plain ? PROXY_ALLOW : PROXY_L7;
		fd = raw_connect(t);
		t0 = now_ms();
		expect_closed(fd, t0, T_CONNECT_MS / 2);
		close(fd);
		assert_int_equal(stats(t).connect_timeouts, plain + 1);
	}
	/* the plain relay's dial that timed out is reported with UF (the L7 relay reports none) */
	assert_true(wait_for(&t->ended_uf, 1));
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
}

/* After its last word (a 400 that closes), the relay waits for the client's FIN linger_ms, not
 * the idle limit: a client that keeps the connection open is reset well before 5 s of idle. */
static void test_linger_after_last_word(void **state)
{
	struct rt *t = *state;
	char c;
	int fd = raw_connect(t);

	raw_send(fd, "GET / HTTP/1.1\r\n\r\n"); /* no Host: 400, and the end */
	raw_expect(fd, "HTTP/1.1 400 Bad Request\r\n");
	while (recv(fd, &c, 1, 0) > 0) /* the rest of the answer, then the relay's FIN */
		;
	for (int i = 0; i < 300 && stats(t).active; i++)
		nap_ms(10);
	assert_int_equal(stats(t).active, 0);
	assert_int_equal(stats(t).idle_closed, 1);
	close(fd);
}

/* One source holds at most per_source connections: the next is reset at once, and served again
 * once one of the others has closed. */
static void test_per_source(void **state)
{
	struct rt *t = *state;
	int fds[T_PER_SOURCE], fd;

	for (int i = 0; i < T_PER_SOURCE; i++) {
		fds[i] = raw_connect(t);
		raw_send(fds[i], "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
		raw_expect(fds[i], OK_FOR(7) "GET /a\n");
	}
	/* one over the limit is closed at once: on a slow machine (TCG) the reset can land before
	 * connect() has returned, which fails it with ECONNRESET; either way it was refused */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){.tv_sec = 5},
		   sizeof(struct timeval));
	if (connect(
		fd,
		(struct sockaddr *)&(struct sockaddr_in){.sin_family = AF_INET,
							 .sin_port = htons(t->port),
							 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)},
		sizeof(struct sockaddr_in)))
		assert_int_equal(errno, ECONNRESET);
	else
		expect_closed(fd, now_ms(), 0);
	close(fd);
	for (int i = 0; i < 500 && stats(t).source_refused < 1; i++)
		nap_ms(10);
	assert_int_equal(stats(t).source_refused, 1);
	close(fds[0]);
	for (int i = 0; i < 500 && stats(t).active >= T_PER_SOURCE; i++)
		nap_ms(10);
	fd = raw_connect(t);
	raw_send(fd, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
	raw_expect(fd, OK_FOR(7) "GET /b\n");
	close(fd);
	for (int i = 1; i < T_PER_SOURCE; i++)
		close(fds[i]);
	assert_int_equal(stats(t).source_refused, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_curl_one_connection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pipelined_raw, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_big_bodies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_half_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sniff_preface, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_socketpair_client, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_request_closes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forwarded_as_decided, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_never_reach_pod, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_payments_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deny_admin_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_l4_deny_resets, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_l4_allow_plain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_l4_allow_fast_client, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pod_refuses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_plain_refused_reports_uf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_closes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_idle_timeout, setup_bounded, teardown),
	    cmocka_unit_test_setup_teardown(test_sniff_timeout, setup_bounded, teardown),
	    cmocka_unit_test_setup_teardown(test_slow_head, setup_bounded, teardown),
	    cmocka_unit_test_setup_teardown(test_connect_timeout, setup_bounded, teardown),
	    cmocka_unit_test_setup_teardown(test_per_source, setup_bounded, teardown),
	    cmocka_unit_test_setup_teardown(test_linger_after_last_word, setup_linger, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
