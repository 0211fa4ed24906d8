// SPDX-License-Identifier: Apache-2.0
/* JSON object -> struct ynode tree (see kube_json.h), with yaml_tree's own builders. */
#include <stdlib.h>
#include <string.h>

#include "kube/kube_json.h"

static struct ynode *kj_scalar(const char *file, const char *text, bool plain)
{
	struct ynode *n = ynode_alloc(YNODE_SCALAR, file, 0);

	n->scalar = strdup(text ? text : "");
	if (!n->scalar)
		abort();
	n->plain = plain;
	return n;
}

static struct ynode *kj_convert(struct json_object *o, const char *file)
{
	struct ynode *n;
	char *key;

	switch (json_object_get_type(o)) {
	case json_type_object:
		n = ynode_alloc(YNODE_MAP, file, 0);
		json_object_object_foreach(o, k, val)
		{
			key = strdup(k);
			if (!key)
				abort();
			ynode_map_append(n, key, 0, kj_convert(val, file));
		}
		return n;
	case json_type_array:
		n = ynode_alloc(YNODE_SEQ, file, 0);
		for (size_t i = 0; i < json_object_array_length(o); i++)
			ynode_seq_append(n, kj_convert(json_object_array_get_idx(o, i), file));
		return n;
	case json_type_string:
		return kj_scalar(file, json_object_get_string(o), false);
	case json_type_null:
		return kj_scalar(file, "null", true);
	default: /* numbers and booleans, in JSON's own spelling */
		return kj_scalar(file, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
				 true);
	}
}

/* The one file name every API object of the set points at. */
static const char *kj_origin(struct ydoc_set *set)
{
	for (size_t i = 0; i < set->nfiles; i++)
		if (!strcmp(set->files[i], KUBE_JSON_ORIGIN))
			return set->files[i];
	return ydoc_set_add_file(set, KUBE_JSON_ORIGIN);
}

void kube_json_add_doc(struct ydoc_set *set, struct json_object *obj)
{
	ydoc_set_push(set, kube_json_tree(set, obj));
}

struct ynode *kube_json_tree(struct ydoc_set *set, struct json_object *obj)
{
	return kj_convert(obj, kj_origin(set));
}
