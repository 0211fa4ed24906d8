/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skiffd's proxy: the outbound listener (15001) that the kernel punts cross-node TCP to. For each
 * accepted connection it asks where the client was really going (the kernel filed it under the
 * client's address and port, include/skiff/punt.h), connects there, and relays bytes both ways
 * with splice(). Today the relay is plaintext, from this node to the destination pod; the HBONE
 * tunnel to the destination node's skiffd (mTLS) takes its place in a later step.
 *
 * It runs on its own thread with its own epoll loop, so a config reload never stalls traffic.
 */
#ifndef SKIFF_PROXY_H
#define SKIFF_PROXY_H

#include <stdint.h>

#include "skiff/punt.h"

/* Where the punted connection whose client end is `k` was going: 0 and *dst, or -ENOENT. */
typedef int (*proxy_orig_fn)(void *ctx, const struct skiff_punt_key *k,
			     struct skiff_sock_origin *dst);

struct proxy_opts {
	const char *addr4; /* IPv4 address to listen on, or NULL */
	const char *addr6; /* IPv6 address to listen on, or NULL */
	uint16_t port;	   /* SKIFF_OUTBOUND_PORT */
	proxy_orig_fn orig_dst;
	void *ctx;
};

/* Counters since start, read without locks (each is written by the proxy thread only). */
struct proxy_stats {
	uint64_t accepted;	 /* connections accepted on the outbound listener */
	uint64_t no_orig;	 /* accepted with no destination filed: reset */
	uint64_t upstream_failed; /* the destination refused or was unreachable: reset */
	uint64_t relayed;	 /* connections relayed to their end */
	uint64_t active;	 /* open now */
	uint64_t bytes_out;	 /* client -> destination */
	uint64_t bytes_in;	 /* destination -> client */
};

struct proxy;

/* Bind the listeners and start the thread. Errors name the address and the fix. */
int proxy_start(const struct proxy_opts *o, struct proxy **out);
void proxy_stats_read(const struct proxy *p, struct proxy_stats *s);
/* Stop the thread and close every connection and listener. */
void proxy_stop(struct proxy *p);

#endif
