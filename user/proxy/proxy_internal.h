/* SPDX-License-Identifier: Apache-2.0 */
/* The plain relay's state, shared by the loop (proxy_loop.c) and the relay (proxy_relay.c). The
 * loop's own state, which HBONE and the L7 relay use too, is in proxy.h. */
#ifndef SKIFF_PROXY_INTERNAL_H
#define SKIFF_PROXY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/proxy.h"

#define PROXY_PIPE_BYTES (256 << 10) /* kernel pipe per direction: what may sit in flight */

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
	struct relay_dir out;  /* client -> upstream */
	struct relay_dir in;   /* upstream -> client */
	bool connecting;       /* upstream connect() in progress */
	bool gone;	       /* closed; freed after this batch */
	struct proxy_plain pl; /* reported to the metrics once connected */
	uint64_t active_ms;    /* proxy.now_ms when it last had an event */
	struct relay *next, *prev;
};

/* proxy_relay.c */
int relay_open(struct proxy *p, int client_fd, const struct skiff_sock_origin *src,
	       const struct skiff_sock_origin *dst);
/* An epoll event on one side of a relay; closes the relay when it is done or broken. */
void relay_event(struct proxy *p, struct proxy_ev *ev, uint32_t events);
void relay_close(struct proxy *p, struct relay *r, bool reset);
/* Reset the relays with no event for p->lim.idle_ms. */
void relay_sweep(struct proxy *p);

#endif
