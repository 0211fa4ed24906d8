// SPDX-License-Identifier: Apache-2.0
/* The :15020 listener: one request per connection, the answer written before the next poll. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/addr.h"
#include "handoff/handoff.h"
#include "metrics/metrics_http.h"

/* The value of header `name` in a request head, copied into out ("" when absent). */
static void header_value(const char *head, const char *name, char *out, size_t len)
{
	size_t n = strlen(name);
	const char *p = strchr(head, '\n');

	out[0] = '\0';
	for (; p; p = strchr(p, '\n')) {
		p++;
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			const char *v = p + n + 1, *e;

			while (*v == ' ' || *v == '\t')
				v++;
			e = v + strcspn(v, "\r\n");
			n = (size_t)(e - v) < len - 1 ? (size_t)(e - v) : len - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return;
		}
	}
}

/* gzip allowed unless its q is 0 ("gzip;q=0"). */
static bool wants_gzip(const char *enc)
{
	const char *g = strcasestr(enc, "gzip");
	const char *q;

	if (!g)
		return false;
	q = strstr(g, "q=");
	if (q && (!strchr(g, ',') || q < strchr(g, ',')))
		return atof(q + 2) > 0;
	return true;
}

static char *plain_answer(int code, const char *reason, const char *body, size_t *len)
{
	char *r = NULL;
	int n = asprintf(&r,
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 code, reason, strlen(body), body);

	*len = n > 0 ? (size_t)n : 0;
	return n > 0 ? r : NULL;
}

enum metrics_fmt metrics_http_format(const char *head)
{
	char accept[512];

	header_value(head, "Accept", accept, sizeof(accept));
	return metrics_negotiate(accept);
}

char *metrics_http_respond(const char *head, metrics_render_fn render, void *ctx, size_t *len,
			   uint64_t scrapes[2])
{
	char method[8] = "", path[256] = "", accept[512], enc[256], hdr[256];
	struct strbuf b = {0};
	enum metrics_fmt f;
	unsigned char *gz = NULL;
	const char *body;
	size_t blen, hlen;
	char *out;

	if (sscanf(head, "%7s %255s", method, path) != 2 || strcmp(method, "GET"))
		return plain_answer(405, "Method Not Allowed", "only GET is served here\n", len);
	path[strcspn(path, "?")] = '\0';
	if (strcmp(path, "/metrics") && strcmp(path, "/stats/prometheus"))
		return plain_answer(404, "Not Found", "not found; try /metrics\n", len);
	header_value(head, "Accept", accept, sizeof(accept));
	header_value(head, "Accept-Encoding", enc, sizeof(enc));
	f = metrics_negotiate(accept);
	if (scrapes)
		scrapes[f]++;
	render(ctx, f, &b);
	metrics_end(&b, f);
	body = b.s ? b.s : "";
	blen = b.len;
	if (wants_gzip(enc) && (gz = metrics_gzip(body, blen, &blen)))
		body = (const char *)gz;
	else
		blen = b.len;
	hlen =
	    (size_t)snprintf(hdr, sizeof(hdr),
			     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n%sContent-Length: %zu\r\n"
			     "Connection: close\r\n\r\n",
			     metrics_content_type(f), gz ? "Content-Encoding: gzip\r\n" : "", blen);
	/* one byte more, a NUL: callers (and tests) may read the response as a C string */
	out = malloc(hlen + blen + 1);
	if (out) {
		memcpy(out, hdr, hlen);
		memcpy(out + hlen, body, blen);
		out[hlen + blen] = 0;
		*len = hlen + blen;
	}
	free(gz);
	sb_free(&b);
	return out;
}

const void *metrics_page_build(enum metrics_fmt f, bool gzip, metrics_render_fn render, void *ctx,
			       struct metrics_bufs *bufs, size_t *len, bool *gzipped)
{
	bufs->page.len = 0;
	if (bufs->page.s)
		bufs->page.s[0] = '\0';
	render(ctx, f, &bufs->page);
	metrics_end(&bufs->page, f);
	*gzipped =
	    gzip && metrics_gzip_into(bufs, bufs->page.s ? bufs->page.s : "", bufs->page.len, len);
	if (*gzipped)
		return bufs->gz;
	*len = bufs->page.len;
	return bufs->page.s ? bufs->page.s : "";
}

void metrics_http_serve(int fd, const char *head, metrics_render_fn render, void *ctx,
			struct metrics_bufs *bufs)
{
	char method[8] = "", path[256] = "", enc[256], hdr[256];
	const void *body;
	size_t blen = 0, hlen;
	bool gz;
	char *resp;
	enum metrics_fmt f;

	if (sscanf(head, "%7s %255s", method, path) == 2 && !strcmp(method, "GET"))
		path[strcspn(path, "?")] = '\0';
	if (strcmp(method, "GET") ||
	    (strcmp(path, "/metrics") && strcmp(path, "/stats/prometheus"))) {
		resp = metrics_http_respond(head, render, ctx, &blen, NULL); /* 404, 405 */
		if (resp)
			metrics_http_send(fd, resp, blen);
		free(resp);
		return;
	}
	header_value(head, "Accept-Encoding", enc, sizeof(enc));
	f = metrics_http_format(head);
	body = metrics_page_build(f, wants_gzip(enc), render, ctx, bufs, &blen, &gz);
	hlen =
	    (size_t)snprintf(hdr, sizeof(hdr),
			     "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n%sContent-Length: %zu\r\n"
			     "Connection: close\r\n\r\n",
			     metrics_content_type(f), gz ? "Content-Encoding: gzip\r\n" : "", blen);
	metrics_http_send(fd, hdr, hlen);
	metrics_http_send(fd, body, blen);
}

void metrics_bufs_free(struct metrics_bufs *bufs)
{
	sb_free(&bufs->page);
	metrics_gzip_free(bufs);
	*bufs = (struct metrics_bufs){0};
}

int metrics_server_open(struct metrics_server *s, const char *addr, int port,
			metrics_render_fn render, void *ctx)
{
	struct sockaddr_storage ss = {0};
	int fd, len, one = 1;

	s->listen_fd = -1;
	for (int i = 0; i < METRICS_MAX_CONNS; i++)
		s->conns[i].fd = -1;
	s->render = render;
	s->ctx = ctx;
	if (port <= 0)
		return 0;
	if (port > 65535 || (len = addr_sockaddr(addr, (uint16_t)port, &ss)) < 0) {
		fprintf(stderr,
			"skiffd: --metrics-addr '%s' port %d is not an IP address and port\n", addr,
			port);
		return -EINVAL;
	}
	fd = handoff_listener((struct sockaddr *)&ss, (socklen_t)len); /* a running skiffd's */
	if (fd >= 0) {
		s->listen_fd = fd;
		return 0;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, (socklen_t)len) || listen(fd, 16)) {
		int err = -errno;

		fprintf(stderr,
			"skiffd: cannot serve metrics on %s:%d: %s (another skiffd? "
			"--metrics-port 0 turns them off)\n",
			addr, port, strerror(-err));
		close(fd);
		return err;
	}
	s->listen_fd = fd;
	return 0;
}

size_t metrics_server_pollfds(const struct metrics_server *s, struct pollfd *pfds, size_t max)
{
	size_t n = 0;

	if (s->listen_fd >= 0 && n < max)
		pfds[n++] = (struct pollfd){.fd = s->listen_fd, .events = POLLIN};
	for (int i = 0; i < METRICS_MAX_CONNS && n < max; i++)
		if (s->conns[i].fd >= 0)
			pfds[n++] = (struct pollfd){.fd = s->conns[i].fd, .events = POLLIN};
	return n;
}

/* Write all of the answer: the rest goes out blocking with a 2 s send timeout, so a scraper that
 * stops reading cannot hold the writer longer. */
void metrics_http_send(int fd, const char *p, size_t len)
{
	struct timeval tv = {.tv_sec = 2};
	int fl = fcntl(fd, F_GETFL);
	ssize_t w;

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (len && (w = write(fd, p, len)) > 0) {
		p += w;
		len -= (size_t)w;
	}
}

/* GET /status (and /status?...): the page s->status builds; NULL for any other request. */
static char *status_answer(struct metrics_server *s, const char *head, size_t *len)
{
	char *body, *r = NULL;
	int n;

	if (!s->status || (strncmp(head, "GET /status ", 12) && strncmp(head, "GET /status?", 12)))
		return NULL;
	body = s->status(s->ctx);
	if (!body)
		return NULL;
	n = asprintf(&r,
		     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		     strlen(body), body);
	free(body);
	*len = n > 0 ? (size_t)n : 0;
	return n > 0 ? r : NULL;
}

static void conn_read(struct metrics_server *s, struct metrics_conn *c)
{
	ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	size_t len = 0;
	char *resp;

	if (r <= 0) {
		if (r < 0 && errno == EAGAIN)
			return;
		goto done;
	}
	c->len += (size_t)r;
	c->buf[c->len] = '\0';
	if (!strstr(c->buf, "\r\n\r\n") && !strstr(c->buf, "\n\n") && c->len < sizeof(c->buf) - 1)
		return;
	resp = status_answer(s, c->buf, &len);
	if (!resp && s->offload && s->offload(s->ctx, c->fd, c->buf)) {
		c->fd = -1; /* the callee's now */
		c->len = 0;
		return;
	}
	if (!resp)
		resp = metrics_http_respond(c->buf, s->render, s->ctx, &len, s->scrapes);
	if (resp)
		metrics_http_send(c->fd, resp, len);
	free(resp);
done:
	close(c->fd);
	c->fd = -1;
	c->len = 0;
}

void metrics_server_serve(struct metrics_server *s, const struct pollfd *pfds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (pfds[i].fd == s->listen_fd) {
			int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
			int k;

			if (fd < 0)
				continue;
			for (k = 0; k < METRICS_MAX_CONNS && s->conns[k].fd >= 0; k++)
				;
			if (k == METRICS_MAX_CONNS) {
				close(fd); /* too many scrapers at once: shed the newest */
				continue;
			}
			s->conns[k].fd = fd;
			s->conns[k].len = 0;
			continue;
		}
		for (int k = 0; k < METRICS_MAX_CONNS; k++)
			if (s->conns[k].fd == pfds[i].fd)
				conn_read(s, &s->conns[k]);
	}
}

void metrics_server_close(struct metrics_server *s)
{
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	s->listen_fd = -1;
	for (int i = 0; i < METRICS_MAX_CONNS; i++)
		if (s->conns[i].fd >= 0)
			close(s->conns[i].fd);
}
