// SPDX-License-Identifier: Apache-2.0
/*
 * What only skiff knows. SKF0001: a VirtualService or DestinationRule field skiff parses and
 * validates but does not enforce everywhere (the same list skiffd warns about once per field,
 * agent_warn.c); DestinationRule load balancing, connection pools and outlier detection are
 * enforced on the L7 router's ports, and the report says how to get one (a rule asking for a
 * per-request policy makes a port declared HTTP one on its own). SKF0002: a CUSTOM policy, which skiff has no ext-authz client for, so what its
 * rules match is denied. SKF0003: HTTP rules on a Service port whose protocol is not declared;
 * skiff sniffs HTTP from the first bytes (docs/limitations.md), which a client-first non-HTTP
 * protocol can trip over.
 */
#include <stdio.h>
#include <string.h>

#include "analyze/an_internal.h"

/* loadBalancer, connectionPool and outlierDetection work per request in skiffd's L7 router, so
 * on the ports it serves; the kernel alone cannot apply them on the others. */
static bool router_policy(const char *field)
{
	return strstr(field, "loadBalancer") || strstr(field, "connectionPool") ||
	       strstr(field, "outlierDetection");
}

static void unenforced(const char *kind, const struct meta *meta, const struct m_unenforced *u,
		       size_t n, struct an_result *r)
{
	for (size_t i = 0; i < n; i++) {
		if (router_policy(u[i].field)) {
			analyze_report(r, SKF0001, kind, meta, u[i].line,
				       "declare the Service port HTTP (name it http-..., or "
				       "appProtocol: http): LEAST_REQUEST, a header, cookie or "
				       "query hash, HTTP pool limits and outlierDetection then "
				       "make skiffd's L7 router serve it; other fields need an "
				       "HTTP rule beyond weights there (the guide's retries)",
				       "%s is enforced only on ports skiffd's L7 router serves, "
				       "not on ports balanced in the kernel",
				       u[i].field);
			continue;
		}
		analyze_report(r, SKF0001, kind, meta, u[i].line,
			       "remove the field, or expect Istio's behaviour only where Istio "
			       "runs: skiff applies weights, subsets and HTTP/1.1 route rules only",
			       "%s is accepted but not enforced by skiff", u[i].field);
	}
}

static bool has_http_attr(const struct ynode *rule)
{
	static const char *const ops[] = {"methods", "notMethods", "paths", "notPaths",
					  "hosts",   "notHosts",   NULL};
	const struct ynode *to = ynode_get(rule, "to"), *when = ynode_get(rule, "when");

	for (size_t i = 0; to && to->kind == YNODE_SEQ && i < to->n; i++) {
		const struct ynode *op = ynode_get(to->items[i], "operation");

		for (size_t k = 0; ops[k]; k++)
			if (ynode_get(op, ops[k]))
				return true;
	}
	for (size_t i = 0; when && when->kind == YNODE_SEQ && i < when->n; i++) {
		const char *key = ynode_str(ynode_get(when->items[i], "key"));

		if (key && !strncmp(key, "request.", 8))
			return true;
	}
	return false;
}

static bool selects_service(const struct m_authorizationpolicy *ap, const struct an_index *x,
			    const struct an_svc *s)
{
	for (size_t p = 0; p < x->npods; p++)
		if (!strcmp(x->pods[p].ns, s->o.ns) && s->selector.n &&
		    labels_match(&s->selector, &x->pods[p].labels) &&
		    labels_match(&ap->selector, &x->pods[p].labels))
			return true;
	return false;
}

static void l7_ports(const struct model *m, const struct m_authorizationpolicy *ap,
		     const struct an_index *x, struct an_result *r)
{
	bool root = !strcmp(ap->meta.ns, m->root_namespace);

	for (size_t i = 0; i < x->nservices; i++) {
		const struct an_svc *s = &x->services[i];

		if ((!root && strcmp(s->o.ns, ap->meta.ns)) || !selects_service(ap, x, s))
			continue;
		for (size_t p = 0; p < s->nports; p++) {
			if (an_port_protocol_known(s->ports[p].name, s->ports[p].app_protocol))
				continue;
			analyze_report(
			    r, SKF0003, "AuthorizationPolicy", &ap->meta, 0,
			    "name the port http[-suffix] (or set appProtocol), or limit "
			    "the HTTP rules to HTTP ports with to.operation.ports",
			    "HTTP rules apply to port %ld of Service %s/%s, whose protocol "
			    "is not declared: skiff sniffs HTTP from the first bytes, so a "
			    "non-HTTP protocol whose first line looks like a request is "
			    "answered 400",
			    s->ports[p].port, s->o.ns, s->o.name);
		}
	}
}

AN_FN(an_skiff_enforcement)
{
	for (size_t i = 0; i < m->nvirtualservices; i++)
		if (m->virtualservices[i].meta.name)
			unenforced("VirtualService", &m->virtualservices[i].meta,
				   m->virtualservices[i].unenforced,
				   m->virtualservices[i].nunenforced, r);
	for (size_t i = 0; i < m->ndestinationrules; i++)
		if (m->destinationrules[i].meta.name)
			unenforced("DestinationRule", &m->destinationrules[i].meta,
				   m->destinationrules[i].unenforced,
				   m->destinationrules[i].nunenforced, r);
	for (size_t i = 0; i < m->nauthorizationpolicies; i++) {
		const struct m_authorizationpolicy *ap = &m->authorizationpolicies[i];
		const struct ynode *rules = ap->rules;
		bool http = false;

		if (ap->action == AUTHZ_CUSTOM)
			analyze_report(r, SKF0002, "AuthorizationPolicy", &ap->meta, 0,
				       "use ALLOW or DENY rules: skiff has no ext-authz client",
				       "CUSTOM action (provider %s): skiff denies the requests its "
				       "rules match, it never asks the provider",
				       ap->provider ? ap->provider : "none");
		for (size_t j = 0; rules && rules->kind == YNODE_SEQ && j < rules->n; j++)
			http |= has_http_attr(rules->items[j]);
		if (http)
			l7_ports(m, ap, x, r);
	}
}

/* IST0167: a policy whose every selected pod is outside skiff's mesh has no effect. */
static void policy_effect(const char *kind, const struct meta *meta, const struct labels *sel,
			  bool root, const struct an_index *x, struct an_result *r)
{
	size_t selected = 0, enrolled = 0;

	for (size_t p = 0; p < x->npods; p++) {
		const struct an_obj *pod = &x->pods[p];

		if ((!root && strcmp(pod->ns, meta->ns)) || !labels_match(sel, &pod->labels))
			continue;
		selected++;
		enrolled += an_namespace_enrolled(x, pod->ns);
	}
	if (selected && !enrolled) {
		char fix[512];

		snprintf(fix, sizeof(fix),
			 "kubectl label namespace %s "
			 "istio.io/dataplane-mode=ambient",
			 meta->ns);
		analyze_report(r, IST0167, kind, meta, 0, fix,
			       "The policy has no impact: the pods it selects (%zu) are all in "
			       "namespaces outside the mesh (no istio.io/dataplane-mode=ambient).",
			       selected);
	}
}

AN_FN(an_policy_effect)
{
	for (size_t i = 0; i < m->nauthorizationpolicies; i++) {
		const struct m_authorizationpolicy *ap = &m->authorizationpolicies[i];

		policy_effect("AuthorizationPolicy", &ap->meta, &ap->selector,
			      !strcmp(ap->meta.ns, m->root_namespace), x, r);
	}
	for (size_t i = 0; i < m->npeerauthentications; i++) {
		const struct m_peerauthentication *pa = &m->peerauthentications[i];

		policy_effect("PeerAuthentication", &pa->meta, &pa->selector,
			      !strcmp(pa->meta.ns, m->root_namespace), x, r);
	}
}
