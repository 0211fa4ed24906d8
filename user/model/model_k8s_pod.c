// SPDX-License-Identifier: Apache-2.0
/*
 * Pod: what skiffd needs to place a workload — node, service account (its identity), addresses,
 * readiness and declared container ports. Everything else in a Pod is the kubelet's business.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_k8s.h"
#include "model/model_pool.h"

/* PodSpec fields as of Kubernetes 1.31: known, so not warned about, even when unused. */
static const char *const pod_spec_known[] = {"activeDeadlineSeconds",
					     "affinity",
					     "automountServiceAccountToken",
					     "containers",
					     "dnsConfig",
					     "dnsPolicy",
					     "enableServiceLinks",
					     "ephemeralContainers",
					     "hostAliases",
					     "hostIPC",
					     "hostNetwork",
					     "hostPID",
					     "hostUsers",
					     "hostname",
					     "imagePullSecrets",
					     "initContainers",
					     "nodeName",
					     "nodeSelector",
					     "os",
					     "overhead",
					     "preemptionPolicy",
					     "priority",
					     "priorityClassName",
					     "readinessGates",
					     "resourceClaims",
					     "resources",
					     "restartPolicy",
					     "runtimeClassName",
					     "schedulerName",
					     "schedulingGates",
					     "securityContext",
					     "serviceAccount",
					     "serviceAccountName",
					     "setHostnameAsFQDN",
					     "shareProcessNamespace",
					     "subdomain",
					     "terminationGracePeriodSeconds",
					     "tolerations",
					     "topologySpreadConstraints",
					     "volumes",
					     NULL};

static const char *const container_port_known[] = {"containerPort", "hostIP",	"hostPort",
						   "name",	    "protocol", NULL};

static void pod_container_ports(struct pctx *c, struct m_pod *p, const struct ynode *ctr,
				const char *cpath)
{
	const struct ynode *ports;
	char path[128];
	int64_t v;
	size_t n;

	snprintf(path, sizeof(path), "%s.ports", cpath);
	ports = pget(c, ctr, "ports", YNODE_SEQ, false, path);
	for (size_t i = 0; ports && i < ports->n; i++) {
		const struct ynode *pt = ports->items[i];
		struct m_container_port cp = {0};

		snprintf(path, sizeof(path), "%s.ports[%zu]", cpath, i);
		if (pt->kind != YNODE_MAP) {
			perr(c, pt, "%s must be a mapping, not a %s", path,
			     ynode_kind_name(pt->kind));
			continue;
		}
		punknown(c, pt, container_port_known, path);
		snprintf(path, sizeof(path), "%s.ports[%zu].containerPort", cpath, i);
		if (!pget(c, pt, "containerPort", YNODE_SCALAR, true, path))
			continue;
		if (pint(c, pt, "containerPort", 1, 65535, &v, path) < 1)
			continue;
		cp.port = (uint16_t)v;
		snprintf(path, sizeof(path), "%s.ports[%zu].protocol", cpath, i);
		pproto(c, pt, "protocol", &cp.proto, path);
		snprintf(path, sizeof(path), "%s.ports[%zu].name", cpath, i);
		cp.name = pstr(c, pt, "name", false, path);
		if (cp.name && !k8s_port_name_valid(cp.name))
			perr(c, ynode_get(pt, "name"),
			     "%s \"%s\" must be 1-15 lowercase letters, digits or '-', with a "
			     "letter",
			     path, cp.name);
		n = p->nports;
		if (n == UINT16_MAX) {
			perr(c, pt, "%s: a pod declares at most %u container ports", path,
			     UINT16_MAX);
			free(cp.name);
			return;
		}
		*PUSH(p->ports, n) = cp;
		p->nports = (uint16_t)n;
	}
}

static void pod_containers(struct pctx *c, struct m_pod *p, const struct ynode *spec)
{
	const struct ynode *ctrs = pget(c, spec, "containers", YNODE_SEQ, false, "spec.containers");
	char path[64];

	for (size_t i = 0; ctrs && i < ctrs->n; i++) {
		snprintf(path, sizeof(path), "spec.containers[%zu]", i);
		if (ctrs->items[i]->kind != YNODE_MAP) {
			perr(c, ctrs->items[i], "%s must be a mapping, not a %s", path,
			     ynode_kind_name(ctrs->items[i]->kind));
			continue;
		}
		pod_container_ports(c, p, ctrs->items[i], path);
	}
}

static void pod_spec(struct pctx *c, struct m_pod *p)
{
	const struct ynode *spec = pget(c, c->doc, "spec", YNODE_MAP, false, NULL);

	if (!spec) {
		p->service_account = strdup("default");
		return;
	}
	punknown(c, spec, pod_spec_known, "spec");
	p->node_name = pstr(c, spec, "nodeName", false, "spec.nodeName");
	p->service_account = pstr(c, spec, "serviceAccountName", false, "spec.serviceAccountName");
	/* the deprecated alias, still accepted by the API server */
	if (!p->service_account)
		p->service_account = pstr(c, spec, "serviceAccount", false, "spec.serviceAccount");
	if (!p->service_account)
		p->service_account = strdup("default");
	pbool(c, spec, "hostNetwork", &p->host_network, "spec.hostNetwork");
	pod_containers(c, p, spec);
}

/* Record one address in `ips` (room for two); one per family, as in Kubernetes' dual-stack
 * rules. `who` names the owner in errors ("a pod", "its node"). */
static void add_ip(struct pctx *c, char **ips, uint8_t *n, const struct ynode *at, const char *path,
		   const char *who)
{
	int fam = pip(c, at, 0, path);

	if (fam < 0)
		return;
	for (size_t i = 0; i < *n; i++) {
		if (!strcmp(ips[i], at->scalar))
			return;
		if ((strchr(ips[i], ':') ? 6 : 4) == fam) {
			perr(c, at, "%s %s: %s has at most one IPv%d address (%s is already set)",
			     path, at->scalar, who, fam, ips[i]);
			return;
		}
	}
	ips[(*n)++] = strdup(at->scalar);
}

/* status.<one> and status.<list>[].ip (podIP/podIPs, hostIP/hostIPs) into `ips`. */
static void ip_list(struct pctx *c, const struct ynode *status, const char *one, const char *list,
		    char **ips, uint8_t *n, const char *who)
{
	char path[64], lpath[64];
	const struct ynode *ip, *seq;

	snprintf(path, sizeof(path), "status.%s", one);
	snprintf(lpath, sizeof(lpath), "status.%s", list);
	ip = pget(c, status, one, YNODE_SCALAR, false, path);
	seq = pget(c, status, list, YNODE_SEQ, false, lpath);
	if (ip)
		add_ip(c, ips, n, ip, path, who);
	for (size_t i = 0; seq && i < seq->n; i++) {
		snprintf(path, sizeof(path), "status.%s[%zu].ip", list, i);
		if (seq->items[i]->kind != YNODE_MAP) {
			perr(c, seq->items[i], "status.%s[%zu] must be a mapping, not a %s", list,
			     i, ynode_kind_name(seq->items[i]->kind));
			continue;
		}
		ip = pget(c, seq->items[i], "ip", YNODE_SCALAR, true, path);
		if (ip)
			add_ip(c, ips, n, ip, path, who);
	}
}

/* Ready unless a Ready condition or a finished phase says otherwise; no conditions at all means
 * ready (lab pods). */
static void pod_ready(struct pctx *c, struct m_pod *p, const struct ynode *status)
{
	const struct ynode *conds;
	const char *phase;

	p->ready = true;
	conds = pget(c, status, "conditions", YNODE_SEQ, false, "status.conditions");
	for (size_t i = 0; conds && i < conds->n; i++) {
		const char *type = ynode_str(ynode_get(conds->items[i], "type"));
		const char *st = ynode_str(ynode_get(conds->items[i], "status"));

		if (type && !strcmp(type, "Ready"))
			p->ready = st && !strcmp(st, "True");
	}
	/* a finished pod keeps its last conditions but serves nothing */
	phase = ynode_str(ynode_get(status, "phase"));
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
		p->ready = false;
}

/* Everything a pod holds, before its shared values are pooled (a pod that fails to parse). */
static void pod_free_parsed(struct m_pod *p)
{
	meta_free(&p->meta);
	free(p->node_name);
	free(p->service_account);
	for (size_t i = 0; i < p->nips; i++)
		free(p->ips[i]);
	for (size_t i = 0; i < p->nports; i++)
		free(p->ports[i].name);
	free(p->ports);
	memset(p, 0, sizeof(*p));
}

/* Labels and ports are the same in every replica: the whole array is pooled, after its strings
 * (so equal arrays hold equal pointers). */
static void pod_pool_arrays(struct model *m, struct m_pod *p)
{
	struct labels *l = &p->meta.labels;
	struct m_container_port *cp;

	for (size_t i = 0; i < l->n; i++) {
		l->v[i].key = model_pool_take(m, l->v[i].key);
		l->v[i].val = model_pool_take(m, l->v[i].val);
	}
	if (l->n) {
		struct kv *v = (struct kv *)model_pool_blob(m, l->v, l->n * sizeof(*l->v));

		free(l->v);
		l->v = v;
	}
	if (!p->nports)
		return;
	/* a zeroed copy: the padding is compared too */
	cp = calloc(p->nports, sizeof(*cp));
	if (!cp)
		abort();
	for (size_t i = 0; i < p->nports; i++) {
		cp[i].name = model_pool_take(m, p->ports[i].name);
		cp[i].port = p->ports[i].port;
		cp[i].proto = p->ports[i].proto;
	}
	free(p->ports);
	p->ports = (struct m_container_port *)model_pool_blob(m, cp, p->nports * sizeof(*cp));
	free(cp);
}

/* The name, the addresses and the uid into one block held by meta.name: with 50,000 pods two
 * blocks fewer each is about 1.5 MB, and no uid pointer in every pod, though only this node's
 * have one. */
static void pod_pack(struct m_pod *p, char *uid)
{
	size_t len = strlen(p->meta.name) + 1 + (uid ? strlen(uid) + 1 : 0);
	char *b, *at;

	for (size_t i = 0; i < p->nips; i++)
		len += strlen(p->ips[i]) + 1;
	if (!(b = malloc(len)))
		abort(); /* as the model's arrays do */
	at = stpcpy(b, p->meta.name) + 1;
	free(p->meta.name);
	p->meta.name = b;
	for (size_t i = 0; i < p->nips; i++) {
		char *ip = p->ips[i];

		p->ips[i] = at;
		at = stpcpy(at, ip) + 1;
		free(ip);
	}
	if (uid)
		strcpy(at, uid);
	p->has_uid = uid != NULL;
	free(uid);
}

const char *k8s_pod_uid(const struct m_pod *p)
{
	const char *at;

	if (!p->has_uid)
		return NULL;
	at = p->nips ? p->ips[p->nips - 1] : p->meta.name;
	return at + strlen(at) + 1;
}

/* A node's pods share its addresses: the array is pooled after its strings, as labels are. */
static char **pod_pool_hosts(struct model *m, char *hosts[2], uint8_t n)
{
	for (size_t i = 0; i < n; i++)
		hosts[i] = model_pool_take(m, hosts[i]);
	return n ? (char **)model_pool_blob(m, hosts, n * sizeof(*hosts)) : NULL;
}

static void pod_pool(struct model *m, struct m_pod *p, char *uid)
{
	pod_pack(p, uid);
	p->meta.ns = model_pool_take(m, p->meta.ns);
	p->node_name = model_pool_take(m, p->node_name);
	p->service_account = model_pool_take(m, p->service_account);
	pod_pool_arrays(m, p);
}

int parse_pod(struct pctx *c)
{
	const struct ynode *status;
	struct m_pod p = {0};
	char *hosts[2] = {0}, *uid = NULL;
	const char *u;
	uint8_t nhosts = 0;
	int before = c->errors;

	pmeta(c, &p.meta, true);
	/* pmeta checked it */
	u = ynode_str(ynode_get(ynode_get(c->doc, "metadata"), "uid"));
	if (u && !(uid = strdup(u)))
		abort(); /* as the model's arrays do */
	pod_spec(c, &p);
	if (!p.service_account)
		abort();
	status = pget(c, c->doc, "status", YNODE_MAP, false, NULL);
	ip_list(c, status, "podIP", "podIPs", p.ips, &p.nips, "a pod");
	ip_list(c, status, "hostIP", "hostIPs", hosts, &nhosts, "its node");
	p.nhost_ips = nhosts;
	pod_ready(c, &p, status);
	if (c->errors > before) {
		for (size_t i = 0; i < nhosts; i++)
			free(hosts[i]);
		pod_free_parsed(&p);
		free(uid);
		return -EINVAL;
	}
	p.host_ips = pod_pool_hosts(c->m, hosts, nhosts);
	pod_pool(c->m, &p, uid);
	*PUSH(c->m->pods, c->m->npods) = p;
	return 0;
}

/* What the pod owns; the pooled values go with the model. */
void k8s_pod_free(struct m_pod *p)
{
	free(p->meta.name); /* and the addresses and the uid */
	memset(p, 0, sizeof(*p));
}
