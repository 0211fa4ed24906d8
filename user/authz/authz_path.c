// SPDX-License-Identifier: Apache-2.0
/*
 * Request paths as Istio matches them: without the query string, normalised the way Envoy does
 * for Istio's default pathNormalization BASE (RFC 3986 §6.2.2: percent-encoded unreserved
 * characters decoded, other escapes upper-cased, `.` and `..` segments removed). Matching the
 * normalised path is what stops `/public/%2E%2E/private` from slipping past `paths: ["/public*"]`.
 *
 * Templates (Envoy's uri_template, what Istio turns `{*}` and `{**}` into): `{*}` is one non-empty
 * segment, `{**}` zero or more characters including '/', both only of RFC 3986 pchars.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz_internal.h"

static bool az_unreserved(int c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int az_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* %41 -> A, %2e -> '.', %2f -> %2F (a reserved character keeps its escape: `/` vs `%2F`). */
static void az_percent_normalize(char *s)
{
	char *w = s;

	for (const char *r = s; *r;) {
		int hi = r[0] == '%' ? az_hex((unsigned char)r[1]) : -1;
		int lo = hi >= 0 ? az_hex((unsigned char)r[2]) : -1;

		if (lo < 0) {
			*w++ = *r++;
			continue;
		}
		if (az_unreserved(hi * 16 + lo)) {
			*w++ = (char)(hi * 16 + lo);
		} else {
			*w++ = '%';
			*w++ = (char)toupper((unsigned char)r[1]);
			*w++ = (char)toupper((unsigned char)r[2]);
		}
		r += 3;
	}
	*w = '\0';
}

/* Drop the last segment of out[0..*n) with its leading '/'. */
static void az_pop_segment(const char *out, size_t *n)
{
	while (*n > 0 && out[*n - 1] != '/')
		(*n)--;
	if (*n > 0)
		(*n)--;
}

/* RFC 3986 §5.2.4 remove_dot_segments, from `in` into `out` (at least as long). */
static void az_remove_dots(const char *in, char *out)
{
	size_t n = 0;

	while (*in) {
		if (!strncmp(in, "../", 3) || !strncmp(in, "./", 2)) {
			in += in[0] == '.' && in[1] == '.' ? 3 : 2;
		} else if (!strncmp(in, "/./", 3) || !strcmp(in, "/.")) {
			in += 2;
			if (!*in)
				out[n++] = '/';
		} else if (!strncmp(in, "/../", 4) || !strcmp(in, "/..")) {
			in += 3;
			az_pop_segment(out, &n);
			if (!*in)
				out[n++] = '/';
		} else if (!strcmp(in, ".") || !strcmp(in, "..")) {
			break;
		} else {
			do
				out[n++] = *in++;
			while (*in && *in != '/');
		}
	}
	out[n] = '\0';
}

static void az_merge_slashes(char *s)
{
	char *w = s;

	for (const char *r = s; *r; r++)
		if (!(r[0] == '/' && r[1] == '/'))
			*w++ = *r;
	*w = '\0';
}

char *az_path_normalize(const char *raw, enum authz_path_norm norm)
{
	size_t len = strcspn(raw, "?#");
	char *s = strndup(raw, len), *out = malloc(len + 2);

	if (!s || !out)
		abort();
	az_percent_normalize(s);
	az_remove_dots(s, out);
	free(s);
	if (!out[0])
		strcpy(out, "/");
	if (norm == AUTHZ_PATH_MERGE_SLASHES)
		az_merge_slashes(out);
	return out;
}

char *authz_path_forward(const char *raw, enum authz_path_norm norm)
{
	const char *query = strchr(raw, '?');
	char *path, *out;

	if (raw[0] != '/' || strchr(raw, '#'))
		return NULL;
	path = az_path_normalize(raw, norm);
	if (!query)
		return path;
	if (asprintf(&out, "%s%s", path, query) < 0)
		abort();
	free(path);
	return out;
}

/* RFC 3986 pchar without '/': what Envoy's template operators may consume. */
static bool az_pchar(int c)
{
	return az_unreserved(c) || (c && strchr("%!$&'()+,;:@=", c));
}

bool az_path_template_match(const char *t, const char *p)
{
	size_t k;

	for (; *t; t++, p++) {
		if (!strncmp(t, "{**}", 4)) {
			/* One {**} at most (the model checks): try every end. */
			for (k = 0;; k++) {
				if (az_path_template_match(t + 4, p + k))
					return true;
				if (!p[k] || !(az_pchar((unsigned char)p[k]) || p[k] == '/'))
					return false;
			}
		}
		if (!strncmp(t, "{*}", 3)) {
			/* A whole segment: consume up to the next '/', at least one character. */
			for (k = 0; p[k] && p[k] != '/'; k++)
				if (!az_pchar((unsigned char)p[k]))
					return false;
			if (k == 0)
				return false;
			return az_path_template_match(t + 3, p + k);
		}
		if (*t != *p)
			return false;
	}
	return !*p;
}
