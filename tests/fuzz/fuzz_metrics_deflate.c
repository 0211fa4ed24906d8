// SPDX-License-Identifier: Apache-2.0
/*
 * The scrape's own deflate encoder (metrics_deflate_lines) and its gzip page (metrics_gzip): the
 * input is a page's text, here any bytes. Label values come from the cluster's objects, so the
 * text is not skiffd's alone. Beyond not crashing: whatever the encoder takes must inflate, with
 * zlib, to exactly the input, and a buffer one byte short of its output must be refused, never
 * overrun or filled with a stream cut short. The gzip page must gunzip to the input too (its
 * CRC is checked by zlib).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inflate_check.h"
#include "metrics/metrics_http.h"

static void fail(const char *what)
{
	fprintf(stderr, "metrics_deflate: %s\n", what);
	abort();
}

static void check_lines(const char *text, size_t n, unsigned char *back)
{
	size_t cap = 2 * n + 1024;
	unsigned char *out = malloc(cap);
	size_t len;

	if (!out)
		return;
	len = metrics_deflate_lines(text, n, out, cap);
	if (len) {
		if (inflate_check(out, len, INFLATE_RAW, back, n + 1) != (long)n ||
		    memcmp(back, text, n))
			fail("the line deflater's output does not inflate to its input");
		if (metrics_deflate_lines(text, n, out, len - 1))
			fail("a buffer one byte short was taken");
	}
	free(out);
}

static void check_gzip(const char *text, size_t n, unsigned char *back)
{
	size_t len = 0;
	unsigned char *gz = metrics_gzip(text, n, &len);

	if (!gz)
		return;
	if (inflate_check(gz, len, INFLATE_GZIP, back, n + 1) != (long)n || memcmp(back, text, n))
		fail("the gzip page does not gunzip to its input");
	free(gz);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	unsigned char *back = malloc(size + 1);

	if (!back)
		return 0;
	check_lines((const char *)data, size, back);
	check_gzip((const char *)data, size, back);
	free(back);
	return 0;
}
