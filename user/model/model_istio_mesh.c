// SPDX-License-Identifier: Apache-2.0
/*
 * The mesh config, read from an IstioOperator's spec.meshConfig as Istio's install guide writes
 * it. One meshConfig per mesh: a second is refused. Each feature reads its own fields (tracing:
 * model_mesh_tracing.c); the rest configure istiod rather than the data plane and are left
 * alone, without warnings.
 */
#include <stdlib.h>
#include <string.h>

#include "model/model_istio_common.h"

int parse_istiooperator(struct pctx *c)
{
	const struct ynode *mc = ynode_path(c->doc, "spec.meshConfig");
	const struct m_mesh_tracing *t = &c->m->tracing;

	if (!mc)
		return 0;
	if (mc->kind != YNODE_MAP) {
		perr(c, mc, "spec.meshConfig must be a mapping");
		return -1;
	}
	if (t->file) {
		perr(c, mc, "a second meshConfig: the first is at %s:%d (keep one IstioOperator)",
		     t->file, t->line);
		return -1;
	}
	parse_mesh_tracing(c, mc);
	return c->errors ? -1 : 0;
}
