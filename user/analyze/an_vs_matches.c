// SPDX-License-Identifier: Apache-2.0
/*
 * Rule shadowing in a VirtualService, as Istio's VirtualService validation reports it (its
 * schema-validation analyzer): IST0130 for a rule that can never be reached (a second rule without
 * matches, rules after a rule without matches, a rule all of whose matches an earlier rule has),
 * IST0131 for a match an earlier rule already has, or for an HTTP prefix match an earlier prefix
 * match of the same method, port, authority, headers and query covers. skiff's kernel does not
 * enforce matches (SKF0001), but the configuration means the same thing wherever it runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/an_internal.h"
#include "common/strbuf.h"

/* Canonical text of a YAML value: keys sorted, a match's `name` left out (it routes nothing). */
static void canon(struct strbuf *b, const struct ynode *n, bool top)
{
	if (!n) {
		sb_printf(b, "null");
	} else if (n->kind == YNODE_SCALAR) {
		sb_json_str(b, n->scalar ? n->scalar : "");
	} else if (n->kind == YNODE_SEQ) {
		sb_printf(b, "[");
		for (size_t i = 0; i < n->n; i++) {
			sb_printf(b, "%s", i ? "," : "");
			canon(b, n->items[i], false);
		}
		sb_printf(b, "]");
	} else {
		const char *last = "";

		sb_printf(b, "{");
		for (size_t k = 0; k < n->n; k++) { /* selection by rank: maps here are small */
			const char *next = NULL;
			size_t at = 0;

			for (size_t i = 0; i < n->n; i++)
				if (strcmp(n->keys[i], last) > 0 &&
				    (!next || strcmp(n->keys[i], next) < 0))
					next = n->keys[i], at = i;
			if (!next)
				break;
			last = next;
			if (top && !strcmp(next, "name"))
				continue;
			sb_json_str(b, next);
			sb_printf(b, ":");
			canon(b, n->items[at], false);
			sb_printf(b, ",");
		}
		sb_printf(b, "}");
	}
}

static char *canon_match(const struct ynode *m)
{
	struct strbuf b = {0};

	canon(&b, m, true);
	return sb_take(&b);
}

/* Istio's names: "#N", or the quoted name of an HTTP route or match. */
static void item_name(const struct ynode *n, size_t idx, bool http, char *buf, size_t len)
{
	const char *name = http ? ynode_str(ynode_get(n, "name")) : NULL;

	if (name && name[0])
		snprintf(buf, len, "\"%s\"", name);
	else
		snprintf(buf, len, "#%zu", idx);
}

struct prefix_match {
	char route[128], match[128];
	const char *prefix;
	const struct ynode *m;
	int line;
};

static void unreachable(const struct m_virtualservice *vs, int line, const char *rule,
			const char *why, struct an_result *r)
{
	analyze_report(r, IST0130, "VirtualService", &vs->meta, line,
		       "remove the rule or move it before the rule that shadows it",
		       "VirtualService rule %s not used (%s).", rule, why);
}

static void ineffective(const struct m_virtualservice *vs, int line, const char *rule,
			const char *match, const char *dup, struct an_result *r)
{
	analyze_report(
	    r, IST0131, "VirtualService", &vs->meta, line,
	    "remove the match, or order rules from the most to the least specific",
	    "VirtualService rule %s match %s is not used (duplicate/overlapping match in "
	    "rule %s).",
	    rule, match, dup);
}

/* "exact:V" or "prefix:V" of a StringMatch, "" when it is neither. */
static void exact_or_prefix(const struct ynode *sm, char *buf, size_t len)
{
	const char *e = ynode_str(ynode_get(sm, "exact")), *p = ynode_str(ynode_get(sm, "prefix"));

	if (e && e[0])
		snprintf(buf, len, "exact:%s", e);
	else if (p && p[0])
		snprintf(buf, len, "prefix:%s", p);
	else
		buf[0] = '\0';
}

/* A map of StringMatch (headers, queryParams, withoutHeaders): does a's cover b's? Same keys,
 * and each value of a equal to, or starting with, b's (Istio's rule, kept as it is). */
static bool string_maps_cover(const struct ynode *a, const struct ynode *b)
{
	char va[512], vb[512];
	size_t na = a && a->kind == YNODE_MAP ? a->n : 0, nb = b && b->kind == YNODE_MAP ? b->n : 0;

	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		const struct ynode *other = ynode_get(b, a->keys[i]);

		if (!other)
			return false;
		exact_or_prefix(a->items[i], va, sizeof(va));
		exact_or_prefix(other, vb, sizeof(vb));
		if (strcmp(va, vb) && strncmp(va, vb, strlen(vb)))
			return false;
	}
	return true;
}

static bool field_covers(const struct ynode *a, const struct ynode *b, const char *key,
			 const char *dflt)
{
	char va[512], vb[512];

	exact_or_prefix(ynode_get(a, key), va, sizeof(va));
	exact_or_prefix(ynode_get(b, key), vb, sizeof(vb));
	if (!va[0])
		snprintf(va, sizeof(va), "%s", dflt);
	if (!vb[0])
		snprintf(vb, sizeof(vb), "%s", dflt);
	return !strcmp(va, vb) || !strncmp(va, vb, strlen(vb));
}

/* Does the earlier prefix match `a` cover the later `b`? */
static bool prefix_covers(const struct prefix_match *a, const struct prefix_match *b)
{
	const char *pa = ynode_str(ynode_get(a->m, "port")),
		   *pb = ynode_str(ynode_get(b->m, "port"));

	if (strncmp(b->prefix, a->prefix, strlen(a->prefix)))
		return false;
	if (strcmp(pa ? pa : "", pb ? pb : ""))
		return false;
	return field_covers(a->m, b->m, "method", "exact:GET") &&
	       field_covers(a->m, b->m, "authority", "") &&
	       string_maps_cover(ynode_get(a->m, "headers"), ynode_get(b->m, "headers")) &&
	       string_maps_cover(ynode_get(a->m, "queryParams"), ynode_get(b->m, "queryParams")) &&
	       string_maps_cover(ynode_get(a->m, "withoutHeaders"),
				 ynode_get(b->m, "withoutHeaders"));
}

static void overlaps(const struct m_virtualservice *vs, struct prefix_match *pm, size_t n,
		     struct an_result *r)
{
	char a[300], b[400];

	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			if (!strcmp(pm[i].prefix, pm[j].prefix) || !prefix_covers(&pm[i], &pm[j]))
				continue;
			snprintf(a, sizeof(a), "%s of prefix %s", pm[j].match, pm[j].prefix);
			snprintf(b, sizeof(b), "%s of prefix %s on %s", pm[i].match, pm[i].prefix,
				 pm[i].route);
			ineffective(vs, pm[j].line, pm[j].route, a, b, r);
		}
}

struct seen {
	char *key;
	size_t rule;
};

/* One list of rules (http, tcp or tls), as Istio's analyzeUnreachable*Rules. */
static void rules(const struct m_virtualservice *vs, const struct ynode *seq, bool http,
		  struct an_result *r)
{
	struct seen *seen = NULL;
	struct prefix_match *pm = NULL;
	size_t nseen = 0, npm = 0;
	long empty = -1;
	char rn[128], mn[128], dn[128];

	for (size_t ri = 0; seq && seq->kind == YNODE_SEQ && ri < seq->n; ri++) {
		const struct ynode *rule = seq->items[ri], *ms = ynode_get(rule, "match");
		size_t nm = ms && ms->kind == YNODE_SEQ ? ms->n : 0, dups = 0;

		item_name(rule, ri, http, rn, sizeof(rn));
		if (!nm) {
			if (empty >= 0)
				unreachable(vs, rule->line, rn,
					    "only the last rule can have no matches", r);
			empty = (long)ri;
			continue;
		}
		for (size_t mi = 0; mi < nm; mi++) {
			const struct ynode *m = ms->items[mi];
			const char *prefix = ynode_str(ynode_path(m, "uri.prefix"));
			char *key;
			size_t k;

			if (empty >= 0) {
				unreachable(vs, rule->line, rn,
					    "route without matches defined before", r);
				continue;
			}
			key = canon_match(m);
			for (k = 0; k < nseen && strcmp(seen[k].key, key); k++)
				;
			item_name(m, mi, http, mn, sizeof(mn));
			if (k < nseen) {
				item_name(seq->items[seen[k].rule], seen[k].rule, http, dn,
					  sizeof(dn));
				ineffective(vs, m->line, rn, mn, dn, r);
				dups++;
				free(key);
				continue;
			}
			seen = realloc(seen, (nseen + 1) * sizeof(*seen));
			if (!seen)
				abort();
			seen[nseen++] = (struct seen){.key = key, .rule = ri};
			if (http && prefix && prefix[0]) {
				pm = realloc(pm, (npm + 1) * sizeof(*pm));
				if (!pm)
					abort();
				pm[npm] = (struct prefix_match){
				    .prefix = prefix, .m = m, .line = m->line};
				snprintf(pm[npm].route, sizeof(pm[npm].route), "%s", rn);
				snprintf(pm[npm].match, sizeof(pm[npm].match), "%s", mn);
				npm++;
			}
		}
		if (dups == nm)
			unreachable(vs, rule->line, rn, "all matches used by prior rules", r);
	}
	if (npm > 1)
		overlaps(vs, pm, npm, r);
	for (size_t i = 0; i < nseen; i++)
		free(seen[i].key);
	free(seen);
	free(pm);
}

AN_FN(an_vs_matches)
{
	(void)x;
	for (size_t i = 0; i < m->nvirtualservices; i++) {
		const struct m_virtualservice *vs = &m->virtualservices[i];
		const struct ynode *spec = ynode_get(vs->meta.doc, "spec");

		if (!vs->meta.doc || !vs->meta.name)
			continue;
		rules(vs, ynode_get(spec, "http"), true, r);
		rules(vs, ynode_get(spec, "tcp"), false, r);
		rules(vs, ynode_get(spec, "tls"), false, r);
	}
}
