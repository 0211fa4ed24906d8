// SPDX-License-Identifier: Apache-2.0
/*
 * Services, as the API server and kube-dns would see them: ClusterIPs from 198.19.0.0/16 and
 * 2001:db8:ff::/64 (a Service that sets spec.clusterIP keeps it), targetPorts resolved through the
 * pods' container port names, and each pod's /etc/hosts standing in for cluster DNS.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "lab/lab_proc.h"

static bool ip_used(const struct lab *lab, const char *ip)
{
	for (size_t i = 0; i < lab->nsvc; i++)
		if (!strcmp(lab->svc[i].ip4, ip) || !strcmp(lab->svc[i].ip6, ip))
			return true;
	return false;
}

/* Lowest free address; `out` is the service's own field, so try candidates elsewhere. */
static int alloc4(const struct lab *lab, char *out, size_t len)
{
	char ip[LAB_IP];

	for (int n = 1; n < 65535; n++) {
		lab_fmt(ip, sizeof(ip), "198.19.%d.%d", n >> 8, n & 0xff);
		if ((n & 0xff) != 0 && (n & 0xff) != 255 && !ip_used(lab, ip))
			return lab_fmt(out, len, "%s", ip);
	}
	out[0] = 0;
	return -ENOSPC;
}

static int alloc6(const struct lab *lab, char *out, size_t len)
{
	char ip[LAB_IP];

	for (int n = 1; n < 65535; n++) {
		lab_fmt(ip, sizeof(ip), "2001:db8:ff::%x", n);
		if (!ip_used(lab, ip))
			return lab_fmt(out, len, "%s", ip);
	}
	out[0] = 0;
	return -ENOSPC;
}

int lab_services_allocate(struct lab *lab)
{
	for (size_t i = 0; i < lab->nsvc; i++) {
		struct lab_service *s = &lab->svc[i];
		bool v6only = s->ip6[0] && !s->ip4[0] && !s->dual;

		if (s->headless)
			continue;
		if (!s->ip4[0] && !v6only && alloc4(lab, s->ip4, sizeof(s->ip4)))
			goto full;
		if (s->dual && !s->ip6[0] && alloc6(lab, s->ip6, sizeof(s->ip6)))
			goto full;
		continue;
	full:
		fprintf(stderr, "skiff-lab: no free ClusterIP for Service %s/%s\n", s->ns, s->name);
		return -ENOSPC;
	}
	return 0;
}

int lab_sport_resolve(const struct lab *lab, const struct lab_pod *p, const struct lab_sport *sp)
{
	const struct lab_deploy *d = lab_pod_deploy(lab, p);
	char *end;
	long n;

	if (!sp->target[0])
		return sp->port;
	n = strtol(sp->target, &end, 10);
	if (!*end)
		return (int)n;
	for (size_t i = 0; d && i < d->nports; i++)
		if (!strcmp(d->ports[i].name, sp->target) && !strcmp(d->ports[i].proto, sp->proto))
			return d->ports[i].port;
	return -ENOENT;
}

static void hosts_service(struct strbuf *b, const struct lab_service *s, const char *ip,
			  const char *pod_ns)
{
	if (!ip[0])
		return;
	sb_printf(b, "%s\t%s.%s.svc.cluster.local %s.%s.svc %s.%s", ip, s->name, s->ns, s->name,
		  s->ns, s->name, s->ns);
	if (!strcmp(s->ns, pod_ns))
		sb_printf(b, " %s", s->name);
	sb_printf(b, "\n");
}

static int hosts_write_pod(const struct lab *lab, const struct lab_pod *p)
{
	struct strbuf b = {0};
	char path[PATH_MAX];
	int err;

	sb_printf(&b,
		  "# Kubernetes-managed hosts file (skiff-lab): Services stand in for DNS.\n"
		  "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
		  "%s\t%s\n%s\t%s\n",
		  p->ip4, p->name, p->ip6, p->name);
	for (size_t i = 0; i < lab->nsvc; i++) {
		hosts_service(&b, &lab->svc[i], lab->svc[i].ip4, p->ns);
		hosts_service(&b, &lab->svc[i], lab->svc[i].ip6, p->ns);
	}
	lab_pod_hosts_path(path, lab, p);
	err = lab_write_file(path, b.s);
	sb_free(&b);
	return err;
}

int lab_hosts_write(const struct lab *lab)
{
	for (size_t i = 0; i < lab->npod; i++) {
		int err = hosts_write_pod(lab, &lab->pod[i]);

		if (err)
			return err;
	}
	return 0;
}
