/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Diagnostics: a list of errors and warnings, each saying where (file:line), what object, and what
 * is wrong. Parsers and validators append; callers print or count. One owner: diag_free().
 */
#ifndef SKIFF_DIAG_H
#define SKIFF_DIAG_H

#include <stdarg.h>
#include <stddef.h>

enum diag_level { DIAG_ERROR, DIAG_WARN };

struct diag_entry {
	enum diag_level level;
	char *msg; /* fully formatted: "file:line: Kind ns/name: what is wrong" */
};

struct diag {
	struct diag_entry *v;
	size_t n, cap;
	size_t errors;
};

/* Append "file:line: <fmt>" (file may be NULL: then no location prefix). */
void diag_add(struct diag *d, enum diag_level lvl, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void diag_vadd(struct diag *d, enum diag_level lvl, const char *file, int line, const char *fmt,
	       va_list ap);
/* Print every entry to stderr, one per line, prefixed with "error: " or "warning: ". */
void diag_print(const struct diag *d);
/* True when some entry's message contains `needle` (for tests). */
int diag_contains(const struct diag *d, const char *needle);
void diag_free(struct diag *d);

#endif
