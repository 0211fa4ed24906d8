/* SPDX-License-Identifier: Apache-2.0 */
/* The proxy's private state, shared by its loop (proxy_loop.c) and its relays (proxy_relay.c, the
 * plain one; l7_relay.c, the one with an L7 filter). */
#ifndef SKIFF_PROXY_INTERNAL_H
#define SKIFF_PROXY_INTERNAL_H

#include <pthread.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stddef.h>

#include "proxy/proxy.h"

#define PROXY_PIPE_BYTES (256 << 10) /* kernel pipe per direction: what may sit in flight */

struct relay;
struct l7_relay;
struct hb_conn;
struct hb_stream;

/* What an epoll event points at: a listener, one side of a plain or L7 relay, an HBONE
 * connection or the local socket of an HBONE stream. */
enum proxy_ev_kind {
	EV_LISTENER,	  /* outbound 15001 */
	EV_CLIENT,	  /* plain relay, client side */
	EV_UPSTREAM,	  /* plain relay, destination side */
	EV_WAKE,	  /* proxy_stop */
	EV_HB_LISTENER,	  /* inbound HBONE 15008 */
	EV_HB_CONN,	  /* an HBONE (TLS + HTTP/2) connection */
	EV_HB_LOCAL,	  /* the local socket of an HBONE stream */
	EV_L7_CLIENT,	  /* L7 relay, client side (an accepted socket, or an HBONE socketpair end) */
	EV_L7_UPSTREAM,	  /* L7 relay, destination side */
};

struct proxy_ev {
	enum proxy_ev_kind kind;
	int fd;
	struct relay *r;      /* EV_CLIENT and EV_UPSTREAM */
	struct l7_relay *l7;  /* EV_L7_CLIENT and EV_L7_UPSTREAM */
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

/* One side of an L7 relay. */
struct l7_side {
	struct proxy_ev ev;
	uint32_t armed; /* the events epoll waits for on it; 0: not in epoll */
	bool eof;	/* it said FIN */
	bool shut;	/* FIN passed on to it */
	uint64_t bytes; /* written to it */
};

/* A connection whose HTTP requests are decided one by one: bytes are read into skiffd, pass
 * through an L7 filter (l7_filter.h) and are written from its output buffers (l7_relay.c). */
struct l7_relay {
	struct l7_side client, upstream;
	const struct l7_filter_ops *ops; /* NULL until the client's first bytes choose one */
	struct l7_filter *f;
	struct proxy_l7 l7;
	struct l7_buf to_up, to_client;
	uint8_t sniff[L7_H2_PREFACE_LEN]; /* the client's first bytes, while they may be a preface */
	struct l7_buf held; /* the pod's first bytes, while they may be an h2c server's SETTINGS */
	struct l7_buf pending; /* client bytes read but not yet filtered: the backlog was full */
	size_t nsniff;
	bool connecting; /* upstream connect() in progress */
	bool pass;	 /* l7_relay_pass: allowed at L4, no HTTP decisions to count */
	bool ending;	 /* the filter said its last word (or gave up): close once it is out */
	bool gone;	 /* closed; freed after this batch */
	size_t lingered; /* client bytes dropped after the last word */
	uint64_t seen_requests, seen_denied; /* filter counts already in the proxy's stats */
	struct l7_relay *next, *prev;
};

struct proxy {
	struct proxy_opts o;
	int epfd, wakefd;
	struct proxy_ev listeners[4], wake; /* 15001 and 15008, IPv4 and IPv6 */
	size_t nlisteners;
	pthread_t thread;
	bool started;
	struct relay *relays; /* every open relay, for proxy_stop */
	struct l7_relay *l7_relays; /* every open L7 relay, likewise */
	void **graveyard;     /* closed objects, freed after the current epoll batch */
	size_t ngrave, gravecap;
	struct hb_conn *hb_conns; /* every HBONE connection, both directions */
	struct proxy_stats stats;
};

/* TCP_NODELAY on a proxied socket: a proxy writes what it has at once, and Nagle's wait for an
 * ACK the peer delays (40 ms) would land on every request that crosses a small write. */
void proxy_nodelay(int fd);
/* Close `fd` (if >= 0); with `reset`, SO_LINGER 0 first: the peer sees RST, its connection
 * fails as from a port nobody listens on. It leaves p's epoll first: close() alone does that
 * only with the last reference to the file, and a copy held elsewhere (a child between fork
 * and exec) would keep delivering events that point at freed memory. */
void proxy_close(struct proxy *p, int fd, bool reset);

/* Free `ptr` once the current batch of events is handled: a later event of the same batch may
 * still point at it (the owner marks itself gone first). */
void proxy_defer_free(struct proxy *p, void *ptr);

/* proxy_relay.c */
int relay_open(struct proxy *p, int client_fd, const struct skiff_sock_origin *dst);
/* An epoll event on one side of a relay; closes the relay when it is done or broken. */
void relay_event(struct proxy *p, struct proxy_ev *ev, uint32_t events);
void relay_close(struct proxy *p, struct relay *r, bool reset);

/* l7_relay.c */
/*
 * Relay `client_fd` (non-blocking: an accepted TCP socket or a socketpair end) to `dst` through
 * an L7 filter deciding with `l7->d`. Both are the relay's from here on, also when this fails
 * (the client is then reset and l7->release called).
 */
int l7_relay_open(struct proxy *p, int client_fd, const struct skiff_sock_origin *dst,
		  const struct proxy_l7 *l7);
/* A connection allowed at L4 whose client reaches skiffd by sk_msg redirect (the plain relay
 * splices, and splice() does not see redirected bytes): relayed through read() and write(), bytes
 * untouched, the pod dialled as the L7 relay does (its hop joins the fast path too). */
int l7_relay_pass(struct proxy *p, int client_fd, const struct skiff_sock_origin *dst);
void l7_relay_event(struct proxy *p, struct proxy_ev *ev, uint32_t events);
void l7_relay_close(struct proxy *p, struct l7_relay *r, bool reset);

#endif
