/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Blocking socket I/O with deadlines for the router's connection threads, and the upstream
 * connection pool. Private to user/l7route.
 */
#ifndef SKIFF_L7ROUTE_IO_H
#define SKIFF_L7ROUTE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "skiff/lb.h"

#define L7R_NO_DEADLINE UINT64_MAX

uint64_t l7r_now_ns(void);
/* A deadline `ms` from now (0: none). */
uint64_t l7r_deadline(uint64_t ms);
/* The stream idle timeout in ms (0: L7R_STREAM_IDLE_MS), set once before any request: a read
 * or a write below that waits this long for its socket gives up with -ETIMEDOUT whatever its
 * deadline, and so does an HTTP/2 try with no byte either way (route_h2_up.c). */
void l7r_io_stream_idle(uint64_t ms);
uint64_t l7r_stream_idle_ns(void);
/* read() at most len bytes before `deadline`: > 0 bytes, 0 EOF, -ETIMEDOUT, -errno. */
ssize_t l7r_read(int fd, void *buf, size_t len, uint64_t deadline);
/* l7r_read that waits for `fd` first: for a socket whose bytes are rarely there yet (the next
 * request after a response, a response just asked for), the read that would find none is saved.
 * `watch` (-1: none) is the client's socket: when it closes meanwhile, -ECANCELED. */
ssize_t l7r_read_wait(int fd, void *buf, size_t len, uint64_t deadline, int watch);
/* Write all of buf: 0, -ETIMEDOUT, -errno (EPIPE, ECONNRESET...). */
int l7r_write_all(int fd, const void *buf, size_t len, uint64_t deadline);
/* Write the n pieces of iov in one send where the socket takes them all (iov is consumed):
 * 0, -ETIMEDOUT, -errno. */
struct iovec;
int l7r_writev_all(int fd, struct iovec *iov, int n, uint64_t deadline);
/* Sleep until `deadline`, or until the client closes `fd` (then -ECONNRESET). */
int l7r_wait(int fd, uint64_t deadline);

/* Upstream connections, per endpoint, shared by every connection thread. */
struct l7r_pool;
struct l7r_pool *l7r_pool_new(void);
void l7r_pool_free(struct l7r_pool *p);
/* An idle connection to `ep` within its idle timeout, or -1; *served says how many requests it
 * carried already. `check`: only one that is still open (one poll). Without it, a connection
 * the endpoint closed while idle shows as a reset before any response byte, which the caller
 * must redial: the check is for a request that could not be sent again. One idle over 250 ms
 * is checked either way (an endpoint may have written before closing it). */
int l7r_pool_get(struct l7r_pool *p, const struct skiff_sock_origin *ep, uint32_t *served,
		 bool check);
/* Keep `fd`, which carried `served` requests, for the next request to `ep`, for at most
 * `idle_ms` (0: no bound) without one; closed at once when the pool is full. */
void l7r_pool_put(struct l7r_pool *p, const struct skiff_sock_origin *ep, int fd, uint32_t served,
		  uint64_t idle_ms);
/* Close every idle connection whose idle timeout passed (the router's timer). */
void l7r_pool_sweep(struct l7r_pool *p);
/* Idle connections held now, for every endpoint. */
size_t l7r_pool_idle(struct l7r_pool *p);

/* connectionPool.tcp.tcpKeepalive on a socket: 0 for a field left to the OS default. */
struct l7r_keepalive {
	bool on;
	uint32_t probes;
	uint32_t time_s, interval_s;
};
/* A new connection to `ep` within `deadline`: fd, or -ECONNREFUSED, -ETIMEDOUT, -errno. `ka`
 * (may be NULL) turns TCP keepalive on with its settings. */
int l7r_dial_ka(const struct skiff_sock_origin *ep, uint64_t deadline,
		const struct l7r_keepalive *ka);
int l7r_dial(const struct skiff_sock_origin *ep, uint64_t deadline);
/* Apply `ka` to fd (exported for the tests): 0 or -errno. */
int l7r_set_keepalive(int fd, const struct l7r_keepalive *ka);

#endif
