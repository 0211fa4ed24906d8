// SPDX-License-Identifier: Apache-2.0
/*
 * Where an HTTP/1.1 body ends (RFC 9112 §6-7): after Content-Length bytes, or after the last
 * chunk and its trailer section. The filter passes or drops the bytes; this file only counts
 * them, one state per place in the chunked grammar, so bytes may arrive one at a time:
 *
 *   chunk   = SIZE [EXT] CRLF DATA CRLF              (SIZE: 1 to 16 hex digits, > 0)
 *   last    = SIZE [EXT] CRLF *(TRAILER CRLF) CRLF   (SIZE: zero)
 *   EXT     = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )   (name: token)
 *   TRAILER = token ":" field-value                  (the rules of a head's fields)
 *
 * Nothing else is let through, not even what lenient parsers skip ("5 junk", a bare "5 "): the
 * pod must find the chunk boundaries where the filter found them, and every byte the two could
 * read differently is a chance to hide a request inside a body.
 */
#include <errno.h>

#include "common/hex.h"
#include "l7/l7_http1.h"

enum chunk_state {
	CK_SIZE,	 /* hex digits of the size */
	CK_EXT_BWS,	 /* blanks after the size or an extension: ';' must follow */
	CK_EXT_NAME0,	 /* after ';': blanks, then an extension's name */
	CK_EXT_NAME,	 /* in the name */
	CK_EXT_NAME_BWS, /* blanks after the name: '=' or ';' must follow */
	CK_EXT_VAL0,	 /* after '=': blanks, then a token or a quoted string */
	CK_EXT_TOKEN,	 /* in a token value */
	CK_EXT_QUOTED,	 /* in a quoted-string value */
	CK_EXT_QPAIR,	 /* after a '\' in it */
	CK_EXT_END,	 /* after its closing quote */
	CK_SIZE_LF,	 /* the size line's LF */
	CK_DATA,	 /* `left` bytes of data */
	CK_DATA_CR,	 /* the CRLF after the data */
	CK_DATA_LF,
	CK_TRAILER,	  /* at the start of a trailer line, or of the final blank line */
	CK_TRAILER_NAME,  /* in a trailer field's name */
	CK_TRAILER_VALUE, /* after its colon */
	CK_TRAILER_LF,	  /* a trailer line's LF */
	CK_END_LF,	  /* the final LF */
};

void h1_body_start(struct h1_body *b, enum h1_body_kind kind, uint64_t len)
{
	*b = (struct h1_body){.kind = kind, .left = len, .st = CK_SIZE};
}

/* Where the size line goes from `st` (outside a quoted string) on byte c; -1: malformed. */
static int ext_next(int st, uint8_t c)
{
	bool may_end = st == CK_SIZE || st == CK_EXT_NAME || st == CK_EXT_TOKEN || st == CK_EXT_END;
	bool want_word = st == CK_EXT_NAME0 || st == CK_EXT_VAL0;

	if (c == '\r')
		return may_end ? CK_SIZE_LF : -1;
	if (c == ';')
		return want_word ? -1 : CK_EXT_NAME0;
	if (c == ' ' || c == '\t') /* BWS: blanks only where a delimiter or a word follows */
		return st == CK_EXT_NAME ? CK_EXT_NAME_BWS : may_end ? CK_EXT_BWS : st;
	if (c == '=')
		return st == CK_EXT_NAME || st == CK_EXT_NAME_BWS ? CK_EXT_VAL0 : -1;
	if (c == '"')
		return st == CK_EXT_VAL0 ? CK_EXT_QUOTED : -1;
	if (!h1_is_tchar(c))
		return -1;
	if (st == CK_EXT_NAME0 || st == CK_EXT_NAME)
		return CK_EXT_NAME;
	return st == CK_EXT_VAL0 || st == CK_EXT_TOKEN ? CK_EXT_TOKEN : -1;
}

/* One byte of a quoted-string (RFC 9110 §5.6.4): 0, or -EPROTO. */
static int quoted_byte(struct h1_body *b, uint8_t c)
{
	if (b->st == CK_EXT_QPAIR) { /* "\" ( HTAB / SP / VCHAR / obs-text ) */
		b->st = CK_EXT_QUOTED;
		return h1_is_field_char(c) ? 0 : -EPROTO;
	}
	if (c == '"')
		b->st = CK_EXT_END;
	else if (c == '\\')
		b->st = CK_EXT_QPAIR;
	else if (!h1_is_field_char(c)) /* qdtext: the rest of what a field value may hold */
		return -EPROTO;
	return 0;
}

/* One byte of the size line, up to its CR: 0, or -EPROTO. */
static int size_byte(struct h1_body *b, uint8_t c)
{
	int next;

	if (++b->line > H1_LINE_MAX)
		return -EPROTO;
	if (b->st == CK_SIZE && hex_digit(c) >= 0) {
		if (++b->digits > 16) /* more would not fit 64 bits, or only say 0 at length */
			return -EPROTO;
		b->left = b->left * 16 + hex_digit(c);
		return 0;
	}
	if (!b->digits)
		return -EPROTO;
	if (b->st == CK_EXT_QUOTED || b->st == CK_EXT_QPAIR)
		return quoted_byte(b, c);
	next = ext_next(b->st, c);
	if (next < 0)
		return -EPROTO;
	b->st = next;
	return 0;
}

/* One byte of the trailer section, each line a field by the rules of a head's (no obs-fold,
 * no blank before the colon, no CTL but HTAB in the value), the whole limited like a head:
 * 1 at its end, 0, or -EPROTO. */
static int trailer_byte(struct h1_body *b, uint8_t c)
{
	if (++b->line > H1_HEAD_MAX)
		return -EPROTO;
	switch (b->st) {
	case CK_TRAILER: /* a field's name, or the blank line that ends the section */
		b->st = c == '\r' ? CK_END_LF : CK_TRAILER_NAME;
		return c == '\r' || h1_is_tchar(c) ? 0 : -EPROTO;
	case CK_TRAILER_NAME:
		if (c == ':')
			b->st = CK_TRAILER_VALUE;
		return c == ':' || h1_is_tchar(c) ? 0 : -EPROTO;
	case CK_TRAILER_VALUE:
		if (c == '\r')
			b->st = CK_TRAILER_LF;
		return c == '\r' || h1_is_field_char(c) ? 0 : -EPROTO;
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
	if (b->st < CK_SIZE_LF)
		return size_byte(b, c);
	switch (b->st) {
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
