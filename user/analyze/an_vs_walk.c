// SPDX-License-Identifier: Apache-2.0
/* Every place a VirtualService document names a destination (see an_internal.h). */
#include <string.h>

#include "analyze/an_internal.h"

typedef void (*dest_fn)(const struct m_virtualservice *vs, const struct ynode *dst, int line,
			void *arg);

static void routes(const struct m_virtualservice *vs, const struct ynode *rule, dest_fn fn,
		   void *arg)
{
	const struct ynode *seq = ynode_get(rule, "route");

	for (size_t i = 0; seq && seq->kind == YNODE_SEQ && i < seq->n; i++) {
		const struct ynode *d = ynode_get(seq->items[i], "destination");

		fn(vs, d, d ? d->line : seq->items[i]->line, arg);
	}
}

void an_vs_destinations(const struct m_virtualservice *vs, dest_fn fn, void *arg)
{
	static const char *const kinds[] = {"http", "tcp", "tls"};
	const struct ynode *spec = ynode_get(vs->meta.doc, "spec");

	for (size_t k = 0; k < 3; k++) {
		const struct ynode *seq = ynode_get(spec, kinds[k]);

		for (size_t i = 0; seq && seq->kind == YNODE_SEQ && i < seq->n; i++) {
			const struct ynode *rule = seq->items[i], *mirror, *mirrors;

			routes(vs, rule, fn, arg);
			if (k)
				continue;
			mirror = ynode_get(rule, "mirror");
			if (mirror && mirror->kind == YNODE_MAP)
				fn(vs, mirror, mirror->line, arg);
			mirrors = ynode_get(rule, "mirrors");
			for (size_t j = 0; mirrors && mirrors->kind == YNODE_SEQ && j < mirrors->n;
			     j++) {
				const struct ynode *d = ynode_get(mirrors->items[j], "destination");

				if (d)
					fn(vs, d, d->line, arg);
			}
		}
	}
}
