/* SPDX-License-Identifier: Apache-2.0 */
/*
 * zlib's inflate as the judge of skiffd's compressed output (the scrape's deflate encoder and
 * gzip page), for the unit tests and the fuzz target alike: what skiffd writes must be what a
 * scraper's zlib reads.
 */
#ifndef SKIFF_TESTS_INFLATE_CHECK_H
#define SKIFF_TESTS_INFLATE_CHECK_H

#include <stddef.h>
#include <zlib.h>

#define INFLATE_RAW  (-15)     /* raw deflate (RFC 1951) */
#define INFLATE_GZIP (15 + 16) /* a gzip member (RFC 1952), its CRC checked */

/* Inflate in[0, n) whole into out (cap bytes): its length, or -1 when it is not one valid
 * stream that ends exactly at n and fits. */
static inline long inflate_check(const unsigned char *in, size_t n, int wbits, unsigned char *out,
				 size_t cap)
{
	z_stream z = {0};
	long len = -1;

	if (inflateInit2(&z, wbits) != Z_OK)
		return -1;
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (inflate(&z, Z_FINISH) == Z_STREAM_END && !z.avail_in)
		len = (long)z.total_out;
	inflateEnd(&z);
	return len;
}

#endif
