// SPDX-License-Identifier: Apache-2.0
/*
 * What :15020/metrics says: Istio's TCP metrics from the kernel's skiff_l4_stats, the L7 relays'
 * request counters (agent_l7_metrics.c), and skiffd's own skiff_* counters. Everything is read at
 * scrape time from what the kernel and the proxy thread already count: a scrape costs one map walk,
 * one merge and one render; TCP traffic costs nothing in userspace. The agent loop only takes a
 * scrape source (the snapshot in force, its workload index, skiffd's own few dozen counters);
 * the map walk and the Istio series, the bulk of a page, are rendered from that source on the
 * scrape thread (agent_scrape.c), so a reload never waits behind a scrape. The series table is
 * kept from page to page (agent_scrape_cache.c): a pair's labels are rendered once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accesslog/accesslog.h"
#include "agent/agent_scrape_cache.h"
#include "agent/agent_state.h"
#include "flows/flows.h"
#include "metrics/metrics.h"
#include "tracing/tracing.h"

/* What one page is rendered from, taken on the agent loop (agent_scrape_src_new). */
struct agent_scrape_src {
	struct agent *a;
	struct agent_snap *snap;    /* held: the pods by_wl points into */
	const struct m_pod **by_wl; /* workload_id -> pod of the snapshot */
	size_t nwl;
	struct strbuf own; /* skiffd's own families, rendered on the agent loop */
};

struct l4_ctx {
	const struct agent *a;
	const struct agent_scrape_src *src;
	struct metrics_table *t;
	size_t pairs;
	uint64_t fallbacks;
	uint64_t l7_dropped;
};

static const struct m_pod *pod_of(const struct l4_ctx *c, __u32 wl)
{
	return wl && wl < c->src->nwl ? c->src->by_wl[wl] : NULL;
}

/*
 * Istio's reporter: a pair with both ends on this node is reported by both, as ztunnel reports
 * a connection at each end; a pair with one end elsewhere (the punt and dial hops of cross-node
 * traffic, or a peer outside the mesh) only by the end this node has.
 */
/* The series of one pair, labelled when the pair is new or its pods changed. */
static void pair_series(struct l4_ctx *c, struct scrape_pair *p, const struct m_pod *src,
			const struct m_pod *dst)
{
	const struct model *m = c->src->snap ? &c->src->snap->m : NULL;
	static struct metrics_key key; /* 2 kB: off the stack; one scrape renders at a time */
	const char *td = c->a->o->trust_domain;

	memset(&key, 0, sizeof(key));
	metrics_peer_from_pod(&key.src, src, td);
	metrics_peer_from_pod(&key.dst, dst, td);
	metrics_key_service(&key, metrics_pod_service(m, dst));
	key.protocol = "tcp";
	key.response_flags = "-";
	/* same node: the kernel path, not encrypted; one end only: the hop cannot tell */
	key.security = src && dst ? "none" : "unknown";
	key.reporter = "destination";
	p->idx[0] = dst ? metrics_table_series(c->t, &key, false) : -1;
	key.reporter = "source";
	p->idx[1] = src ? metrics_table_series(c->t, &key, false) : -1;
	p->src = src;
	p->dst = dst;
	/* a full table: looked up again next page, and counted as dropped on each */
	p->valid = !(dst && p->idx[0] < 0) && !(src && p->idx[1] < 0);
}

static void l4_pair(void *ctx, const struct skiff_l4_key *k, const struct skiff_l4_stats *v)
{
	struct l4_ctx *c = ctx;
	const struct m_pod *src = pod_of(c, k->src_workload), *dst = pod_of(c, k->dst_workload);
	struct metrics_tcp tcp = {.opened = v->conns_opened,
				  .closed = v->conns_closed,
				  .sent = v->bytes_sent,
				  .received = v->bytes_received};
	struct scrape_pair *p;

	c->pairs++;
	c->fallbacks += v->tcp_fallbacks;
	/* skiffd's hops: the connection is reported by skiffd, with both ends (agent_tcp_metrics.c) */
	if (k->src_workload == SKIFF_WL_AGENT || k->dst_workload == SKIFF_WL_AGENT)
		return;
	p = scrape_cache_pair(k->src_workload, k->dst_workload);
	if (!p)
		return;
	if (!p->valid || p->src != src || p->dst != dst)
		pair_series(c, p, src, dst);
	for (int i = 0; i < 2; i++)
		if (p->idx[i] >= 0)
			metrics_table_add_tcp_at(c->t, (size_t)p->idx[i], &tcp);
}

/* workload_id -> pod, from the view in force and the snapshot it was compiled from. */
static void index_workloads(const struct agent *a, struct agent_scrape_src *c)
{
	for (size_t i = 0; i < a->view.npods; i++)
		if (a->view.pods[i].val.workload_id >= c->nwl)
			c->nwl = a->view.pods[i].val.workload_id + 1;
	c->by_wl = calloc(c->nwl ? c->nwl : 1, sizeof(*c->by_wl));
	if (!c->by_wl || !c->snap) {
		c->nwl = c->by_wl ? c->nwl : 0;
		return;
	}
	for (size_t i = 0; i < a->view.npods; i++) {
		char ns[64];
		const char *name = a->view.pods[i].name, *slash = strchr(name, '/');

		if (!slash || (size_t)(slash - name) >= sizeof(ns))
			continue;
		memcpy(ns, name, (size_t)(slash - name));
		ns[slash - name] = '\0';
		c->by_wl[a->view.pods[i].val.workload_id] = model_pod(&c->snap->m, ns, slash + 1);
	}
}

static void gauge(struct strbuf *b, enum metrics_fmt f, const char *name, const char *help,
		  double v)
{
	metrics_family(b, f, name, "gauge", help);
	metrics_sample(b, name, NULL, v);
}

static void counter(struct strbuf *b, enum metrics_fmt f, const char *name, const char *help,
		    uint64_t v)
{
	metrics_family(b, f, name, "counter", help);
	metrics_sample_u64(b, name, NULL, v);
}

/* One family with one label, a sample per (value, count). */
static void labelled(struct strbuf *b, enum metrics_fmt f, const char *name, const char *type,
		     const char *help, const char *label, const char *const *vals,
		     const uint64_t *v, size_t n)
{
	metrics_family(b, f, name, type, help);
	for (size_t i = 0; i < n; i++) {
		struct strbuf l = {0};

		if (!vals[i])
			continue;
		metrics_label(&l, label, vals[i]);
		metrics_sample_u64(b, name, l.s, v[i]);
		sb_free(&l);
	}
}

/* Writes a full map refused (dp_map_full.c); a map appears once it has refused one. */
static void render_map_full(struct strbuf *b, enum metrics_fmt f)
{
	const char *names[16];
	uint64_t counts[16];
	size_t n = dp_map_full_counts(names, counts, 16);

	labelled(b, f, "skiff_map_full_total", "counter",
		 "Map writes refused because the map was full (that configuration was refused).",
		 "map", names, counts, n);
}

static void render_config(const struct agent *a, enum metrics_fmt f, struct strbuf *b)
{
	const char *const maps[] = {"skiff_services", "skiff_backends",	   "skiff_enrolled",
				    "skiff_pod_ips",  "skiff_remote_pods", "skiff_mtls",
				    "skiff_policy"};
	const uint64_t n[] = {a->view.nservices, a->view.nbackends,    a->view.npods,
			      a->view.npod_ips,	 a->view.nremote_pods, a->view.nmtls,
			      a->view.npolicy};

	gauge(b, f, "skiff_config_generation", "Generation of the configuration in the kernel.",
	      dp_generation(a->dp));
	gauge(b, f, "skiff_config_applied", "1 once a configuration reached the kernel.",
	      a->applied);
	counter(b, f, "skiff_config_reloads_total", "Configuration snapshots loaded.", a->reloads);
	counter(b, f, "skiff_config_rejected_total",
		"Snapshots refused (the previous generation stayed in force).", a->rejected);
	gauge(b, f, "skiff_pods_enrolled", "Local mesh pods in the kernel's maps.", a->view.npods);
	gauge(b, f, "skiff_pods_pending", "Local mesh pods whose cgroup does not exist yet.",
	      (double)a->view.pods_pending);
	labelled(b, f, "skiff_map_entries", "gauge",
		 "Entries of each map this node's configuration writes (one generation).", "map",
		 maps, n, sizeof(n) / sizeof(n[0]));
	render_map_full(b, f);
}

static void render_proxy(const struct agent *a, enum metrics_fmt f, struct strbuf *b)
{
	struct proxy_stats s;
	const char *const ev[] = {"accepted", "no_orig", "fast", "upstream_failed", "relayed"};
	const char *const hb[] = {"out", "in", "refused", "bad_request", "pod_failed"};
	const char *const az[] = {"connection", "http_request"};
	const char *const lim[] = {"idle", "connect", "sniff", "head", "per_source"};

	if (!a->proxy)
		return;
	proxy_stats_read(a->proxy, &s);
	labelled(b, f, "skiff_outbound_connections_total", "counter",
		 "Punted connections on skiffd's 15001, by what became of them.", "event", ev,
		 (const uint64_t[]){s.accepted, s.no_orig, s.fast, s.upstream_failed, s.relayed},
		 5);
	gauge(b, f, "skiff_proxy_active_connections", "Connections skiffd relays now.",
	      (double)s.active);
	labelled(b, f, "skiff_hbone_streams_total", "counter",
		 "HBONE CONNECT streams, by direction and outcome.", "event", hb,
		 (const uint64_t[]){s.hbone_out, s.hbone_in, s.hbone_refused, s.hbone_bad_request,
				    s.hbone_pod_failed},
		 5);
	counter(b, f, "skiff_tls_handshake_failures_total", "HBONE TLS handshakes that failed.",
		s.tls_failed);
	counter(b, f, "skiff_hbone_ktls_total", "HBONE connections whose TLS send is kTLS.",
		s.hbone_ktls_tx);
	labelled(b, f, "skiff_authz_denied_total", "counter",
		 "What skiffd's AuthorizationPolicy evaluation refused (the kernel's same-node "
		 "denials are not counted).",
		 "scope", az, (const uint64_t[]){s.authz_denied, s.l7_denied}, 2);
	counter(b, f, "skiff_l7_requests_total", "HTTP requests skiffd's L7 relays saw.",
		s.l7_requests);
	labelled(b, f, "skiff_proxy_limited_total", "counter",
		 "Connections and streams skiffd ended or refused at one of its limits "
		 "(docs/security.md#limits).",
		 "limit", lim,
		 (const uint64_t[]){s.idle_closed, s.connect_timeouts, s.sniff_timeouts,
				    s.head_timeouts, s.source_refused},
		 5);
}

/* Access log lines written to stdout, and those dropped because its reader fell behind. */
static void render_accesslog(enum metrics_fmt f, struct strbuf *b)
{
	uint64_t written, dropped;

	al_counts(&written, &dropped);
	counter(b, f, "skiff_access_log_lines_total",
		"Access log lines written to skiffd's standard output.", written);
	counter(b, f, "skiff_access_log_dropped_total",
		"Access log lines dropped: the queue to standard output was full (its reader is "
		"slower than the traffic), or a line was longer than 64 KiB.",
		dropped);
}

/* Flow events: what skiffd showed, by kind, and what the kernel could not write. */
static void render_flows(const struct agent *a, enum metrics_fmt f, struct strbuf *b)
{
	static const char *const kinds[SKIFF_EV_KINDS] = {[SKIFF_EV_OPENED] = "opened",
							  [SKIFF_EV_CLOSED] = "closed",
							  [SKIFF_EV_DENIED] = "denied",
							  [SKIFF_EV_DROPPED] = "dropped",
							  [SKIFF_EV_PUNTED] = "punted"};
	uint64_t k[SKIFF_EV_KINDS], orphans;
	__u64 st[SKIFF_EV_STATS];

	if (!a->flows)
		return;
	flows_counts(a->flows, k, &orphans);
	labelled(b, f, "skiff_flow_events_total", "counter",
		 "Flow events from the kernel that skiffd keeps and streams, by kind.", "kind",
		 kinds, k, SKIFF_EV_KINDS);
	counter(b, f, "skiff_flow_close_parts_unmatched_total",
		"Fast-path CLOSED parts whose connection's other part never came (dropped).",
		orphans);
	if (dp_events_stats(a->dp, st))
		return;
	counter(b, f, "skiff_flow_events_lost_total",
		"Flow events the kernel could not write: skiff_events was full.",
		st[SKIFF_EV_STAT_LOST]);
	counter(b, f, "skiff_flow_events_suppressed_total",
		"STRICT guard drop events over their per-CPU rate limit (the drops are counted in "
		"skiff_guard_verdicts_total).",
		st[SKIFF_EV_STAT_SUPPRESSED]);
}

static void render_tracing(enum metrics_fmt f, struct strbuf *b)
{
	static const char *const ev[] = {"sampled", "dropped", "exported", "failed"};
	struct tracing_stats s;

	tracing_stats(&s);
	labelled(b, f, "skiff_tracing_spans_total", "counter",
		 "Spans of sampled requests: made, dropped because the export queue was full, "
		 "accepted by the collector, lost to a collector that refused or was unreachable.",
		 "event", ev, (const uint64_t[]){s.spans, s.dropped, s.exported, s.failed}, 4);
}

/* The families of the page that come from the map walk and the table (scrape thread). */
static void render_walked(const struct l4_ctx *c, int walked, enum metrics_fmt f, struct strbuf *b)
{
	gauge(b, f, "skiff_l4_pairs", "Workload pairs in skiff_l4_stats.",
	      walked < 0 ? 0 : c->pairs);
	counter(b, f, "skiff_l4_tcp_fallbacks_total",
		"Fast-path sockets moved back to TCP because their peer stopped reading.",
		c->fallbacks);
	gauge(b, f, "skiff_metrics_series", "Istio series on this page.",
	      (double)metrics_table_len(c->t));
	gauge(b, f, "skiff_metrics_series_dropped",
	      "Istio series left off this page by the series cap.",
	      (double)metrics_table_dropped(c->t));
	counter(b, f, "skiff_metrics_requests_dropped_total",
		"Relayed requests not counted because the request series table was full.",
		c->l7_dropped);
}

/* skiffd's own families (agent loop): a few dozen counters read, nothing walked. */
static void render_own(struct agent *a, enum metrics_fmt f, struct strbuf *b)
{
	__u64 v[SKIFF_GUARD_VERDICTS];
	uint64_t g[SKIFF_GUARD_VERDICTS];

	render_config(a, f, b);
	gauge(b, f, "skiff_l4_pairs_capacity", "The most pairs skiff_l4_stats can hold.",
	      SKIFF_MAX_L4_PAIRS);
	if (!dp_guard_stats(a->dp, v)) {
		for (int i = 0; i < SKIFF_GUARD_VERDICTS; i++)
			g[i] = v[i];
		labelled(b, f, "skiff_guard_verdicts_total", "counter",
			 "What the STRICT guard did with packets to local pods.", "verdict",
			 agent_guard_names, g, SKIFF_GUARD_VERDICTS);
	}
	render_proxy(a, f, b);
	render_flows(a, f, b);
	render_tracing(f, b);
	render_accesslog(f, b);
	labelled(b, f, "skiff_metrics_scrapes_total", "counter",
		 "Pages served on :15020/metrics (this one included), by exposition format.",
		 "format", (const char *const[]){"text", "openmetrics"}, a->metrics.scrapes, 2);
	gauge(b, f, "skiff_metrics_scrape_cpu_seconds",
	      "CPU time of the last page the scrape thread served: map walk, render, gzip, send.",
	      (double)agent_scrape_last_cpu_ns(a) / 1e9);
}

/* Series the relays could not add (the request table is full): counted, never lost silently. */
static uint64_t l7_dropped;

void agent_l7_metrics_add(struct agent *a, const struct metrics_key *k,
			  const struct metrics_http *h)
{
	pthread_mutex_lock(&a->l7_metrics_lock);
	if (!a->l7_metrics)
		a->l7_metrics = metrics_table_new(METRICS_DEFAULT_CAP / 2);
	if (a->l7_metrics && metrics_table_add_http(a->l7_metrics, k, h))
		l7_dropped++;
	pthread_mutex_unlock(&a->l7_metrics_lock);
}

void agent_tcp_metrics_add(struct agent *a, const struct metrics_key *k,
			   const struct metrics_tcp *v)
{
	pthread_mutex_lock(&a->l7_metrics_lock);
	if (!a->l7_metrics)
		a->l7_metrics = metrics_table_new(METRICS_DEFAULT_CAP / 2);
	if (a->l7_metrics && metrics_table_add_tcp(a->l7_metrics, k, v))
		l7_dropped++;
	pthread_mutex_unlock(&a->l7_metrics_lock);
}

struct agent_scrape_src *agent_scrape_src_new(struct agent *a, enum metrics_fmt f)
{
	struct agent_scrape_src *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->a = a;
	s->snap = agent_snap_current(a);
	index_workloads(a, s);
	render_own(a, f, &s->own);
	return s;
}

void agent_scrape_src_free(struct agent_scrape_src *s)
{
	if (!s)
		return;
	agent_snap_unref(s->snap);
	free(s->by_wl);
	sb_free(&s->own);
	free(s);
}

void agent_scrape_page(void *ctx, enum metrics_fmt f, struct strbuf *b)
{
	const struct agent_scrape_src *s = ctx;
	struct agent *a = s->a;
	struct l4_ctx c = {.a = a, .src = s};
	int walked;

	c.t = scrape_cache_begin(s->snap);
	if (!c.t)
		return;
	walked = dp_l4_stats_each(a->dp, l4_pair, &c);
	pthread_mutex_lock(&a->l7_metrics_lock);
	if (a->l7_metrics)
		metrics_table_merge(c.t, a->l7_metrics);
	c.l7_dropped = l7_dropped;
	pthread_mutex_unlock(&a->l7_metrics_lock);
	metrics_table_render(c.t, f, b);
	render_walked(&c, walked, f, b);
	sb_put(b, s->own.s ? s->own.s : "", s->own.len);
	scrape_cache_end();
}

void agent_metrics_render(void *ctx, enum metrics_fmt f, struct strbuf *b)
{
	struct agent_scrape_src *s = agent_scrape_src_new(ctx, f);

	if (s)
		agent_scrape_page(s, f, b);
	agent_scrape_src_free(s);
}
