// SPDX-License-Identifier: Apache-2.0
/*
 * Request paths as Istio matches them: without the query string, normalised the way Envoy does
 * for Istio's default pathNormalization BASE (RFC 3986 §6.2.2: percent-encoded unreserved
 * characters decoded, other escapes upper-cased, `.` and `..` segments removed; a '%' that starts
 * no escape is kept, as %25 where it would start one after decoding). Matching the normalised path
 * is what stops `/public/%2E%2E/private` from slipping past `paths: ["/public*"]`.
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

/* The character the normaliser writes first for the input at `r` (a decoded unreserved
 * character, '%' for an escape kept, else the character itself), and how many bytes it took. */
static char az_out_char(const char *r, size_t *used)
{
	int hi = r[0] == '%' ? az_hex((unsigned char)r[1]) : -1;
	int lo = hi >= 0 ? az_hex((unsigned char)r[2]) : -1;

	*used = lo >= 0 ? 3 : 1;
	return lo >= 0 && az_unreserved(hi * 16 + lo) ? (char)(hi * 16 + lo) : r[0];
}

/*
 * %41 -> A, %2e -> '.', %2f -> %2F (a reserved character keeps its escape: `/` vs `%2F`). A '%'
 * that starts no escape stays as it is, unless what the normaliser writes after it would make it
 * one: "%%32%65" must not become "%2e", which the pod would decode once more, into the '.' of a
 * dot segment the policy never saw. That '%' becomes %25: "%252e", which decodes to the text the
 * client sent, and normalises to itself. `out` holds 3 * strlen(in) + 1 bytes.
 */
static void az_percent_normalize(const char *in, char *out)
{
	char *w = out;

	for (const char *r = in; *r;) {
		size_t n, n1, n2;
		char c = az_out_char(r, &n), c1, c2;

		if (r[0] == '%' && n == 1 && r[1]) {
			c1 = az_out_char(r + 1, &n1);
			c2 = r[1 + n1] ? az_out_char(r + 1 + n1, &n2) : '\0';
			if (az_hex((unsigned char)c1) >= 0 && az_hex((unsigned char)c2) >= 0) {
				memcpy(w, "%25", 3);
				w += 3;
				r++;
				continue;
			}
		}
		if (n == 3 && c == '%') {
			*w++ = '%';
			*w++ = (char)toupper((unsigned char)r[1]);
			*w++ = (char)toupper((unsigned char)r[2]);
		} else {
			*w++ = c;
		}
		r += n;
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
	/* s zeroed: clang's analyzer cannot tell that az_remove_dots reads only what
	 * az_percent_normalize wrote (it models strncmp matching past the NUL) */
	char *path = strndup(raw, len), *s = calloc(1, 3 * len + 1), *out = malloc(3 * len + 2);

	if (!path || !s || !out)
		abort();
	az_percent_normalize(path, s);
	free(path);
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
