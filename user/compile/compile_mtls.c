// SPDX-License-Identifier: Apache-2.0
/* PeerAuthentication resolution for one pod; the rules are in compile_mtls.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile_internal.h"
#include "compile/compile_mtls.h"

enum pa_level { PA_MESH, PA_NAMESPACE, PA_WORKLOAD, PA_LEVELS };

/* Which level `pa` speaks at for pod `p`, or -1 when it does not apply to it. */
static int pa_level(const struct model *m, const struct m_peerauthentication *pa,
		    const struct m_pod *p)
{
	bool root = m->root_namespace && !strcmp(pa->meta.ns, m->root_namespace);
	bool same_ns = !strcmp(pa->meta.ns, p->meta.ns);

	if (pa->has_selector && pa->selector.n)
		return same_ns && labels_match(&pa->selector, &p->meta.labels) ? PA_WORKLOAD : -1;
	if (same_ns && !root)
		return PA_NAMESPACE;
	return root ? PA_MESH : -1;
}

static void report_tie(const struct m_peerauthentication *keep,
		       const struct m_peerauthentication *drop, const struct m_pod *p,
		       struct diag *d)
{
	if (d)
		diag_add(d, DIAG_WARN, drop->meta.file, drop->meta.line,
			 "PeerAuthentication %s/%s is not used for pod %s/%s: %s/%s applies at the "
			 "same level and comes first by name (Istio would take the older one)",
			 drop->meta.ns, drop->meta.name, p->meta.ns, p->meta.name, keep->meta.ns,
			 keep->meta.name);
}

/* Per level, the policy that wins: the first by name; the others are reported. */
static void pick(const struct model *m, const struct m_pod *p,
		 const struct m_peerauthentication *win[PA_LEVELS], struct diag *d)
{
	for (size_t i = 0; i < m->npeerauthentications; i++) {
		const struct m_peerauthentication *pa = &m->peerauthentications[i];
		int lvl = pa_level(m, pa, p);

		if (lvl < 0)
			continue;
		if (!win[lvl]) {
			win[lvl] = pa;
		} else if (strcmp(pa->meta.name, win[lvl]->meta.name) < 0) {
			report_tie(pa, win[lvl], p, d);
			win[lvl] = pa;
		} else {
			report_tie(win[lvl], pa, p, d);
		}
	}
}

void compile_pod_mtls(const struct model *m, const struct m_pod *p, struct pod_mtls *out,
		      struct diag *d)
{
	const struct m_peerauthentication *win[PA_LEVELS] = {0};
	const struct m_peerauthentication *wl;

	memset(out, 0, sizeof(*out));
	out->mode = MTLS_PERMISSIVE;
	pick(m, p, win, d);
	for (int lvl = PA_MESH; lvl < PA_LEVELS; lvl++)
		if (win[lvl] && win[lvl]->mode != MTLS_UNSET) {
			out->mode = win[lvl]->mode;
			out->from = win[lvl];
		}
	wl = win[PA_WORKLOAD];
	for (size_t i = 0; wl && i < wl->nports && out->nports < MTLS_MAX_PORTS; i++) {
		struct m_port_mtls *pm = &out->ports[out->nports++];

		pm->port = wl->ports[i].port;
		pm->mode = wl->ports[i].mode == MTLS_UNSET ? out->mode : wl->ports[i].mode;
	}
}

enum m_mtls_mode pod_mtls_port(const struct pod_mtls *pm, uint16_t port)
{
	for (size_t i = 0; i < pm->nports; i++)
		if (pm->ports[i].port == port)
			return pm->ports[i].mode;
	return pm->mode;
}

static __u16 kernel_mode(enum m_mtls_mode m)
{
	return m == MTLS_STRICT	   ? SKIFF_MTLS_STRICT
	       : m == MTLS_DISABLE ? SKIFF_MTLS_DISABLE
				   : SKIFF_MTLS_PERMISSIVE;
}

/* One address of the pod: its default mode, then one entry per port override. */
static void add_addr(const char *ip, const struct pod_mtls *pm, struct node_view *out)
{
	struct skiff_mtls_key k = {0};

	k.family = addr_parse(ip, &k.addr);
	if (!k.family)
		return; /* the model validated it */
	out->mtls[out->nmtls++] = (struct cv_mtls){.key = k, .val.mode = kernel_mode(pm->mode)};
	for (size_t i = 0; i < pm->nports; i++) {
		k.port = htons(pm->ports[i].port);
		out->mtls[out->nmtls++] =
		    (struct cv_mtls){.key = k, .val.mode = kernel_mode(pm->ports[i].mode)};
	}
}

static bool local_mesh_pod(const struct model *m, const struct m_pod *p, const char *node_name)
{
	return p->node_name && node_name && !strcmp(p->node_name, node_name) &&
	       model_pod_in_mesh(m, p);
}

int compile_mtls_view(const struct model *m, const char *node_name, struct node_view *out,
		      struct diag *d)
{
	size_t local = 0;

	for (size_t i = 0; i < m->npods; i++)
		local += local_mesh_pod(m, &m->pods[i], node_name);
	/* at most two addresses per pod, each with its default and its port overrides */
	out->mtls = calloc(local ? local * 2 * (1 + MTLS_MAX_PORTS) : 1, sizeof(*out->mtls));
	if (!out->mtls)
		return -ENOMEM;
	for (size_t i = 0; i < m->npods; i++) {
		const struct m_pod *p = &m->pods[i];
		struct pod_mtls pm;

		if (!local_mesh_pod(m, p, node_name))
			continue;
		compile_pod_mtls(m, p, &pm, d);
		for (size_t k = 0; k < p->nips && k < 2; k++)
			add_addr(p->ips[k], &pm, out);
	}
	if (out->nmtls > SKIFF_MAX_MTLS_PORTS) {
		diag_add(d, DIAG_ERROR, NULL, 0,
			 "%zu pod address/port modes exceed the limit of %u", out->nmtls,
			 SKIFF_MAX_MTLS_PORTS);
		return -E2BIG;
	}
	return 0;
}

static bool mtls_same_addr(const struct cv_mtls *a, const struct cv_mtls *b)
{
	return a->key.family == b->key.family &&
	       !memcmp(&a->key.addr, &b->key.addr, sizeof(a->key.addr));
}

/* The pod (workload id) an address of an enrolled local pod belongs to; 0 when none is. */
static __u32 pod_of_addr(const struct node_view *out, const struct skiff_mtls_key *k)
{
	for (size_t i = 0; i < out->npod_ips; i++) {
		const struct skiff_pod_ip_key *p = &out->pod_ips[i].key;

		if (p->family == k->family && !memcmp(&p->addr, &k->addr, sizeof(p->addr)))
			return out->pod_ips[i].val.workload_id;
	}
	return 0;
}

/* SKIFF_POD_F_STRICT on the pod of every STRICT_ANY address, in both maps of pod flags: the
 * guard's socket check finds the pod by cgroup, not by address. */
static void mark_strict_pods(struct node_view *out)
{
	for (size_t i = 0; i < out->nmtls; i++) {
		const struct cv_mtls *e = &out->mtls[i];
		__u32 wid;

		if (e->key.port || !(e->val.flags & SKIFF_MTLS_F_STRICT_ANY))
			continue;
		wid = pod_of_addr(out, &e->key);
		for (size_t j = 0; wid && j < out->npods; j++)
			if (out->pods[j].val.workload_id == wid)
				out->pods[j].val.flags |= SKIFF_POD_F_STRICT;
		for (size_t j = 0; wid && j < out->npod_ips; j++)
			if (out->pod_ips[j].val.workload_id == wid)
				out->pod_ips[j].val.flags |= SKIFF_POD_F_STRICT;
	}
}

/* Flag each address that is STRICT on some port on its port-0 entry: the guard drops there
 * what it cannot place on a port (fragments, headers it cannot walk), and its pod: SYNs reach
 * that pod's listeners only through the guard. Entries of one address are adjacent
 * (compile_mtls_view, compile_policy_plaintext). */
void compile_mtls_mark_strict_any(struct node_view *out)
{
	size_t j;

	for (size_t i = 0; i < out->nmtls; i = j) {
		bool strict = false;

		for (j = i; j < out->nmtls && mtls_same_addr(&out->mtls[i], &out->mtls[j]); j++)
			strict |= out->mtls[j].val.mode == SKIFF_MTLS_STRICT;
		for (size_t k = i; k < j; k++)
			if (!out->mtls[k].key.port && strict)
				out->mtls[k].val.flags |= SKIFF_MTLS_F_STRICT_ANY;
	}
	mark_strict_pods(out);
}
