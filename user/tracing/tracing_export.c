// SPDX-License-Identifier: Apache-2.0
/*
 * The span queue and its exporter thread. Request threads only copy a span into the queue under
 * a mutex held for a memcpy; the exporter takes up to TRACE_BATCH_MAX at a time (after at most a
 * second of waiting for more), encodes them for the configured collector and POSTs them with
 * libcurl, bounded by a 5 s timeout, so a slow or absent collector costs dropped spans, never a
 * slower request.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tracing/tracing.h"

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct trace_span **q; /* ring of TRACE_QUEUE_MAX */
	size_t head, len;
	bool running, stopping;
	pthread_t thread;
	struct tracing_config cfg;
	struct tracing_stats st;
} X = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .cond = PTHREAD_COND_INITIALIZER,
       .cfg = {.sampling = TRACE_DEFAULT_SAMPLING}};

void tracing_configure(const struct tracing_config *c)
{
	pthread_mutex_lock(&X.lock);
	X.cfg = *c;
	pthread_mutex_unlock(&X.lock);
}

static struct tracing_config config_now(void)
{
	struct tracing_config c;

	pthread_mutex_lock(&X.lock);
	c = X.cfg;
	pthread_mutex_unlock(&X.lock);
	return c;
}

double tracing_sampling_for(const struct m_pod *p, enum trace_kind k)
{
	double pct;

	if (tracing_workload_sampling(p, k, &pct))
		return pct;
	return config_now().sampling;
}

bool tracing_sample(const struct m_pod *p, enum trace_kind k)
{
	double pct = tracing_sampling_for(p, k);
	uint32_t r;

	if (pct <= 0)
		return false;
	if (pct >= 100)
		return true;
	trace_random((uint8_t *)&r, sizeof(r));
	return (double)r / 4294967296.0 * 100.0 < pct;
}

void trace_node_tag(struct trace_span *s)
{
	struct tracing_config c = config_now();

	trace_tag(s, "node_id", "%s", c.node[0] ? c.node : "skiffd");
}

bool tracing_enabled(void)
{
	return config_now().proto != TRACE_PROTO_NONE;
}

void tracing_stats(struct tracing_stats *out)
{
	pthread_mutex_lock(&X.lock);
	*out = X.st;
	pthread_mutex_unlock(&X.lock);
}

void tracing_submit(const struct trace_span *s)
{
	struct trace_span *copy = NULL;

	pthread_mutex_lock(&X.lock);
	if (X.cfg.proto == TRACE_PROTO_NONE) { /* nowhere to send it: not a loss */
		pthread_mutex_unlock(&X.lock);
		return;
	}
	X.st.spans++;
	if (X.running && !X.stopping && X.len < TRACE_QUEUE_MAX)
		copy = malloc(sizeof(*copy));
	if (copy) {
		*copy = *s;
		X.q[(X.head + X.len++) % TRACE_QUEUE_MAX] = copy;
		/* the exporter waits for a full batch or its second: waking it for each span cost
		 * a futex wake and two context switches per span, for nothing */
		if (X.len == TRACE_BATCH_MAX)
			pthread_cond_signal(&X.cond);
	} else {
		X.st.dropped++;
	}
	pthread_mutex_unlock(&X.lock);
}

static size_t discard(void *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

/* POST one batch; true when the collector took it (2xx). */
static bool post(const struct tracing_config *c, const struct trace_span *const *s, size_t n)
{
	char *body = c->proto == TRACE_PROTO_OTLP ? trace_otlp_json(s, n) : trace_zipkin_json(s, n);
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *cu = curl_easy_init();
	long code = 0;

	if (body && cu && h) {
		curl_easy_setopt(cu, CURLOPT_URL, c->url);
		curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, 5000L);
		curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, discard);
		if (curl_easy_perform(cu) == CURLE_OK)
			curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
	}
	curl_easy_cleanup(cu);
	curl_slist_free_all(h);
	free(body);
	return code >= 200 && code < 300;
}

/* Up to TRACE_BATCH_MAX spans, waiting up to a second for the batch to fill. */
static size_t take_batch(struct trace_span **b)
{
	struct timespec until;
	size_t n = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&X.lock);
	while (!X.stopping && X.len < TRACE_BATCH_MAX &&
	       pthread_cond_timedwait(&X.cond, &X.lock, &until) != ETIMEDOUT)
		;
	while (X.len && n < TRACE_BATCH_MAX) {
		b[n++] = X.q[X.head];
		X.head = (X.head + 1) % TRACE_QUEUE_MAX;
		X.len--;
	}
	pthread_mutex_unlock(&X.lock);
	return n;
}

static void *exporter(void *arg)
{
	struct trace_span *b[TRACE_BATCH_MAX];

	(void)arg;
	for (;;) {
		size_t n = take_batch(b);
		struct tracing_config c = config_now();
		bool ok = false, stop;

		if (n && c.proto != TRACE_PROTO_NONE && c.url[0])
			ok = post(&c, (const struct trace_span *const *)b, n);
		pthread_mutex_lock(&X.lock);
		if (ok)
			X.st.exported += n;
		else
			X.st.failed += n;
		stop = X.stopping && !X.len;
		pthread_mutex_unlock(&X.lock);
		for (size_t i = 0; i < n; i++)
			free(b[i]);
		if (stop)
			return NULL;
	}
}

int tracing_start(void)
{
	int err;

	pthread_mutex_lock(&X.lock);
	if (X.running) {
		pthread_mutex_unlock(&X.lock);
		return 0;
	}
	X.q = calloc(TRACE_QUEUE_MAX, sizeof(*X.q));
	err = X.q ? pthread_create(&X.thread, NULL, exporter, NULL) : ENOMEM;
	X.running = !err;
	X.stopping = false;
	pthread_mutex_unlock(&X.lock);
	return -err;
}

/* The queue is flushed (one last POST each batch) before the thread ends. */
void tracing_stop(void)
{
	pthread_mutex_lock(&X.lock);
	if (!X.running) {
		pthread_mutex_unlock(&X.lock);
		return;
	}
	X.stopping = true;
	pthread_cond_signal(&X.cond);
	pthread_mutex_unlock(&X.lock);
	pthread_join(X.thread, NULL);
	pthread_mutex_lock(&X.lock);
	X.running = false;
	free(X.q);
	X.q = NULL;
	pthread_mutex_unlock(&X.lock);
}
