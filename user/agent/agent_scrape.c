// SPDX-License-Identifier: Apache-2.0
/*
 * The scrape thread: /metrics pages are rendered here, not on the agent loop. A page of 10,000
 * Istio series is tens of MB of text; rendered on the loop it held a config reload, an admin
 * request or a pod's enrolment for as long. The loop reads the request and takes a scrape source
 * (the snapshot in force, referenced, and skiffd's own counters: microseconds); this thread walks
 * the kernel's map, renders, gzips and writes the page, then closes the connection. One page at
 * a time, a few waiting; a scraper beyond that is shed (closed), as the listener sheds a ninth
 * connection. The thread's CPU time per page is measured (CLOCK_THREAD_CPUTIME_ID) and shown on
 * the next page as skiff_metrics_scrape_cpu_seconds.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent_scrape_cache.h"
#include "agent/agent_state.h"

#define SCRAPE_QUEUE 4

struct scrape_job {
	int fd;
	char *head;
	struct agent_scrape_src *src;
};

struct agent_scrape {
	struct agent *a;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct scrape_job q[SCRAPE_QUEUE];
	size_t head, n;
	bool stop;
	uint64_t last_cpu_ns;	  /* under lock */
	struct metrics_bufs bufs; /* the thread's: kept from page to page */
};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void job_free(struct scrape_job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j->head);
	agent_scrape_src_free(j->src);
}

static void serve(struct agent_scrape *s, struct scrape_job *j)
{
	uint64_t t0 = thread_cpu_ns();

	metrics_http_serve(j->fd, j->head, agent_scrape_page, j->src, &s->bufs);
	job_free(j);
	pthread_mutex_lock(&s->lock);
	s->last_cpu_ns = thread_cpu_ns() - t0;
	pthread_mutex_unlock(&s->lock);
}

static void *scrape_main(void *arg)
{
	struct agent_scrape *s = arg;
	struct scrape_job j;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->n && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->stop)
			break;
		j = s->q[s->head];
		s->head = (s->head + 1) % SCRAPE_QUEUE;
		s->n--;
		pthread_mutex_unlock(&s->lock);
		serve(s, &j);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int agent_scrape_start(struct agent *a)
{
	struct agent_scrape *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	s->a = a;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (pthread_create(&s->thread, NULL, scrape_main, s)) {
		agent_log("warn", "no scrape thread: /metrics pages render on the agent loop");
		free(s);
		return -1;
	}
	a->scrape = s;
	return 0;
}

void agent_scrape_stop(struct agent *a)
{
	struct agent_scrape *s = a->scrape;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	for (; s->n; s->n--, s->head = (s->head + 1) % SCRAPE_QUEUE)
		job_free(&s->q[s->head]);
	metrics_bufs_free(&s->bufs);
	scrape_cache_free();
	a->scrape = NULL;
	free(s);
}

/* The pages this thread renders; anything else (404, 405) is answered on the loop. */
static bool is_page(const char *head)
{
	return !strncmp(head, "GET /metrics", 12) || !strncmp(head, "GET /stats/prometheus", 21);
}

bool agent_scrape_offload(void *ctx, int fd, const char *head)
{
	struct agent *a = ctx;
	struct agent_scrape *s = a->scrape;
	enum metrics_fmt f = metrics_http_format(head);
	struct scrape_job j = {.fd = fd};
	bool full;

	if (!s || !is_page(head))
		return false;
	pthread_mutex_lock(&s->lock);
	full = s->n == SCRAPE_QUEUE;
	pthread_mutex_unlock(&s->lock);
	if (full) {
		close(fd); /* shed: a scraper retries at its next interval */
		return true;
	}
	a->metrics.scrapes[f]++; /* before the source: the page counts itself */
	j.head = strdup(head);
	j.src = agent_scrape_src_new(a, f);
	if (!j.head || !j.src) {
		job_free(&j);
		return true;
	}
	pthread_mutex_lock(&s->lock);
	s->q[(s->head + s->n++) % SCRAPE_QUEUE] = j;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return true;
}

uint64_t agent_scrape_last_cpu_ns(const struct agent *a)
{
	struct agent_scrape *s = a->scrape;
	uint64_t v;

	if (!s)
		return 0;
	pthread_mutex_lock(&s->lock);
	v = s->last_cpu_ns;
	pthread_mutex_unlock(&s->lock);
	return v;
}
