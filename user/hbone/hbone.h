/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HBONE, as Istio ambient's ztunnel speaks it: an HTTP/2 connection over mutual TLS 1.3 between
 * the two nodes' agents (port 15008), one CONNECT stream per tunnelled TCP connection, its
 * :authority the destination pod's address and port. DATA frames carry the bytes; END_STREAM is
 * the FIN; RST_STREAM is the reset.
 *
 * The session layer (hbone_session.c) is nghttp2 driven by memory buffers; the connection layer
 * (hbone_conn.c) moves those bytes through OpenSSL on a non-blocking socket; the stream layer
 * (hbone_stream.c) joins each stream to a local socket (the punted client on the sending node,
 * the pod on the receiving one).
 */
#ifndef SKIFF_HBONE_H
#define SKIFF_HBONE_H

#include <stdbool.h>
#include <stdint.h>

#define HBONE_PORT 15008
#define HBONE_ALPN "h2"

/* What the proxy's loop (proxy/proxy.h) calls; everything else is hbone_internal.h's. */
struct proxy;
struct proxy_route;
struct hb_conn;
struct hb_stream;
struct skiff_punt_key;
struct skiff_sock_origin;

/* Accept what waits on an inbound listener (15008): one TLS server connection each. */
void hbone_in_accept(struct proxy *p, int lfd);
/*
 * Carry the punted connection `client_fd` (from `client`, going to `dst`) to its destination's
 * node as a CONNECT stream, on a pooled connection to r->node or a new one. `fast`: the client
 * reaches skiffd by sk_msg redirect, so its bytes are read(), never spliced. The socket is
 * HBONE's from here on; when no stream can be opened it is reset and -ENOMEM returned.
 */
int hbone_out_open(struct proxy *p, int client_fd, bool fast, const struct skiff_punt_key *client,
		   const struct skiff_sock_origin *dst, const struct proxy_route *r);
/* An epoll event on a connection's socket (EV_HB_CONN), or on a stream's local socket
 * (EV_HB_LOCAL); one closed earlier in the same batch is skipped. */
void hbone_conn_event(struct hb_conn *c, uint32_t events);
void hbone_stream_event(struct hb_stream *st, uint32_t events);
/* Close `c` now and reset its streams (proxy_stop closes every one of p->hb_conns). */
void hbone_conn_close(struct hb_conn *c);
/*
 * The proxy drains: every inbound connection says GOAWAY, in two steps as RFC 9113 6.8 advises.
 * `final` false: a GOAWAY naming the highest stream id, so the peer opens its next streams
 * elsewhere while any CONNECT already on the wire is still served. `final` true (a round trip
 * later): the GOAWAY naming the last stream processed; the connection closes with its last
 * stream. Outbound connections need nothing: no new stream joins them once nothing is accepted.
 */
void hbone_drain(struct proxy *p, bool final);
/* Close what outstayed p->lim: streams idle for idle_ms (reset both ways), dials and
 * handshakes longer than connect_ms, inbound connections left without streams for idle_ms. */
void hbone_sweep(struct proxy *p);

#endif
