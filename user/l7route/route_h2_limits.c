// SPDX-License-Identifier: Apache-2.0
/*
 * The h2c filter's flood rules (l7/l7_h2.h), applied to the router's HTTP/2 client connections
 * with the same constants, so that a client costs skiffd no more through the router than
 * through the destination's filter. Each ends the connection with GOAWAY(ENHANCE_YOUR_CALM):
 *   - rapid reset: once H2_RESET_MIN_STREAMS requests started, more than half of them reset;
 *   - PING and SETTINGS asking for an answer, more than H2_MAX_CONTROL_RUN with no request and
 *     no DATA between them;
 *   - frames that carry nothing and end nothing, more than H2_MAX_EMPTY_RUN in a row;
 *   - a header block over H2_MAX_BLOCK bytes or H2_MAX_CONTINUATION CONTINUATIONs.
 * nghttp2 bounds what it queues itself (its outbound ACK limit); these bound what it would
 * happily accept.
 */
#include "l7/l7_h2_limits.h"
#include "l7route/route_h2.h"

static int calm(struct l7r_h2 *h)
{
	nghttp2_session_terminate_session(h->s, NGHTTP2_ENHANCE_YOUR_CALM);
	return NGHTTP2_ERR_CALLBACK_FAILURE;
}

static bool empty_frame(const nghttp2_frame_hd *hd)
{
	switch (hd->type) {
	case NGHTTP2_DATA:
		return !hd->length && !(hd->flags & NGHTTP2_FLAG_END_STREAM);
	case NGHTTP2_HEADERS:
		return !hd->length &&
		       !(hd->flags & (NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS));
	case NGHTTP2_CONTINUATION:
		return !hd->length && !(hd->flags & NGHTTP2_FLAG_END_HEADERS);
	default:
		return false;
	}
}

static int block_frame(struct l7r_h2 *h, const nghttp2_frame_hd *hd)
{
	if (hd->type == NGHTTP2_HEADERS) {
		h->block = 0;
		h->ncont = 0;
	} else if (hd->type == NGHTTP2_CONTINUATION) {
		h->ncont++;
	} else {
		return 0;
	}
	h->block += H2_HD_LEN + hd->length;
	return h->block > H2_MAX_BLOCK || h->ncont > H2_MAX_CONTINUATION ? calm(h) : 0;
}

int l7r_h2_frame_begin(struct l7r_h2 *h, const nghttp2_frame_hd *hd)
{
	bool ask = (hd->type == NGHTTP2_PING || hd->type == NGHTTP2_SETTINGS) &&
		   !(hd->flags & NGHTTP2_FLAG_ACK);

	if (hd->type == NGHTTP2_HEADERS || hd->type == NGHTTP2_DATA)
		h->ctl_run = 0;
	if (ask && ++h->ctl_run > H2_MAX_CONTROL_RUN)
		return calm(h);
	if (!empty_frame(hd))
		h->empty_run = 0;
	else if (++h->empty_run > H2_MAX_EMPTY_RUN)
		return calm(h);
	return block_frame(h, hd);
}

int l7r_h2_reset_counted(struct l7r_h2 *h)
{
	h->resets++;
	if (h->requests >= H2_RESET_MIN_STREAMS && 2 * h->resets > h->requests)
		return calm(h);
	return 0;
}
