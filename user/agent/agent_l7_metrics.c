// SPDX-License-Identifier: Apache-2.0
/*
 * Request metrics of the L7 relays (istio_requests_total, istio_request_duration_milliseconds,
 * istio_request_bytes, istio_response_bytes): the relay's filter says when a request joins its
 * queue, which status answers it and, when the exchange ends, its sizes (HTTP/2: when the stream
 * ends, status and sizes at once); this file times the
 * pair and adds it, on the proxy thread, to the agent's request table, which a scrape
 * merges into its page. The relay runs where the destination pod is, so skiffd reports as
 * Istio's reporter="destination". Series per (source, destination, code) only: the path or any
 * other request field never becomes a label.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent_l7_metrics.h"
#include "common/addr.h"

const struct m_pod *agent_pod_by_ip(const struct model *m, const char *ip)
{
	for (size_t i = 0; i < m->npods; i++)
		for (size_t k = 0; k < m->pods[i].nips; k++)
			if (m->pods[i].ips[k] && !strcmp(m->pods[i].ips[k], ip))
				return &m->pods[i];
	return NULL;
}

struct l7_timing *l7_timing_new(struct agent *a, const struct model *m, const struct m_pod *dst,
				const char *principal, bool from_cert, const char *src_ip)
{
	struct l7_timing *t = calloc(1, sizeof(*t));
	const char *td = a->o->trust_domain;

	if (!t)
		return NULL;
	t->a = a;
	metrics_peer_from_pod(&t->key.src, src_ip && *src_ip ? agent_pod_by_ip(m, src_ip) : NULL,
			      td);
	if (principal && *principal)
		snprintf(t->key.src.principal, sizeof(t->key.src.principal), "%s", principal);
	metrics_peer_from_pod(&t->key.dst, dst, td);
	metrics_key_service(&t->key, metrics_pod_service(m, dst));
	t->key.reporter = "destination";
	t->key.protocol = "http";
	t->key.response_flags = "-";
	/* a certificate-authenticated peer came over HBONE; a local pod's hop is plaintext */
	t->key.security = from_cert && principal && *principal ? "mutual_tls" : "none";
	return t;
}

void l7_timing_free(struct l7_timing *t)
{
	if (!t)
		return;
	free(t->start);
	free(t->streams);
	free(t);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void l7_timing_request(void *ctx)
{
	struct l7_timing *t = ctx;

	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 8;
		double *s = malloc(cap * sizeof(*s));

		if (!s)
			return; /* its response then counts with duration 0 */
		for (size_t i = 0; i < t->n; i++)
			s[i] = t->start[(t->head + i) % t->cap];
		free(t->start);
		t->start = s;
		t->cap = cap;
		t->head = 0;
	}
	t->start[(t->head + t->n++) % t->cap] = now_ms();
}

void l7_timing_response(void *ctx, int status, const char *flags)
{
	struct l7_timing *t = ctx;
	struct metrics_http h = {.requests = 1};
	double ms = 0;

	if (t->n) {
		ms = now_ms() - t->start[t->head];
		t->head = (t->head + 1) % t->cap;
		t->n--;
	}
	metrics_hist_observe(&h.duration_ms, ms);
	t->key.response_code = status;
	t->key.response_flags = flags ? flags : "-"; /* a string literal of the filter's */
	agent_l7_metrics_add(t->a, &t->key, &h);
}

void l7_timing_sizes(void *ctx, uint64_t request, uint64_t response)
{
	struct l7_timing *t = ctx;
	struct metrics_http h = {.requests = 0};

	/* same key as the response just counted: the code and flags are still the ones it set */
	metrics_hist_observe(&h.request_bytes, (double)request);
	metrics_hist_observe(&h.response_bytes, (double)response);
	agent_l7_metrics_add(t->a, &t->key, &h);
}

#define L7_TIMING_STREAMS 1024 /* HTTP/2 streams timed at once (as many as the filter lets in) */

void l7_timing_stream_begin(struct l7_timing *t, uint32_t sid, bool grpc)
{
	if (!t)
		return;
	if (t->nstreams == t->scap) {
		size_t cap = t->scap ? 2 * t->scap : 8;
		struct l7_stream_timing *s;

		if (cap > L7_TIMING_STREAMS)
			return;
		s = realloc(t->streams, cap * sizeof(*s));
		if (!s)
			return;
		t->streams = s;
		t->scap = cap;
	}
	t->streams[t->nstreams++] = (struct l7_stream_timing){sid, grpc, now_ms()};
}

/* A stream's sizes count whatever its end, as the router counts its own streams. */
static void stream_count(struct l7_timing *t, const struct l7_stream_timing *st, int status,
			 const char *flags, uint64_t request, uint64_t response)
{
	struct metrics_http h = {.requests = 1};

	metrics_hist_observe(&h.duration_ms, now_ms() - st->start);
	metrics_hist_observe(&h.request_bytes, (double)request);
	metrics_hist_observe(&h.response_bytes, (double)response);
	t->key.response_code = status;
	t->key.response_flags = flags ? flags : "-";
	t->key.protocol = st->grpc ? "grpc" : "http";
	agent_l7_metrics_add(t->a, &t->key, &h);
	t->key.protocol = "http";
}

void l7_timing_stream_end(struct l7_timing *t, uint32_t sid, int status, const char *flags,
			  uint64_t request, uint64_t response)
{
	if (!t)
		return;
	for (size_t i = t->nstreams; i-- > 0;) {
		if (sid && t->streams[i].sid != sid)
			continue;
		stream_count(t, &t->streams[i], status, flags, request, response);
		t->streams[i] = t->streams[--t->nstreams];
		if (sid)
			return;
	}
}
