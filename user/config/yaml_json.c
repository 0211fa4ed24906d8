// SPDX-License-Identifier: Apache-2.0
/* YAML trees as JSON: /config_objects, and the lab publishing its objects to its API server. */
#include <stdlib.h>
#include <string.h>

#include "config/yaml_json.h"

static void scalar_json(struct strbuf *b, const struct ynode *n)
{
	const char *s = n->scalar ?: "";
	char *end;

	if (!n->plain) {
		sb_json_str(b, s);
		return;
	}
	if (!*s || !strcmp(s, "~") || !strcmp(s, "null")) {
		sb_printf(b, "null");
		return;
	}
	if (!strcmp(s, "true") || !strcmp(s, "false")) {
		sb_printf(b, "%s", s);
		return;
	}
	strtod(s, &end);
	if (!*end && strspn(s, "+-0123456789.eE") == strlen(s))
		sb_printf(b, "%s", s);
	else
		sb_json_str(b, s);
}

void ynode_json(struct strbuf *b, const struct ynode *n)
{
	if (!n) {
		sb_printf(b, "null");
		return;
	}
	if (n->kind == YNODE_SCALAR) {
		scalar_json(b, n);
		return;
	}
	sb_printf(b, "%s", n->kind == YNODE_MAP ? "{" : "[");
	for (size_t i = 0; i < n->n; i++) {
		sb_printf(b, "%s", i ? "," : "");
		if (n->kind == YNODE_MAP) {
			sb_json_str(b, n->keys[i]);
			sb_printf(b, ":");
		}
		ynode_json(b, n->items[i]);
	}
	sb_printf(b, "%s", n->kind == YNODE_MAP ? "}" : "]");
}
