// SPDX-License-Identifier: Apache-2.0
/*
 * RE2-syntax regexes on PCRE2 (model_regex.h). PCRE2 accepts a superset of RE2; the scan below
 * rejects the extra constructs, so a pattern means the same thing here as in Envoy, and one
 * that istiod would refuse is refused here with the reason.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_regex.h"

struct m_regex {
	pcre2_code *code;
};

/* The group opener after "(?" at `p`: NULL when RE2 has it, else its name. */
static const char *group_problem(const char *p)
{
	if (p[0] == ':' || (p[0] == 'P' && p[1] == '<') ||
	    (p[0] == '<' && p[1] != '=' && p[1] != '!'))
		return NULL;
	if (p[0] == '=' || p[0] == '!')
		return "lookahead (?= or (?!";
	if (p[0] == '<')
		return "lookbehind (?<= or (?<!";
	if (p[0] == '>')
		return "atomic group (?>";
	if (p[0] == 'P' && p[1] == '=')
		return "named backreference (?P=";
	if (p[0] == 'P' && p[1] == '>')
		return "recursion (?P>";
	if (p[0] == '(')
		return "conditional (?(";
	if (p[0] == '#')
		return "comment (?#";
	if (p[0] == '|')
		return "branch reset (?|";
	if (p[0] == 'R' || p[0] == '&' || p[0] == '+' || (p[0] >= '0' && p[0] <= '9'))
		return "recursion or subroutine call";
	if (p[0] == 'C')
		return "callout (?C";
	p += strspn(p, "imsU-");
	if (*p == ':' || *p == ')')
		return NULL;
	return "unknown group flag (RE2 has i, m, s and U)";
}

/* The escape at `p` (after the backslash): NULL when RE2 has it. */
static const char *escape_problem(const char *p)
{
	if (*p >= '1' && *p <= '9')
		return "backreference \\1..\\9";
	if (*p == 'k' || *p == 'g')
		return "backreference \\k or \\g";
	if (*p == 'R' || *p == 'X' || *p == 'K' || *p == 'G' || *p == 'Z' || *p == 'h' ||
	    *p == 'H' || *p == 'v' || *p == 'V' || *p == 'N')
		return "PCRE-only escape";
	return NULL;
}

/* Skip a character class starting at `p` ('['); returns the ']' or the end. */
static const char *skip_class(const char *p)
{
	p++;
	if (*p == '^')
		p++;
	if (*p == ']')
		p++;
	for (; *p && *p != ']'; p++) {
		if (*p == '\\' && p[1])
			p++;
		else if (p[0] == '[' && p[1] == ':') {
			const char *e = strstr(p, ":]");

			if (e)
				p = e + 1;
		}
	}
	return p;
}

static const char *re2_problem(const char *re, size_t *at)
{
	bool quant = false; /* the previous token was a quantifier */
	const char *why;

	for (const char *p = re; *p; p++) {
		*at = (size_t)(p - re);
		if (*p == '\\') {
			if (!p[1])
				return NULL; /* PCRE2 reports the trailing backslash */
			if ((why = escape_problem(p + 1)))
				return why;
			p++;
			quant = false;
		} else if (*p == '[') {
			p = skip_class(p);
			if (!*p)
				return NULL;
			quant = false;
		} else if (p[0] == '(' && p[1] == '?') {
			if ((why = group_problem(p + 2)))
				return why;
			quant = false;
		} else if (p[0] == '(' && p[1] == '*') {
			return "verb (*...)";
		} else if (*p == '*' || *p == '+' || *p == '?' || *p == '}') {
			if (quant && *p == '+')
				return "possessive quantifier";
			/* a '?' after a quantifier makes it lazy, and ends it */
			quant = !(quant && *p == '?');
		} else {
			quant = false;
		}
	}
	return NULL;
}

const char *m_regex_problem(const char *re, char *buf, size_t len)
{
	struct m_regex *r;
	const char *why;
	size_t at = 0;
	int code;
	PCRE2_SIZE off;
	pcre2_code *c;
	PCRE2_UCHAR msg[160];

	why = re2_problem(re, &at);
	if (why) {
		snprintf(buf, len, "%s at offset %zu is not RE2 syntax", why, at);
		return buf;
	}
	c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &off, NULL);
	if (!c) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(buf, len, "%s at offset %zu", (const char *)msg, (size_t)off);
		return buf;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	r->code = c;
	m_regex_free(r);
	return NULL;
}

struct m_regex *m_regex_compile(const char *re, bool whole, bool icase)
{
	uint32_t opts = PCRE2_UTF | (whole ? PCRE2_ANCHORED | PCRE2_ENDANCHORED : 0) |
			(icase ? PCRE2_CASELESS : 0);
	struct m_regex *r;
	PCRE2_SIZE off;
	int code;

	r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	r->code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, opts, &code, &off, NULL);
	if (!r->code) {
		free(r);
		return NULL;
	}
	pcre2_jit_compile(r->code,
			  PCRE2_JIT_COMPLETE); /* optional: falls back to the interpreter */
	return r;
}

void m_regex_free(struct m_regex *r)
{
	if (!r)
		return;
	pcre2_code_free(r->code);
	free(r);
}

bool m_regex_match(const struct m_regex *r, const char *s, size_t len)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(r->code, NULL);
	int rc;

	if (!md)
		return false;
	rc = pcre2_match(r->code, (PCRE2_SPTR)s, len, 0, 0, md, NULL);
	pcre2_match_data_free(md);
	return rc >= 0;
}

/* RE2's "\1" substitution syntax to PCRE2's "${1}"; a literal '$' becomes "$$". */
static char *rewrite_to_pcre(const char *rw)
{
	char *out = malloc(strlen(rw) * 4 + 1), *o = out;

	if (!out)
		abort();
	for (; *rw; rw++) {
		if (rw[0] == '\\' && rw[1] >= '0' && rw[1] <= '9') {
			o += sprintf(o, "${%c}", rw[1]);
			rw++;
		} else if (rw[0] == '\\' && rw[1] == '\\') {
			*o++ = '\\';
			rw++;
		} else if (*rw == '$') {
			*o++ = '$';
			*o++ = '$';
		} else {
			*o++ = *rw;
		}
	}
	*o = '\0';
	return out;
}

char *m_regex_replace(const struct m_regex *r, const char *s, const char *rewrite)
{
	char *rw = rewrite_to_pcre(rewrite), *out = NULL;
	PCRE2_SIZE outlen = strlen(s) * 2 + strlen(rewrite) * 4 + 64;
	int rc;

	for (int tries = 0; tries < 2; tries++) {
		out = malloc(outlen + 1);
		if (!out)
			abort();
		rc = pcre2_substitute(r->code, (PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0,
				      PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH,
				      NULL, NULL, (PCRE2_SPTR)rw, PCRE2_ZERO_TERMINATED,
				      (PCRE2_UCHAR *)out, &outlen);
		if (rc > 0)
			break;
		free(out);
		out = NULL;
		if (rc != PCRE2_ERROR_NOMEMORY)
			break; /* 0: nothing matched; other: an error */
	}
	free(rw);
	return out;
}
