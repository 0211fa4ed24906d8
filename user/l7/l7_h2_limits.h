/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What an HTTP/2 client may cost skiffd: the bounds the h2c filter (l7_h2.h) enforces, shared
 * with the L7 router's HTTP/2 side (l7route/route_h2.h) so that both ends of skiffd hold a client
 * to the same limits.
 */
#ifndef SKIFF_L7_H2_LIMITS_H
#define SKIFF_L7_H2_LIMITS_H

#define H2_HD_LEN	    9		/* a frame header */
#define H2_MAX_LIST	    (60 << 10)	/* a decoded header list: Envoy's default */
#define H2_FIELD_OVERHEAD   32		/* a field's cost to a list (RFC 9113 6.5.2) */
#define H2_MAX_BLOCK	    (256 << 10) /* a header block's frames: 4x a full list */
#define H2_MAX_CONTINUATION 64		/* CONTINUATION frames in one header block */
#define H2_MAX_OVERSIZED    8		/* lists refused for size, then GOAWAY */
/* Floods (RFC 9113 10.5), each ending the connection with GOAWAY(ENHANCE_YOUR_CALM):
 *   - rapid reset: once a connection has started H2_RESET_MIN_STREAMS requests, more than half of
 *     them reset by the client (or malformed, which the filter resets): Envoy's rule, without
 *     its one-second lifetime (the filter has no clock: every reset counts);
 *   - PING and SETTINGS frames that ask for an answer, more than H2_MAX_CONTROL_RUN of them
 *     with no request and no DATA in between (Envoy bounds the answers queued, at 1000);
 *   - frames that carry nothing and end nothing (empty DATA, HEADERS or CONTINUATION without
 *     END_STREAM or END_HEADERS), more than H2_MAX_EMPTY_RUN in a row: Envoy's default, 1. */
#define H2_RESET_MIN_STREAMS 500
#define H2_MAX_CONTROL_RUN   1000
#define H2_MAX_EMPTY_RUN     1

#endif
