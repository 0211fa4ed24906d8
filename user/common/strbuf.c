// SPDX-License-Identifier: Apache-2.0
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"

static void sb_reserve(struct strbuf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need <= b->cap)
		return;
	b->cap = need > 2 * b->cap ? need : 2 * b->cap;
	b->s = realloc(b->s, b->cap);
	if (!b->s)
		abort();
}

void sb_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	/* Print into the room there is, and again once if it was too small. (Not a measuring
	 * vsnprintf(NULL, 0): gcc's format checks reject a null buffer under the sanitizers.) */
	sb_reserve(b, 0);
	room = b->cap - b->len;
	va_start(ap, fmt);
	n = vsnprintf(b->s + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= room) {
		sb_reserve(b, n);
		va_start(ap, fmt);
		vsnprintf(b->s + b->len, n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += n;
}

void sb_grow(struct strbuf *b, size_t extra)
{
	sb_reserve(b, extra);
}

void sb_put(struct strbuf *b, const char *s, size_t n)
{
	sb_reserve(b, n);
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/* A character JSON must escape inside a string. */
static bool json_escaped(unsigned char c)
{
	return c == '"' || c == '\\' || c < 0x20;
}

/* Runs of plain characters are copied as they are: a printf per character made a flow event's
 * JSON line cost ~30 µs, on skiffd's side of every connection. */
void sb_json_str(struct strbuf *b, const char *s)
{
	if (!s) {
		sb_put(b, "null", 4);
		return;
	}
	sb_put(b, "\"", 1);
	while (*s) {
		size_t run = 0;
		unsigned char c;

		while (s[run] && !json_escaped((unsigned char)s[run]))
			run++;
		if (run) {
			sb_put(b, s, run);
			s += run;
			continue;
		}
		c = (unsigned char)*s++;
		if (c == '"' || c == '\\')
			sb_printf(b, "\\%c", c);
		else if (c == '\n')
			sb_put(b, "\\n", 2);
		else
			sb_printf(b, "\\u%04x", c);
	}
	sb_put(b, "\"", 1);
}

char *sb_take(struct strbuf *b)
{
	char *s = b->s ? b->s : strdup("");

	b->s = NULL;
	b->len = b->cap = 0;
	return s;
}

void sb_free(struct strbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}
