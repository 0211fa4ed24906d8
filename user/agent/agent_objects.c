// SPDX-License-Identifier: Apache-2.0
/*
 * /config_objects on the admin port: every object of the snapshot skiffd has in force, as JSON,
 * each with the file:line it was read from, plus the node and the pods enrolled on it. This is
 * what `skiffctl analyze --live` analyzes: the configuration skiffd holds, which after a
 * rejected change is not what the directory holds.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_state.h"
#include "common/strbuf.h"

/* A plain scalar YAML reads as a number, boolean or null stays one in JSON. */
static bool json_literal(const struct ynode *n)
{
	const char *s = n->scalar;
	char *end;

	if (!n->plain || !s || !s[0])
		return false;
	if (!strcmp(s, "true") || !strcmp(s, "false") || !strcmp(s, "null"))
		return true;
	if (!(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
		return false;
	strtod(s, &end);
	return *end == '\0';
}

static void node_json(struct strbuf *b, const struct ynode *n)
{
	if (n->kind == YNODE_SCALAR) {
		if (json_literal(n))
			sb_printf(b, "%s", n->scalar);
		else
			sb_json_str(b, n->scalar ? n->scalar : "");
		return;
	}
	sb_printf(b, "%s", n->kind == YNODE_MAP ? "{" : "[");
	for (size_t i = 0; i < n->n; i++) {
		sb_printf(b, "%s", i ? "," : "");
		if (n->kind == YNODE_MAP) {
			sb_json_str(b, n->keys[i]);
			sb_printf(b, ":");
		}
		node_json(b, n->items[i]);
	}
	sb_printf(b, "%s", n->kind == YNODE_MAP ? "}" : "]");
}

static void objects_json(struct strbuf *b, const struct model *m)
{
	sb_printf(b, "\"items\":[");
	for (size_t i = 0, first = 1; i < m->src.n; i++) {
		const struct ynode *doc = m->src.docs[i];

		if (!doc || doc->kind != YNODE_MAP)
			continue;
		sb_printf(b, "%s{\"file\":", first ? "" : ",");
		sb_json_str(b, doc->file ? doc->file : "");
		sb_printf(b, ",\"line\":%d,\"object\":", ynode_key_line(doc, "kind"));
		node_json(b, doc);
		sb_printf(b, "}");
		first = 0;
	}
	sb_printf(b, "]");
}

char *agent_config_objects(struct agent *a)
{
	struct agent_snap *s = agent_snap_current(a);
	struct strbuf b = {0};

	sb_printf(&b, "{\"node\":");
	sb_json_str(&b, a->o->node);
	sb_printf(&b, ",\"applied\":%s,\"enrolled_pods\":[", s ? "true" : "false");
	for (size_t i = 0; i < a->view.npods; i++) {
		sb_printf(&b, "%s", i ? "," : "");
		sb_json_str(&b, a->view.pods[i].name);
	}
	sb_printf(&b, "],");
	if (s)
		objects_json(&b, &s->m);
	else
		sb_printf(&b, "\"items\":[]");
	sb_printf(&b, "}\n");
	if (s)
		agent_snap_unref(s);
	return sb_take(&b);
}
