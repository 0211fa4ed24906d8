// SPDX-License-Identifier: Apache-2.0
/*
 * Header blocks for the h2c filter (HPACK, RFC 7541).
 *
 * Client -> pod: every client header block is decoded with an inflater that mirrors the client's
 * encoder, even the ones the filter drops, or the next block would refer to table entries the
 * inflater never saw. What goes to the pod is re-encoded by a deflater with a 0-byte dynamic
 * table: it only ever writes literals and static-table references, so it has no state the pod
 * could disagree with, whatever the filter drops.
 *
 * Filter -> client: the pod's encoder owns the client's decoder state, so the 403's header block
 * is written by hand from static-table names and literals "without indexing", which leave the
 * client's dynamic table as the pod's encoder believes it is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/l7_h2.h"

int h2_hpack_open(struct l7_filter *f)
{
	if (nghttp2_hd_inflate_new(&f->inflater))
		return -ENOMEM;
	if (nghttp2_hd_deflate_new(&f->deflater, 0)) {
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
	if (f->deflater)
		nghttp2_hd_deflate_del(f->deflater);
	h2_fields_free(&f->blk.fields);
}

void h2_fields_reset(struct h2_fields *fl)
{
	fl->len = 0;
	fl->n = 0;
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

/* A header list larger than H2_MAX_FIELDS ends the connection: it is an attack, not a request. */
static int fields_add(struct h2_fields *fl, const nghttp2_nv *nv)
{
	size_t need = nv->namelen + nv->valuelen + 2;
	struct h2_field *e;

	if (fl->len + need > H2_MAX_FIELDS)
		return -EPROTO;
	if (grow((void **)&fl->arena, &fl->cap, fl->len + need, 1) ||
	    grow((void **)&fl->v, &fl->vcap, fl->n + 1, sizeof(*fl->v)))
		return -ENOMEM;
	e = &fl->v[fl->n++];
	e->name = fl->len;
	e->namelen = nv->namelen;
	e->value = e->name + nv->namelen + 1;
	e->valuelen = nv->valuelen;
	e->flags = nv->flags & NGHTTP2_NV_FLAG_NO_INDEX;
	memcpy(fl->arena + e->name, nv->name, nv->namelen);
	fl->arena[e->name + nv->namelen] = '\0';
	memcpy(fl->arena + e->value, nv->value, nv->valuelen);
	fl->arena[e->value + nv->valuelen] = '\0';
	fl->len += need;
	return 0;
}

/*
 * One fragment of the current block (a HEADERS or CONTINUATION payload without padding or
 * priority); `final` on the END_HEADERS one. Fields of a dropped block are decoded, not kept.
 * -EPROTO when the client's HPACK is broken.
 */
int h2_hpack_feed(struct l7_filter *f, const uint8_t *frag, size_t len, bool final)
{
	bool keep = f->blk.kind != H2_BLOCK_DROP;

	for (;;) {
		nghttp2_nv nv;
		int flags = 0, rc;
		ssize_t n = nghttp2_hd_inflate_hd2(f->inflater, &nv, &flags, frag, len, final);

		if (n < 0)
			return n == NGHTTP2_ERR_NOMEM ? -ENOMEM : -EPROTO;
		frag += n;
		len -= n;
		if ((flags & NGHTTP2_HD_INFLATE_EMIT) && keep &&
		    (rc = fields_add(&f->blk.fields, &nv)))
			return rc;
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(f->inflater);
			return 0;
		}
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && !len)
			return 0;
	}
}

/* The pod's SETTINGS_HEADER_TABLE_SIZE takes effect: the client acknowledged it. */
int h2_hpack_table_size(struct l7_filter *f, const struct h2_pod_settings *c)
{
	/* The smallest value first, so the inflater demands the update the encoder must send
	 * (RFC 7541 4.2), then the final one as the bound. */
	if (c->tbl_min < 0)
		return 0;
	if (nghttp2_hd_inflate_change_table_size(f->inflater, c->tbl_min) ||
	    nghttp2_hd_inflate_change_table_size(f->inflater, c->tbl_last))
		return -EPROTO;
	return 0;
}

/* The current block, re-encoded, toward the pod. */
int h2_hpack_forward(struct l7_filter *f, struct l7_buf *to_up)
{
	const struct h2_fields *fl = &f->blk.fields;
	nghttp2_nv *nva = calloc(fl->n ? fl->n : 1, sizeof(*nva));
	uint8_t *block = NULL;
	ssize_t n;
	size_t i;
	int rc = -ENOMEM;

	if (!nva)
		return -ENOMEM;
	for (i = 0; i < fl->n; i++) {
		nva[i].name = (uint8_t *)fl->arena + fl->v[i].name;
		nva[i].namelen = fl->v[i].namelen;
		nva[i].value = (uint8_t *)fl->arena + fl->v[i].value;
		nva[i].valuelen = fl->v[i].valuelen;
		nva[i].flags = fl->v[i].flags;
	}
	n = nghttp2_hd_deflate_bound(f->deflater, nva, fl->n);
	block = malloc(n ? n : 1);
	if (!block)
		goto out;
	n = nghttp2_hd_deflate_hd(f->deflater, block, n, nva, fl->n);
	if (n < 0)
		goto out;
	rc = h2_put_header_block(to_up, f->blk.sid, f->blk.flags, f->blk.prio, block, n,
				 f->up_max_frame);
	if (!rc && f->blk.sid > f->last_forwarded_id)
		f->last_forwarded_id = f->blk.sid;
out:
	free(block);
	free(nva);
	return rc;
}

/* An HPACK integer with an N-bit prefix, `first` holding the bits above the prefix. */
static size_t put_int(uint8_t *p, uint32_t v, int prefix, uint8_t first)
{
	uint32_t max = (1u << prefix) - 1;
	size_t n = 0;

	if (v < max) {
		p[n++] = first | v;
		return n;
	}
	p[n++] = first | max;
	for (v -= max; v >= 128; v >>= 7)
		p[n++] = 0x80 | (v & 0x7f);
	p[n++] = v;
	return n;
}

/* "Literal Header Field without Indexing -- Indexed Name" (RFC 7541 6.2.2), plain value. */
static size_t put_literal(uint8_t *p, uint32_t name_index, const char *value)
{
	size_t n = put_int(p, name_index, 4, 0x00);
	size_t len = strlen(value);

	n += put_int(p + n, len, 7, 0x00);
	memcpy(p + n, value, len);
	return n + len;
}

/* The 403's header block (static table: 8 ":status", 31 "content-type", 28 "content-length").
 * Returns its length; `len` must be at least 64. */
size_t h2_hpack_403(uint8_t *out, size_t len)
{
	char clen[8];
	size_t n = 0;

	if (len < 64)
		return 0;
	snprintf(clen, sizeof(clen), "%zu", sizeof(L7_DENY_BODY) - 1);
	n += put_literal(out + n, 8, "403");
	n += put_literal(out + n, 31, "text/plain");
	n += put_literal(out + n, 28, clen);
	return n;
}
