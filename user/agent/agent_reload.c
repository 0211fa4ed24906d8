// SPDX-License-Identifier: Apache-2.0
/* From a config snapshot to the kernel: load, compile, apply — all or nothing. */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_state.h"

static int cgroup_of(void *ctx, const struct m_pod *pod, uint64_t *id)
{
	struct agent *a = ctx;

	if (!k8s_pod_uid(pod))
		return -ENOENT;
	return pod_cgroup_find(&a->cgroups, k8s_pod_uid(pod), id);
}

static void set_last_error(struct agent *a, const struct diag *d, const char *what)
{
	size_t cap = 256, len = 0;
	char *s = malloc(cap);

	if (!s)
		return;
	len = snprintf(s, cap, "%s", what);
	for (size_t i = 0; d && i < d->n; i++) {
		size_t need = len + strlen(d->v[i].msg) + 3;

		if (d->v[i].level != DIAG_ERROR)
			continue;
		if (need > cap) {
			char *t = realloc(s, cap = need * 2);

			if (!t)
				break;
			s = t;
		}
		len += snprintf(s + len, cap - len, "; %s", d->v[i].msg);
	}
	free(a->last_error);
	a->last_error = s;
}

/*
 * --same-node-mtls: this node's mesh pods are punted like remote ones (skiffd then carries the
 * connection over HBONE to itself), so that traffic between two pods of the node is TLS too.
 * Their addresses join skiff_remote_pods with node 0, after the compiler's entries.
 */
static int add_local_as_remote(struct node_view *v)
{
	struct cv_remote_pod *r;

	if (!v->npod_ips)
		return 0;
	r = realloc(v->remote_pods, (v->nremote_pods + v->npod_ips) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	v->remote_pods = r;
	for (size_t i = 0; i < v->npod_ips; i++)
		v->remote_pods[v->nremote_pods++] =
		    (struct cv_remote_pod){.key = v->pod_ips[i].key, .val.node_id = 0};
	return 0;
}

/* `az`: the policies agent_reload compiled from `m` (the compiler need not do it again) */
static int node_compile(struct agent *a, const struct model *m, const struct authz_set *az,
			struct node_view *v, struct diag *d)
{
	struct compile_opts o = {.trust_domain = a->o->trust_domain, .authz = az, .ids = a->ids};
	int err = compile_node_view_opts(m, a->o->node, cgroup_of, a, &o, v, d);

	if (!err && a->o->same_node_mtls && (err = add_local_as_remote(v)))
		node_view_free(v);
	return err;
}

/* Two arrays of plain map entries (no pointers inside) with the same contents. */
static bool same_array(const void *x, size_t nx, const void *y, size_t ny, size_t size)
{
	return nx == ny && (!nx || !memcmp(x, y, nx * size));
}

/* Same map contents (names aside): writing it again would only churn a generation. */
static bool view_equal(const struct node_view *x, const struct node_view *y)
{
	if (x->nservices != y->nservices || x->nbackends != y->nbackends || x->npods != y->npods ||
	    x->pods_pending != y->pods_pending)
		return false;
	for (size_t i = 0; i < x->nservices; i++)
		if (memcmp(&x->services[i].key, &y->services[i].key, sizeof(x->services[i].key)) ||
		    memcmp(&x->services[i].val, &y->services[i].val, sizeof(x->services[i].val)))
			return false;
	for (size_t i = 0; i < x->nbackends; i++)
		if (memcmp(&x->backends[i].key, &y->backends[i].key, sizeof(x->backends[i].key)) ||
		    memcmp(&x->backends[i].val, &y->backends[i].val, sizeof(x->backends[i].val)))
			return false;
	for (size_t i = 0; i < x->npods; i++)
		if (x->pods[i].cgroup_id != y->pods[i].cgroup_id ||
		    memcmp(&x->pods[i].val, &y->pods[i].val, sizeof(x->pods[i].val)))
			return false;
	/* a pod's address can arrive after its cgroup (status.podIPs is set by the CNI) */
	return same_array(x->pod_ips, x->npod_ips, y->pod_ips, y->npod_ips, sizeof(*x->pod_ips)) &&
	       same_array(x->remote_pods, x->nremote_pods, y->remote_pods, y->nremote_pods,
			  sizeof(*x->remote_pods)) &&
	       same_array(x->mtls, x->nmtls, y->mtls, y->nmtls, sizeof(*x->mtls)) &&
	       same_array(x->policy, x->npolicy, y->policy, y->npolicy, sizeof(*x->policy));
}

/* Does `v` write what the maps hold? `was`: the digest of the view in force when it was let go
 * (view_release), else NULL and it is a->view. */
static bool view_same(const struct agent *a, const struct node_view *v, const unsigned char *was)
{
	unsigned char now[AGENT_VIEW_DIGEST];

	if (!a->applied || a->view_unsynced)
		return false;
	if (!was)
		return view_equal(v, &a->view);
	return !agent_view_digest(v, now) && !memcmp(now, was, sizeof(now));
}

/* Apply `v` to the kernel; on success it becomes the agent's view. `was` as for view_same. */
static int agent_apply(struct agent *a, struct node_view *v, const unsigned char *was)
{
	int err = view_same(a, v, was) ? 0 : dp_apply(a->dp, v);

	if (err) {
		agent_log("error",
			  "writing generation to the kernel failed: %s; previous "
			  "generation %u stays in force",
			  strerror(-err), dp_generation(a->dp));
		/* the maps may name pods by old and new ids: neither is given to another pod */
		wl_ids_keep(a->ids);
		return err;
	}
	wl_ids_commit(a->ids);
	node_view_free(&a->view);
	a->view = *v;
	memset(v, 0, sizeof(*v));
	a->applied = true;
	a->view_unsynced = false;
	return 0;
}

/* The API source keeps the new snapshot's compile tables for the EndpointSlice changes that
 * follow (agent_slices.c). Without them every change is a whole reload, which is only slower. */
static void agent_live_reset(struct agent *a, bool keep)
{
	struct diag d = {0};

	compile_live_free(a->live);
	a->live = NULL;
	a->live_applied = false;
	if (keep && a->kube && a->snap && compile_live_new(&a->snap->m, &a->live, &d))
		a->live = NULL;
	diag_free(&d);
}

/*
 * The view in force is the agent's record of the maps, not what keeps them in force: dp_apply
 * writes a whole generation without it. With 10,000 Services it is 7 MB, so a whole reload lets
 * it go before compiling the next, once the new snapshot passed its checks, and the two are
 * never held at once. Its digest stays for view_same. False (the view kept) when there is none
 * to let go or the digest cannot be taken.
 */
static bool view_release(struct agent *a, unsigned char was[AGENT_VIEW_DIGEST])
{
	if (!a->applied || agent_view_digest(&a->view, was))
		return false;
	node_view_free(&a->view);
	return true;
}

/* The new view did not reach the kernel: the record of the maps is compiled again from the
 * snapshot in force. Slices applied in place since are newer in the maps than in that snapshot,
 * and a compile can fail on what changed outside it (pod cgroups, workload ids), so the next
 * apply writes a whole generation instead of trusting it. */
static void view_restore(struct agent *a)
{
	struct diag d = {0};

	if (!a->snap || node_compile(a, &a->snap->m, a->snap->az, &a->view, &d))
		memset(&a->view, 0, sizeof(a->view));
	a->view_unsynced = true;
	diag_free(&d);
}

/* A whole snapshot from wherever the config comes from. */
static int agent_config_load(struct agent *a, struct model *m, struct diag *d)
{
	if (a->kube)
		return kube_source_snapshot(a->kube, m, d);
	return model_load_dir(a->o->config_dir, m, d);
}

static void agent_reload_full(struct agent *a)
{
	struct model m = {0};
	struct node_view v = {0};
	struct diag d = {0};
	struct authz_set *az = NULL;
	struct agent_snap *snap = NULL;
	struct l7_table l7 = {0};
	unsigned char was[AGENT_VIEW_DIGEST];
	bool released = false, installed = false;
	int err;

	err = agent_config_load(a, &m, &d);
	if (err == -EAGAIN)
		return; /* the API has not been listed whole yet: nothing to apply, nothing wrong */
	a->reloads++;
	/* The live tables (4 MB with 10,000 Services) go before the new snapshot's compile, not
	 * after: they are rebuilt for the snapshot installed, and until then an EndpointSlice change
	 * takes this whole path. live_applied stays: the installed snapshot's slices may still be
	 * older than the maps'. */
	compile_live_free(a->live);
	a->live = NULL;
	/* policies are checked before anything reaches the kernel: a bad one rejects it all */
	if (!err)
		err = authz_compile(&m, NULL, &az, &d);
	if (!err)
		released = view_release(a, was);
	if (!err)
		err = node_compile(a, &m, az, &v, &d);
	if (!err)
		err = compile_l7_table(&m, a->o->node, &l7, &d);
	diag_print(&d);
	if (err) {
		a->rejected++;
		set_last_error(a, &d, "configuration rejected");
		agent_log("error",
			  "configuration from %s rejected (%zu error(s) above); generation "
			  "%u stays in force",
			  agent_config_source(a), d.errors, dp_generation(a->dp));
		authz_set_free(az);
		/* what comes next is checked whole too, as long as this snapshot is refused */
		agent_live_reset(a, false);
		goto out;
	}
	snap = agent_snap_new(&m, az, &l7, a->o->node);
	if (!snap || agent_apply(a, &v, released ? was : NULL)) {
		a->rejected++;
		set_last_error(a, NULL, snap ? "kernel map update failed" : "out of memory");
		agent_snap_unref(snap);
		goto out;
	}
	installed = true;
	free(a->last_error);
	a->last_error = NULL;
	a->applied_reload = a->reloads;
	agent_live_reset(a, false); /* its tables point into the snapshot installed next */
	agent_snap_install(a, snap);
	agent_live_reset(a, true);
	agent_routes_update(a);
	agent_flows_names(a);
	agent_tracing_apply(a, &a->snap->m);
	agent_accesslog_apply(a);
	agent_limits_apply(a);
	agent_log("info",
		  "generation %u: %zu service ports, %zu backends, %zu enrolled pods "
		  "(%zu waiting for their cgroup), %zu AuthorizationPolicies",
		  dp_generation(a->dp), a->view.nservices, a->view.nbackends, a->view.npods,
		  a->view.pods_pending, a->snap->m.nauthorizationpolicies);
	agent_warn_unenforced(a);
out:
	l7_table_free(&l7);
	model_free(&m);
	node_view_free(&v);
	if (released && !installed)
		view_restore(a);
	diag_free(&d);
	/* a whole snapshot of a big cluster is hundreds of MB of small blocks, freed by now: give
	 * the pages back instead of keeping the peak as resident memory */
	malloc_trim(0);
}

void agent_reload(struct agent *a)
{
	if (agent_reload_slices(a) == 0)
		return;
	agent_reload_full(a);
}

static bool pods_equal(const struct node_view *x, const struct node_view *y)
{
	if (x->npods != y->npods || x->pods_pending != y->pods_pending ||
	    x->pods_no_id != y->pods_no_id)
		return false;
	for (size_t i = 0; i < x->npods; i++)
		if (x->pods[i].cgroup_id != y->pods[i].cgroup_id ||
		    x->pods[i].val.workload_id != y->pods[i].val.workload_id)
			return false;
	return true;
}

/* Same pod cgroups as last scan? The scan order is the directory walk's, stable between scans
 * of an unchanged tree, so a change in order is treated as a change (a harmless recompile). */
static bool cgroups_equal(const struct pod_cgroup_table *x, const struct pod_cgroup_table *y)
{
	if (x->n != y->n)
		return false;
	for (size_t i = 0; i < x->n; i++)
		if (x->v[i].id != y->v[i].id || strcmp(x->v[i].uid, y->v[i].uid))
			return false;
	return true;
}

/*
 * Rescan pod cgroups; recompile only when they changed. Recompiling the whole view on every tick
 * cost about 10% of a core with 10,000 services (make bench) for nothing.
 */
void agent_rescan(struct agent *a)
{
	struct pod_cgroup_table t = {0};
	struct node_view v = {0};
	struct diag d = {0};

	if (pod_cgroup_scan(a->o->cgroup_root, &t))
		return;
	/* pods waiting for a workload id get one once the apply that freed it is old enough */
	if (a->applied && cgroups_equal(&t, &a->cgroups) && !a->view.pods_no_id) {
		pod_cgroup_table_free(&t);
		return;
	}
	pod_cgroup_table_free(&a->cgroups);
	a->cgroups = t;
	if (!a->snap)
		return;
	if (a->live_applied) {
		/* the snapshot's slices are older than the maps': compile from the source again */
		agent_reload_full(a);
		return;
	}
	/* pods waiting for an id: applying the same view again ages the quarantine */
	if (node_compile(a, &a->snap->m, a->snap->az, &v, &d) == 0 &&
	    (!pods_equal(&v, &a->view) || v.pods_no_id)) {
		size_t before = a->view.npods;

		if (agent_apply(a, &v, NULL) == 0) {
			agent_flows_names(a); /* workload ids may have moved */
			agent_log("info",
				  "generation %u: pod cgroups changed, enrolled pods %zu -> "
				  "%zu (%zu waiting)",
				  dp_generation(a->dp), before, a->view.npods,
				  a->view.pods_pending);
		}
	}
	node_view_free(&v);
	diag_free(&d);
}
