// SPDX-License-Identifier: Apache-2.0
/*
 * The h2c filter's HPACK encoder toward the pod (RFC 7541).
 *
 * The filter re-encodes every header block it forwards: it drops blocks the pod never sees, so
 * the client's encoder state cannot be the pod's. A re-encoder without a dynamic table turns each
 * one-byte reference to a large entry of the client's table into a full literal: kilobytes
 * toward the pod for every byte from the client. This one has a table and fills it as the client
 * fills its own: a field the client added to its table is added to ours; a field the client
 * referred to and ours lacks (its block was dropped, or ours evicted it) is added on its way
 * through, and so is a literal whose name came from the client's table when ours has no such
 * name; other literals are not added. The two tables have the same size (the pod's
 * SETTINGS_HEADER_TABLE_SIZE, capped at H2_TABLE_MAX both ways), so what the client sends as a
 * reference goes on as one. Indexing more than the client does would look generous and is not:
 * fields the client keeps out of its table (nghttp2 keeps :path out) would push out of ours the
 * large entries the client still refers to. What cannot follow is a never-indexed field named by
 * an entry ours lacks: that name goes out literally, and l7_h2_hpack.c's budget bounds it.
 *
 * String literals are nghttp2's: a deflater without a table encodes the field alone, and its
 * strings (Huffman-coded when that is shorter) are copied out of that; the representation around
 * them and the table are ours. Every block encoded here must reach the pod, in order: the pod's
 * decoder follows this table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "l7/l7_h2.h"

#define ENC_ENTRIES (H2_TABLE_MAX / H2_FIELD_OVERHEAD) /* the most a full table holds */
#define STATIC_LEN  61				       /* entries in HPACK's static table */

/* A dynamic table entry; name and value in one allocation. */
struct enc_entry {
	char *name;
	size_t namelen, valuelen;
};

struct h2_enc {
	struct enc_entry ring[ENC_ENTRIES]; /* n entries, the oldest at `first` */
	size_t first, n;
	size_t size, max; /* the table's size as RFC 7541 4.1 counts it; its maximum */
	bool update;	  /* size updates are owed at the next block's start */
	uint32_t upd_min, upd_last;
	nghttp2_hd_deflater *lit; /* no dynamic table: string literals only */
	uint8_t *scratch;	  /* its encoding of one field */
	size_t scratch_cap;
};

size_t h2_hpack_int(uint8_t *p, uint32_t v, int prefix, uint8_t first)
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

static int put_int(struct l7_buf *out, uint32_t v, int prefix, uint8_t first)
{
	uint8_t p[8];

	return l7_buf_put(out, p, h2_hpack_int(p, v, prefix, first));
}

/* The integer with an N-bit prefix at p: its length in bytes, or 0 when it runs past `end`. */
static size_t get_int(const uint8_t *p, const uint8_t *end, int prefix, uint32_t *v)
{
	uint32_t max = (1u << prefix) - 1;
	size_t n;

	if (p >= end)
		return 0;
	*v = p[0] & max;
	if (*v < max)
		return 1;
	for (n = 1; p + n < end && n < 5; n++) {
		*v += (uint32_t)(p[n] & 0x7f) << (7 * (n - 1));
		if (!(p[n] & 0x80))
			return n + 1;
	}
	return 0;
}

/* A string literal's length at p, its length prefix included; 0 when it runs past `end`. */
static size_t str_len(const uint8_t *p, const uint8_t *end)
{
	uint32_t len;
	size_t n = get_int(p, end, 7, &len);

	return n && len <= (size_t)(end - p) - n ? n + len : 0;
}

static size_t entry_size(size_t namelen, size_t valuelen)
{
	return namelen + valuelen + H2_FIELD_OVERHEAD;
}

/* The k-th newest entry (HPACK index STATIC_LEN + 1 + k). */
static struct enc_entry *entry(struct h2_enc *e, size_t k)
{
	return &e->ring[(e->first + e->n - 1 - k) % ENC_ENTRIES];
}

static void evict_oldest(struct h2_enc *e)
{
	struct enc_entry *o = &e->ring[e->first];

	e->size -= entry_size(o->namelen, o->valuelen);
	free(o->name);
	o->name = NULL;
	e->first = (e->first + 1) % ENC_ENTRIES;
	e->n--;
}

static void shrink_to(struct h2_enc *e, size_t size)
{
	while (e->n && e->size > size)
		evict_oldest(e);
}

/* `copy` holds name then value; the entry takes it. The caller checked it fits the table. */
static void insert(struct h2_enc *e, char *copy, const struct h2_nv *nv)
{
	size_t sz = entry_size(nv->namelen, nv->valuelen);
	struct enc_entry *t;

	shrink_to(e, e->max - sz);
	if (e->n == ENC_ENTRIES) /* cannot happen: every entry takes H2_FIELD_OVERHEAD at least */
		evict_oldest(e);
	t = &e->ring[(e->first + e->n) % ENC_ENTRIES];
	*t = (struct enc_entry){copy, nv->namelen, nv->valuelen};
	e->n++;
	e->size += sz;
}

/* The newest entry equal to nv (-1: none); *name_k the newest with its name (-1: none). */
static long find(struct h2_enc *e, const struct h2_nv *nv, long *name_k)
{
	*name_k = -1;
	for (size_t k = 0; k < e->n; k++) {
		const struct enc_entry *t = entry(e, k);

		if (t->namelen != nv->namelen || memcmp(t->name, nv->name, nv->namelen))
			continue;
		if (*name_k < 0)
			*name_k = (long)k;
		if (t->valuelen == nv->valuelen &&
		    !memcmp(t->name + t->namelen, nv->value, nv->valuelen))
			return (long)k;
	}
	return -1;
}

/* nghttp2's encoding of the field alone into e->scratch; its length, or -errno. */
static long literal(struct h2_enc *e, const struct h2_nv *nv)
{
	nghttp2_nv x = {(uint8_t *)nv->name, (uint8_t *)nv->value, nv->namelen, nv->valuelen,
			nv->flags & NGHTTP2_NV_FLAG_NO_INDEX};
	size_t bound = nghttp2_hd_deflate_bound(e->lit, &x, 1);
	ssize_t n;

	if (bound > e->scratch_cap) {
		uint8_t *p = realloc(e->scratch, bound);

		if (!p)
			return -ENOMEM;
		e->scratch = p;
		e->scratch_cap = bound;
	}
	n = nghttp2_hd_deflate_hd(e->lit, e->scratch, bound, &x, 1);
	if (n <= 0)
		return n == NGHTTP2_ERR_NOMEM ? -ENOMEM : -EINVAL;
	return n;
}

struct h2_enc *h2_enc_open(void)
{
	struct h2_enc *e = calloc(1, sizeof(*e));
	nghttp2_nv none;
	uint8_t upd[8];

	if (!e)
		return NULL;
	e->max = NGHTTP2_DEFAULT_HEADER_TABLE_SIZE; /* the pod's until its SETTINGS say otherwise */
	/* A deflater made without a table owes its peer a size update (to 0): take it now, so that
	 * what it encodes from here on is the field alone. */
	if (nghttp2_hd_deflate_new(&e->lit, 0) ||
	    nghttp2_hd_deflate_hd(e->lit, upd, sizeof(upd), &none, 0) < 0) {
		h2_enc_close(e);
		return NULL;
	}
	return e;
}

void h2_enc_close(struct h2_enc *e)
{
	if (!e)
		return;
	shrink_to(e, 0);
	if (e->lit)
		nghttp2_hd_deflate_del(e->lit);
	free(e->scratch);
	free(e);
}

/* The pod's HEADER_TABLE_SIZE took effect (its smallest and final values in one SETTINGS): the
 * table shrinks now, and the next block starts with the updates that tell the pod. */
void h2_enc_table_size(struct h2_enc *e, uint32_t min, uint32_t last)
{
	min = min < H2_TABLE_MAX ? min : H2_TABLE_MAX;
	last = last < H2_TABLE_MAX ? last : H2_TABLE_MAX;
	shrink_to(e, min);
	e->max = last;
	e->upd_min = e->update && e->upd_min < min ? e->upd_min : min;
	e->upd_last = last;
	e->update = true;
}

/* A block's start: the size updates owed, if any (RFC 7541 4.2). */
int h2_enc_begin(struct h2_enc *e, struct l7_buf *out)
{
	if (!e->update)
		return 0;
	e->update = false;
	if (e->upd_min < e->upd_last && put_int(out, e->upd_min, 5, 0x20))
		return -ENOMEM;
	return put_int(out, e->upd_last, 5, 0x20);
}

/* Should the field go into our table? When the client's has it, or (a literal whose name the
 * client took from its table) when ours lacks the name: a never-indexed field never does. */
static bool should_add(const struct h2_enc *e, const struct h2_nv *nv, bool named)
{
	if ((nv->flags & NGHTTP2_NV_FLAG_NO_INDEX) ||
	    entry_size(nv->namelen, nv->valuelen) > e->max)
		return false;
	return nv->rep == H2_REP_INCREMENTAL || nv->rep == H2_REP_INDEXED ||
	       (nv->rep == H2_REP_NAME_REF && !named);
}

/* The field as a literal, from nghttp2's encoding of it alone (e->scratch, `n` bytes): its name
 * a reference when a table has it (name_k: ours), its value nghttp2's string. */
static int put_literal(struct h2_enc *e, const struct h2_nv *nv, long name_k, size_t n,
		       struct l7_buf *out)
{
	const uint8_t *p = e->scratch, *end = p + n;
	bool noindex = nv->flags & NGHTTP2_NV_FLAG_NO_INDEX, add;
	char *copy = NULL;
	uint32_t idx;
	uint8_t first;
	size_t used = get_int(p, end, 4, &idx);

	if (!used)
		return -EINVAL;
	p += used; /* the name string when idx is 0, then the value string */
	if (!idx && name_k >= 0) {
		used = str_len(p, end);
		if (!used)
			return -EINVAL;
		p += used;
		idx = STATIC_LEN + 1 + name_k;
	}
	add = should_add(e, nv, idx);
	if (add) { /* before anything is written: the pod will add it whatever happens next */
		copy = malloc(nv->namelen + nv->valuelen + 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, nv->name, nv->namelen);
		memcpy(copy + nv->namelen, nv->value, nv->valuelen);
	}
	/* with incremental indexing, never indexed, or without indexing (RFC 7541 6.2) */
	first = add ? 0x40 : noindex ? 0x10 : 0x00;
	if (put_int(out, idx, add ? 6 : 4, first) || l7_buf_put(out, p, end - p)) {
		free(copy);
		return -ENOMEM;
	}
	if (add)
		insert(e, copy, nv);
	return 0;
}

/*
 * One field, appended to `out`: a reference when our table or the static one has it (never for
 * a never-indexed field, RFC 7541 7.1.3), else a literal. Our table is searched first, so that a
 * reference to a large entry costs no more than finding it.
 */
int h2_enc_field(struct h2_enc *e, const struct h2_nv *nv, struct l7_buf *out)
{
	long name_k, k = find(e, nv, &name_k), n;

	if (k >= 0 && !(nv->flags & NGHTTP2_NV_FLAG_NO_INDEX))
		return put_int(out, STATIC_LEN + 1 + k, 7, 0x80);
	n = literal(e, nv);
	if (n < 0)
		return (int)n;
	if (e->scratch[0] & 0x80) /* the static table has the whole field */
		return l7_buf_put(out, e->scratch, n);
	return put_literal(e, nv, name_k, n, out);
}
