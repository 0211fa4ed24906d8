// SPDX-License-Identifier: Apache-2.0
/*
 * Service: the virtual IPs the kernel load-balances, the selector that picks pods, and the ports.
 * Checked as the API server checks them, since a lab or hand-written Service never met one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_k8s.h"

/* ServiceSpec fields as of Kubernetes 1.31. */
static const char *const svc_spec_known[] = {"allocateLoadBalancerNodePorts",
					     "clusterIP",
					     "clusterIPs",
					     "externalIPs",
					     "externalName",
					     "externalTrafficPolicy",
					     "healthCheckNodePort",
					     "internalTrafficPolicy",
					     "ipFamilies",
					     "ipFamilyPolicy",
					     "loadBalancerClass",
					     "loadBalancerIP",
					     "loadBalancerSourceRanges",
					     "ports",
					     "publishNotReadyAddresses",
					     "selector",
					     "sessionAffinity",
					     "sessionAffinityConfig",
					     "trafficDistribution",
					     "type",
					     NULL};

static const char *const svc_port_known[] = {"appProtocol", "name",	  "nodePort", "port",
					     "protocol",    "targetPort", NULL};

static void svc_add_ip(struct pctx *c, struct m_service *s, const struct ynode *at,
		       const char *path)
{
	int fam;

	if (!strcmp(at->scalar, "None") || !at->scalar[0])
		return; /* headless, or not allocated yet: no virtual IP */
	fam = pip(c, at, 0, path);
	if (fam < 0)
		return;
	for (size_t i = 0; i < s->nips; i++) {
		if (!strcmp(s->cluster_ips[i], at->scalar))
			return;
		if ((strchr(s->cluster_ips[i], ':') ? 6 : 4) == fam) {
			perr(c, at,
			     "%s %s: a Service has at most one IPv%d cluster IP (%s is "
			     "already set)",
			     path, at->scalar, fam, s->cluster_ips[i]);
			return;
		}
	}
	s->cluster_ips[s->nips++] = strdup(at->scalar);
}

/* clusterIPs wins when both are set; the API server requires clusterIPs[0] == clusterIP. */
static void svc_cluster_ips(struct pctx *c, struct m_service *s, const struct ynode *spec)
{
	const struct ynode *ip = pget(c, spec, "clusterIP", YNODE_SCALAR, false, "spec.clusterIP");
	const struct ynode *ips = pget(c, spec, "clusterIPs", YNODE_SEQ, false, "spec.clusterIPs");
	char path[64];

	if (ips && ips->n && ip && ips->items[0]->kind == YNODE_SCALAR &&
	    strcmp(ip->scalar, ips->items[0]->scalar))
		perr(c, ip, "spec.clusterIP %s must equal spec.clusterIPs[0] %s", ip->scalar,
		     ips->items[0]->scalar);
	if (!ips || !ips->n) {
		if (ip)
			svc_add_ip(c, s, ip, "spec.clusterIP");
		return;
	}
	for (size_t i = 0; i < ips->n; i++) {
		snprintf(path, sizeof(path), "spec.clusterIPs[%zu]", i);
		if (ips->items[i]->kind != YNODE_SCALAR)
			perr(c, ips->items[i], "%s must be a string, not a %s", path,
			     ynode_kind_name(ips->items[i]->kind));
		else
			svc_add_ip(c, s, ips->items[i], path);
	}
}

/* targetPort: a number, or the name of a container port. */
static void svc_target_port(struct pctx *c, struct m_service_port *sp, const struct ynode *pt,
			    const char *path)
{
	const struct ynode *tp = pget(c, pt, "targetPort", YNODE_SCALAR, false, path);
	int64_t v;

	if (!tp)
		return;
	if (tp->plain && tp->scalar[0] >= '0' && tp->scalar[0] <= '9') {
		if (pint(c, pt, "targetPort", 1, 65535, &v, path) == 1)
			sp->target_port = strdup(tp->scalar);
		return;
	}
	if (!k8s_port_name_valid(tp->scalar)) {
		perr(c, tp,
		     "%s \"%s\" must be a port number (unquoted) or a container port name "
		     "(1-15 lowercase letters, digits or '-')",
		     path, tp->scalar);
		return;
	}
	sp->target_port = strdup(tp->scalar);
}

static void svc_port(struct pctx *c, struct m_service *s, const struct ynode *pt, size_t i,
		     size_t nports)
{
	struct m_service_port sp = {0};
	char path[64], fpath[80];
	int64_t v;

	snprintf(path, sizeof(path), "spec.ports[%zu]", i);
	if (pt->kind != YNODE_MAP) {
		perr(c, pt, "%s must be a mapping, not a %s", path, ynode_kind_name(pt->kind));
		return;
	}
	punknown(c, pt, svc_port_known, path);
	snprintf(fpath, sizeof(fpath), "%s.port", path);
	if (!pget(c, pt, "port", YNODE_SCALAR, true, fpath) ||
	    pint(c, pt, "port", 1, 65535, &v, fpath) < 1)
		return;
	sp.port = (uint16_t)v;
	snprintf(fpath, sizeof(fpath), "%s.protocol", path);
	pproto(c, pt, "protocol", &sp.proto, fpath);
	snprintf(fpath, sizeof(fpath), "%s.name", path);
	sp.name = pstr(c, pt, "name", nports > 1, fpath);
	if (sp.name && !dns1123_label(sp.name))
		perr(c, ynode_get(pt, "name"), "%s \"%s\" must be a lowercase RFC 1123 label",
		     fpath, sp.name);
	for (size_t k = 0; sp.name && k < s->nports; k++)
		if (s->ports[k].name && !strcmp(s->ports[k].name, sp.name))
			perr(c, ynode_get(pt, "name"), "%s \"%s\" is used by another port", fpath,
			     sp.name);
	snprintf(fpath, sizeof(fpath), "%s.targetPort", path);
	svc_target_port(c, &sp, pt, fpath);
	snprintf(fpath, sizeof(fpath), "%s.appProtocol", path);
	sp.app_protocol = pstr(c, pt, "appProtocol", false, fpath);
	*PUSH(s->ports, s->nports) = sp;
}

static bool svc_type(struct pctx *c, const struct ynode *spec)
{
	static const char *const types[] = {"ClusterIP", "NodePort", "LoadBalancer", NULL};
	const struct ynode *t = pget(c, spec, "type", YNODE_SCALAR, false, "spec.type");

	if (!t)
		return true;
	if (!strcmp(t->scalar, "ExternalName")) {
		pwarn(c, t, "spec.type ExternalName has no virtual IP: skiffd leaves it to DNS");
		return false;
	}
	for (size_t i = 0; types[i]; i++)
		if (!strcmp(t->scalar, types[i]))
			return true;
	perr(c, t, "spec.type %s must be ClusterIP, NodePort, LoadBalancer or ExternalName",
	     t->scalar);
	return true;
}

int parse_service(struct pctx *c)
{
	const struct ynode *spec, *ports;
	struct m_service s = {0};
	int before = c->errors;

	pmeta(c, &s.meta, true);
	spec = pget(c, c->doc, "spec", YNODE_MAP, true, NULL);
	if (spec) {
		punknown(c, spec, svc_spec_known, "spec");
		if (svc_type(c, spec))
			svc_cluster_ips(c, &s, spec);
		plabels(c, spec, "selector", &s.selector, "spec.selector");
		ports = pget(c, spec, "ports", YNODE_SEQ, false, "spec.ports");
		for (size_t i = 0; ports && i < ports->n; i++)
			svc_port(c, &s, ports->items[i], i, ports->n);
	}
	if (c->errors > before) {
		k8s_service_free(&s);
		return -EINVAL;
	}
	*PUSH(c->m->services, c->m->nservices) = s;
	return 0;
}

void k8s_service_free(struct m_service *s)
{
	meta_free(&s->meta);
	for (size_t i = 0; i < s->nips; i++)
		free(s->cluster_ips[i]);
	labels_free(&s->selector);
	for (size_t i = 0; i < s->nports; i++) {
		free(s->ports[i].name);
		free(s->ports[i].target_port);
		free(s->ports[i].app_protocol);
	}
	free(s->ports);
	memset(s, 0, sizeof(*s));
}
