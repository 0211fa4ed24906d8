// SPDX-License-Identifier: Apache-2.0
/*
 * What the API server would show skiffd, written into <state>/config as YAML (each file
 * atomically): lab-namespaces.yaml, lab-serviceaccounts.yaml, lab-services.yaml, lab-pods.yaml,
 * lab-endpointslices.yaml. Strings are always double-quoted so that a label value such as "true"
 * or "8080" stays a string.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "lab/lab_proc.h"

#define HEADER "# Written by skiff-lab; rewritten on every change.\n"

static void q(struct strbuf *b, const char *s)
{
	sb_printf(b, "\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_printf(b, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			sb_printf(b, "\\x%02x", (unsigned char)*s);
		else
			sb_printf(b, "%c", *s);
	}
	sb_printf(b, "\"");
}

static void doc_start(struct strbuf *b, const char *api, const char *kind, const char *ns,
		      const char *name)
{
	sb_printf(b, "---\napiVersion: %s\nkind: %s\nmetadata:\n  name: ", api, kind);
	q(b, name);
	if (ns) {
		sb_printf(b, "\n  namespace: ");
		q(b, ns);
	}
	sb_printf(b, "\n");
}

static void labels(struct strbuf *b, const char *indent, const char *key,
		   const struct lab_labels *l)
{
	if (!l->n) {
		sb_printf(b, "%s%s: {}\n", indent, key);
		return;
	}
	sb_printf(b, "%s%s:\n", indent, key);
	for (size_t i = 0; i < l->n; i++) {
		sb_printf(b, "%s  ", indent);
		q(b, l->v[i].key);
		sb_printf(b, ": ");
		q(b, l->v[i].val);
		sb_printf(b, "\n");
	}
}

static int put(const struct lab *lab, const char *name, struct strbuf *b)
{
	char path[PATH_MAX], sub[64];
	int err;

	lab_fmt(sub, sizeof(sub), "config/%s", name);
	lab_path(path, lab, sub);
	err = lab_write_atomic(path, b->s, b->len);
	sb_free(b);
	return err;
}

static int write_namespaces(const struct lab *lab)
{
	struct strbuf b = {0};

	sb_printf(&b, HEADER);
	for (size_t i = 0; i < lab->nns; i++) {
		struct lab_labels l = {0};

		/* The API server labels every namespace with its name. */
		lab_label_set(&l, "kubernetes.io/metadata.name", lab->ns[i].name);
		lab_labels_copy(&l, &lab->ns[i].labels);
		doc_start(&b, "v1", "Namespace", NULL, lab->ns[i].name);
		labels(&b, "  ", "labels", &l);
		sb_printf(&b, "status:\n  phase: Active\n");
		lab_labels_free(&l);
	}
	return put(lab, "lab-namespaces.yaml", &b);
}

static int write_serviceaccounts(const struct lab *lab)
{
	struct strbuf b = {0};

	sb_printf(&b, HEADER);
	/* Every namespace has a "default" service account. */
	for (size_t i = 0; i < lab->nns; i++)
		doc_start(&b, "v1", "ServiceAccount", lab->ns[i].name, "default");
	for (size_t i = 0; i < lab->nsa; i++)
		if (strcmp(lab->sa[i].name, "default"))
			doc_start(&b, "v1", "ServiceAccount", lab->sa[i].ns, lab->sa[i].name);
	return put(lab, "lab-serviceaccounts.yaml", &b);
}

static void service_ports(struct strbuf *b, const struct lab_service *s)
{
	sb_printf(b, "  ports:\n");
	for (size_t i = 0; i < s->nports; i++) {
		const struct lab_sport *p = &s->ports[i];
		const char *t = p->target[0] ? p->target : NULL;

		sb_printf(b, "  - name: ");
		q(b, p->name);
		sb_printf(b, "\n    port: %d\n    protocol: %s\n    targetPort: ", p->port,
			  p->proto);
		if (!t)
			sb_printf(b, "%d\n", p->port);
		else if (strspn(t, "0123456789") == strlen(t))
			sb_printf(b, "%s\n", t);
		else {
			q(b, t);
			sb_printf(b, "\n");
		}
	}
}

static void service_ips(struct strbuf *b, const struct lab_service *s)
{
	const char *first = s->ip4[0] ? s->ip4 : s->ip6;

	if (s->headless) {
		sb_printf(b, "  clusterIP: None\n  clusterIPs: [None]\n");
	} else {
		sb_printf(b, "  clusterIP: \"%s\"\n  clusterIPs:\n  - \"%s\"\n", first, first);
		if (s->ip4[0] && s->ip6[0])
			sb_printf(b, "  - \"%s\"\n", s->ip6);
	}
	sb_printf(b, "  ipFamilyPolicy: %s\n  ipFamilies:\n",
		  s->dual ? "PreferDualStack" : "SingleStack");
	if (s->ip4[0] || (s->headless && !(s->ip6[0] && !s->dual)))
		sb_printf(b, "  - IPv4\n");
	if (s->ip6[0] || (s->headless && s->dual))
		sb_printf(b, "  - IPv6\n");
}

static int write_services(const struct lab *lab)
{
	struct strbuf b = {0};

	sb_printf(&b, HEADER);
	for (size_t i = 0; i < lab->nsvc; i++) {
		const struct lab_service *s = &lab->svc[i];

		doc_start(&b, "v1", "Service", s->ns, s->name);
		sb_printf(&b, "spec:\n  type: ClusterIP\n");
		service_ips(&b, s);
		if (s->has_selector)
			labels(&b, "  ", "selector", &s->selector);
		service_ports(&b, s);
	}
	return put(lab, "lab-services.yaml", &b);
}

static int cmp_pod(const void *a, const void *b)
{
	const struct lab_pod *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* Pods sorted by name (the caller frees the array). */
static const struct lab_pod **pods_sorted(const struct lab *lab)
{
	const struct lab_pod **v = calloc(lab->npod + 1, sizeof(*v));

	if (!v)
		abort();
	for (size_t i = 0; i < lab->npod; i++)
		v[i] = &lab->pod[i];
	qsort(v, lab->npod, sizeof(*v), cmp_pod);
	return v;
}

static void container_ports(struct strbuf *b, const struct lab_deploy *d, int c)
{
	size_t n = 0;

	sb_printf(b, "    ports:");
	for (size_t i = 0; i < d->nports; i++) {
		if (d->ports[i].container != c)
			continue;
		sb_printf(b, "%s    - containerPort: %d\n      protocol: %s\n", n++ ? "" : "\n",
			  d->ports[i].port, d->ports[i].proto);
		if (d->ports[i].name[0]) {
			sb_printf(b, "      name: ");
			q(b, d->ports[i].name);
			sb_printf(b, "\n");
		}
	}
	if (!n)
		sb_printf(b, " []\n");
}

static void pod_spec(struct strbuf *b, const struct lab_pod *p, const struct lab_deploy *d)
{
	sb_printf(b, "spec:\n  nodeName: node-%d\n  serviceAccountName: ", p->node);
	q(b, d ? d->sa : "default");
	sb_printf(b, "\n  containers:\n");
	for (size_t c = 0; d && c < d->ncontainers; c++) {
		sb_printf(b, "  - name: ");
		q(b, d->containers[c].name);
		sb_printf(b, "\n    image: ");
		q(b, d->containers[c].image);
		sb_printf(b, "\n");
		container_ports(b, d, (int)c);
	}
}

static void pod_doc(struct strbuf *b, const struct lab *lab, const struct lab_pod *p)
{
	const struct lab_deploy *d = lab_pod_deploy(lab, p);
	struct lab_labels l = {0};

	if (d)
		lab_labels_copy(&l, &d->labels);
	lab_label_set(&l, "pod-template-hash", p->hash);
	doc_start(b, "v1", "Pod", p->ns, p->name);
	sb_printf(b, "  uid: \"%s\"\n", p->uid);
	labels(b, "  ", "labels", &l);
	lab_labels_free(&l);
	pod_spec(b, p, d);
	sb_printf(b,
		  "status:\n  phase: Running\n  hostIP: \"198.18.0.%d\"\n"
		  "  hostIPs:\n  - ip: \"198.18.0.%d\"\n  - ip: \"2001:db8::%x\"\n"
		  "  podIP: \"%s\"\n"
		  "  podIPs:\n  - ip: \"%s\"\n  - ip: \"%s\"\n  conditions:\n  - type: Ready\n"
		  "    status: \"True\"\n"
		  "  - type: ContainersReady\n    status: \"True\"\n",
		  p->node, p->node, p->node, p->ip4, p->ip4, p->ip6);
}

static int write_pods(const struct lab *lab)
{
	const struct lab_pod **v = pods_sorted(lab);
	struct strbuf b = {0};

	sb_printf(&b, HEADER);
	for (size_t i = 0; i < lab->npod; i++)
		pod_doc(&b, lab, v[i]);
	free(v);
	return put(lab, "lab-pods.yaml", &b);
}

/* The targetPorts of `s` on pod `p`, comma-joined; false when one does not resolve. */
static bool port_sig(const struct lab *lab, const struct lab_service *s, const struct lab_pod *p,
		     char *sig, size_t len)
{
	sig[0] = 0;
	for (size_t i = 0; i < s->nports; i++) {
		int port = lab_sport_resolve(lab, p, &s->ports[i]);
		size_t off = strlen(sig);

		if (port <= 0)
			return false;
		lab_fmt(sig + off, len - off, "%d,", port);
	}
	return true;
}

static void slice_ports(struct strbuf *b, const struct lab *lab, const struct lab_service *s,
			const struct lab_pod *p)
{
	sb_printf(b, "ports:%s\n", s->nports && p ? "" : " []");
	for (size_t i = 0; p && i < s->nports; i++) {
		sb_printf(b, "- name: ");
		q(b, s->ports[i].name);
		sb_printf(b, "\n  port: %d\n  protocol: %s\n",
			  lab_sport_resolve(lab, p, &s->ports[i]), s->ports[i].proto);
	}
}

static void slice_doc(struct strbuf *b, const struct lab *lab, const struct lab_service *s,
		      const struct lab_pod **pods, bool v6)
{
	char name[LAB_POD_NAME], sig[512] = "", psig[512];
	const struct lab_pod *first = NULL;
	size_t n = 0;

	/* never NULL; doc_start's check of s->ns (its first field; NULL for cluster-scoped kinds)
	 * made clang's analyzer assume s could be */
	if (!s)
		return;
	/* The controller's names end in 5 random characters; a hash keeps ours stable. */
	lab_fmt(name, sizeof(name), "%s/%s/%s", s->ns, s->name, v6 ? "IPv6" : "IPv4");
	lab_fmt(name, sizeof(name), "%s-%05lx", s->name, lab_hash(name) & 0xfffff);
	doc_start(b, "discovery.k8s.io/v1", "EndpointSlice", s->ns, name);
	sb_printf(b, "  labels:\n    \"kubernetes.io/service-name\": ");
	q(b, s->name);
	sb_printf(b,
		  "\n    \"endpointslice.kubernetes.io/managed-by\": "
		  "\"endpointslice-controller.k8s.io\"\naddressType: %s\nendpoints:",
		  v6 ? "IPv6" : "IPv4");
	for (size_t i = 0; i < lab->npod; i++) {
		const struct lab_pod *p = pods[i];
		const struct lab_deploy *d = lab_pod_deploy(lab, p);

		if (strcmp(p->ns, s->ns) || !d || !lab_selector_matches(&s->selector, &d->labels) ||
		    !port_sig(lab, s, p, psig, sizeof(psig)))
			continue;
		if (!first) {
			first = p;
			memcpy(sig, psig, sizeof(sig));
		} else if (strcmp(sig, psig)) {
			continue; /* named port resolves elsewhere on this pod: not in this slice */
		}
		sb_printf(b,
			  "\n- addresses:\n  - \"%s\"\n  conditions:\n    ready: true\n"
			  "    serving: true\n    terminating: false\n  nodeName: node-%d\n"
			  "  targetRef:\n    kind: Pod\n    name: \"%s\"\n    namespace: \"%s\"\n"
			  "    uid: \"%s\"",
			  v6 ? p->ip6 : p->ip4, p->node, p->name, p->ns, p->uid);
		n++;
	}
	sb_printf(b, "%s\n", n ? "" : " []");
	slice_ports(b, lab, s, first);
}

static int write_endpointslices(const struct lab *lab)
{
	const struct lab_pod **pods = pods_sorted(lab);
	struct strbuf b = {0};

	sb_printf(&b, HEADER);
	for (size_t i = 0; i < lab->nsvc; i++) {
		const struct lab_service *s = &lab->svc[i];
		bool v4 = s->ip4[0] || (s->headless && !(s->ip6[0] && !s->dual));
		bool v6 = s->ip6[0] || (s->headless && s->dual);

		if (!s->has_selector)
			continue;
		if (v4)
			slice_doc(&b, lab, s, pods, false);
		if (v6)
			slice_doc(&b, lab, s, pods, true);
	}
	free(pods);
	return put(lab, "lab-endpointslices.yaml", &b);
}

int lab_config_write(const struct lab *lab)
{
	int err = write_namespaces(lab);

	err = err ?: write_serviceaccounts(lab);
	err = err ?: write_services(lab);
	err = err ?: write_pods(lab);
	err = err ?: write_endpointslices(lab);
	if (!err && lab->api.port)
		err = lab_api_publish(lab);
	return err;
}
