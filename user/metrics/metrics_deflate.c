// SPDX-License-Identifier: Apache-2.0
/*
 * Deflate (RFC 1951) for metrics pages, whose lines each repeat the line before with a few bytes
 * changed: the series of one family differ in a label value or two and the sample. A general
 * compressor searches a hash table for every match; here each line is compared with the line
 * before it only, eight bytes at a time, and what differs goes as literals. That finds the
 * matches zlib finds on such pages at a fraction of its cost; a page of other text compresses
 * worse, and a caller falls back to zlib when the output does not fit.
 *
 * The tokens of up to BLOCK_TOKENS go out as one block with its own Huffman codes (dynamic
 * blocks, RFC 1951 3.2.7): lengths from the block's counts, limited to 15 bits (7 for the code
 * length code) by halving the counts until the tree is shallow enough. The code lengths are sent
 * without run-length codes: a few hundred bits a block.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_http.h"

#define BLOCK_TOKENS (1u << 15)
#define MIN_MATCH    3
#define MAX_MATCH    258
#define MAX_DIST     32768
#define SYNC_RUN     4 /* bytes that must agree to align the lines again after a difference */
#define SYNC_AHEAD   4 /* positions of the line before tried for that */
#define NLIT	     286
#define NDIST	     30
#define NCL	     19
#define TOK_MATCH    0x80000000u /* else a literal byte */

static const uint16_t len_base[29] = {3,  4,  5,  6,   7,   8,	 9,   10,  11, 13,
				      15, 17, 19, 23,  27,  31,	 35,  43,  51, 59,
				      67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
				      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {
    1,	 2,   3,   4,	5,   7,	   9,	 13,   17,   25,   33,	 49,   65,    97,    129,
    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2,	3,  3,	4,  4,	5,  5,	6,
				       6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
/* the order the code length code's lengths are sent in */
static const uint8_t cl_order[NCL] = {16, 17, 18, 0, 8,	 7, 9,	6, 10, 5,
				      11, 4,  12, 3, 13, 2, 14, 1, 15};

struct bitw {
	uint8_t *p, *end;
	uint64_t acc;
	int n;
	bool full;
};

/* Append the low nb bits of v (nb <= 32), least significant first. */
static void put(struct bitw *w, uint32_t v, int nb)
{
	w->acc |= (uint64_t)v << w->n;
	w->n += nb;
	while (w->n >= 8) {
		if (w->p == w->end) {
			w->full = true;
			w->n = 0;
			w->acc = 0;
			return;
		}
		*w->p++ = (uint8_t)w->acc;
		w->acc >>= 8;
		w->n -= 8;
	}
}

static int len_code(unsigned len) /* 3..258 -> index into len_base */
{
	unsigned x = len - 3;
	int b;

	if (len == MAX_MATCH)
		return 28;
	if (x < 8)
		return (int)x;
	b = 31 - __builtin_clz(x);
	return 4 * (b - 1) + (int)((x >> (b - 2)) & 3);
}

static int dist_code(unsigned dist) /* 1..32768 */
{
	unsigned x = dist - 1;
	int b;

	if (x < 4)
		return (int)x;
	b = 31 - __builtin_clz(x);
	return 2 * b + (int)((x >> (b - 1)) & 1);
}

struct hsym {
	uint32_t f;
	uint16_t s;
};

static int hsym_cmp(const void *a, const void *b)
{
	const struct hsym *x = a, *y = b;

	return x->f != y->f ? (x->f < y->f ? -1 : 1) : (int)x->s - (int)y->s;
}

/*
 * Huffman code lengths of n symbols (n <= NLIT) no longer than `limit`. At least two symbols get
 * a code, so that every code is complete (zlib's inflate refuses incomplete ones).
 */
static void huff_lengths(const uint32_t *freq, int n, int limit, uint8_t *len)
{
	uint32_t f[NLIT], w[2 * NLIT];
	uint16_t parent[2 * NLIT];
	uint8_t depth[2 * NLIT];
	struct hsym leaf[NLIT];
	int used = 0;

	memcpy(f, freq, (size_t)n * sizeof(*f));
	for (int s = 0; s < n; s++)
		used += f[s] != 0;
	for (int s = 0; s < n && used < 2; s++)
		if (!f[s]) {
			f[s] = 1;
			used++;
		}
	for (;;) {
		int m = 0, a = 0, b, nn, maxd = 0;

		for (int s = 0; s < n; s++)
			if (f[s])
				leaf[m++] = (struct hsym){f[s], (uint16_t)s};
		if (m < 2)
			return; /* not reached: two symbols were given a count above */
		qsort(leaf, (size_t)m, sizeof(*leaf), hsym_cmp);
		for (int k = 0; k < m; k++)
			w[k] = leaf[k].f;
		/* two queues: the leaves by weight, the joined nodes in the order made */
		b = nn = m;
		while (nn < 2 * m - 1) {
			int pick[2];

			for (int k = 0; k < 2; k++)
				pick[k] = a < m && (b == nn || w[a] <= w[b]) ? a++ : b++;
			w[nn] = w[pick[0]] + w[pick[1]];
			parent[pick[0]] = parent[pick[1]] = (uint16_t)nn;
			nn++;
		}
		depth[nn - 1] = 0;
		for (int k = nn - 2; k >= 0; k--) {
			depth[k] = (uint8_t)(depth[parent[k]] + 1);
			maxd = k < m && depth[k] > maxd ? depth[k] : maxd;
		}
		if (maxd <= limit) {
			memset(len, 0, (size_t)n);
			for (int k = 0; k < m; k++)
				len[leaf[k].s] = depth[k];
			return;
		}
		for (int s = 0; s < n; s++)
			if (f[s])
				f[s] = f[s] >> 1 | 1;
	}
}

/* Canonical codes (RFC 1951 3.2.2), bit-reversed for an LSB-first writer. */
static void canon(const uint8_t *len, int n, uint16_t *code)
{
	uint16_t count[16] = {0}, next[16];
	unsigned c = 0;

	for (int s = 0; s < n; s++)
		count[len[s]]++;
	count[0] = 0;
	for (int b = 1; b < 16; b++) {
		c = (c + count[b - 1]) << 1;
		next[b] = (uint16_t)c;
	}
	for (int s = 0; s < n; s++) {
		unsigned v, r = 0;

		if (!len[s])
			continue;
		v = next[len[s]]++;
		for (int k = 0; k < len[s]; k++, v >>= 1)
			r = r << 1 | (v & 1);
		code[s] = (uint16_t)r;
	}
}

/* One dynamic block (not the final one) of nt tokens. */
static void block(struct bitw *w, const uint32_t *tok, size_t nt)
{
	uint32_t lf[NLIT] = {0}, df[NDIST] = {0}, cf[NCL] = {0};
	uint8_t ll[NLIT], dl[NDIST], cl[NCL], seq[NLIT + NDIST];
	uint16_t lc[NLIT] = {0}, dc[NDIST] = {0}, cc[NCL] = {0};
	int hlit = NLIT, hdist = NDIST;

	for (size_t k = 0; k < nt; k++) {
		uint32_t t = tok[k];

		if (t & TOK_MATCH) {
			lf[257 + len_code((t >> 15 & 0xff) + MIN_MATCH)]++;
			df[dist_code((t & 0x7fff) + 1)]++;
		} else {
			lf[t]++;
		}
	}
	lf[256] = 1;
	huff_lengths(lf, NLIT, 15, ll);
	huff_lengths(df, NDIST, 15, dl);
	while (hlit > 257 && !ll[hlit - 1])
		hlit--;
	while (hdist > 1 && !dl[hdist - 1])
		hdist--;
	memcpy(seq, ll, (size_t)hlit);
	memcpy(seq + hlit, dl, (size_t)hdist);
	for (int k = 0; k < hlit + hdist; k++)
		cf[seq[k]]++;
	huff_lengths(cf, NCL, 7, cl);
	canon(ll, NLIT, lc);
	canon(dl, NDIST, dc);
	canon(cl, NCL, cc);
	put(w, 0, 1); /* BFINAL 0 */
	put(w, 2, 2); /* BTYPE 10: dynamic codes */
	put(w, (uint32_t)(hlit - 257), 5);
	put(w, (uint32_t)(hdist - 1), 5);
	put(w, NCL - 4, 4);
	for (int k = 0; k < NCL; k++)
		put(w, cl[cl_order[k]], 3);
	for (int k = 0; k < hlit + hdist; k++)
		put(w, cc[seq[k]], cl[seq[k]]);
	for (size_t k = 0; k < nt; k++) {
		uint32_t t = tok[k];

		if (t & TOK_MATCH) {
			unsigned len = (t >> 15 & 0xff) + MIN_MATCH, dist = (t & 0x7fff) + 1;
			int l = len_code(len), d = dist_code(dist);

			put(w, lc[257 + l], ll[257 + l]);
			put(w, len - len_base[l], len_extra[l]);
			put(w, dc[d], dl[d]);
			put(w, dist - dist_base[d], dist_extra[d]);
		} else {
			put(w, lc[t], ll[t]);
		}
	}
	put(w, lc[256], ll[256]);
}

/* Bytes at a and b that agree, up to max. */
static size_t agree(const uint8_t *a, const uint8_t *b, size_t max)
{
	size_t k = 0;

	while (k + 8 <= max) {
		uint64_t x, y;

		memcpy(&x, a + k, 8);
		memcpy(&y, b + k, 8);
		if (x != y)
			return k + (size_t)(__builtin_ctzll(x ^ y) >> 3);
		k += 8;
	}
	while (k < max && a[k] == b[k])
		k++;
	return k;
}

struct lz {
	struct bitw *w;
	uint32_t *tok;
	size_t nt;
};

static void emit(struct lz *z, uint32_t t)
{
	z->tok[z->nt++] = t;
	if (z->nt == BLOCK_TOKENS) {
		block(z->w, z->tok, z->nt);
		z->nt = 0;
	}
}

/* run >= MIN_MATCH bytes at `dist` back, as matches of at most MAX_MATCH (none shorter than 3) */
static void emit_match(struct lz *z, size_t run, size_t dist)
{
	while (run) {
		size_t l = run < MAX_MATCH ? run : MAX_MATCH;

		if (run > MAX_MATCH && run - MAX_MATCH < MIN_MATCH)
			l = run - MIN_MATCH;
		emit(z, TOK_MATCH | (uint32_t)(l - MIN_MATCH) << 15 | (uint32_t)(dist - 1));
		run -= l;
	}
}

/* The line in[ls, le) against the line before it, in[ps, pe). */
static void line(struct lz *z, const uint8_t *in, size_t ls, size_t le, size_t ps, size_t pe)
{
	size_t i = ls, j = ps;

	while (i < le) {
		size_t max = le - i < pe - j ? le - i : pe - j;
		size_t run = j < pe && i - j <= MAX_DIST ? agree(in + i, in + j, max) : 0;

		if (run >= MIN_MATCH) {
			emit_match(z, run, i - j);
			i += run;
			j += run;
			continue;
		}
		emit(z, in[i++]);
		/* what differs may be longer or shorter than before: align again where SYNC_RUN
		 * bytes agree, else take it as a change of the same length */
		bool synced = false;

		for (size_t c = j; !synced && c < j + SYNC_AHEAD && c < pe && i < le; c++) {
			size_t want = le - i < SYNC_RUN ? le - i : SYNC_RUN;

			if (pe - c >= want && i - c <= MAX_DIST &&
			    agree(in + i, in + c, want) == want) {
				j = c;
				synced = true;
			}
		}
		if (!synced)
			j++;
	}
}

size_t metrics_deflate_lines(const char *text, size_t n, unsigned char *out, size_t cap)
{
	const uint8_t *in = (const uint8_t *)text;
	struct bitw w = {.p = out, .end = out + cap};
	struct lz z = {.w = &w, .tok = malloc(BLOCK_TOKENS * sizeof(uint32_t))};
	size_t ls = 0, ps = 0, pe = 0;

	if (!z.tok)
		return 0;
	while (ls < n && !w.full) {
		const uint8_t *nl = memchr(in + ls, '\n', n - ls);
		size_t le = nl ? (size_t)(nl - in) + 1 : n;

		line(&z, in, ls, le, ps, pe);
		ps = ls;
		pe = le;
		ls = le;
	}
	if (z.nt)
		block(&w, z.tok, z.nt);
	free(z.tok);
	put(&w, 1, 1); /* BFINAL */
	put(&w, 1, 2); /* BTYPE 01: the fixed codes, of which only end-of-block: 7 zero bits */
	put(&w, 0, 7);
	if (w.n)
		put(&w, 0, 8 - w.n);
	return w.full ? 0 : (size_t)(w.p - out);
}
