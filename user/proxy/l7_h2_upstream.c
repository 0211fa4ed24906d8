// SPDX-License-Identifier: Apache-2.0
/*
 * Pod -> client frames of the h2c filter: all pass untouched. The filter only watches them for
 * where it may add its own frames (between whole frames, never inside a header block), for the
 * pod's SETTINGS (its frame size bounds the re-encoded header blocks; its header table size
 * bounds the client's encoder once the client acknowledges it) and for the DATA bytes that use
 * up the client's connection window, which the 403 bodies share.
 *
 * Sharing it means the pod, which never saw the 403 bodies, may believe the client has more
 * window than it has, until the client's WINDOW_UPDATEs pay for them (l7_h2_deny.c). A pod DATA
 * frame that would overrun the client's real window is held, with everything after it, until
 * the client opens it (h2_resume() from l7_h2.c): a few dozen bytes' worth, never a
 * FLOW_CONTROL_ERROR at the client.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/l7_h2.h"

static int up_start(struct l7_filter *f, const struct h2_hd *hd)
{
	if (f->up_in_block != (hd->type == NGHTTP2_CONTINUATION))
		return -EPROTO; /* a CONTINUATION out of place, or a frame inside a header block */
	if (!f->up_started && (hd->type != NGHTTP2_SETTINGS || (hd->flags & NGHTTP2_FLAG_ACK)))
		return -EPROTO; /* the server's preface is a SETTINGS frame */
	switch (hd->type) {
	case NGHTTP2_DATA:
		if (hd->len && f->cl_conn_win < hd->len)
			return H2_WAIT; /* see below */
		f->cl_conn_win -= hd->len;
		return H2_PASS;
	case NGHTTP2_HEADERS:
	case NGHTTP2_PUSH_PROMISE:
	case NGHTTP2_CONTINUATION:
		f->up_in_block = !(hd->flags & NGHTTP2_FLAG_END_HEADERS);
		return H2_PASS;
	case NGHTTP2_SETTINGS:
		return hd->len % 6 || hd->sid ? -EPROTO : H2_BUFFER;
	default:
		return H2_PASS;
	}
}

/* Each of the pod's SETTINGS is acknowledged by the client in order; what it sets for the filter
 * holds from that ACK on (l7_h2_client.c). A larger frame size lets the client's frames grow at
 * once, though: the client may use it as soon as it reads it. */
static int settings_read(struct l7_filter *f, const struct h2_hd *hd, const uint8_t *p)
{
	struct h2_pod_settings c = {-1, -1, 0}, *t;
	size_t i;

	for (i = 0; i < hd->len; i += 6) {
		uint16_t id = (uint16_t)(p[i] << 8 | p[i + 1]);
		uint32_t v = h2_u32(p + i + 2);

		if (id == NGHTTP2_SETTINGS_HEADER_TABLE_SIZE) {
			c.tbl_min = c.tbl_min < 0 || v < c.tbl_min ? v : c.tbl_min;
			c.tbl_last = v;
		}
		if (id == NGHTTP2_SETTINGS_MAX_FRAME_SIZE && v >= H2_MIN_FRAME && v < 1u << 24) {
			c.max_frame = v;
			if (v > f->cl.max_len)
				f->cl.max_len = v;
		}
	}
	if (f->npending >= H2_MAX_UNACKED_SET)
		return -EPROTO;
	t = realloc(f->pending, (f->npending + 1) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	f->pending = t;
	f->pending[f->npending++] = c;
	return 0;
}

static int up_end(struct l7_filter *f, const struct h2_hd *hd, const uint8_t *p)
{
	int rc;

	if (hd->type == NGHTTP2_SETTINGS) {
		if (!(hd->flags & NGHTTP2_FLAG_ACK) && (rc = settings_read(f, hd, p)))
			return rc;
		if (h2_put_hd(f->out_cl, hd->len, hd->type, hd->flags, hd->sid) ||
		    l7_buf_put(f->out_cl, p, hd->len))
			return -ENOMEM;
		f->up_started = true;
	}
	return h2_flush(f, f->out_cl);
}

const struct h2_frame_cb h2_upstream_cb = {.start = up_start, .end = up_end};
