// SPDX-License-Identifier: Apache-2.0
/*
 * The pod's answers per stream, for the request metrics, access log and span (l7_decider's
 * stream_end): each pod header block is decoded with an inflater that mirrors the pod's encoder,
 * every block (trailers, PUSH_PROMISE) included, or the next would refer to entries it never saw.
 * The frames still reach the client byte for byte: they are collected whole only to be read.
 * This is telemetry: a block that does not decode (a table size past the inflater's default,
 * which the client's SETTINGS allowed) stops the statuses of this connection, never its bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "l7/l7_h2.h"

int h2_status_open(struct l7_filter *f)
{
	if (!f->dec.stream_end)
		return 0;
	return nghttp2_hd_inflate_new(&f->rs_inflater) ? -ENOMEM : 0;
}

void h2_status_close(struct l7_filter *f)
{
	if (f->rs_inflater)
		nghttp2_hd_inflate_del(f->rs_inflater);
	f->rs_inflater = NULL;
}

void h2_stream_end(struct l7_filter *f, uint32_t sid, int status, const char *flags,
		   uint64_t request, uint64_t response)
{
	if (f->dec.stream_end)
		f->dec.stream_end(f->dec.ctx, sid, status, flags, request, response);
}

int h2_status_mode(const struct l7_filter *f)
{
	return f->rs_inflater && !f->rs_broken ? H2_BUFFER : H2_PASS;
}

/* The header block fragment of a frame: past padding, priority, a promised stream id. */
static bool fragment(const struct h2_hd *hd, const uint8_t *p, const uint8_t **frag, size_t *len)
{
	size_t off = 0, pad = 0;

	if (hd->type != NGHTTP2_CONTINUATION && (hd->flags & NGHTTP2_FLAG_PADDED)) {
		if (hd->len < 1)
			return false;
		pad = p[0];
		off = 1;
	}
	if (hd->type == NGHTTP2_HEADERS && (hd->flags & NGHTTP2_FLAG_PRIORITY))
		off += 5;
	if (hd->type == NGHTTP2_PUSH_PROMISE)
		off += 4;
	if (off + pad > hd->len)
		return false;
	*frag = p + off;
	*len = hd->len - off - pad;
	return true;
}

/* A field of a response block: its final :status, and the size of the head it begins. */
static void field(struct l7_filter *f, const nghttp2_nv *nv)
{
	int status;

	if (nv->namelen && nv->name[0] != ':') {
		if (f->rs_final)
			h2_tally_head_field(f, f->rs_sid, nv->namelen + nv->valuelen);
		return;
	}
	if (nv->namelen != 7 || memcmp(nv->name, ":status", 7))
		return;
	status = atoi((const char *)nv->value);
	if (status < 200)
		return; /* an interim 1xx: the final answer follows */
	f->rs_final = true;
	if (!h2_tally_status(f, f->rs_sid, status))
		h2_stream_end(f, f->rs_sid, status, "-", 0, 0);
}

/* Decode one fragment of a block; a response's fields go to field(). */
static int decode(struct l7_filter *f, const uint8_t *in, size_t len, bool final, bool report)
{
	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t n = nghttp2_hd_inflate_hd2(f->rs_inflater, &nv, &flags, in, len, final);

		if (n < 0)
			return -EPROTO;
		in += n;
		len -= (size_t)n;
		if ((flags & NGHTTP2_HD_INFLATE_EMIT) && report)
			field(f, &nv);
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(f->rs_inflater);
			return 0;
		}
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && !len)
			return 0;
	}
}

int h2_status_frame(struct l7_filter *f, const struct h2_hd *hd, const uint8_t *p)
{
	const uint8_t *frag;
	size_t len;

	if (h2_put_hd(f->out_cl, hd->len, hd->type, hd->flags, hd->sid) ||
	    l7_buf_put(f->out_cl, p, hd->len))
		return -ENOMEM;
	if (f->rs_broken)
		return 0;
	if (hd->type != NGHTTP2_CONTINUATION) {
		f->rs_sid = hd->sid;
		f->rs_report = hd->type == NGHTTP2_HEADERS;
		f->rs_final = false;
	}
	if (!fragment(hd, p, &frag, &len) ||
	    decode(f, frag, len, hd->flags & NGHTTP2_FLAG_END_HEADERS, f->rs_report))
		f->rs_broken = true;
	return 0;
}

void h2_status_frame_end(struct l7_filter *f, const struct h2_hd *hd)
{
	bool ends = hd->flags & NGHTTP2_FLAG_END_STREAM;

	switch (hd->type) {
	case NGHTTP2_DATA:
		h2_tally_pod_data(f, hd->sid, hd->len);
		if (ends)
			h2_tally_end(f, hd->sid, "-");
		return;
	case NGHTTP2_HEADERS:
		f->rs_end_sid = ends ? hd->sid : 0; /* trailers, or a response without a body */
		break;
	case NGHTTP2_PUSH_PROMISE:
		f->rs_end_sid = 0;
		break;
	case NGHTTP2_CONTINUATION:
		break;
	default:
		return;
	}
	if ((hd->flags & NGHTTP2_FLAG_END_HEADERS) && f->rs_end_sid) {
		h2_tally_end(f, f->rs_end_sid, "-");
		f->rs_end_sid = 0;
	}
}
