// SPDX-License-Identifier: Apache-2.0
/*
 * Where an HTTP/1.1 body ends (RFC 9112 §6-7): after Content-Length bytes, or after the last
 * chunk and its trailer section. The filter passes or drops the bytes; this file only counts
 * them, one state per place in the chunked grammar, so bytes may arrive one at a time:
 *
 *   chunk   = SIZE [EXT] CRLF DATA CRLF      (SIZE hex, > 0)
 *   last    = "0" [EXT] CRLF *(TRAILER CRLF) CRLF
 */
#include <errno.h>

#include "proxy/l7_http1.h"

enum chunk_state {
	CK_SIZE,    /* hex digits of the size */
	CK_EXT,	    /* ";name=value" after the size, ignored */
	CK_SIZE_LF, /* the size line's LF */
	CK_DATA,    /* `left` bytes of data */
	CK_DATA_CR, /* the CRLF after the data */
	CK_DATA_LF,
	CK_TRAILER,    /* at the start of a trailer line, or of the final blank line */
	CK_TRAILER_IN, /* inside a trailer line */
	CK_TRAILER_LF, /* a trailer line's LF */
	CK_END_LF,     /* the final LF */
};

void h1_body_start(struct h1_body *b, enum h1_body_kind kind, uint64_t len)
{
	*b = (struct h1_body){.kind = kind, .left = len, .st = CK_SIZE};
}

static int hex(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One byte of the size line: 0, or -EPROTO. */
static int size_byte(struct h1_body *b, uint8_t c)
{
	if (++b->line > H1_LINE_MAX)
		return -EPROTO;
	if (b->st == CK_SIZE && hex(c) >= 0) {
		if (++b->digits > 15) /* 2^60: no chunk is that large, and no overflow */
			return -EPROTO;
		b->left = b->left * 16 + hex(c);
		return 0;
	}
	if (!b->digits || c == '\n')
		return -EPROTO;
	if (c == '\r') {
		b->st = CK_SIZE_LF;
		return 0;
	}
	if (b->st == CK_SIZE && c != ';' && c != ' ' && c != '\t')
		return -EPROTO;
	if (c < 0x20 && c != '\t')
		return -EPROTO;
	b->st = CK_EXT;
	return 0;
}

/* One byte of the trailer section (limited like a head): 1 at its end, 0, or -EPROTO. */
static int trailer_byte(struct h1_body *b, uint8_t c)
{
	if (++b->line > H1_HEAD_MAX)
		return -EPROTO;
	switch (b->st) {
	case CK_TRAILER:
		b->st = c == '\r' ? CK_END_LF : CK_TRAILER_IN;
		return c == '\n' || c == ' ' || c == '\t' ? -EPROTO : 0; /* no obs-fold */
	case CK_TRAILER_IN:
		if (c == '\r')
			b->st = CK_TRAILER_LF;
		return c == '\n' || (c < 0x20 && c != '\t' && c != '\r') ? -EPROTO : 0;
	case CK_TRAILER_LF:
		b->st = CK_TRAILER;
		return c == '\n' ? 0 : -EPROTO;
	default: /* CK_END_LF */
		return c == '\n' ? 1 : -EPROTO;
	}
}

/* One byte of chunked framing outside the data: 1 at the body's end, 0, or -EPROTO. */
static int chunk_byte(struct h1_body *b, uint8_t c)
{
	switch (b->st) {
	case CK_SIZE:
	case CK_EXT:
		return size_byte(b, c);
	case CK_SIZE_LF:
		if (c != '\n')
			return -EPROTO;
		b->st = b->left ? CK_DATA : CK_TRAILER;
		b->line = 0;
		return 0;
	case CK_DATA_CR:
		b->st = CK_DATA_LF;
		return c == '\r' ? 0 : -EPROTO;
	case CK_DATA_LF:
		b->st = CK_SIZE;
		b->digits = 0;
		b->line = 0;
		return c == '\n' ? 0 : -EPROTO;
	default:
		return trailer_byte(b, c);
	}
}

static int chunked_feed(struct h1_body *b, const uint8_t *in, size_t len, size_t *used)
{
	size_t i = 0;
	int rc = 0;

	while (i < len && !rc) {
		if (b->st == CK_DATA) {
			size_t n = len - i < b->left ? len - i : b->left;

			i += n;
			b->left -= n;
			if (!b->left)
				b->st = CK_DATA_CR;
			continue;
		}
		rc = chunk_byte(b, in[i++]);
	}
	*used = rc < 0 ? i - 1 : i;
	return rc;
}

int h1_body_feed(struct h1_body *b, const uint8_t *in, size_t len, size_t *used)
{
	size_t n;

	switch (b->kind) {
	case H1_BODY_NONE:
		*used = 0;
		return 1;
	case H1_BODY_LENGTH:
		n = len < b->left ? len : b->left;
		b->left -= n;
		*used = n;
		return !b->left;
	case H1_BODY_CHUNKED:
		return chunked_feed(b, in, len, used);
	default: /* H1_BODY_CLOSE: everything until the pod closes */
		*used = len;
		return 0;
	}
}
