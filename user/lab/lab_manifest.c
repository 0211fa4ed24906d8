// SPDX-License-Identifier: Apache-2.0
/*
 * The user's Kubernetes YAML → what the lab must build: Namespaces, ServiceAccounts, Deployments
 * (apps/v1; not in the agent's model, so read here from the YAML tree) and Services. Istio kinds
 * are left to lab_istio.c; anything else is named in a warning and skipped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/yaml_tree.h"
#include "lab/lab.h"

struct ctx {
	const char *file;
	int errors;
};

static void err_at(struct ctx *c, const struct ynode *n, const char *what, const char *ns,
		   const char *name, const char *fmt, const char *arg)
{
	char msg[512];

	lab_fmt(msg, sizeof(msg), fmt, arg);
	fprintf(stderr, "skiff-lab: %s:%d: %s %s/%s: %s\n", c->file, n ? n->line : 0, what, ns,
		name, msg);
	c->errors++;
}

static const char *str_or(const struct ynode *n, const char *path, const char *dflt)
{
	const char *s = ynode_str(ynode_path(n, path));

	return s && *s ? s : dflt;
}

/* An integer scalar; -1 (and an error) when present but not a number. */
static long int_of(const struct ynode *n, long dflt, bool *bad)
{
	const char *s = ynode_str(n);
	char *end;
	long v;

	if (!n)
		return dflt;
	if (!s || !*s)
		goto bad;
	v = strtol(s, &end, 10);
	if (*end)
		goto bad;
	return v;
bad:
	*bad = true;
	return -1;
}

static void labels_of(struct lab_labels *l, const struct ynode *map)
{
	if (!map || map->kind != YNODE_MAP)
		return;
	for (size_t i = 0; i < map->n; i++) {
		const char *v = ynode_str(map->items[i]);

		lab_label_set(l, map->keys[i], v ? v : "");
	}
}

static void parse_cports(struct ctx *c, struct lab_deploy *d, const struct ynode *ports, int ci)
{
	for (size_t i = 0; ports && ports->kind == YNODE_SEQ && i < ports->n; i++) {
		const struct ynode *p = ports->items[i];
		struct lab_cport *cp = lab_push(&d->ports, &d->nports, sizeof(*cp));
		bool bad = false;

		lab_fmt(cp->name, sizeof(cp->name), "%s", str_or(p, "name", ""));
		lab_fmt(cp->proto, sizeof(cp->proto), "%s", str_or(p, "protocol", "TCP"));
		cp->port = (int)int_of(ynode_get(p, "containerPort"), 0, &bad);
		cp->container = ci;
		if (bad || cp->port <= 0 || cp->port > 65535)
			err_at(c, p, "Deployment", d->ns, d->name,
			       "containerPort %s is not a port number (1-65535)",
			       str_or(p, "containerPort", "(missing)"));
	}
}

static void parse_containers(struct ctx *c, struct lab_deploy *d, const struct ynode *spec)
{
	const struct ynode *cs = ynode_get(spec, "containers");

	if (!cs || cs->kind != YNODE_SEQ || !cs->n) {
		err_at(c, spec, "Deployment", d->ns, d->name, "%s",
		       "spec.template.spec.containers is missing or empty");
		return;
	}
	for (size_t i = 0; i < cs->n; i++) {
		struct lab_container *ct = lab_push(&d->containers, &d->ncontainers, sizeof(*ct));

		lab_fmt(ct->name, sizeof(ct->name), "%s", str_or(cs->items[i], "name", "main"));
		lab_fmt(ct->image, sizeof(ct->image), "%s", str_or(cs->items[i], "image", ""));
		parse_cports(c, d, ynode_get(cs->items[i], "ports"), (int)i);
	}
}

/* pod-template-hash: 10 hex of everything in the template that the lab uses. */
static void template_hash(struct lab_deploy *d)
{
	char buf[8192];
	size_t off;

	lab_fmt(buf, sizeof(buf), "%s/%s|%s|%s|", d->ns, d->name, d->sa, d->node);
	off = strlen(buf);
	for (size_t i = 0; i < d->labels.n && off < sizeof(buf) - 700; i++, off = strlen(buf))
		lab_fmt(buf + off, sizeof(buf) - off, "%s=%s,", d->labels.v[i].key,
			d->labels.v[i].val);
	for (size_t i = 0; i < d->ncontainers && off < sizeof(buf) - 400; i++, off = strlen(buf))
		lab_fmt(buf + off, sizeof(buf) - off, "%s:%s,", d->containers[i].name,
			d->containers[i].image);
	for (size_t i = 0; i < d->nports && off < sizeof(buf) - 100; i++, off = strlen(buf))
		lab_fmt(buf + off, sizeof(buf) - off, "%s:%d/%s@%d,", d->ports[i].name,
			d->ports[i].port, d->ports[i].proto, d->ports[i].container);
	lab_fmt(d->hash, sizeof(d->hash), "%010lx", lab_hash(buf) & 0xffffffffffUL);
}

static void parse_deployment(struct ctx *c, struct lab_spec *s, const struct ynode *doc)
{
	const struct ynode *tpl = ynode_path(doc, "spec.template");
	const struct ynode *pspec = ynode_get(tpl, "spec");
	struct lab_deploy d = {0};
	bool bad = false;

	lab_fmt(d.ns, sizeof(d.ns), "%s", str_or(doc, "metadata.namespace", "default"));
	lab_fmt(d.name, sizeof(d.name), "%s", str_or(doc, "metadata.name", ""));
	d.replicas = (int)int_of(ynode_path(doc, "spec.replicas"), 1, &bad);
	if (bad || d.replicas < 0)
		err_at(c, ynode_path(doc, "spec.replicas"), "Deployment", d.ns, d.name, "%s",
		       "spec.replicas must be a number >= 0");
	if (!pspec) {
		err_at(c, doc, "Deployment", d.ns, d.name, "%s", "spec.template.spec is missing");
		lab_deploy_free(&d);
		return;
	}
	labels_of(&d.labels, ynode_path(tpl, "metadata.labels"));
	lab_fmt(d.sa, sizeof(d.sa), "%s",
		str_or(pspec, "serviceAccountName", str_or(pspec, "serviceAccount", "default")));
	lab_fmt(
	    d.node, sizeof(d.node), "%s",
	    str_or(pspec, "nodeName",
		   ynode_str(ynode_get(ynode_get(pspec, "nodeSelector"), "kubernetes.io/hostname"))
		       ?: ""));
	parse_containers(c, &d, pspec);
	template_hash(&d);
	for (size_t i = 0; i < s->ndeploy; i++)
		if (!strcmp(s->deploy[i].ns, d.ns) && !strcmp(s->deploy[i].name, d.name)) {
			lab_deploy_free(&s->deploy[i]);
			s->deploy[i] = d;
			return;
		}
	*(struct lab_deploy *)lab_push(&s->deploy, &s->ndeploy, sizeof(d)) = d;
}

static bool seq_has(const struct ynode *seq, const char *val)
{
	for (size_t i = 0; seq && seq->kind == YNODE_SEQ && i < seq->n; i++)
		if (ynode_str(seq->items[i]) && !strcmp(ynode_str(seq->items[i]), val))
			return true;
	return false;
}

static void set_cluster_ip(struct lab_service *sv, const char *ip)
{
	if (!ip || !*ip)
		return;
	if (!strcmp(ip, "None"))
		sv->headless = true;
	else if (strchr(ip, ':'))
		lab_fmt(sv->ip6, sizeof(sv->ip6), "%s", ip);
	else
		lab_fmt(sv->ip4, sizeof(sv->ip4), "%s", ip);
}

static void parse_sports(struct ctx *c, struct lab_service *sv, const struct ynode *ports)
{
	for (size_t i = 0; ports && ports->kind == YNODE_SEQ && i < ports->n; i++) {
		const struct ynode *p = ports->items[i];
		struct lab_sport *sp = lab_push(&sv->ports, &sv->nports, sizeof(*sp));
		bool bad = false;

		lab_fmt(sp->name, sizeof(sp->name), "%s", str_or(p, "name", ""));
		lab_fmt(sp->proto, sizeof(sp->proto), "%s", str_or(p, "protocol", "TCP"));
		lab_fmt(sp->target, sizeof(sp->target), "%s", str_or(p, "targetPort", ""));
		sp->port = (int)int_of(ynode_get(p, "port"), 0, &bad);
		if (bad || sp->port <= 0 || sp->port > 65535)
			err_at(c, p, "Service", sv->ns, sv->name,
			       "port %s is not a port number (1-65535)",
			       str_or(p, "port", "(missing)"));
	}
}

static void parse_service(struct ctx *c, struct lab_spec *s, const struct ynode *doc)
{
	const struct ynode *spec = ynode_get(doc, "spec");
	const struct ynode *ips = ynode_get(spec, "clusterIPs");
	const char *policy = str_or(spec, "ipFamilyPolicy", "SingleStack");
	struct lab_service sv = {0};

	lab_fmt(sv.ns, sizeof(sv.ns), "%s", str_or(doc, "metadata.namespace", "default"));
	lab_fmt(sv.name, sizeof(sv.name), "%s", str_or(doc, "metadata.name", ""));
	labels_of(&sv.selector, ynode_get(spec, "selector"));
	sv.has_selector = sv.selector.n > 0;
	sv.dual = !strcmp(policy, "PreferDualStack") || !strcmp(policy, "RequireDualStack") ||
		  seq_has(ynode_get(spec, "ipFamilies"), "IPv6");
	set_cluster_ip(&sv, ynode_str(ynode_get(spec, "clusterIP")));
	for (size_t i = 0; ips && ips->kind == YNODE_SEQ && i < ips->n; i++)
		set_cluster_ip(&sv, ynode_str(ips->items[i]));
	parse_sports(c, &sv, ynode_get(spec, "ports"));
	for (size_t i = 0; i < s->nsvc; i++)
		if (!strcmp(s->svc[i].ns, sv.ns) && !strcmp(s->svc[i].name, sv.name)) {
			lab_service_free(&s->svc[i]);
			s->svc[i] = sv;
			return;
		}
	*(struct lab_service *)lab_push(&s->svc, &s->nsvc, sizeof(sv)) = sv;
}

static void parse_namespace(struct lab_spec *s, const struct ynode *doc)
{
	const char *name = str_or(doc, "metadata.name", "");
	struct lab_namespace *ns = NULL;

	for (size_t i = 0; i < s->nns && !ns; i++)
		if (!strcmp(s->ns[i].name, name))
			ns = &s->ns[i];
	if (!ns) {
		ns = lab_push(&s->ns, &s->nns, sizeof(*ns));
		lab_fmt(ns->name, sizeof(ns->name), "%s", name);
	}
	lab_labels_free(&ns->labels);
	ns->declared = true;
	labels_of(&ns->labels, ynode_path(doc, "metadata.labels"));
}

static void parse_sa(struct lab_spec *s, const struct ynode *doc)
{
	struct lab_sa *sa = lab_push(&s->sa, &s->nsa, sizeof(*sa));

	lab_fmt(sa->ns, sizeof(sa->ns), "%s", str_or(doc, "metadata.namespace", "default"));
	lab_fmt(sa->name, sizeof(sa->name), "%s", str_or(doc, "metadata.name", ""));
}

static bool is_istio(const char *api)
{
	return api && (!strncmp(api, "networking.istio.io/", 20) ||
		       !strncmp(api, "security.istio.io/", 18) ||
		       !strncmp(api, "telemetry.istio.io/", 19) ||
		       !strncmp(api, "install.istio.io/", 17)); /* IstioOperator: meshConfig */
}

static void parse_doc(struct ctx *c, struct lab_spec *s, const struct ynode *doc)
{
	const char *kind = str_or(doc, "kind", ""), *api = str_or(doc, "apiVersion", "");

	if (doc->kind != YNODE_MAP)
		return;
	if (is_istio(api))
		return;
	if (!*str_or(doc, "metadata.name", "")) {
		fprintf(stderr, "skiff-lab: %s:%d: %s without metadata.name\n", c->file, doc->line,
			*kind ? kind : "document");
		c->errors++;
		return;
	}
	if (!strcmp(kind, "Namespace"))
		parse_namespace(s, doc);
	else if (!strcmp(kind, "ServiceAccount"))
		parse_sa(s, doc);
	else if (!strcmp(kind, "Deployment"))
		parse_deployment(c, s, doc);
	else if (!strcmp(kind, "Service"))
		parse_service(c, s, doc);
	else
		fprintf(stderr,
			"skiff-lab: warning: %s:%d: kind %s (%s) is not handled by the lab; "
			"ignored\n",
			c->file, doc->line, *kind ? kind : "(none)", api);
}

int lab_spec_load(struct lab_spec *spec, char **files, int nfiles)
{
	int errors = 0;

	for (int f = 0; f < nfiles; f++) {
		struct ydoc_set set = {0};
		struct diag d = {0};
		struct ctx c = {.file = files[f]};

		if (yaml_parse_file(&set, files[f], &d) < 0) {
			diag_print(&d);
			if (!d.n)
				fprintf(stderr, "skiff-lab: cannot read %s\n", files[f]);
			errors++;
		}
		for (size_t i = 0; i < set.n; i++)
			parse_doc(&c, spec, set.docs[i]);
		errors += c.errors;
		ydoc_set_free(&set);
		diag_free(&d);
	}
	return errors ? -EINVAL : 0;
}

void lab_spec_free(struct lab_spec *spec)
{
	for (size_t i = 0; i < spec->nns; i++)
		lab_labels_free(&spec->ns[i].labels);
	for (size_t i = 0; i < spec->ndeploy; i++)
		lab_deploy_free(&spec->deploy[i]);
	for (size_t i = 0; i < spec->nsvc; i++)
		lab_service_free(&spec->svc[i]);
	free(spec->ns);
	free(spec->sa);
	free(spec->deploy);
	free(spec->svc);
	memset(spec, 0, sizeof(*spec));
}
