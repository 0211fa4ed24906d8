// SPDX-License-Identifier: Apache-2.0
/*
 * The mesh config, read from an IstioOperator's spec.meshConfig as Istio's install guide writes
 * it, or from the `istio` ConfigMap of the root namespace (its `mesh` key), which is where
 * istiod reads it and where Helm's `--set meshConfig.accessLogFile=...` puts it.
 * Here: the access log settings (accessLogFile, accessLogEncoding, the default access log
 * providers and the file providers among extensionProviders); tracing reads its own fields
 * (model_mesh_tracing.c). The other fields configure istiod rather than the data plane and are
 * left alone, without warnings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_istio_common.h"

static const char *const encodings[] = {"TEXT", "JSON", NULL};

/* extensionProviders[]: a name each; envoyFileAccessLog's path for those access logs use. */
static void mesh_providers(struct pctx *c, struct m_meshconfig *mc, const struct ynode *mcn,
			   const char *at)
{
	char p[128];
	const struct ynode *ps = pget(c, mcn, "extensionProviders", YNODE_SEQ, false,
				      pathf(p, sizeof(p), "%sextensionProviders", at));

	for (size_t i = 0; ps && i < ps->n; i++) {
		const struct ynode *e = ps->items[i], *f;
		struct m_log_provider *lp;
		char *name;

		pathf(p, sizeof(p), "%sextensionProviders[%zu]", at, i);
		if (e->kind != YNODE_MAP) {
			perr(c, e, "%s must be a mapping with a name", p);
			continue;
		}
		name = pstr(c, e, "name", true,
			    pathf(p, sizeof(p), "%sextensionProviders[%zu].name", at, i));
		if (!name)
			continue;
		lp = PUSH(mc->log_providers, mc->nlog_providers);
		lp->name = name;
		f = pget(c, e, "envoyFileAccessLog", YNODE_MAP, false, NULL);
		if (f)
			lp->path =
			    pstr(c, f, "path", false,
				 pathf(p, sizeof(p),
				       "%sextensionProviders[%zu].envoyFileAccessLog.path", at, i));
		if (f && !lp->path)
			lp->path = strdup("/dev/stdout");
	}
}

/* The access log fields of a mesh config map; `at` prefixes field paths in messages
 * ("spec.meshConfig." or "" for the ConfigMap's own text). */
/* A duration field where "0s" (and 0) mean unset, as Istio's defaults write them. */
static void mesh_duration(struct pctx *c, const struct ynode *mcn, const char *key, int64_t *ms,
			  const char *at)
{
	const struct ynode *n = ynode_get(mcn, key);
	char p[128];

	if (n && n->kind == YNODE_SCALAR &&
	    (!strcmp(n->scalar, "0s") || !strcmp(n->scalar, "0") || !strcmp(n->scalar, "0ms")))
		return;
	if (pduration(c, mcn, key, ms, pathf(p, sizeof(p), "%s%s", at, key)) < 0)
		*ms = 0;
}

/* connectTimeout and protocolDetectionTimeout: skiffd's relay limits where its flags are not
 * given (the flags are the node operator's word; the mesh config the mesh's default). */
static void mesh_timeouts(struct pctx *c, struct m_meshconfig *mc, const struct ynode *mcn,
			  const char *at)
{
	mesh_duration(c, mcn, "connectTimeout", &mc->connect_timeout_ms, at);
	mesh_duration(c, mcn, "protocolDetectionTimeout", &mc->protocol_detection_ms, at);
	if (mc->connect_timeout_ms > 3600 * 1000 || mc->protocol_detection_ms > 3600 * 1000) {
		perr(c, mcn, "%sconnectTimeout and %sprotocolDetectionTimeout must be at most 1h",
		     at, at);
		mc->connect_timeout_ms = mc->protocol_detection_ms = 0;
	}
}

static void mesh_access_log(struct pctx *c, struct m_meshconfig *mc, const struct ynode *mcn,
			    const char *at)
{
	const struct ynode *dp;
	char p[128];
	int enc;

	mc->access_log_file =
	    pstr(c, mcn, "accessLogFile", false, pathf(p, sizeof(p), "%saccessLogFile", at));
	if (mc->access_log_file && mc->access_log_file[0] &&
	    strcmp(mc->access_log_file, "/dev/stdout"))
		pwarn(c, ynode_get(mcn, "accessLogFile"),
		      "%saccessLogFile %s: skiffd writes access logs to its standard output only "
		      "(collect them from there)",
		      at, mc->access_log_file);
	enc = istio_check_enum(c, mcn, "accessLogEncoding", encodings,
			       pathf(p, sizeof(p), "%saccessLogEncoding", at));
	mc->access_log_text = enc == 0;
	if (ynode_get(mcn, "accessLogFormat"))
		pwarn(c, ynode_get(mcn, "accessLogFormat"),
		      "%saccessLogFormat is not applied: skiffd writes its fixed set of Envoy "
		      "fields",
		      at);
	dp = pget(c, mcn, "defaultProviders", YNODE_MAP, false,
		  pathf(p, sizeof(p), "%sdefaultProviders", at));
	if (dp)
		pstrlist(c, dp, "accessLogging", &mc->default_log_providers,
			 &mc->ndefault_log_providers,
			 pathf(p, sizeof(p), "%sdefaultProviders.accessLogging", at));
	mesh_providers(c, mc, mcn, at);
}

/* The one mesh config of the model: a second source is an error naming the first. */
static bool mesh_claim(struct pctx *c, const struct ynode *at, int line, const char *what)
{
	struct m_meshconfig *mc = &c->m->mesh;

	if (mc->set) {
		perr(c, at,
		     "%s: a mesh config was already read from %s:%d; skiffd reads one: keep "
		     "a single IstioOperator meshConfig or istio ConfigMap",
		     what, mc->file, mc->line);
		return false;
	}
	mc->set = true;
	mc->file = at->file;
	mc->line = line;
	return true;
}

int parse_istiooperator(struct pctx *c)
{
	const struct ynode *spec, *mcn;
	int errors = c->errors;
	struct meta meta;

	pmeta(c, &meta, true);
	meta_free(&meta);
	spec = pget(c, c->doc, "spec", YNODE_MAP, false, "spec");
	mcn = spec ? pget(c, spec, "meshConfig", YNODE_MAP, false, "spec.meshConfig") : NULL;
	if (!mcn)
		return c->errors > errors ? -EINVAL : 0;
	if (!mesh_claim(c, mcn, ynode_key_line(spec, "meshConfig"), "spec.meshConfig"))
		return -EINVAL;
	mesh_access_log(c, &c->m->mesh, mcn, "spec.meshConfig.");
	mesh_timeouts(c, &c->m->mesh, mcn, "spec.meshConfig.");
	parse_mesh_tracing(c, mcn);
	return c->errors > errors ? -EINVAL : 0;
}

/* istio-system/istio's data.mesh: YAML in a string. Its problems are reported as
 * "<file> (ConfigMap istio data.mesh):<line in the text>". Other ConfigMaps are not skiffd's. */
int parse_configmap(struct pctx *c)
{
	struct m_meshconfig *mc = &c->m->mesh;
	const struct ynode *text;
	char name[512];
	int errors = c->errors;
	size_t before = mc->cm_src.n;

	if (strcmp(c->name, "istio") || strcmp(c->ns, c->m->root_namespace)) {
		/* as for a kind skiffd does not read (skiffctl analyze shows it as such) */
		diag_add(c->d, DIAG_WARN, c->doc->file, ynode_key_line(c->doc, "kind"),
			 "kind ConfigMap (%s) is not used by skiffd, skipped",
			 ynode_str(ynode_get(c->doc, "apiVersion")));
		return 0;
	}
	text = ynode_path(c->doc, "data.mesh");
	if (!text)
		return 0;
	if (text->kind != YNODE_SCALAR) {
		perr(c, text, "data.mesh must be the mesh config as a YAML string");
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "%s (ConfigMap %s/istio data.mesh)", text->file, c->ns);
	if (yaml_parse_string(&mc->cm_src, name, text->scalar, strlen(text->scalar), c->d) < 0) {
		c->errors++;
		return -EINVAL;
	}
	if (mc->cm_src.n == before)
		return 0; /* an empty mesh config: Istio's defaults */
	if (mc->cm_src.docs[before]->kind != YNODE_MAP) {
		perr(c, text, "data.mesh must hold a mapping of mesh config fields");
		return -EINVAL;
	}
	if (!mesh_claim(c, text, ynode_key_line(ynode_get(c->doc, "data"), "mesh"), "data.mesh"))
		return -EINVAL;
	mesh_access_log(c, mc, mc->cm_src.docs[before], "");
	mesh_timeouts(c, mc, mc->cm_src.docs[before], "");
	parse_mesh_tracing(c, mc->cm_src.docs[before]);
	return c->errors > errors ? -EINVAL : 0;
}

void free_mesh_config(struct model *m)
{
	struct m_meshconfig *mc = &m->mesh;

	free(mc->access_log_file);
	istio_strlist_free(mc->default_log_providers, mc->ndefault_log_providers);
	for (size_t i = 0; i < mc->nlog_providers; i++) {
		free(mc->log_providers[i].name);
		free(mc->log_providers[i].path);
	}
	free(mc->log_providers);
	ydoc_set_free(&mc->cm_src);
	memset(mc, 0, sizeof(*mc));
}
