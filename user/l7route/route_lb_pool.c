// SPDX-License-Identifier: Apache-2.0
/*
 * connectionPool in the router (route_lb.h): a try holds one of its set's requests and, HTTP/1.1
 * carrying one request per connection, one of its connections until l7r_lb_end. With every
 * connection in use a try waits as a pending request, if the queue has room, on the set's
 * condition variable (CLOCK_MONOTONIC) until a connection is given back or its deadline.
 */
#include <errno.h>
#include <time.h>

#include "l7route/route_lb_internal.h"

#define L7R_POOL_WAIT_MS 10000 /* a pending request waits at most the connect timeout */

/* Wait (lb locked) for a connection of the pool to be given back: false at the deadline. */
static bool wait_freed(struct l7r_lb *lb, uint64_t deadline_ns)
{
	struct timespec at = {.tv_sec = (time_t)(deadline_ns / 1000000000ull),
			      .tv_nsec = (long)(deadline_ns % 1000000000ull)};

	return pthread_cond_timedwait(&lb->freed, &lb->lock, &at) != ETIMEDOUT;
}

int l7r_lb_admit(struct l7r_lb_pick *p, uint64_t deadline_ns)
{
	uint64_t connect_dl = (l7r_lb_now_ms() + L7R_POOL_WAIT_MS) * 1000000ull;
	struct l7r_lb *lb = p->lb;
	struct up_set *s;
	bool ok = true, ready;

	if (!lb)
		return 0;
	if (deadline_ns > connect_dl)
		deadline_ns = connect_dl;
	pthread_mutex_lock(&lb->lock);
	s = &lb->set;
	ready = lb->ready;
	if (!ready || !up_pool_try_request(s)) {
		pthread_mutex_unlock(&lb->lock);
		return ready ? -EBUSY : 0; /* no set (out of memory): no limits either */
	}
	if (s->pool.conns >= s->pol.pool.max_connections) {
		bool queued = up_pool_try_pending(s); /* false: counted as an overflow */

		ok = queued;
		while (ok && s->pool.conns >= s->pol.pool.max_connections)
			ok = wait_freed(lb, deadline_ns);
		if (queued)
			up_pool_pending_done(s);
		if (queued && !ok)
			s->pool.overflows++;
	}
	if (ok)
		ok = up_pool_try_connect(s);
	if (!ok)
		up_pool_request_done(s);
	p->admitted = ok;
	pthread_mutex_unlock(&lb->lock);
	return ok ? 0 : -EBUSY;
}

void l7r_lb_pool_release(struct l7r_lb *lb)
{
	if (!lb->ready)
		return;
	up_pool_conn_done(&lb->set);
	up_pool_request_done(&lb->set);
	pthread_cond_signal(&lb->freed);
}
