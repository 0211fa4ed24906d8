// SPDX-License-Identifier: Apache-2.0
/* A minimal HTTP/1.0-style responder for skiffd's admin and readiness ports. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "admin/admin_http.h"
#include "common/addr.h"
#include "handoff/handoff.h"

static int admin_listen(const char *addr, int port)
{
	struct sockaddr_storage ss = {0};
	int fd, len, one = 1;

	if (port <= 0)
		return -1;
	if (port > 65535 || (len = addr_sockaddr(addr, (uint16_t)port, &ss)) < 0) {
		fprintf(stderr,
			"skiffd: admin address '%s' port %d is not an IP address and port\n", addr,
			port);
		return -EINVAL;
	}
	fd = handoff_listener((struct sockaddr *)&ss, (socklen_t)len); /* a running skiffd's */
	if (fd >= 0)
		return fd;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, (socklen_t)len) || listen(fd, 64)) {
		int err = -errno;

		fprintf(stderr, "skiffd: cannot listen on %s:%d: %s (is another skiffd running?)\n",
			addr, port, strerror(-err));
		close(fd);
		return err;
	}
	return fd;
}

int admin_open(struct admin_server *s, const char *addr, int admin_port, int ready_port,
	       admin_handler_fn handler, void *ctx)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < ADMIN_MAX_CONNS; i++)
		s->conns[i].fd = -1;
	s->handler = handler;
	s->ctx = ctx;
	s->listen_fd[0] = admin_listen(addr, admin_port);
	if (s->listen_fd[0] < 0 && admin_port > 0)
		return s->listen_fd[0];
	s->listen_fd[1] = admin_listen(addr, ready_port);
	if (s->listen_fd[1] < 0 && ready_port > 0) {
		int err = s->listen_fd[1];

		if (s->listen_fd[0] >= 0)
			close(s->listen_fd[0]);
		return err;
	}
	return 0;
}

size_t admin_pollfds(const struct admin_server *s, struct pollfd *pfds, size_t max)
{
	size_t n = 0;

	for (int i = 0; i < 2 && n < max; i++)
		if (s->listen_fd[i] >= 0)
			pfds[n++] = (struct pollfd){.fd = s->listen_fd[i], .events = POLLIN};
	for (int i = 0; i < ADMIN_MAX_CONNS && n < max; i++)
		if (s->conns[i].fd >= 0)
			pfds[n++] = (struct pollfd){.fd = s->conns[i].fd, .events = POLLIN};
	return n;
}

static void admin_accept(struct admin_server *s, int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < ADMIN_MAX_CONNS; i++) {
		if (s->conns[i].fd < 0) {
			s->conns[i].fd = fd;
			s->conns[i].len = 0;
			return;
		}
	}
	close(fd); /* too many admin clients at once: shed the newest */
}

static const char *status_text(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 503:
		return "Service Unavailable";
	default:
		return "Error";
	}
}

/*
 * Send all of a body larger than the socket takes at once (/config_objects of a big snapshot):
 * the rest goes out blocking, at most ADMIN_SEND_TIMEOUT_S per write, so a client that stops
 * reading holds the agent loop that long and gets a truncated answer (its Content-Length says so).
 */
#define ADMIN_SEND_TIMEOUT_S 2

static void admin_send_all(int fd, const char *p, size_t len)
{
	struct timeval tv = {.tv_sec = ADMIN_SEND_TIMEOUT_S};
	ssize_t w = write(fd, p, len);
	int fl;

	if (w < 0 && errno != EAGAIN)
		return;
	if (w > 0) {
		p += w;
		len -= (size_t)w;
	}
	if (!len)
		return;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return;
	while (len && (w = write(fd, p, len)) > 0) {
		p += w;
		len -= (size_t)w;
	}
}

/* Answer one complete request head and close: admin clients are curl and skiffctl. */
static void admin_respond(struct admin_server *s, struct admin_conn *c)
{
	char method[8] = "", path[256] = "", head[256];
	const char *ctype = "text/plain";
	char *body = NULL;
	int code, hlen;

	if (sscanf(c->buf, "%7s %255s", method, path) != 2 || strcmp(method, "GET")) {
		code = 405;
		body = strdup("only GET is served here\n");
	} else if (s->stream && s->stream(s->ctx, path, c->fd)) {
		c->fd = -1; /* the stream's now */
		return;
	} else {
		char *q = strchr(path, '?');

		if (q)
			*q = '\0';
		code = s->handler(s->ctx, path, &body, &ctype);
	}
	if (!body)
		body = strdup("");
	hlen = snprintf(head, sizeof(head),
			"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			"Connection: close\r\n\r\n",
			code, status_text(code), ctype, strlen(body));
	if (write(c->fd, head, hlen) == hlen && body[0])
		admin_send_all(c->fd, body, strlen(body));
	free(body);
	close(c->fd);
	c->fd = -1;
}

static void admin_read(struct admin_server *s, struct admin_conn *c)
{
	ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);

	if (r <= 0) {
		if (r < 0 && errno == EAGAIN)
			return;
		close(c->fd);
		c->fd = -1;
		return;
	}
	c->len += r;
	c->buf[c->len] = '\0';
	if (strstr(c->buf, "\r\n\r\n") || strstr(c->buf, "\n\n") || c->len == sizeof(c->buf) - 1)
		admin_respond(s, c);
}

void admin_serve(struct admin_server *s, const struct pollfd *pfds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (pfds[i].fd == s->listen_fd[0] || pfds[i].fd == s->listen_fd[1]) {
			admin_accept(s, pfds[i].fd);
			continue;
		}
		for (int k = 0; k < ADMIN_MAX_CONNS; k++)
			if (s->conns[k].fd == pfds[i].fd)
				admin_read(s, &s->conns[k]);
	}
}

void admin_close(struct admin_server *s)
{
	for (int i = 0; i < 2; i++) {
		if (s->listen_fd[i] >= 0)
			close(s->listen_fd[i]);
		s->listen_fd[i] = -1;
	}
	for (int i = 0; i < ADMIN_MAX_CONNS; i++) {
		if (s->conns[i].fd >= 0)
			close(s->conns[i].fd);
		s->conns[i].fd = -1;
	}
}
