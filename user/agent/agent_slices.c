// SPDX-License-Identifier: Apache-2.0
/*
 * The API source's common case: only EndpointSlices changed since the last apply (pods started,
 * stopped, became ready or not). Their Services' backends are compiled again (compile_live.h)
 * and rewritten in place in the generation in force (dp_apply_services), instead of a whole
 * snapshot, compile and generation for every endpoint of the cluster.
 */
#include <errno.h>
#include <stdlib.h>

#include "agent/agent_state.h"

/* The slices could not be applied in place: the whole reload that follows must write the view
 * to the kernel, whatever it compares equal to, and build new tables. */
static int slices_failed(struct agent *a)
{
	compile_live_free(a->live);
	a->live = NULL;
	a->view_unsynced = true;
	return -EAGAIN;
}

/*
 * The L7 router dials the endpoints of its table, not the kernel's slots: with L7 service ports
 * the table is built again from the live lookup tables and installed as a snapshot beside the
 * model in force, so the router never dials a pod that is gone. Connections that started before
 * keep the table they hold until they end. Only the maps are written first: a failure here
 * makes the whole reload that follows rewrite both.
 */
/* Endpoints over every route's destinations: what the log line reports. */
static size_t l7_table_endpoints(const struct l7_table *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		for (size_t r = 0; r < t->v[i].nroutes; r++)
			for (size_t k = 0; k < t->v[i].routes[r].ndests; k++)
				n += t->v[i].routes[r].dests[k].neps;
	return n;
}

static int slices_l7(struct agent *a)
{
	struct l7_table t;
	struct agent_snap *s;
	struct diag d = {0};
	int err;

	if (!a->snap || !a->snap->l7.n)
		return 0;
	/* its warnings were given by the whole reload; the same model gives the same ones */
	err = compile_live_l7_table(a->live, a->o->node, &t, &d);
	diag_free(&d);
	if (err)
		return err;
	s = agent_snap_with_l7(a->snap, &t);
	if (!s)
		return -ENOMEM;
	agent_snap_install(a, s);
	agent_log("info",
		  "L7 router: %zu service port(s), %zu endpoint(s) in their routes, from "
		  "the live tables",
		  s->l7.n, l7_table_endpoints(&s->l7));
	return 0;
}

int agent_reload_slices(struct agent *a)
{
	struct ydoc_set set = {0};
	struct model m;
	struct diag d = {0};
	char **gone = NULL;
	size_t ngone = 0, nset, n = 0;
	uint32_t *ids = NULL;
	int err;

	if (!a->kube || !a->live || !a->applied || a->view_unsynced)
		return -EAGAIN;
	err = kube_source_slice_delta(a->kube, &set, &gone, &ngone);
	if (err)
		return err;
	nset = set.n;
	if (!nset && !ngone) {
		free(gone);
		return 0; /* a wake-up whose changes a whole reload already took */
	}
	err = model_load_set(&set, &m, &d); /* a slice that does not validate: the whole reload
					       * refuses the snapshot and says why */
	if (!err)
		err = compile_live_slices(a->live, &m, (const char *const *)gone, ngone, &a->view,
					  &ids, &n, &d);
	if (!err) {
		err = dp_apply_services(a->dp, &a->view, ids, n);
		if (err == -EAGAIN) /* a UDP port: the compiled view as a new generation */
			err = dp_apply(a->dp, &a->view);
	}
	if (!err && n)
		err = slices_l7(a);
	for (size_t i = 0; i < ngone; i++)
		free(gone[i]);
	free(gone);
	free(ids);
	if (err) {
		diag_free(&d);
		return slices_failed(a);
	}
	diag_print(&d);
	diag_free(&d);
	a->reloads++;
	a->applied_reload = a->reloads;
	a->live_applied = true;
	agent_log("info",
		  "generation %u: %zu EndpointSlice change(s), %zu service port(s) "
		  "rewritten in place; %zu backends",
		  dp_generation(a->dp), nset + ngone, n, a->view.nbackends);
	return 0;
}
