// SPDX-License-Identifier: Apache-2.0
/*
 * Never a silent ignore: every field skiffd parses and validates but does not enforce yet is named
 * in one warning per resource and field, the first time a snapshot containing it is applied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_state.h"

static bool warned_once(struct agent *a, const char *key)
{
	char **grown;

	for (size_t i = 0; i < a->nwarned; i++)
		if (!strcmp(a->warned[i], key))
			return true;
	grown = realloc(a->warned, (a->nwarned + 1) * sizeof(*grown));
	if (!grown)
		return true;
	a->warned = grown;
	a->warned[a->nwarned++] = strdup(key);
	return false;
}

static void warn_fields(struct agent *a, const char *kind, const struct meta *m,
			const struct m_unenforced *u, size_t n)
{
	char key[512];

	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s %s/%s %s", kind, m->ns, m->name, u[i].field);
		if (!warned_once(a, key))
			agent_log("warning",
				  "%s:%d: %s %s/%s: %s is accepted but not enforced yet; "
				  "see docs/limitations.md",
				  m->file, u[i].line, kind, m->ns, m->name, u[i].field);
	}
}

/* Enforced, with a limit the user must know about. */
static void warn_partial(struct agent *a, const char *kind, const struct meta *m, const char *what)
{
	char key[512];

	snprintf(key, sizeof(key), "%s %s/%s partial", kind, m->ns, m->name);
	if (!warned_once(a, key))
		agent_log("warning", "%s:%d: %s %s/%s: %s", m->file, m->line, kind, m->ns, m->name,
			  what);
}

void agent_warn_unenforced(struct agent *a)
{
	const struct model *m = &a->snap->m;

	for (size_t i = 0; i < m->nvirtualservices; i++)
		warn_fields(a, "VirtualService", &m->virtualservices[i].meta,
			    m->virtualservices[i].unenforced, m->virtualservices[i].nunenforced);
	for (size_t i = 0; i < m->ndestinationrules; i++)
		warn_fields(a, "DestinationRule", &m->destinationrules[i].meta,
			    m->destinationrules[i].unenforced, m->destinationrules[i].nunenforced);
	for (size_t i = 0; i < m->npeerauthentications; i++)
		if (m->peerauthentications[i].mode == MTLS_STRICT && !a->tls)
			warn_partial(
			    a, "PeerAuthentication", &m->peerauthentications[i].meta,
			    "STRICT keeps plaintext out in the kernel, but this skiffd has "
			    "no --ca-dir, so it cannot carry cross-node mesh traffic over "
			    "mTLS: that traffic is refused too");
	for (size_t i = 0; i < m->nauthorizationpolicies; i++) {
		const struct m_authorizationpolicy *ap = &m->authorizationpolicies[i];

		if (ap->action == AUTHZ_CUSTOM)
			warn_partial(a, "AuthorizationPolicy", &ap->meta,
				     "CUSTOM: skiff has no ext-authz client, so the requests its "
				     "rules match are denied (never allowed)");
		if (!a->proxy)
			warn_partial(
			    a, "AuthorizationPolicy", &ap->meta,
			    "this skiffd has no --outbound-addr, so connections that need it "
			    "(HTTP rules, other nodes) are refused rather than let through");
	}
}
