// SPDX-License-Identifier: Apache-2.0
/*
 * skiffd's metrics (user/metrics): the exposition formats (text 0.0.4 and OpenMetrics 1.0: family
 * names, escaping, histograms with cumulative buckets and le="+Inf"), Accept negotiation, gzip,
 * the series table (merging, the cap and its dropped count) and Istio's label rules.
 * `test_metrics --bench` instead prints the CPU time of one scrape of 10,000 series (make bench).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include <cmocka.h>

#include "inflate_check.h"
#include "metrics/metrics.h"
#include "metrics/metrics_http.h"

static void test_escaping(void **state)
{
	struct strbuf b = {0};

	(void)state;
	metrics_label(&b, "a", "plain");
	metrics_label(&b, "b", "q\"uote\\back\nline");
	metrics_label(&b, "c", NULL);
	assert_string_equal(b.s, "a=\"plain\",b=\"q\\\"uote\\\\back\\nline\",c=\"\"");
	sb_free(&b);
}

static void test_families(void **state)
{
	struct strbuf t = {0}, o = {0};

	(void)state;
	metrics_family(&t, METRICS_TEXT, "istio_requests_total", "counter", "HTTP requests.");
	metrics_sample_u64(&t, "istio_requests_total", "reporter=\"source\"", 3);
	metrics_sample(&t, "skiff_config_generation", NULL, 2);
	metrics_end(&t, METRICS_TEXT);
	assert_string_equal(t.s, "# HELP istio_requests_total HTTP requests.\n"
				 "# TYPE istio_requests_total counter\n"
				 "istio_requests_total{reporter=\"source\"} 3\n"
				 "skiff_config_generation 2\n");
	/* OpenMetrics: the counter family has no _total, its samples keep it; "# EOF" ends */
	metrics_family(&o, METRICS_OPENMETRICS, "istio_requests_total", "counter",
		       "HTTP requests.");
	metrics_sample_u64(&o, "istio_requests_total", NULL, 3);
	metrics_family(&o, METRICS_OPENMETRICS, "skiff_x_total", "gauge", "a gauge keeps its name");
	metrics_end(&o, METRICS_OPENMETRICS);
	assert_string_equal(o.s, "# HELP istio_requests HTTP requests.\n"
				 "# TYPE istio_requests counter\n"
				 "istio_requests_total 3\n"
				 "# HELP skiff_x_total a gauge keeps its name\n"
				 "# TYPE skiff_x_total gauge\n"
				 "# EOF\n");
	sb_free(&t);
	sb_free(&o);
}

static void test_histogram(void **state)
{
	struct metrics_hist h = {0};
	struct strbuf b = {0};

	(void)state;
	metrics_hist_observe(&h, 0.3);	   /* le 0.5 */
	metrics_hist_observe(&h, 7);	   /* le 10 */
	metrics_hist_observe(&h, 10);	   /* le 10: bounds are inclusive */
	metrics_hist_observe(&h, 4000000); /* above the last bound: +Inf only */
	metrics_hist_render(&b, "istio_request_duration_milliseconds", "r=\"d\"", &h);
	assert_non_null(
	    strstr(b.s, "istio_request_duration_milliseconds_bucket{r=\"d\",le=\"0.5\"} 1\n"
			"istio_request_duration_milliseconds_bucket{r=\"d\",le=\"1\"} 1\n"
			"istio_request_duration_milliseconds_bucket{r=\"d\",le=\"5\"} 1\n"
			"istio_request_duration_milliseconds_bucket{r=\"d\",le=\"10\"} 3\n"));
	assert_non_null(strstr(b.s,
			       "_bucket{r=\"d\",le=\"3600000\"} 3\n"
			       "istio_request_duration_milliseconds_bucket{r=\"d\",le=\"+Inf\"} 4\n"
			       "istio_request_duration_milliseconds_sum{r=\"d\"} 4000017.3\n"
			       "istio_request_duration_milliseconds_count{r=\"d\"} 4\n"));
	/* Istio's 19 bounds, +Inf, sum, count */
	int lines = 0;
	for (const char *p = b.s; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(lines, 19 + 1 + 2);
	sb_free(&b);
}

static void test_negotiate(void **state)
{
	(void)state;
	/* what Prometheus 2.42 sends */
	assert_int_equal(metrics_negotiate("application/openmetrics-text;version=1.0.0,"
					   "application/openmetrics-text;version=0.0.1;q=0.75,"
					   "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
			 METRICS_OPENMETRICS);
	/* Prometheus with OpenMetrics turned off, curl, and nothing at all */
	assert_int_equal(metrics_negotiate("text/plain;version=0.0.4;q=1,*/*;q=0.1"), METRICS_TEXT);
	assert_int_equal(metrics_negotiate("*/*"), METRICS_TEXT);
	assert_int_equal(metrics_negotiate(NULL), METRICS_TEXT);
	assert_int_equal(metrics_negotiate(""), METRICS_TEXT);
	/* a version skiffd does not write is not chosen; a preference by q is kept */
	assert_int_equal(metrics_negotiate("application/openmetrics-text;version=2.0.0"),
			 METRICS_TEXT);
	assert_int_equal(metrics_negotiate("text/plain;q=0.9, application/openmetrics-text;q=0.2"),
			 METRICS_TEXT);
	assert_int_equal(metrics_negotiate("text/plain;q=0.2, application/openmetrics-text"),
			 METRICS_OPENMETRICS);
}

static void render_two(void *ctx, enum metrics_fmt f, struct strbuf *b)
{
	(void)ctx;
	metrics_family(b, f, "skiff_a_total", "counter", "a.");
	for (int i = 0; i < 500; i++)
		metrics_sample_u64(b, "skiff_a_total", "k=\"v\"", (uint64_t)i);
}

static char *inflate_all(const unsigned char *in, size_t n)
{
	z_stream z = {0};
	size_t cap = 1 << 20;
	char *out = calloc(1, cap);

	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)cap - 1;
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	inflateEnd(&z);
	return out;
}

static void test_http(void **state)
{
	size_t len, plen;
	char *plain, *gz, *body, *txt;
	const char *gzbody;

	(void)state;
	plain = metrics_http_respond("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", render_two, NULL,
				     &plen, NULL);
	assert_non_null(
	    strstr(plain, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	assert_null(strstr(plain, "Content-Encoding"));
	assert_null(strstr(plain, "# EOF"));
	txt = strstr(plain, "\r\n\r\n") + 4;
	gz = metrics_http_respond("GET /metrics HTTP/1.1\r\naccept-encoding: gzip, deflate\r\n"
				  "Accept: application/openmetrics-text;version=1.0.0\r\n\r\n",
				  render_two, NULL, &len, NULL);
	assert_non_null(strstr(gz, "Content-Type: application/openmetrics-text; version=1.0.0"));
	assert_non_null(strstr(gz, "Content-Encoding: gzip\r\n"));
	gzbody = strstr(gz, "\r\n\r\n") + 4;
	body = inflate_all((const unsigned char *)gzbody, len - (size_t)(gzbody - gz));
	assert_non_null(strstr(body, "# TYPE skiff_a counter\n"));
	assert_non_null(strstr(body, "skiff_a_total{k=\"v\"} 499\n# EOF\n"));
	/* the same samples as the plain text page */
	assert_non_null(strstr(txt, "skiff_a_total{k=\"v\"} 499\n"));
	assert_true(len < plen);
	free(body);
	free(gz);
	free(plain);
	/* gzip;q=0 means no gzip */
	gz = metrics_http_respond("GET /metrics HTTP/1.1\r\nAccept-Encoding: gzip;q=0\r\n\r\n",
				  render_two, NULL, &len, NULL);
	assert_null(strstr(gz, "Content-Encoding"));
	free(gz);
	gz = metrics_http_respond("GET /other HTTP/1.1\r\n\r\n", render_two, NULL, &len, NULL);
	assert_memory_equal(gz, "HTTP/1.1 404", 12);
	free(gz);
	gz = metrics_http_respond("POST /metrics HTTP/1.1\r\n\r\n", render_two, NULL, &len, NULL);
	assert_memory_equal(gz, "HTTP/1.1 405", 12);
	free(gz);
}

static void fill_key(struct metrics_key *k, const char *src, int code)
{
	memset(k, 0, sizeof(*k));
	metrics_peer_from_pod(&k->src, NULL, NULL);
	metrics_peer_from_pod(&k->dst, NULL, NULL);
	snprintf(k->src.workload, sizeof(k->src.workload), "%s", src);
	metrics_key_service(k, NULL);
	k->reporter = "destination";
	k->protocol = code ? "http" : "tcp";
	k->response_code = code;
	k->response_flags = "-";
	k->security = "none";
}

static void test_table(void **state)
{
	struct metrics_table *t = metrics_table_new(3);
	struct metrics_tcp tcp = {.opened = 1, .closed = 1, .sent = 10, .received = 20};
	struct metrics_http h = {.requests = 1};
	struct metrics_key k;
	struct strbuf b = {0};

	(void)state;
	fill_key(&k, "a", 0);
	assert_int_equal(metrics_table_add_tcp(t, &k, &tcp), 0);
	assert_int_equal(metrics_table_add_tcp(t, &k, &tcp), 0); /* same labels: one series */
	fill_key(&k, "a", 200);
	metrics_hist_observe(&h.duration_ms, 3);
	assert_int_equal(metrics_table_add_http(t, &k, &h), 0);
	fill_key(&k, "b", 0);
	assert_int_equal(metrics_table_add_tcp(t, &k, &tcp), 0);
	assert_int_equal(metrics_table_len(t), 3);
	fill_key(&k, "c", 0); /* over the cap: dropped and counted */
	assert_int_equal(metrics_table_add_tcp(t, &k, &tcp), -ENOSPC);
	fill_key(&k, "a", 0); /* an existing series still counts */
	assert_int_equal(metrics_table_add_tcp(t, &k, &tcp), 0);
	assert_int_equal(metrics_table_dropped(t), 1);
	metrics_table_render(t, METRICS_TEXT, &b);
	assert_non_null(strstr(b.s, "istio_tcp_connections_opened_total{reporter=\"destination\","
				    "source_workload=\"a\","));
	assert_non_null(strstr(b.s, ",request_protocol=\"tcp\",response_flags=\"-\","
				    "connection_security_policy=\"none\"} 3\n"));
	assert_non_null(strstr(b.s, "istio_tcp_sent_bytes_total{"));
	assert_non_null(strstr(b.s,
			       ",request_protocol=\"http\",response_code=\"200\","
			       "response_flags=\"-\",connection_security_policy=\"none\"} 1\n"));
	assert_non_null(strstr(b.s, "istio_request_duration_milliseconds_bucket{reporter="));
	assert_non_null(strstr(b.s, "# TYPE istio_response_bytes histogram\n"));
	assert_null(strstr(b.s, "source_workload=\"c\""));
	/* TCP series carry no response_code (Istio's TCP metrics have none) */
	for (const char *p = b.s; (p = strstr(p, "istio_tcp_")); p++) {
		const char *eol = strchr(p, '\n');

		assert_true(!strstr(p, "response_code") || strstr(p, "response_code") > eol);
	}
	sb_free(&b);
	metrics_table_free(t);
}

/* A table kept from scrape to scrape: indexes stay, counts restart, a page shows only the series
 * its scrape added to, and a merge resolves each series of the source once while the source
 * grows. */
static void test_table_kept(void **state)
{
	struct metrics_table *t = metrics_table_new(8), *from = metrics_table_new(8);
	struct metrics_tcp tcp = {.opened = 1, .closed = 1, .sent = 10, .received = 20};
	struct metrics_http h = {.requests = 1};
	struct metrics_key k;
	struct strbuf b = {0};
	const char *line;
	long a, c;

	(void)state;
	fill_key(&k, "a", 0);
	a = metrics_table_series(t, &k, false);
	fill_key(&k, "c", 0);
	c = metrics_table_series(t, &k, false);
	assert_true(a >= 0 && c >= 0 && a != c);
	fill_key(&k, "a", 0);
	assert_int_equal(metrics_table_series(t, &k, false), a); /* the same labels, the same one */
	metrics_table_add_tcp_at(t, (size_t)a, &tcp);
	metrics_table_add_tcp_at(t, (size_t)a, &tcp);
	fill_key(&k, "r", 200);
	assert_int_equal(metrics_table_add_http(from, &k, &h), 0);
	metrics_table_merge(t, from);
	metrics_table_render(t, METRICS_TEXT, &b);
	assert_non_null(strstr(b.s, "istio_tcp_sent_bytes_total{reporter=\"destination\","
				    "source_workload=\"a\","));
	assert_non_null(strstr(b.s, "connection_security_policy=\"none\"} 20\n"));
	assert_non_null(strstr(b.s, "source_workload=\"c\"")); /* created this scrape: shown */
	assert_int_equal(metrics_table_len(t), 3);
	sb_free(&b);

	/* the next scrape: "a" counts from zero, "c" had nothing and is left off */
	metrics_table_begin(t);
	metrics_table_add_tcp_at(t, (size_t)a, &tcp);
	fill_key(&k, "r2", 503);
	assert_int_equal(metrics_table_add_http(from, &k, &h), 0); /* the source grew */
	metrics_table_merge(t, from);
	metrics_table_merge(t, from); /* twice: the counts of each of its series added twice */
	metrics_table_render(t, METRICS_TEXT, &b);
	assert_null(strstr(b.s, "source_workload=\"c\""));
	assert_non_null(strstr(b.s, "connection_security_policy=\"none\"} 10\n"));
	/* one connection opened this scrape (two on the first page) */
	line = strstr(b.s, "istio_tcp_connections_opened_total{");
	assert_non_null(line);
	assert_memory_equal(strchr(line, '\n') - 3, "} 1", 3);
	assert_non_null(strstr(b.s, "source_workload=\"r2\""));
	assert_non_null(strstr(b.s, "response_code=\"200\",response_flags=\"-\","
				    "connection_security_policy=\"none\"} 2\n"));
	assert_int_equal(metrics_table_len(t), 3);
	assert_int_equal(metrics_table_held(t), 4);
	sb_free(&b);
	metrics_table_free(from);
	metrics_table_free(t);
}

/* A series is found by its label values, not their rendering: values that trade characters with
 * a neighbour are other series, a status is part of an HTTP series' identity, a NULL value is
 * the empty one (both render as ""), and one differing byte anywhere makes a new series. */
static void test_table_identity(void **state)
{
	struct metrics_table *t = metrics_table_new(64);
	struct metrics_key k;
	long base, shifted, s200, s503, other;

	(void)state;
	fill_key(&k, "a", 0);
	snprintf(k.src.app, sizeof(k.src.app), "ab");
	snprintf(k.src.version, sizeof(k.src.version), "c");
	base = metrics_table_series(t, &k, false);
	snprintf(k.src.app, sizeof(k.src.app), "a");
	snprintf(k.src.version, sizeof(k.src.version), "bc");
	shifted = metrics_table_series(t, &k, false);
	assert_true(base >= 0 && shifted >= 0 && base != shifted);
	snprintf(k.src.app, sizeof(k.src.app), "ab");
	snprintf(k.src.version, sizeof(k.src.version), "c");
	assert_int_equal(metrics_table_series(t, &k, false), base);
	/* the same values as HTTP are another series, and each status one more */
	fill_key(&k, "a", 200);
	s200 = metrics_table_series(t, &k, true);
	fill_key(&k, "a", 503);
	s503 = metrics_table_series(t, &k, true);
	assert_true(s200 >= 0 && s503 >= 0 && s200 != s503 && s200 != base);
	fill_key(&k, "a", 200);
	assert_int_equal(metrics_table_series(t, &k, true), s200);
	/* a NULL reporter is the empty one */
	fill_key(&k, "n", 0);
	k.reporter = NULL;
	other = metrics_table_series(t, &k, false);
	k.reporter = "";
	assert_int_equal(metrics_table_series(t, &k, false), other);
	/* one byte of the last value */
	fill_key(&k, "n", 0);
	k.reporter = "";
	k.security = "nonf";
	assert_true(metrics_table_series(t, &k, false) != other);
	/* the longest values there can be are still one series each */
	fill_key(&k, "x", 0);
	memset(k.src.workload, 'w', sizeof(k.src.workload) - 1);
	memset(k.dst.principal, 'p', sizeof(k.dst.principal) - 1);
	memset(k.dst_service, 's', sizeof(k.dst_service) - 1);
	other = metrics_table_series(t, &k, false);
	assert_true(other >= 0);
	assert_int_equal(metrics_table_series(t, &k, false), other);
	assert_int_equal(metrics_table_held(t), 7);
	metrics_table_free(t);
}

static const char pods_yaml[] =
    "apiVersion: v1\nkind: Pod\n"
    "metadata:\n  name: reviews-v1-5f8d7c9b6d-x2x4z\n  namespace: bookinfo\n"
    "  labels: {app: reviews, version: v1, pod-template-hash: 5f8d7c9b6d}\n"
    "spec:\n  serviceAccountName: bookinfo-reviews\n  containers: [{name: c, image: x}]\n"
    "---\napiVersion: v1\nkind: Pod\n"
    "metadata:\n  name: db-2\n  namespace: bookinfo\n"
    "  labels: {app.kubernetes.io/name: mysql, app.kubernetes.io/version: '8.0',\n"
    "           service.istio.io/canonical-name: database,\n"
    "           service.istio.io/canonical-revision: r7,\n"
    "           controller-revision-hash: db-6b9f, statefulset.kubernetes.io/pod-name: db-2}\n"
    "spec:\n  containers: [{name: c, image: x}]\n"
    "---\napiVersion: v1\nkind: Pod\n"
    "metadata:\n  name: migrate-abcde\n  namespace: bookinfo\n"
    "  labels: {job-name: migrate}\n"
    "spec:\n  containers: [{name: c, image: x}]\n"
    "---\napiVersion: v1\nkind: Pod\n"
    "metadata:\n  name: bare\n  namespace: bookinfo\n"
    "spec:\n  containers: [{name: c, image: x}]\n"
    "---\napiVersion: v1\nkind: Service\n"
    "metadata: {name: reviews, namespace: bookinfo}\n"
    "spec:\n  selector: {app: reviews}\n  ports: [{port: 9080}]\n";

static void test_labels(void **state)
{
	struct diag d = {0};
	struct model m;
	struct metrics_peer e;
	struct metrics_key k;

	(void)state;
	assert_int_equal(model_load_string("t.yaml", pods_yaml, &m, &d), 0);
	/* a Deployment's pod: the Deployment's name, app/version labels, SPIFFE principal */
	metrics_peer_from_pod(&e, model_pod(&m, "bookinfo", "reviews-v1-5f8d7c9b6d-x2x4z"), NULL);
	assert_string_equal(e.workload, "reviews-v1");
	assert_string_equal(e.ns, "bookinfo");
	assert_string_equal(e.app, "reviews");
	assert_string_equal(e.version, "v1");
	assert_string_equal(e.canonical_service, "reviews");
	assert_string_equal(e.canonical_revision, "v1");
	assert_string_equal(e.principal, "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews");
	assert_string_equal(e.cluster, "Kubernetes");
	/* a StatefulSet's pod; the canonical labels win over the app.kubernetes.io ones */
	metrics_peer_from_pod(&e, model_pod(&m, "bookinfo", "db-2"), "example.org");
	assert_string_equal(e.workload, "db");
	assert_string_equal(e.canonical_service, "database");
	assert_string_equal(e.canonical_revision, "r7");
	assert_string_equal(e.app, "mysql");
	assert_string_equal(e.version, "8.0");
	assert_string_equal(e.principal, "spiffe://example.org/ns/bookinfo/sa/default");
	/* a Job's pod */
	metrics_peer_from_pod(&e, model_pod(&m, "bookinfo", "migrate-abcde"), NULL);
	assert_string_equal(e.workload, "migrate");
	/* no labels at all: the pod's name, canonical service from it, revision "latest" */
	metrics_peer_from_pod(&e, model_pod(&m, "bookinfo", "bare"), NULL);
	assert_string_equal(e.workload, "bare");
	assert_string_equal(e.canonical_service, "bare");
	assert_string_equal(e.canonical_revision, "latest");
	assert_string_equal(e.app, "unknown");
	assert_string_equal(e.version, "unknown");
	/* no pod: unknown everywhere but the cluster */
	metrics_peer_from_pod(&e, NULL, NULL);
	assert_string_equal(e.workload, "unknown");
	assert_string_equal(e.canonical_revision, "unknown");
	assert_string_equal(e.cluster, "Kubernetes");
	/* the destination service: the Service whose selector picks the pod */
	metrics_key_service(
	    &k, metrics_pod_service(&m, model_pod(&m, "bookinfo", "reviews-v1-5f8d7c9b6d-x2x4z")));
	assert_string_equal(k.dst_service, "reviews.bookinfo.svc.cluster.local");
	assert_string_equal(k.dst_service_name, "reviews");
	assert_string_equal(k.dst_service_ns, "bookinfo");
	metrics_key_service(&k, metrics_pod_service(&m, model_pod(&m, "bookinfo", "bare")));
	assert_string_equal(k.dst_service, "unknown");
	model_free(&m);
	diag_free(&d);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Of five values (sorted in place). */
static double median5(double *v)
{
	qsort(v, 5, sizeof(*v), cmp_double);
	return v[2];
}


static double ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* A page of `lines` similar lines (as a scrape's are), its size counted in *(size_t *)ctx. */
static void render_many(void *ctx, enum metrics_fmt f, struct strbuf *b)
{
	size_t *lines = ctx;

	(void)f;
	for (size_t i = 0; i < *lines; i++)
		sb_printf(b,
			  "istio_tcp_sent_bytes_total{reporter=\"source\",source_workload=\"w-%"
			  "zu\"} %zu\n",
			  i, i * 7919);
}

/* gzip of pages of MBs, one after another into the same buffers: each inflates (zlib checks the
 * CRC-32 and the length in the trailer) to the page; a wrong CRC is refused, so it is checked. */
static void test_gzip_pages(void **state)
{
	struct metrics_bufs bufs = {0};
	size_t sizes[] = {40000, 0, 100000, 3};

	(void)state;
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t len = 0, n = sizes[k], cap = 16 << 20;
		bool gz = false;
		const unsigned char *p =
		    metrics_page_build(METRICS_TEXT, true, render_many, &n, &bufs, &len, &gz);
		unsigned char *out = malloc(cap), *bad = malloc(len);
		z_stream z = {0};

		assert_true(gz);
		assert_memory_equal(p, "\x1f\x8b\x08", 3);
		assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
		z.next_in = (Bytef *)p;
		z.avail_in = (uInt)len;
		z.next_out = out;
		z.avail_out = (uInt)cap;
		assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
		assert_int_equal(z.avail_in, 0);
		assert_int_equal(z.total_out, bufs.page.len);
		assert_memory_equal(out, bufs.page.s ? bufs.page.s : "", bufs.page.len);
		inflateEnd(&z);
		if (n > 1000)
			assert_true(len < bufs.page.len / 4);
		memcpy(bad, p, len);
		bad[len - 5] ^= 1; /* the CRC's last byte */
		assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
		z.next_in = bad;
		z.avail_in = (uInt)len;
		z.next_out = out;
		z.avail_out = (uInt)cap;
		assert_int_equal(inflate(&z, Z_FINISH), Z_DATA_ERROR);
		inflateEnd(&z);
		free(bad);
		free(out);
	}
	metrics_bufs_free(&bufs);
}

/* The line deflater on texts that stress it: each one it takes must inflate to itself. */
static void test_deflate_lines(void **state)
{
	size_t cap = 4 << 20;
	char *t = malloc(cap);
	unsigned char *out = malloc(2 * cap), *back = malloc(cap);
	unsigned seed = 7;

	(void)state;
	for (int kind = 0; kind < 7; kind++) {
		struct strbuf b = {0};
		size_t len;
		long got;

		for (int i = 0; i < 3000; i++) {
			switch (kind) {
			case 0: /* values growing a digit: lines longer by one byte, then shorter */
				sb_printf(&b, "m{w=\"w-%d\",v=\"%d\"} %d\n", i % 1200, 99 + i % 3,
					  i * 37);
				break;
			case 1: /* identical long lines: matches longer than 258 bytes */
				sb_printf(&b, "%0*d\n", 700, 5);
				break;
			case 2: /* random bytes, newlines among them */
				seed = seed * 1103515245 + 12345;
				sb_put(&b, (char[]){(char)(seed >> 16)}, 1);
				break;
			case 3: /* empty lines and one-byte lines */
				sb_put(&b, i % 3 ? "\n" : "x\n", i % 3 ? 1 : 2);
				break;
			case 4: /* lines of 40 kB: the line before is out of the 32 kB window */
				if (i < 20)
					sb_printf(&b, "%0*d\n", 40000, i);
				break;
			case 5: /* no newline at the end */
				sb_printf(&b, "%s%d", i ? "\nl" : "l", i);
				break;
			default: /* whole lines of different lengths and a few changes */
				sb_printf(
				    &b, "%.*s%d\n", i % 300,
				    "abcdefghij"
				    "abcdefghij"
				    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
				    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
				    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
				    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij",
				    i);
			}
		}
		len = metrics_deflate_lines(b.s, b.len, out, 2 * cap);
		assert_true(len > 0);
		got = inflate_check(out, len, INFLATE_RAW, back, cap);
		assert_int_equal(got, (long)b.len);
		assert_memory_equal(back, b.s, b.len);
		if (kind != 2)
			assert_true(len < b.len / 2);
		/* too little room: 0, for the caller's fallback */
		assert_int_equal(metrics_deflate_lines(b.s, b.len, out, len - 1), 0);
		sb_free(&b);
	}
	assert_true(metrics_deflate_lines("", 0, out, 16) > 0);
	assert_int_equal(
	    inflate_check(out, metrics_deflate_lines("", 0, out, 16), INFLATE_RAW, back, cap), 0);
	free(t);
	free(out);
	free(back);
}

/* The pages of the bench: 10,000 TCP series, in a table kept from page to page as skiffd's scrape
 * thread keeps it (agent_scrape_cache.c), each series' index looked up by its pair. */
struct bench_ctx {
	int n;
	struct metrics_table *t;
	long *idx; /* per pair; -1: not labelled yet */
};

/* One page as the scrape thread renders it: the counters of each pair added to its series (its
 * labels rendered on the first page only), then the page. */
static void bench_page(void *ctx, enum metrics_fmt f, struct strbuf *b)
{
	struct bench_ctx *c = ctx;
	struct metrics_tcp tcp = {.opened = 12, .closed = 11, .sent = 123456, .received = 654321};
	struct metrics_key k;
	char name[32];

	metrics_table_begin(c->t);
	for (int i = 0; i < c->n; i++) {
		if (c->idx[i] < 0) {
			snprintf(name, sizeof(name), "workload-%d", i);
			fill_key(&k, name, 0);
			c->idx[i] = metrics_table_series(c->t, &k, false);
		}
		if (c->idx[i] >= 0)
			metrics_table_add_tcp_at(c->t, (size_t)c->idx[i], &tcp);
	}
	metrics_table_render(c->t, f, b);
}

/* make bench: CPU time (this thread's) of one scrape of 10,000 series, in each format, gzip'd
 * (as Prometheus asks) and not, into buffers kept from page to page as the scrape thread keeps
 * them. The first page renders every series' labels and pays for the buffers' memory; the
 * third and later ones are what a node pays every scrape: the median of five is reported. */
static int bench(void)
{
	struct metrics_bufs bufs = {0};
	struct bench_ctx c = {.n = 10000};

	c.idx = malloc((size_t)c.n * sizeof(*c.idx));
	if (!c.idx)
		return 1;
	for (int f = 0; f < 2; f++) {
		for (int gzip = 0; gzip < 2; gzip++) {
			struct timespec a, b;
			double v[7], med;
			size_t len = 0;
			bool gz = false;

			for (int i = 0; i < c.n; i++)
				c.idx[i] = -1;
			c.t = metrics_table_new(METRICS_DEFAULT_CAP);
			if (!c.t)
				return 1;
			for (int i = 0; i < 7; i++) {
				clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
				metrics_page_build((enum metrics_fmt)f, gzip, bench_page, &c, &bufs,
						   &len, &gz);
				clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
				v[i] = ms(&a, &b);
			}
			metrics_table_free(c.t);
			med = median5(v + 2); /* sorts pages 3-7 */
			printf("metrics scrape, %d series (%d samples), %s%s: %.1f ms CPU (first "
			       "page %.1f; pages 3-7 %.1f-%.1f), %zu kB sent (%zu kB of text)\n",
			       c.n, c.n * 4, f ? "OpenMetrics" : "text 0.0.4", gz ? ", gzip" : "",
			       med, v[0], v[2], v[6], len / 1024, bufs.page.len / 1024);
		}
	}
	free(c.idx);
	metrics_bufs_free(&bufs);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_escaping),	   cmocka_unit_test(test_families),
	    cmocka_unit_test(test_histogram),	   cmocka_unit_test(test_negotiate),
	    cmocka_unit_test(test_http),	   cmocka_unit_test(test_gzip_pages),
	    cmocka_unit_test(test_deflate_lines),  cmocka_unit_test(test_table),
	    cmocka_unit_test(test_table_kept),	   cmocka_unit_test(test_labels),
	    cmocka_unit_test(test_table_identity),
	};

	if (argc > 1 && !strcmp(argv[1], "--bench"))
		return bench();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
