// SPDX-License-Identifier: Apache-2.0
/*
 * Pods as the store holds them: only the fields the model reads (model_k8s_pod.c and the
 * metadata every kind has). Every pod of the cluster is held, not only this node's (the compiler
 * needs other nodes' mesh pods), and a real pod is several KB of spec and status skiffd never
 * reads: image, env, volumes, probes, resources, managed fields, container statuses. Held whole,
 * 50,000 of them are hundreds of MB; trimmed, a few hundred bytes each.
 *
 * What is dropped is only what the Pod parser ignores, so a trimmed pod gives the same model as
 * the whole one (tests/unit/test_kube_trim.c compares them), except one field: a pod scheduled
 * on another node loses its uid, which skiffd reads only to find a local pod's cgroup. It is 36
 * random characters that deflate does not shrink, on 49,500 of 50,000 pods of a big cluster:
 * about 4 MB between the store and the model. Unknown spec fields, which the
 * parser would warn about, cannot come from an API server: it refuses them.
 *
 * Every other kind keeps its spec and status whole, and of its metadata what a parser reads:
 * name, namespace, labels, annotations and the resourceVersion the watchers compare. The server
 * adds a uid (36 random characters deflate cannot shrink), a creationTimestamp, a generation,
 * owner references and managed fields, about 80 bytes a record deflated (with 10,000 Services
 * and their EndpointSlices: 2 MB in the store; the model keeps a uid for this node's pods only).
 */
#include <string.h>

#include "kube/kube_internal.h"

static const char *const obj_meta[] = {"name",	      "namespace",	 "labels",
				       "annotations", "resourceVersion", NULL};
static const char *const pod_top[] = {"apiVersion", "kind", "metadata", "spec", "status", NULL};
static const char *const pod_meta[] = {"name",	 "namespace",	    "uid",
				       "labels", "resourceVersion", NULL};
static const char *const pod_spec[] = {"nodeName",    "serviceAccountName", "serviceAccount",
				       "hostNetwork", "containers",	    NULL};
static const char *const pod_container[] = {"ports", NULL};
static const char *const pod_status[] = {"podIP", "podIPs",	"hostIP", "hostIPs",
					 "phase", "conditions", NULL};
static const char *const pod_condition[] = {"type", "status", NULL};

static bool listed(const char *const *keep, const char *key)
{
	for (size_t i = 0; keep[i]; i++)
		if (!strcmp(keep[i], key))
			return true;
	return false;
}

/* Drop every key of object `o` not in `keep` (anything that is not an object stays as it is:
 * the parser reports it). */
static void keep_only(struct json_object *o, const char *const *keep)
{
	const char *drop[32];
	size_t n;

	if (!json_object_is_type(o, json_type_object))
		return;
	do { /* deleting while iterating is not allowed: in rounds of up to 32 */
		n = 0;
		json_object_object_foreach(o, key, val)
		{
			(void)val;
			if (!listed(keep, key) && n < sizeof(drop) / sizeof(drop[0]))
				drop[n++] = key;
		}
		for (size_t i = 0; i < n; i++)
			json_object_object_del(o, drop[i]);
	} while (n == sizeof(drop) / sizeof(drop[0]));
}

/* keep_only on each element of array `a` (when it is one). */
static void each_keep_only(struct json_object *a, const char *const *keep)
{
	if (!json_object_is_type(a, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(a); i++)
		keep_only(json_object_array_get_idx(a, i), keep);
}

static struct json_object *field(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* The pod's spec.nodeName names a node other than this one. */
static bool other_node(struct kube_watcher *w, struct json_object *spec)
{
	struct json_object *node = field(spec, "nodeName");
	const char *self = w->ks ? w->ks->o.node : NULL;

	return self && node && json_object_is_type(node, json_type_string) &&
	       strcmp(json_object_get_string(node), self);
}

void kube_obj_trim(struct kube_watcher *w, struct json_object *o)
{
	struct json_object *spec, *status, *meta = field(o, "metadata");

	if (strcmp(w->k->kind, "Pod")) {
		keep_only(meta, obj_meta);
		return;
	}
	keep_only(o, pod_top);
	keep_only(meta, pod_meta);
	spec = field(o, "spec");
	keep_only(spec, pod_spec);
	each_keep_only(field(spec, "containers"), pod_container);
	if (other_node(w, spec) && json_object_is_type(meta, json_type_object))
		json_object_object_del(meta, "uid");
	status = field(o, "status");
	keep_only(status, pod_status);
	each_keep_only(field(status, "conditions"), pod_condition);
}
