// SPDX-License-Identifier: Apache-2.0
/*
 * Client -> pod frames of the h2c filter. Everything passes as it arrives except:
 *   - header blocks (HEADERS + CONTINUATION), collected and decoded: a request's is decided
 *     (l7_h2_request.c), trailers of a stream the pod has open checked and re-encoded, blocks on
 *     a denied stream dropped; a HEADERS frame on any other stream the client opened before is a
 *     connection error (RFC 9113 5.1), never trailers nobody decided;
 *   - frames on streams the pod never saw (denied, malformed): dropped, DATA given back;
 *   - SETTINGS, read for what the filter must know (the client's windows and frame size; its
 *     ACK is when the pod's HEADER_TABLE_SIZE binds the client's encoder);
 *   - connection WINDOW_UPDATEs, less the 403 body bytes they pay for (l7_h2_deny.c).
 * A header block is at most H2_MAX_BLOCK bytes in H2_MAX_CONTINUATION CONTINUATIONs, or the
 * connection ends with ENHANCE_YOUR_CALM: decoding a block the client never finishes would cost
 * skiffd without end, even for a block it drops. So do the floods l7_h2.h lists (rapid reset,
 * PING and SETTINGS, empty frames): they cost the pod, or skiffd, work for no request.
 */
#include <errno.h>
#include <string.h>

#include "l7/l7_h2.h"

/* A stream the pod must not hear about: answered by the filter, or never forwarded (a denied
 * stream already forgotten, or one the client has not opened: frames on it would be errors). */
static bool dropped_stream(struct l7_filter *f, uint32_t sid)
{
	if (!sid)
		return false;
	return h2_denied_find(f, sid) || ((sid & 1) && sid > f->last_forwarded_id);
}

/* PRIORITY may name streams not opened yet (clients build their priority tree on idle streams,
 * RFC 7540 5.3.4): those pass; on streams the filter answered or skipped, it is dropped. */
static bool dropped_priority(struct l7_filter *f, uint32_t sid)
{
	return sid <= f->last_request_id && dropped_stream(f, sid);
}

/* A block's frame: within the bounds, and counted toward what the pod may get back. */
static int block_frame(struct l7_filter *f, const struct h2_hd *hd)
{
	struct h2_block *b = &f->blk;

	b->wire += H2_HD_LEN + hd->len;
	f->hb_in += hd->len;
	if (b->wire > H2_MAX_BLOCK || b->ncont > H2_MAX_CONTINUATION)
		return h2_calm(f);
	return H2_BUFFER;
}

static int headers_start(struct l7_filter *f, const struct h2_hd *hd)
{
	struct h2_block *b = &f->blk;

	if (!hd->sid || !(hd->sid & 1))
		return -EPROTO; /* clients open odd streams only, and cannot answer pushes */
	if (hd->sid > f->last_request_id) {
		f->last_request_id = hd->sid;
		b->kind = H2_BLOCK_REQUEST;
	} else if (h2_open_has(f, hd->sid)) {
		b->kind = H2_BLOCK_TRAILERS;
	} else if (h2_denied_find(f, hd->sid)) {
		b->kind = H2_BLOCK_DROP;
	} else {
		return -EPROTO; /* closed, or never opened (RFC 9113 5.1, 5.1.1) */
	}
	b->open = true;
	b->sid = hd->sid;
	b->wire = 0;
	b->ncont = 0;
	b->scan = H2_SCAN_START;
	h2_fields_reset(&b->fields);
	return block_frame(f, hd);
}

static int continuation_start(struct l7_filter *f, const struct h2_hd *hd)
{
	if (!f->blk.open || hd->sid != f->blk.sid)
		return -EPROTO;
	f->blk.ncont++;
	return block_frame(f, hd);
}

int h2_reset_counted(struct l7_filter *f)
{
	f->resets++;
	if (f->counts.requests >= H2_RESET_MIN_STREAMS && 2 * f->resets > f->counts.requests)
		return h2_calm(f);
	return 0;
}

/* A frame that ends nothing and carries nothing. */
static bool empty_frame(const struct h2_hd *hd)
{
	switch (hd->type) {
	case NGHTTP2_DATA:
		return !hd->len && !(hd->flags & NGHTTP2_FLAG_END_STREAM);
	case NGHTTP2_HEADERS:
		return !hd->len &&
		       !(hd->flags & (NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_END_HEADERS));
	case NGHTTP2_CONTINUATION:
		return !hd->len && !(hd->flags & NGHTTP2_FLAG_END_HEADERS);
	default:
		return false;
	}
}

/* The floods that are counted by frame: 0, or -EPROTO with ENHANCE_YOUR_CALM. */
static int flood_check(struct l7_filter *f, const struct h2_hd *hd)
{
	bool ask = (hd->type == NGHTTP2_PING || hd->type == NGHTTP2_SETTINGS) &&
		   !(hd->flags & NGHTTP2_FLAG_ACK);

	if (hd->type == NGHTTP2_HEADERS || hd->type == NGHTTP2_DATA)
		f->ctl_run = 0;
	if (ask && ++f->ctl_run > H2_MAX_CONTROL_RUN)
		return h2_calm(f);
	if (!empty_frame(hd))
		f->empty_run = 0;
	else if (++f->empty_run > H2_MAX_EMPTY_RUN)
		return h2_calm(f);
	return 0;
}

static int cl_start(struct l7_filter *f, const struct h2_hd *hd)
{
	if (flood_check(f, hd))
		return -EPROTO;
	if (f->blk.open && hd->type != NGHTTP2_CONTINUATION)
		return -EPROTO; /* nothing may come between a HEADERS and its CONTINUATIONs */
	switch (hd->type) {
	case NGHTTP2_HEADERS:
		return headers_start(f, hd);
	case NGHTTP2_CONTINUATION:
		return continuation_start(f, hd);
	case NGHTTP2_PUSH_PROMISE:
		return -EPROTO;
	case NGHTTP2_SETTINGS:
		return hd->len % 6 || hd->sid ? -EPROTO : H2_BUFFER;
	case NGHTTP2_WINDOW_UPDATE:
		return hd->len != 4 ? -EPROTO : H2_BUFFER;
	case NGHTTP2_DATA:
	case NGHTTP2_RST_STREAM:
		if (hd->type == NGHTTP2_RST_STREAM)
			h2_tally_end(f, hd->sid, "DC"); /* ignored when the stream was answered */
		f->cl_drop = dropped_stream(f, hd->sid);
		return f->cl_drop ? H2_DROP : H2_PASS;
	case NGHTTP2_PRIORITY:
		f->cl_drop = dropped_priority(f, hd->sid);
		return f->cl_drop ? H2_DROP : H2_PASS;
	default:
		return H2_PASS; /* PING, GOAWAY, extensions */
	}
}

/* A fragment of the block under way; at its end, decide or forward. */
static int block_fragment(struct l7_filter *f, const uint8_t *p, size_t len, uint8_t flags)
{
	bool final = flags & NGHTTP2_FLAG_END_HEADERS;
	struct h2_denied *d;
	int rc = h2_hpack_feed(f, p, len, final);

	if (rc || !final)
		return rc;
	f->blk.open = false;
	switch (f->blk.kind) {
	case H2_BLOCK_REQUEST:
		return h2_request_done(f);
	case H2_BLOCK_TRAILERS:
		return h2_trailers_done(f);
	case H2_BLOCK_DROP:
		d = h2_denied_find(f, f->blk.sid);
		if (d && (f->blk.flags & NGHTTP2_FLAG_END_STREAM))
			h2_denied_client_done(f, d, false);
		return 0;
	}
	return -EPROTO;
}

/* HEADERS: strip padding, keep the priority fields, decode the fragment. */
static int headers_end(struct l7_filter *f, const struct h2_hd *hd, const uint8_t *p)
{
	size_t off = 0, pad = 0;

	if (hd->flags & NGHTTP2_FLAG_PADDED) {
		if (hd->len < 1)
			return -EPROTO;
		pad = p[0];
		off = 1;
	}
	if (hd->flags & NGHTTP2_FLAG_PRIORITY) {
		if (hd->len < off + 5)
			return -EPROTO;
		memcpy(f->blk.prio, p + off, 5);
		off += 5;
	}
	if (off + pad > hd->len)
		return -EPROTO;
	f->blk.flags = hd->flags & (NGHTTP2_FLAG_END_STREAM | NGHTTP2_FLAG_PRIORITY);
	return block_fragment(f, p + off, hd->len - off - pad, hd->flags);
}

static int pass_whole(struct l7_filter *f, const struct h2_hd *hd, const uint8_t *p)
{
	if (h2_put_hd(f->out_up, hd->len, hd->type, hd->flags, hd->sid) ||
	    l7_buf_put(f->out_up, p, hd->len))
		return -ENOMEM;
	return 0;
}

/* The client's SETTINGS: what it allows the pod (and so the filter) to send; its ACK of the
 * pod's SETTINGS is when the pod's header table size binds the client's encoder, and when the
 * pod's frame size may be used. */
static int settings_end(struct l7_filter *f, const struct h2_hd *hd, const uint8_t *p)
{
	size_t i;
	int rc;

	if (hd->flags & NGHTTP2_FLAG_ACK) {
		if (f->npending) {
			struct h2_pod_settings s = f->pending[0];

			memmove(f->pending, f->pending + 1, --f->npending * sizeof(s));
			if (s.max_frame)
				f->up_max_frame = s.max_frame;
			rc = h2_hpack_table_size(f, &s);
			if (rc)
				return rc;
		}
		return pass_whole(f, hd, p);
	}
	for (i = 0; i < hd->len; i += 6) {
		uint16_t id = (uint16_t)(p[i] << 8 | p[i + 1]);
		uint32_t v = h2_u32(p + i + 2);

		if (id == NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE && v <= H2_MAX_WINDOW)
			f->cl_init_win = v;
		if (id == NGHTTP2_SETTINGS_MAX_FRAME_SIZE && v > f->up.max_len && v < 1u << 24)
			f->up.max_len = v;
	}
	return pass_whole(f, hd, p);
}

static int window_update_end(struct l7_filter *f, const struct h2_hd *hd, const uint8_t *p)
{
	uint32_t inc = h2_u32(p) & 0x7fffffff, repay;
	struct h2_denied *d;

	if (hd->sid && dropped_stream(f, hd->sid)) {
		d = h2_denied_find(f, hd->sid);
		if (d)
			d->win_extra += inc;
		return 0;
	}
	if (hd->sid || !inc)
		return pass_whole(f, hd, p);
	f->cl_conn_win += inc;
	repay = f->owed < inc ? f->owed : inc;
	f->owed -= repay;
	if (inc == repay)
		return 0; /* it only paid for 403 bodies: the pod must not see it */
	return h2_put_u32_frame(f->out_up, NGHTTP2_WINDOW_UPDATE, 0, inc - repay);
}

/* A frame that streamed through (or was dropped) is complete: did it end its stream? */
static int streamed_end(struct l7_filter *f, const struct h2_hd *hd)
{
	bool reset = hd->type == NGHTTP2_RST_STREAM;
	bool ended = reset || (hd->type == NGHTTP2_DATA && (hd->flags & NGHTTP2_FLAG_END_STREAM));
	struct h2_denied *d;

	if (!f->cl_drop) {
		if (hd->type == NGHTTP2_DATA)
			h2_tally_client_data(f, hd->sid, hd->len);
		if (ended)
			h2_open_remove(f, hd->sid);
		return reset ? h2_reset_counted(f) : 0;
	}
	if (hd->type == NGHTTP2_DATA)
		f->give_back += hd->len;
	d = h2_denied_find(f, hd->sid);
	if (d && ended)
		h2_denied_client_done(f, d, reset);
	return 0;
}

static int cl_end(struct l7_filter *f, const struct h2_hd *hd, const uint8_t *p)
{
	switch (hd->type) {
	case NGHTTP2_HEADERS:
		return headers_end(f, hd, p);
	case NGHTTP2_CONTINUATION:
		return block_fragment(f, p, hd->len, hd->flags);
	case NGHTTP2_SETTINGS:
		return settings_end(f, hd, p);
	case NGHTTP2_WINDOW_UPDATE:
		return window_update_end(f, hd, p);
	case NGHTTP2_DATA:
	case NGHTTP2_RST_STREAM:
	case NGHTTP2_PRIORITY:
		return streamed_end(f, hd);
	default:
		return 0;
	}
}

const struct h2_frame_cb h2_client_cb = {.start = cl_start, .end = cl_end};
