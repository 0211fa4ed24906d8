// SPDX-License-Identifier: Apache-2.0
/*
 * Where a VirtualService sends traffic must exist: Istio's virtualservice.DestinationHostAnalyzer
 * (IST0101 host or port, IST0112) and virtualservice.DestinationRuleAnalyzer (IST0101 subset).
 * Route destinations, mirror and mirrors are read from the document, so a VirtualService skiff
 * refuses for another reason (no hosts, a null route) is still checked, as istioctl checks it.
 */
#include <stdio.h>
#include <string.h>

#include "analyze/an_index.h"
#include "analyze/an_internal.h"

static const char fix_host[] =
    "write the name of a Service (name, name.namespace.svc.cluster.local) or of a "
    "ServiceEntry host, as `kubectl get svc -A` lists them";

/* Checks from each namespace the VirtualService is exported to; reports the first miss. */
static void check_host(const struct m_virtualservice *vs, const struct an_index *x,
		       const struct ynode *dst, int line, struct an_result *r)
{
	const char *host = ynode_str(ynode_get(dst, "host"));
	const char *port_txt = ynode_str(ynode_path(dst, "port.number"));
	const struct ynode *exp = ynode_path(vs->meta.doc, "spec.exportTo");
	const char *from = vs->meta.ns;
	const struct an_svc *s = NULL;
	size_t nexp = exp && exp->kind == YNODE_SEQ ? exp->n : 0;

	if (!host)
		host = "";
	for (size_t i = 0; i <= nexp; i++) {
		if (i > 0) {
			from = ynode_str(exp->items[i - 1]);
			if (!from || !strcmp(from, "*") || !strcmp(from, "~"))
				continue;
			if (!strcmp(from, "."))
				from = vs->meta.ns;
		}
		s = an_service_for_host(x, vs->meta.ns, from, host);
		if (!s && !an_serviceentry_for_host(x, vs->meta.ns, from, host)) {
			analyze_report(r, IST0101, "VirtualService", &vs->meta, line, fix_host,
				       "Referenced host not found: \"%s\"", host);
			return;
		}
	}
	if (!s)
		return; /* a ServiceEntry: its ports are not checked (it may have none) */
	if (port_txt) {
		long want = strtol(port_txt, NULL, 10);

		for (size_t i = 0; i < s->nports; i++)
			if (s->ports[i].port == want)
				return;
		analyze_report(r, IST0101, "VirtualService", &vs->meta, line,
			       "use one of the Service's ports (kubectl get svc), or drop "
			       "destination.port when the Service has one port",
			       "Referenced host:port not found: \"%s:%ld\"", host, want);
	} else if (s->nports > 1) {
		char ports[256];
		size_t off = 0;

		ports[0] = '\0';
		for (size_t i = 0; i < s->nports && off < sizeof(ports); i++)
			off += snprintf(ports + off, sizeof(ports) - off, "%s%ld", i ? " " : "",
					s->ports[i].port);
		analyze_report(
		    r, IST0112, "VirtualService", &vs->meta, line,
		    "add destination.port.number with one of the Service's ports",
		    "This VirtualService routes to a service \"%s\" that exposes multiple "
		    "ports [%s]. Specifying a port in the destination is required to "
		    "disambiguate.",
		    host, ports);
	}
}

static bool subset_defined(const struct model *m, const char *vs_ns, const char *host,
			   const char *subset)
{
	char want[512], have[512];

	an_fqdn(host, vs_ns, want, sizeof(want));
	for (size_t i = 0; i < m->ndestinationrules; i++) {
		const struct m_destinationrule *dr = &m->destinationrules[i];

		if (!dr->host)
			continue;
		an_fqdn(dr->host, dr->meta.ns, have, sizeof(have));
		if (strcmp(want, have))
			continue;
		for (size_t j = 0; j < dr->nsubsets; j++)
			if (dr->subsets[j].name && !strcmp(dr->subsets[j].name, subset))
				return true;
	}
	return false;
}

static void check_subset(const struct model *m, const struct m_virtualservice *vs,
			 const struct ynode *dst, int line, struct an_result *r)
{
	const char *host = ynode_str(ynode_get(dst, "host"));
	const char *subset = ynode_str(ynode_get(dst, "subset"));

	if (!host || !subset || subset_defined(m, vs->meta.ns, host, subset))
		return;
	analyze_report(r, IST0101, "VirtualService", &vs->meta, line,
		       "add the subset to the DestinationRule for this host (spec.subsets[].name "
		       "and labels), or route to a subset it defines",
		       "Referenced host+subset in destinationrule not found: \"%s+%s\"", host,
		       subset);
}

struct dest_walk {
	const struct model *m;
	const struct an_index *x;
	struct an_result *r;
	bool subsets; /* DestinationRuleAnalyzer, else DestinationHostAnalyzer */
};

static void on_dest(const struct m_virtualservice *vs, const struct ynode *dst, int line, void *arg)
{
	struct dest_walk *w = arg;

	if (w->subsets)
		check_subset(w->m, vs, dst, line, w->r);
	else
		check_host(vs, w->x, dst, line, w->r);
}

static void run(const struct model *m, const struct an_index *x, struct an_result *r, bool subsets)
{
	struct dest_walk w = {.m = m, .x = x, .r = r, .subsets = subsets};

	for (size_t i = 0; i < m->nvirtualservices; i++)
		if (m->virtualservices[i].meta.doc && m->virtualservices[i].meta.name)
			an_vs_destinations(&m->virtualservices[i], on_dest, &w);
}

void an_vs_dest_hosts(const struct model *m, const struct an_index *x, struct an_result *r)
{
	run(m, x, r, false);
}

void an_vs_dest_subsets(const struct model *m, const struct an_index *x, struct an_result *r)
{
	run(m, x, r, true);
}
