// SPDX-License-Identifier: Apache-2.0
/*
 * IST0118 (Istio's service.PortNameAnalyzer): a Service port whose name does not say its protocol
 * (<protocol>[-suffix]) and that has no appProtocol. skiff reads the protocol the same way to
 * decide whether an L7 rule can apply (see SKF0003).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "analyze/an_internal.h"

bool an_port_protocol_known(const char *name, const char *app_protocol)
{
	static const char *const protos[] = {"http", "http2", "https",	"grpc",	 "grpc-web",
					     "tcp",  "tls",   "mongo",	"mysql", "redis",
					     "udp",  "h2c",   "thrift", "hbone", NULL};
	size_t len;

	if (app_protocol && app_protocol[0])
		return true;
	if (!name)
		return false;
	for (size_t i = 0; protos[i]; i++) {
		len = strlen(protos[i]);
		if (!strncasecmp(name, protos[i], len) && (!name[len] || name[len] == '-'))
			return true;
	}
	return false;
}

AN_FN(an_service_port_names)
{
	(void)m;
	for (size_t i = 0; i < x->nservices; i++) {
		const struct an_svc *s = &x->services[i];

		if (an_system_namespace(s->o.ns) ||
		    labels_get(&s->o.labels, "gateway.istio.io/managed") ||
		    (s->type && !strcmp(s->type, "ExternalName")))
			continue;
		for (size_t p = 0; p < s->nports; p++) {
			const struct an_port *port = &s->ports[p];
			char target[64];

			if (an_port_protocol_known(port->name, port->app_protocol))
				continue;
			/* Kubernetes defaults targetPort to the port */
			if (port->target)
				snprintf(target, sizeof(target), "%s", port->target);
			else
				snprintf(target, sizeof(target), "%ld", port->port);
			analyze_report_at(
			    r, IST0118, "Service", s->o.ns, s->o.name, s->o.file, port->line,
			    "name the port <protocol>[-suffix] (http-api, grpc, tcp-db) or set "
			    "appProtocol",
			    "Port name %s (port: %ld, targetPort: %s) doesn't follow the naming "
			    "convention of Istio port.",
			    port->name ? port->name : "", port->port, target);
		}
	}
}
