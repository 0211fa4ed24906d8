// SPDX-License-Identifier: Apache-2.0
/*
 * Remote pods: the addresses of mesh pods scheduled on other nodes. TCP from a local mesh pod
 * to one of them is punted to skiffd (bpf/lib/punt.h), which carries it to that pod's node. Pods
 * with no node yet, or on this node, are not remote; a pod outside the mesh is not either (its
 * traffic stays plaintext, as Istio sends to workloads without a proxy).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile_internal.h"

static int str_ptr_cmp(const void *pa, const void *pb)
{
	return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

static int key_cmp(const void *pa, const void *pb)
{
	return memcmp(&((const struct cv_remote_pod *)pa)->key,
		      &((const struct cv_remote_pod *)pb)->key, sizeof(struct skiff_pod_ip_key));
}

static bool is_remote(const struct model *m, const struct m_pod *p, const char *node_name)
{
	return p->node_name && (!node_name || strcmp(p->node_name, node_name)) &&
	       model_pod_in_mesh(m, p);
}

/* 1 + the position of `name` in the sorted, de-duplicated `nodes`. */
static uint32_t node_number(const char **nodes, size_t n, const char *name)
{
	const char **hit = bsearch(&name, nodes, n, sizeof(*nodes), str_ptr_cmp);

	return hit ? (uint32_t)(hit - nodes) + 1 : 0;
}

/* Sorted distinct names of the nodes that hold remote pods. */
static int node_names(const struct model *m, const char *node_name, const char ***out, size_t *n)
{
	const char **v = calloc(m->npods ? m->npods : 1, sizeof(*v));
	size_t k = 0, u = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < m->npods; i++)
		if (is_remote(m, &m->pods[i], node_name))
			v[k++] = m->pods[i].node_name;
	qsort(v, k, sizeof(*v), str_ptr_cmp);
	for (size_t i = 0; i < k; i++)
		if (!u || strcmp(v[u - 1], v[i]))
			v[u++] = v[i];
	*out = v;
	*n = u;
	return 0;
}

static void add_pod(const struct m_pod *p, uint32_t node_id, struct node_view *out)
{
	for (size_t i = 0; i < p->nips && i < 2; i++) {
		struct cv_remote_pod *r = &out->remote_pods[out->nremote_pods];

		memset(r, 0, sizeof(*r));
		r->key.family = addr_parse(p->ips[i], &r->key.addr);
		if (!r->key.family)
			continue; /* the model validated it */
		r->val.node_id = node_id;
		out->nremote_pods++;
	}
}

/* Two pods claiming one address (a stale Pod object): nobody knows which node has it, so the
 * address is left out (its traffic is not punted), and said so. */
static void drop_duplicates(struct node_view *out, struct diag *d)
{
	struct cv_remote_pod *r = out->remote_pods;
	size_t u = 0, i = 0, j;

	qsort(r, out->nremote_pods, sizeof(*r), key_cmp);
	while (i < out->nremote_pods) {
		for (j = i + 1; j < out->nremote_pods && !key_cmp(&r[i], &r[j]); j++)
			;
		if (j - i == 1) {
			r[u++] = r[i];
		} else {
			char text[INET6_ADDRSTRLEN] = "?";

			inet_ntop(r[i].key.family == SKIFF_AF_INET ? AF_INET : AF_INET6,
				  &r[i].key.addr, text, sizeof(text));
			diag_add(d, DIAG_WARN, NULL, 0,
				 "%zu mesh pods on other nodes claim address %s; connections to it "
				 "are not punted to skiffd",
				 j - i, text);
		}
		i = j;
	}
	out->nremote_pods = u;
}

int compile_remote_pods(const struct model *m, const char *node_name, struct node_view *out,
			struct diag *d)
{
	const char **nodes;
	size_t nnodes, n = 0;
	int err = node_names(m, node_name, &nodes, &nnodes);

	if (err)
		return err;
	/* sized to the remote pods' addresses: the node view holds it while in force */
	for (size_t i = 0; i < m->npods; i++)
		if (is_remote(m, &m->pods[i], node_name))
			n += m->pods[i].nips < 2 ? m->pods[i].nips : 2;
	out->remote_pods = calloc(n ? n : 1, sizeof(*out->remote_pods));
	if (!out->remote_pods) {
		free(nodes);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->npods; i++) {
		const struct m_pod *p = &m->pods[i];

		if (is_remote(m, p, node_name))
			add_pod(p, node_number(nodes, nnodes, p->node_name), out);
	}
	free(nodes);
	drop_duplicates(out, d);
	if (out->nremote_pods > SKIFF_MAX_REMOTE_PODS) {
		diag_add(d, DIAG_ERROR, NULL, 0,
			 "%zu mesh pod addresses on other nodes exceed the limit of %u",
			 out->nremote_pods, SKIFF_MAX_REMOTE_PODS);
		return -E2BIG;
	}
	return 0;
}
