// SPDX-License-Identifier: Apache-2.0
/*
 * Namespaces and the mesh (Istio's injection.Analyzer, for skiff's enrolment): IST0102 for a
 * namespace with no mesh label at all, IST0123 for one with labels that contradict each other,
 * SKF0006 for one that asks Istio for sidecars (istio-injection, istio.io/rev), which skiff never
 * injects: its pods stay outside skiff's mesh until the namespace has the ambient label.
 */
#include <stdio.h>
#include <string.h>

#include "analyze/an_internal.h"

AN_FN(an_injection)
{
	(void)m;
	for (size_t i = 0; i < x->nnamespaces; i++) {
		const struct an_obj *ns = &x->namespaces[i];
		const char *inj = labels_get(&ns->labels, "istio-injection");
		const char *rev = labels_get(&ns->labels, "istio.io/rev");
		const char *mode = labels_get(&ns->labels, "istio.io/dataplane-mode");
		const char *mesh = labels_get(&ns->labels, "skiff.io/mesh");
		bool ambient = mode && !strcmp(mode, "ambient");
		char list[256], fix[512];

		if (an_system_namespace(ns->name))
			continue;
		snprintf(fix, sizeof(fix),
			 "kubectl label namespace %s "
			 "istio.io/dataplane-mode=ambient",
			 ns->name);
		if (!inj && !rev && !mode && !mesh) {
			analyze_report_at(
			    r, IST0102, "Namespace", "", ns->name, ns->file, ns->line, fix,
			    "The namespace is not in the mesh: its pods get no mTLS, policy or "
			    "routing. Run 'kubectl label namespace %s "
			    "istio.io/dataplane-mode=ambient' "
			    "to add it, or 'kubectl label namespace %s "
			    "istio.io/dataplane-mode=none' to "
			    "explicitly mark it as not needing it.",
			    ns->name, ns->name);
			continue;
		}
		if (inj && !strcmp(inj, "disabled"))
			continue;
		if ((inj != NULL) + (rev != NULL) + ambient > 1) {
			snprintf(list, sizeof(list), "%s%s%s", inj ? "istio-injection " : "",
				 rev ? "istio.io/rev " : "",
				 ambient ? "istio.io/dataplane-mode " : "");
			list[strlen(list) - 1] = '\0';
			analyze_report_at(
			    r, IST0123, "Namespace", "", ns->name, ns->file, ns->line,
			    "keep istio.io/dataplane-mode=ambient (skiff's label) and remove the "
			    "others",
			    "The namespace has more than one type of injection labels [%s], which "
			    "may "
			    "lead to undefined behavior. Make sure only one injection label "
			    "exists.",
			    list);
		} else if (!ambient && !(mesh && !strcmp(mesh, "enabled")) &&
			   ((inj && !strcmp(inj, "enabled")) || rev)) {
			analyze_report_at(r, SKF0006, "Namespace", "", ns->name, ns->file, ns->line,
					  fix,
					  "The namespace asks for sidecar injection (%s), which "
					  "skiff does not do: "
					  "its pods are not in skiff's mesh",
					  inj ? "istio-injection=enabled" : "istio.io/rev");
		}
	}
}
