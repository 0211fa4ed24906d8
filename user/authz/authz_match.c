// SPDX-License-Identifier: Apache-2.0
/*
 * One rule against one request, under its policy's action.
 *
 * A rule matches when some `from` entry, some `to` entry and every `when` condition match; a
 * missing section matches. Fields the request cannot have (HTTP attributes on TCP traffic, as
 * Istio's builder treats them for TCP; Envoy metadata skiff never has) are treated so that the
 * answer can only get stricter, never looser:
 *   - ALLOW: the whole rule is dropped (it matches nothing), so less is allowed;
 *   - DENY, CUSTOM (denied in skiff) and AUDIT: those fields are removed and the rest of the rule
 *     stays, so an entry left with nothing matches everything and more is denied.
 */
#include "authz/authz_internal.h"

/* This field does not exist for this request and is removed from the rule. */
static bool az_field_removed(const struct az_field *f, const struct az_attrs *a)
{
	return (a->rq->tcp && f->http_only) || f->attr == AZ_UNKNOWABLE;
}

static bool az_fields_match(const struct az_field *f, size_t n, const struct az_attrs *a)
{
	for (size_t i = 0; i < n; i++)
		if (!az_field_removed(&f[i], a) && !az_field_match(&f[i], a))
			return false;
	return true;
}

/* OR over entries; an absent section (n == 0) matches. */
static bool az_entries_match(const struct az_entry *e, size_t n, const struct az_attrs *a)
{
	if (n == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (az_fields_match(e[i].f, e[i].n, a))
			return true;
	return false;
}

bool az_rule_match(const struct az_rule *r, enum m_authz_action action, const struct az_attrs *a)
{
	if (action == AUTHZ_ALLOW && (r->has_unknowable || (a->rq->tcp && r->has_http)))
		return false;
	return az_entries_match(r->from, r->nfrom, a) && az_entries_match(r->to, r->nto, a) &&
	       az_fields_match(r->when, r->nwhen, a);
}
