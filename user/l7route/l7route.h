/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skiffd's L7 router: the client-side proxy for Service ports with HTTP rules (compile_l7.h).
 * The kernel punts a mesh pod's connection to such a VIP:port to the outbound listener; the proxy
 * hands it here, and the router reads each HTTP/1.1 request, picks the first matching route, a
 * weighted destination and an endpoint per request, and applies the route's fault, timeout,
 * retries, rewrite, headers, redirect and directResponse. Upstream connections are kept alive and
 * reused per endpoint.
 *
 * Each client connection is served by its own thread with blocking I/O and deadlines: a retry,
 * a per-try timeout or a fault delay is then straight-line code. Connections are bounded
 * (L7R_MAX_CONNS); past it a connection is refused with a reset.
 */
#ifndef SKIFF_L7ROUTE_H
#define SKIFF_L7ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "compile/compile_l7.h"
#include "l7route/route_request.h"
#include "metrics/metrics.h"
#include "proxy/proxy.h"
#include "skiff/punt.h"

#define L7R_MAX_CONNS	   4096
#define L7R_BODY_BUFFER	   (64 << 10) /* request bodies up to this are kept for retries */
#define L7R_CONNECT_MS	   10000      /* Istio's default connectTimeout */
#define L7R_IDLE_PER_HOST  64	      /* idle upstream connections kept per endpoint */
#define L7R_IDLE_MS	   3600000    /* Istio's default http.idleTimeout */
#define L7R_STREAM_IDLE_MS 300000     /* Envoy's stream_idle_timeout, which Istio keeps */

struct l7route_opts {
	/* The table in force and a reference that keeps it (and its model) alive: NULL when there
	 * is none. `release` drops the reference. Any thread. */
	const struct l7_table *(*acquire)(void *ctx, void **ref);
	void (*release)(void *ref);
	/* The client pod by address (for sourceLabels / sourceNamespace), from the same snapshot. */
	const struct m_pod *(*client_pod)(void *ref, const struct skiff_punt_key *client);
	/* AuthorizationPolicy of the destination pod, as the proxy applies it (may be NULL). */
	proxy_authz_fn authz;
	/* A connection to `ep`, a pod on another node, over HBONE with the identity of `client`: an
	 * fd, -ENOENT to dial it directly (the mesh carries no mTLS: no --ca-dir), or < 0 (failed).
	 * NULL: endpoints on other nodes are dialled directly. `traceparent`: the CONNECT's (the
	 * request's span, the destination's parent), NULL for a new one. */
	int (*tunnel)(void *ctx, const struct skiff_punt_key *client,
		      const struct skiff_sock_origin *ep, const char *traceparent);
	/* Outlier detection ejected endpoint `ep` of the Service port `svc` (its VIP, port, TCP), or
	 * its ejection ended (`out` false): the kernel's backends should follow (may be NULL). Called
	 * on the router's threads, with a balancer's lock held: hand it on, do not block. */
	void (*eject)(void *ctx, const struct skiff_svc_key *svc,
		      const struct skiff_sock_origin *ep, bool out);
	/* What happened to each request (may be NULL). */
	void (*record)(void *ctx, const struct l7_svcport *sp, const struct l7r_record *rec);
	/* A request with no byte either way for this long ends (504, UT): 0 for
	 * L7R_STREAM_IDLE_MS. Without it a route with no timeout left a thread on an endpoint that
	 * stopped answering or reading for as long as the endpoint liked. */
	uint64_t stream_idle_ms;
	void *ctx;
};

struct l7route;

int l7route_start(const struct l7route_opts *o, struct l7route **out);
/* Take a punted connection whose original destination is `dst`: true when `dst` is an L7 service
 * port (the router owns `fd` from then on), false when it is not one (the caller keeps fd). */
bool l7route_take(struct l7route *r, int fd, const struct skiff_punt_key *client,
		  const struct skiff_sock_origin *dst);
/* Drain (a new skiffd took the listeners, or SIGTERM): every connection ends after the response
 * to its next request, which says `Connection: close`; idle ones stay until then or until the
 * caller's deadline. */
void l7route_drain(struct l7route *r);
/* Client connections open now. */
size_t l7route_open(struct l7route *r);
/* Refuse new connections, end every open one and wait (5 s at most) for their threads; the
 * caller may still be handing connections over meanwhile. True when all ended. */
bool l7route_quiesce(struct l7route *r);
/* Quiesce, then free (unless a thread still runs: then the router is left to it). */
void l7route_stop(struct l7route *r);

/* One routed request as Istio's client-side proxy reports it (route_metrics.c): reporter
 * "source", the client pod's workload, the endpoint reached and its Service, the status and
 * Envoy's flags (in `flags`, which k->response_flags then points at), and its duration and
 * sizes in `h`. */
void l7r_metrics(const struct l7r_record *rec, const char *trust_domain, struct metrics_key *k,
		 struct metrics_http *h, char *flags, size_t len);

#endif
