// SPDX-License-Identifier: Apache-2.0
/* Reference-counted configuration snapshots; see agent_snap.h. */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_snap.h"
#include "compile/compile.h"

static int key_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct snap_pod *)a)->key, &((const struct snap_pod *)b)->key,
		      sizeof(struct skiff_pod_ip_key));
}

static int index_local(struct agent_snap *s, const char *node)
{
	const struct model *m = &s->m;
	size_t n = 0;

	for (size_t i = 0; i < m->npods; i++)
		n += m->pods[i].nips;
	s->local = calloc(n + 1, sizeof(*s->local));
	if (!s->local)
		return -1;
	for (size_t i = 0; i < m->npods; i++) {
		const struct m_pod *p = &m->pods[i];

		if (!p->node_name || strcmp(p->node_name, node) || !model_pod_in_mesh(m, p))
			continue;
		for (size_t k = 0; k < p->nips; k++) {
			struct snap_pod *e = &s->local[s->nlocal];
			union skiff_addr a;
			int fam = addr_parse(p->ips[k], &a);

			if (!fam)
				continue;
			memset(e, 0, sizeof(*e));
			e->key.addr = a;
			e->key.family = fam;
			e->pod = p;
			s->nlocal++;
		}
	}
	qsort(s->local, s->nlocal, sizeof(*s->local), key_cmp);
	return 0;
}

struct agent_snap *agent_snap_new(struct model *m, struct authz_set *az, struct l7_table *l7,
				  const char *node)
{
	struct agent_snap *s = calloc(1, sizeof(*s));

	if (!s) {
		l7_table_free(l7);
		model_free(m);
		authz_set_free(az);
		return NULL;
	}
	atomic_init(&s->refs, 1);
	s->m = *m;
	memset(m, 0, sizeof(*m));
	s->az = az;
	if (l7) {
		s->l7 = *l7;
		s->l7.m = &s->m; /* the model moved in here: the router reads its rules */
		memset(l7, 0, sizeof(*l7));
	}
	if (index_local(s, node)) {
		agent_snap_unref(s);
		return NULL;
	}
	return s;
}

struct agent_snap *agent_snap_with_l7(struct agent_snap *s, struct l7_table *l7)
{
	struct agent_snap *root = s->base ? s->base : s, *n = calloc(1, sizeof(*n));

	if (!n) {
		l7_table_free(l7);
		return NULL;
	}
	atomic_init(&n->refs, 1);
	n->base = agent_snap_ref(root);
	n->m = root->m;
	n->az = root->az;
	n->local = root->local;
	n->nlocal = root->nlocal;
	n->l7 = *l7;
	n->l7.m = &root->m;
	memset(l7, 0, sizeof(*l7));
	return n;
}

struct agent_snap *agent_snap_ref(struct agent_snap *s)
{
	if (s)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

void agent_snap_unref(struct agent_snap *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	if (s->base) { /* everything but the table is the base's */
		l7_table_free(&s->l7);
		agent_snap_unref(s->base);
		free(s);
		return;
	}
	authz_set_free(s->az); /* before the model it points into */
	l7_table_free(&s->l7);
	model_free(&s->m);
	free(s->local);
	free(s);
}

const struct m_pod *agent_snap_local_pod(const struct agent_snap *s, const union skiff_addr *addr,
					 __u8 family)
{
	struct snap_pod probe = {0}, *hit;

	if (!s)
		return NULL;
	probe.key.addr = *addr;
	probe.key.family = family;
	hit = bsearch(&probe, s->local, s->nlocal, sizeof(*s->local), key_cmp);
	return hit ? hit->pod : NULL;
}
