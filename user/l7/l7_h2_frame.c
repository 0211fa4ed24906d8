// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP/2 frames for the h2c filter: reassembly from bytes that arrive in any pieces, and the
 * frames the filter writes itself. Only header blocks and the small control frames the filter
 * reads are collected whole; DATA and everything it does not look into stream through, so a pod
 * that allows 16 MiB frames costs no 16 MiB buffer.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "l7/l7_h2.h"

#define H2_KEEP_BUF 65536 /* a reader's buffer larger than this is freed after its frame */

uint32_t h2_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void h2_hd_parse(const uint8_t *p, struct h2_hd *hd)
{
	hd->len = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	hd->type = p[3];
	hd->flags = p[4];
	hd->sid = h2_u32(p + 5) & 0x7fffffff;
}

bool h2_reader_at_boundary(const struct h2_reader *r)
{
	return !r->in_frame && r->raw_got == 0;
}

static void buf_drop(struct h2_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
}

void h2_reader_free(struct h2_reader *r)
{
	buf_drop(r);
	l7_buf_free(&r->held);
}

static int frame_end(struct h2_reader *r, const struct h2_frame_cb *cb, struct l7_filter *f)
{
	struct h2_hd hd = r->hd;
	const uint8_t *payload = NULL;
	int rc;

	r->in_frame = false;
	r->raw_got = 0;
	if (r->mode == H2_BUFFER)
		payload = r->buf ? r->buf : (const uint8_t *)"";
	rc = cb->end(f, &hd, payload);
	if (r->cap > H2_KEEP_BUF)
		buf_drop(r);
	return rc;
}

static int frame_start(struct h2_reader *r, struct l7_buf *out, const struct h2_frame_cb *cb,
		       struct l7_filter *f)
{
	int mode;

	h2_hd_parse(r->raw, &r->hd);
	if (r->hd.len > r->max_len)
		return -EPROTO;
	mode = cb->start(f, &r->hd);
	if (mode < 0)
		return mode;
	if (mode == H2_WAIT) {
		r->waiting = true;
		return 0;
	}
	r->mode = mode;
	if (mode == H2_PASS && l7_buf_put(out, r->raw, H2_HD_LEN))
		return -ENOMEM;
	if (mode == H2_BUFFER && r->hd.len > r->cap) {
		uint8_t *p = realloc(r->buf, r->hd.len);

		if (!p)
			return -ENOMEM;
		r->buf = p;
		r->cap = r->hd.len;
	}
	r->in_frame = true;
	r->got = 0;
	return r->hd.len ? 0 : frame_end(r, cb, f);
}

/*
 * Feed `len` bytes of one direction. Frame by frame, cb->start picks what happens to the payload
 * and cb->end sees the frame complete. Returns 0, or the first callback's error (-EPROTO when the
 * sender broke the protocol).
 */
int h2_read(struct h2_reader *r, const uint8_t *in, size_t len, struct l7_buf *out,
	    const struct h2_frame_cb *cb, struct l7_filter *f)
{
	size_t n;
	int rc;

	while (len) {
		if (r->waiting) {
			if (l7_buf_unread(&r->held) + len > H2_MAX_HELD)
				return -EPROTO;
			return l7_buf_put(&r->held, in, len);
		}
		if (!r->in_frame) {
			n = H2_HD_LEN - r->raw_got < len ? H2_HD_LEN - r->raw_got : len;
			memcpy(r->raw + r->raw_got, in, n);
			r->raw_got += n;
			in += n;
			len -= n;
			if (r->raw_got == H2_HD_LEN && (rc = frame_start(r, out, cb, f)))
				return rc;
			continue;
		}
		n = r->hd.len - r->got < len ? r->hd.len - r->got : len;
		if (r->mode == H2_PASS && l7_buf_put(out, in, n))
			return -ENOMEM;
		if (r->mode == H2_BUFFER)
			memcpy(r->buf + r->got, in, n);
		r->got += n;
		in += n;
		len -= n;
		if (r->got == r->hd.len && (rc = frame_end(r, cb, f)))
			return rc;
	}
	return 0;
}

/* Try again the frame that said H2_WAIT, then what came after it. */
int h2_resume(struct h2_reader *r, struct l7_buf *out, const struct h2_frame_cb *cb,
	      struct l7_filter *f)
{
	struct l7_buf held;
	int rc;

	if (!r->waiting)
		return 0;
	r->waiting = false;
	rc = frame_start(r, out, cb, f);
	if (rc || r->waiting)
		return rc;
	held = r->held; /* h2_read may hold again what is left: start from an empty buffer */
	memset(&r->held, 0, sizeof(r->held));
	rc = h2_read(r, l7_buf_head(&held), l7_buf_unread(&held), out, cb, f);
	l7_buf_free(&held);
	return rc;
}

int h2_put_hd(struct l7_buf *b, uint32_t len, uint8_t type, uint8_t flags, uint32_t sid)
{
	uint8_t p[H2_HD_LEN] = {len >> 16,	  len >> 8,  len,      type, flags,
				sid >> 24 & 0x7f, sid >> 16, sid >> 8, sid};

	return l7_buf_put(b, p, sizeof(p));
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* RST_STREAM (error code) or WINDOW_UPDATE (increment): a frame of one 32-bit value. */
int h2_put_u32_frame(struct l7_buf *b, uint8_t type, uint32_t sid, uint32_t v)
{
	uint8_t p[4];

	put_u32(p, v);
	if (h2_put_hd(b, sizeof(p), type, 0, sid))
		return -ENOMEM;
	return l7_buf_put(b, p, sizeof(p));
}

int h2_put_goaway(struct l7_buf *b, uint32_t last_sid, uint32_t code)
{
	uint8_t p[8];

	put_u32(p, last_sid & 0x7fffffff);
	put_u32(p + 4, code);
	if (h2_put_hd(b, sizeof(p), NGHTTP2_GOAWAY, 0, 0))
		return -ENOMEM;
	return l7_buf_put(b, p, sizeof(p));
}

/*
 * A header block as HEADERS plus as many CONTINUATIONs as `max_frame` (the receiver's
 * SETTINGS_MAX_FRAME_SIZE) needs. `flags` carries END_STREAM and PRIORITY (then `prio` holds
 * the five priority bytes, which count against the first frame).
 */
int h2_put_header_block(struct l7_buf *b, uint32_t sid, uint8_t flags, const uint8_t *prio,
			const uint8_t *block, size_t len, uint32_t max_frame)
{
	size_t extra = flags & NGHTTP2_FLAG_PRIORITY ? 5 : 0;
	size_t n = len < max_frame - extra ? len : max_frame - extra;
	uint8_t type = NGHTTP2_HEADERS;

	for (;;) {
		uint8_t fl = n == len ? flags | NGHTTP2_FLAG_END_HEADERS : flags;

		if (h2_put_hd(b, n + extra, type, fl, sid) ||
		    (extra && l7_buf_put(b, prio, extra)) || l7_buf_put(b, block, n))
			return -ENOMEM;
		if (n == len) /* before advancing: an empty block may come as NULL */
			return 0;
		block += n;
		len -= n;
		type = NGHTTP2_CONTINUATION;
		flags = 0;
		extra = 0;
		n = len < max_frame ? len : max_frame;
	}
}
