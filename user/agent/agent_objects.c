// SPDX-License-Identifier: Apache-2.0
/*
 * /config_objects on the admin port: every object the configuration source holds now (the
 * directory's files, or the API objects the watches hold), as JSON, each with the file:line it
 * was read from, plus the node, whether a generation is in force, and the pods enrolled on it.
 * This is what `skiffctl analyze --live` analyzes. As `istioctl analyze` reads the cluster and not
 * what the proxies accepted, a change skiffd refused is in it, and analyze names what is wrong.
 * It is read from the source on each request: a loaded model keeps no parse trees to serve.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/agent_state.h"
#include "common/strbuf.h"
#include "config/yaml_json.h"
#include "kube/kube_source.h"

static void objects_json(struct strbuf *b, const struct ydoc_set *set)
{
	sb_printf(b, "\"items\":[");
	for (size_t i = 0, first = 1; i < set->n; i++) {
		const struct ynode *doc = set->docs[i];

		if (!doc || doc->kind != YNODE_MAP)
			continue;
		sb_printf(b, "%s{\"file\":", first ? "" : ",");
		sb_json_str(b, doc->file ? doc->file : "");
		sb_printf(b, ",\"line\":%d,\"object\":", ynode_key_line(doc, "kind"));
		ynode_json(b, doc);
		sb_printf(b, "}");
		first = 0;
	}
	sb_printf(b, "]");
}

/* The source's documents now; diagnostics of files that do not parse are left to the reload. */
static void source_docs(struct agent *a, struct ydoc_set *set)
{
	struct diag d = {0};

	if (a->kube)
		kube_source_docs(a->kube, set);
	else if (a->o->config_dir)
		model_read_dir_docs(a->o->config_dir, set, &d);
	diag_free(&d);
}

char *agent_config_objects(struct agent *a)
{
	struct agent_snap *s = agent_snap_current(a);
	struct ydoc_set set = {0};
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
		agent_snap_unref(s);
	source_docs(a, &set);
	objects_json(&b, &set);
	ydoc_set_free(&set);
	sb_printf(&b, "}\n");
	return sb_take(&b);
}
