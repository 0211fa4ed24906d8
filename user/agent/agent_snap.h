/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A configuration snapshot that outlives a reload while a connection still uses it: the model,
 * its compiled AuthorizationPolicies (which point into the model) and an index of this node's
 * mesh pods by address. The agent holds one reference to the newest; the proxy thread takes one
 * per connection it authorizes (agent_authz.c) and drops it when the connection ends.
 */
#ifndef SKIFF_AGENT_SNAP_H
#define SKIFF_AGENT_SNAP_H

#include <stdatomic.h>

#include "authz/authz.h"
#include "compile/compile_l7.h"
#include "model/model.h"
#include "skiff/accel.h"

struct snap_pod {
	struct skiff_pod_ip_key key; /* one address of the pod */
	const struct m_pod *pod;     /* into snap->m */
};

struct agent_snap {
	atomic_int refs;
	/* Set in a snapshot made by agent_snap_with_l7: m, az and local are base's (a shallow copy,
	 * read only), kept alive by the reference; only l7 is its own. */
	struct agent_snap *base;
	struct model m;
	struct authz_set *az;
	struct snap_pod *local; /* this node's mesh pods, sorted by key */
	size_t nlocal;
	struct l7_table l7; /* the L7 router's service ports (points into m) */
};

/* Take ownership of *m (zeroed), `az` and *l7 (zeroed; may be NULL); index the pods of `node`.
 * NULL when out of memory (then all three are freed). */
struct agent_snap *agent_snap_new(struct model *m, struct authz_set *az, struct l7_table *l7,
				  const char *node);
/* The same snapshot with the router's table `*l7` (taken over, zeroed) in place of its own: the
 * L7 router's endpoints after EndpointSlice changes applied in place, while connections that
 * started before keep the table they hold. NULL when out of memory (*l7 is freed). */
struct agent_snap *agent_snap_with_l7(struct agent_snap *s, struct l7_table *l7);
struct agent_snap *agent_snap_ref(struct agent_snap *s);
void agent_snap_unref(struct agent_snap *s);
/* This node's mesh pod with address `addr`, or NULL. */
const struct m_pod *agent_snap_local_pod(const struct agent_snap *s, const union skiff_addr *addr,
					 __u8 family);

#endif
