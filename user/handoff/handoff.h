/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Listener hand-off between two skiffd processes on one node, so that an upgrade refuses no SYN.
 *
 * The serving skiffd listens on <run-dir>/handoff.sock (a unix SOCK_SEQPACKET socket). A new
 * skiffd that finds it connects, and the old one answers with one message carrying every
 * listening socket it owns (SCM_RIGHTS): outbound 15001, HBONE 15008, admin, readiness and
 * metrics. The new process takes the ones whose address it would have bound (handoff_listener),
 * starts, applies its first configuration, then says READY. The old one stops accepting, answers
 * DRAINING and drains its open connections; the new one then owns handoff.sock and writes its pid
 * to <run-dir>/skiffd.pid. A new process that dies before READY leaves the old one serving.
 *
 * The listening sockets are never closed in between: the kernel queues SYNs on them whichever
 * process holds them, so none is refused.
 */
#ifndef SKIFF_HANDOFF_H
#define SKIFF_HANDOFF_H

#include <stdbool.h>
#include <sys/socket.h>

#define HANDOFF_SOCK		"handoff.sock"
#define HANDOFF_PIDFILE		"skiffd.pid"
#define HANDOFF_MAX_FDS		16
#define HANDOFF_DEFAULT_RUN_DIR "/run/skiff"

/* --- the new process --- */

/*
 * Ask the skiffd serving <run_dir>/handoff.sock for its listeners. 1: received (they wait in a
 * pool for handoff_listener; *conn is the channel to say READY on); 0: nobody serves there (a
 * stale socket is removed), *conn = -1; negative errno on a failed hand-off (reported).
 */
int handoff_request(const char *run_dir, int *conn);
/* The inherited listener bound to `sa` (same family, address and port), taken out of the pool;
 * -1 when none was handed over. */
int handoff_listener(const struct sockaddr *sa, socklen_t len);
/* Close the inherited listeners nobody took (a flag changed between the two versions). */
void handoff_pool_release(void);
/* Tell the old process this one serves: it stops accepting and drains. Waits (bounded) for
 * its answer. 0, or negative errno (the old one may still be accepting: it does no harm). */
int handoff_ready(int conn);

/* --- the serving process --- */

struct handoff_server {
	int listen_fd; /* handoff.sock, -1 when not serving */
	int conn;      /* the new process asking, -1 when none */
	char path[108];
};

/* Bind <run_dir>/handoff.sock (creating run_dir) and write the pid file. */
int handoff_serve(struct handoff_server *s, const char *run_dir);
/* A poll fd of the server (the listener, or the connection in progress). */
int handoff_server_fd(const struct handoff_server *s);
/*
 * poll() said the server's fd is readable. `fds`: every listener this process owns, sent to a
 * new process. Returns 1 when the new process said READY (stop accepting, then call
 * handoff_server_done), 0 otherwise.
 */
int handoff_server_event(struct handoff_server *s, const int *fds, int nfds);
/* The listeners are closed: answer DRAINING and stop serving handoff.sock (the new process
 * binds it next). */
void handoff_server_done(struct handoff_server *s);
/* Stop serving; with `unlink_path`, remove handoff.sock and the pid file (this process was the
 * last one serving the node). */
void handoff_server_close(struct handoff_server *s, bool unlink_path);

/* The pid in <run_dir>/skiffd.pid when that process is alive and a skiffd, else 0. */
int handoff_running_pid(const char *run_dir);

#endif
