// SPDX-License-Identifier: Apache-2.0
/*
 * The series of a scrape: each Istio label set once, its label text rendered when the series is
 * created, so rendering the page is copying. An open-addressing index over an array that keeps
 * insertion order; at most `cap` series, the rest counted as dropped.
 *
 * A table may be kept from scrape to scrape (metrics_table_begin): its series, their label text
 * and the caller's handles to them stay; each scrape counts from zero, and a page shows the
 * series the scrape added to. A page of 10,000 series then renders no label and allocates
 * nothing.
 *
 * A series is found by its key text, the label values copied end to end, not by its rendered
 * labels: rendering (25 names and escaped values) cost more than everything else an L7 request
 * does for its metrics, and it is needed once per series, not once per request.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"

struct series {
	char *labels; /* rendered, without braces */
	size_t llen;
	char *key; /* key text (below), what tells this series from the others */
	size_t klen;
	uint32_t epoch; /* the scrape that last added to it */
	bool http;
	struct metrics_tcp tcp;
	struct metrics_http req;
};

struct metrics_table {
	struct series *s;
	size_t n, cap;
	size_t *idx; /* slot -> series index + 1; 0 = empty */
	size_t nslots;
	uint64_t dropped;
	uint32_t epoch;	 /* this scrape's */
	size_t touched;	 /* series this scrape added to */
	size_t *mmap;	 /* metrics_table_merge: the series of mfrom's i, + 1; 0: not resolved */
	size_t mmap_cap; /* entries of mmap */
	const struct metrics_table *mfrom;
};

struct metrics_table *metrics_table_new(size_t cap)
{
	struct metrics_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cap = cap ? cap : METRICS_DEFAULT_CAP;
	t->epoch = 1;
	for (t->nslots = 64; t->nslots < 2 * t->cap; t->nslots *= 2)
		;
	t->s = calloc(t->cap, sizeof(*t->s));
	t->idx = calloc(t->nslots, sizeof(*t->idx));
	if (!t->s || !t->idx) {
		metrics_table_free(t);
		return NULL;
	}
	return t;
}

void metrics_table_free(struct metrics_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		free(t->s[i].labels);
		free(t->s[i].key);
	}
	free(t->s);
	free(t->idx);
	free(t->mmap);
	free(t);
}

void metrics_table_begin(struct metrics_table *t)
{
	t->epoch++;
	t->touched = 0;
	t->dropped = 0;
}

/* First add of this scrape: the counts start from zero. */
static void touch(struct metrics_table *t, struct series *s)
{
	if (s->epoch == t->epoch)
		return;
	s->epoch = t->epoch;
	t->touched++;
	memset(&s->tcp, 0, sizeof(s->tcp));
	memset(&s->req, 0, sizeof(s->req));
}

#define PEER_VALUES 8

/* A peer's label values into v[PEER_VALUES], in the order of its label names below */
static void peer_values(const struct metrics_peer *e, const char **v)
{
	v[0] = e->workload;
	v[1] = e->ns;
	v[2] = e->principal;
	v[3] = e->app;
	v[4] = e->version;
	v[5] = e->canonical_service;
	v[6] = e->canonical_revision;
	v[7] = e->cluster;
}

static void peer_labels(struct strbuf *b, const char *side, const struct metrics_peer *e)
{
	static const char *const names[PEER_VALUES] = {
	    "workload", "workload_namespace", "principal",	    "app",
	    "version",	"canonical_service",  "canonical_revision", "cluster"};
	const char *vals[PEER_VALUES];
	char name[64];

	peer_values(e, vals);
	for (size_t i = 0; i < PEER_VALUES; i++) {
		snprintf(name, sizeof(name), "%s_%s", side, names[i]);
		metrics_label(b, name, vals[i]);
	}
}

/* Istio's label set; TCP series have no response_code. */
static char *render_labels(const struct metrics_key *k, bool http)
{
	struct strbuf b = {0};
	char code[16];

	metrics_label(&b, "reporter", k->reporter);
	peer_labels(&b, "source", &k->src);
	peer_labels(&b, "destination", &k->dst);
	metrics_label(&b, "destination_service", k->dst_service);
	metrics_label(&b, "destination_service_name", k->dst_service_name);
	metrics_label(&b, "destination_service_namespace", k->dst_service_ns);
	metrics_label(&b, "request_protocol", k->protocol);
	if (http) {
		snprintf(code, sizeof(code), "%d", k->response_code);
		metrics_label(&b, "response_code", code);
	}
	metrics_label(&b, "response_flags", k->response_flags ? k->response_flags : "-");
	metrics_label(&b, "connection_security_policy", k->security);
	return sb_take(&b);
}

/*
 * Key text: every value render_labels writes, in its order, each ended by a NUL (values hold
 * none), and an HTTP series' status as the int's bytes last. Decoded left to right it gives back
 * each value, so two keys are the same text only when every label is the same.
 */
struct key_text {
	char stack[2048];
	char *p; /* stack, or malloc'd for a key that does not fit */
	size_t len;
};

#define KEY_VALUES (1 + 2 * PEER_VALUES + 6)

static void key_values(const struct metrics_key *k, const char **v)
{
	size_t n = 0;

	v[n++] = k->reporter;
	peer_values(&k->src, v + n);
	n += PEER_VALUES;
	peer_values(&k->dst, v + n);
	n += PEER_VALUES;
	v[n++] = k->dst_service;
	v[n++] = k->dst_service_name;
	v[n++] = k->dst_service_ns;
	v[n++] = k->protocol;
	v[n++] = k->response_flags ? k->response_flags : "-";
	v[n++] = k->security;
}

/* 0, or -ENOMEM (a key too long for the stack and no memory for it) */
static int key_text_make(struct key_text *kt, const struct metrics_key *k, bool http)
{
	const char *v[KEY_VALUES];
	size_t len[KEY_VALUES], total = http ? sizeof(k->response_code) : 0;
	char *p;

	key_values(k, v);
	for (size_t i = 0; i < KEY_VALUES; i++) {
		v[i] = v[i] ? v[i] : ""; /* as metrics_label renders NULL */
		total += (len[i] = strlen(v[i])) + 1;
	}
	kt->p = total <= sizeof(kt->stack) ? kt->stack : malloc(total);
	if (!kt->p)
		return -ENOMEM;
	p = kt->p;
	for (size_t i = 0; i < KEY_VALUES; i++) {
		memcpy(p, v[i], len[i] + 1);
		p += len[i] + 1;
	}
	if (http)
		memcpy(p, &k->response_code, sizeof(k->response_code));
	kt->len = total;
	return 0;
}

static void key_text_done(struct key_text *kt)
{
	if (kt->p != kt->stack)
		free(kt->p);
}

/* Eight bytes a step (a key is a few hundred): multiply, then fold the high bits into the low
 * ones that pick the slot. */
static uint64_t hash(const char *s, size_t n, bool http)
{
	const uint64_t m = 0x9fb21c651e98df25ull;
	uint64_t h = (http ? 0x9e3779b97f4a7c15ull : 1469598103934665603ull) ^ n, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * m;
		h ^= h >> 29;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * m;
	return h ^ (h >> 32);
}

/* The series of this key, touched; NULL when there is none yet, with its free slot in *slot. */
static struct series *lookup(struct metrics_table *t, const char *key, size_t klen, bool http,
			     size_t *slot)
{
	size_t i = hash(key, klen, http) & (t->nslots - 1);

	for (; t->idx[i]; i = (i + 1) & (t->nslots - 1)) {
		struct series *s = &t->s[t->idx[i] - 1];

		if (s->http == http && s->klen == klen && !memcmp(s->key, key, klen)) {
			touch(t, s);
			return s;
		}
	}
	*slot = i;
	return NULL;
}

/* A new series in `slot` with copies of key and labels; NULL when the table is full or memory
 * is short (counted as dropped either way: its counts are lost, nothing else). */
static struct series *insert(struct metrics_table *t, size_t slot, const char *key, size_t klen,
			     char *labels, bool http)
{
	char *kcopy = NULL;

	if (t->n < t->cap && labels && (kcopy = malloc(klen)))
		memcpy(kcopy, key, klen);
	if (!kcopy) {
		free(labels);
		t->dropped++;
		return NULL;
	}
	t->s[t->n] = (struct series){.labels = labels,
				     .llen = strlen(labels),
				     .key = kcopy,
				     .klen = klen,
				     .epoch = t->epoch,
				     .http = http};
	t->touched++;
	t->idx[slot] = ++t->n;
	return &t->s[t->n - 1];
}

static struct series *find_or_add(struct metrics_table *t, const struct metrics_key *k, bool http)
{
	struct key_text kt;
	struct series *s;
	size_t slot;

	if (key_text_make(&kt, k, http)) {
		t->dropped++;
		return NULL;
	}
	s = lookup(t, kt.p, kt.len, http, &slot);
	if (!s)
		s = insert(t, slot, kt.p, kt.len, render_labels(k, http), http);
	key_text_done(&kt);
	return s;
}

static void hist_add(struct metrics_hist *a, const struct metrics_hist *b)
{
	for (int i = 0; i < METRICS_NBUCKETS; i++)
		a->b[i] += b->b[i];
	a->count += b->count;
	a->sum += b->sum;
}

long metrics_table_series(struct metrics_table *t, const struct metrics_key *k, bool http)
{
	struct series *s = find_or_add(t, k, http);

	return s ? s - t->s : -ENOSPC;
}

void metrics_table_add_tcp_at(struct metrics_table *t, size_t i, const struct metrics_tcp *v)
{
	struct series *s = &t->s[i];

	touch(t, s);
	s->tcp.opened += v->opened;
	s->tcp.closed += v->closed;
	s->tcp.sent += v->sent;
	s->tcp.received += v->received;
}

int metrics_table_add_tcp(struct metrics_table *t, const struct metrics_key *k,
			  const struct metrics_tcp *v)
{
	struct series *s = find_or_add(t, k, false);

	if (!s)
		return -ENOSPC;
	s->tcp.opened += v->opened;
	s->tcp.closed += v->closed;
	s->tcp.sent += v->sent;
	s->tcp.received += v->received;
	return 0;
}

int metrics_table_add_http(struct metrics_table *t, const struct metrics_key *k,
			   const struct metrics_http *v)
{
	struct series *s = find_or_add(t, k, true);

	if (!s)
		return -ENOSPC;
	s->req.requests += v->requests;
	hist_add(&s->req.duration_ms, &v->duration_ms);
	hist_add(&s->req.request_bytes, &v->request_bytes);
	hist_add(&s->req.response_bytes, &v->response_bytes);
	return 0;
}

/* The series of from's i in t, resolved once per (t, from) pair: `from` only ever appends. */
static struct series *merge_target(struct metrics_table *t, const struct metrics_table *from,
				   size_t i)
{
	const struct series *f = &from->s[i];
	struct series *s;
	size_t slot;

	if (t->mfrom != from) {
		if (t->mmap_cap) /* memset's pointer must not be NULL, even for 0 bytes */
			memset(t->mmap, 0, t->mmap_cap * sizeof(*t->mmap));
		t->mfrom = from;
	}
	if (i >= t->mmap_cap) {
		size_t cap = from->cap, *m = realloc(t->mmap, cap * sizeof(*m));

		if (m) {
			memset(m + t->mmap_cap, 0, (cap - t->mmap_cap) * sizeof(*m));
			t->mmap = m;
			t->mmap_cap = cap;
		}
	}
	if (i < t->mmap_cap && t->mmap[i]) {
		s = &t->s[t->mmap[i] - 1];
		touch(t, s);
		return s;
	}
	s = lookup(t, f->key, f->klen, f->http, &slot);
	if (!s)
		s = insert(t, slot, f->key, f->klen, strdup(f->labels), f->http);
	if (s && i < t->mmap_cap)
		t->mmap[i] = (size_t)(s - t->s) + 1;
	return s;
}

void metrics_table_merge(struct metrics_table *t, const struct metrics_table *from)
{
	for (size_t i = 0; i < from->n; i++) {
		const struct series *f = &from->s[i];
		struct series *s = merge_target(t, from, i);

		if (!s)
			continue;
		if (f->http) {
			s->req.requests += f->req.requests;
			hist_add(&s->req.duration_ms, &f->req.duration_ms);
			hist_add(&s->req.request_bytes, &f->req.request_bytes);
			hist_add(&s->req.response_bytes, &f->req.response_bytes);
		} else {
			s->tcp.opened += f->tcp.opened;
			s->tcp.closed += f->tcp.closed;
			s->tcp.sent += f->tcp.sent;
			s->tcp.received += f->tcp.received;
		}
	}
}

size_t metrics_table_len(const struct metrics_table *t)
{
	return t->touched;
}

size_t metrics_table_held(const struct metrics_table *t)
{
	return t->n;
}

uint64_t metrics_table_dropped(const struct metrics_table *t)
{
	return t->dropped;
}

enum tcp_field { TCP_SENT, TCP_RECEIVED, TCP_OPENED, TCP_CLOSED };

static uint64_t tcp_value(const struct metrics_tcp *v, enum tcp_field f)
{
	switch (f) {
	case TCP_SENT:
		return v->sent;
	case TCP_RECEIVED:
		return v->received;
	case TCP_OPENED:
		return v->opened;
	default:
		return v->closed;
	}
}

static const struct {
	const char *name, *help;
} tcp_families[] = {
    [TCP_SENT] = {"istio_tcp_sent_bytes_total",
		  "Bytes sent by the destination during TCP connections (the response)."},
    [TCP_RECEIVED] = {"istio_tcp_received_bytes_total",
		      "Bytes received by the destination during TCP connections (the "
		      "request)."},
    [TCP_OPENED] = {"istio_tcp_connections_opened_total", "TCP connections opened."},
    [TCP_CLOSED] = {"istio_tcp_connections_closed_total", "TCP connections closed."},
};

/* One sample, the lengths known: a page is 40,000 of them. */
static void sample(struct strbuf *b, const char *name, const struct series *s, uint64_t v)
{
	size_t n = strlen(name);
	char d[24], *p;
	int i = sizeof(d);

	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sb_grow(b, n + s->llen + 4 + sizeof(d)); /* then written in place */
	p = b->s + b->len;
	memcpy(p, name, n);
	p += n;
	*p++ = '{';
	memcpy(p, s->labels, s->llen);
	p += s->llen;
	*p++ = '}';
	*p++ = ' ';
	memcpy(p, d + i, sizeof(d) - (size_t)i);
	p += sizeof(d) - (size_t)i;
	*p++ = '\n';
	*p = '\0';
	b->len = (size_t)(p - b->s);
}

static void render_http(const struct metrics_table *t, enum metrics_fmt f, struct strbuf *b)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} hists[] = {
	    {"istio_request_duration_milliseconds", "Request duration in milliseconds.",
	     offsetof(struct metrics_http, duration_ms)},
	    {"istio_request_bytes", "HTTP request body sizes in bytes.",
	     offsetof(struct metrics_http, request_bytes)},
	    {"istio_response_bytes", "HTTP response body sizes in bytes.",
	     offsetof(struct metrics_http, response_bytes)},
	};

	metrics_family(b, f, "istio_requests_total", "counter", "HTTP requests.");
	for (size_t i = 0; i < t->n; i++)
		if (t->s[i].http && t->s[i].epoch == t->epoch)
			sample(b, "istio_requests_total", &t->s[i], t->s[i].req.requests);
	for (size_t h = 0; h < sizeof(hists) / sizeof(hists[0]); h++) {
		metrics_family(b, f, hists[h].name, "histogram", hists[h].help);
		for (size_t i = 0; i < t->n; i++) {
			const struct metrics_hist *v =
			    (const void *)((const char *)&t->s[i].req + hists[h].off);

			/* sizes nobody measured are left out, not shown as zero requests */
			if (t->s[i].http && t->s[i].epoch == t->epoch && v->count)
				metrics_hist_render(b, hists[h].name, t->s[i].labels, v);
		}
	}
}

/* The page's size, near enough: each TCP series is 4 samples, each HTTP series 1 + 3 histograms
 * of 22 lines, each sample its name (< 48 bytes), labels and a number. */
static size_t page_estimate(const struct metrics_table *t)
{
	size_t n = 4096;

	for (size_t i = 0; i < t->n; i++)
		if (t->s[i].epoch == t->epoch)
			n += (t->s[i].http ? 67 : 4) * (t->s[i].llen + 80);
	return n;
}

void metrics_table_render(const struct metrics_table *t, enum metrics_fmt f, struct strbuf *b)
{
	sb_grow(b, page_estimate(t));
	render_http(t, f, b);
	for (size_t k = 0; k < sizeof(tcp_families) / sizeof(tcp_families[0]); k++) {
		metrics_family(b, f, tcp_families[k].name, "counter", tcp_families[k].help);
		for (size_t i = 0; i < t->n; i++)
			if (!t->s[i].http && t->s[i].epoch == t->epoch)
				sample(b, tcp_families[k].name, &t->s[i],
				       tcp_value(&t->s[i].tcp, (enum tcp_field)k));
	}
}
