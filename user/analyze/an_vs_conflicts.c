// SPDX-License-Identifier: Apache-2.0
/*
 * IST0109 (Istio's virtualservice.ConflictingMeshGatewayHostsAnalyzer): two VirtualServices bound
 * to the mesh that claim the same host, seen from a common namespace. skiff, like Istio, then
 * uses only one of them for that host (compile_routes.c keeps the first by name).
 */
#include <stdio.h>
#include <string.h>

#include "analyze/an_internal.h"

static bool bound_to_mesh(const struct m_virtualservice *vs)
{
	if (vs->ngateways == 0)
		return true;
	for (size_t i = 0; i < vs->ngateways; i++)
		if (!strcmp(vs->gateways[i], "mesh"))
			return true;
	return false;
}

/* Do the exportTo scopes of `a` and `b` share a namespace? */
static bool scopes_meet(const struct m_virtualservice *a, const struct m_virtualservice *b)
{
	const struct ynode *ea = ynode_path(a->meta.doc, "spec.exportTo");
	const struct ynode *eb = ynode_path(b->meta.doc, "spec.exportTo");

	if (!ea || ea->kind != YNODE_SEQ || !ea->n)
		return true;
	for (size_t i = 0; i < ea->n; i++) {
		const char *t = ynode_str(ea->items[i]);

		if (!t)
			continue;
		if (!strcmp(t, "*"))
			return true;
		if (an_exported_to(eb, b->meta.ns, !strcmp(t, ".") ? a->meta.ns : t))
			return true;
	}
	return false;
}

static bool vs_conflict(const struct m_virtualservice *a, const struct m_virtualservice *b,
			char *host, size_t len)
{
	char ha[512], hb[512];

	if (!scopes_meet(a, b))
		return false;
	for (size_t i = 0; i < a->nhosts; i++)
		for (size_t j = 0; j < b->nhosts; j++) {
			an_fqdn(a->hosts[i], a->meta.ns, ha, sizeof(ha));
			an_fqdn(b->hosts[j], b->meta.ns, hb, sizeof(hb));
			if (an_hosts_overlap(ha, hb)) {
				snprintf(host, len, "%s", ha);
				return true;
			}
		}
	return false;
}

static void report(const struct model *m, size_t i, struct an_result *r)
{
	const struct m_virtualservice *a = &m->virtualservices[i];
	char host[512] = "", first[512] = "", names[1024];
	size_t off;

	off = (size_t)snprintf(names, sizeof(names), "%s/%s", a->meta.ns, a->meta.name);
	for (size_t j = 0; j < m->nvirtualservices; j++) {
		const struct m_virtualservice *b = &m->virtualservices[j];

		if (j == i || !b->meta.name || !bound_to_mesh(b) ||
		    !vs_conflict(a, b, host, sizeof(host)))
			continue;
		if (!first[0])
			snprintf(first, sizeof(first), "%s", host);
		if (off < sizeof(names))
			off += snprintf(names + off, sizeof(names) - off, ",%s/%s", b->meta.ns,
					b->meta.name);
	}
	if (!first[0])
		return;
	analyze_report(
	    r, IST0109, "VirtualService", &a->meta, 0,
	    "merge the VirtualServices into one per host, or narrow exportTo so they "
	    "do not meet",
	    "The VirtualServices %s associated with mesh gateway define the same host %s "
	    "which can lead to undefined behavior. This can be fixed by merging the "
	    "conflicting VirtualServices into a single resource.",
	    names, first);
}

AN_FN(an_vs_mesh_conflicts)
{
	(void)x;
	for (size_t i = 0; i < m->nvirtualservices; i++)
		if (m->virtualservices[i].meta.name && bound_to_mesh(&m->virtualservices[i]))
			report(m, i, r);
}
