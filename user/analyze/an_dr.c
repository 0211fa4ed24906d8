// SPDX-License-Identifier: Apache-2.0
/*
 * DestinationRules against what runs (Istio's destinationrule.PodNotSelectedAnalyzer): IST0174
 * when the host is no Service, IST0173 when a subset's labels pick no pod of the host, so that
 * every connection routed to it fails (skiff: the route has no backend).
 */
#include <stdio.h>
#include <string.h>

#include "analyze/an_internal.h"

#define TOPOLOGY_PREFIX "topology.kubernetes.io/"

static const struct an_obj *node_of(const struct an_index *x, const struct an_obj *pod)
{
	const char *node = ynode_str(ynode_path(pod->doc, "spec.nodeName"));

	for (size_t i = 0; node && i < x->nnodes; i++)
		if (!strcmp(x->nodes[i].name, node))
			return &x->nodes[i];
	return NULL;
}

/* Subset labels: topology labels are the labels of the pod's Node; an empty value never matches. */
static bool subset_selects(const struct an_index *x, const struct an_obj *pod,
			   const struct labels *sub)
{
	for (size_t i = 0; i < sub->n; i++) {
		const char *k = sub->v[i].key, *v = sub->v[i].val, *have;

		if (!strncmp(k, TOPOLOGY_PREFIX, strlen(TOPOLOGY_PREFIX))) {
			const struct an_obj *node = node_of(x, pod);

			have = node ? labels_get(&node->labels, k) : NULL;
			if (!v[0] || !have || strcmp(have, v))
				return false;
		} else if (!(have = labels_get(&pod->labels, k)) || strcmp(have, v)) {
			return false;
		}
	}
	return true;
}

static void check_subsets(const struct m_destinationrule *dr, const struct an_index *x,
			  const struct an_svc *s, struct an_result *r)
{
	for (size_t i = 0; i < dr->nsubsets; i++) {
		const struct m_subset *sub = &dr->subsets[i];
		bool any = false;

		for (size_t p = 0; p < x->npods && !any; p++)
			any = !strcmp(x->pods[p].ns, s->o.ns) &&
			      labels_match(&s->selector, &x->pods[p].labels) &&
			      subset_selects(x, &x->pods[p], &sub->labels);
		if (!any)
			analyze_report(
			    r, IST0173, "DestinationRule", &dr->meta, sub->line,
			    "fix the subset's labels to match the pods' labels (kubectl "
			    "get pods --show-labels), or deploy that version",
			    "The Subset %s defined in the DestinationRule does not select "
			    "any pods. Which may lead to 503 UH (NoHealthyUpstream).",
			    sub->name ? sub->name : "");
	}
}

AN_FN(an_dr_pods)
{
	for (size_t i = 0; i < m->ndestinationrules; i++) {
		const struct m_destinationrule *dr = &m->destinationrules[i];
		const struct an_svc *s;

		if (!dr->host || !dr->meta.name || strchr(dr->host, '*'))
			continue;
		s = an_service_for_host(x, dr->meta.ns, dr->meta.ns, dr->host);
		if (!s) {
			if (!an_serviceentry_for_host(x, dr->meta.ns, dr->meta.ns, dr->host))
				analyze_report(
				    r, IST0174, "DestinationRule", &dr->meta, 0,
				    "write the host of an existing Service (name or "
				    "name.namespace.svc.cluster.local)",
				    "The host %s defined in the DestinationRule does not "
				    "match any services in the mesh.",
				    dr->host);
			continue;
		}
		check_subsets(dr, x, s, r);
	}
}
