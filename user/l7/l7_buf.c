// SPDX-License-Identifier: Apache-2.0
/*
 * The byte buffers between an L7 filter and its relay (l7_filter.h). The filter appends at the
 * end, the relay writes from `off` and consumes; the space before `off` is reclaimed when the
 * buffer runs out of room, so a buffer that is drained as fast as it fills never grows.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "l7/l7_filter.h"

#define L7_BUF_MIN 4096

/* Room for `n` more bytes after `len`: move the unread bytes to the front, or grow. */
static int buf_reserve(struct l7_buf *b, size_t n)
{
	size_t unread = b->len - b->off, cap;
	uint8_t *d;

	if (b->cap - b->len >= n)
		return 0;
	/* moving costs `unread` bytes: worth it when as much room comes back (amortised O(1)) */
	if (b->off >= unread && b->cap - unread >= n) {
		memmove(b->data, b->data + b->off, unread);
		b->off = 0;
		b->len = unread;
		return 0;
	}
	if (n > SIZE_MAX / 2 - unread)
		return -ENOMEM;
	for (cap = b->cap ? b->cap : L7_BUF_MIN; cap < unread + n;)
		cap *= 2;
	d = malloc(cap);
	if (!d)
		return -ENOMEM;
	if (unread)
		memcpy(d, b->data + b->off, unread);
	free(b->data);
	b->data = d;
	b->cap = cap;
	b->off = 0;
	b->len = unread;
	return 0;
}

int l7_buf_put(struct l7_buf *b, const void *p, size_t n)
{
	if (!n)
		return 0;
	if (buf_reserve(b, n))
		return -ENOMEM;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int l7_buf_printf(struct l7_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if (buf_reserve(b, (size_t)n + 1)) /* vsnprintf writes the NUL too; it is not kept */
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
	return 0;
}

size_t l7_buf_unread(const struct l7_buf *b)
{
	return b->len - b->off;
}

const uint8_t *l7_buf_head(const struct l7_buf *b)
{
	static const uint8_t none;

	return b->data ? b->data + b->off : &none;
}

void l7_buf_consume(struct l7_buf *b, size_t n)
{
	if (n > b->len - b->off)
		n = b->len - b->off;
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0; /* empty: start at the front again */
}

void l7_buf_free(struct l7_buf *b)
{
	free(b->data);
	*b = (struct l7_buf){0};
}
