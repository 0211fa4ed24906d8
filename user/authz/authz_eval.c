// SPDX-License-Identifier: Apache-2.0
/*
 * The decision for one request, as Istio's API defines it: which policies apply to the
 * workload, then CUSTOM -> DENY -> ALLOW. AUDIT is evaluated and reported but never changes the
 * answer.
 *
 *   1. a matching CUSTOM rule denies (skiff has no ext-authz provider to ask, see authz.h);
 *   2. a matching DENY rule denies;
 *   3. no ALLOW policy applies: allow;
 *   4. a matching ALLOW rule allows;
 *   5. otherwise deny: an ALLOW policy that exists and does not match (also one without rules).
 */
#include <stdio.h>
#include <string.h>

#include "authz/authz_internal.h"

/*
 * Root-namespace policies apply mesh-wide (and by selector in every namespace); others only in
 * their own namespace. No selector, or an empty one, selects every workload in scope.
 */
bool az_applies(const struct authz_set *s, const struct m_authorizationpolicy *ap,
		const struct authz_workload *wl)
{
	const struct labels none = {0};

	if (strcmp(ap->meta.ns, s->root_ns) && strcmp(ap->meta.ns, wl->ns))
		return false;
	return labels_match(&ap->selector, wl->labels ? wl->labels : &none);
}

/* First rule of `p` that matches, or -1. */
static int az_policy_match(const struct az_policy *p, const struct az_attrs *a)
{
	for (size_t i = 0; i < p->nrules; i++)
		if (az_rule_match(&p->rules[i], p->ap->action, a))
			return (int)i;
	return -1;
}

static void az_decide(struct authz_decision *out, bool allow, enum authz_reason why,
		      const struct az_policy *p, int rule)
{
	out->allow = allow;
	out->reason = why;
	out->policy = p ? p->ap : NULL;
	out->rule = p ? rule : -1;
	out->rule_line = p ? p->rules[rule].line : 0;
}

/* The first policy of `action` that applies and matches; *rule gets its rule. */
static const struct az_policy *az_first_match(const struct authz_set *s,
					      const struct authz_workload *wl,
					      const struct az_attrs *a, enum m_authz_action action,
					      int *rule)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct az_policy *p = &s->v[i];

		if (p->ap->action != action || !az_applies(s, p->ap, wl))
			continue;
		*rule = az_policy_match(p, a);
		if (*rule >= 0)
			return p;
	}
	return NULL;
}

static size_t az_count_allow(const struct authz_set *s, const struct authz_workload *wl)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++)
		n += s->v[i].ap->action == AUTHZ_ALLOW && az_applies(s, s->v[i].ap, wl);
	return n;
}

void authz_evaluate(const struct authz_set *s, const struct authz_workload *wl,
		    const struct authz_request *rq, struct authz_decision *out)
{
	const struct az_policy *p;
	struct az_attrs a;
	int rule = -1;

	memset(out, 0, sizeof(*out));
	az_attrs_init(&a, rq, s->path_norm);
	p = az_first_match(s, wl, &a, AUTHZ_AUDIT, &rule);
	out->audit = p ? p->ap : NULL;
	out->audit_rule = p ? rule : -1;
	out->nallow = az_count_allow(s, wl);
	if ((p = az_first_match(s, wl, &a, AUTHZ_CUSTOM, &rule)))
		az_decide(out, false, AUTHZ_CUSTOM_UNSUPPORTED, p, rule);
	else if ((p = az_first_match(s, wl, &a, AUTHZ_DENY, &rule)))
		az_decide(out, false, AUTHZ_DENY_RULE, p, rule);
	else if (out->nallow == 0)
		az_decide(out, true, AUTHZ_DEFAULT_ALLOW, NULL, -1);
	else if ((p = az_first_match(s, wl, &a, AUTHZ_ALLOW, &rule)))
		az_decide(out, true, AUTHZ_ALLOW_RULE, p, rule);
	else
		az_decide(out, false, AUTHZ_NO_ALLOW_MATCH, NULL, -1);
	az_attrs_free(&a);
}

int authz_decision_format(const struct authz_decision *dec, char *buf, size_t len)
{
	const struct m_authorizationpolicy *ap = dec->policy;
	const char *verdict = dec->allow ? "ALLOW" : "DENY";

	switch (dec->reason) {
	case AUTHZ_DEFAULT_ALLOW:
		return snprintf(buf, len,
				"%s: no ALLOW policy applies to the workload (default allow)",
				verdict);
	case AUTHZ_NO_ALLOW_MATCH:
		return snprintf(buf, len, "%s: no ALLOW policy matched (%zu ALLOW polic%s appl%s)",
				verdict, dec->nallow, dec->nallow == 1 ? "y" : "ies",
				dec->nallow == 1 ? "ies" : "y");
	case AUTHZ_CUSTOM_UNSUPPORTED:
		return snprintf(buf, len,
				"%s: AuthorizationPolicy %s/%s rules[%d] (%s:%d): CUSTOM provider "
				"\"%s\" not supported",
				verdict, ap->meta.ns, ap->meta.name, dec->rule, ap->meta.file,
				dec->rule_line, ap->provider ? ap->provider : "");
	default:
		return snprintf(buf, len, "%s: AuthorizationPolicy %s/%s rules[%d] (%s:%d)",
				verdict, ap->meta.ns, ap->meta.name, dec->rule, ap->meta.file,
				dec->rule_line);
	}
}
