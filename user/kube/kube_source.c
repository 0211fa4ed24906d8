// SPDX-License-Identifier: Apache-2.0
/*
 * The API source: one thread per kind running list, then watch, then resume or re-list, forever
 * (see kube_source.h); kube_snapshot.c is the agent's side, reading what they hold.
 *
 * Why json-c: it is in Debian (libjson-c-dev), small, and its tokener parses incrementally, so
 * a watch's endless chunked body is read event by event as the bytes come, never buffered whole.
 * Why libcurl: HTTPS with the cluster's CA, client certificates and chunked streaming, all kept
 * up to date by others; a hand-written HTTP client would be one more thing to get wrong.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "kube/kube_internal.h"

/* Lines shaped like the agent's own (agent_log), so one grep reads both. */
void kube_log(struct kube_source *ks, const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;

	if (ks->o.quiet)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld skiffd info: kube: ", when, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void ks_wake(struct kube_source *ks)
{
	uint64_t one = 1;

	ks->changed = true;
	(void)!write(ks->efd, &one, sizeof(one));
}

void kube_source_dirty_clear(struct kube_source *ks)
{
	for (size_t i = 0; i < ks->ndirty; i++)
		free(ks->dirty[i]);
	ks->ndirty = 0;
	ks->full = false;
}

void kube_source_notify(struct kube_source *ks)
{
	kube_source_dirty_clear(ks);
	ks->full = true;
	ks_wake(ks);
}

/* Past this many slice keys a whole snapshot is as cheap, and the list stops growing. */
#define KS_DIRTY_MAX 4096

void kube_source_notify_obj(struct kube_watcher *w, const char *key)
{
	struct kube_source *ks = w->ks;
	char *k;

	if (ks->full || strcmp(w->k->kind, "EndpointSlice") || ks->ndirty >= KS_DIRTY_MAX ||
	    !(k = strdup(key))) {
		kube_source_notify(ks);
		return;
	}
	if (ks->ndirty == ks->dirty_cap) {
		size_t ncap = ks->dirty_cap ? 2 * ks->dirty_cap : 64;
		char **nd = realloc(ks->dirty, ncap * sizeof(*nd));

		if (!nd) {
			free(k);
			kube_source_notify(ks);
			return;
		}
		ks->dirty = nd;
		ks->dirty_cap = ncap;
	}
	ks->dirty[ks->ndirty++] = k;
	ks_wake(ks);
}

/* Sleep `ms` unless the source stops first; false when it did. */
static bool ks_sleep(struct kube_source *ks, int ms)
{
	struct timespec until;
	bool stop;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&ks->lock);
	while (!ks->stopping && pthread_cond_timedwait(&ks->wake, &ks->lock, &until) != ETIMEDOUT)
		;
	stop = ks->stopping;
	pthread_mutex_unlock(&ks->lock);
	return !stop;
}

/* The next retry delay: at once after a success, then doubling from the minimum up to the
 * cap, each drawn from [d/2, d] so that every node's skiffd does not hit the API in step. */
static int ks_backoff(struct kube_watcher *w, unsigned int *seed)
{
	const struct kube_source_opts *o = &w->ks->o;
	int d = w->backoff_ms;

	w->backoff_ms = !d			    ? o->backoff_min_ms
			: d * 2 > o->backoff_max_ms ? o->backoff_max_ms
						    : d * 2;
	return d ? d / 2 + (int)(rand_r(seed) % (unsigned int)(d / 2 + 1)) : 0;
}

static void ks_count_failure(struct kube_source *ks)
{
	pthread_mutex_lock(&ks->lock);
	ks->st.failures++;
	pthread_mutex_unlock(&ks->lock);
}

/* Not served at any version: say so once, hold nothing, count as listed so the rest of the
 * cluster is applied without it. */
static void ks_mark_missing(struct kube_watcher *w)
{
	struct kube_source *ks = w->ks;

	pthread_mutex_lock(&ks->lock);
	if (!w->missing) {
		kube_log(ks,
			 "%s (%s) is not served (404: CRD not installed?); asking again every "
			 "%d s",
			 w->k->kind, w->k->group[0] ? w->k->group : "core",
			 ks->o.missing_retry_ms / 1000);
		ks->st.missing++;
	}
	w->missing = true;
	if (!w->listed || w->objs.n)
		kube_source_notify(ks);
	kube_store_clear(&w->objs);
	w->listed = true;
	pthread_mutex_unlock(&ks->lock);
}

/* List at the first version the server serves; 404 when it serves none. */
static int ks_list(struct kube_watcher *w)
{
	bool relist = w->gone;
	int rc = 404;

	for (w->version = 0; w->k->versions[w->version]; w->version++) {
		rc = kube_list(w);
		if (rc != 404)
			break;
	}
	if (rc == 404) {
		w->version = 0;
		return rc;
	}
	if (rc == 0) {
		w->gone = false;
		pthread_mutex_lock(&w->ks->lock);
		w->ks->st.relists += relist;
		pthread_mutex_unlock(&w->ks->lock);
	}
	return rc;
}

static long ks_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One step of a kind's life: list when there is no resourceVersion to resume from, else
 * watch. 0 when the next step may follow at once, > 0 (an HTTP status) or < 0 when it failed. */
static int ks_step(struct kube_watcher *w)
{
	long started;
	int rc;

	if (!w->rv[0] || w->gone) {
		rc = ks_list(w);
		if (rc == 0)
			w->backoff_ms = 0;
		return rc;
	}
	started = ks_now_ms();
	rc = kube_watch(w);
	if (rc == 410 || rc == 404)
		w->rv[0] = '\0'; /* compacted away, or the CRD went: list again */
	if (rc == 410)
		return 0;
	/* the server ended the watch (timeoutSeconds): resume at once, unless it keeps ending
	 * them as soon as they start */
	if (rc == 0 && ks_now_ms() - started >= 1000)
		w->backoff_ms = 0;
	return rc ? rc : w->backoff_ms ? -EAGAIN : 0;
}

static void *ks_watcher_main(void *arg)
{
	struct kube_watcher *w = arg;
	struct kube_source *ks = w->ks;
	unsigned int seed = (unsigned int)time(NULL) ^ (unsigned int)(uintptr_t)w;
	int rc;

	for (;;) {
		rc = ks_step(w);
		if (rc == -ECANCELED)
			break;
		if (rc == 404 && !w->rv[0]) {
			ks_mark_missing(w);
			if (!ks_sleep(ks, ks->o.missing_retry_ms))
				break;
			continue;
		}
		if (rc == 0)
			continue;
		if (rc != -EAGAIN)
			ks_count_failure(ks);
		if (!ks_sleep(ks, ks_backoff(w, &seed)))
			break;
	}
	kube_pack_thread_end();
	return NULL;
}

static int ks_conn(const struct kube_source_opts *o, struct kube_conn *c, struct diag *d)
{
	if (o->kubeconfig)
		return kube_config_load(o->kubeconfig, c, d);
	return kube_config_incluster(o->sa_dir ? o->sa_dir : KUBE_SA_DIR, c, d);
}

static void ks_defaults(struct kube_source_opts *o)
{
	if (o->backoff_min_ms <= 0)
		o->backoff_min_ms = 250;
	if (o->backoff_max_ms <= 0)
		o->backoff_max_ms = 30000;
	if (o->backoff_max_ms < o->backoff_min_ms)
		o->backoff_max_ms = o->backoff_min_ms;
	if (o->missing_retry_ms <= 0)
		o->missing_retry_ms = 60000;
}

static int ks_start(struct kube_source *ks)
{
	pthread_condattr_t ca;

	pthread_mutex_init(&ks->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ks->wake, &ca);
	pthread_condattr_destroy(&ca);
	ks->nw = kube_nkinds;
	ks->w = calloc(ks->nw, sizeof(*ks->w));
	if (!ks->w)
		return -ENOMEM;
	for (size_t i = 0; i < ks->nw; i++) {
		struct kube_watcher *w = &ks->w[i];

		w->k = &kube_kinds[i];
		w->ks = ks;
		if (pthread_create(&w->thread, NULL, ks_watcher_main, w))
			return -ENOMEM;
		w->started = true;
	}
	return 0;
}

int kube_source_open(const struct kube_source_opts *o, struct kube_source **out, struct diag *d)
{
	struct kube_source *ks = calloc(1, sizeof(*ks));
	int rc;

	*out = NULL;
	if (!ks)
		return -ENOMEM;
	ks->o = *o;
	ks->efd = -1;
	ks_defaults(&ks->o);
	rc = ks_conn(&ks->o, &ks->conn, d);
	if (rc < 0) {
		free(ks);
		return rc;
	}
	/* before any thread: curl's global init is not thread-safe */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	ks->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	rc = ks->efd < 0 ? -errno : ks_start(ks);
	if (rc < 0) {
		diag_add(d, DIAG_ERROR, NULL, 0, "kube: cannot start the API watchers: %s",
			 strerror(-rc));
		kube_source_close(ks);
		return rc;
	}
	kube_log(ks, "reading %zu kinds from %s", ks->nw, ks->conn.server);
	*out = ks;
	return 0;
}

void kube_source_close(struct kube_source *ks)
{
	if (!ks)
		return;
	if (ks->w) {
		pthread_mutex_lock(&ks->lock);
		ks->stopping = true;
		pthread_cond_broadcast(&ks->wake);
		pthread_mutex_unlock(&ks->lock);
		for (size_t i = 0; i < ks->nw; i++) {
			if (ks->w[i].started)
				pthread_join(ks->w[i].thread, NULL);
			kube_store_clear(&ks->w[i].objs);
		}
		free(ks->w);
		kube_source_dirty_clear(ks);
		free(ks->dirty);
		pthread_cond_destroy(&ks->wake);
		pthread_mutex_destroy(&ks->lock);
	}
	if (ks->efd >= 0)
		close(ks->efd);
	kube_conn_free(&ks->conn);
	free(ks);
}
