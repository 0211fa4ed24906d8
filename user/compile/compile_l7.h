/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Which Service ports skiffd's L7 router serves, and what it needs to route their requests.
 *
 * A Service port is L7 when the VirtualService for its host has an http route with a feature
 * beyond plain weights (match, retries, timeout, fault, rewrite, redirect, headers, mirror,
 * directResponse) and the port speaks HTTP: its appProtocol, else its name's prefix as Istio reads
 * them (http, http2, grpc, grpc-web, h2c; tcp, tls, https, mongo, redis, mysql are not). A port
 * with neither is treated as HTTP, Istio's sniffing without the sniff. A port declared HTTP is L7
 * too when a DestinationRule for a destination its traffic reaches asks for a per-request policy
 * (compile_policy_per_request); without a VirtualService its one route is the Service itself.
 * The kernel punts TCP to such a port to skiffd (SKIFF_SVC_F_L7); plain weights stay in the
 * kernel, per connection.
 *
 * The table points into the model it was built from: keep that model alive as long as the table
 * (the agent keeps both in one snapshot).
 */
#ifndef SKIFF_COMPILE_L7_H
#define SKIFF_COMPILE_L7_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "model/model.h"
#include "skiff/lb.h"

enum port_proto {
	PORT_PROTO_UNSET, /* no appProtocol, no known name prefix: HTTP if rules say so */
	PORT_PROTO_HTTP,
	PORT_PROTO_HTTP2, /* http2, grpc, grpc-web, h2c */
	PORT_PROTO_OTHER, /* tcp, tls, https, udp, mongo, redis, mysql, ... */
};

enum port_proto compile_port_proto(const struct m_service_port *p);

/* A ready endpoint of a destination, in the VIP's family. */
struct l7_endpoint {
	struct skiff_sock_origin addr; /* pod address and target port */
	const struct m_pod *pod;       /* NULL when no pod has that address */
	bool local;		       /* on this node: dialled directly, else over HBONE */
};

/* A destination (or mirror) of an http route, resolved. */
struct l7_dest {
	const struct m_destination *dst;
	const struct m_service *target;
	uint16_t port;	 /* the target Service's port */
	uint64_t weight; /* relative; 0 never appears in a route's dests */
	struct l7_endpoint *eps;
	size_t neps;
};

struct l7_route {
	const struct m_route *r; /* r->h: matches and actions */
	struct l7_dest *dests;
	size_t ndests;
	uint64_t total;		 /* sum of dests' weights */
	struct l7_dest *mirrors; /* parallel to r->h->mirrors; eps empty when unresolved */
	size_t nmirrors;
};

struct l7_svcport {
	struct skiff_sock_origin vip; /* VIP and service port, as the kernel files the punt */
	const struct m_service *svc;
	const struct m_service_port *port;
	const struct m_virtualservice *vs; /* NULL: no VirtualService, routes[0] is self_route */
	struct l7_route *routes;	   /* vs->http in order: first match wins */
	size_t nroutes;
	/* Istio's route for a Service no VirtualService routes: every request to the Service
	 * itself, on the port dialled. Owned by the table (the model has no such route). */
	struct m_route *self_route;
};

struct l7_table {
	struct l7_svcport *v; /* sorted by vip */
	size_t n;
	/* the model it was built from, for the DestinationRules the router applies; whoever moves
	 * the model (into a snapshot) points this at the new place */
	const struct model *m;
};

struct cc_index;
/* Is port `p` of `svc` L7, under `vs` (NULL: no VirtualService routes it) and the
 * DestinationRules of `ix`? A rule on a port that is not HTTP is a warning in `d` (the port
 * stays in the kernel). */
bool compile_l7_port(const struct cc_index *ix, const struct m_virtualservice *vs,
		     const struct m_service *svc, const struct m_service_port *p, struct diag *d);
/* Does a merged DestinationRule policy ask for what only a per-request proxy does:
 * LEAST_REQUEST, a hash of a header, cookie or query parameter, an HTTP connection-pool limit
 * (http1MaxPendingRequests, http2MaxRequests, maxRequestsPerConnection, maxRetries,
 * idleTimeout) or outlierDetection? */
bool compile_policy_per_request(const struct m_tp_settings *s);

/* Every L7 service port of the model, for node `node` (which endpoints are local). 0, -EINVAL
 * (errors in d) or -ENOMEM. */
int compile_l7_table(const struct model *m, const char *node, struct l7_table *t, struct diag *d);
const struct l7_svcport *l7_table_find(const struct l7_table *t,
				       const struct skiff_sock_origin *vip);
void l7_table_free(struct l7_table *t);

#endif
