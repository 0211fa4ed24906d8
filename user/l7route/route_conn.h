/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One client connection of the router and the request under way. Private to user/l7route:
 *   route_conn.c     the connection's thread: read each request, match, answer locally or forward
 *   route_forward.c  tries upstream: endpoint, timeouts, retries, the response back
 *   route_head.c     heads as sent: rewrite and header operations, hop-by-hop fields dropped
 */
#ifndef SKIFF_L7ROUTE_CONN_H
#define SKIFF_L7ROUTE_CONN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "l7/l7_filter.h"
#include "l7/l7_http1.h"
#include "l7route/l7route.h"
#include "l7route/route_io.h"
#include "l7route/route_lb.h"
#include "tracing/trace_ctx.h"

struct l7route {
	struct l7route_opts o;
	struct l7r_pool *pool;
	struct l7r_h2_pool *h2pool; /* HTTP/2 connections to endpoints (route_h2_up.c) */
	struct l7r_workers *h2w;    /* threads kept for HTTP/2 streams (route_workers.c) */
	struct l7r_lbs *lbs; /* DestinationRule balancers, kept across reloads (route_lb.h) */
	pthread_t ticker;    /* outlier detection's interval timer over lbs */
	bool ticker_on;
	pthread_cond_t tick_stop; /* with lock: `stopping` ends the ticker */
	pthread_mutex_t lock;
	pthread_cond_t idle;
	struct l7r_conn *conns; /* every open connection, for l7route_stop */
	size_t nconns;
	bool stopping;
	bool draining;	       /* l7route_drain: each response says Connection: close (atomic) */
	struct l7r_plan *plan; /* of the table in force, shared by its connections (with lock) */
	uint64_t plan_serial;  /* the last plan's (with lock) */
};

/* The last destination picked from and its resolution in the plan: one per thread that picks
 * (a connection's, or each of an HTTP/2 connection's streams), as it is not locked. */
struct l7r_pick_cache {
	const struct l7_dest *d;
	const struct l7r_lb_target *tg;
};

struct l7r_conn {
	struct l7route *rt;
	int fd;
	struct skiff_punt_key client;
	struct skiff_sock_origin vip;
	const struct l7_table *t;
	void *ref; /* keeps t and its model alive */
	const struct l7_svcport *sp;
	const struct m_pod *src_pod;
	struct l7_buf in;	    /* client bytes read, not yet used */
	bool close;		    /* close after the response under way */
	int up_fd;		    /* the upstream connection in use, -1 when none */
	struct l7r_plan *plan;	    /* t's, NULL: out of memory */
	struct l7r_pick_cache pick; /* the connection thread's picks */
	struct l7r_conn *next, *prev;
};

struct l7r_req {
	struct h1_head head;
	struct h1_msg msg;
	struct l7r_request rq;
	struct l7_buf body; /* raw body bytes, framing included */
	struct h1_body bstate;
	bool body_done; /* all of it is in `body`: the request may be retried */
	const struct l7_route *route;
	const struct m_http_match *matched; /* the match that chose the route, NULL: none */
	const struct l7_dest *dest;
	struct l7r_record rec;
	/* tracing (route_trace.c): this hop's CLIENT span, propagated to the endpoint */
	struct trace_ids trace;
	char request_id[TRACE_REQID_LEN];
	bool request_id_new; /* the client sent none: the router's goes upstream */
	uint64_t trace_start_us;
	char set_cookie[384]; /* a generated hash cookie's Set-Cookie field, "" when none */
};

/* route_plan.c: table t's plan, shared (one user more), NULL when out of memory; given back
 * with l7r_plan_put. l7r_plan_drop: the router lets go of its current plan (at stop). */
struct l7r_plan *l7r_plan_get(struct l7route *r, const struct l7_table *t);
void l7r_plan_put(struct l7route *r, struct l7r_plan *p);
void l7r_plan_drop(struct l7route *r);
/* d resolved for clients in client_ns, once per plan (NULL: out of memory). */
const struct l7r_lb_target *l7r_plan_target(struct l7route *r, struct l7r_plan *p,
					    const struct l7_dest *d, const char *client_ns);
/* The endpoint of d for a request of c (l7r_lb_pick_target through the plan), `pc` remembering
 * the last resolution for the calling thread. */
const struct l7_endpoint *l7r_plan_pick(struct l7r_conn *c, struct l7r_pick_cache *pc,
					const struct l7_dest *d, const struct l7r_request *rq,
					const struct l7_endpoint *avoid, struct l7r_lb_pick *p);
/* The endpoint of d for the connection's request (l7r_lb_pick_target through the plan). */
const struct l7_endpoint *l7r_conn_pick(struct l7r_conn *c, const struct l7_dest *d,
					const struct l7r_request *rq,
					const struct l7_endpoint *avoid, struct l7r_lb_pick *p);

/* route_h2_conn.c: does the connection open with the HTTP/2 preface? Then its streams are
 * routed each as a request (route_h2.h). */
bool l7r_is_h2(struct l7r_conn *c);
void l7r_h2_serve(struct l7r_conn *c);

/* route_conn.c: serve the connection's requests until either side closes. */
void l7r_conn_serve(struct l7r_conn *c);
/* Send a response the router makes itself, and record it. */
int l7r_answer(struct l7r_conn *c, struct l7r_req *q, int status, const char *ctype,
	       const char *body, size_t len, const char *extra_fields);
/* The client's remaining body bytes (beyond what is buffered) to `up_fd`, or discarded. */
int l7r_body_rest(struct l7r_conn *c, struct l7r_req *q, int up_fd, uint64_t deadline);

/* The first match of q->route that accepts the request (for a prefix rewrite) into q->matched. */
void l7r_note_match(struct l7r_req *q);
/* The Location of a redirect answer. */
void l7r_redirect_location(const struct l7r_req *q, const struct m_redirect *r, char *loc,
			   size_t len);

/* route_mirror.c: the route's mirrors, each drawn with its percentage, fire and forget. */
void l7r_mirror(struct l7r_conn *c, struct l7r_req *q);
/* A mirror's Host, as Envoy marks shadowed traffic: "reviews:9080" -> "reviews-shadow:9080". */
void l7r_shadow_host(const char *host, char *out, size_t len);

/* What a mirror job starts with (each protocol's job embeds it first): where the copy goes and
 * whose identity a tunnel to another node carries. */
struct l7r_mirror {
	struct l7route *rt;
	struct skiff_punt_key client;
	struct l7_endpoint ep;
};

/* How one protocol makes, runs and drops its copies. */
struct l7r_mirror_ops {
	size_t size;				      /* of the job, >= sizeof(struct l7r_mirror) */
	int (*fill)(struct l7r_mirror *m, void *arg); /* the copy itself; nonzero: no copy */
	void *(*run)(void *job);		      /* on the copy's thread; frees the job */
	void (*drop)(struct l7r_mirror *m);	      /* frees what fill made (not the job) */
};

/* route_mirror_spawn.c: a copy to an endpoint of `d` picked uniformly: a zeroed job of
 * ops->size with the router, the client of `c` and the endpoint, filled by ops->fill(job, arg),
 * run by ops->run on a detached thread of its own. When the copy cannot go, ops->drop and the
 * job is freed: a mirror never fails the request. */
void l7r_mirror_spawn(struct l7r_conn *c, const struct l7_dest *d, const struct l7r_mirror_ops *ops,
		      void *arg);

/* What one try upstream gave. */
enum l7r_outcome {
	OUT_RESPONSE,	  /* a response head arrived */
	OUT_CONNECT_FAIL, /* UF */
	OUT_RESET,	  /* UC: closed or reset before a response head */
	OUT_REFUSED,	  /* HTTP/2 REFUSED_STREAM: the endpoint did not start the request */
	OUT_TRY_TIMEOUT,  /* the per-try timeout passed */
	OUT_TIMEOUT,	  /* the route timeout passed: UT, never retried */
	OUT_CLIENT_GONE,
};

/* Envoy's texts for the answers the router makes when upstream fails. */
#define L7R_BODY_RESET "upstream connect error or disconnect/reset before headers. reset reason: "
#define L7R_BODY_UF    L7R_BODY_RESET "connection failure"
#define L7R_BODY_UC    L7R_BODY_RESET "connection termination"
#define L7R_BODY_UO    L7R_BODY_RESET "overflow"
#define L7R_BODY_UT    "upstream request timeout"
#define L7R_BODY_UH    "no healthy upstream"
#define L7R_BODY_FI    "fault filter abort"

/* route_forward.c: the request to an endpoint of q->dest, with retries; the response back. */
int l7r_forward(struct l7r_conn *c, struct l7r_req *q);
/* Does the retry policy retry this outcome (and response: its status and fields, grpc-status
 * and x-envoy-ratelimited included)? Envoy's meaning of each condition. */
bool l7r_retriable(const struct m_retries *r, enum l7r_outcome o, const struct h1_msg *rs);

/* route_retry.c: what happens between two tries, for HTTP/1.1 and HTTP/2 alike. `wait` sleeps
 * until `until` (CLOCK_MONOTONIC ns): 0, or non-zero when the client left meanwhile. */
typedef int (*l7r_retry_wait_fn)(void *arg, uint64_t until);
struct l7r_retry {
	struct m_retries def;	    /* Istio's default, when the route sets none */
	const struct m_retries *rp; /* the policy in force */
	unsigned tries, done;	    /* tries allowed (1 when the body is not held whole), made */
	uint64_t route_dl;	    /* the route timeout's deadline */
	const struct l7_endpoint *last; /* the last try's endpoint: a retry avoids it */
	struct l7r_lb *held;		/* the maxRetries slot of the retry under way */
	bool matched;			/* the last try's outcome matched retryOn */
	l7r_retry_wait_fn wait;
	void *arg;
};
void l7r_retry_begin(struct l7r_retry *r, const struct m_http_route *h, bool buffered,
		     l7r_retry_wait_fn wait, void *arg);
/* The deadline of the next try: its per-try timeout, within the route's. */
uint64_t l7r_retry_try_deadline(const struct l7r_retry *r);
/* After a try with outcome *o (rs: its response head and trailers, for retryOn): true when
 * another try goes, the retry budget taken and the back-off waited (lp given back). false: *o
 * stands, or became OUT_TIMEOUT / OUT_CLIENT_GONE during the back-off. */
bool l7r_retry_again(struct l7r_retry *r, struct l7r_lb_pick *lp, enum l7r_outcome *o,
		     const struct h1_msg *rs);
/* The answer is a retried one that still matched retryOn (flag URX). */
bool l7r_retry_urx(const struct l7r_retry *r, enum l7r_outcome o, unsigned attempts);
/* The retry budget given back (the request is over). */
void l7r_retry_end(struct l7r_retry *r);
/* A try's outcome as outlier detection counts it (enum up_outcome); -1: not the endpoint's. */
int l7r_up_outcome(enum l7r_outcome o, int status);
/* The same-node AuthorizationPolicy for the client -> this endpoint: true when allowed. */
bool l7r_authorized(struct l7r_conn *c, struct l7r_req *q, const struct l7_endpoint *ep);

/* route_trace.c: the request's trace context and x-request-id, then its span once answered. */
void l7r_trace_begin(struct l7r_conn *c, struct l7r_req *q);
void l7r_trace_end(struct l7r_conn *c, struct l7r_req *q);
/* The propagation fields (and a generated x-request-id) for the endpoint, lower-case, each to
 * `emit`; the caller leaves out the client's own (trace_field_replaced). */
int l7r_trace_fields(const struct l7r_req *q, int (*emit)(void *, const char *, const char *),
		     void *arg);
struct trace_span;
/* A mirror's copy of q to `ep` of `d`, sent with Host `host` and span `ids` (a child of q's):
 * its span, malloc'd, NULL when not sampled; ended (submitted and freed) with the status the
 * mirror answered, 0 for none. */
struct trace_span *l7r_trace_mirror_begin(struct l7r_conn *c, struct l7r_req *q,
					  const struct l7_dest *d, const struct l7_endpoint *ep,
					  const char *host, const struct trace_ids *ids);
void l7r_trace_mirror_end(struct trace_span *s, int status);

/* route_head.c */
typedef int (*l7r_field_fn)(void *arg, const char *name, const char *value);
/* Fields `f` less hop-by-hop ones and those the operations remove or set, then the set and add
 * of `route` then `dest` (either may be NULL), each to `emit`. */
int l7r_fields(const struct authz_header *f, size_t n, const struct m_header_ops *route,
	       const struct m_header_ops *dest, l7r_field_fn emit, void *arg);
/* The route's and destination's header operations on the request or the response. */
void l7r_header_ops(const struct l7r_req *q, bool response, const struct m_header_ops **route,
		    const struct m_header_ops **dest);
/* The authority the upstream sees after rewrite. */
const char *l7r_rewritten_authority(const struct l7r_req *q);
int l7r_request_head(const struct l7r_conn *c, const struct l7r_req *q, struct l7_buf *out);
int l7r_response_head(const struct l7r_conn *c, const struct l7r_req *q, const struct h1_msg *rs,
		      struct l7_buf *out);
/* The path the upstream sees after rewrite (malloc'd). */
char *l7r_rewritten_path(const struct l7r_req *q);

#endif
