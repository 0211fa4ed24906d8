/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP/2 in the router: a client connection that opens with the HTTP/2 preface (h2c prior
 * knowledge, gRPC) has each of its streams routed as a request of its own. Private to
 * user/l7route:
 *   route_h2_conn.c    the connection's thread: nghttp2 as the server, request DATA handed to
 *                      the streams and their responses written back as they come, the flood
 *                      and size limits of the h2c filter (l7/l7_h2.h)
 *   route_h2_limits.c  those limits, counted per frame
 *   route_h2_stream.c  a stream's thread: match, local answers, fault, tries with retries
 *   route_h2_up.c      one try: the request over HTTP/2 to the endpoint (pooled per endpoint,
 *                      HBONE for remote ones), judged on its response head, then the rest of
 *                      the response streamed
 *   route_h2_fields.c  header lists as both sides keep them; nghttp2's frames for one write
 *   route_h2_mirror.c  mirrors of a stream, over HTTP/2
 * Between tries a stream runs the policy HTTP/1.1 runs (route_retry.c), and it picks endpoints
 * through the table's plan (route_plan.c) with a cache of its own.
 *
 * A stream is routed as soon as its request head is complete, on a thread of its own; its request
 * DATA goes upstream as it arrives and the response comes back as it arrives (gRPC streaming,
 * large uploads). Both directions are bounded by HTTP/2 flow control rather than by buffers:
 * the client's window is granted back only for bytes a try has taken, and the endpoint's only
 * for bytes handed to the client. The request is also kept, up to L7R_BODY_BUFFER, for retries;
 * past it, or once the response head went to the client, the stream is not retried (Envoy's
 * rule). The connection's own thread is the only one that touches its nghttp2 state; the
 * stream's thread owns its upstream session; the two meet in the stream under h->lock.
 */
#ifndef SKIFF_L7ROUTE_H2_H
#define SKIFF_L7ROUTE_H2_H

#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "l7route/route_conn.h"

#define L7R_H2_MAX_STREAMS   128	/* SETTINGS_MAX_CONCURRENT_STREAMS to the client */
#define L7R_H2_BODY_MAX	     (4 << 20)	/* a mirror's response body, read and dropped */
#define L7R_H2_IDLE_PER_HOST 16		/* idle upstream HTTP/2 connections kept per endpoint */
#define L7R_H2_STREAM_WINDOW (1 << 20)	/* unsent bytes a stream may hold, each way */
#define L7R_H2_CONN_WINDOW   (16 << 20) /* unsent request bytes a client connection may hold */

/* A header list: names lower-case as HTTP/2 sends them, each name and value malloc'd. */
struct l7r_h2_fields {
	struct authz_header *v;
	size_t n, cap;
};

int l7r_h2_fields_add(struct l7r_h2_fields *f, const char *name, size_t nlen, const char *value,
		      size_t vlen);
void l7r_h2_fields_free(struct l7r_h2_fields *f);
/* The value of `name` (exact, lower-case), or NULL. */
const char *l7r_h2_field(const struct l7r_h2_fields *f, const char *name);
/* nghttp2's view of one field (pointers into the strings, not copies). */
nghttp2_nv l7r_h2_nv(const char *name, const char *value);

/* Everything nghttp2 state `s` has to send, appended to `out`: 0, -ENOMEM, -EPROTO. */
int l7r_h2_collect(nghttp2_session *s, struct l7_buf *out);

/* A response as the router relays it. */
struct l7r_h2_resp {
	int status;
	struct l7r_h2_fields fields, trailers;
	struct l7_buf body;
};

void l7r_h2_resp_free(struct l7r_h2_resp *rs);

struct l7r_h2;

/* One client stream. */
struct l7r_h2s {
	struct l7r_h2 *h;
	int32_t sid;
	struct l7r_req q; /* what matching and the HTTP/1.1 functions read (q.msg: fields only) */
	char *method, *path, *authority, *scheme;
	struct l7r_h2_fields fields;
	size_t list_size;    /* as RFC 9113 6.5.2 counts it */
	bool oversized;	     /* the list passed H2_MAX_LIST: 431 */
	bool running;	     /* its thread decides and tries: the connection must not free it */
	bool answered;	     /* the response was submitted */
	bool closed;	     /* nghttp2 closed the stream */
	int cancel;	     /* the client reset it or left (atomic; set under h->lock) */
	pthread_cond_t wake; /* with h->lock: signalled when cancel is set (timed waits) */
	int wfd;	     /* eventfd: wakes the thread's upstream loop (data, window, cancel) */
	struct l7r_pick_cache pick; /* the stream thread's own: the connection's is not shared */
	/* the request body (with h->lock): q.body holds bytes [in_base, in_total) */
	uint64_t in_base, in_total;
	uint64_t in_taken;   /* the furthest a try has read: granted back to the client */
	uint64_t in_granted; /* the connection thread's: WINDOW_UPDATE sent for so much */
	bool in_eof;	     /* END_STREAM came */
	bool in_over;	     /* it passed L7R_BODY_BUFFER: no longer held whole, not retried */
	bool discard;	     /* nothing reads it any more: granted and dropped as it comes */
	/* the response (with h->lock once head_ready): rs.body holds what the client has not had */
	struct l7r_h2_resp rs;
	uint64_t out_taken; /* bytes of rs.body sent to the client (the endpoint's window) */
	bool head_ready;    /* rs.status and rs.fields are final: the head may go */
	bool out_eof;	    /* rs is complete (trailers included) */
	bool out_reset;	    /* the response broke after its head went: reset the stream */
	bool finished;	    /* the thread is done with the stream */
	bool queued;	    /* on the connection's ready list */
	nghttp2_nv *nva;    /* the response head as submitted (points into rs) */
	char status[8];
	struct l7r_h2s *next;		     /* on the connection's list of streams to look at */
	struct l7r_h2s *all_prev, *all_next; /* every stream the connection still holds */
};

/* The connection's streams, shared with their threads. */
struct l7r_h2 {
	struct l7r_conn *c;
	nghttp2_session *s;
	int efd; /* eventfd: an answer is ready */
	pthread_mutex_t lock;
	pthread_cond_t idle;
	pthread_condattr_t clock; /* the streams' wake conditions count CLOCK_MONOTONIC */
	struct l7r_h2s *ready;	  /* streams with news for the connection (l7r_h2_notify) */
	struct l7r_h2s *all;	  /* the connection thread's alone */
	unsigned running;	  /* stream threads not finished */
	/* the h2c filter's flood rules (l7/l7_h2.h), counted per frame (route_h2_limits.c) */
	uint64_t requests, resets;
	uint32_t ctl_run, empty_run, ncont;
	size_t block;
};

/* route_h2_limits.c: a frame begins / a client stream was reset. 0, or the connection ends
 * with GOAWAY(ENHANCE_YOUR_CALM) (the caller returns the nghttp2 error it gives back). */
int l7r_h2_frame_begin(struct l7r_h2 *h, const nghttp2_frame_hd *hd);
int l7r_h2_reset_counted(struct l7r_h2 *h);

/* route_h2_conn.c: the stream is over for the client (h->lock held): cancel is set and a
 * thread waiting on it wakes. */
void l7r_h2_cancel_locked(struct l7r_h2s *s);
/* Wait until `deadline` (CLOCK_MONOTONIC ns; L7R_NO_DEADLINE: no bound) unless the stream is
 * cancelled first: false then. */
bool l7r_h2_wait(struct l7r_h2s *s, uint64_t deadline);

/* The connection thread has news of `s` (h->lock held): a head, response bytes, the end, bytes
 * of the request taken. */
void l7r_h2_notify_locked(struct l7r_h2s *s);
/* Wake the stream's thread out of its upstream loop. */
void l7r_h2_poke(struct l7r_h2s *s);

/* route_h2_stream.c: the stream's thread (arg: the stream); it ends by handing the stream to
 * the connection's ready list. */
void *l7r_h2_stream_main(void *arg);
/* The request as matching reads it (s->q.rq), from the stream's pseudo-headers and fields. */
void l7r_h2_view(struct l7r_h2s *s);
/* The request head toward the endpoint (s->q.route and s->q.dest chosen): pseudo-headers with
 * path and authority rewritten, the client's fields with the header operations applied, names
 * lower-case; `path` is the rewritten path the head points at (the caller frees both). */
int l7r_h2_request_head(struct l7r_h2s *s, struct l7r_h2_fields *out, char **path);
/* Does retry policy `r` retry this try? The response's head and trailers are read as one list
 * (a gRPC status comes in the trailers, or in a trailers-only head). */
bool l7r_h2_retriable(const struct m_retries *r, enum l7r_outcome o, const struct l7r_h2_resp *rs);
/* The response's head and trailers as one HTTP/1.1-shaped message for the retry policy: the
 * array to free (it borrows the strings), NULL when out of memory. */
struct authz_header *l7r_h2_resp_view(const struct l7r_h2_resp *rs, struct h1_msg *m);

/* route_h2_mirror.c: the route's mirrors of a stream whose body is held whole, each drawn with
 * its percentage: `head` (the request toward the endpoint) with "-shadow" after the authority's
 * host, over HTTP/2 on a connection of its own, fire and forget. */
void l7r_h2_mirror(struct l7r_h2s *s, const struct l7r_h2_fields *head);

/* route_h2_up.c: HTTP/2 connections to endpoints. */
/* One request to `ep` on a connection of its own (HBONE for a remote endpoint with the client's
 * identity, else dialled), closed after: mirrors, whose threads may outlive the pool. */
enum l7r_outcome l7r_h2_once(struct l7route *rt, const struct skiff_punt_key *client,
			     const struct l7_endpoint *ep, const nghttp2_nv *nva, size_t nvlen,
			     const struct l7_buf *body, uint64_t dl, const int *cancel,
			     struct l7r_h2_resp *rs);
struct l7r_h2_pool;
struct l7r_h2_pool *l7r_h2_pool_new(void);
void l7r_h2_pool_free(struct l7r_h2_pool *p);
/* An upstream stream whose response head arrived and whose rest is still to come. */
struct l7r_h2_up;
/* One try of stream `s`'s request `nva` to `ep`: its body from the first byte as the client
 * sends it, until the final response head (into s->rs) before `dl`. OUT_RESPONSE with *open
 * set: the response goes on, l7r_h2_rest or l7r_h2_drop it; *open NULL: it is complete.
 * `tunnel` says whether it went over HBONE, whose CONNECT then carries `traceparent` (the
 * stream's CLIENT span). The client resetting the stream stops it: OUT_CLIENT_GONE. */
enum l7r_outcome l7r_h2_try(struct l7r_conn *c, const struct l7_endpoint *ep, const nghttp2_nv *nva,
			    size_t nvlen, struct l7r_h2s *s, uint64_t dl, bool *tunnel,
			    const char *traceparent, struct l7r_h2_up **open);
/* The rest of the response (the head went to the client) until it ends, `dl` passes or the
 * client leaves; the request body still goes up meanwhile. The connection is pooled or closed. */
enum l7r_outcome l7r_h2_rest(struct l7r_conn *c, struct l7r_h2_up *u, uint64_t dl);
/* A response not taken (it is retried): its connection closes. */
void l7r_h2_drop(struct l7r_h2_up *u);

#endif
