// SPDX-License-Identifier: Apache-2.0
/*
 * DestinationRule consistentHash.useSourceIp in the kernel: the service port's slots become a
 * Maglev table (SKIFF_SVC_F_MAGLEV in include/skiff/lb.h) of maglev.tableSize entries (a prime
 * that fits the port's slots: at most SKIFF_MAGLEV_SIZE, the default), so every connect from one
 * client address reaches the same backend, and a backend leaving moves only its own clients. Built
 * with
 * the upstream library's Maglev (user/l7/upstream.h) so the per-request proxy agrees.
 *
 * Only a port whose connections all go to one destination can be hashed: a weighted split over
 * several destinations keeps its weights per connection (a warning says so).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile_internal.h"
#include "l7/upstream.h"

/* The DestinationRule for `target`: one in its namespace, else one in the root namespace. */
static const struct m_destinationrule *dr_of(const struct cc_index *ix,
					     const struct m_service *target)
{
	const struct m_destinationrule *root = NULL;
	const struct cc_pair *v;
	size_t n;

	v = compile_index_pairs(ix->dr, ix->ndr, ix, target, &n);
	for (size_t i = 0; i < n; i++) {
		const struct m_destinationrule *dr = v[i].obj;

		if (!strcmp(dr->meta.ns, target->meta.ns))
			return dr;
		if (!root && ix->m->root_namespace && !strcmp(dr->meta.ns, ix->m->root_namespace))
			root = dr;
	}
	return root;
}

/* The kernel's table size for a policy hashing on the client address, else 0. */
static uint32_t hashes_source(const struct cc_index *ix, const struct m_service *target,
			      const struct m_subset *subset, uint16_t port)
{
	const struct m_destinationrule *dr = dr_of(ix, target);
	struct m_tp_settings s;

	if (!dr || model_traffic_policy(dr, subset ? subset->name : NULL, port, &s))
		return 0;
	if (s.lb.simple != M_LB_CONSISTENT_HASH || s.lb.hash_on != M_HASH_SOURCE_IP)
		return 0;
	return up_kernel_maglev_size(s.lb.maglev_size);
}

uint32_t compile_maglev_wanted(const struct cc_index *ix, const struct cc_route *r,
			       const struct cc_svcport *sp, struct diag *d)
{
	const struct m_service_port *tp;
	bool any = false;

	if (!r->vs)
		return hashes_source(ix, sp->svc, NULL, sp->port->port);
	if (r->ndests == 1) {
		tp = compile_dest_port(r->vs, &r->dests[0], sp->port->port, sp->port->proto, d);
		return tp ? hashes_source(ix, r->dests[0].target, r->dests[0].subset, tp->port) : 0;
	}
	for (size_t i = 0; i < r->ndests; i++)
		any |=
		    hashes_source(ix, r->dests[i].target, r->dests[i].subset, sp->port->port) > 0;
	if (any)
		compile_diag_once(d, DIAG_WARN, r->vs->meta.file, r->vs->meta.line,
				  "VirtualService %s/%s splits %s over %zu weighted destinations: "
				  "consistentHash.useSourceIp is not applied to its connections in "
				  "the kernel (weights are kept per connection)",
				  r->vs->meta.ns, r->vs->meta.name, sp->svc->meta.name, r->ndests);
	return 0;
}

static int maglev_table(const struct cc_slots *slots, uint32_t size, uint32_t *table)
{
	uint64_t *keys = calloc(slots->n, sizeof(*keys));
	int err;

	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < slots->n; i++) {
		struct up_addr a = {.addr = slots->v[i].addr,
				    .port = slots->v[i].port,
				    .family = slots->v[i].family};

		keys[i] = up_endpoint_key(&a);
	}
	err = up_maglev_build(keys, slots->n, size, table);
	free(keys);
	return err;
}

int compile_emit_maglev(const struct cc_slots *slots, uint32_t size, uint32_t svc_id,
			struct node_view *out, size_t *cap, struct cv_service *cs)
{
	uint32_t *table = calloc(size, sizeof(*table));
	int err = table ? maglev_table(slots, size, table) : -ENOMEM;

	if (!err)
		err = compile_backends_reserve(out, cap, size);
	for (uint32_t e = 0; !err && e < size; e++) {
		const struct cc_slot *s = &slots->v[table[e]];
		struct cv_backend *b = &out->backends[out->nbackends];

		memset(b, 0, sizeof(*b));
		b->key = (struct skiff_backend_key){.svc_id = svc_id, .slot = e};
		b->val.addr = s->addr;
		b->val.port = htons(s->port);
		b->val.family = s->family;
		b->val.weight_end = e + 1; /* one share per entry: the weighted walk stays valid */
		if (s->pod_name && asprintf(&b->pod, "%s/%s", s->slice->meta.ns, s->pod_name) < 0)
			err = -ENOMEM;
		else
			out->nbackends++;
	}
	free(table);
	if (err)
		return err;
	cs->val.count = size;
	cs->val.weight_total = size;
	cs->val.flags |= SKIFF_SVC_F_MAGLEV;
	return 0;
}
