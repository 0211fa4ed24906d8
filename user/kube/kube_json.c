// SPDX-License-Identifier: Apache-2.0
/* JSON object -> struct ynode tree (see kube_json.h). */
#include <stdlib.h>
#include <string.h>

#include "kube/kube_json.h"

static void *kj_zalloc(size_t n)
{
	void *p = calloc(1, n);

	if (!p)
		abort();
	return p;
}

static char *kj_strdup(const char *s)
{
	char *p = strdup(s ? s : "");

	if (!p)
		abort();
	return p;
}

static struct ynode *kj_node(const char *file, enum ynode_kind k)
{
	struct ynode *n = kj_zalloc(sizeof(*n));

	n->kind = k;
	n->file = file;
	return n;
}

static void kj_grow(struct ynode *n, size_t want, bool keyed)
{
	n->items = realloc(n->items, want * sizeof(*n->items));
	if (keyed) {
		n->keys = realloc(n->keys, want * sizeof(*n->keys));
		n->key_lines = realloc(n->key_lines, want * sizeof(*n->key_lines));
	}
	if (!n->items || (keyed && (!n->keys || !n->key_lines)))
		abort();
}

static struct ynode *kj_convert(struct json_object *o, const char *file);

static struct ynode *kj_map(struct json_object *o, const char *file)
{
	struct ynode *n = kj_node(file, YNODE_MAP);

	kj_grow(n, json_object_object_length(o) + 1, true);
	json_object_object_foreach(o, key, val)
	{
		n->keys[n->n] = kj_strdup(key);
		n->key_lines[n->n] = 0;
		n->items[n->n++] = kj_convert(val, file);
	}
	return n;
}

static struct ynode *kj_seq(struct json_object *o, const char *file)
{
	struct ynode *n = kj_node(file, YNODE_SEQ);
	size_t len = json_object_array_length(o);

	kj_grow(n, len + 1, false);
	for (size_t i = 0; i < len; i++)
		n->items[n->n++] = kj_convert(json_object_array_get_idx(o, i), file);
	return n;
}

static struct ynode *kj_convert(struct json_object *o, const char *file)
{
	struct ynode *n;

	switch (json_object_get_type(o)) {
	case json_type_object:
		return kj_map(o, file);
	case json_type_array:
		return kj_seq(o, file);
	case json_type_string:
		n = kj_node(file, YNODE_SCALAR);
		n->scalar = kj_strdup(json_object_get_string(o));
		return n;
	case json_type_null:
		n = kj_node(file, YNODE_SCALAR);
		n->scalar = kj_strdup("null");
		n->plain = true;
		return n;
	default: /* numbers and booleans, in JSON's own spelling */
		n = kj_node(file, YNODE_SCALAR);
		n->scalar = kj_strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		n->plain = true;
		return n;
	}
}

static const char *kj_origin(struct ydoc_set *set)
{
	if (set->nfiles && !strcmp(set->files[0], KUBE_JSON_ORIGIN))
		return set->files[0];
	set->files = realloc(set->files, (set->nfiles + 1) * sizeof(*set->files));
	if (!set->files)
		abort();
	memmove(set->files + 1, set->files, set->nfiles * sizeof(*set->files));
	set->files[0] = kj_strdup(KUBE_JSON_ORIGIN);
	set->nfiles++;
	return set->files[0];
}

void kube_json_add_doc(struct ydoc_set *set, struct json_object *obj)
{
	struct ynode *doc = kj_convert(obj, kj_origin(set));

	set->docs = realloc(set->docs, (set->n + 1) * sizeof(*set->docs));
	if (!set->docs)
		abort();
	set->docs[set->n++] = doc;
}
