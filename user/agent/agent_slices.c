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
	/* the L7 router's endpoints live in the snapshot, which only a whole reload rebuilds: with
	 * L7 service ports, endpoint changes take that path so the router never dials stale pods */
	if (a->snap && a->snap->l7.n)
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
	agent_log("info", "generation %u: %zu EndpointSlice change(s), %zu service port(s) "
		  "rewritten in place; %zu backends", dp_generation(a->dp), nset + ngone, n,
		  a->view.nbackends);
	return 0;
}
