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

#define HBONE_PORT	    15008
#define HBONE_ALPN	    "h2"
#define HBONE_STREAM_WINDOW (1 << 20)	 /* per-stream flow-control window and buffer */
#define HBONE_MAX_STREAMS   100		/* concurrent streams per connection, as ztunnel */

#endif
