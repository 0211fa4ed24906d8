// SPDX-License-Identifier: Apache-2.0
/*
 * Pod -> client frames of the h2c filter: all pass untouched but one value. The filter watches
 * them for where it may add its own frames (between whole frames, never inside a header block),
 * for the pod's SETTINGS (its frame size bounds the re-encoded header blocks; its header table
 * size bounds the client's encoder once the client acknowledges it, and ours; its header list
 * size bounds the lists the filter forwards), for the pod's RST_STREAMs (a stream the pod reset
 * takes no trailers), and for the DATA bytes that use up the client's connection window, which
 * the 403 bodies share.
 *
 * The one value changed: a SETTINGS_HEADER_TABLE_SIZE above H2_TABLE_MAX reaches the client as
 * H2_TABLE_MAX. The client's table is what the filter mirrors (its memory), and what the encoder
 * toward the pod must be able to follow (l7_h2_encode.c); a smaller table than the pod allows
 * costs the client nothing it could not already be told.
 *
 * Sharing the client's window means the pod, which never saw the 403 bodies, may believe the
 * client has more window than it has, until the client's WINDOW_UPDATEs pay for them
 * (l7_h2_deny.c). A pod DATA frame that would overrun the client's real window is held, with
 * everything after it, until the client opens it (h2_resume() from l7_h2.c): a few dozen bytes'
 * worth, never a FLOW_CONTROL_ERROR at the client.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "l7/l7_h2.h"

/* The pod reset a stream the client may still be sending on: what the client sends on it from
 * now on is dropped as for a denied stream (its DATA given back), not forwarded. */
static int pod_reset(struct l7_filter *f, uint32_t sid)
{
	int rc = 0;

	h2_tally_end(f, sid, "UR"); /* ignored when the stream was answered */
	if (h2_open_remove(f, sid))
		rc = h2_denied_add(f, sid, H2_ANSWER_NONE, false);
	return rc ? rc : H2_PASS;
}

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
		return h2_status_mode(f);
	case NGHTTP2_SETTINGS:
		return hd->len % 6 || hd->sid ? -EPROTO : H2_BUFFER;
	case NGHTTP2_RST_STREAM:
		return pod_reset(f, hd->sid);
	default:
		return H2_PASS;
	}
}

/* One setting of the pod's; the table size, capped, is written back for the client to see. */
static void setting_read(struct l7_filter *f, uint8_t *p, struct h2_pod_settings *c)
{
	uint16_t id = (uint16_t)(p[0] << 8 | p[1]);
	uint32_t v = h2_u32(p + 2);

	switch (id) {
	case NGHTTP2_SETTINGS_HEADER_TABLE_SIZE:
		v = v < H2_TABLE_MAX ? v : H2_TABLE_MAX;
		p[2] = p[3] = 0;
		p[4] = v >> 8;
		p[5] = v;
		c->tbl_min = c->tbl_min < 0 || v < c->tbl_min ? v : c->tbl_min;
		c->tbl_last = v;
		break;
	case NGHTTP2_SETTINGS_MAX_FRAME_SIZE:
		if (v >= H2_MIN_FRAME && v < 1u << 24) {
			c->max_frame = v;
			if (v > f->cl.max_len)
				f->cl.max_len = v;
		}
		break;
	case NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE:
		f->up_max_list = v ? v : 1; /* advisory, and the pod's own limit: at once */
		break;
	}
}

/* Each of the pod's SETTINGS is acknowledged by the client in order; what it sets for the filter
 * holds from that ACK on (l7_h2_client.c). A larger frame size lets the client's frames grow at
 * once, though: the client may use it as soon as it reads it. `p` is rewritten in place. */
static int settings_read(struct l7_filter *f, const struct h2_hd *hd, uint8_t *p)
{
	struct h2_pod_settings c = {-1, -1, 0}, *t;

	for (size_t i = 0; i < hd->len; i += 6)
		setting_read(f, p + i, &c);
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
		/* the payload is the reader's own buffer, collected for this end callback */
		if (!(hd->flags & NGHTTP2_FLAG_ACK) && (rc = settings_read(f, hd, (uint8_t *)p)))
			return rc;
		if (h2_put_hd(f->out_cl, hd->len, hd->type, hd->flags, hd->sid) ||
		    l7_buf_put(f->out_cl, p, hd->len))
			return -ENOMEM;
		f->up_started = true;
	} else if (p && (hd->type == NGHTTP2_HEADERS || hd->type == NGHTTP2_PUSH_PROMISE ||
			 hd->type == NGHTTP2_CONTINUATION)) {
		rc = h2_status_frame(f, hd, p); /* buffered to be read (h2_status_mode) */
		if (rc)
			return rc;
	}
	h2_status_frame_end(f, hd);
	return h2_flush(f, f->out_cl);
}

const struct h2_frame_cb h2_upstream_cb = {.start = up_start, .end = up_end};
