/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skiffd's :15020 listener, accepted and read on the agent's poll loop like the admin ports: GET
 * /metrics answers with the page `render` builds, in the format the scraper's Accept header
 * prefers, gzip'd when its Accept-Encoding allows; GET /status the node's status as JSON when
 * `status` is set. With `offload`, a complete request other than /status is handed over with its
 * connection instead (skiffd renders pages on its own thread). Connections close after each
 * answer.
 */
#ifndef SKIFF_METRICS_HTTP_H
#define SKIFF_METRICS_HTTP_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics/metrics.h"

typedef void (*metrics_render_fn)(void *ctx, enum metrics_fmt f, struct strbuf *b);

#define METRICS_MAX_CONNS 8

struct metrics_conn {
	int fd;
	size_t len;
	char buf[4096];
};

struct metrics_server {
	int listen_fd; /* -1 when not listening */
	struct metrics_conn conns[METRICS_MAX_CONNS];
	metrics_render_fn render;
	void *ctx;
	uint64_t scrapes[2]; /* answered, by enum metrics_fmt */
	/* GET /status: a JSON page (malloc'd) served beside the metrics, because this listener is
	 * the one on the node's address (skiffctl status --node-addr); NULL: not served */
	char *(*status)(void *ctx);
	/* Take a complete request head and its connection (true: the callee answers and closes
	 * fd; false: answered here as without it). NULL: every page is rendered here. */
	bool (*offload)(void *ctx, int fd, const char *head);
};

/* Listen on addr:port (port 0: off). Returns 0 or a negative errno (the message is printed). */
int metrics_server_open(struct metrics_server *s, const char *addr, int port,
			metrics_render_fn render, void *ctx);
size_t metrics_server_pollfds(const struct metrics_server *s, struct pollfd *pfds, size_t max);
void metrics_server_serve(struct metrics_server *s, const struct pollfd *pfds, size_t n);
void metrics_server_close(struct metrics_server *s);

/* The response to one request head (status line, headers, body), for the server and tests.
 * Returns the malloc'd response and its length in *len; counts a served page in scrapes[fmt]
 * when `scrapes` is not NULL. */
char *metrics_http_respond(const char *head, metrics_render_fn render, void *ctx, size_t *len,
			   uint64_t scrapes[2]);
/* The format a request head's Accept asks for. */
enum metrics_fmt metrics_http_format(const char *head);
/* Write all of `p` to fd (blocking, 2 s send timeout): a scraper that stops reading cannot hold
 * the writer longer. */
void metrics_http_send(int fd, const char *p, size_t len);
/* Buffers one page after another reuses (the scrape thread's): a page of tens of MB then costs
 * no fresh memory, whose first touch (page faults) cost more than rendering into it. */
struct metrics_bufs {
	struct strbuf page;
	unsigned char *gz;
	size_t gzcap;
	void *z; /* the deflate stream, reset per page */
};
/* The body of one page in `f`, gzip'd when `gzip` (and zlib works): a pointer into bufs and
 * its length; *gzipped says which it is. */
const void *metrics_page_build(enum metrics_fmt f, bool gzip, metrics_render_fn render, void *ctx,
			       struct metrics_bufs *bufs, size_t *len, bool *gzipped);
/* Answer the request `head` on fd as metrics_http_respond would, the page built in bufs. */
void metrics_http_serve(int fd, const char *head, metrics_render_fn render, void *ctx,
			struct metrics_bufs *bufs);
void metrics_bufs_free(struct metrics_bufs *bufs);
/* gzip `in` (RFC 1952); NULL when zlib fails (metrics_gzip.c). */
unsigned char *metrics_gzip(const char *in, size_t n, size_t *out_len);
/* The same into bufs->gz, with bufs' kept deflate stream; false when zlib fails. */
bool metrics_gzip_into(struct metrics_bufs *bufs, const char *in, size_t n, size_t *out_len);
/* Raw deflate of a page of lines that each repeat the one before with little changed (a metrics
 * page), into out; 0 when it does not fit in cap (metrics_deflate.c). */
size_t metrics_deflate_lines(const char *text, size_t n, unsigned char *out, size_t cap);
/* Free bufs' gzip buffer and stream. */
void metrics_gzip_free(struct metrics_bufs *bufs);

#endif
