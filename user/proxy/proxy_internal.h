/* SPDX-License-Identifier: Apache-2.0 */
/* The proxy's private state, shared by its loop (proxy_loop.c) and its relay (proxy_relay.c). */
#ifndef SKIFF_PROXY_INTERNAL_H
#define SKIFF_PROXY_INTERNAL_H

#include <pthread.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stddef.h>

#include "proxy/proxy.h"

#define PROXY_PIPE_BYTES (256 << 10) /* kernel pipe per direction: what may sit in flight */

struct relay;
struct hb_conn;
struct hb_stream;

/* What an epoll event points at: a listener, one side of a plain relay, an HBONE connection or
 * the local socket of an HBONE stream. */
enum proxy_ev_kind {
	EV_LISTENER,	  /* outbound 15001 */
	EV_CLIENT,	  /* plain relay, client side */
	EV_UPSTREAM,	  /* plain relay, destination side */
	EV_WAKE,	  /* proxy_stop */
	EV_HB_LISTENER,	  /* inbound HBONE 15008 */
	EV_HB_CONN,	  /* an HBONE (TLS + HTTP/2) connection */
	EV_HB_LOCAL,	  /* the local socket of an HBONE stream */
};

struct proxy_ev {
	enum proxy_ev_kind kind;
	int fd;
	struct relay *r;      /* EV_CLIENT and EV_UPSTREAM */
	struct hb_conn *conn; /* EV_HB_CONN */
	struct hb_stream *st; /* EV_HB_LOCAL */
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
	bool gone;	      /* closed; freed after this batch */
	struct relay *next, *prev;
};

struct proxy {
	struct proxy_opts o;
	int epfd, wakefd;
	struct proxy_ev listeners[4], wake; /* 15001 and 15008, IPv4 and IPv6 */
	size_t nlisteners;
	pthread_t thread;
	bool started;
	struct relay *relays; /* every open relay, for proxy_stop */
	void **graveyard;     /* closed objects, freed after the current epoll batch */
	size_t ngrave, gravecap;
	struct hb_conn *hb_conns; /* every HBONE connection, both directions */
	struct proxy_stats stats;
};

/* TCP_NODELAY on a proxied socket: a proxy writes what it has at once, and Nagle's wait for an
 * ACK the peer delays (40 ms) would land on every request that crosses a small write. */
void proxy_nodelay(int fd);

/* Free `ptr` once the current batch of events is handled: a later event of the same batch may
 * still point at it (the owner marks itself gone first). */
void proxy_defer_free(struct proxy *p, void *ptr);

/* proxy_relay.c */
int relay_open(struct proxy *p, int client_fd, const struct skiff_sock_origin *dst);
/* An epoll event on one side of a relay; closes the relay when it is done or broken. */
void relay_event(struct proxy *p, struct proxy_ev *ev, uint32_t events);
void relay_close(struct proxy *p, struct relay *r, bool reset);

#endif
