/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PeerAuthentication, resolved for one pod the way Istio resolves it: the workload policy (a
 * selector matching the pod's labels) overrides the namespace policy (no selector), which
 * overrides the mesh policy (no selector, in the root namespace); UNSET inherits from the level
 * above; with nothing set anywhere the mode is PERMISSIVE. Port-level settings of the workload
 * policy override its mode for those (container) ports; a port-level UNSET inherits the pod's
 * mode. When two policies claim the same level, Istio takes the oldest; the model has no creation
 * times, so the first by name wins and the other is reported.
 */
#ifndef SKIFF_COMPILE_MTLS_H
#define SKIFF_COMPILE_MTLS_H

#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "model/model.h"

#define MTLS_MAX_PORTS 16

struct pod_mtls {
	enum m_mtls_mode mode;			  /* STRICT, PERMISSIVE or DISABLE: never UNSET */
	struct m_port_mtls ports[MTLS_MAX_PORTS]; /* port overrides, resolved (never UNSET) */
	size_t nports;
	const struct m_peerauthentication *from; /* the policy that decided `mode`, or NULL */
};

/* The effective PeerAuthentication of pod `p`. Conflicts go to `d` as warnings. */
void compile_pod_mtls(const struct model *m, const struct m_pod *p, struct pod_mtls *out,
		      struct diag *d);
/* The mode that applies to a connection to `port` of the pod. */
enum m_mtls_mode pod_mtls_port(const struct pod_mtls *pm, uint16_t port);

#endif
