/* SPDX-License-Identifier: Apache-2.0 */
/* The analyzers (one file per family) and the walks they share. */
#ifndef SKIFF_AN_INTERNAL_H
#define SKIFF_AN_INTERNAL_H

#include <stdlib.h>

#include "analyze/an_index.h"

/* Calls `fn` for each destination of a VirtualService document: http/tcp/tls route[].destination
 * (NULL for a route entry without one), http mirror and mirrors[].destination. */
void an_vs_destinations(const struct m_virtualservice *vs,
			void (*fn)(const struct m_virtualservice *vs, const struct ynode *dst,
				   int line, void *arg),
			void *arg);

/* A Service port name of the form <protocol>[-suffix], or an appProtocol. */
bool an_port_protocol_known(const char *name, const char *app_protocol);

#define AN_FN(name) void name(const struct model *m, const struct an_index *x, struct an_result *r)
AN_FN(an_vs_dest_hosts);
AN_FN(an_vs_dest_subsets);
AN_FN(an_vs_mesh_conflicts);
AN_FN(an_vs_matches);
AN_FN(an_injection);
AN_FN(an_service_port_names);
AN_FN(an_deployment_services);
AN_FN(an_authz);
AN_FN(an_dr_pods);
AN_FN(an_skiff_enforcement);
AN_FN(an_policy_effect);

#endif
