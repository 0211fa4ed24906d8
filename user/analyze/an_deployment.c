// SPDX-License-Identifier: Apache-2.0
/*
 * Several Services selecting one Deployment (Istio's deployment.ServiceAssociationAnalyzer):
 * IST0116 when they give one port different protocols, IST0137 when one targetPort is reached
 * through different ports. skiff, like Istio, keys a workload's inbound handling on its port, so
 * the two Services cannot both be honoured.
 */
#include <stdio.h>
#include <string.h>

#include "analyze/an_internal.h"

static bool deployment_skipped(const struct an_obj *d)
{
	const char *inj = labels_get(&d->labels, "sidecar.istio.io/inject");
	const char *ann = ynode_str(ynode_get(
	    ynode_path(d->doc, "spec.template.metadata.annotations"), "sidecar.istio.io/inject"));
	const struct ynode *own = ynode_path(d->doc, "metadata.labels");

	if (an_system_namespace(d->ns) || ynode_get(own, "gateway.istio.io/managed"))
		return true;
	return (inj && !strcmp(inj, "false")) || (ann && !strcmp(ann, "false"));
}

/* The Services of the Deployment's namespace whose (non-empty) selector picks its pods. */
static size_t services_of(const struct an_index *x, const struct an_obj *d,
			  const struct an_svc **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < x->nservices && n < max; i++) {
		const struct an_svc *s = &x->services[i];

		if (!strcmp(s->o.ns, d->ns) && s->selector.n &&
		    labels_match(&s->selector, &d->labels))
			out[n++] = s;
	}
	return n;
}

static const char *proto_of(const struct an_port *p)
{
	return p->protocol ? p->protocol : "TCP";
}

static void check_protocols(const struct an_obj *d, const struct an_svc **s, size_t n,
			    struct an_result *r)
{
	for (size_t i = 0; i < n; i++)
		for (size_t pi = 0; pi < s[i]->nports; pi++) {
			const struct an_port *p = &s[i]->ports[pi];
			char names[1024];
			size_t off;
			bool clash = false, seen = false;

			/* report each port once: at its first Service */
			for (size_t j = 0; j < i && !seen; j++)
				for (size_t pj = 0; pj < s[j]->nports; pj++)
					seen |= s[j]->ports[pj].port == p->port;
			if (seen)
				continue;
			off = (size_t)snprintf(names, sizeof(names), "%s/%s:%s", s[i]->o.ns,
					       s[i]->o.name, proto_of(p));
			for (size_t j = i + 1; j < n; j++)
				for (size_t pj = 0; pj < s[j]->nports; pj++) {
					const struct an_port *q = &s[j]->ports[pj];

					if (q->port != p->port)
						continue;
					clash |= strcmp(proto_of(p), proto_of(q)) != 0;
					if (off < sizeof(names))
						off += snprintf(names + off, sizeof(names) - off,
								" %s/%s:%s", s[j]->o.ns,
								s[j]->o.name, proto_of(q));
				}
			if (!clash)
				continue;
			analyze_report_at(
			    r, IST0116, "Deployment", d->ns, d->name, d->file, d->line,
			    "give the port one protocol in every Service that selects these pods, "
			    "or use different ports",
			    "This deployment %s is associated with multiple services using port "
			    "%ld "
			    "but different protocols: [%s]",
			    d->name, p->port, names);
		}
}

static void target_text(const struct an_port *p, char *buf, size_t len)
{
	if (p->target)
		snprintf(buf, len, "%s", p->target);
	else
		snprintf(buf, len, "%ld", p->port);
}

static void check_targets(const struct an_obj *d, const struct an_svc **s, size_t n,
			  struct an_result *r)
{
	char t1[64], t2[64], names[1024], ports[256];

	for (size_t i = 0; i < n; i++)
		for (size_t pi = 0; pi < s[i]->nports; pi++) {
			size_t on, op;
			bool clash = false;

			target_text(&s[i]->ports[pi], t1, sizeof(t1));
			on = (size_t)snprintf(names, sizeof(names), "%s", s[i]->o.name);
			op = (size_t)snprintf(ports, sizeof(ports), "%ld", s[i]->ports[pi].port);
			for (size_t j = i + 1; j < n; j++)
				for (size_t pj = 0; pj < s[j]->nports; pj++) {
					target_text(&s[j]->ports[pj], t2, sizeof(t2));
					if (strcmp(t1, t2) ||
					    s[j]->ports[pj].port == s[i]->ports[pi].port)
						continue;
					clash = true;
					if (on < sizeof(names))
						on += snprintf(names + on, sizeof(names) - on,
							       " %s", s[j]->o.name);
					if (op < sizeof(ports))
						op += snprintf(ports + op, sizeof(ports) - op,
							       " %ld", s[j]->ports[pj].port);
				}
			if (clash)
				analyze_report_at(r, IST0137, "Deployment", d->ns, d->name, d->file,
						  d->line,
						  "make every Service that selects these pods use "
						  "the same port for "
						  "this targetPort",
						  "This deployment %s is associated with multiple "
						  "services [%s] using "
						  "targetPort \"%s\" but different ports: [%s].",
						  d->name, names, t1, ports);
		}
}

AN_FN(an_deployment_services)
{
	const struct an_svc *svcs[64];

	(void)m;
	for (size_t i = 0; i < x->ndeployments; i++) {
		const struct an_obj *d = &x->deployments[i];
		size_t n;

		if (deployment_skipped(d))
			continue;
		n = services_of(x, d, svcs, sizeof(svcs) / sizeof(svcs[0]));
		if (n < 2)
			continue;
		check_protocols(d, svcs, n, r);
		check_targets(d, svcs, n, r);
	}
}
