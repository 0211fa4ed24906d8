/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Incremental compiles: EndpointSlice changes into an existing node view, without compiling the
 * whole model again.
 *
 * Endpoints are the one input that changes all the time in a cluster (every pod start, stop and
 * readiness flip), and only the backends of the Services they belong to depend on them: the
 * Service set, the routes, the pods and the policies do not. So after a full compile the
 * compiler keeps its lookup tables (compile_live_new); an EndpointSlice change swaps the slice in
 * those tables and compiles again only the service ports whose backends can read it: its own
 * Service's, and those of every Service whose VirtualService routes to that Service.
 *
 * The result is exactly what compile_node_view gives for the model with those slices (the
 * property tests/unit/test_compile_live.c checks on random sequences of changes): same entries,
 * same svc_ids (the Service set did not change, so the numbering did not), same slots.
 */
#ifndef SKIFF_COMPILE_LIVE_H
#define SKIFF_COMPILE_LIVE_H

#include "compile/compile.h"

struct compile_live;

/* Keep the lookup tables for `m`, whose view was compiled by compile_node_view. `m` must stay
 * alive and unchanged while the result is used. */
int compile_live_new(const struct model *m, struct compile_live **out, struct diag *d);

/*
 * EndpointSlices changed: `slices` holds the new or changed ones (a model of EndpointSlices
 * only; taken over, and emptied, in every case), `gone` names ("namespace/name") deleted ones.
 * The service ports they touch are compiled again into `view` (compiled from the same model and
 * any earlier changes). Their svc_ids, ascending, are returned in *changed (caller frees).
 *
 * Errors: a config error (such as a Service with more backends than a service port holds) is
 * reported in `d` and returns -EINVAL or -E2BIG; -ENOMEM. After an error, `cl` and `view` may be
 * half updated: free both and compile the whole model instead, which reports the same error.
 */
int compile_live_slices(struct compile_live *cl, struct model *slices, const char *const *gone,
			size_t ngone, struct node_view *view, uint32_t **changed, size_t *nchanged,
			struct diag *d);

/*
 * The L7 router's table (compile_l7.h) for the model with the EndpointSlice changes applied so
 * far: what compile_l7_table gives for that model. It points into the model `cl` was made from.
 * 0, -EINVAL (errors in d) or -ENOMEM.
 */
struct l7_table;
int compile_live_l7_table(const struct compile_live *cl, const char *node, struct l7_table *t,
			  struct diag *d);

void compile_live_free(struct compile_live *cl);

#endif
