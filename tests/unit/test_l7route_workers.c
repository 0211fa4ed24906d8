// SPDX-License-Identifier: Apache-2.0
/*
 * The router's kept threads for HTTP/2 streams (user/l7route/route_workers.c): every job runs at
 * once, blocked ones beside each other (none waits for a thread); a thread that finished a job
 * runs the next one instead of a new thread being made; no more than L7R_WORKERS_IDLE_MAX are
 * kept; freeing ends the kept ones.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "l7route/route_workers.h"

/* Jobs that each wait until `release` is set, counting how many started and finished. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	unsigned started, finished;
	bool release;
	pid_t
	    who; /* the thread the last job ran on (a tid: never reused this soon, unlike pthread_t) */
};

static void *job(void *arg)
{
	struct gate *g = arg;

	pthread_mutex_lock(&g->lock);
	g->started++;
	g->who = gettid();
	pthread_cond_broadcast(&g->cv);
	while (!g->release)
		pthread_cond_wait(&g->cv, &g->lock);
	g->finished++;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

static void gate_init(struct gate *g, bool release)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->started = g->finished = 0;
	g->release = release;
}

/* Wait (10 s at most, a bound for a broken build, not a speed) until *count reaches n. */
static unsigned wait_count(struct gate *g, unsigned *count, unsigned n)
{
	struct timespec until;
	unsigned got;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&g->lock);
	while (*count < n && pthread_cond_timedwait(&g->cv, &g->lock, &until) != ETIMEDOUT)
		;
	got = *count;
	pthread_mutex_unlock(&g->lock);
	return got;
}

/* Until the pool keeps n idle threads (10 s at most): how many it keeps then. */
static unsigned wait_idle(struct l7r_workers *w, unsigned n)
{
	for (int i = 0; i < 10000 && l7r_workers_idle(w) != n; i++)
		usleep(1000);
	return l7r_workers_idle(w);
}

static void test_blocked_jobs_run_together(void **state)
{
	struct l7r_workers *w = l7r_workers_new();
	struct gate g;

	(void)state;
	gate_init(&g, false);
	/* each job blocks until all ten have started: ten threads at once, or a hang */
	for (int i = 0; i < 10; i++)
		assert_int_equal(l7r_workers_run(w, job, &g), 0);
	assert_int_equal(wait_count(&g, &g.started, 10), 10);
	assert_int_equal(g.finished, 0);
	pthread_mutex_lock(&g.lock);
	g.release = true;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.lock);
	assert_int_equal(wait_count(&g, &g.finished, 10), 10);
	assert_int_equal(wait_idle(w, 10), 10);
	l7r_workers_free(w);
}

static void test_thread_kept_for_next_job(void **state)
{
	struct l7r_workers *w = l7r_workers_new();
	struct gate g;
	pid_t first;

	(void)state;
	gate_init(&g, true);
	assert_int_equal(l7r_workers_run(w, job, &g), 0);
	assert_int_equal(wait_count(&g, &g.finished, 1), 1);
	assert_int_equal(wait_idle(w, 1), 1);
	first = g.who;
	assert_int_equal(l7r_workers_run(w, job, &g), 0);
	assert_int_equal(wait_count(&g, &g.finished, 2), 2);
	assert_int_equal(first, g.who); /* the same thread, not a new one */
	assert_int_equal(wait_idle(w, 1), 1);
	l7r_workers_free(w);
}

static void test_idle_bounded(void **state)
{
	struct l7r_workers *w = l7r_workers_new();
	const unsigned n = L7R_WORKERS_IDLE_MAX + 6;
	struct gate g;

	(void)state;
	gate_init(&g, false);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(l7r_workers_run(w, job, &g), 0);
	assert_int_equal(wait_count(&g, &g.started, n), n);
	pthread_mutex_lock(&g.lock);
	g.release = true;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.lock);
	assert_int_equal(wait_count(&g, &g.finished, n), n);
	/* the six past the bound end; the kept ones end with the pool */
	assert_int_equal(wait_idle(w, L7R_WORKERS_IDLE_MAX), L7R_WORKERS_IDLE_MAX);
	l7r_workers_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_blocked_jobs_run_together),
	    cmocka_unit_test(test_thread_kept_for_next_job),
	    cmocka_unit_test(test_idle_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
