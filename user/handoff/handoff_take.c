// SPDX-License-Identifier: Apache-2.0
/*
 * The new process's side of the hand-off: connect to handoff.sock, receive the old process's
 * listeners, keep them in a pool until the listeners of this process look for theirs by
 * address, then say READY.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "handoff/handoff.h"
#include "handoff/handoff_internal.h"

static int pool[HANDOFF_MAX_FDS];
static int npool;

static int recv_fds(int conn)
{
	union {
		char buf[CMSG_SPACE(HANDOFF_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} u;
	char msg[64];
	struct iovec iov = {.iov_base = msg, .iov_len = sizeof(msg)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	struct pollfd pfd = {.fd = conn, .events = POLLIN};
	ssize_t n;

	if (poll(&pfd, 1, HANDOFF_WAIT_MS) != 1)
		return -ETIMEDOUT;
	n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	if (n < (ssize_t)strlen(HANDOFF_MSG_FDS) ||
	    memcmp(msg, HANDOFF_MSG_FDS, strlen(HANDOFF_MSG_FDS)))
		return -EPROTO;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && npool < HANDOFF_MAX_FDS; i++)
			memcpy(&pool[npool++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	return 0;
}

int handoff_request(const char *run_dir, int *conn)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd, err;

	*conn = -1;
	if (handoff_path(sun.sun_path, sizeof(sun.sun_path), run_dir, HANDOFF_SOCK))
		return -ENAMETOOLONG;
	if (access(sun.sun_path, F_OK))
		return 0; /* a first start on this node */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		err = -errno;
		close(fd);
		if (err == -ECONNREFUSED || err == -ENOENT) {
			unlink(sun.sun_path); /* its skiffd is gone (kill -9, a crash) */
			return 0;
		}
		fprintf(stderr, "skiffd: cannot reach the running skiffd at %s: %s\n", sun.sun_path,
			strerror(-err));
		return err;
	}
	err = recv_fds(fd);
	if (err) {
		fprintf(stderr,
			"skiffd: the skiffd serving %s did not hand its listeners over: %s (is it "
			"an older skiffd without hand-off? stop it, then start this one)\n",
			sun.sun_path, strerror(-err));
		close(fd);
		return err;
	}
	*conn = fd;
	return 1;
}

/* Does the listening socket `fd` have the local address `sa`? */
static bool bound_to(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage ss = {0}; /* clang's analyzer does not know getsockname fills it */
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) || sl != len)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)sa, *b = (const void *)&ss;

		return b->sin_family == AF_INET && a->sin_port == b->sin_port &&
		       a->sin_addr.s_addr == b->sin_addr.s_addr;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)sa, *b = (const void *)&ss;

		return b->sin6_family == AF_INET6 && a->sin6_port == b->sin6_port &&
		       !memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr));
	}
	return false;
}

int handoff_listener(const struct sockaddr *sa, socklen_t len)
{
	for (int i = 0; i < npool; i++) {
		int fd = pool[i];

		if (!bound_to(fd, sa, len))
			continue;
		pool[i] = pool[--npool];
		/* the old process may have left it blocking; ours are all non-blocking */
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		return fd;
	}
	return -1;
}

void handoff_pool_release(void)
{
	for (int i = 0; i < npool; i++)
		close(pool[i]);
	npool = 0;
}

int handoff_ready(int conn)
{
	struct pollfd pfd = {.fd = conn, .events = POLLIN};
	char ans[32];
	ssize_t n;

	if (send(conn, HANDOFF_MSG_READY, strlen(HANDOFF_MSG_READY), MSG_NOSIGNAL) < 0)
		return -errno;
	if (poll(&pfd, 1, HANDOFF_WAIT_MS) != 1)
		return -ETIMEDOUT;
	n = recv(conn, ans, sizeof(ans), 0);
	if (n != (ssize_t)strlen(HANDOFF_MSG_DRAINING) || memcmp(ans, HANDOFF_MSG_DRAINING, n))
		return -EPROTO;
	return 0;
}
