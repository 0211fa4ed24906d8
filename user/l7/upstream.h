/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Upstream endpoint sets: DestinationRule trafficPolicy as the per-request proxy applies it.
 *
 * One `struct up_set` per (Service, subset, port): its endpoints, the load balancer that picks
 * one per request (ROUND_ROBIN, LEAST_REQUEST, RANDOM, ring hash, Maglev), the connection pool's
 * limits (an overflow is answered 503 with response flag UO) and outlier detection (consecutive
 * errors eject an endpoint for baseEjectionTime x its ejections). Pure: no sockets, no clock
 * (every call that needs time takes `now_ms`, any monotonic millisecond clock), no threads (the
 * caller serialises calls on one set). docs/traffic-policy.md says what Istio field maps to what.
 */
#ifndef SKIFF_L7_UPSTREAM_H
#define SKIFF_L7_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "skiff/lb.h"

/* An endpoint's address: IPv4 in addr.v6[0], network byte order; port in host order. */
struct up_addr {
	union skiff_addr addr;
	uint16_t port;
	uint8_t family; /* SKIFF_AF_INET or SKIFF_AF_INET6 */
};

struct up_endpoint {
	struct up_addr addr;
	uint64_t key;	 /* up_endpoint_key(addr): its place on the ring and in Maglev */
	uint32_t active; /* requests in flight (LEAST_REQUEST) */
	/* outlier detection */
	uint32_t cons_5xx, cons_gateway, cons_local;
	uint32_t ejections; /* the ejection time multiplier: ejections not yet forgiven */
	bool ejected;
	uint64_t ejected_at_ms, eject_for_ms;
	uint64_t healthy_since_ms; /* when it last returned (or joined) */
};

struct up_ring_entry {
	uint64_t hash;
	uint32_t ep;
};

/* Connection-pool counters of one set (Envoy's circuit breakers are per cluster). */
struct up_pool {
	uint32_t conns;		  /* open upstream connections */
	uint32_t active;	  /* requests in flight */
	uint32_t pending;	  /* requests waiting for a connection (HTTP/1.1) */
	uint32_t retries;	  /* retries in flight */
	uint64_t overflows;	  /* requests or connections refused (UO) */
	uint64_t retry_overflows; /* retries refused by maxRetries (upstream_rq_retry_overflow) */
};

struct up_set;
/* Called when endpoint `ep` is ejected (`out` true) or returns; the agent takes it out of the
 * kernel's backend maps and puts it back (dp_backend_eject). */
typedef void (*up_eject_fn)(void *ctx, const struct up_set *s, const struct up_endpoint *ep,
			    bool out);

struct up_set {
	struct m_tp_settings pol; /* effective policy with defaults; strings cleared */
	struct up_endpoint *ep;
	size_t n;
	size_t nejected;
	uint32_t *cand; /* endpoints the balancer picks from: the healthy ones (or all: panic) */
	size_t ncand;
	bool panic; /* healthy share below minHealthPercent: pick from every endpoint */
	uint32_t rr;
	uint64_t rng;
	uint32_t *maglev; /* MAGLEV: maglev_size entries, each an index into ep[] */
	uint32_t maglev_size;
	struct up_ring_entry *ring; /* ring hash: sorted by hash */
	size_t nring;
	struct up_pool pool;
	uint64_t next_tick_ms;
	uint64_t last_tick_ms;
	up_eject_fn on_eject;
	void *cb_ctx;
};

/* up_pick's answers besides an index into ep[] */
#define UP_NO_HEALTHY  (-1) /* nothing to pick: answer 503, response flag UH */
#define UP_PASSTHROUGH (-2) /* PASSTHROUGH: keep the connection's own destination */

/*
 * A set for `eps[0..n)` under policy `pol` (an effective policy from model_traffic_policy; its
 * defaults are filled in here). `seed` seeds the random choices (RANDOM, LEAST_REQUEST, the
 * round robin's start) so tests can repeat a run. 0 or -ENOMEM.
 */
int up_set_init(struct up_set *s, const struct m_tp_settings *pol, const struct up_addr *eps,
		size_t n, uint64_t seed, uint64_t now_ms);
/* New endpoint list (an EndpointSlice change): endpoints still present keep their counters and
 * ejection state; the hash tables are rebuilt. 0 or -ENOMEM (then the set is unchanged). */
int up_set_update(struct up_set *s, const struct up_addr *eps, size_t n, uint64_t now_ms);
void up_set_free(struct up_set *s);
void up_set_on_eject(struct up_set *s, up_eject_fn fn, void *ctx);

/*
 * Pick the endpoint for one request: an index into s->ep, UP_NO_HEALTHY or UP_PASSTHROUGH.
 * `hash`: the request's hash for a consistent-hash policy (up_hash_*), NULL when the request
 * lacks the attribute (then a random point, as Envoy does). `exclude`: an endpoint to avoid (a
 * retry goes elsewhere) or -1; it is still picked when it is the only candidate.
 */
int up_pick(struct up_set *s, const uint64_t *hash, int exclude);
/* A request to endpoint i starts / ends (LEAST_REQUEST's load). */
void up_request_begin(struct up_set *s, int i);
void up_request_end(struct up_set *s, int i);

/* Request hashes: a header value, cookie value or query parameter value, or the client's
 * address (the same value the kernel hashes: skiff_hash_addr). */
uint64_t up_hash_bytes(const void *p, size_t n);
uint64_t up_hash_source(const struct up_addr *client);
uint64_t up_endpoint_key(const struct up_addr *a);

/*
 * Maglev lookup table: table[0..m) filled with indexes into keys[0..n), each key owning about
 * m/n entries; a key leaving moves only the entries it owned (and few others). m must be a prime
 * above n. The table depends on the set of keys, not on their order. 0, -EINVAL or -ENOMEM.
 * The kernel's table (SKIFF_SVC_F_MAGLEV) is built with it, and a set hashing on the client
 * address uses the kernel's size, so both paths send one client to the same endpoint.
 */
int up_maglev_build(const uint64_t *keys, size_t n, uint32_t m, uint32_t *table);
/* The kernel's table size for a source-address hash with maglev.tableSize `table_size` (0 when
 * unset): the size itself up to SKIFF_MAGLEV_SIZE (validation keeps larger ones away from a
 * source-address hash), SKIFF_MAGLEV_SIZE otherwise, which is also the default. */
uint32_t up_kernel_maglev_size(uint64_t table_size);

/* ---- connection pool (connectionPool) ----
 * Each try_* returns true and counts, or false and counts an overflow: the caller answers 503
 * with response flag UO. Every successful try_* is paired with its *_done. */
bool up_pool_try_connect(struct up_set *s); /* tcp.maxConnections */
void up_pool_conn_done(struct up_set *s);
bool up_pool_try_request(struct up_set *s); /* http.http2MaxRequests (all protocols) */
void up_pool_request_done(struct up_set *s);
bool up_pool_try_pending(struct up_set *s); /* http.http1MaxPendingRequests */
void up_pool_pending_done(struct up_set *s);
/* http.maxRetries: a refused retry is not an overflow (the request is answered with what its
 * last try gave) but counts in retry_overflows. */
bool up_pool_try_retry(struct up_set *s);
void up_pool_retry_done(struct up_set *s);
/* May a connection that has carried `served` requests carry another (maxRequestsPerConnection)? */
bool up_pool_conn_reusable(const struct up_set *s, uint32_t served);

/* ---- outlier detection (outlierDetection) ---- */
enum up_outcome {
	UP_OK,		  /* a response below 500 */
	UP_HTTP_5XX,	  /* 500, 501, 505...: counts as a 5xx error */
	UP_HTTP_GATEWAY,  /* 502, 503, 504: a 5xx error and a gateway error */
	UP_LOCAL_FAILURE, /* connect failure, reset, timeout: no response from the endpoint */
	UP_LOCAL_SUCCESS, /* the connection to it was made */
};
enum up_outcome up_outcome_of_status(int status);
/*
 * The outcome of one request to endpoint i. An endpoint reaching consecutive5xxErrors,
 * consecutiveGatewayErrors or (with splitExternalLocalOriginErrors) consecutiveLocalOriginFailures
 * is ejected at once, if maxEjectionPercent allows (Envoy always allows one), for
 * baseEjectionTime x its ejection count (at most max(baseEjectionTime, 300s)).
 */
void up_report(struct up_set *s, int i, enum up_outcome o, uint64_t now_ms);
/* The detector's interval timer: call at up_next_tick() (earlier calls do nothing). Ejected
 * endpoints whose time is up return; one healthy for a whole interval has its multiplier
 * lowered by one. */
void up_tick(struct up_set *s, uint64_t now_ms);
uint64_t up_next_tick(const struct up_set *s);

#endif
