/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Regular expressions as Istio writes them: RE2 syntax, matched against the whole string (Envoy's
 * safe_regex). Compiled with PCRE2, after a scan that rejects the PCRE constructs RE2 does not
 * have (backreferences, lookaround, atomic groups, possessive quantifiers, recursion,
 * conditionals, callouts and verbs): a pattern skiffd accepts is one istiod accepts too.
 */
#ifndef SKIFF_MODEL_REGEX_H
#define SKIFF_MODEL_REGEX_H

#include <stdbool.h>
#include <stddef.h>

struct m_regex;

/* NULL when `re` is valid RE2 syntax that PCRE2 compiles the same way; else what is wrong, in
 * `buf` ("backreference \\1 is not RE2 syntax", "missing ) at offset 3"). */
const char *m_regex_problem(const char *re, char *buf, size_t len);

/* Compile a valid pattern. `whole`: match the whole subject (matches) rather than anywhere
 * (uriRegexRewrite). NULL when it does not compile (m_regex_problem says why). */
struct m_regex *m_regex_compile(const char *re, bool whole, bool icase);
void m_regex_free(struct m_regex *r);

/* Does `s` (len bytes) match? A subject that is not UTF-8 never matches. */
bool m_regex_match(const struct m_regex *r, const char *s, size_t len);

/*
 * Replace every match of `r` in `s` with `rewrite`, where \1..\9 stand for the groups (RE2's
 * and Envoy's substitution syntax). Returns a malloc'd string, or NULL when nothing matched.
 */
char *m_regex_replace(const struct m_regex *r, const char *s, const char *rewrite);

#endif
