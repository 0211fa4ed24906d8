// SPDX-License-Identifier: Apache-2.0
/*
 * The upstream library (user/l7/upstream.h) with no network: every picker's distribution and
 * stickiness, the disruption when an endpoint leaves a hash ring or Maglev table, the
 * connection pool's limits, and outlier detection's timeline on a simulated clock (ejection,
 * growing ejection time, return, forgiveness, the maxEjectionPercent and minHealthPercent caps).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "l7/upstream.h"

#define MAXEP 16

static struct up_addr EPS[MAXEP];

static void eps_init(void)
{
	for (int i = 0; i < MAXEP; i++) {
		memset(&EPS[i], 0, sizeof(EPS[i]));
		EPS[i].family = SKIFF_AF_INET;
		EPS[i].addr.v4 = htonl(0x0a000001u + (uint32_t)i); /* 10.0.0.1 + i */
		EPS[i].port = 8080;
	}
}

static void set_with(struct up_set *s, enum m_lb_simple lb, size_t n)
{
	struct m_tp_settings p;

	memset(&p, 0, sizeof(p));
	p.lb.set = true;
	p.lb.simple = lb;
	eps_init();
	assert_int_equal(up_set_init(s, &p, EPS, n, 42, 0), 0);
}

/* |count - n*p| within 5 standard deviations of a binomial(n, p) */
static void assert_binomial(size_t count, size_t n, double p)
{
	double sd = sqrt((double)n * p * (1 - p)), dev = fabs((double)count - (double)n * p);

	if (dev > 5 * sd)
		fprintf(stderr, "count %zu of %zu, expected %.0f +- %.0f\n", count, n, n * p,
			5 * sd);
	assert_true(dev <= 5 * sd);
}

static void test_round_robin(void **state)
{
	size_t hits[4] = {0};
	struct up_set s;
	int prev = -1;

	(void)state;
	set_with(&s, M_LB_ROUND_ROBIN, 4);
	for (int i = 0; i < 400; i++) {
		int e = up_pick(&s, NULL, -1);

		assert_true(e >= 0 && e < 4);
		if (prev >= 0)
			assert_int_equal(e, (prev + 1) % 4);
		prev = e;
		hits[e]++;
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(hits[i], 100);
	up_set_free(&s);
}

static void test_random(void **state)
{
	size_t hits[4] = {0}, n = 40000;
	struct up_set s;

	(void)state;
	set_with(&s, M_LB_RANDOM, 4);
	for (size_t i = 0; i < n; i++)
		hits[up_pick(&s, NULL, -1)]++;
	for (int i = 0; i < 4; i++)
		assert_binomial(hits[i], n, 0.25);
	up_set_free(&s);
}

/* Two choices: a loaded endpoint wins only when both draws land on it (1/9 with 3). Requests
 * that stay in flight spread evenly. */
static void test_least_request(void **state)
{
	size_t hits[3] = {0}, n = 18000;
	uint32_t lo = UINT32_MAX, hi = 0;
	struct up_set s;

	(void)state;
	set_with(&s, M_LB_LEAST_REQUEST, 3);
	for (int i = 0; i < 1000; i++)
		up_request_begin(&s, 0);
	for (size_t i = 0; i < n; i++)
		hits[up_pick(&s, NULL, -1)]++;
	assert_binomial(hits[0], n, 1.0 / 9);
	up_set_free(&s);

	set_with(&s, M_LB_LEAST_REQUEST, 3);
	for (int i = 0; i < 3000; i++)
		up_request_begin(&s, up_pick(&s, NULL, -1));
	for (int i = 0; i < 3; i++) {
		lo = s.ep[i].active < lo ? s.ep[i].active : lo;
		hi = s.ep[i].active > hi ? s.ep[i].active : hi;
	}
	assert_true(hi - lo <= 6);
	/* the default policy (nothing set) is LEAST_REQUEST */
	assert_int_equal(s.pol.lb.simple, M_LB_LEAST_REQUEST);
	up_set_free(&s);
}

static void set_hash(struct up_set *s, enum m_hash_algo algo, size_t n)
{
	struct m_tp_settings p;

	memset(&p, 0, sizeof(p));
	p.lb.set = true;
	p.lb.simple = M_LB_CONSISTENT_HASH;
	p.lb.hash_on = M_HASH_HEADER;
	p.lb.algo = algo;
	p.lb.maglev_size = algo == M_HASH_MAGLEV ? 65537 : 0;
	p.od.set = true; /* one 5xx ejects, and anything may be ejected */
	p.od.has_5xx = true;
	p.od.consecutive_5xx = 1;
	p.od.max_ejection_pct = 100;
	eps_init();
	assert_int_equal(up_set_init(s, &p, EPS, n, 7, 0), 0);
}

/* Same hash, same endpoint; hashes spread evenly; when endpoint 2 leaves (`eject`: outlier
 * detection ejects it; else the endpoint list loses it), its keys move and at least `min_kept` of
 * the others stay where they were. */
static void hash_picker_checks(enum m_hash_algo algo, bool eject, double min_kept)
{
	enum { N = 5, KEYS = 20000 };
	static int before[KEYS];
	size_t hits[N] = {0}, kept = 0, others = 0;
	struct up_set s;

	set_hash(&s, algo, N);
	for (int k = 0; k < KEYS; k++) {
		char v[32];
		uint64_t h;

		snprintf(v, sizeof(v), "user-%d", k);
		h = up_hash_bytes(v, strlen(v));
		before[k] = up_pick(&s, &h, -1);
		hits[before[k]]++;
		for (int again = 0; again < 3; again++)
			assert_int_equal(up_pick(&s, &h, -1), before[k]);
	}
	for (int i = 0; i < N; i++) /* ring points are random: a looser bound than Maglev's */
		assert_true(hits[i] > KEYS / N * 0.7 && hits[i] < KEYS / N * 1.3);
	/* endpoint 2 leaves: the list without it */
	struct up_addr rest[N - 1];
	for (int i = 0, j = 0; i < N; i++)
		if (i != 2)
			rest[j++] = EPS[i];
	if (eject)
		up_report(&s, 2, UP_HTTP_GATEWAY, 0);
	else
		assert_int_equal(up_set_update(&s, rest, N - 1, 0), 0);
	for (int k = 0; k < KEYS; k++) {
		char v[32];
		uint64_t h;
		int now;

		snprintf(v, sizeof(v), "user-%d", k);
		h = up_hash_bytes(v, strlen(v));
		now = up_pick(&s, &h, -1);
		/* indexes after 2 moved down by one in the new list */
		if (before[k] == 2) {
			assert_int_not_equal(memcmp(&s.ep[now].addr, &EPS[2], sizeof(EPS[0])), 0);
			continue;
		}
		others++;
		kept += memcmp(&s.ep[now].addr, &EPS[before[k]], sizeof(EPS[0])) == 0;
	}
	assert_true((double)kept >= min_kept * (double)others);
	up_set_free(&s);
}

static void test_ring_hash(void **state)
{
	(void)state;
	/* an ejection leaves every other point in place; a smaller list gives each remaining
	 * endpoint more points (minimumRingSize / endpoints, as Envoy sizes it), which moves some */
	hash_picker_checks(M_HASH_RING, true, 1.0);
	hash_picker_checks(M_HASH_RING, false, 0.8);
}

static void test_maglev(void **state)
{
	(void)state;
	hash_picker_checks(M_HASH_MAGLEV, true, 0.97);
	hash_picker_checks(M_HASH_MAGLEV, false, 0.97);
}

/* Maglev's fill gives every key floor(m/n) or ceil(m/n) entries. */
static void test_maglev_table_balance(void **state)
{
	enum { M = 4093, N = 7 };
	uint64_t keys[N];
	uint32_t table[M];
	size_t own[N] = {0};

	(void)state;
	eps_init();
	for (int i = 0; i < N; i++)
		keys[i] = up_endpoint_key(&EPS[i]);
	assert_int_equal(up_maglev_build(keys, N, M, table), 0);
	for (int e = 0; e < M; e++) {
		assert_true(table[e] < N);
		own[table[e]]++;
	}
	for (int i = 0; i < N; i++)
		assert_true(own[i] == M / N || own[i] == M / N + 1);
	assert_int_equal(up_maglev_build(keys, N, N, table), -EINVAL);
}

/* The table is a function of the key set: any order gives the same owner per entry. And a set
 * hashing on the client address picks what the kernel's table (compile_maglev.c: the ready
 * endpoints, SKIFF_MAGLEV_SIZE entries, slot hash % size) holds for that client. */
static void test_maglev_matches_kernel(void **state)
{
	enum { N = 5 };
	static uint32_t a[SKIFF_MAGLEV_SIZE], b[SKIFF_MAGLEV_SIZE];
	static const int order[N] = {3, 0, 4, 2, 1};
	uint64_t keys[N], shuffled[N];
	struct up_addr eps[N];
	struct m_tp_settings p;
	struct up_set s;

	(void)state;
	eps_init();
	for (int i = 0; i < N; i++)
		keys[i] = up_endpoint_key(&EPS[i]);
	for (int i = 0; i < N; i++) {
		shuffled[i] = keys[order[i]];
		eps[i] = EPS[order[i]];
	}
	assert_int_equal(up_maglev_build(keys, N, SKIFF_MAGLEV_SIZE, a), 0);
	assert_int_equal(up_maglev_build(shuffled, N, SKIFF_MAGLEV_SIZE, b), 0);
	for (int e = 0; e < SKIFF_MAGLEV_SIZE; e++)
		assert_int_equal(a[e], (uint32_t)order[b[e]]);

	memset(&p, 0, sizeof(p));
	p.lb.set = true;
	p.lb.simple = M_LB_CONSISTENT_HASH;
	p.lb.hash_on = M_HASH_SOURCE_IP; /* ring hash by default: the kernel's Maglev instead */
	assert_int_equal(up_set_init(&s, &p, eps, N, 1, 0), 0);
	for (uint32_t c = 0; c < 500; c++) {
		struct up_addr client = {.family = SKIFF_AF_INET};
		uint64_t h;
		int got;

		client.addr.v4 = htonl(0xc6120100u + c); /* 198.18.1.0 + c */
		h = up_hash_source(&client);
		got = up_pick(&s, &h, -1);
		assert_memory_equal(
		    &s.ep[got].addr,
		    &EPS[a[skiff_hash_addr(&client.addr, SKIFF_AF_INET) % SKIFF_MAGLEV_SIZE]],
		    sizeof(EPS[0]));
	}
	up_set_free(&s);

	/* maglev.tableSize 1021: the kernel's table has 1021 entries, and so has the set's */
	p.lb.algo = M_HASH_MAGLEV;
	p.lb.maglev_size = 1021;
	assert_int_equal(up_kernel_maglev_size(1021), 1021);
	assert_int_equal(up_kernel_maglev_size(0), SKIFF_MAGLEV_SIZE);
	assert_int_equal(up_kernel_maglev_size(65537), SKIFF_MAGLEV_SIZE);
	assert_int_equal(up_maglev_build(keys, N, 1021, a), 0);
	assert_int_equal(up_set_init(&s, &p, eps, N, 1, 0), 0);
	assert_int_equal(s.maglev_size, 1021);
	for (uint32_t c = 0; c < 500; c++) {
		struct up_addr client = {.family = SKIFF_AF_INET};
		uint64_t h;
		int got;

		client.addr.v4 = htonl(0xc6120100u + c);
		h = up_hash_source(&client);
		got = up_pick(&s, &h, -1);
		assert_memory_equal(&s.ep[got].addr,
				    &EPS[a[skiff_hash_addr(&client.addr, SKIFF_AF_INET) % 1021]],
				    sizeof(EPS[0]));
	}
	up_set_free(&s);
}

/* A retry avoids the endpoint that failed, with every picker, when there is another. */
static void test_exclude(void **state)
{
	static const enum m_lb_simple lbs[] = {M_LB_ROUND_ROBIN, M_LB_RANDOM, M_LB_LEAST_REQUEST};
	struct up_set s;
	uint64_t h = 12345;

	(void)state;
	for (size_t l = 0; l < 3; l++) {
		set_with(&s, lbs[l], 3);
		for (int i = 0; i < 300; i++)
			assert_int_not_equal(up_pick(&s, NULL, i % 3), i % 3);
		up_set_free(&s);
	}
	for (int a = 0; a < 2; a++) {
		int first;

		set_hash(&s, a ? M_HASH_MAGLEV : M_HASH_RING, 3);
		first = up_pick(&s, &h, -1);
		assert_int_not_equal(up_pick(&s, &h, first), first);
		up_set_free(&s);
	}
	set_with(&s, M_LB_RANDOM, 1);
	assert_int_equal(up_pick(&s, NULL, 0), 0); /* the only one */
	up_set_free(&s);
	set_with(&s, M_LB_PASSTHROUGH, 2);
	assert_int_equal(up_pick(&s, NULL, -1), UP_PASSTHROUGH);
	up_set_free(&s);
}

static void test_pool_limits(void **state)
{
	struct m_tp_settings p;
	struct up_set s;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.pool.set = true;
	p.pool.max_connections = 2;
	p.pool.http1_max_pending = 1;
	p.pool.http2_max_requests = 3;
	p.pool.max_retries = 1;
	p.pool.max_requests_per_conn = 2;
	eps_init();
	assert_int_equal(up_set_init(&s, &p, EPS, 2, 1, 0), 0);
	assert_true(up_pool_try_connect(&s));
	assert_true(up_pool_try_connect(&s));
	assert_false(up_pool_try_connect(&s));
	up_pool_conn_done(&s);
	assert_true(up_pool_try_connect(&s));
	assert_true(up_pool_try_pending(&s));
	assert_false(up_pool_try_pending(&s));
	up_pool_pending_done(&s);
	assert_true(up_pool_try_pending(&s));
	for (int i = 0; i < 3; i++)
		assert_true(up_pool_try_request(&s));
	assert_false(up_pool_try_request(&s));
	up_pool_request_done(&s);
	assert_true(up_pool_try_request(&s));
	assert_true(up_pool_try_retry(&s));
	assert_false(up_pool_try_retry(&s));
	up_pool_retry_done(&s);
	assert_true(up_pool_try_retry(&s));
	/* a refused retry is no UO overflow: Envoy counts it as upstream_rq_retry_overflow */
	assert_int_equal(s.pool.overflows, 3);
	assert_int_equal(s.pool.retry_overflows, 1);
	assert_true(up_pool_conn_reusable(&s, 1));
	assert_false(up_pool_conn_reusable(&s, 2));
	up_set_free(&s);

	/* no connectionPool: no limits (Istio's 2^32-1) and no per-connection cap */
	memset(&p, 0, sizeof(p));
	assert_int_equal(up_set_init(&s, &p, EPS, 1, 1, 0), 0);
	for (int i = 0; i < 10000; i++)
		assert_true(up_pool_try_connect(&s) && up_pool_try_request(&s) &&
			    up_pool_try_pending(&s) && up_pool_try_retry(&s));
	assert_true(up_pool_conn_reusable(&s, 1000000));
	assert_int_equal(s.pool.overflows, 0);
	up_set_free(&s);
}

/* ---- outlier detection ---- */

struct events {
	int idx[64];
	bool out[64];
	uint64_t at[64];
	size_t n;
	uint64_t now;
};

static void on_eject(void *ctx, const struct up_set *s, const struct up_endpoint *ep, bool out)
{
	struct events *e = ctx;

	if (e->n < 64) {
		e->idx[e->n] = (int)(ep - s->ep);
		e->out[e->n] = out;
		e->at[e->n++] = e->now;
	}
}

static void od_set(struct up_set *s, struct events *ev, size_t n, uint32_t c5xx, uint32_t maxpct,
		   uint32_t minhealth)
{
	struct m_tp_settings p;

	memset(&p, 0, sizeof(p));
	memset(ev, 0, sizeof(*ev));
	p.lb.set = true;
	p.lb.simple = M_LB_ROUND_ROBIN;
	p.od.set = true;
	p.od.has_5xx = true;
	p.od.consecutive_5xx = c5xx;
	p.od.interval_ms = 10000;
	p.od.base_ejection_ms = 30000;
	p.od.max_ejection_pct = maxpct;
	p.od.min_health_pct = minhealth;
	eps_init();
	assert_int_equal(up_set_init(s, &p, EPS, n, 3, 0), 0);
	up_set_on_eject(s, on_eject, ev);
}

static void report(struct up_set *s, struct events *ev, int i, int times, int status, uint64_t t)
{
	ev->now = t;
	for (int k = 0; k < times; k++)
		up_report(s, i, up_outcome_of_status(status), t);
}

/* Run the interval timer from its next tick up to `until`. */
static void run_ticks(struct up_set *s, struct events *ev, uint64_t until)
{
	while (up_next_tick(s) <= until) {
		ev->now = up_next_tick(s);
		up_tick(s, ev->now);
	}
}

static bool picked_ever(struct up_set *s, int i, int picks)
{
	for (int k = 0; k < picks; k++)
		if (up_pick(s, NULL, -1) == i)
			return true;
	return false;
}

static void test_ejection_timeline(void **state)
{
	struct up_set s;
	struct events ev;

	(void)state;
	od_set(&s, &ev, 5, 3, 100, 0);
	report(&s, &ev, 2, 2, 503, 1000);
	report(&s, &ev, 2, 1, 200, 1000); /* a success resets the count */
	report(&s, &ev, 2, 2, 500, 1500);
	assert_false(s.ep[2].ejected);
	report(&s, &ev, 2, 1, 503, 2000); /* third in a row: out at once */
	assert_true(s.ep[2].ejected);
	assert_int_equal(ev.n, 1);
	assert_true(ev.out[0] && ev.idx[0] == 2 && ev.at[0] == 2000);
	assert_false(picked_ever(&s, 2, 100));
	/* ticks at 10s, 20s, 30s: still out (30s from 2s ends at 32s); back at the 40s tick */
	run_ticks(&s, &ev, 30000);
	assert_true(s.ep[2].ejected);
	run_ticks(&s, &ev, 40000);
	assert_false(s.ep[2].ejected);
	assert_int_equal(ev.n, 2);
	assert_true(!ev.out[1] && ev.at[1] == 40000);
	assert_true(picked_ever(&s, 2, 100));
	/* fails again at once: the second ejection lasts 2 x 30s, back at the first tick >= 101s */
	report(&s, &ev, 2, 3, 502, 41000);
	assert_true(s.ep[2].ejected);
	assert_int_equal(s.ep[2].eject_for_ms, 60000);
	run_ticks(&s, &ev, 100000);
	assert_true(s.ep[2].ejected);
	run_ticks(&s, &ev, 110000);
	assert_false(s.ep[2].ejected);
	assert_int_equal(ev.at[3], 110000);
	/* healthy through whole intervals: the multiplier comes down one per interval */
	assert_int_equal(s.ep[2].ejections, 2);
	run_ticks(&s, &ev, 130000);
	assert_int_equal(s.ep[2].ejections, 0);
	report(&s, &ev, 2, 3, 503, 131000);
	assert_int_equal(s.ep[2].eject_for_ms, 30000);
	up_set_free(&s);
}

/* The ejection time grows with each ejection but stops at 300s (Envoy's max_ejection_time). */
static void test_ejection_cap(void **state)
{
	struct up_set s;
	struct events ev;
	uint64_t t = 0;

	(void)state;
	od_set(&s, &ev, 2, 1, 100, 0);
	for (int k = 1; k <= 12; k++) {
		report(&s, &ev, 0, 1, 503, t);
		assert_true(s.ep[0].ejected);
		assert_int_equal(s.ep[0].eject_for_ms, k * 30000 < 300000 ? k * 30000 : 300000);
		/* to the tick where it returns, and it fails again right there */
		while (s.ep[0].ejected)
			run_ticks(&s, &ev, up_next_tick(&s));
		t = ev.now;
	}
	up_set_free(&s);
}

static void test_max_ejection_percent(void **state)
{
	struct up_set s;
	struct events ev;

	(void)state;
	/* 20% of 10: two may be out, the third failing one stays in */
	od_set(&s, &ev, 10, 1, 20, 0);
	for (int i = 0; i < 3; i++)
		report(&s, &ev, i, 1, 503, 100);
	assert_true(s.ep[0].ejected && s.ep[1].ejected);
	assert_false(s.ep[2].ejected);
	assert_int_equal(s.nejected, 2);
	up_set_free(&s);
	/* 10% (the default) of 5 is half an endpoint: the first goes anyway, not the second */
	od_set(&s, &ev, 5, 1, 10, 0);
	report(&s, &ev, 0, 1, 503, 100);
	report(&s, &ev, 1, 1, 503, 100);
	assert_true(s.ep[0].ejected);
	assert_false(s.ep[1].ejected);
	up_set_free(&s);
	/* 100%: everything may go, and then nothing is left to pick (503 UH) */
	od_set(&s, &ev, 3, 1, 100, 0);
	for (int i = 0; i < 3; i++)
		report(&s, &ev, i, 1, 503, 100);
	assert_int_equal(up_pick(&s, NULL, -1), UP_NO_HEALTHY);
	up_set_free(&s);
}

/* Below minHealthPercent healthy, the balancer ignores ejections (Envoy's panic mode). */
static void test_min_health_percent(void **state)
{
	struct up_set s;
	struct events ev;

	(void)state;
	od_set(&s, &ev, 4, 1, 100, 60);
	report(&s, &ev, 0, 1, 503, 100);
	assert_false(s.panic); /* 75% healthy */
	assert_false(picked_ever(&s, 0, 100));
	report(&s, &ev, 1, 1, 503, 100);
	assert_true(s.panic); /* 50% < 60% */
	assert_true(picked_ever(&s, 0, 100));
	assert_true(picked_ever(&s, 1, 100));
	run_ticks(&s, &ev, 40000);
	assert_false(s.panic);
	up_set_free(&s);
}

/* consecutiveGatewayErrors counts 502/503/504 only, and a 500 breaks the run; a disabled
 * 5xx threshold (0) ejects nothing. */
static void test_gateway_errors(void **state)
{
	struct up_set s;
	struct events ev;

	(void)state;
	od_set(&s, &ev, 3, 0, 100, 0);
	s.pol.od.consecutive_gateway = 2;
	report(&s, &ev, 0, 5, 500, 100);
	assert_false(s.ep[0].ejected);
	report(&s, &ev, 0, 1, 503, 100);
	report(&s, &ev, 0, 1, 500, 100);
	report(&s, &ev, 0, 1, 504, 100);
	assert_false(s.ep[0].ejected);
	report(&s, &ev, 0, 1, 502, 100);
	assert_true(s.ep[0].ejected);
	up_set_free(&s);
}

/* Local-origin failures: counted apart with splitExternalLocalOriginErrors (a connection made
 * resets them), otherwise taken as 503s. */
static void test_local_origin(void **state)
{
	struct up_set s;
	struct events ev;

	(void)state;
	od_set(&s, &ev, 3, 0, 100, 0);
	s.pol.od.split_local = true;
	s.pol.od.consecutive_local = 2;
	up_report(&s, 0, UP_LOCAL_FAILURE, 10);
	up_report(&s, 0, UP_LOCAL_SUCCESS, 10);
	up_report(&s, 0, UP_LOCAL_FAILURE, 10);
	assert_false(s.ep[0].ejected);
	up_report(&s, 0, UP_LOCAL_FAILURE, 10);
	assert_true(s.ep[0].ejected);
	up_set_free(&s);

	od_set(&s, &ev, 3, 2, 100, 0);
	up_report(&s, 1, UP_LOCAL_FAILURE, 10);
	up_report(&s, 1, UP_LOCAL_FAILURE, 10);
	assert_true(s.ep[1].ejected);
	up_set_free(&s);
}

/* A hash set rebuilt on ejection moves only the ejected endpoint's keys, and they come back. */
static void test_hash_ejection(void **state)
{
	struct m_tp_settings p;
	struct up_set s;
	uint64_t h;
	int owner = -1, other;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.lb.set = true;
	p.lb.simple = M_LB_CONSISTENT_HASH;
	p.lb.algo = M_HASH_MAGLEV;
	p.lb.maglev_size = 1021;
	p.od.set = true;
	p.od.has_5xx = true;
	p.od.consecutive_5xx = 1;
	p.od.max_ejection_pct = 100;
	eps_init();
	assert_int_equal(up_set_init(&s, &p, EPS, 4, 1, 0), 0);
	h = up_hash_source(&EPS[9]);
	owner = up_pick(&s, &h, -1);
	up_report(&s, owner, UP_HTTP_GATEWAY, 0);
	other = up_pick(&s, &h, -1);
	assert_int_not_equal(other, owner);
	up_tick(&s, 10000);
	up_tick(&s, 30000);
	assert_int_equal(up_pick(&s, &h, -1), owner);
	up_set_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_robin),
	    cmocka_unit_test(test_random),
	    cmocka_unit_test(test_least_request),
	    cmocka_unit_test(test_ring_hash),
	    cmocka_unit_test(test_maglev),
	    cmocka_unit_test(test_maglev_table_balance),
	    cmocka_unit_test(test_maglev_matches_kernel),
	    cmocka_unit_test(test_exclude),
	    cmocka_unit_test(test_pool_limits),
	    cmocka_unit_test(test_ejection_timeline),
	    cmocka_unit_test(test_ejection_cap),
	    cmocka_unit_test(test_max_ejection_percent),
	    cmocka_unit_test(test_min_health_percent),
	    cmocka_unit_test(test_gateway_errors),
	    cmocka_unit_test(test_local_origin),
	    cmocka_unit_test(test_hash_ejection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
