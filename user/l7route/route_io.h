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
/* read() at most len bytes before `deadline`: > 0 bytes, 0 EOF, -ETIMEDOUT, -errno. */
ssize_t l7r_read(int fd, void *buf, size_t len, uint64_t deadline);
/* Write all of buf: 0, -ETIMEDOUT, -errno (EPIPE, ECONNRESET...). */
int l7r_write_all(int fd, const void *buf, size_t len, uint64_t deadline);
/* Sleep until `deadline`, or until the client closes `fd` (then -ECONNRESET). */
int l7r_wait(int fd, uint64_t deadline);

/* Upstream connections, per endpoint, shared by every connection thread. */
struct l7r_pool;
struct l7r_pool *l7r_pool_new(void);
void l7r_pool_free(struct l7r_pool *p);
/* An idle connection to `ep` that is still open, or -1. */
int l7r_pool_get(struct l7r_pool *p, const struct skiff_sock_origin *ep);
/* Keep `fd` for the next request to `ep` (closed when the pool is full). */
void l7r_pool_put(struct l7r_pool *p, const struct skiff_sock_origin *ep, int fd);
/* A new connection to `ep` within `deadline`: fd, or -ECONNREFUSED, -ETIMEDOUT, -errno. */
int l7r_dial(const struct skiff_sock_origin *ep, uint64_t deadline);

#endif
