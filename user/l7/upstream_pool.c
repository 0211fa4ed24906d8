// SPDX-License-Identifier: Apache-2.0
/*
 * connectionPool as Envoy's circuit breakers: counters per set against the policy's limits. A
 * refused try is an overflow; the caller answers 503 with response flag UO and does not queue.
 */
#include "l7/upstream_internal.h"

static bool try_take(struct up_set *s, uint32_t *count, uint32_t limit)
{
	if (*count >= limit) {
		s->pool.overflows++;
		return false;
	}
	(*count)++;
	return true;
}

static void give_back(uint32_t *count)
{
	if (*count)
		(*count)--;
}

bool up_pool_try_connect(struct up_set *s)
{
	return try_take(s, &s->pool.conns, s->pol.pool.max_connections);
}

void up_pool_conn_done(struct up_set *s)
{
	give_back(&s->pool.conns);
}

/* Envoy's max_requests bounds the requests in flight to the cluster whatever the protocol;
 * Istio fills it from http2MaxRequests. */
bool up_pool_try_request(struct up_set *s)
{
	return try_take(s, &s->pool.active, s->pol.pool.http2_max_requests);
}

void up_pool_request_done(struct up_set *s)
{
	give_back(&s->pool.active);
}

bool up_pool_try_pending(struct up_set *s)
{
	return try_take(s, &s->pool.pending, s->pol.pool.http1_max_pending);
}

void up_pool_pending_done(struct up_set *s)
{
	give_back(&s->pool.pending);
}

bool up_pool_try_retry(struct up_set *s)
{
	if (s->pool.retries >= s->pol.pool.max_retries) {
		s->pool.retry_overflows++;
		return false;
	}
	s->pool.retries++;
	return true;
}

void up_pool_retry_done(struct up_set *s)
{
	give_back(&s->pool.retries);
}

bool up_pool_conn_reusable(const struct up_set *s, uint32_t served)
{
	uint32_t max = s->pol.pool.max_requests_per_conn;

	return !max || served < max;
}
