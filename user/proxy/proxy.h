/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skiffd's proxy: the outbound listener (15001) that the kernel punts TCP to. For each accepted
 * connection it asks where the client was really going (the kernel filed it under the client's
 * address and port, include/skiff/punt.h). A destination the agent routes (proxy_opts.route) is
 * reached through HBONE, mTLS to its node's skiffd (hbone/hbone.h), whose inbound listener
 * (15008) is here too. Any other is authorized (proxy_opts.authz) and then refused, relayed with
 * splice() (the plain relay), or relayed through an L7 filter that decides each HTTP request
 * (l7/l7_filter.h).
 *
 * It runs on its own thread with its own epoll loop, so a config reload never stalls traffic.
 */
#ifndef SKIFF_PROXY_H
#define SKIFF_PROXY_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "l7/l7_filter.h"
#include "skiff/punt.h"

/* Where the punted connection whose client end is `k` was going: *dst and 0, or 1 when the client
 * reaches skiffd by sk_msg redirect (its bytes must be read(); splice() would not see them);
 * -ENOENT when nothing was filed. */
typedef int (*proxy_orig_fn)(void *ctx, const struct skiff_punt_key *k,
			     struct skiff_sock_origin *dst);

/* How to carry a punted connection to its destination's node: HBONE to `node` (its skiffd's
 * 15008) with the source workload's TLS context (its certificate, the mesh root). */
struct proxy_route {
	struct sockaddr_storage node;
	socklen_t node_len;
	SSL_CTX *ctx;	   /* referenced by the connections made with it */
	char src_id[256];  /* the source's SPIFFE ID: connections are pooled per identity */
	char baggage[512]; /* `baggage` of each CONNECT (the source workload), or "" */
	char trace[64];	   /* `traceparent` of the CONNECT, "" for a new one */
};

/* Route for the connection from `client` to `dst`: 0 and *r (HBONE), or -ENOENT (relay it
 * directly: no HBONE for this destination). Called on the proxy thread. */
typedef int (*proxy_route_fn)(void *ctx, const struct skiff_punt_key *client,
			      const struct skiff_sock_origin *dst, struct proxy_route *r);
/* The TLS context inbound HBONE presents (this node's agent identity) and verifies with. */
typedef SSL_CTX *(*proxy_server_ctx_fn)(void *ctx);

/* What AuthorizationPolicy says about a connection to a local pod. */
enum proxy_verdict {
	PROXY_ALLOW, /* L4 allowed, no L7 rule applies: relay bytes */
	PROXY_DENY,  /* L4 denied: reset (punt path) or 401 (HBONE) */
	PROXY_L7,    /* decide per HTTP request with the decider (an L7 filter on the relay) */
};

/* PROXY_L7: the per-request decider, and what to call when the connection ends. */
struct proxy_l7 {
	struct l7_decider d;
	void (*release)(void *ctx); /* frees d.ctx */
	/* The `traceparent` of the HBONE CONNECT that brought the connection (may be NULL): the
	 * parent of the spans of requests that carry no trace of their own. */
	void (*connect_trace)(void *ctx, const char *traceparent);
	bool hbone; /* the client is an HBONE stream, which reports the connection (proxy_dial.c) */
};

/*
 * Authorize a connection from `src` to the local pod `dst`. `principal`: the peer's SPIFFE ID
 * from its certificate (HBONE inbound), "" for plaintext, or NULL when `src` is a mesh pod of
 * this node (the punt path: the agent knows its identity by address). Fills *l7 for PROXY_L7.
 * Called on the proxy thread.
 */
typedef enum proxy_verdict (*proxy_authz_fn)(void *ctx, const char *principal,
					     const struct skiff_sock_origin *src,
					     const struct skiff_sock_origin *dst,
					     struct proxy_l7 *l7);

/*
 * How long a connection may sit, and how many one source may hold. Zero fields take the defaults
 * (PROXY_*_MS below); tests set them short. docs/security.md compares each with Envoy's and
 * HAProxy's.
 */
struct proxy_limits {
	uint32_t idle_ms;    /* no byte either way on a relay or an HBONE stream: closed */
	uint32_t sniff_ms;   /* the client's first bytes have not chosen a protocol: TCP */
	uint32_t head_ms;    /* an HTTP request head (h2: header block) under way: closed */
	uint32_t connect_ms; /* a dial to a pod or node, and an HBONE TLS handshake */
	uint32_t linger_ms;  /* after an L7 relay's last word: the client's FIN awaited */
	uint32_t per_source; /* connections open from one address on 15001 or 15008 */
};

#define PROXY_IDLE_MS	 (3600u * 1000) /* Envoy's tcp_proxy and HTTP idle_timeout, as Istio */
#define PROXY_SNIFF_MS	 (15u * 1000)	/* Envoy's listener_filters_timeout */
#define PROXY_HEAD_MS	 (10u * 1000)	/* HAProxy's documented `timeout http-request` */
#define PROXY_CONNECT_MS (10u * 1000)	/* Istio's connectTimeout */
#define PROXY_LINGER_MS	 1000u		/* Envoy's delayed_close_timeout */
#define PROXY_PER_SOURCE 1024u

/* A connection skiffd carried for a pod, at its start and at its end (metrics, access log): an
 * HBONE stream once its CONNECT was answered 200, or a punted connection relayed in plaintext. */
struct proxy_stream_end {
	bool server; /* the destination node's end (inbound CONNECT); false: the client node's */
	bool mtls;   /* it rode HBONE (mTLS); false: relayed in plaintext from the client's node */
	const struct skiff_sock_origin *src; /* the client pod (port 0: not carried) */
	const struct skiff_sock_origin *dst; /* the destination pod */
	const char *src_id, *dst_id;	     /* SPIFFE IDs of each end's certificate, "" unknown */
	uint64_t bytes_up, bytes_down;	     /* client -> server, server -> client */
	uint64_t duration_ms;
	bool reset; /* ended by a reset rather than both sides' FIN */
	/* Envoy's response flags: "UF" when the destination refused or did not answer the connect
	 * (the connection is then reported opened and closed at once, no bytes); NULL: none */
	const char *flags;
};

struct proxy_opts {
	const char *addr4; /* IPv4 address to listen on, or NULL */
	const char *addr6; /* IPv6 address to listen on, or NULL */
	uint16_t port;	   /* SKIFF_OUTBOUND_PORT */
	proxy_orig_fn orig_dst;
	proxy_route_fn route;		/* NULL: every punted connection is relayed directly */
	proxy_server_ctx_fn server_ctx; /* NULL: no inbound HBONE listener */
	proxy_authz_fn authz;		/* NULL: every connection is allowed at L4, no L7 */
	/* A connection to a Service port with HTTP rules (its destination is the VIP): true when
	 * the L7 router took `fd` (l7route/l7route.h). NULL: no router. */
	bool (*l7route)(void *ctx, int fd, const struct skiff_punt_key *client,
			const struct skiff_sock_origin *dst);
	bool hbone_ktls_off;	    /* keep TLS records in userspace even where kTLS exists */
	bool hbone_openssl_records; /* userspace records by libssl, not tls_records.c */
	bool fast_hops; /* the kernel puts skiffd's dials to local pods in the sockhash */
	bool paused;	/* listen (or take the listeners a running skiffd hands over) but accept
			 * nothing until proxy_resume: the old process serves meanwhile */
	struct proxy_limits limits; /* zero fields: the defaults */
	/* Each HBONE stream that was open, and each plaintext relay of a punted connection, at its
	 * end; stream_open at its start (bytes 0). NULL: not asked. On the proxy thread: hand it
	 * on, do not block. */
	void (*stream_end)(void *ctx, const struct proxy_stream_end *e);
	void (*stream_open)(void *ctx, const struct proxy_stream_end *e);
	/* File (add) or withdraw the dial skiffd is about to make to a pod of this node for an
	 * HBONE stream, so that the kernel leaves that hop to skiffd's own report. NULL: not. */
	void (*dial_file)(void *ctx, const struct skiff_agent_dial_key *k, bool add);
	void *ctx;
};

/* Counters since start, read without locks (each is written by the proxy thread only). */
struct proxy_stats {
	uint64_t accepted;	    /* connections accepted on the outbound listener */
	uint64_t no_orig;	    /* accepted with no destination filed: reset */
	uint64_t fast;		    /* accepted clients that reach skiffd by sk_msg redirect */
	uint64_t upstream_failed;   /* the destination refused or was unreachable: reset */
	uint64_t relayed;	    /* connections relayed to their end */
	uint64_t active;	    /* open now */
	uint64_t bytes_out;	    /* client -> destination */
	uint64_t bytes_in;	    /* destination -> client */
	uint64_t hbone_out;	    /* streams opened to other nodes' skiffd */
	uint64_t hbone_in;	    /* CONNECT streams accepted from other nodes, pod reached */
	uint64_t hbone_refused;	    /* outbound CONNECTs the peer answered with other than 200 */
	uint64_t hbone_bad_request; /* inbound requests answered 400 */
	uint64_t hbone_pod_failed;  /* inbound CONNECTs answered 503 (the pod refused) */
	uint64_t tls_failed;	    /* HBONE handshakes that failed (either direction) */
	uint64_t hbone_ktls_tx;	    /* HBONE connections whose TLS send the kernel does (kTLS) */
	uint64_t hbone_ktls_rx;	   /* ... and whose TLS receive (OpenSSL 3.0: TLS 1.2 only, so 0) */
	uint64_t hbone_records;	   /* HBONE connections whose records skiffd opens (and seals where
				  * the kernel does not: kTLS) */
	uint64_t hbone_spliced;	   /* bytes kTLS connections sent by splice() (never copied here) */
	uint64_t authz_denied;	   /* connections or CONNECTs refused by AuthorizationPolicy */
	uint64_t l7_conns;	   /* connections given an L7 filter */
	uint64_t l7_requests;	   /* HTTP requests those filters saw */
	uint64_t l7_denied;	   /* ... and answered 403 */
	uint64_t idle_closed;	   /* relays and HBONE streams closed for idleness */
	uint64_t sniff_timeouts;   /* connections whose first bytes took too long: decided as TCP */
	uint64_t head_timeouts;	   /* HTTP request heads that took too long: connection closed */
	uint64_t connect_timeouts; /* dials and HBONE handshakes that took too long */
	uint64_t source_refused;   /* connections refused: their source held too many */
	uint64_t l7_routed;	   /* connections handed to the L7 router */
};

struct proxy;

/* An endpoint as a socket address (for connect(), or a route's node). */
socklen_t proxy_sockaddr(const struct skiff_sock_origin *ep, struct sockaddr_storage *ss);

/* The key under which the kernel filed an accepted punted connection's original destination,
 * from its peer's address: every byte set (the map hashes all 20), IPv4-mapped IPv6 as IPv4.
 * -EAFNOSUPPORT for another family. */
int proxy_punt_key(const struct sockaddr_storage *peer, struct skiff_punt_key *k);

/* Bind the listeners and start the thread. Errors name the address and the fix. */
int proxy_start(const struct proxy_opts *o, struct proxy **out);
/* New limits (zero fields: the defaults), from any thread: the proxy thread takes them at its
 * next sweep, within a second. Open relays are judged by them from then on. */
void proxy_limits_set(struct proxy *p, const struct proxy_limits *l);
void proxy_stats_read(const struct proxy *p, struct proxy_stats *s);
/* Stop the thread and close every connection and listener. */
void proxy_stop(struct proxy *p);
/* Start accepting on the listeners of a proxy started paused (any thread). */
void proxy_resume(struct proxy *p);
/* The listening sockets, for a new skiffd to take over: how many were put in fds[0..max). */
int proxy_listener_fds(const struct proxy *p, int *fds, int max);
/*
 * Drain: stop accepting (the listeners are closed; a new skiffd holds them now, or nobody),
 * tell HBONE peers GOAWAY so their next streams go to the new process, and keep every open
 * relay and stream running. Returns once no connection will be accepted any more.
 */
void proxy_drain(struct proxy *p);
/* Draining, and nothing open any longer: the process may exit. */
bool proxy_drained(const struct proxy *p);

/*
 * The loop, for what runs on the proxy thread beside the plain relays: HBONE (hbone/hbone.h) and
 * the L7 relay (l7/l7_filter.h). Every socket in its epoll points at a proxy_ev; the loop hands
 * each event to the subsystem its kind names.
 */

struct relay;
struct l7_relay;
struct hb_conn;
struct hb_stream;

/* What an epoll event points at: a listener, one side of a plain or L7 relay, an HBONE
 * connection or the local socket of an HBONE stream. */
enum proxy_ev_kind {
	EV_LISTENER,	/* outbound 15001 */
	EV_CLIENT,	/* plain relay, client side */
	EV_UPSTREAM,	/* plain relay, destination side */
	EV_WAKE,	/* proxy_stop */
	EV_DRAIN,	/* proxy_drain */
	EV_TUNNEL,	/* proxy_tunnel: streams other threads asked for */
	EV_HB_LISTENER, /* inbound HBONE 15008 */
	EV_HB_CONN,	/* an HBONE (TLS + HTTP/2) connection */
	EV_HB_LOCAL,	/* the local socket of an HBONE stream */
	EV_L7_CLIENT,	/* L7 relay, client side (an accepted socket, or an HBONE socketpair end) */
	EV_L7_UPSTREAM, /* L7 relay, destination side */
};

struct proxy_src;
#define PROXY_SRC_BUCKETS 256

struct proxy_ev {
	enum proxy_ev_kind kind;
	int fd;
	struct relay *r;      /* EV_CLIENT and EV_UPSTREAM */
	struct l7_relay *l7;  /* EV_L7_CLIENT and EV_L7_UPSTREAM */
	struct hb_conn *conn; /* EV_HB_CONN */
	struct hb_stream *st; /* EV_HB_LOCAL */
};

/* The proxy thread's state. Each subsystem keeps its open objects on its own list here, so that
 * proxy_stop can close them all. */
struct proxy {
	struct proxy_opts o;
	int epfd, wakefd;
	struct proxy_ev listeners[4], wake; /* 15001 and 15008, IPv4 and IPv6 */
	size_t nlisteners;
	pthread_t thread;
	bool started;
	/* proxy_drain: its eventfd, and the thread's answer once the listeners are closed */
	struct proxy_ev drain;
	pthread_mutex_t drain_lock;
	pthread_cond_t drain_cond;
	bool draining;	/* listeners closed: no new connection is accepted */
	long goaway_at; /* draining: when HBONE's final GOAWAY goes (CLOCK_MONOTONIC ms), or 0 */
	bool drained;	/* draining and nothing is open (read by the agent thread) */
	struct relay *relays;	    /* every open relay, for proxy_stop */
	struct l7_relay *l7_relays; /* every open L7 relay, likewise */
	void **graveyard;	    /* closed objects, freed after the current epoll batch */
	size_t ngrave, gravecap;
	struct hb_conn *hb_conns; /* every HBONE connection, both directions */
	/* proxy_tunnel's queue, filled by other threads (proxy_tunnel.c) */
	pthread_mutex_t tunnel_lock;
	struct proxy_tunnel_rq *tunnels;
	int tunnelfd;
	struct proxy_ev tunnel_ev;
	struct proxy_stats stats;
	struct proxy_limits lim; /* o.limits with the defaults filled in */
	/* proxy_limits_set's limits, taken by the proxy thread at its next sweep */
	pthread_mutex_t lim_lock;
	struct proxy_limits lim_next;
	bool lim_pending;
	uint64_t now_ms;	/* CLOCK_MONOTONIC at the current batch of events */
	uint64_t next_sweep_ms; /* when proxy_sweep looks at every relay's clock again */
	struct proxy_src *srcs[PROXY_SRC_BUCKETS]; /* connections per source (proxy_limits.c) */
	struct proxy_src **fd_src; /* the source each counted socket was charged to, by fd */
	size_t nfd_src;
};

/*
 * An HBONE stream to `dst` (a mesh pod on another node) on behalf of the local mesh pod `client`
 * (its identity, as for a punted connection), for another thread: returns the caller's end of a
 * socket pair whose other end the proxy thread carries over the stream; -ENOENT when the agent
 * has no HBONE route for it (no --ca-dir, or not a mesh pod elsewhere). `traceparent` (may be
 * NULL) goes in the CONNECT, so that the destination's span is a child of the caller's. Any thread.
 */
int proxy_tunnel(struct proxy *p, const struct skiff_punt_key *client,
		 const struct skiff_sock_origin *dst, const char *traceparent);
/* proxy_tunnel.c, on the proxy thread: set up its queue, serve it, drop what is left. */
int proxy_tunnel_init(struct proxy *p);
void proxy_tunnel_event(struct proxy *p);
void proxy_tunnel_fini(struct proxy *p);

/* TCP_NODELAY on a proxied socket: a proxy writes what it has at once, and Nagle's wait for an
 * ACK the peer delays (40 ms) would land on every request that crosses a small write. */
void proxy_nodelay(int fd);
/* Close `fd` (if >= 0); with `reset`, SO_LINGER 0 first: the peer sees RST, its connection
 * fails as from a port nobody listens on. It leaves p's epoll first: close() alone does that
 * only with the last reference to the file, and a copy held elsewhere (a child between fork
 * and exec) would keep delivering events that point at freed memory. */
void proxy_close(struct proxy *p, int fd, bool reset);
/* SO_LINGER 0 on a relayed socket from the start: when skiffd dies (kill -9, a crash) the
 * kernel's close of its sockets resets the pods' connections, which then fail at once instead
 * of reading an end of stream that looks like a clean one. proxy_close(reset = false) still
 * ends it with FIN. */
void proxy_reset_on_exit(int fd);
/* A punted connection relayed in plaintext: its client and destination, from the opening. */
struct proxy_plain {
	struct skiff_sock_origin src, dst;
	uint64_t start_ms;
	bool opened; /* reported open: its end is reported too */
};
/* proxy_report.c: its start (end false) or its end, to proxy_opts.stream_open / stream_end. */
void proxy_report_plain(struct proxy *p, const struct proxy_plain *pl, bool end, bool reset,
			uint64_t up, uint64_t down);
/* A plaintext relay whose destination refused or never answered: opened and closed, "UF". */
void proxy_report_plain_failed(struct proxy *p, const struct proxy_plain *pl);
/* The same for any stream: e (flags set here) to stream_open, then to stream_end. */
void proxy_report_failed(struct proxy *p, struct proxy_stream_end *e);

/* proxy_dial.c: before connect()ing `fd` to the local pod `dst` for an HBONE stream, bind it
 * and file it with the kernel (proxy_opts.dial_file); true when filed (*k then names it). A dial
 * that fails is withdrawn. */
bool proxy_dial_file(struct proxy *p, int fd, const struct skiff_sock_origin *dst,
		     struct skiff_agent_dial_key *k);
void proxy_dial_withdraw(struct proxy *p, const struct skiff_agent_dial_key *k);
/* Free `ptr` once the current batch of events is handled: a later event of the same batch may
 * still point at it (the owner marks itself gone first, and its event handler skips it). */
void proxy_defer_free(struct proxy *p, void *ptr);

/*
 * proxy_limits.c: the clocks and the per-source counts. Each relay notes proxy.now_ms when its
 * bytes move; the loop wakes at least every PROXY_TICK_MS and, past next_sweep_ms, asks each
 * subsystem to close what outstayed its limit (relay_sweep, l7_relay_sweep, hbone_sweep).
 */
#define PROXY_TICK_MS 1000u
uint64_t proxy_clock_ms(void);
uint32_t proxy_tick_ms(const struct proxy *p);
void proxy_limits_fill(struct proxy *p);
/* epoll_wait's timeout until the next sweep. */
int proxy_wait_ms(const struct proxy *p);
void proxy_sweep(struct proxy *p);
/* Charge the accepted socket `fd` to its peer's address: 0, or -EMFILE when that address holds
 * proxy_limits.per_source connections already (nothing charged: the caller resets `fd`). The
 * charge is returned when proxy_close closes `fd`. */
int proxy_src_charge(struct proxy *p, int fd);
/* proxy_close: return fd's charge, if it has one. */
void proxy_src_release(struct proxy *p, int fd);
void proxy_src_free(struct proxy *p);

#endif
