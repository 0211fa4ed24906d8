// SPDX-License-Identifier: Apache-2.0
/*
 * The mesh config, read from an IstioOperator's spec.meshConfig as Istio's install guide writes
 * it. skiffd applies the access log settings (accessLogFile, accessLogEncoding, the default
 * access log providers and the file providers among extensionProviders); the other fields
 * belong to other features and are left to them, without warnings, since an operator file
 * carries many settings that configure istiod rather than the data plane.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_istio_common.h"

static const char *const encodings[] = {"TEXT", "JSON", NULL};

/* extensionProviders[]: a name each; envoyFileAccessLog's path for those access logs use. */
static void mesh_providers(struct pctx *c, struct m_meshconfig *mc, const struct ynode *mcn)
{
	const struct ynode *ps = pget(c, mcn, "extensionProviders", YNODE_SEQ, false,
				      "spec.meshConfig.extensionProviders");
	char p[128];

	for (size_t i = 0; ps && i < ps->n; i++) {
		const struct ynode *e = ps->items[i], *f;
		struct m_log_provider *lp;
		char *name;

		pathf(p, sizeof(p), "spec.meshConfig.extensionProviders[%zu]", i);
		if (e->kind != YNODE_MAP) {
			perr(c, e, "%s must be a mapping with a name", p);
			continue;
		}
		name = pstr(c, e, "name", true, pathf(p, sizeof(p),
				"spec.meshConfig.extensionProviders[%zu].name", i));
		if (!name)
			continue;
		lp = PUSH(mc->log_providers, mc->nlog_providers);
		lp->name = name;
		f = pget(c, e, "envoyFileAccessLog", YNODE_MAP, false, NULL);
		if (f)
			lp->path = pstr(c, f, "path", false, pathf(p, sizeof(p),
					"spec.meshConfig.extensionProviders[%zu]"
					".envoyFileAccessLog.path", i));
		if (f && !lp->path)
			lp->path = strdup("/dev/stdout");
	}
}

static void mesh_access_log(struct pctx *c, struct m_meshconfig *mc, const struct ynode *mcn)
{
	const struct ynode *dp;
	int enc;

	mc->access_log_file = pstr(c, mcn, "accessLogFile", false, "spec.meshConfig.accessLogFile");
	if (mc->access_log_file && mc->access_log_file[0] &&
	    strcmp(mc->access_log_file, "/dev/stdout"))
		pwarn(c, ynode_get(mcn, "accessLogFile"),
		      "spec.meshConfig.accessLogFile %s: skiffd writes access logs to its "
		      "standard output only (collect them from there)", mc->access_log_file);
	enc = istio_check_enum(c, mcn, "accessLogEncoding", encodings,
			       "spec.meshConfig.accessLogEncoding");
	mc->access_log_text = enc == 0;
	if (ynode_get(mcn, "accessLogFormat"))
		pwarn(c, ynode_get(mcn, "accessLogFormat"),
		      "spec.meshConfig.accessLogFormat is not applied: skiffd writes its fixed "
		      "set of Envoy fields");
	dp = pget(c, mcn, "defaultProviders", YNODE_MAP, false, "spec.meshConfig.defaultProviders");
	if (dp)
		pstrlist(c, dp, "accessLogging", &mc->default_log_providers,
			 &mc->ndefault_log_providers,
			 "spec.meshConfig.defaultProviders.accessLogging");
	mesh_providers(c, mc, mcn);
}

int parse_istiooperator(struct pctx *c)
{
	struct m_meshconfig *mc = &c->m->mesh;
	const struct ynode *spec, *mcn;
	int errors = c->errors;
	struct meta meta;

	pmeta(c, &meta, true);
	meta_free(&meta);
	spec = pget(c, c->doc, "spec", YNODE_MAP, false, "spec");
	mcn = spec ? pget(c, spec, "meshConfig", YNODE_MAP, false, "spec.meshConfig") : NULL;
	if (!mcn)
		return c->errors > errors ? -EINVAL : 0;
	if (mc->set) {
		perr(c, mcn, "spec.meshConfig: a mesh config was already read from %s:%d; skiffd "
			     "reads one: keep a single IstioOperator with meshConfig",
		     mc->file, mc->line);
		return -EINVAL;
	}
	mc->set = true;
	mc->file = mcn->file;
	mc->line = ynode_key_line(spec, "meshConfig");
	mesh_access_log(c, mc, mcn);
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
	memset(mc, 0, sizeof(*mc));
}
