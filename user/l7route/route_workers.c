// SPDX-License-Identifier: Apache-2.0
/*
 * The router's kept threads (route_workers.h): an idle thread waits on a condition of its own
 * for one job, so handing a job over wakes exactly one thread; a stack of idle threads, most
 * recent first, keeps the warmest stack and caches in use and lets the coldest time out.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "l7route/route_workers.h"

struct worker {
	struct l7r_workers *w;
	pthread_cond_t cv; /* with w->lock: a job, or stop */
	void *(*fn)(void *);
	void *arg;
	struct worker *next; /* on the idle stack */
};

struct l7r_workers {
	pthread_mutex_t lock;
	pthread_cond_t gone; /* a thread ended */
	pthread_condattr_t mono;
	struct worker *idle;
	unsigned nidle, nall;
	bool stop;
};

static void unlink_idle(struct l7r_workers *w, struct worker *me)
{
	for (struct worker **pp = &w->idle; *pp; pp = &(*pp)->next)
		if (*pp == me) {
			*pp = me->next;
			w->nidle--;
			return;
		}
}

/* Wait for the next job (w->lock held): false when the thread is to end instead. */
static bool next_job(struct l7r_workers *w, struct worker *me)
{
	struct timespec until;

	if (w->stop || w->nidle >= L7R_WORKERS_IDLE_MAX)
		return false;
	me->fn = NULL;
	me->next = w->idle;
	w->idle = me;
	w->nidle++;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += L7R_WORKERS_IDLE_MS / 1000;
	while (!me->fn && !w->stop)
		if (pthread_cond_timedwait(&me->cv, &w->lock, &until) == ETIMEDOUT)
			break;
	if (me->fn)
		return true; /* the giver took it off the stack */
	unlink_idle(w, me);
	return false;
}

static void *worker_main(void *arg)
{
	struct worker *me = arg;
	struct l7r_workers *w = me->w;
	bool more;

	do {
		me->fn(me->arg);
		pthread_mutex_lock(&w->lock);
		more = next_job(w, me);
		if (!more && --w->nall == 0)
			pthread_cond_broadcast(&w->gone);
		pthread_mutex_unlock(
		    &w->lock); /* w may be freed from here when this was the last */
	} while (more);
	pthread_cond_destroy(&me->cv);
	free(me);
	return NULL;
}

static int spawn(struct l7r_workers *w, void *(*fn)(void *), void *arg)
{
	struct worker *me = calloc(1, sizeof(*me));
	pthread_attr_t at;
	pthread_t th;
	int err;

	if (!me)
		return -ENOMEM;
	me->w = w;
	me->fn = fn;
	me->arg = arg;
	pthread_cond_init(&me->cv, &w->mono);
	pthread_mutex_lock(&w->lock);
	w->nall++;
	pthread_mutex_unlock(&w->lock);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&at, 256 << 10);
	err = pthread_create(&th, &at, worker_main, me);
	pthread_attr_destroy(&at);
	if (!err)
		return 0;
	pthread_mutex_lock(&w->lock);
	if (--w->nall == 0)
		pthread_cond_broadcast(&w->gone);
	pthread_mutex_unlock(&w->lock);
	pthread_cond_destroy(&me->cv);
	free(me);
	return -err;
}

int l7r_workers_run(struct l7r_workers *w, void *(*fn)(void *), void *arg)
{
	struct worker *me;

	pthread_mutex_lock(&w->lock);
	me = w->idle;
	if (me) {
		w->idle = me->next;
		w->nidle--;
		me->fn = fn;
		me->arg = arg;
		pthread_cond_signal(&me->cv);
	}
	pthread_mutex_unlock(&w->lock);
	return me ? 0 : spawn(w, fn, arg);
}

unsigned l7r_workers_idle(struct l7r_workers *w)
{
	unsigned n;

	pthread_mutex_lock(&w->lock);
	n = w->nidle;
	pthread_mutex_unlock(&w->lock);
	return n;
}

struct l7r_workers *l7r_workers_new(void)
{
	struct l7r_workers *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&w->mono);
	pthread_condattr_setclock(&w->mono, CLOCK_MONOTONIC);
	pthread_cond_init(&w->gone, NULL);
	return w;
}

void l7r_workers_free(struct l7r_workers *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	for (struct worker *i = w->idle; i; i = i->next)
		pthread_cond_signal(&i->cv);
	while (w->nall)
		pthread_cond_wait(&w->gone, &w->lock);
	pthread_mutex_unlock(&w->lock);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->gone);
	pthread_condattr_destroy(&w->mono);
	free(w);
}
