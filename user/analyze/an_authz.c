// SPDX-License-Identifier: Apache-2.0
/*
 * AuthorizationPolicy references (Istio's authz.AuthorizationPoliciesAnalyzer): IST0127 when the
 * policy selects no pod (a typo in a label makes a policy silently apply to nothing), IST0101
 * for each source namespace pattern that matches no Namespace.
 */
#include <stdio.h>
#include <string.h>

#include "analyze/an_internal.h"

static size_t pods_selected(const struct an_index *x, const char *ns, const struct labels *sel)
{
	size_t n = 0;

	for (size_t i = 0; i < x->npods; i++)
		if ((!ns || !strcmp(x->pods[i].ns, ns)) && labels_match(sel, &x->pods[i].labels))
			n++;
	return n;
}

/* Istio's namespace patterns: exact, "*", "prefix-*", "*-suffix". */
static bool ns_pattern_match(const char *pat, const char *ns)
{
	size_t pl = strlen(pat), nl = strlen(ns);

	if (!strcmp(pat, "*") || !strcmp(pat, ns))
		return true;
	if (pl && pat[pl - 1] == '*')
		return !strncmp(pat, ns, pl - 1);
	if (pat[0] == '*')
		return nl >= pl - 1 && !strcmp(ns + nl - (pl - 1), pat + 1);
	return false;
}

static void check_namespaces(const struct m_authorizationpolicy *ap, const struct an_index *x,
			     const struct ynode *list, struct an_result *r)
{
	for (size_t i = 0; list && list->kind == YNODE_SEQ && i < list->n; i++) {
		const char *pat = ynode_str(list->items[i]);
		bool found = false;

		for (size_t j = 0; pat && j < x->nnamespaces && !found; j++)
			found = ns_pattern_match(pat, x->namespaces[j].name);
		if (pat && !found)
			analyze_report(r, IST0101, "AuthorizationPolicy", &ap->meta,
				       list->items[i]->line,
				       "name an existing namespace (kubectl get ns), or fix the "
				       "pattern",
				       "Referenced namespace not found: \"%s\"", pat);
	}
}

static void check_sources(const struct m_authorizationpolicy *ap, const struct an_index *x,
			  struct an_result *r)
{
	const struct ynode *rules = ap->rules;

	for (size_t i = 0; rules && rules->kind == YNODE_SEQ && i < rules->n; i++) {
		const struct ynode *from = ynode_get(rules->items[i], "from");

		for (size_t j = 0; from && from->kind == YNODE_SEQ && j < from->n; j++) {
			const struct ynode *src = ynode_get(from->items[j], "source");

			check_namespaces(ap, x, ynode_get(src, "namespaces"), r);
			check_namespaces(ap, x, ynode_get(src, "notNamespaces"), r);
		}
	}
}

AN_FN(an_authz)
{
	char sel[512];

	for (size_t i = 0; i < m->nauthorizationpolicies; i++) {
		const struct m_authorizationpolicy *ap = &m->authorizationpolicies[i];
		bool root = !strcmp(ap->meta.ns, m->root_namespace);

		if (ap->has_selector || !root) {
			if (!pods_selected(x, root ? NULL : ap->meta.ns, &ap->selector)) {
				an_labels_text(&ap->selector, sel, sizeof(sel));
				analyze_report(r, IST0127, "AuthorizationPolicy", &ap->meta, 0,
					       "check spec.selector.matchLabels against the pods' "
					       "labels (kubectl get pods -n NS --show-labels)",
					       "No matching workloads for this resource with the "
					       "following labels: %s",
					       sel);
			}
		}
		check_sources(ap, x, r);
	}
}
