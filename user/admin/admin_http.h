/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skiffd's admin endpoints, served from the agent's own poll loop (no threads):
 *   15000  /config_dump      JSON: node, generation, counts, last error
 *   15000  /config_objects   JSON: the objects of the snapshot in force, each with file:line
 *   15000  /flows            JSON lines: flow events (handed to `stream`, which may keep it open)
 *   15021  /healthz/ready    200 once the first configuration is in the kernel, else 503
 * Requests are tiny and answered in one write; connections close after each answer.
 */
#ifndef SKIFF_ADMIN_HTTP_H
#define SKIFF_ADMIN_HTTP_H

#include <poll.h>
#include <stddef.h>

/* Produce the body for a path. Return the HTTP status; *body is malloc'd (caller frees). */
typedef int (*admin_handler_fn)(void *ctx, const char *path, char **body, const char **ctype);

/* Take over a request's connection instead (a streamed answer): return 1 when `fd` is now the
 * callee's, 0 to let the handler answer. `path` still has its query. */
typedef int (*admin_stream_fn)(void *ctx, const char *path, int fd);

#define ADMIN_MAX_CONNS 16

struct admin_conn {
	int fd;
	size_t len;
	char buf[2048];
};

struct admin_server {
	int listen_fd[2]; /* admin port and readiness port; -1 when not listening */
	struct admin_conn conns[ADMIN_MAX_CONNS];
	admin_handler_fn handler;
	admin_stream_fn stream; /* optional; set after admin_open */
	void *ctx;
};

/* Listen on addr:admin_port and addr:ready_port (IPv4 or IPv6 text address). */
int admin_open(struct admin_server *s, const char *addr, int admin_port, int ready_port,
	       admin_handler_fn handler, void *ctx);
/* Append this server's fds to a pollfd array; returns how many were added. */
size_t admin_pollfds(const struct admin_server *s, struct pollfd *pfds, size_t max);
/* Serve whatever is ready on the fds it owns (call after poll with the same array). */
void admin_serve(struct admin_server *s, const struct pollfd *pfds, size_t n);
void admin_close(struct admin_server *s);

#endif
