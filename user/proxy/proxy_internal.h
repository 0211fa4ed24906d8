/* SPDX-License-Identifier: Apache-2.0 */
/* The proxy's private state, shared by its loop (proxy_loop.c) and its relay (proxy_relay.c). */
#ifndef SKIFF_PROXY_INTERNAL_H
#define SKIFF_PROXY_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "proxy/proxy.h"

#define PROXY_PIPE_BYTES (256 << 10) /* kernel pipe per direction: what may sit in flight */

struct relay;

/* What an epoll event points at: a listener, or one side of a relay. */
enum proxy_ev_kind { EV_LISTENER, EV_CLIENT, EV_UPSTREAM, EV_WAKE };

struct proxy_ev {
	enum proxy_ev_kind kind;
	int fd;
	struct relay *r; /* EV_CLIENT and EV_UPSTREAM */
};

/* One direction of a relay: bytes from `src` through a pipe to `dst`. */
struct relay_dir {
	int pipe[2];
	size_t queued;	/* in the pipe, not yet written to dst */
	bool src_eof;	/* src said FIN */
	bool dst_shut;	/* FIN passed on to dst */
	uint64_t bytes; /* delivered to dst */
};

struct relay {
	struct proxy_ev client, upstream;
	struct relay_dir out; /* client -> upstream */
	struct relay_dir in;  /* upstream -> client */
	bool connecting;      /* upstream connect() in progress */
	struct relay *next, *prev;
};

struct proxy {
	struct proxy_opts o;
	int epfd, wakefd;
	struct proxy_ev listeners[2], wake;
	size_t nlisteners;
	pthread_t thread;
	bool started;
	struct relay *relays; /* every open relay, for proxy_stop */
	struct proxy_stats stats;
};

/* proxy_relay.c */
int relay_open(struct proxy *p, int client_fd, const struct skiff_sock_origin *dst);
/* An epoll event on one side of a relay; closes the relay when it is done or broken. */
void relay_event(struct proxy *p, struct proxy_ev *ev, uint32_t events);
void relay_close(struct proxy *p, struct relay *r, bool reset);

#endif
