/* SPDX-License-Identifier: Apache-2.0 */
/*
 * L7 authorization on a proxied connection: a filter sits between the client's bytes and the
 * destination pod's, finds each HTTP request, asks the decider, and either passes the request on
 * or answers it itself (403 "RBAC: access denied", as Istio does), keeping the connection open
 * for the next request.
 *
 * A filter is a pure byte transform (no sockets, no clock): the relay (l7_relay.c) feeds it what
 * each side sent and writes what it appends to the output buffers. One implementation per
 * protocol: HTTP/1.1 (l7_http1.c) and HTTP/2 with prior knowledge (l7_h2.c), and l7_tcp.c for
 * connections that are not HTTP at all; the relay picks one from the client's first bytes (the
 * HTTP/2 connection preface, an HTTP/1.x method, anything else) or the pod's, if it speaks first.
 */
#ifndef SKIFF_L7_FILTER_H
#define SKIFF_L7_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "authz/authz.h"

/* A growable byte buffer: the filter appends, the relay consumes from `off`. */
struct l7_buf {
	uint8_t *data;
	size_t off, len, cap; /* unread bytes are data[off, len) */
};

int l7_buf_put(struct l7_buf *b, const void *p, size_t n); /* 0 or -ENOMEM */
int l7_buf_printf(struct l7_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t l7_buf_unread(const struct l7_buf *b);
/* The first unread byte; never NULL, so that an empty buffer that never held anything can be
 * passed on as (l7_buf_head, 0) without arithmetic on a null pointer. */
const uint8_t *l7_buf_head(const struct l7_buf *b);
void l7_buf_consume(struct l7_buf *b, size_t n);
void l7_buf_free(struct l7_buf *b);

/*
 * Decide one HTTP request. The filter fills the HTTP part of *rq (host, method, path, headers;
 * tcp = false); the decider fills what the connection knows (principal, addresses, port) and
 * evaluates. True: allow. `why` gets a short text for the access log when not NULL.
 */
struct l7_decider {
	bool (*decide)(void *ctx, struct authz_request *rq, char *why, size_t whylen);
	void *ctx;
	/* How the filter normalises a request's path before deciding, and forwards it after: the
	 * policy set's (authz_set_path_norm); zero is Istio's default, BASE. */
	enum authz_path_norm path_norm;
	/* Optional, for the request metrics: `request` when a request joins the queue of those in
	 * flight, `response` with the status of the answer that ends its turn (the pod's final
	 * response once its body has passed, a 101's head, or the filter's own 403/400/431), in
	 * the same order, and Envoy's response flags for it: "-" for the pod's answers and a
	 * policy's 403 (Envoy's RBAC filter sets no flag either), "DPE" for a request the filter
	 * refused as malformed (400, 431); "UC" (the pod closed or reset first) or "DC" (the client
	 * did) for a request the connection's end cut short, with status 0 when no answer had
	 * begun, or the pod's when its body was under way. The filter has no clock: the decider's
	 * side times them. */
	void (*request)(void *ctx);
	void (*response)(void *ctx, int status, const char *flags);
	/* Optional, HTTP/1.1: when an exchange ends (after its `response`), the request's size as
	 * read from the client (head and body) and the response's as sent to it. Not called for
	 * an exchange the connection's end cut short, nor for one that switched protocols. */
	void (*sizes)(void *ctx, uint64_t request, uint64_t response);
	/* Optional, for tracing (HTTP/1.1): called with each request about to be decided, before
	 * `request`; appends to `fields` the header lines the pod gets in place of the request's
	 * propagation fields (trace_field_replaced), which the filter then leaves out. */
	int (*trace)(void *ctx, const struct authz_request *rq, struct l7_buf *fields);
	/* Optional, HTTP/2, per stream (streams end in any order): `stream_begin` with each request
	 * once decided (`allowed` or answered 403); for an allowed one, `field` is called with each
	 * propagation field the pod gets in place of the request's (trace_field_replaced), which
	 * the filter then leaves out. `stream_end` once the stream is over, with the pod's final
	 * :status (0: none came) and Envoy's flags: "-" when the pod's response ended, and for a
	 * policy's 403; "UR" when the pod reset the stream first, "DC" when the client did, "UC" or
	 * "DC" for the streams the connection's end cut short (a body cut off keeps its status:
	 * "200 UC"); and the sizes, the request's from the client and the response's to it
	 * (l7_h2_tally.c says how they are counted). sid 0: every stream still waiting, not
	 * tallied (0, no sizes). A stream not begun, or ended, is ignored. */
	int (*stream_begin)(void *ctx, uint32_t sid, const struct authz_request *rq, bool allowed,
			    int (*field)(void *arg, const char *name, const char *value),
			    void *arg);
	void (*stream_end)(void *ctx, uint32_t sid, int status, const char *flags, uint64_t request,
			   uint64_t response);
};

/* Counters a filter keeps (read by the relay for skiffd's admin page). */
struct l7_counts {
	uint64_t requests; /* requests seen */
	uint64_t denied;   /* answered 403 by the filter */
	uint64_t bad;	   /* malformed: answered 400 (HTTP/1.1) or a protocol error (HTTP/2) */
};

struct l7_filter;

struct l7_filter_ops {
	const char *name; /* "http/1.1", "h2c" */
	struct l7_filter *(*open)(const struct l7_decider *d);
	/*
	 * Bytes from the client: append what goes to the pod to `to_up`, and what the filter
	 * answers itself to `to_client`. Returns 0, or -EPROTO when the client broke the protocol
	 * (the relay flushes to_client, then closes).
	 */
	int (*from_client)(struct l7_filter *f, const uint8_t *in, size_t len, struct l7_buf *to_up,
			   struct l7_buf *to_client);
	/* Bytes from the pod, likewise (-EPROTO: the pod broke the protocol). */
	int (*from_upstream)(struct l7_filter *f, const uint8_t *in, size_t len,
			     struct l7_buf *to_client, struct l7_buf *to_up);
	/* True once the filter has said its last word (e.g. after a 400, or a 403 to a request
	 * that asked to close): the relay closes once to_client is flushed. */
	bool (*done)(const struct l7_filter *f);
	const struct l7_counts *(*counts)(const struct l7_filter *f);
	void (*close)(struct l7_filter *f);
	/* True while a request head (h2: a header block) has begun and not ended: the relay
	 * bounds how long that may take (slowloris). NULL: never. */
	bool (*in_head)(const struct l7_filter *f);
	/* The connection ends (before close): the requests still waiting for an answer get their
	 * `response` (0, "UC" when `pod_gone`, else "DC"). NULL: nothing waits. */
	void (*end)(struct l7_filter *f, bool pod_gone);
};

extern const struct l7_filter_ops l7_http1_ops;
extern const struct l7_filter_ops l7_h2_ops;
extern const struct l7_filter_ops l7_tcp_ops; /* not HTTP: one L4 decision, then bytes */

#define L7_H2_PREFACE	  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define L7_H2_PREFACE_LEN 24

/* The body Istio's proxies answer a denied request with. */
#define L7_DENY_BODY "RBAC: access denied"

/*
 * The L7 relay (l7_relay.c): connections on the proxy thread (proxy/proxy.h) whose bytes come up
 * into skiffd and pass through a filter.
 */
struct proxy;
struct proxy_ev;
struct proxy_l7;
struct l7_relay;
struct skiff_sock_origin;

/*
 * Relay `client_fd` (non-blocking: an accepted TCP socket or a socketpair end) to `dst` through
 * an L7 filter deciding with `l7->d`. Both are the relay's from here on, also when this fails
 * (the client is then reset and l7->release called).
 */
int l7_relay_open(struct proxy *p, int client_fd, const struct skiff_sock_origin *dst,
		  const struct proxy_l7 *l7);
/* A connection allowed at L4 whose client reaches skiffd by sk_msg redirect (the plain relay
 * splices, and splice() does not see redirected bytes): relayed through read() and write(), bytes
 * untouched, the pod dialled as the L7 relay does (its hop joins the fast path too). */
int l7_relay_pass(struct proxy *p, int client_fd, const struct skiff_sock_origin *src,
		  const struct skiff_sock_origin *dst);
/* An epoll event on one side of an L7 relay (EV_L7_CLIENT, EV_L7_UPSTREAM); a relay closed
 * earlier in the same batch is skipped. */
void l7_relay_event(struct proxy *p, struct proxy_ev *ev, uint32_t events);
void l7_relay_close(struct proxy *p, struct l7_relay *r, bool reset);
/* Close the L7 relays that outstayed p->lim (idle, a head under way too long), and decide as
 * TCP those whose first bytes took longer than sniff_ms to choose a protocol. */
void l7_relay_sweep(struct proxy *p);

#endif
