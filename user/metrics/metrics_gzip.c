// SPDX-License-Identifier: Apache-2.0
/*
 * gzip (RFC 1952) of a metrics page: the body by the line deflater (metrics_deflate.c), which
 * compares each line with the one before, or by zlib's raw deflate when the text is not such a
 * page (the line deflater's output did not fit); the header and trailer written here, the CRC-32
 * by libdeflate. zlib's own gzip wrapper computes the CRC with a table-driven loop that cost 13
 * ms of a 29 MB page; libdeflate's carry-less multiply version takes 3 ms for the same bytes.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <libdeflate.h>
#include <zlib.h>

#include "metrics/metrics_http.h"

/*
 * The fallback: zlib's fastest level, with a hash table of 4 K entries instead of the default 64 K (memLevel 4,
 * not 8): a page's lines repeat the line before with a few bytes changed, so the small table
 * finds the same matches (the same 197 kB for 10,000 series) and stays in the CPU's cache: a
 * quarter less time on the 29 MB page. Levels above 1 cost more and gained nothing on such
 * pages; zlib's RLE and Huffman-only strategies were 8x slower and 80x bigger.
 */
#define GZ_LEVEL    1
#define GZ_MEMLEVEL 4
#define GZ_HEAD	    10
#define GZ_TAIL	    8

/* ID1 ID2, deflate, no flags, no mtime, XFL 4 (fastest), OS 3 (Unix) */
static const unsigned char gz_head[GZ_HEAD] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3};

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* A raw deflate stream (windowBits negative: no zlib or gzip wrapper, no checksum in zlib). */
static z_stream *raw_stream(void)
{
	z_stream *z = calloc(1, sizeof(*z));

	if (z &&
	    deflateInit2(z, GZ_LEVEL, Z_DEFLATED, -15, GZ_MEMLEVEL, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(z);
		return NULL;
	}
	return z;
}

static size_t gz_bound(z_stream *z, size_t n)
{
	return GZ_HEAD + deflateBound(z, (uLong)n) + GZ_TAIL;
}

/* gzip `in` into out (at least gz_bound bytes) with the reset stream z; 0 when zlib fails. */
static size_t gz_write(z_stream *z, const char *in, size_t n, unsigned char *out, size_t cap)
{
	size_t body;

	if (n > UINT_MAX || cap - GZ_HEAD - GZ_TAIL > UINT_MAX)
		return 0; /* one deflate call: avail_in and avail_out are 32-bit */
	memcpy(out, gz_head, GZ_HEAD);
	body = metrics_deflate_lines(in, n, out + GZ_HEAD, cap - GZ_HEAD - GZ_TAIL);
	if (!body) { /* not a page of similar lines: zlib's general search */
		z->next_in = (Bytef *)in;
		z->avail_in = (uInt)n;
		z->next_out = out + GZ_HEAD;
		z->avail_out = (uInt)(cap - GZ_HEAD - GZ_TAIL);
		if (deflate(z, Z_FINISH) != Z_STREAM_END)
			return 0;
		body = z->total_out;
	}
	put_le32(out + GZ_HEAD + body, libdeflate_crc32(0, in, n));
	put_le32(out + GZ_HEAD + body + 4, (uint32_t)n); /* ISIZE: the length modulo 2^32 */
	return GZ_HEAD + body + GZ_TAIL;
}

unsigned char *metrics_gzip(const char *in, size_t n, size_t *out_len)
{
	z_stream *z = raw_stream();
	unsigned char *out = NULL;
	size_t cap, len = 0;

	if (!z)
		return NULL;
	cap = gz_bound(z, n);
	out = malloc(cap);
	if (out)
		len = gz_write(z, in, n, out, cap);
	deflateEnd(z);
	free(z);
	if (!len) {
		free(out);
		return NULL;
	}
	*out_len = len;
	return out;
}

bool metrics_gzip_into(struct metrics_bufs *bufs, const char *in, size_t n, size_t *out_len)
{
	z_stream *z = bufs->z;
	size_t need;

	if (!z) {
		z = raw_stream();
		if (!z)
			return false;
		bufs->z = z;
	} else if (deflateReset(z) != Z_OK) {
		return false;
	}
	need = gz_bound(z, n);
	if (need > bufs->gzcap) {
		unsigned char *g = realloc(bufs->gz, need);

		if (!g)
			return false;
		bufs->gz = g;
		bufs->gzcap = need;
	}
	*out_len = gz_write(z, in, n, bufs->gz, bufs->gzcap);
	return *out_len > 0;
}

void metrics_gzip_free(struct metrics_bufs *bufs)
{
	free(bufs->gz);
	if (bufs->z) {
		deflateEnd(bufs->z);
		free(bufs->z);
	}
	bufs->gz = NULL;
	bufs->gzcap = 0;
	bufs->z = NULL;
}
