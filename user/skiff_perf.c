// SPDX-License-Identifier: Apache-2.0
/*
 * skiff-perf: the connect-rate half of the benchmarks (tests/bench/run.sh), what netperf's TCP_CRR
 * does and no Debian tool in reach does: each transaction is a NEW connection, one request, the
 * reply, close. Latency and throughput come from sockperf and iperf3.
 *
 *   skiff-perf crr HOST:PORT [--seconds S] [--size N] [--timeout-ms MS]
 *       As many transactions as fit in S seconds (default 1), one after the other. The request is
 *       N bytes (default 64) and the reply is awaited as N bytes back (a TCP echo: skiff-echo's
 *       tcp-* ports, or `skiff-perf serve`). Output, one item per line: connections, errors,
 *       error (the first), seconds, rate (connections per second).
 *   skiff-perf serve PORT [--size N] [--timeout-ms MS]
 *       A lean echo server for crr: one connection at a time, N bytes read and written back until
 *       the client closes. No thread per connection, so the connect path is what is measured.
 *
 * The client closes first, so TIME_WAIT lands on its side: give its network namespace
 * net.ipv4.tcp_tw_reuse=1 and a wide ip_local_port_range for runs longer than a second or two.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE 65536

static struct {
	double seconds;
	int size, timeout_ms;
	struct sockaddr_storage dst;
	socklen_t dst_len;
} cfg = {.seconds = 1, .size = 64, .timeout_ms = 1000};

static char buf[MAX_SIZE];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *errname(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "EUNKNOWN";
}

/* HOST:PORT or [V6]:PORT, names resolved once (IPv4 preferred) so lookups stay out of the loop. */
static int resolve(const char *arg)
{
	const char *colon = strrchr(arg, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai, *pick = NULL;
	char host[256];
	int err;

	if (!colon || colon == arg)
		return -EINVAL;
	if (arg[0] == '[')
		snprintf(host, sizeof(host), "%.*s", (int)(colon - arg - 2), arg + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)(colon - arg), arg);
	err = getaddrinfo(host, colon + 1, &hints, &res);
	if (err || !res) { /* !res: never on success, said for the analyzer */
		fprintf(stderr, "skiff-perf: %s: %s\n", arg, gai_strerror(err));
		return -ENOENT;
	}
	for (ai = res; ai && !pick; ai = ai->ai_next)
		if (ai->ai_family == AF_INET)
			pick = ai;
	pick = pick ? pick : res;
	memcpy(&cfg.dst, pick->ai_addr, pick->ai_addrlen);
	cfg.dst_len = pick->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int io_all(int fd, bool out, int len)
{
	int done = 0;

	while (done < len) {
		ssize_t n = out ? send(fd, buf + done, len - done, MSG_NOSIGNAL)
				: recv(fd, buf + done, len - done, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		done += n;
	}
	return 0;
}

/* One transaction on a new connection; 0 or a negative errno. Blocking calls bounded by the
 * socket timeouts (connect honours SO_SNDTIMEO). */
static int one_crr(void)
{
	struct timeval tv = {cfg.timeout_ms / 1000, cfg.timeout_ms % 1000 * 1000};
	int fd = socket(cfg.dst.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, err;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&cfg.dst, cfg.dst_len) < 0)
		err = errno == EINPROGRESS ? -ETIMEDOUT : -errno;
	else
		err = io_all(fd, true, cfg.size) ?: io_all(fd, false, cfg.size);
	close(fd);
	return err == -EAGAIN ? -ETIMEDOUT : err;
}

static int run_crr(void)
{
	double start = now_s(), end = start + cfg.seconds, t = start;
	long conns = 0, errors = 0;
	int first = 0;

	memset(buf, 'x', cfg.size);
	while (t < end) {
		int err = one_crr();

		if (err && !errors++)
			first = -err;
		conns += !err;
		t = now_s();
	}
	printf("connections %ld\nerrors %ld\n", conns, errors);
	if (errors)
		printf("error %s\n", errname(first));
	printf("seconds %.3f\nrate %.1f\n", t - start, conns / (t - start));
	return errors ? 1 : 0;
}

static int listen_on(int port)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, zero = 0;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0) {
		int err = -errno;

		fprintf(stderr, "skiff-perf: listen on port %d: %s\n", port, strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

/* Serve connections one at a time; a client silent for the timeout is dropped. */
static int run_serve(int port)
{
	struct timeval tv = {cfg.timeout_ms / 1000, cfg.timeout_ms % 1000 * 1000};
	int lfd = listen_on(port);

	if (lfd < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("skiff-perf: accept");
			close(lfd);
			return 1;
		}
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		while (!io_all(fd, false, cfg.size) && !io_all(fd, true, cfg.size))
			; /* until the client closes: it closes first */
		close(fd);
	}
}

static int usage(void)
{
	fprintf(stderr,
		"usage: skiff-perf crr HOST:PORT [--seconds S] [--size N] [--timeout-ms MS]\n"
		"       skiff-perf serve PORT [--size N] [--timeout-ms MS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[1] : "", *arg = argc > 2 ? argv[2] : "";

	for (int i = 3; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			return usage();
		if (!strcmp(o, "--seconds"))
			cfg.seconds = atof(v);
		else if (!strcmp(o, "--size"))
			cfg.size = atoi(v);
		else if (!strcmp(o, "--timeout-ms"))
			cfg.timeout_ms = atoi(v);
		else
			return usage();
		i++;
	}
	if (cfg.seconds <= 0 || cfg.seconds > 3600 || cfg.size < 1 || cfg.size > MAX_SIZE ||
	    cfg.timeout_ms < 1)
		return usage();
	if (!strcmp(mode, "serve") && atoi(arg) > 0 && atoi(arg) < 65536)
		return run_serve(atoi(arg));
	if (strcmp(mode, "crr"))
		return usage();
	if (resolve(arg))
		return 2;
	return run_crr();
}
