// SPDX-License-Identifier: Apache-2.0
/*
 * The kinds skiffd reads from the API and how their objects are named. All pods are watched, not
 * only this node's: the compiler needs the addresses of mesh pods on other nodes and their nodes'
 * addresses (compile_remote.c) to punt cross-node traffic to the right skiffd. One ConfigMap is
 * read, not all: Istio's mesh config, `istio` in the root namespace (its `mesh` key), so that
 * skiffd needs no cluster-wide access to ConfigMaps (deploy/10-rbac.yaml grants it by a Role
 * in that namespace).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "kube/kube_internal.h"

static const char *const v_core[] = {"v1", NULL};
static const char *const v_istio_net[] = {"v1", "v1beta1", "v1alpha3", NULL};
static const char *const v_istio_sec[] = {"v1", "v1beta1", NULL};
static const char *const v_istio_tel[] = {"v1", "v1alpha1", NULL};

const struct kube_kind kube_kinds[] = {
    {"Namespace", "", v_core, "namespaces"},
    {"Pod", "", v_core, "pods"},
    {"Service", "", v_core, "services"},
    {"EndpointSlice", "discovery.k8s.io", v_core, "endpointslices"},
    {"VirtualService", "networking.istio.io", v_istio_net, "virtualservices"},
    {"DestinationRule", "networking.istio.io", v_istio_net, "destinationrules"},
    {"PeerAuthentication", "security.istio.io", v_istio_sec, "peerauthentications"},
    {"AuthorizationPolicy", "security.istio.io", v_istio_sec, "authorizationpolicies"},
    {"Telemetry", "telemetry.istio.io", v_istio_tel, "telemetries"},
    {"ConfigMap", "", v_core, "configmaps"},
};
const size_t kube_nkinds = sizeof(kube_kinds) / sizeof(kube_kinds[0]);

/* tests/deploy/check_policy.js reads these rows: a scoped kind is granted by a Role there */
static const struct kube_kind_scope kube_kind_scopes[] = {
    {"ConfigMap", "istio-system", "metadata.name=istio"},
};

static const struct kube_kind_scope *scope_of(const struct kube_kind *k)
{
	for (size_t i = 0; i < sizeof(kube_kind_scopes) / sizeof(kube_kind_scopes[0]); i++)
		if (!strcmp(kube_kind_scopes[i].kind, k->kind))
			return &kube_kind_scopes[i];
	return NULL;
}

void kube_kind_path(const struct kube_watcher *w, char *buf, size_t len)
{
	const struct kube_kind *k = w->k;

	const struct kube_kind_scope *sc = scope_of(k);
	char ns[320] = "";

	if (sc)
		snprintf(ns, sizeof(ns), "/namespaces/%s", sc->ns);
	if (k->group[0])
		snprintf(buf, len, "/apis/%s/%s%s/%s", k->group, k->versions[w->version], ns,
			 k->resource);
	else
		snprintf(buf, len, "/api/%s%s/%s", k->versions[w->version], ns, k->resource);
}

void kube_kind_query(const struct kube_watcher *w, char *buf, size_t len)
{
	const struct kube_kind_scope *sc = scope_of(w->k);
	char *esc = sc ? curl_easy_escape(NULL, sc->field_selector, 0) : NULL;

	snprintf(buf, len, "%s%s", esc ? "&fieldSelector=" : "", esc ? esc : "");
	curl_free(esc);
}

void kube_kind_api_version(const struct kube_watcher *w, char *buf, size_t len)
{
	const struct kube_kind *k = w->k;

	snprintf(buf, len, "%s%s%s", k->group, k->group[0] ? "/" : "", k->versions[w->version]);
}

void kube_obj_normalise(struct kube_watcher *w, struct json_object *o)
{
	char api[128];

	kube_kind_api_version(w, api, sizeof(api));
	if (!json_object_object_get_ex(o, "apiVersion", NULL))
		json_object_object_add(o, "apiVersion", json_object_new_string(api));
	if (!json_object_object_get_ex(o, "kind", NULL))
		json_object_object_add(o, "kind", json_object_new_string(w->k->kind));
	kube_obj_trim(w, o); /* managed fields and the metadata no parser reads go too */
}

static const char *meta_str(struct json_object *o, const char *key)
{
	struct json_object *md, *v;

	if (!json_object_object_get_ex(o, "metadata", &md) ||
	    !json_object_object_get_ex(md, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

const char *kube_obj_key(struct json_object *o, char *buf, size_t len)
{
	const char *name = meta_str(o, "name"), *ns = meta_str(o, "namespace");

	if (!name)
		return NULL;
	snprintf(buf, len, "%s%s%s", ns ? ns : "", ns ? "/" : "", name);
	return buf;
}

const char *kube_obj_rv(struct json_object *o)
{
	return meta_str(o, "resourceVersion");
}
