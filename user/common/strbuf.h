/* SPDX-License-Identifier: Apache-2.0 */
/* A growable string for building JSON and text reports. Allocation failure aborts: reports are
 * small, and a half-built report is worse than no agent. */
#ifndef SKIFF_STRBUF_H
#define SKIFF_STRBUF_H

#include <stddef.h>

struct strbuf {
	char *s;
	size_t len, cap;
};

void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Make room for `extra` more bytes at once (a big page then grows without copies). */
void sb_grow(struct strbuf *b, size_t extra);
/* Append n bytes of s (no formatting: the fast path of big pages such as /metrics). */
void sb_put(struct strbuf *b, const char *s, size_t n);
/* Append `s` as a JSON string literal, quotes included ("null" for NULL). */
void sb_json_str(struct strbuf *b, const char *s);
/* Hand the string to the caller (never NULL); the strbuf is empty afterwards. */
char *sb_take(struct strbuf *b);
void sb_free(struct strbuf *b);

#endif
