// SPDX-License-Identifier: Apache-2.0
/*
 * The state file: one record per line, words separated by spaces, "-" for an empty word. Every
 * word is a Kubernetes name, label, address or path, none of which holds a space. Rewritten whole
 * (atomically) before each resource is created, so it always lists at least what exists.
 *
 *   skiff-lab-state 1
 *   lab NODES RR NO_AGENT TOPOLOGY
 *   ns NAME DECLARED key=value...
 *   sa NS NAME
 *   deploy NS NAME REPLICAS HASH SA NODE key=value...     followed by its
 *     container NAME IMAGE                                 containers and
 *     cport NAME PORT PROTO CONTAINER                      container ports
 *   svc NS NAME DUAL HEADLESS HAS_SELECTOR IP4 IP6 key=value...  (selector)
 *     sport NAME PORT TARGET PROTO
 *   pod NAME NS DEPLOY HASH NODE HOST UID IP4 IP6 NETNS CGROUP VETH CMD PID
 *   agent NODE PID
 *   api PORT PID TOKEN
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "lab/lab.h"

#define STATE_MAGIC "skiff-lab-state 1"

static const char *w(const char *s)
{
	return s && *s ? s : "-";
}

static void put_labels(struct strbuf *b, const struct lab_labels *l)
{
	for (size_t i = 0; i < l->n; i++)
		sb_printf(b, " %s=%s", l->v[i].key, l->v[i].val);
}

static void put_deploy(struct strbuf *b, const struct lab_deploy *d)
{
	sb_printf(b, "deploy %s %s %d %s %s %s", d->ns, d->name, d->replicas, w(d->hash), w(d->sa),
		  w(d->node));
	put_labels(b, &d->labels);
	sb_printf(b, "\n");
	for (size_t i = 0; i < d->ncontainers; i++)
		sb_printf(b, "container %s %s\n", w(d->containers[i].name),
			  w(d->containers[i].image));
	for (size_t i = 0; i < d->nports; i++)
		sb_printf(b, "cport %s %d %s %d\n", w(d->ports[i].name), d->ports[i].port,
			  d->ports[i].proto, d->ports[i].container);
}

static void put_service(struct strbuf *b, const struct lab_service *s)
{
	sb_printf(b, "svc %s %s %d %d %d %s %s", s->ns, s->name, s->dual, s->headless,
		  s->has_selector, w(s->ip4), w(s->ip6));
	put_labels(b, &s->selector);
	sb_printf(b, "\n");
	for (size_t i = 0; i < s->nports; i++)
		sb_printf(b, "sport %s %d %s %s\n", w(s->ports[i].name), s->ports[i].port,
			  w(s->ports[i].target), s->ports[i].proto);
}

static void put_pod(struct strbuf *b, const struct lab_pod *p)
{
	sb_printf(b, "pod %s %s %s %s %d %d %s %s %s %s %s %s %s %d\n", p->name, p->ns, p->deploy,
		  w(p->hash), p->node, p->host, p->uid, w(p->ip4), w(p->ip6), p->netns,
		  w(p->cgroup), w(p->veth), w(p->cmd), p->pid);
}

int lab_state_save(const struct lab *lab)
{
	struct strbuf b = {0};
	char path[PATH_MAX];
	int err;

	sb_printf(&b, STATE_MAGIC "\nlab %d %u %d %d\n", lab->nodes, lab->rr, lab->no_agent,
		  lab->topology);
	for (size_t i = 0; i < lab->nns; i++) {
		sb_printf(&b, "ns %s %d", lab->ns[i].name, lab->ns[i].declared);
		put_labels(&b, &lab->ns[i].labels);
		sb_printf(&b, "\n");
	}
	for (size_t i = 0; i < lab->nsa; i++)
		sb_printf(&b, "sa %s %s\n", lab->sa[i].ns, lab->sa[i].name);
	for (size_t i = 0; i < lab->ndeploy; i++)
		put_deploy(&b, &lab->deploy[i]);
	for (size_t i = 0; i < lab->nsvc; i++)
		put_service(&b, &lab->svc[i]);
	for (size_t i = 0; i < lab->npod; i++)
		put_pod(&b, &lab->pod[i]);
	for (size_t i = 0; i < lab->nagent; i++)
		sb_printf(&b, "agent %d %d\n", lab->agent[i].node, lab->agent[i].pid);
	if (lab->api.port)
		sb_printf(&b, "api %d %d %s\n", lab->api.port, lab->api.pid, w(lab->api.token));
	lab_path(path, lab, "state");
	err = lab_write_atomic(path, b.s, b.len);
	sb_free(&b);
	return err;
}

/* Copy word `i` of `v` into `dst` ("-" reads back as ""). */
static void get(char *dst, size_t len, char **v, int n, int i)
{
	const char *s = i < n ? v[i] : "-";

	lab_fmt(dst, len, "%s", strcmp(s, "-") ? s : "");
}

static int geti(char **v, int n, int i)
{
	return i < n ? atoi(v[i]) : 0;
}

static void get_labels(struct lab_labels *l, char **v, int n, int from)
{
	for (int i = from; i < n; i++) {
		char *eq = strchr(v[i], '=');

		if (!eq)
			continue;
		*eq = 0;
		lab_label_set(l, v[i], eq + 1);
	}
}

#define GET(field, i) get(field, sizeof(field), v, n, i)

static void parse_pod(struct lab *lab, char **v, int n)
{
	struct lab_pod *p = lab_push(&lab->pod, &lab->npod, sizeof(*p));

	GET(p->name, 1);
	GET(p->ns, 2);
	GET(p->deploy, 3);
	GET(p->hash, 4);
	p->node = geti(v, n, 5);
	p->host = geti(v, n, 6);
	GET(p->uid, 7);
	GET(p->ip4, 8);
	GET(p->ip6, 9);
	GET(p->netns, 10);
	GET(p->cgroup, 11);
	GET(p->veth, 12);
	GET(p->cmd, 13);
	p->pid = geti(v, n, 14);
}

static void parse_deploy(struct lab *lab, char **v, int n)
{
	struct lab_deploy *d = lab_push(&lab->deploy, &lab->ndeploy, sizeof(*d));

	GET(d->ns, 1);
	GET(d->name, 2);
	d->replicas = geti(v, n, 3);
	GET(d->hash, 4);
	GET(d->sa, 5);
	GET(d->node, 6);
	get_labels(&d->labels, v, n, 7);
}

static void parse_service(struct lab *lab, char **v, int n)
{
	struct lab_service *s = lab_push(&lab->svc, &lab->nsvc, sizeof(*s));

	GET(s->ns, 1);
	GET(s->name, 2);
	s->dual = geti(v, n, 3);
	s->headless = geti(v, n, 4);
	s->has_selector = geti(v, n, 5);
	GET(s->ip4, 6);
	GET(s->ip6, 7);
	get_labels(&s->selector, v, n, 8);
}

static void parse_child(struct lab *lab, const char *kind, char **v, int n)
{
	struct lab_deploy *d = lab->ndeploy ? &lab->deploy[lab->ndeploy - 1] : NULL;
	struct lab_service *s = lab->nsvc ? &lab->svc[lab->nsvc - 1] : NULL;

	if (!strcmp(kind, "container") && d) {
		struct lab_container *c = lab_push(&d->containers, &d->ncontainers, sizeof(*c));

		GET(c->name, 1);
		GET(c->image, 2);
	} else if (!strcmp(kind, "cport") && d) {
		struct lab_cport *c = lab_push(&d->ports, &d->nports, sizeof(*c));

		GET(c->name, 1);
		c->port = geti(v, n, 2);
		GET(c->proto, 3);
		c->container = geti(v, n, 4);
	} else if (!strcmp(kind, "sport") && s) {
		struct lab_sport *p = lab_push(&s->ports, &s->nports, sizeof(*p));

		GET(p->name, 1);
		p->port = geti(v, n, 2);
		GET(p->target, 3);
		GET(p->proto, 4);
	}
}

static void parse_line(struct lab *lab, char *line)
{
	char *v[128], *save = NULL, *t;
	int n = 0;

	for (t = strtok_r(line, " \n", &save); t && n < 128; t = strtok_r(NULL, " \n", &save))
		v[n++] = t;
	if (!n)
		return;
	if (!strcmp(v[0], "lab")) {
		lab->nodes = geti(v, n, 1);
		lab->rr = (unsigned)geti(v, n, 2);
		lab->no_agent = geti(v, n, 3);
		lab->topology = geti(v, n, 4);
	} else if (!strcmp(v[0], "ns")) {
		struct lab_namespace *ns = lab_push(&lab->ns, &lab->nns, sizeof(*ns));

		GET(ns->name, 1);
		ns->declared = geti(v, n, 2);
		get_labels(&ns->labels, v, n, 3);
	} else if (!strcmp(v[0], "sa")) {
		struct lab_sa *sa = lab_push(&lab->sa, &lab->nsa, sizeof(*sa));

		GET(sa->ns, 1);
		GET(sa->name, 2);
	} else if (!strcmp(v[0], "deploy")) {
		parse_deploy(lab, v, n);
	} else if (!strcmp(v[0], "svc")) {
		parse_service(lab, v, n);
	} else if (!strcmp(v[0], "pod")) {
		parse_pod(lab, v, n);
	} else if (!strcmp(v[0], "agent")) {
		struct lab_agent *a = lab_push(&lab->agent, &lab->nagent, sizeof(*a));

		a->node = geti(v, n, 1);
		a->pid = geti(v, n, 2);
	} else if (!strcmp(v[0], "api")) {
		lab->api.port = geti(v, n, 1);
		lab->api.pid = geti(v, n, 2);
		GET(lab->api.token, 3);
	} else {
		parse_child(lab, v[0], v, n);
	}
}

int lab_state_load(struct lab *lab)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0;
	FILE *f;
	int err = 0;

	lab_path(path, lab, "state");
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (getline(&line, &cap, f) < 0 || strncmp(line, STATE_MAGIC, strlen(STATE_MAGIC))) {
		fprintf(stderr, "skiff-lab: %s is not a skiff-lab state file (remove it by hand)\n",
			path);
		err = -EINVAL;
	}
	while (!err && getline(&line, &cap, f) >= 0)
		parse_line(lab, line);
	free(line);
	fclose(f);
	return err;
}

void lab_deploy_free(struct lab_deploy *d)
{
	lab_labels_free(&d->labels);
	free(d->containers);
	free(d->ports);
	d->containers = NULL;
	d->ports = NULL;
	d->ncontainers = d->nports = 0;
}

void lab_service_free(struct lab_service *s)
{
	lab_labels_free(&s->selector);
	free(s->ports);
	s->ports = NULL;
	s->nports = 0;
}

void lab_free(struct lab *lab)
{
	for (size_t i = 0; i < lab->nns; i++)
		lab_labels_free(&lab->ns[i].labels);
	for (size_t i = 0; i < lab->ndeploy; i++)
		lab_deploy_free(&lab->deploy[i]);
	for (size_t i = 0; i < lab->nsvc; i++)
		lab_service_free(&lab->svc[i]);
	free(lab->ns);
	free(lab->sa);
	free(lab->deploy);
	free(lab->svc);
	free(lab->pod);
	free(lab->agent);
	lab->ns = NULL;
	lab->sa = NULL;
	lab->deploy = NULL;
	lab->svc = NULL;
	lab->pod = NULL;
	lab->agent = NULL;
	lab->nns = lab->nsa = lab->ndeploy = lab->nsvc = lab->npod = lab->nagent = 0;
}

struct lab_namespace *lab_ns_find(struct lab *lab, const char *name)
{
	for (size_t i = 0; i < lab->nns; i++)
		if (!strcmp(lab->ns[i].name, name))
			return &lab->ns[i];
	return NULL;
}

/* A namespace used but not declared is created without labels, like `kubectl create ns`. */
struct lab_namespace *lab_ns_ensure(struct lab *lab, const char *name)
{
	struct lab_namespace *ns = lab_ns_find(lab, name);

	if (!ns) {
		ns = lab_push(&lab->ns, &lab->nns, sizeof(*ns));
		lab_fmt(ns->name, sizeof(ns->name), "%s", name);
	}
	return ns;
}

struct lab_deploy *lab_deploy_find(struct lab *lab, const char *ns, const char *name)
{
	for (size_t i = 0; i < lab->ndeploy; i++)
		if (!strcmp(lab->deploy[i].ns, ns) && !strcmp(lab->deploy[i].name, name))
			return &lab->deploy[i];
	return NULL;
}

struct lab_service *lab_svc_find(struct lab *lab, const char *ns, const char *name)
{
	for (size_t i = 0; i < lab->nsvc; i++)
		if (!strcmp(lab->svc[i].ns, ns) && !strcmp(lab->svc[i].name, name))
			return &lab->svc[i];
	return NULL;
}
