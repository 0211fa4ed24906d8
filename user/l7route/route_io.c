// SPDX-License-Identifier: Apache-2.0
/*
 * The router's sockets: reads and writes that give up at a deadline (the route timeout, a
 * per-try timeout), and dials to an endpoint with the DestinationRule's TCP keepalive. The pool
 * of idle upstream connections is route_pool.c.
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

static uint64_t stream_idle_ms = L7R_STREAM_IDLE_MS;

void l7r_io_stream_idle(uint64_t ms)
{
	stream_idle_ms = ms ? ms : L7R_STREAM_IDLE_MS;
}

uint64_t l7r_stream_idle_ns(void)
{
	return stream_idle_ms * 1000000ull;
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

/* Wait for `fd` until `deadline`, and no longer than the stream idle timeout: a socket that
 * neither gives nor takes a byte for that long ends the request, deadline or none. `watch` (-1:
 * none) is the client's socket while the router waits on its behalf: its close ends the wait
 * with -ECANCELED in the same poll, so noticing it costs no syscall of its own. */
static int wait_fds(int fd, short events, int watch, uint64_t deadline)
{
	struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = watch, .events = POLLRDHUP}};
	int n, ms;

	for (;;) {
		ms = left_ms(deadline);
		if (ms < 0 || (uint64_t)ms > stream_idle_ms)
			ms = (int)stream_idle_ms;
		n = poll(p, watch >= 0 ? 2 : 1, ms);
		if (n > 0 && watch >= 0 && (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR)))
			return -ECANCELED;
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int wait_fd(int fd, short events, uint64_t deadline)
{
	return wait_fds(fd, events, -1, deadline);
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

ssize_t l7r_read_wait(int fd, void *buf, size_t len, uint64_t deadline, int watch)
{
	int err = wait_fds(fd, POLLIN, watch, deadline);

	return err ? err : l7r_read(fd, buf, len, deadline);
}

int l7r_write_all(int fd, const void *buf, size_t len, uint64_t deadline)
{
	struct iovec v = {.iov_base = (void *)buf, .iov_len = len};

	return len ? l7r_writev_all(fd, &v, 1, deadline) : 0;
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

int l7r_writev_all(int fd, struct iovec *iov, int n, uint64_t deadline)
{
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};

	while (m.msg_iovlen) {
		ssize_t sent = sendmsg(fd, &m, MSG_NOSIGNAL);
		int err;

		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0 && errno != EAGAIN)
			return -errno;
		if (sent < 0) {
			err = wait_fd(fd, POLLOUT, deadline);
			if (err)
				return err;
			continue;
		}
		/* a short write: drop what went, resume mid-vector */
		while (m.msg_iovlen && (size_t)sent >= m.msg_iov->iov_len) {
			sent -= (ssize_t)m.msg_iov->iov_len;
			m.msg_iov++;
			m.msg_iovlen--;
		}
		if (m.msg_iovlen) {
			m.msg_iov->iov_base = (uint8_t *)m.msg_iov->iov_base + sent;
			m.msg_iov->iov_len -= (size_t)sent;
		}
	}
	return 0;
}

/* TCP_KEEPIDLE and TCP_KEEPINTVL take whole seconds, at least 1. */
int l7r_set_keepalive(int fd, const struct l7r_keepalive *ka)
{
	int one = 1, v;

	if (!ka || !ka->on)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)))
		return -errno;
	v = (int)ka->probes;
	if (ka->probes && setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v)))
		return -errno;
	v = (int)ka->time_s;
	if (ka->time_s && setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v)))
		return -errno;
	v = (int)ka->interval_s;
	if (ka->interval_s && setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof(v)))
		return -errno;
	return 0;
}

int l7r_dial(const struct skiff_sock_origin *ep, uint64_t deadline)
{
	return l7r_dial_ka(ep, deadline, NULL);
}

int l7r_dial_ka(const struct skiff_sock_origin *ep, uint64_t deadline,
		const struct l7r_keepalive *ka)
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
	err = l7r_set_keepalive(fd, ka);
	if (!err && connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS)
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
