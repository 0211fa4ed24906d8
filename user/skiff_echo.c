// SPDX-License-Identifier: Apache-2.0
/*
 * skiff-echo: the lab's `image: skiff/echo`. HTTP/1.1 (keep-alive) that answers every request with
 * JSON naming the pod, TCP echo, UDP echo; `whoami` over TCP or UDP answers the pod name. IPv4 and
 * IPv6 (one socket each). A thread per connection: this is a test peer, not a server to admire.
 * HTTP/2 with prior knowledge on the same ports (echo/echo_h2.c), gRPC included, with streaming
 * gRPC paths of its own there (/stream/N/MS, /pingpong) and /h2/cancels.
 * Paths: /status/CODE answers CODE, /delay/MS answers after MS ms, /fail/N/M answers 503 to N of
 * every M requests on that path prefix (the first N), 200 to the others.
 *
 *   skiff-echo --pod NAME --namespace NS [--label k=v]... [--http PORT]... [--tcp PORT]...
 *              [--udp PORT]...
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "echo/echo_h2.h"
#include "l7/l7_filter.h"

enum kind { K_HTTP, K_TCP, K_UDP };

static const char *pod = "", *ns = "";
static char **labels;
static int nlabels;

struct listener {
	int fd;
	enum kind kind;
};

static void fmt_peer(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;

		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		snprintf(out, len, "%s:%d", ip, ntohs(s->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)ss;

		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%d", ip, ntohs(s->sin6_port));
	} else {
		snprintf(out, len, "%s", ip); /* no other family is accepted; "?" if one were */
	}
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= w;
	}
	return 0;
}

/* --- HTTP --- */

struct conn {
	int fd;
	enum kind kind;
	char peer[80];
};

static const char *reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Status";
	}
}

static void json_labels(struct strbuf *b)
{
	sb_printf(b, "{");
	for (int i = 0; i < nlabels; i++) {
		char *eq = strchr(labels[i], '=');
		char key[256];

		snprintf(key, sizeof(key), "%.*s", (int)(eq - labels[i]), labels[i]);
		sb_printf(b, "%s", i ? "," : "");
		sb_json_str(b, key);
		sb_printf(b, ":");
		sb_json_str(b, eq + 1);
	}
	sb_printf(b, "}");
}

/* "/fail/N/M...": N of every M such requests to this pod answer 503 (the first N of each M),
 * the others 200; a flaky pod whose failures retries should hide. */
static int fail_code(const char *nm)
{
	static atomic_uint hits;
	int n = 0, m = 0;

	if (sscanf(nm, "%d/%d", &n, &m) != 2 || m <= 0)
		return 400;
	return (int)(atomic_fetch_add(&hits, 1) % (unsigned)m) < n ? 503 : 200;
}

/* The JSON answer to a request and its status (a /delay/ path waits here). `ctx`: the conn. */
static int echo_answer(void *ctx, const char *method, const char *path,
		       const struct authz_header *h, size_t n, struct strbuf *body)
{
	struct conn *c = ctx;
	int code = 200;

	sb_printf(body, "{\"pod\":");
	sb_json_str(body, pod);
	sb_printf(body, ",\"namespace\":");
	sb_json_str(body, ns);
	sb_printf(body, ",\"labels\":");
	json_labels(body);
	sb_printf(body, ",\"method\":");
	sb_json_str(body, method);
	sb_printf(body, ",\"path\":");
	sb_json_str(body, path);
	sb_printf(body, ",\"headers\":{");
	for (size_t i = 0; i < n; i++) {
		sb_printf(body, "%s", i ? "," : "");
		sb_json_str(body, h[i].name);
		sb_printf(body, ":");
		sb_json_str(body, h[i].value);
	}
	sb_printf(body, "},\"peer\":");
	sb_json_str(body, c->peer);
	sb_printf(body, "}\n");
	if (!strncmp(path, "/status/", 8))
		code = atoi(path + 8) ?: 200;
	if (!strncmp(path, "/delay/", 7))
		usleep((useconds_t)atoi(path + 7) * 1000);
	if (!strncmp(path, "/fail/", 6))
		code = fail_code(path + 6);
	return code;
}

/* Answer one request (head = request line + headers, NUL-terminated); -1 to close. */
static int http_answer(struct conn *c, char *head, bool *close_after)
{
	char method[16] = "", path[2048] = "", version[16] = "";
	struct strbuf body = {0}, resp = {0};
	struct authz_header h[64];
	char *line, *save = NULL;
	size_t n = 0;
	bool truncate;
	int code, rc;

	if (sscanf(head, "%15s %2047s %15s", method, path, version) != 3)
		return -1;
	*close_after = !strcmp(version, "HTTP/1.0");
	strtok_r(head, "\r\n", &save);
	while ((line = strtok_r(NULL, "\r\n", &save)) && n < sizeof(h) / sizeof(h[0])) {
		char *colon = strchr(line, ':'), *v;

		if (!colon)
			continue;
		*colon = 0;
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		if (!strcasecmp(line, "connection"))
			*close_after = !strcasecmp(v, "close")	      ? true
				       : !strcasecmp(v, "keep-alive") ? false
								      : *close_after;
		h[n++] = (struct authz_header){.name = line, .value = v};
	}
	code = echo_answer(c, method, path, h, n, &body);
	/* "/truncate...": the head promises 1,000 bytes more than are sent before the close, an
	 * upstream that ends mid-response (a proxy's UC) */
	truncate = !strncmp(path, "/truncate", 9);
	sb_printf(&resp,
		  "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu"
		  "\r\nX-Pod: %s\r\n%s\r\n",
		  code, reason(code), body.len + (truncate ? 1000 : 0), pod,
		  *close_after ? "Connection: close\r\n" : "");
	/* one write: head and body in two would meet Nagle and the peer's delayed ACK (40 ms) on
	 * any real TCP path, as a proxy's is */
	sb_printf(&resp, "%.*s", (int)body.len, body.s);
	rc = send_all(c->fd, resp.s, resp.len) || truncate ? -1 : 0;
	sb_free(&resp);
	sb_free(&body);
	return rc;
}

static long content_length(const char *head)
{
	const char *p = strcasestr(head, "\ncontent-length:");

	return p ? atol(p + 16) : 0;
}

static void serve_http(struct conn *c)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap + 1);
	bool close_after = false;

	while (buf && !close_after) {
		char *end;
		ssize_t r;
		size_t used;
		long body;

		buf[len] = 0;
		if (len >= L7_H2_PREFACE_LEN && !memcmp(buf, L7_H2_PREFACE, L7_H2_PREFACE_LEN)) {
			echo_h2_serve(c->fd, (const uint8_t *)buf, len, pod, echo_answer, c);
			break;
		}
		end = len < L7_H2_PREFACE_LEN && !strncmp(buf, L7_H2_PREFACE, len)
			  ? NULL /* HTTP/2's preface, not all here yet */
			  : strstr(buf, "\r\n\r\n");
		if (!end) {
			if (len == cap)
				break; /* head too large */
			r = recv(c->fd, buf + len, cap - len, 0);
			if (r <= 0)
				break;
			len += r;
			continue;
		}
		*end = 0;
		body = content_length(buf);
		used = end + 4 - buf;
		if (body < 0 || used + (size_t)body > cap)
			break;
		while (len < used + (size_t)body) {
			r = recv(c->fd, buf + len, cap - len, 0);
			if (r <= 0)
				goto out;
			len += r;
		}
		if (http_answer(c, buf, &close_after))
			break;
		used += body; /* pipelined requests stay in the buffer */
		memmove(buf, buf + used, len - used);
		len -= used;
	}
out:
	free(buf);
}

/* --- TCP echo: bytes back as they come, except a line that is exactly "whoami\n". --- */

static void serve_tcp(struct conn *c)
{
	static const char who[] = "whoami\n";
	char in[16384], out[16384 + 8];
	size_t held = 0; /* bytes of "whoami\n" matched at the start of the current line */
	bool line_start = true;
	ssize_t r;

	while ((r = recv(c->fd, in, sizeof(in), 0)) > 0) {
		size_t o = 0;

		for (ssize_t i = 0; i < r; i++) {
			char ch = in[i];

			if ((line_start || held) && held < sizeof(who) - 1 && ch == who[held]) {
				line_start = false;
				if (++held == sizeof(who) - 1) {
					if (send_all(c->fd, out, o) ||
					    send_all(c->fd, pod, strlen(pod)) ||
					    send_all(c->fd, "\n", 1))
						return;
					o = 0;
					held = 0;
					line_start = true;
				}
				continue;
			}
			memcpy(out + o, who, held); /* not whoami after all: give back */
			o += held;
			held = 0;
			out[o++] = ch;
			line_start = ch == '\n';
		}
		if (send_all(c->fd, out, o))
			return;
	}
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;

	if (c->kind == K_HTTP)
		serve_http(c);
	else
		serve_tcp(c);
	close(c->fd);
	free(c);
	return NULL;
}

static void *accept_thread(void *arg)
{
	struct listener *l = arg;

	for (;;) {
		struct sockaddr_storage ss = {.ss_family = AF_UNSPEC}; /* for the analyzer: */
		socklen_t sl = sizeof(ss); /* it does not see accept fill ss */
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		struct conn *c;
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			perror("skiff-echo: accept");
			return NULL;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->kind = l->kind;
		fmt_peer(&ss, c->peer, sizeof(c->peer));
		if (pthread_create(&t, NULL, conn_thread, c)) {
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
}

static void *udp_thread(void *arg)
{
	struct listener *l = arg;
	char buf[65536];

	for (;;) {
		struct sockaddr_storage ss = {.ss_family = AF_UNSPEC}; /* for the analyzer: */
		socklen_t sl = sizeof(ss); /* it does not see accept fill ss */
		ssize_t r = recvfrom(l->fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss, &sl);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("skiff-echo: recvfrom");
			return NULL;
		}
		if ((r == 6 && !memcmp(buf, "whoami", 6)) ||
		    (r == 7 && !memcmp(buf, "whoami\n", 7)))
			sendto(l->fd, pod, strlen(pod), 0, (struct sockaddr *)&ss, sl);
		else
			sendto(l->fd, buf, r, 0, (struct sockaddr *)&ss, sl);
	}
}

static int open_listener(int family, enum kind kind, int port)
{
	struct sockaddr_in6 s6 = {
	    .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_ANY_INIT};
	struct sockaddr_in s4 = {
	    .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
	int fd = socket(family, (kind == K_UDP ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, family == AF_INET6 ? (struct sockaddr *)&s6 : (struct sockaddr *)&s4,
		 family == AF_INET6 ? sizeof(s6) : sizeof(s4)) < 0 ||
	    (kind != K_UDP && listen(fd, 1024) < 0)) {
		fprintf(stderr, "skiff-echo: %s port %d: %s\n",
			family == AF_INET6 ? "IPv6" : "IPv4", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Listen on IPv4 and IPv6; IPv6 may be missing (then IPv4 only, with a warning). */
static int start(enum kind kind, int port)
{
	static const int families[] = {AF_INET, AF_INET6};

	for (int i = 0; i < 2; i++) {
		struct listener *l;
		pthread_t t;
		int fd = open_listener(families[i], kind, port);

		if (fd < 0) {
			if (families[i] == AF_INET)
				return -1;
			continue;
		}
		l = malloc(sizeof(*l));
		if (!l)
			return -1;
		l->fd = fd;
		l->kind = kind;
		if (pthread_create(&t, NULL, kind == K_UDP ? udp_thread : accept_thread, l))
			return -1;
		pthread_detach(t);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int nports = 0;

	signal(SIGPIPE, SIG_IGN);
	labels = calloc(argc, sizeof(*labels));
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v || !labels)
			goto usage;
		i++;
		if (!strcmp(o, "--pod"))
			pod = v;
		else if (!strcmp(o, "--namespace"))
			ns = v;
		else if (!strcmp(o, "--label") && strchr(v, '='))
			labels[nlabels++] = (char *)v;
		else if (!strcmp(o, "--http") || !strcmp(o, "--tcp") || !strcmp(o, "--udp")) {
			enum kind k = o[2] == 'h' ? K_HTTP : o[2] == 't' ? K_TCP : K_UDP;

			if (atoi(v) <= 0 || atoi(v) > 65535 || start(k, atoi(v)))
				return 1;
			nports++;
		} else
			goto usage;
	}
	fprintf(stderr, "skiff-echo: pod %s/%s serving %d port(s)\n", ns, pod, nports);
	for (;;)
		pause();
usage:
	fprintf(stderr, "usage: skiff-echo --pod NAME --namespace NS [--label k=v]... "
			"[--http PORT]... [--tcp PORT]... [--udp PORT]...\n");
	return 2;
}
