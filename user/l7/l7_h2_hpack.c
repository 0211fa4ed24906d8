// SPDX-License-Identifier: Apache-2.0
/*
 * Header blocks for the h2c filter (HPACK, RFC 7541).
 *
 * Client -> pod: every client header block is decoded with an inflater that mirrors the client's
 * encoder, even the ones the filter drops, or the next block would refer to table entries the
 * inflater never saw. Along the way each field's representation is read off the bytes the
 * inflater consumed for it (did the client index it, refer to an entry, or neither), so that the
 * encoder toward the pod (l7_h2_encode.c) can keep its table as the client keeps its own. A list
 * is kept up to its limit (h2_list_limit); beyond, it is still decoded, for the table's sake, and
 * marked oversized.
 *
 * Filter -> client: the pod's encoder owns the client's decoder state, so the filter's answers
 * are written by hand from static-table names and literals "without indexing", which leave the
 * client's dynamic table as the pod's encoder believes it is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l7/l7_h2.h"
#include "tracing/trace_ctx.h"

int h2_hpack_open(struct l7_filter *f)
{
	if (nghttp2_hd_inflate_new(&f->inflater))
		return -ENOMEM;
	f->enc = h2_enc_open();
	if (!f->enc) {
		nghttp2_hd_inflate_del(f->inflater);
		f->inflater = NULL;
		return -ENOMEM;
	}
	return 0;
}

void h2_hpack_close(struct l7_filter *f)
{
	if (f->inflater)
		nghttp2_hd_inflate_del(f->inflater);
	h2_enc_close(f->enc);
	h2_fields_free(&f->blk.fields);
}

/* The largest header list a request may carry: Envoy's default, or less if the pod says so. */
size_t h2_list_limit(const struct l7_filter *f)
{
	if (f->up_max_list && f->up_max_list < H2_MAX_LIST)
		return f->up_max_list;
	return H2_MAX_LIST;
}

void h2_fields_reset(struct h2_fields *fl)
{
	fl->len = 0;
	fl->n = 0;
	fl->size = 0;
	fl->oversized = false;
}

void h2_fields_free(struct h2_fields *fl)
{
	free(fl->arena);
	free(fl->v);
	memset(fl, 0, sizeof(*fl));
}

const char *h2_field_name(const struct h2_fields *fl, size_t i)
{
	return fl->arena + fl->v[i].name;
}

const char *h2_field_value(const struct h2_fields *fl, size_t i)
{
	return fl->arena + fl->v[i].value;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* A decoded field joins the list, unless the list has outgrown `limit`: it is then only counted,
 * so that what a client can make skiffd hold stays bounded whatever it sends. */
static int fields_add(struct h2_fields *fl, const nghttp2_nv *nv, enum h2_rep rep, size_t limit)
{
	size_t need = nv->namelen + nv->valuelen + 2;
	struct h2_field *e;

	fl->size += nv->namelen + nv->valuelen + H2_FIELD_OVERHEAD;
	fl->oversized |= fl->size > limit;
	if (fl->oversized)
		return 0;
	if (grow((void **)&fl->arena, &fl->cap, fl->len + need, 1) ||
	    grow((void **)&fl->v, &fl->vcap, fl->n + 1, sizeof(*fl->v)))
		return -ENOMEM;
	e = &fl->v[fl->n++];
	e->name = fl->len;
	e->namelen = nv->namelen;
	e->value = e->name + nv->namelen + 1;
	e->valuelen = nv->valuelen;
	e->flags = nv->flags & NGHTTP2_NV_FLAG_NO_INDEX;
	e->rep = rep;
	memcpy(fl->arena + e->name, nv->name, nv->namelen);
	fl->arena[e->name + nv->namelen] = '\0';
	memcpy(fl->arena + e->value, nv->value, nv->valuelen);
	fl->arena[e->value + nv->valuelen] = '\0';
	fl->len += need;
	return 0;
}

/*
 * The bytes the inflater just consumed: the first byte of each representation says what it is
 * (RFC 7541 6): a reference, a literal the client indexed, another literal (with its name from a
 * table or not), or a table size update (only at a block's start, its integer maybe over several
 * bytes). The inflater returns as soon as it emits a field, so a field's bytes never run into the
 * next one's.
 */
static void scan(struct h2_block *b, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n && b->scan != H2_SCAN_FIELD; i++) {
		if (b->scan == H2_SCAN_UPDATE) {
			b->scan = p[i] & 0x80 ? H2_SCAN_UPDATE : H2_SCAN_START;
		} else if ((p[i] & 0xe0) == 0x20) {
			b->scan = (p[i] & 0x1f) == 0x1f ? H2_SCAN_UPDATE : H2_SCAN_START;
		} else {
			b->rep = p[i] & 0x80   ? H2_REP_INDEXED
				 : p[i] & 0x40 ? H2_REP_INCREMENTAL
				 : p[i] & 0x0f ? H2_REP_NAME_REF
					       : H2_REP_LITERAL;
			b->scan = H2_SCAN_FIELD;
		}
	}
}

/*
 * One fragment of the current block (a HEADERS or CONTINUATION payload without padding or
 * priority); `final` on the END_HEADERS one. Fields of a dropped block are decoded, not kept.
 * -EPROTO when the client's HPACK is broken.
 */
int h2_hpack_feed(struct l7_filter *f, const uint8_t *frag, size_t len, bool final)
{
	bool keep = f->blk.kind != H2_BLOCK_DROP;
	size_t limit = h2_list_limit(f);

	for (;;) {
		nghttp2_nv nv;
		int flags = 0, rc;
		ssize_t n = nghttp2_hd_inflate_hd2(f->inflater, &nv, &flags, frag, len, final);

		if (n < 0)
			return n == NGHTTP2_ERR_NOMEM ? -ENOMEM : -EPROTO;
		scan(&f->blk, frag, n);
		frag += n;
		len -= n;
		if (flags & NGHTTP2_HD_INFLATE_EMIT) {
			rc = keep ? fields_add(&f->blk.fields, &nv, f->blk.rep, limit) : 0;
			if (rc)
				return rc;
			f->blk.scan = H2_SCAN_START;
		}
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(f->inflater);
			return 0;
		}
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && !len)
			return 0;
	}
}

/* The pod's SETTINGS_HEADER_TABLE_SIZE takes effect: the client acknowledged it. It binds the
 * client's encoder, mirrored by the inflater, and ours toward the pod alike. */
int h2_hpack_table_size(struct l7_filter *f, const struct h2_pod_settings *c)
{
	/* The smallest value first, so the inflater demands the update the encoder must send
	 * (RFC 7541 4.2), then the final one as the bound. */
	if (c->tbl_min < 0)
		return 0;
	if (nghttp2_hd_inflate_change_table_size(f->inflater, c->tbl_min) ||
	    nghttp2_hd_inflate_change_table_size(f->inflater, c->tbl_last))
		return -EPROTO;
	h2_enc_table_size(f->enc, c->tbl_min, c->tbl_last);
	return 0;
}

/* The current block's fields, re-encoded into `out`; field `path_i` with `path` for its value
 * (the normalised :path), field `drop_i` left out (SIZE_MAX: none). */
static int encode(struct l7_filter *f, const char *path, size_t path_i, size_t drop_i, bool traced,
		  struct l7_buf *out)
{
	const struct h2_fields *fl = &f->blk.fields;
	int rc = h2_enc_begin(f->enc, out);

	for (size_t i = 0; i < fl->n && !rc; i++) {
		struct h2_nv nv = {
		    .name = h2_field_name(fl, i),
		    .namelen = fl->v[i].namelen,
		    .value = h2_field_value(fl, i),
		    .valuelen = fl->v[i].valuelen,
		    .flags = fl->v[i].flags,
		    .rep = fl->v[i].rep,
		};

		if (i == drop_i || (traced && trace_field_replaced(nv.name)))
			continue;
		if (i == path_i) {
			nv.value = path;
			nv.valuelen = strlen(path);
		}
		rc = h2_enc_field(f->enc, &nv, out);
	}
	return rc;
}

/*
 * The current block, re-encoded, toward the pod. HPACK bytes toward the pod may not outgrow the
 * client's by more than H2_ENC_RATIO times plus H2_ENC_SLACK: the encoder keeps them close, and
 * a client that still gets them apart is amplifying through skiffd, which ends the connection
 * before the block goes out.
 */
/* The propagation fields in place of the request's: literals the pod's table never keeps. */
static int encode_extra(struct l7_filter *f, const struct l7_buf *extra, struct l7_buf *out)
{
	const char *p = (const char *)l7_buf_head(extra), *end = p + l7_buf_unread(extra);
	int rc = 0;

	while (p < end && !rc) {
		const char *value = p + strlen(p) + 1;
		struct h2_nv nv = {.name = p,
				   .namelen = strlen(p),
				   .value = value,
				   .valuelen = strlen(value),
				   .rep = H2_REP_LITERAL};

		rc = h2_enc_field(f->enc, &nv, out);
		p = value + nv.valuelen + 1;
	}
	return rc;
}

int h2_hpack_forward(struct l7_filter *f, const char *path, size_t path_i, size_t drop_i,
		     const struct l7_buf *extra)
{
	struct l7_buf block = {0};
	int rc = encode(f, path, path_i, drop_i, extra != NULL, &block);

	/* what the filter adds itself is not the client's amplification */
	f->hb_out += l7_buf_unread(&block);
	if (!rc && extra)
		rc = encode_extra(f, extra, &block);
	if (!rc && f->hb_out > H2_ENC_RATIO * f->hb_in + H2_ENC_SLACK)
		rc = h2_calm(f);
	if (!rc)
		rc = h2_put_header_block(f->out_up, f->blk.sid, f->blk.flags, f->blk.prio,
					 block.data, l7_buf_unread(&block), f->up_max_frame);
	l7_buf_free(&block);
	if (!rc && f->blk.sid > f->last_forwarded_id)
		f->last_forwarded_id = f->blk.sid;
	return rc;
}

/* "Literal Header Field without Indexing -- Indexed Name" (RFC 7541 6.2.2), plain value. */
static size_t put_literal(uint8_t *p, uint32_t name_index, const char *value)
{
	size_t n = h2_hpack_int(p, name_index, 4, 0x00);
	size_t len = strlen(value);

	n += h2_hpack_int(p + n, len, 7, 0x00);
	memcpy(p + n, value, len);
	return n + len;
}

/* The header block of the filter's answer `a` (static table: 8 ":status", 31 "content-type",
 * 28 "content-length"). Returns its length; `len` must be at least 64. */
size_t h2_hpack_reply(uint8_t *out, size_t len, enum h2_answer a)
{
	char clen[8];
	size_t n = 0;

	if (len < 64)
		return 0;
	if (a == H2_ANSWER_CONNECT || a == H2_ANSWER_431) {
		n += put_literal(out + n, 8, a == H2_ANSWER_CONNECT ? "403" : "431");
		n += put_literal(out + n, 28, "0");
		return n;
	}
	snprintf(clen, sizeof(clen), "%zu", sizeof(L7_DENY_BODY) - 1);
	n += put_literal(out + n, 8, "403");
	n += put_literal(out + n, 31, "text/plain");
	n += put_literal(out + n, 28, clen);
	return n;
}

/* The size of that answer as the request metrics count a response: its fields but :status,
 * names and values, and its body. */
size_t h2_reply_size(enum h2_answer a)
{
	size_t body = sizeof(L7_DENY_BODY) - 1;

	if (a == H2_ANSWER_CONNECT || a == H2_ANSWER_431)
		return strlen("content-length") + 1;
	return strlen("content-type") + strlen("text/plain") + strlen("content-length") +
	       (body >= 10 ? 2 : 1) + (a == H2_ANSWER_403 ? body : 0);
}
