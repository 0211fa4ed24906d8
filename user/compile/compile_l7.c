// SPDX-License-Identifier: Apache-2.0
/*
 * Which Service ports need skiffd's L7 router (compile_l7.h): the port's protocol as Istio reads
 * it, and whether the VirtualService for the Service has HTTP rules that apply to that port.
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

/* Does http route `r` apply to connections on `port`? Only when every match names another port
 * does it not. */
static bool route_on_port(const struct m_route *r, uint16_t port)
{
	if (!r->h || !r->h->nmatches)
		return true;
	for (size_t i = 0; i < r->h->nmatches; i++)
		if (!r->h->matches[i].port || r->h->matches[i].port == port)
			return true;
	return false;
}

bool compile_l7_port(const struct m_virtualservice *vs, const struct m_service *svc,
		     const struct m_service_port *p, struct diag *d)
{
	enum port_proto proto = compile_port_proto(p);
	bool l7 = false;

	if (p->proto != IPPROTO_TCP)
		return false;
	for (size_t i = 0; i < vs->nhttp && !l7; i++)
		l7 = route_on_port(&vs->http[i], p->port) && m_http_route_is_l7(&vs->http[i]);
	if (!l7 || proto != PORT_PROTO_OTHER)
		return l7;
	compile_diag_once(d, DIAG_WARN, vs->meta.file, vs->meta.line,
			  "VirtualService %s/%s: HTTP rules for Service %s/%s port %u, whose "
			  "protocol (%s) is not HTTP; connections to it stay in the kernel with "
			  "weights only (name the port http-..., or set appProtocol: http)",
			  vs->meta.ns, vs->meta.name, svc->meta.ns, svc->meta.name, p->port,
			  p->app_protocol ? p->app_protocol : p->name);
	return false;
}
