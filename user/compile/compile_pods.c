// SPDX-License-Identifier: Apache-2.0
/*
 * Enrolled pods: the pods scheduled on this node that are in the mesh, keyed by cgroup id, and
 * their addresses (for same-node acceleration, which sees sockets by address).
 * A pod whose cgroup does not exist yet (kubelet has not created it) is counted as pending and
 * enrolled by a later compile.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile_internal.h"

static int pod_ptr_cmp(const void *pa, const void *pb)
{
	const struct m_pod *a = *(const struct m_pod *const *)pa;
	const struct m_pod *b = *(const struct m_pod *const *)pb;
	int c = strcmp(a->meta.ns, b->meta.ns);

	return c ? c : strcmp(a->meta.name, b->meta.name);
}

/* Local mesh pods, sorted by ns/name. */
static int local_pods(const struct model *m, const char *node_name, const struct m_pod ***out,
		      size_t *n)
{
	const struct m_pod **v = calloc(m->npods ? m->npods : 1, sizeof(*v));
	size_t k = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < m->npods; i++) {
		const struct m_pod *p = &m->pods[i];

		if (p->node_name && node_name && !strcmp(p->node_name, node_name) &&
		    model_pod_in_mesh(m, p))
			v[k++] = p;
	}
	if (k > 1)
		qsort(v, k, sizeof(*v), pod_ptr_cmp);
	*out = v;
	*n = k;
	return 0;
}

static bool cgroup_taken(const struct node_view *out, uint64_t id)
{
	for (size_t i = 0; i < out->npods; i++)
		if (out->pods[i].cgroup_id == id)
			return true;
	return false;
}

static bool addr_taken(const struct node_view *out, const struct skiff_pod_ip_key *k)
{
	for (size_t i = 0; i < out->npod_ips; i++)
		if (!memcmp(&out->pod_ips[i].key, k, sizeof(*k)))
			return true;
	return false;
}

/* Append the addresses of the pod just enrolled. Room for two per pod was allocated. */
static void enroll_ips(const struct m_pod *p, const struct cv_pod *cp, struct node_view *out,
		       struct diag *d)
{
	for (size_t i = 0; i < p->nips && i < 2; i++) {
		struct cv_pod_ip *ip = &out->pod_ips[out->npod_ips];
		int fam = strchr(p->ips[i], ':') ? AF_INET6 : AF_INET;

		memset(ip, 0, sizeof(*ip));
		if (inet_pton(fam, p->ips[i], &ip->key.addr) != 1)
			continue; /* the model validated it; nothing else can get here */
		ip->key.family = fam == AF_INET ? SKIFF_AF_INET : SKIFF_AF_INET6;
		if (addr_taken(out, &ip->key)) {
			diag_add(d, DIAG_WARN, p->meta.file, p->meta.line,
				 "Pod %s/%s: address %s already belongs to another pod of this "
				 "node; its connections are not accelerated",
				 p->meta.ns, p->meta.name, p->ips[i]);
			continue;
		}
		ip->val = cp->val;
		out->npod_ips++;
	}
}

/* The pod's first address of each family: what its unbound sockets send from. */
static void pod_src(const struct m_pod *p, struct skiff_pod_addr *src)
{
	memset(src, 0, sizeof(*src));
	for (size_t i = 0; i < p->nips && i < 2; i++) {
		union skiff_addr a;
		int fam = addr_parse(p->ips[i], &a);

		if (fam == SKIFF_AF_INET && !src->has4) {
			src->v4 = a;
			src->has4 = 1;
		} else if (fam == SKIFF_AF_INET6 && !src->has6) {
			src->v6 = a;
			src->has6 = 1;
		}
	}
}

/* The id of pod `p` in cgroup `cg`: 0 with *id set, 1 when it must wait (no id free), -errno. */
static int pod_id(struct wl_ids *ids, const struct m_pod *p, uint64_t cg, uint32_t *id, bool *fresh,
		  struct diag *d)
{
	char *key;
	int err;

	/* a pod recreated under the same name is another pod: its uid tells them apart */
	if (asprintf(&key, "%s/%s/%s", p->meta.ns, p->meta.name,
		     k8s_pod_uid(p) ? k8s_pod_uid(p) : "") < 0)
		return -ENOMEM;
	err = wl_ids_get(ids, key, cg, id, fresh);
	free(key);
	if (err == -ENOSPC) {
		diag_add(d, DIAG_WARN, p->meta.file, p->meta.line,
			 "Pod %s/%s: no free workload id (all %u are held by pods of this node or "
			 "quarantined until the maps no longer name their last pod); not "
			 "enrolled yet, retried after the next apply",
			 p->meta.ns, p->meta.name, SKIFF_MAX_PODS);
		return 1;
	}
	if (err == -EEXIST) {
		diag_add(d, DIAG_WARN, p->meta.file, p->meta.line,
			 "Pod %s/%s: listed twice with uid %s; enrolled once", p->meta.ns,
			 p->meta.name, k8s_pod_uid(p) ? k8s_pod_uid(p) : "(none)");
		return 2;
	}
	return err;
}

/* Look up one pod's cgroup and append it. 0 on success or a skipped pod, -ENOMEM. */
static int enroll(const struct m_pod *p, struct wl_ids *ids, compile_cgroup_fn cgroup_of, void *ctx,
		  struct node_view *out, struct diag *d)
{
	struct cv_pod *cp;
	uint32_t workload_id;
	bool fresh;
	uint64_t id = 0;
	int err;

	err = cgroup_of ? cgroup_of(ctx, p, &id) : -ENOENT;
	if (err == -ENOENT) {
		out->pods_pending++;
		return 0;
	}
	if (err) {
		diag_add(d, DIAG_WARN, p->meta.file, p->meta.line,
			 "Pod %s/%s: cannot find its cgroup (%s); not enrolled, retried at the "
			 "next reload",
			 p->meta.ns, p->meta.name, strerror(-err));
		return 0;
	}
	if (cgroup_taken(out, id)) {
		diag_add(d, DIAG_WARN, p->meta.file, p->meta.line,
			 "Pod %s/%s: cgroup %llu already belongs to another pod; not enrolled",
			 p->meta.ns, p->meta.name, (unsigned long long)id);
		return 0;
	}
	err = pod_id(ids, p, id, &workload_id, &fresh, d);
	if (err == 1)
		out->pods_no_id++;
	if (err)
		return err < 0 ? err : 0;
	cp = &out->pods[out->npods];
	if (asprintf(&cp->name, "%s/%s", p->meta.ns, p->meta.name) < 0) {
		cp->name = NULL;
		return -ENOMEM;
	}
	cp->cgroup_id = id;
	cp->val.workload_id = workload_id;
	cp->val.flags = SKIFF_POD_F_ENROLLED;
	cp->id_fresh = fresh;
	out->npods++;
	enroll_ips(p, cp, out, d);
	pod_src(p, &cp->src);
	return 0;
}

int compile_pods(const struct model *m, const char *node_name, compile_cgroup_fn cgroup_of,
		 void *ctx, const struct compile_opts *o, struct node_view *out, struct diag *d)
{
	struct wl_ids *ids = o ? o->ids : NULL, *own = NULL;
	const struct m_pod **v;
	size_t n;
	int err;

	err = local_pods(m, node_name, &v, &n);
	if (err)
		return err;
	if (n > SKIFF_MAX_PODS) {
		diag_add(d, DIAG_ERROR, NULL, 0, "node %s: %zu mesh pods exceed the limit of %u",
			 node_name, n, SKIFF_MAX_PODS);
		free(v);
		return -E2BIG;
	}
	out->pods = calloc(n ? n : 1, sizeof(*out->pods));
	out->pod_ips = calloc(n ? 2 * n : 1, sizeof(*out->pod_ips));
	if (!ids)
		ids = own = wl_ids_new(SKIFF_MAX_PODS); /* a view nobody applies: ids 1.. */
	if (!out->pods || !out->pod_ips || !ids) {
		free(v);
		return -ENOMEM;
	}
	/* Ids are the allocator's: a pod keeps its id while it lives, whoever joins or leaves. */
	wl_ids_begin(ids);
	for (size_t i = 0; i < n && !err; i++)
		err = enroll(v[i], ids, cgroup_of, ctx, out, d);
	wl_ids_free(own);
	free(v);
	return err;
}
