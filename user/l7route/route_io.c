// SPDX-License-Identifier: Apache-2.0
/*
 * The router's sockets: reads and writes that give up at a deadline (the route timeout, a
 * per-try timeout), and a pool of idle keep-alive connections per endpoint. A pooled connection
 * the endpoint closed while idle is noticed before reuse (it reads as EOF), and dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "l7route/l7route.h"
#include "l7route/route_io.h"
#include "skiff/guard.h"

uint64_t l7r_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t l7r_deadline(uint64_t ms)
{
	return ms ? l7r_now_ns() + ms * 1000000ull : L7R_NO_DEADLINE;
}

/* poll() timeout in ms until `deadline`; -1 for none, 0 when it passed. */
static int left_ms(uint64_t deadline)
{
	uint64_t now;

	if (deadline == L7R_NO_DEADLINE)
		return -1;
	now = l7r_now_ns();
	if (now >= deadline)
		return 0;
	return (int)((deadline - now + 999999) / 1000000);
}

static int wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int n;

	for (;;) {
		n = poll(&p, 1, left_ms(deadline));
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

ssize_t l7r_read(int fd, void *buf, size_t len, uint64_t deadline)
{
	for (;;) {
		ssize_t n = read(fd, buf, len);
		int err;

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		err = wait_fd(fd, POLLIN, deadline);
		if (err)
			return err;
	}
}

int l7r_write_all(int fd, const void *buf, size_t len, uint64_t deadline)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		int err;

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		err = wait_fd(fd, POLLOUT, deadline);
		if (err)
			return err;
	}
	return 0;
}

int l7r_wait(int fd, uint64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};

	for (;;) {
		int n = poll(&p, 1, left_ms(deadline));

		if (n == 0)
			return 0;
		if (n > 0)
			return -ECONNRESET;
		if (errno != EINTR)
			return -errno;
	}
}

int l7r_dial(const struct skiff_sock_origin *ep, uint64_t deadline)
{
	struct sockaddr_storage ss;
	socklen_t len = proxy_sockaddr(ep, &ss), elen = sizeof(int);
	unsigned int mark = SKIFF_MARK_AGENT;
	int fd, one = 1, err = 0;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* the STRICT guard lets skiffd's own connections to local pods in */
	setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS)
		err = -errno;
	if (!err)
		err = wait_fd(fd, POLLOUT, deadline);
	if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0)
		err = -err;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

struct pool_host {
	struct skiff_sock_origin ep;
	int fds[L7R_IDLE_PER_HOST];
	size_t n;
	struct pool_host *next;
};

struct l7r_pool {
	pthread_mutex_t lock;
	struct pool_host *hosts;
};

struct l7r_pool *l7r_pool_new(void)
{
	struct l7r_pool *p = calloc(1, sizeof(*p));

	if (p)
		pthread_mutex_init(&p->lock, NULL);
	return p;
}

void l7r_pool_free(struct l7r_pool *p)
{
	if (!p)
		return;
	while (p->hosts) {
		struct pool_host *h = p->hosts;

		p->hosts = h->next;
		for (size_t i = 0; i < h->n; i++)
			close(h->fds[i]);
		free(h);
	}
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static struct pool_host *host_of(struct l7r_pool *p, const struct skiff_sock_origin *ep,
				 bool create)
{
	struct pool_host *h;

	for (h = p->hosts; h; h = h->next)
		if (!memcmp(&h->ep, ep, sizeof(*ep)))
			return h;
	if (!create || !(h = calloc(1, sizeof(*h))))
		return NULL;
	h->ep = *ep;
	h->next = p->hosts;
	p->hosts = h;
	return h;
}

/* An idle keep-alive connection has nothing to read; EOF or stray bytes mean it is done. */
static bool still_open(int fd)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN | POLLRDHUP};

	return poll(&pf, 1, 0) == 0;
}

int l7r_pool_get(struct l7r_pool *p, const struct skiff_sock_origin *ep)
{
	struct pool_host *h;
	int fd = -1;

	pthread_mutex_lock(&p->lock);
	h = host_of(p, ep, false);
	while (h && h->n && fd < 0) {
		fd = h->fds[--h->n];
		if (!still_open(fd)) {
			close(fd);
			fd = -1;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return fd;
}

void l7r_pool_put(struct l7r_pool *p, const struct skiff_sock_origin *ep, int fd)
{
	struct pool_host *h;

	pthread_mutex_lock(&p->lock);
	h = host_of(p, ep, true);
	if (h && h->n < L7R_IDLE_PER_HOST) {
		h->fds[h->n++] = fd;
		fd = -1;
	}
	pthread_mutex_unlock(&p->lock);
	if (fd >= 0)
		close(fd);
}
