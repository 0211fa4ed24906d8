// SPDX-License-Identifier: Apache-2.0
/* Diagnostics list: formatting, printing and freeing (see diag.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/diag.h"

static char *diag_format(const char *file, int line, const char *fmt, va_list ap)
{
	char *body = NULL, *msg = NULL;
	int rc;

	if (vasprintf(&body, fmt, ap) < 0)
		abort();
	if (!file)
		return body;
	if (line > 0)
		rc = asprintf(&msg, "%s:%d: %s", file, line, body);
	else
		rc = asprintf(&msg, "%s: %s", file, body);
	if (rc < 0)
		abort();
	free(body);
	return msg;
}

void diag_vadd(struct diag *d, enum diag_level lvl, const char *file, int line, const char *fmt,
	       va_list ap)
{
	struct diag_entry *e;

	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 16;
		d->v = realloc(d->v, d->cap * sizeof(*d->v));
		if (!d->v)
			abort();
	}
	e = &d->v[d->n++];
	e->level = lvl;
	e->msg = diag_format(file, line, fmt, ap);
	if (lvl == DIAG_ERROR)
		d->errors++;
}

void diag_add(struct diag *d, enum diag_level lvl, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_vadd(d, lvl, file, line, fmt, ap);
	va_end(ap);
}

void diag_print(const struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "%s: %s\n", d->v[i].level == DIAG_ERROR ? "error" : "warning",
			d->v[i].msg);
}

int diag_contains(const struct diag *d, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->v[i].msg, needle))
			return 1;
	return 0;
}

void diag_free(struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].msg);
	free(d->v);
	d->v = NULL;
	d->n = d->cap = d->errors = 0;
}
