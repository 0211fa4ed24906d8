// SPDX-License-Identifier: Apache-2.0
/*
 * Service ports per IP family: every Service with cluster IPs, each port on each cluster IP,
 * in a fixed order so that svc_id is the same for the same config.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile_internal.h"

static const char *proto_name(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
		return "TCP";
	case IPPROTO_UDP:
		return "UDP";
	case IPPROTO_SCTP:
		return "SCTP";
	default:
		return "?";
	}
}

char *compile_svcport_name(const struct cc_svcport *sp)
{
	char *s;

	if (asprintf(&s, "%s/%s:%u/%s", sp->svc->meta.ns, sp->svc->meta.name, sp->port->port,
		     proto_name(sp->port->proto)) < 0)
		return NULL;
	return s;
}

static int svcport_cmp(const void *a, const void *b)
{
	const struct cc_svcport *x = a, *y = b;
	int c;

	c = strcmp(x->svc->meta.ns, y->svc->meta.ns);
	if (c)
		return c;
	c = strcmp(x->svc->meta.name, y->svc->meta.name);
	if (c)
		return c;
	if (x->port->port != y->port->port)
		return x->port->port < y->port->port ? -1 : 1;
	if (x->port->proto != y->port->proto)
		return x->port->proto < y->port->proto ? -1 : 1;
	return (int)x->family - (int)y->family;
}

/* The cluster IPs of a Service, at most one per family (a second one of a family is invalid in
 * Kubernetes; we keep the first and say so). */
static size_t svc_addrs(const struct m_service *svc, union skiff_addr addr[2], uint8_t fam[2],
			struct diag *d)
{
	size_t n = 0;

	for (size_t i = 0; i < svc->nips && i < 2; i++) {
		union skiff_addr a;
		int f = addr_parse(svc->cluster_ips[i], &a);

		if (!f) {
			diag_add(d, DIAG_WARN, svc->meta.file, svc->meta.line,
				 "Service %s/%s: clusterIP %s is not an IP address; port skipped",
				 svc->meta.ns, svc->meta.name, svc->cluster_ips[i]);
			continue;
		}
		if (n == 1 && fam[0] == f) {
			diag_add(d, DIAG_WARN, svc->meta.file, svc->meta.line,
				 "Service %s/%s: two clusterIPs of IPv%d; only %s is used",
				 svc->meta.ns, svc->meta.name, f, svc->cluster_ips[0]);
			continue;
		}
		addr[n] = a;
		fam[n++] = (uint8_t)f;
	}
	return n;
}

int compile_svcports(const struct model *m, struct cc_svcport **out, size_t *n, struct diag *d)
{
	struct cc_svcport *v = NULL;
	size_t cnt = 0, cap = 0;

	for (size_t i = 0; i < m->nservices; i++) {
		const struct m_service *svc = &m->services[i];
		union skiff_addr addr[2];
		uint8_t fam[2];
		size_t nips = svc_addrs(svc, addr, fam, d);

		for (size_t p = 0; p < svc->nports; p++) {
			for (size_t k = 0; k < nips; k++) {
				if (cnt == cap) {
					size_t ncap = cap ? cap * 2 : 16;
					void *nv = realloc(v, ncap * sizeof(*v));

					if (!nv) {
						free(v);
						return -ENOMEM;
					}
					v = nv;
					cap = ncap;
				}
				v[cnt++] = (struct cc_svcport){.svc = svc,
							       .port = &svc->ports[p],
							       .addr = addr[k],
							       .family = fam[k]};
			}
		}
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), svcport_cmp);
	if (cnt > SKIFF_MAX_SERVICES) {
		diag_add(d, DIAG_ERROR, NULL, 0,
			 "%zu service ports (ports x cluster IPs) exceed the limit of %u per node",
			 cnt, SKIFF_MAX_SERVICES);
		free(v);
		return -E2BIG;
	}
	*out = v;
	*n = cnt;
	return 0;
}
