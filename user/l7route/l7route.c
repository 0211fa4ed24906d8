// SPDX-License-Identifier: Apache-2.0
/*
 * The router's connections (l7route.h): each taken connection gets a thread that serves it to
 * the end (route_conn.c) with the table in force when it arrived, so a reload never changes the
 * rules under a request. l7route_stop shuts every client socket down and waits for the threads
 * (5 s at most: one waiting on a silent endpoint is left to finish on its own).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "l7route/route_h2.h"
#include "l7route/route_workers.h"

/* Ejections end on outlier detection's timer, requests or not: every 100 ms, each set whose
 * interval is up is ticked (cheap: a compare per set otherwise), and idle upstream connections
 * past their idleTimeout are closed. */
static void *ticker_main(void *arg)
{
	struct l7route *r = arg;
	struct timespec at;

	pthread_mutex_lock(&r->lock);
	while (!r->stopping) {
		pthread_mutex_unlock(&r->lock);
		l7r_lbs_tick(r->lbs);
		l7r_pool_sweep(r->pool);
		pthread_mutex_lock(&r->lock);
		clock_gettime(CLOCK_REALTIME, &at);
		at.tv_nsec += 100 * 1000000L;
		if (at.tv_nsec >= 1000000000L) {
			at.tv_sec++;
			at.tv_nsec -= 1000000000L;
		}
		if (!r->stopping)
			pthread_cond_timedwait(&r->tick_stop, &r->lock, &at);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int l7route_start(const struct l7route_opts *o, struct l7route **out)
{
	struct l7route *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->o = *o;
	l7r_io_stream_idle(o->stream_idle_ms);
	r->pool = l7r_pool_new();
	r->h2pool = l7r_h2_pool_new();
	r->h2w = l7r_workers_new();
	r->lbs = l7r_lbs_new(o->eject, o->ctx);
	if (!r->pool || !r->h2pool || !r->h2w || !r->lbs) {
		if (r->pool)
			l7r_pool_free(r->pool);
		l7r_h2_pool_free(r->h2pool);
		l7r_workers_free(r->h2w);
		l7r_lbs_free(r->lbs);
		free(r);
		return -ENOMEM;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->idle, NULL);
	pthread_cond_init(&r->tick_stop, NULL);
	r->ticker_on = !pthread_create(&r->ticker, NULL, ticker_main, r);
	if (!r->ticker_on)
		fprintf(stderr, "skiffd l7route: no outlier detection timer (no thread): ejections "
				"end only with new requests\n");
	*out = r;
	return 0;
}

static void conn_unlink(struct l7route *r, struct l7r_conn *c)
{
	pthread_mutex_lock(&r->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (--r->nconns == 0)
		pthread_cond_broadcast(&r->idle);
	pthread_mutex_unlock(&r->lock);
}

static void *conn_main(void *arg)
{
	struct l7r_conn *c = arg;
	struct l7route *r = c->rt;

	l7r_conn_serve(c);
	if (c->plan)
		l7r_plan_put(r, c->plan);
	conn_unlink(r, c);
	close(c->fd);
	l7_buf_free(&c->in);
	r->o.release(c->ref);
	free(c);
	return NULL;
}

/* Register c, unless stopping or full. */
static bool conn_link(struct l7route *r, struct l7r_conn *c)
{
	bool ok;

	pthread_mutex_lock(&r->lock);
	ok = !r->stopping && r->nconns < L7R_MAX_CONNS;
	if (ok) {
		c->next = r->conns;
		if (r->conns)
			r->conns->prev = c;
		r->conns = c;
		r->nconns++;
	}
	pthread_mutex_unlock(&r->lock);
	return ok;
}

bool l7route_take(struct l7route *r, int fd, const struct skiff_punt_key *client,
		  const struct skiff_sock_origin *dst)
{
	struct l7r_conn *c;
	pthread_attr_t at;
	pthread_t th;
	void *ref = NULL;
	const struct l7_table *t = r->o.acquire(r->o.ctx, &ref);
	const struct l7_svcport *sp = t ? l7_table_find(t, dst) : NULL;

	if (!sp) {
		if (ref)
			r->o.release(ref);
		return false;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !conn_link(r, c)) {
		free(c);
		r->o.release(ref);
		close(fd); /* ours now: refused (overloaded or stopping) */
		return true;
	}
	c->rt = r;
	c->fd = fd;
	c->up_fd = -1;
	c->client = *client;
	c->vip = *dst;
	c->t = t;
	c->ref = ref;
	c->sp = sp;
	c->src_pod = r->o.client_pod ? r->o.client_pod(ref, client) : NULL;
	c->plan = l7r_plan_get(r, t);
	fcntl(fd, F_SETFL,
	      fcntl(fd, F_GETFL) | O_NONBLOCK); /* reads and writes poll with deadlines */
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 256 << 10);
	if (pthread_create(&th, &at, conn_main, c)) {
		if (c->plan)
			l7r_plan_put(r, c->plan);
		conn_unlink(r, c);
		close(fd);
		r->o.release(ref);
		free(c);
	}
	pthread_attr_destroy(&at);
	return true;
}

void l7route_drain(struct l7route *r)
{
	if (r)
		__atomic_store_n(&r->draining, true, __ATOMIC_RELAXED);
}

size_t l7route_open(struct l7route *r)
{
	size_t n;

	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	n = r->nconns;
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* Refuse new connections, end the open ones and wait for their threads; true when all ended. */
bool l7route_quiesce(struct l7route *r)
{
	struct timespec until;
	bool done;

	if (!r)
		return true;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_broadcast(&r->tick_stop);
	for (struct l7r_conn *c = r->conns; c; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	while (r->nconns && pthread_cond_timedwait(&r->idle, &r->lock, &until) == 0)
		;
	done = r->nconns == 0;
	if (!done)
		fprintf(stderr,
			"skiffd l7route: %zu connection(s) still waiting on endpoints at stop\n",
			r->nconns);
	pthread_mutex_unlock(&r->lock);
	return done;
}

void l7route_stop(struct l7route *r)
{
	/* a thread still waits on an endpoint that never answers (no route timeout): the router
	 * stays allocated for it rather than freed under it */
	if (!r || !l7route_quiesce(r))
		return;
	if (r->ticker_on)
		pthread_join(r->ticker, NULL);
	l7r_plan_drop(r);
	l7r_pool_free(r->pool);
	l7r_h2_pool_free(r->h2pool);
	l7r_workers_free(r->h2w); /* the streams ended with their connections */
	l7r_lbs_free(r->lbs);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->idle);
	pthread_cond_destroy(&r->tick_stop);
	free(r);
}
