/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kubernetes objects analyzers look at (Namespace, Pod, Service, Deployment, ServiceEntry,
 * Node), read from the documents themselves. skiff's model drops a Service or Pod its validator
 * refuses (a port without a name, protocol HTTP), but istioctl still analyzes such an object, and
 * so must skiff; Deployments, ServiceEntries and Nodes are not in the model at all. Read-only:
 * every string points into the model's YAML trees.
 */
#ifndef SKIFF_AN_INDEX_H
#define SKIFF_AN_INDEX_H

#include "analyze/analyze.h"

struct an_obj {
	const char *kind, *ns, *name; /* ns "default" when absent, "" for cluster-scoped kinds */
	const char *file;
	int line;
	const struct ynode *doc;
	struct labels labels; /* metadata.labels (Pods), pod template labels (Deployments) */
};

struct an_port {
	const char *name; /* NULL when unnamed */
	long port;
	const char *target; /* targetPort as written, NULL when absent */
	const char *protocol, *app_protocol;
	int line;
};

struct an_svc {
	struct an_obj o;
	struct labels selector;
	struct an_port *ports;
	size_t nports;
	const char *export_to; /* annotation networking.istio.io/exportTo, NULL when absent */
	const char *type;
};

struct an_index {
	struct an_obj *namespaces, *pods, *deployments, *serviceentries, *nodes;
	size_t nnamespaces, npods, ndeployments, nserviceentries, nnodes;
	struct an_svc *services;
	size_t nservices;
};

void an_index_build(const struct model *m, struct an_index *x);
void an_index_free(struct an_index *x);

/* Namespaces Istio's analyzers leave alone (kube-system, istio-system...). */
bool an_system_namespace(const char *ns);
/* A map of scalars as labels (strings borrowed from the tree; free only .v). */
void an_labels_of(const struct ynode *map, struct labels *out);
/* The Service `host` names, written in namespace `home` (short names resolve there), if it is
 * visible from namespace `from` (Service annotation networking.istio.io/exportTo). */
const struct an_svc *an_service_for_host(const struct an_index *x, const char *home,
					 const char *from, const char *host);
/* A ServiceEntry host covering `host` (written in `home`), visible from `from`. */
const struct an_obj *an_serviceentry_for_host(const struct an_index *x, const char *home,
					      const char *from, const char *host);
/* Does an exportTo list (a sequence node, NULL = everywhere) of an object in `own` reach `ns`? */
bool an_exported_to(const struct ynode *export_to, const char *own, const char *ns);
/* Istio host matching: `a` and `b` overlap ("*.foo.com" covers "a.foo.com"). */
bool an_hosts_overlap(const char *a, const char *b);
/* Fully qualified name of `host` written in namespace `ns` ("reviews" -> reviews.ns.svc...). */
void an_fqdn(const char *host, const char *ns, char *buf, size_t len);
/* The workloads (pods, and deployments' pod templates) in `ns` matching `sel`. */
size_t an_count_workloads(const struct an_index *x, const char *ns, const struct labels *sel);
/* "k=v,k2=v2" of a label set, for messages. */
void an_labels_text(const struct labels *l, char *buf, size_t len);
/* Is namespace `ns` enrolled in skiff's mesh (istio.io/dataplane-mode=ambient or
 * skiff.io/mesh=enabled)? */
bool an_namespace_enrolled(const struct an_index *x, const char *ns);

#endif
