// SPDX-License-Identifier: Apache-2.0
/*
 * Which Service ports need skiffd's L7 router (compile_l7.h): the port's protocol as Istio reads
 * it, and whether the VirtualService for the Service has HTTP rules that apply to that port or a
 * DestinationRule asks for a per-request policy (compile_l7_dr.c).
 */
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "compile/compile_internal.h"
#include "compile/compile_l7.h"

static enum port_proto proto_of(const char *name, size_t len)
{
	static const struct {
		const char *name;
		enum port_proto proto;
	} names[] = {
	    {"http", PORT_PROTO_HTTP},
	    {"http2", PORT_PROTO_HTTP2},
	    {"grpc", PORT_PROTO_HTTP2},
	    {"grpc-web", PORT_PROTO_HTTP2},
	    {"h2c", PORT_PROTO_HTTP2},
	    {"kubernetes.io/h2c", PORT_PROTO_HTTP2},
	    {"kubernetes.io/ws", PORT_PROTO_HTTP},
	    {"kubernetes.io/wss", PORT_PROTO_OTHER},
	    {"tcp", PORT_PROTO_OTHER},
	    {"tls", PORT_PROTO_OTHER},
	    {"https", PORT_PROTO_OTHER},
	    {"udp", PORT_PROTO_OTHER},
	    {"mongo", PORT_PROTO_OTHER},
	    {"redis", PORT_PROTO_OTHER},
	    {"mysql", PORT_PROTO_OTHER},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == len && !strncasecmp(names[i].name, name, len))
			return names[i].proto;
	return PORT_PROTO_UNSET;
}

/* appProtocol first; else the name up to its first '-' ("http-web" is http), except grpc-web,
 * which is a protocol of its own. */
enum port_proto compile_port_proto(const struct m_service_port *p)
{
	const char *dash;

	if (p->app_protocol && proto_of(p->app_protocol, strlen(p->app_protocol)))
		return proto_of(p->app_protocol, strlen(p->app_protocol));
	if (!p->name)
		return PORT_PROTO_UNSET;
	if (!strncasecmp(p->name, "grpc-web", 8) && (!p->name[8] || p->name[8] == '-'))
		return PORT_PROTO_HTTP2;
	dash = strchr(p->name, '-');
	return proto_of(p->name, dash ? (size_t)(dash - p->name) : strlen(p->name));
}

bool compile_l7_route_on_port(const struct m_route *r, uint16_t port)
{
	if (!r->h || !r->h->nmatches)
		return true;
	for (size_t i = 0; i < r->h->nmatches; i++)
		if (!r->h->matches[i].port || r->h->matches[i].port == port)
			return true;
	return false;
}

/* HTTP rules on a port that says it is not HTTP: the rules cannot apply, say so. */
static void warn_not_http(const struct m_virtualservice *vs, const struct m_service *svc,
			  const struct m_service_port *p, struct diag *d)
{
	compile_diag_once(
	    d, DIAG_WARN, vs->meta.file, vs->meta.line,
	    "VirtualService %s/%s: HTTP rules for Service %s/%s port %u, whose "
	    "protocol (%s) is not HTTP; connections to it stay in the kernel, where "
	    "only tcp routes apply (name the port http-..., or set appProtocol: http)",
	    vs->meta.ns, vs->meta.name, svc->meta.ns, svc->meta.name, p->port,
	    p->app_protocol ? p->app_protocol : p->name);
}

/* A DestinationRule's router-only fields on a port that stays in the kernel: never a silent
 * ignore. */
static void warn_policy_in_kernel(const struct m_service *svc, const struct m_service_port *p,
				  struct diag *d)
{
	compile_diag_once(
	    d, DIAG_WARN, svc->meta.file, svc->meta.line,
	    "Service %s/%s port %u (%s): a DestinationRule sets connection-pool limits, "
	    "outlier detection or a per-request balancer, which skiffd's L7 router "
	    "applies on the ports it serves (HTTP ports whose VirtualService has HTTP "
	    "rules or whose DestinationRule asks for a per-request policy); this port "
	    "stays in the kernel, balanced per connection, where those fields do nothing",
	    svc->meta.ns, svc->meta.name, p->port,
	    p->app_protocol ? p->app_protocol
	    : p->name	    ? p->name
			    : "unnamed");
}

static bool l7_port(const struct cc_index *ix, const struct m_virtualservice *vs,
		    const struct m_service *svc, const struct m_service_port *p, struct diag *d)
{
	enum port_proto proto = compile_port_proto(p);
	bool rules = false, on_port = false;

	if (p->proto != IPPROTO_TCP)
		return false;
	for (size_t i = 0; vs && i < vs->nhttp; i++) {
		if (!compile_l7_route_on_port(&vs->http[i], p->port))
			continue;
		on_port = true;
		rules |= m_http_route_is_l7(&vs->http[i]);
	}
	if (rules && proto == PORT_PROTO_OTHER)
		warn_not_http(vs, svc, p, d);
	if (rules)
		return proto != PORT_PROTO_OTHER;
	/* A rule's policy alone asks for no HTTP, so the port must say it speaks HTTP: an unnamed
	 * port may carry anything, and the router does not sniff. With a VirtualService, the
	 * router needs one of its http routes for the port (tcp routes keep it in the kernel). */
	if (proto != PORT_PROTO_HTTP && proto != PORT_PROTO_HTTP2)
		return false;
	if (vs && !on_port)
		return false;
	return compile_l7_dr_asks(ix, vs, svc, p);
}

bool compile_l7_port(const struct cc_index *ix, const struct m_virtualservice *vs,
		     const struct m_service *svc, const struct m_service_port *p, struct diag *d)
{
	if (l7_port(ix, vs, svc, p, d))
		return true;
	if (p->proto == IPPROTO_TCP && compile_l7_dr_kernel_gap(ix, svc, p))
		warn_policy_in_kernel(svc, p, d);
	return false;
}
