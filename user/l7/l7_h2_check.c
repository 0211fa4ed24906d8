// SPDX-License-Identifier: Apache-2.0
/*
 * What makes an HTTP/2 field malformed (RFC 9113 8.2, 8.3), wherever it is: a request's header
 * block or trailers. A malformed request is never decided: the filter and the pod could read
 * different requests out of it (a name with a space, a value with a CR that an HTTP/1.1 hop turns
 * into a header of its own), and the decision would be about the wrong one.
 *
 * Names and values are checked with nghttp2's own rules (RFC 9110 tokens in lower case; values
 * without NUL, CR, LF or other controls and without leading or trailing SP or HTAB), the ones an
 * Envoy with nghttp2 applies.
 */
#include <string.h>
#include <strings.h>

#include "l7/l7_h2.h"

/* Fields that describe one hop's connection, which HTTP/2 does without (RFC 9113 8.2.2). */
static const char *const connection_specific[] = {"connection", "proxy-connection", "keep-alive",
						  "transfer-encoding", "upgrade"};

static bool connection_specific_field(const char *name, const char *value)
{
	for (size_t i = 0; i < sizeof(connection_specific) / sizeof(*connection_specific); i++)
		if (!strcmp(name, connection_specific[i]))
			return true;
	/* TE may say only that the client accepts trailers */
	return !strcmp(name, "te") && strcasecmp(value, "trailers");
}

/*
 * Field i of a decoded list: H2_NAME_BAD when malformed wherever it stands, else whether it is
 * a pseudo-header (':' and a lower-case token) or a regular field. Which pseudo-headers may
 * appear, and where, is for the caller to say.
 */
enum h2_name_kind h2_field_check(const struct h2_fields *fl, size_t i)
{
	const char *name = h2_field_name(fl, i), *value = h2_field_value(fl, i);
	size_t nlen = fl->v[i].namelen, vlen = fl->v[i].valuelen;
	bool pseudo = nlen && name[0] == ':';

	if (!nghttp2_check_header_value_rfc9113((const uint8_t *)value, vlen))
		return H2_NAME_BAD;
	if (pseudo)
		return nghttp2_check_header_name((const uint8_t *)name + 1, nlen - 1)
			   ? H2_NAME_PSEUDO
			   : H2_NAME_BAD;
	if (!nghttp2_check_header_name((const uint8_t *)name, nlen) ||
	    connection_specific_field(name, value))
		return H2_NAME_BAD;
	return H2_NAME_REGULAR;
}

/* RFC 3986 3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). */
bool h2_scheme_ok(const char *s)
{
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("+-.", *s)))
			return false;
	return true;
}

/* Not empty, only characters an authority may have, and no userinfo (RFC 9113 8.3.1): with it,
 * "good.example@evil.example" names evil.example to the pod while a policy reads good.example. */
bool h2_authority_ok(const char *s)
{
	return s[0] && nghttp2_check_authority((const uint8_t *)s, strlen(s)) && !strchr(s, '@');
}

/* Digits only: a Content-Length the pod could read another way is a body of disputed length. */
bool h2_content_length_ok(const char *s)
{
	return s[0] && strspn(s, "0123456789") == strlen(s);
}
