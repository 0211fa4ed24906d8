// SPDX-License-Identifier: Apache-2.0
/* The analyzers' read-only view of Kubernetes objects (see an_index.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze/an_index.h"

#define GROW(arr, n) (grow((void **)&(arr), &(n), sizeof((arr)[0])))

static void *grow(void **arr, size_t *n, size_t elem)
{
	char *p = realloc(*arr, (*n + 1) * elem);

	if (!p)
		abort();
	*arr = p;
	memset(p + *n * elem, 0, elem);
	return p + (*n)++ * elem;
}

void an_labels_of(const struct ynode *map, struct labels *out)
{
	memset(out, 0, sizeof(*out));
	if (!map || map->kind != YNODE_MAP)
		return;
	for (size_t i = 0; i < map->n; i++) {
		struct kv *kv;

		if (map->items[i]->kind != YNODE_SCALAR)
			continue;
		kv = GROW(out->v, out->n);
		kv->key = map->keys[i];
		kv->val = map->items[i]->scalar;
	}
}

static void obj_of(const struct ynode *doc, const char *kind, bool namespaced, struct an_obj *o)
{
	const struct ynode *md = ynode_get(doc, "metadata");
	const char *ns = ynode_str(ynode_get(md, "namespace"));
	const char *name = ynode_str(ynode_get(md, "name"));

	o->kind = kind;
	o->ns = !namespaced ? "" : ns && ns[0] ? ns : "default";
	o->name = name ? name : "";
	o->file = doc->file;
	o->line = ynode_key_line(doc, "kind");
	o->doc = doc;
	an_labels_of(ynode_get(md, "labels"), &o->labels);
}

static void svc_ports(struct an_svc *s, const struct ynode *seq)
{
	for (size_t i = 0; seq && seq->kind == YNODE_SEQ && i < seq->n; i++) {
		const struct ynode *p = seq->items[i];
		const char *num = ynode_str(ynode_get(p, "port"));
		struct an_port *ap = GROW(s->ports, s->nports);

		ap->name = ynode_str(ynode_get(p, "name"));
		ap->port = num ? strtol(num, NULL, 10) : 0;
		ap->target = ynode_str(ynode_get(p, "targetPort"));
		ap->protocol = ynode_str(ynode_get(p, "protocol"));
		ap->app_protocol = ynode_str(ynode_get(p, "appProtocol"));
		ap->line = p->line;
	}
}

static void add_service(struct an_index *x, const struct ynode *doc)
{
	struct an_svc *s = GROW(x->services, x->nservices);
	const struct ynode *spec = ynode_get(doc, "spec");
	const struct ynode *ann = ynode_path(doc, "metadata.annotations");

	obj_of(doc, "Service", true, &s->o);
	an_labels_of(ynode_get(spec, "selector"), &s->selector);
	svc_ports(s, ynode_get(spec, "ports"));
	s->export_to = ynode_str(ynode_get(ann, "networking.istio.io/exportTo"));
	s->type = ynode_str(ynode_get(spec, "type"));
}

static void add_deployment(struct an_index *x, const struct ynode *doc)
{
	struct an_obj *o = GROW(x->deployments, x->ndeployments);

	obj_of(doc, "Deployment", true, o);
	free(o->labels.v); /* a Deployment's pods carry its template's labels, not its own */
	o->labels = (struct labels){0}; /* an_labels_of clears it too; the analyzer sees it here */
	an_labels_of(ynode_path(doc, "spec.template.metadata.labels"), &o->labels);
}

static void add_doc(struct an_index *x, const struct ynode *doc)
{
	const char *kind = ynode_str(ynode_get(doc, "kind"));
	const struct ynode *items = ynode_get(doc, "items");

	if (!kind)
		return;
	if (!strcmp(kind, "List")) {
		for (size_t i = 0; items && items->kind == YNODE_SEQ && i < items->n; i++)
			add_doc(x, items->items[i]);
	} else if (!strcmp(kind, "Namespace")) {
		obj_of(doc, kind, false, GROW(x->namespaces, x->nnamespaces));
	} else if (!strcmp(kind, "Node")) {
		obj_of(doc, kind, false, GROW(x->nodes, x->nnodes));
	} else if (!strcmp(kind, "Pod")) {
		obj_of(doc, kind, true, GROW(x->pods, x->npods));
	} else if (!strcmp(kind, "ServiceEntry")) {
		obj_of(doc, kind, true, GROW(x->serviceentries, x->nserviceentries));
	} else if (!strcmp(kind, "Service")) {
		add_service(x, doc);
	} else if (!strcmp(kind, "Deployment")) {
		add_deployment(x, doc);
	}
}

void an_index_build(const struct model *m, struct an_index *x)
{
	memset(x, 0, sizeof(*x));
	for (size_t i = 0; i < m->src.n; i++)
		if (m->src.docs[i] && m->src.docs[i]->kind == YNODE_MAP)
			add_doc(x, m->src.docs[i]);
}

static void objs_free(struct an_obj *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].labels.v);
	free(v);
}

void an_index_free(struct an_index *x)
{
	objs_free(x->namespaces, x->nnamespaces);
	objs_free(x->pods, x->npods);
	objs_free(x->deployments, x->ndeployments);
	objs_free(x->serviceentries, x->nserviceentries);
	objs_free(x->nodes, x->nnodes);
	for (size_t i = 0; i < x->nservices; i++) {
		free(x->services[i].o.labels.v);
		free(x->services[i].selector.v);
		free(x->services[i].ports);
	}
	free(x->services);
	memset(x, 0, sizeof(*x));
}

bool an_system_namespace(const char *ns)
{
	static const char *const sys[] = {"kube-system",	"kube-public",	"kube-node-lease",
					  "local-path-storage", "istio-system", NULL};

	for (size_t i = 0; sys[i]; i++)
		if (!strcmp(ns, sys[i]))
			return true;
	return false;
}

void an_fqdn(const char *host, const char *ns, char *buf, size_t len)
{
	if (strchr(host, '.') || !strcmp(host, "*"))
		snprintf(buf, len, "%s", host);
	else
		snprintf(buf, len, "%s.%s.svc.cluster.local", host, ns);
}

/* Visible from `from`: annotation networking.istio.io/exportTo ("." own namespace, "*" all). */
static bool svc_visible(const struct an_svc *s, const char *from)
{
	char buf[512], *save = NULL;

	if (!s->export_to)
		return true;
	snprintf(buf, sizeof(buf), "%s", s->export_to);
	for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
		if (!strcmp(t, "*") || !strcmp(t, from) ||
		    (!strcmp(t, ".") && !strcmp(s->o.ns, from)))
			return true;
	return false;
}

const struct an_svc *an_service_for_host(const struct an_index *x, const char *home,
					 const char *from, const char *host)
{
	char want[512], have[512];

	an_fqdn(host, home, want, sizeof(want));
	for (size_t i = 0; i < x->nservices; i++) {
		const struct an_svc *s = &x->services[i];

		snprintf(have, sizeof(have), "%s.%s.svc.cluster.local", s->o.name, s->o.ns);
		if (!strcmp(want, have) && svc_visible(s, from))
			return s;
	}
	return NULL;
}

static bool wildcard_covers(const char *wild, const char *host)
{
	size_t wl = strlen(wild + 1), hl = strlen(host);

	return wild[0] == '*' && (wl == 0 || (hl >= wl && !strcmp(host + hl - wl, wild + 1)));
}

bool an_hosts_overlap(const char *a, const char *b)
{
	if (!strcmp(a, b))
		return true;
	if (a[0] == '*' && b[0] == '*')
		return wildcard_covers(a, b + 1) || wildcard_covers(b, a + 1) || strlen(a) == 1 ||
		       strlen(b) == 1;
	return wildcard_covers(a, b) || wildcard_covers(b, a);
}

size_t an_count_workloads(const struct an_index *x, const char *ns, const struct labels *sel)
{
	size_t n = 0;

	for (size_t i = 0; i < x->npods; i++)
		if ((!ns || !strcmp(x->pods[i].ns, ns)) && labels_match(sel, &x->pods[i].labels))
			n++;
	for (size_t i = 0; i < x->ndeployments; i++)
		if ((!ns || !strcmp(x->deployments[i].ns, ns)) &&
		    labels_match(sel, &x->deployments[i].labels))
			n++;
	return n;
}

void an_labels_text(const struct labels *l, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l->n && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s=%s", i ? "," : "", l->v[i].key,
				l->v[i].val);
}

bool an_namespace_enrolled(const struct an_index *x, const char *ns)
{
	for (size_t i = 0; i < x->nnamespaces; i++) {
		const char *mode, *mesh;

		if (strcmp(x->namespaces[i].name, ns))
			continue;
		mode = labels_get(&x->namespaces[i].labels, "istio.io/dataplane-mode");
		mesh = labels_get(&x->namespaces[i].labels, "skiff.io/mesh");
		return (mode && !strcmp(mode, "ambient")) || (mesh && !strcmp(mesh, "enabled"));
	}
	return false;
}

bool an_exported_to(const struct ynode *export_to, const char *own, const char *ns)
{
	if (!export_to || export_to->kind != YNODE_SEQ || export_to->n == 0)
		return true;
	for (size_t i = 0; i < export_to->n; i++) {
		const char *t = ynode_str(export_to->items[i]);

		if (t &&
		    (!strcmp(t, "*") || !strcmp(t, ns) || (!strcmp(t, ".") && !strcmp(own, ns))))
			return true;
	}
	return false;
}

const struct an_obj *an_serviceentry_for_host(const struct an_index *x, const char *home,
					      const char *from, const char *host)
{
	char want[512];

	an_fqdn(host, home, want, sizeof(want));
	for (size_t i = 0; i < x->nserviceentries; i++) {
		const struct an_obj *se = &x->serviceentries[i];
		const struct ynode *hosts = ynode_path(se->doc, "spec.hosts");

		if (!an_exported_to(ynode_path(se->doc, "spec.exportTo"), se->ns, from))
			continue;
		for (size_t j = 0; hosts && hosts->kind == YNODE_SEQ && j < hosts->n; j++) {
			const char *h = ynode_str(hosts->items[j]);

			if (h && (!strcmp(h, want) || wildcard_covers(h, want)))
				return se;
		}
	}
	return NULL;
}
