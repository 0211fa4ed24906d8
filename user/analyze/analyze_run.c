// SPDX-License-Identifier: Apache-2.0
/* The analyzers, under Istio's names where Istio has the same analyzer (tests run them by name). */
#include <string.h>

#include "analyze/an_internal.h"

const struct analyzer analyze_analyzers[] = {
    {"authz.AuthorizationPoliciesAnalyzer", an_authz},
    {"deployment.ServiceAssociationAnalyzer", an_deployment_services},
    {"destinationrule.PodNotSelectedAnalyzer", an_dr_pods},
    {"injection.Analyzer", an_injection},
    {"service.PortNameAnalyzer", an_service_port_names},
    {"virtualservice.ConflictingMeshGatewayHostsAnalyzer", an_vs_mesh_conflicts},
    {"virtualservice.DestinationHostAnalyzer", an_vs_dest_hosts},
    {"virtualservice.DestinationRuleAnalyzer", an_vs_dest_subsets},
    /* Istio reports rule shadowing from its VirtualService schema validation */
    {"schema.VirtualServiceRulesAnalyzer", an_vs_matches},
    {"skiff.EnforcementAnalyzer", an_skiff_enforcement},
    {"skiff.PolicyEffectAnalyzer", an_policy_effect},
};

const size_t analyze_nanalyzers = sizeof(analyze_analyzers) / sizeof(analyze_analyzers[0]);

const struct analyzer *analyze_find(const char *name)
{
	for (size_t i = 0; i < analyze_nanalyzers; i++)
		if (!strcmp(analyze_analyzers[i].name, name))
			return &analyze_analyzers[i];
	return NULL;
}

void analyze_run(const struct model *m, const struct analyzer *a, struct an_result *r)
{
	struct an_index x;

	an_index_build(m, &x);
	for (size_t i = 0; i < analyze_nanalyzers; i++)
		if (!a || a == &analyze_analyzers[i])
			analyze_analyzers[i].run(m, &x, r);
	an_index_free(&x);
}
