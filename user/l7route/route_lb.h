/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DestinationRule load balancing for the router's requests. Private to user/l7route.
 *
 * Each (Service, subset, port, DestinationRule) the router sends to has one upstream set
 * (user/l7/upstream.h) that outlives table reloads: round-robin position, requests in flight and
 * the hash tables carry over, and a reload that changes the endpoints or the policy updates or
 * rebuilds the set the next time a request needs it.
 */
#ifndef SKIFF_L7ROUTE_LB_H
#define SKIFF_L7ROUTE_LB_H

#include "compile/compile_l7.h"
#include "l7route/route_request.h"
#include "l7route/route_io.h"
#include "skiff/punt.h"

struct l7r_lbs;
struct l7r_lb;

/* What l7r_lb_pick chose: its outcome goes to l7r_lb_report, and l7r_lb_end when the request
 * to it is over. */
struct l7r_lb_pick {
	struct l7r_lb *lb; /* NULL: nothing to report or end */
	int idx;
	struct skiff_sock_origin ep; /* the set may be updated meanwhile: idx must still be it */
	bool admitted;		     /* holds a request and a connection of the set's pool */
};

/* An ejection (`out`) or a return, for the kernel's copy of service port `svc`. Called with a
 * set's lock held, on any router thread: it must only hand the event on. */
typedef void (*l7r_eject_fn)(void *ctx, const struct skiff_svc_key *svc,
			     const struct skiff_sock_origin *ep, bool out);

struct l7r_lbs *l7r_lbs_new(l7r_eject_fn eject, void *ctx);
void l7r_lbs_free(struct l7r_lbs *b);

/*
 * A destination resolved for the clients of one namespace, once per table (route_plan.c): the
 * DestinationRule that applies, its merged policy and the set it names. Picking from it costs
 * the request's hash and the set's pick, nothing that depends only on the table.
 */
struct l7r_lb_target {
	const struct l7_dest *d;
	const char *client_ns;	  /* from the table's model; NULL: a client the model lacks */
	struct l7r_lb *lb;	  /* NULL: no set (out of memory): endpoints picked uniformly */
	struct m_tp_settings pol; /* merged, before defaults; strings point into the model */
	uint64_t serial;	  /* the table's, never reused; 0: check the set on every pick */
};

/* Resolve `d` for clients in `client_ns` under table `serial`, and bring its set to d's
 * endpoints and policy. */
void l7r_lb_resolve(struct l7r_lbs *b, const struct model *m, const struct l7_dest *d,
		    const char *client_ns, uint64_t serial, struct l7r_lb_target *tg);
/* l7r_lb_pick for a resolved destination: the set is checked against d only when a request
 * under another table used it last. */
const struct l7_endpoint *l7r_lb_pick_target(const struct l7r_lb_target *tg,
					     const struct l7r_request *rq,
					     const struct skiff_punt_key *client,
					     const struct l7_endpoint *avoid,
					     struct l7r_lb_pick *p);

/*
 * The endpoint of `d` for request `rq` from `client`, by the policy in force for the destination
 * (the rule seen from the client's namespace, else the Service's, else the root namespace; no
 * rule: Istio's default, LEAST_REQUEST). `avoid`: an endpoint of d to keep away from (a retry),
 * or NULL. NULL when none is healthy (503 UH). PASSTHROUGH has no destination of its own here:
 * the endpoint is then chosen uniformly. Resolves d on every call: the router resolves once
 * per table and calls l7r_lb_pick_target.
 */
const struct l7_endpoint *l7r_lb_pick(struct l7r_lbs *b, const struct model *m,
				      const struct l7_dest *d, const struct l7r_request *rq,
				      const struct skiff_punt_key *client,
				      const struct l7_endpoint *avoid, struct l7r_lb_pick *p);
/* The request to p's endpoint ended (LEAST_REQUEST's count). */
void l7r_lb_end(struct l7r_lb_pick *p);
/*
 * connectionPool for one try to p's endpoint (HTTP/1.1: the request holds one upstream
 * connection while it is under way). Over http2MaxRequests, or with maxConnections in use and
 * http1MaxPendingRequests already waiting: -EBUSY, answer 503 with flag UO. Otherwise it waits
 * for a connection when it must (until `deadline_ns`, CLOCK_MONOTONIC, or the connect timeout;
 * a wait that times out is an overflow too). 0: admitted, released by l7r_lb_end.
 */
int l7r_lb_admit(struct l7r_lb_pick *p, uint64_t deadline_ns);
/* connectionPool's per-connection settings for the tries to p's endpoint (route_lb_pool.c). */
struct l7r_up_opts {
	uint64_t connect_ms;		/* tcp.connectTimeout */
	struct l7r_keepalive ka;	/* tcp.tcpKeepalive */
	uint32_t max_requests_per_conn; /* http.maxRequestsPerConnection, 0: no limit */
	uint64_t idle_ms;		/* http.idleTimeout */
};
/* p's set's settings, with Istio's defaults (10 s, no keepalive, no limit, 1 h) when p has no
 * set. */
void l7r_lb_up_opts(const struct l7r_lb_pick *p, struct l7r_up_opts *o);
/*
 * http.maxRetries: the retries under way for p's set, from the retry's back-off to the end of
 * its try. 0: the retry may go, *held names what l7r_lb_retry_done gives back (NULL: nothing);
 * -EBUSY: over the limit, no retry (Envoy's upstream_rq_retry_overflow, counted).
 */
int l7r_lb_retry_take(const struct l7r_lb_pick *p, struct l7r_lb **held);
void l7r_lb_retry_done(struct l7r_lb *held);
/* Retries refused by maxRetries so far in p's set (upstream_rq_retry_overflow). */
uint64_t l7r_lb_retry_overflows(const struct l7r_lb_pick *p);
/*
 * consistentHash.httpCookie with a ttl and a request without the cookie: the Set-Cookie field
 * (with its CRLF) for the value the request was hashed on, into buf; "" otherwise. Envoy's form:
 * name="value"; Max-Age=seconds; Path=path; HttpOnly.
 */
void l7r_lb_set_cookie(const struct l7r_lb_pick *p, const struct l7r_request *rq,
		       const struct skiff_punt_key *client, char *buf, size_t len);

/* What one try to p's endpoint gave (outlier detection); may eject it. */
void l7r_lb_report(struct l7r_lb_pick *p, int outcome /* enum up_outcome */);
/* Outlier detection's interval timer for every set: ejections that are over end. */
void l7r_lbs_tick(struct l7r_lbs *b);

/* The request's hash for a consistent-hash policy `lb`: false when the request lacks the
 * attribute (a header, cookie or query parameter). A cookie policy with a ttl never lacks it:
 * the request is hashed on the value l7r_lb_cookie_value generates for it. */
bool l7r_lb_hash(const struct m_lb_policy *lb, const struct l7r_request *rq,
		 const struct skiff_punt_key *client, uint64_t *out);
/* Does the request carry cookie `name`? */
bool l7r_lb_has_cookie(const struct l7r_request *rq, const char *name);
/* The cookie value generated for a request without it: 16 hex digits from the client's address
 * and the request's cookie_seed, so the pick and the Set-Cookie agree. */
void l7r_lb_cookie_value(const struct l7r_request *rq, const struct skiff_punt_key *client,
			 char out[17]);

#endif
