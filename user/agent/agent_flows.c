// SPDX-License-Identifier: Apache-2.0
/* Flow events in the agent: start the reader, give it names after each apply, hand it /flows
 * clients from the admin port. The reader itself is user/flows. */
#include <string.h>

#include "agent/agent_state.h"
#include "flows/flows.h"

/* Not worth refusing to run for: the data plane works without its events. */
void agent_flows_start(struct agent *a)
{
	int fd = dp_events_fd(a->dp), err;

	err = dp_events_enable(a->dp, !a->o->flow_events_off);
	if (err || a->o->flow_events_off) {
		if (err)
			agent_log("error", "cannot switch flow events %s in %s: %s",
				  a->o->flow_events_off ? "off" : "on", SKIFF_MAP_CONFIG,
				  strerror(-err));
		return;
	}
	err = fd < 0 ? fd : flows_open(fd, a->o->node, &a->flows);
	if (err)
		agent_log("error",
			  "flow events are off (cannot read the kernel's ring "
			  "skiff_events: %s); skiffd runs without them",
			  strerror(-err));
}

/* The names of the view in force: local pods by workload id, every pod of the snapshot by
 * address, policies by the id compile_policy gave them (their index in the model, + 1). */
void agent_flows_names(struct agent *a)
{
	const struct model *m = a->snap ? &a->snap->m : NULL;
	struct flows_names *n;

	if (!a->flows || !m)
		return;
	n = flows_names_new();
	if (!n)
		return;
	for (size_t i = 0; i < a->view.npods; i++) {
		const char *name = a->view.pods[i].name, *slash = strchr(name, '/');
		char ns[256];

		if (!slash || (size_t)(slash - name) >= sizeof(ns))
			continue;
		memcpy(ns, name, (size_t)(slash - name));
		ns[slash - name] = '\0';
		flows_names_workload(n, a->view.pods[i].val.workload_id, ns, slash + 1);
	}
	for (size_t i = 0; i < m->npods; i++)
		for (size_t k = 0; k < m->pods[i].nips && k < 2; k++)
			flows_names_addr(n, m->pods[i].ips[k], m->pods[i].meta.ns,
					 m->pods[i].meta.name);
	for (size_t i = 0; i < m->nauthorizationpolicies; i++)
		flows_names_policy(n, (uint32_t)i + 1, m->authorizationpolicies[i].meta.ns,
				   m->authorizationpolicies[i].meta.name);
	flows_names_set(a->flows, n);
}

/* admin_server.stream: GET /flows is answered by the flows thread, which may keep it open. */
int agent_flows_stream(void *ctx, const char *path, int fd)
{
	struct agent *a = ctx;
	const char *q = strchr(path, '?');
	size_t len = q ? (size_t)(q - path) : strlen(path);

	if (len != 6 || strncmp(path, "/flows", 6))
		return 0;
	flows_serve(a->flows, fd, q ? q + 1 : "");
	return 1;
}
