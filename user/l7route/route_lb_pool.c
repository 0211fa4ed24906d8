// SPDX-License-Identifier: Apache-2.0
/*
 * connectionPool in the router (route_lb.h): a try holds one of its set's requests and, HTTP/1.1
 * carrying one request per connection, one of its connections until l7r_lb_end. With every
 * connection in use a try waits as a pending request, if the queue has room, on the set's
 * condition variable (CLOCK_MONOTONIC) until a connection is given back or its deadline.
 * Also what the set's policy says about each upstream connection (connect timeout, keepalive,
 * requests per connection, idle timeout), the retries under way (maxRetries), and the hash
 * cookie a request without one is given.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "l7route/l7route.h"
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

/* Seconds for a socket option: a duration below one second still asks for one. */
static uint32_t secs_of(int64_t ms)
{
	return ms <= 0 ? 0 : (uint32_t)((ms + 999) / 1000);
}

void l7r_lb_up_opts(const struct l7r_lb_pick *p, struct l7r_up_opts *o)
{
	const struct m_pool_policy *pp;

	memset(o, 0, sizeof(*o));
	o->connect_ms = L7R_CONNECT_MS;
	o->idle_ms = L7R_IDLE_MS;
	if (!p->lb)
		return;
	pthread_mutex_lock(&p->lb->lock);
	if (p->lb->ready) {
		pp = &p->lb->set.pol.pool; /* defaults filled in */
		o->connect_ms = (uint64_t)pp->connect_timeout_ms;
		o->idle_ms = (uint64_t)pp->idle_timeout_ms;
		o->max_requests_per_conn = pp->max_requests_per_conn;
		o->ka.on = pp->keepalive;
		o->ka.probes = pp->keepalive_probes;
		o->ka.time_s = secs_of(pp->keepalive_time_ms);
		o->ka.interval_s = secs_of(pp->keepalive_interval_ms);
	}
	pthread_mutex_unlock(&p->lb->lock);
}

int l7r_lb_retry_take(const struct l7r_lb_pick *p, struct l7r_lb **held)
{
	bool ok;

	*held = NULL;
	if (!p->lb)
		return 0;
	pthread_mutex_lock(&p->lb->lock);
	ok = !p->lb->ready || up_pool_try_retry(&p->lb->set);
	if (ok && p->lb->ready)
		*held = p->lb;
	pthread_mutex_unlock(&p->lb->lock);
	return ok ? 0 : -EBUSY;
}

void l7r_lb_retry_done(struct l7r_lb *held)
{
	if (!held)
		return;
	pthread_mutex_lock(&held->lock);
	if (held->ready)
		up_pool_retry_done(&held->set);
	pthread_mutex_unlock(&held->lock);
}

uint64_t l7r_lb_retry_overflows(const struct l7r_lb_pick *p)
{
	uint64_t n = 0;

	if (!p->lb)
		return 0;
	pthread_mutex_lock(&p->lb->lock);
	if (p->lb->ready)
		n = p->lb->set.pool.retry_overflows;
	pthread_mutex_unlock(&p->lb->lock);
	return n;
}

void l7r_lb_set_cookie(const struct l7r_lb_pick *p, const struct l7r_request *rq,
		       const struct skiff_punt_key *client, char *buf, size_t len)
{
	const struct m_lb_policy *lb;
	char v[17], path[256] = "";
	char name[128] = "";
	int64_t ttl = 0;

	buf[0] = '\0';
	if (!p->lb)
		return;
	pthread_mutex_lock(&p->lb->lock);
	lb = &p->lb->pol.lb; /* as merged: the set's copy has its strings cleared */
	if (p->lb->ready && lb->simple == M_LB_CONSISTENT_HASH && lb->hash_on == M_HASH_COOKIE &&
	    lb->hash_name && lb->cookie_ttl_ms > 0) {
		snprintf(name, sizeof(name), "%s", lb->hash_name);
		snprintf(path, sizeof(path), "%s", lb->cookie_path ? lb->cookie_path : "");
		ttl = lb->cookie_ttl_ms;
	}
	pthread_mutex_unlock(&p->lb->lock);
	if (!ttl || l7r_lb_has_cookie(rq, name))
		return;
	l7r_lb_cookie_value(rq, client, v);
	snprintf(buf, len, "Set-Cookie: %s=\"%s\"; Max-Age=%lld%s%s; HttpOnly\r\n", name, v,
		 (long long)((ttl + 999) / 1000), path[0] ? "; Path=" : "", path);
}
