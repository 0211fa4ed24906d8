// SPDX-License-Identifier: Apache-2.0
/*
 * Objects between the lab and its API server. The lab's controllers (pods, ClusterIPs,
 * EndpointSlices: lab_config.c) keep writing their YAML into <state>/config; in API mode those
 * documents are also published to the server as JSON, the whole set at once ("sync": created,
 * replaced when changed, deleted when gone), as controllers write through the API. Istio objects
 * from `up`/`apply` files go to the server only, each with the last-applied annotation that
 * `kubectl apply` would add, so that a later `kubectl apply` of the same file patches it.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "config/yaml_json.h"
#include "lab/lab.h"

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

static const char *const derived_files[] = {
    "lab-namespaces.yaml", "lab-serviceaccounts.yaml", "lab-services.yaml",
    "lab-pods.yaml",	   "lab-endpointslices.yaml",
};

/* metadata with annotations[LAST_APPLIED] = `applied` added. */
static void metadata_json(struct strbuf *b, const struct ynode *md, const char *applied)
{
	const struct ynode *ann = ynode_get(md, "annotations");
	size_t k = 0;

	sb_printf(b, "{");
	for (size_t i = 0; md && md->kind == YNODE_MAP && i < md->n; i++) {
		if (!strcmp(md->keys[i], "annotations"))
			continue;
		sb_printf(b, "%s", k++ ? "," : "");
		sb_json_str(b, md->keys[i]);
		sb_printf(b, ":");
		ynode_json(b, md->items[i]);
	}
	sb_printf(b, "%s\"annotations\":{", k ? "," : "");
	for (size_t i = 0; ann && ann->kind == YNODE_MAP && i < ann->n; i++) {
		sb_json_str(b, ann->keys[i]);
		sb_printf(b, ":");
		ynode_json(b, ann->items[i]);
		sb_printf(b, ",");
	}
	sb_json_str(b, LAST_APPLIED);
	sb_printf(b, ":");
	sb_json_str(b, applied);
	sb_printf(b, "}}");
}

static void applied_json(struct strbuf *b, const struct ynode *doc)
{
	struct strbuf applied = {0};

	ynode_json(&applied, doc);
	sb_printf(&applied, "\n");
	sb_printf(b, "{");
	for (size_t i = 0; i < doc->n; i++) {
		sb_printf(b, "%s", i ? "," : "");
		sb_json_str(b, doc->keys[i]);
		sb_printf(b, ":");
		if (!strcmp(doc->keys[i], "metadata"))
			metadata_json(b, doc->items[i], applied.s);
		else
			ynode_json(b, doc->items[i]);
	}
	sb_printf(b, "}");
	sb_free(&applied);
}

static bool is_istio(const struct ynode *doc)
{
	const char *api = ynode_str(ynode_get(doc, "apiVersion"));

	return doc->kind == YNODE_MAP && api && strstr(api, ".istio.io/");
}

int lab_api_publish(const struct lab *lab)
{
	struct strbuf b = {0};
	char path[PATH_MAX], sub[64], *answer;
	size_t k = 0;
	int err = 0;

	sb_printf(&b, "{\"op\":\"sync\",\"owner\":\"skiff-lab\",\"objects\":[");
	for (size_t f = 0; !err && f < sizeof(derived_files) / sizeof(derived_files[0]); f++) {
		struct ydoc_set set = {0};
		struct diag d = {0};

		lab_fmt(sub, sizeof(sub), "config/%s", derived_files[f]);
		lab_path(path, lab, sub);
		err = yaml_parse_file(&set, path, &d);
		for (size_t i = 0; !err && i < set.n; i++) {
			sb_printf(&b, "%s", k++ ? "," : "");
			ynode_json(&b, set.docs[i]);
		}
		if (err)
			fprintf(stderr, "skiff-lab: cannot read %s to publish it\n", path);
		ydoc_set_free(&set);
		diag_free(&d);
	}
	sb_printf(&b, "]}");
	answer = err ? NULL : lab_api_control(lab, b.s);
	sb_free(&b);
	free(answer);
	return err ?: (answer ? 0 : -EIO);
}

/* Every Istio document of `file` as a control operation: apply, or delete by kind/ns/name. */
static int istio_file(const struct lab *lab, const char *file, bool del)
{
	struct ydoc_set set = {0};
	struct diag d = {0};
	int err = yaml_parse_file(&set, file, &d);

	for (size_t i = 0; !err && i < set.n; i++) {
		const struct ynode *doc = set.docs[i];
		struct strbuf b = {0};
		char *answer;

		if (!is_istio(doc))
			continue;
		if (del) {
			sb_printf(&b, "{\"op\":\"delete\",\"kind\":");
			sb_json_str(&b, ynode_str(ynode_get(doc, "kind")) ?: "");
			sb_printf(&b, ",\"namespace\":");
			sb_json_str(&b, ynode_str(ynode_path(doc, "metadata.namespace")) ?: "");
			sb_printf(&b, ",\"name\":");
			sb_json_str(&b, ynode_str(ynode_path(doc, "metadata.name")) ?: "");
			sb_printf(&b, "}");
		} else {
			sb_printf(&b, "{\"op\":\"apply\",\"object\":");
			applied_json(&b, doc);
			sb_printf(&b, "}");
		}
		answer = lab_api_control(lab, b.s);
		if (!answer)
			fprintf(stderr, "skiff-lab: %s:%d: %s %s/%s not %s\n", file, doc->line,
				ynode_str(ynode_get(doc, "kind")) ?: "?",
				ynode_str(ynode_path(doc, "metadata.namespace")) ?: "default",
				ynode_str(ynode_path(doc, "metadata.name")) ?: "?",
				del ? "deleted" : "applied");
		err = answer ? 0 : -EIO;
		free(answer);
		sb_free(&b);
	}
	if (d.n)
		diag_print(&d);
	ydoc_set_free(&set);
	diag_free(&d);
	return err;
}

int lab_api_istio_apply(const struct lab *lab, const char *file)
{
	return istio_file(lab, file, false);
}

int lab_api_istio_delete(const struct lab *lab, const char *file)
{
	return istio_file(lab, file, true);
}

static void take_labels(struct lab_namespace *ns, json_object *labels)
{
	lab_labels_free(&ns->labels);
	if (!labels)
		return;
	json_object_object_foreach(labels, key, val)
	{
		if (strcmp(key, "kubernetes.io/metadata.name") &&
		    json_object_is_type(val, json_type_string))
			lab_label_set(&ns->labels, key, json_object_get_string(val));
	}
}

int lab_api_pull_namespaces(struct lab *lab)
{
	char *answer = lab_api_control(lab, "{\"op\":\"get\",\"resource\":\"namespaces\"}");
	json_object *root, *items;

	if (!answer)
		return -EIO;
	root = json_tokener_parse(answer);
	free(answer);
	if (!json_object_object_get_ex(root, "items", &items) ||
	    !json_object_is_type(items, json_type_array)) {
		json_object_put(root);
		fprintf(stderr, "skiff-lab: the API server's namespace list is not JSON\n");
		return -EIO;
	}
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		json_object *o = json_object_array_get_idx(items, i), *md, *name, *labels = NULL;
		struct lab_namespace *ns;

		if (!json_object_object_get_ex(o, "metadata", &md) ||
		    !json_object_object_get_ex(md, "name", &name))
			continue;
		ns = lab_ns_find(lab, json_object_get_string(name));
		json_object_object_get_ex(md, "labels", &labels);
		if (ns)
			take_labels(ns, labels);
	}
	json_object_put(root);
	return 0;
}
