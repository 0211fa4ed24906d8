// SPDX-License-Identifier: Apache-2.0
/*
 * The access log's way out: lines go into a bounded in-memory queue, and one thread of its own
 * writes the queue to standard output. A relay or the flow reader only ever copies a line into
 * the queue under a short lock; when whatever reads skiffd's stdout (a container runtime, a
 * pipe) falls behind and the queue is full, the line is dropped and counted
 * (skiff_access_log_dropped_total) rather than making the data path wait. Lines are written
 * whole: the queue holds complete lines only, and write(2) of one chunk never splits one.
 *
 * The writer is woken by the first line into an empty queue, then lets lines gather for
 * AL_FLUSH_MS (or until the queue is a quarter full) before it writes: a wakeup and a write per
 * line cost a futex wake, two context switches and a write(2) each, more than making the line
 * (Envoy flushes its access log files on a timer too).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accesslog/accesslog.h"

#define AL_QUEUE_BYTES (1u << 20)
#define AL_CHUNK       (64u * 1024)
#define AL_LINE_MAX    (AL_CHUNK - 1)
#define AL_FLUSH_MS    50
#define AL_WAKE_BYTES  (AL_QUEUE_BYTES / 4)

static struct {
	pthread_mutex_t lock;
	pthread_cond_t more;
	pthread_cond_t drained; /* the queue went empty (al_flush) */
	char *buf;		/* ring of AL_QUEUE_BYTES */
	size_t head, len;
	bool started;
	bool writing;		  /* a chunk taken from the queue is being written */
	bool writing_batch;	  /* the gathered lines span several chunks */
	bool flushing;		  /* al_flush waits: write without gathering */
	struct al_policy *policy; /* in force; under lock */
	atomic_uint_least64_t written, dropped;
} al = {.lock = PTHREAD_MUTEX_INITIALIZER,
	.more = PTHREAD_COND_INITIALIZER,
	.drained = PTHREAD_COND_INITIALIZER};

/* Up to `max` queued bytes, ending at a line end, copied out under the lock. */
static size_t take(char *out, size_t max, uint64_t *lines)
{
	size_t n = al.len < max ? al.len : max, first, cut = 0;

	first = AL_QUEUE_BYTES - al.head < n ? AL_QUEUE_BYTES - al.head : n;
	memcpy(out, al.buf + al.head, first);
	memcpy(out + first, al.buf, n - first);
	*lines = 0;
	for (size_t i = 0; i < n; i++)
		if (out[i] == '\n') {
			cut = i + 1;
			(*lines)++;
		}
	al.head = (al.head + cut) % AL_QUEUE_BYTES;
	al.len -= cut;
	return cut;
}

static void write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(STDOUT_FILENO, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* stdout closed or broken: nothing better to do with the lines */
		p += w;
		n -= (size_t)w;
	}
}

/* Under the lock: until AL_FLUSH_MS from now, or the queue reaches AL_WAKE_BYTES. */
static void gather(void)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += AL_FLUSH_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (al.len < AL_WAKE_BYTES && !al.flushing)
		if (pthread_cond_timedwait(&al.more, &al.lock, &until))
			break;
}

static void *writer(void *arg)
{
	char *chunk = malloc(AL_CHUNK);
	uint64_t lines;
	size_t n;

	(void)arg;
	if (!chunk)
		abort();
	for (;;) {
		pthread_mutex_lock(&al.lock);
		while (!al.len)
			pthread_cond_wait(&al.more, &al.lock);
		if (!al.writing_batch)
			gather();
		n = take(chunk, AL_CHUNK, &lines);
		/* more than a chunk gathered: the rest goes out at once, without a new wait */
		al.writing_batch = al.len > 0;
		al.writing = true;
		pthread_mutex_unlock(&al.lock);
		write_all(chunk, n);
		atomic_fetch_add(&al.written, lines);
		pthread_mutex_lock(&al.lock);
		al.writing = false;
		if (!al.len)
			pthread_cond_broadcast(&al.drained);
		pthread_mutex_unlock(&al.lock);
	}
	return NULL;
}

int al_start(void)
{
	pthread_t t;
	int err;

	if (al.started)
		return 0;
	al.buf = malloc(AL_QUEUE_BYTES);
	if (!al.buf)
		return -ENOMEM;
	err = pthread_create(&t, NULL, writer, NULL);
	if (err)
		return -err;
	pthread_detach(t);
	al.started = true;
	return 0;
}

void al_set(struct al_policy *p)
{
	struct al_policy *old;

	pthread_mutex_lock(&al.lock);
	old = al.policy;
	al.policy = p;
	pthread_mutex_unlock(&al.lock);
	al_policy_unref(old);
}

struct al_policy *al_get(void)
{
	struct al_policy *p;

	pthread_mutex_lock(&al.lock);
	p = al.policy;
	if (p)
		al_policy_ref(p);
	pthread_mutex_unlock(&al.lock);
	return p;
}

static void enqueue(const char *s, size_t n)
{
	size_t tail, first;

	pthread_mutex_lock(&al.lock);
	if (!al.started || n > AL_QUEUE_BYTES - al.len) {
		pthread_mutex_unlock(&al.lock);
		atomic_fetch_add(&al.dropped, 1);
		return;
	}
	tail = (al.head + al.len) % AL_QUEUE_BYTES;
	first = AL_QUEUE_BYTES - tail < n ? AL_QUEUE_BYTES - tail : n;
	memcpy(al.buf + tail, s, first);
	memcpy(al.buf, s + first, n - first);
	/* the writer sleeps on an empty queue, or gathers until the queue reaches AL_WAKE_BYTES */
	if (!al.len || (al.len < AL_WAKE_BYTES && al.len + n >= AL_WAKE_BYTES))
		pthread_cond_signal(&al.more);
	al.len += n;
	pthread_mutex_unlock(&al.lock);
}

void al_emit(const struct al_policy *p, const struct al_entry *e)
{
	struct strbuf b = {0};

	sb_grow(&b, 1024);
	if (al_policy_text(p))
		al_line_text(&b, e);
	else
		al_line_json(&b, e);
	/* the writer hands out whole lines of at most a chunk: a longer one (a path or header of
	 * tens of KiB) is dropped and counted */
	if (b.len <= AL_LINE_MAX)
		enqueue(b.s, b.len);
	else
		atomic_fetch_add(&al.dropped, 1);
	sb_free(&b);
}

void al_counts(uint64_t *written, uint64_t *dropped)
{
	*written = atomic_load(&al.written);
	*dropped = atomic_load(&al.dropped);
}

void al_flush(int timeout_ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&al.lock);
	al.flushing = true;
	pthread_cond_signal(&al.more);
	while (al.started && (al.len || al.writing))
		if (pthread_cond_timedwait(&al.drained, &al.lock, &until))
			break;
	al.flushing = false;
	pthread_mutex_unlock(&al.lock);
}
