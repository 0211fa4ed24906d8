// SPDX-License-Identifier: Apache-2.0
/*
 * Building a model: files -> YAML documents -> typed resources -> cross-resource checks. A model
 * is valid as a whole or not at all: any error frees it and returns -EINVAL, so the caller keeps
 * the snapshot already in force.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/config_watch.h"
#include "model/parse.h"
#include "model/model_pool.h"

struct kind_def {
	const char *kind;
	const char *group; /* "" for the core group */
	const char *const *versions;
	bool namespaced;
	int (*parse)(struct pctx *c);
};

static const char *const v_core[] = {"v1", NULL};
static const char *const v_istio_net[] = {"v1", "v1beta1", "v1alpha3", NULL};
static const char *const v_istio_sec[] = {"v1", "v1beta1", NULL};
static const char *const v_istio_tel[] = {"v1", "v1alpha1", NULL};
static const char *const v_istio_install[] = {"v1alpha1", NULL};

static const struct kind_def kinds[] = {
    {"Namespace", "", v_core, false, parse_namespace},
    {"ServiceAccount", "", v_core, true, parse_serviceaccount},
    {"Pod", "", v_core, true, parse_pod},
    {"Service", "", v_core, true, parse_service},
    {"EndpointSlice", "discovery.k8s.io", v_core, true, parse_endpointslice},
    {"VirtualService", "networking.istio.io", v_istio_net, true, parse_virtualservice},
    {"DestinationRule", "networking.istio.io", v_istio_net, true, parse_destinationrule},
    {"PeerAuthentication", "security.istio.io", v_istio_sec, true, parse_peerauthentication},
    {"AuthorizationPolicy", "security.istio.io", v_istio_sec, true, parse_authorizationpolicy},
    {"Telemetry", "telemetry.istio.io", v_istio_tel, true, parse_telemetry},
    {"IstioOperator", "install.istio.io", v_istio_install, true, parse_istiooperator},
    {"ConfigMap", "", v_core, true, parse_configmap},
};

static const struct kind_def *kind_find(const char *kind)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].kind, kind))
			return &kinds[i];
	return NULL;
}

/* "group/version" (or "version" for the core group) is one this kind is served at. */
static bool kind_version_ok(const struct kind_def *k, const char *api_version)
{
	size_t glen = strlen(k->group);
	const char *ver = api_version;

	if (glen) {
		if (strncmp(api_version, k->group, glen) || api_version[glen] != '/')
			return false;
		ver = api_version + glen + 1;
	}
	for (size_t i = 0; k->versions[i]; i++)
		if (!strcmp(k->versions[i], ver))
			return true;
	return false;
}

static void kind_versions_text(const struct kind_def *k, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; k->versions[i] && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s%s%s", i ? " or " : "", k->group,
				k->group[0] ? "/" : "", k->versions[i]);
}

static int model_add_list(struct model *m, const struct ynode *doc, struct diag *d)
{
	const struct ynode *items = ynode_get(doc, "items");
	int rc = 0;

	if (!items)
		return 0;
	if (items->kind != YNODE_SEQ) {
		diag_add(d, DIAG_ERROR, items->file, items->line,
			 "List: items must be a sequence, not a %s", ynode_kind_name(items->kind));
		return -EINVAL;
	}
	for (size_t i = 0; i < items->n; i++)
		if (model_add_doc(m, items->items[i], d) < 0)
			rc = -EINVAL;
	return rc;
}

static int model_add_known(struct model *m, const struct kind_def *k, const struct ynode *doc,
			   const char *api_version, struct diag *d)
{
	const struct ynode *md = ynode_get(doc, "metadata");
	const char *name = ynode_str(ynode_get(md, "name"));
	const char *ns = ynode_str(ynode_get(md, "namespace"));
	struct pctx c = {.m = m, .d = d, .doc = doc, .kind = k->kind};
	char versions[128];

	c.name = name && name[0] ? name : "<unnamed>";
	c.ns = !k->namespaced ? "" : ns && ns[0] ? ns : "default";
	if (!kind_version_ok(k, api_version)) {
		kind_versions_text(k, versions, sizeof(versions));
		perr(&c, ynode_get(doc, "apiVersion"),
		     "apiVersion %s is not served for %s (use %s)", api_version, k->kind, versions);
		return -EINVAL;
	}
	if (k->parse(&c) < 0 || c.errors)
		return -EINVAL;
	return 0;
}

int model_add_doc(struct model *m, const struct ynode *doc, struct diag *d)
{
	const struct kind_def *k;
	const char *kind, *api;

	if (!doc || doc->kind != YNODE_MAP) {
		diag_add(d, DIAG_ERROR, doc ? doc->file : NULL, doc ? doc->line : 0,
			 "document is a %s, expected a Kubernetes object (apiVersion, kind, "
			 "metadata)",
			 doc ? ynode_kind_name(doc->kind) : "nothing");
		return -EINVAL;
	}
	kind = ynode_str(ynode_get(doc, "kind"));
	api = ynode_str(ynode_get(doc, "apiVersion"));
	if (!kind || !kind[0] || !api || !api[0]) {
		diag_add(d, DIAG_ERROR, doc->file, doc->line,
			 "document has no %s: every object needs apiVersion and kind",
			 !kind || !kind[0] ? "kind" : "apiVersion");
		return -EINVAL;
	}
	if (!strcmp(kind, "List") && !strcmp(api, "v1"))
		return model_add_list(m, doc, d);
	k = kind_find(kind);
	if (!k) {
		diag_add(d, DIAG_WARN, doc->file, ynode_key_line(doc, "kind"),
			 "kind %s (%s) is not used by skiffd, skipped", kind, api);
		return 0;
	}
	return model_add_known(m, k, doc, api, d);
}

static void model_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m->root_namespace = strdup("istio-system");
	if (!m->root_namespace)
		abort();
	model_mesh_tracing_init(&m->tracing);
}

/*
 * Every resource has been read into the model's own fields, except an AuthorizationPolicy's
 * rules (m_authorizationpolicy.rules points into its document). The other trees go: a cluster's
 * 50,000 pods would otherwise be held twice, as resources and as parse trees.
 */
static void forget_docs(struct meta *first, size_t n, size_t stride)
{
	for (size_t i = 0; i < n; i++)
		((struct meta *)((char *)first + i * stride))->doc = NULL;
}

#define FORGET_DOCS(arr, n)                                                                        \
	do {                                                                                       \
		if (n)                                                                             \
			forget_docs(&(arr)[0].meta, (n), sizeof((arr)[0]));                        \
	} while (0)

static void model_drop_trees(struct model *m)
{
	size_t k = 0;

	/* meta.doc of what goes must not point at freed trees */
	FORGET_DOCS(m->namespaces, m->nnamespaces);
	FORGET_DOCS(m->serviceaccounts, m->nserviceaccounts);
	FORGET_DOCS(m->pods, m->npods);
	FORGET_DOCS(m->services, m->nservices);
	FORGET_DOCS(m->endpointslices, m->nendpointslices);
	FORGET_DOCS(m->virtualservices, m->nvirtualservices);
	FORGET_DOCS(m->destinationrules, m->ndestinationrules);
	FORGET_DOCS(m->peerauthentications, m->npeerauthentications);
	FORGET_DOCS(m->telemetries, m->ntelemetries);

	for (size_t i = 0; i < m->src.n; i++) {
		const char *kind = ynode_str(ynode_get(m->src.docs[i], "kind"));

		if (kind && !strcmp(kind, "AuthorizationPolicy"))
			m->src.docs[k++] = m->src.docs[i];
		else
			ynode_free(m->src.docs[i]);
	}
	m->src.n = k;
}

/* Arrays grew by doubling while loading; a cluster's 50,000 pods would keep up to half as much
 * again of unused room for as long as the model lives. Nothing is added to a loaded model
 * (parray_push infers the room from the count, so it must not be). */
static void *fit(void *arr, size_t n, size_t elem)
{
	void *p = n ? realloc(arr, n * elem) : arr;

	return p ? p : arr;
}

#define FIT(arr, n) ((arr) = fit((arr), (n), sizeof((arr)[0])))

static void model_fit_arrays(struct model *m)
{
	FIT(m->pods, m->npods);
	FIT(m->services, m->nservices);
	FIT(m->endpointslices, m->nendpointslices);
}

/* Every document is in: validate, and keep or drop the whole model. */
static int model_validated(struct model *m, size_t errors_before, int io_err, struct diag *d)
{
	model_validate(m, d);
	if (d->errors == errors_before && !io_err) {
		model_drop_trees(m);
		model_fit_arrays(m);
		return 0;
	}
	model_free(m);
	return io_err ? io_err : -EINVAL;
}

/* Parse is done; turn documents into resources, validate, and keep or drop the whole model. */
static int model_finish(struct model *m, size_t errors_before, int io_err, struct diag *d)
{
	for (size_t i = 0; i < m->src.n; i++)
		model_add_doc(m, m->src.docs[i], d);
	return model_validated(m, errors_before, io_err, d);
}

void model_load_start(struct model *m)
{
	model_init(m);
}

/* The tree goes as soon as it is read: the model keeps none but AuthorizationPolicy's (and a
 * List's, which may hold one). Resources keep meta.doc pointing at it until model_drop_trees
 * forgets them all; nothing reads meta.doc before that. */
void model_load_one(struct model *m, struct ynode *doc, struct diag *d)
{
	const char *kind = ynode_str(ynode_get(doc, "kind"));

	model_add_doc(m, doc, d);
	if (kind && (!strcmp(kind, "AuthorizationPolicy") || !strcmp(kind, "List")))
		ydoc_set_push(&m->src, doc);
	else
		ynode_free(doc);
}

int model_load_end(struct model *m, size_t errors_before, struct diag *d)
{
	return model_validated(m, errors_before, 0, d);
}

int model_load_files(const char *const *paths, size_t n, struct model *out, struct diag *d)
{
	size_t errors_before = d->errors;
	int io_err = 0, rc;

	model_init(out);
	for (size_t i = 0; i < n; i++) {
		rc = yaml_parse_file(&out->src, paths[i], d);
		if (rc < 0 && rc != -EINVAL && !io_err)
			io_err = rc;
	}
	return model_finish(out, errors_before, io_err, d);
}

int model_load_string(const char *name, const char *yaml, struct model *out, struct diag *d)
{
	size_t errors_before = d->errors;

	model_init(out);
	yaml_parse_string(&out->src, name, yaml, strlen(yaml), d);
	return model_finish(out, errors_before, 0, d);
}

int model_load_set(struct ydoc_set *docs, struct model *out, struct diag *d)
{
	size_t errors_before = d->errors;

	model_init(out);
	out->src = *docs;
	memset(docs, 0, sizeof(*docs));
	return model_finish(out, errors_before, 0, d);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Sorted full paths of the manifests directly in `dir`. */
static int model_list_dir(const char *dir, char ***out, size_t *n)
{
	struct dirent *e;
	struct stat st;
	char *path;
	DIR *dh;

	*out = NULL;
	*n = 0;
	dh = opendir(dir);
	if (!dh)
		return -errno;
	while ((e = readdir(dh))) {
		if (!config_is_manifest_name(e->d_name))
			continue;
		if (asprintf(&path, "%s/%s", dir, e->d_name) < 0)
			abort();
		/* stat, not d_type: a symlink to a file counts (ConfigMap volumes are symlinks) */
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		*PUSH(*out, *n) = path;
	}
	closedir(dh);
	if (*n)
		qsort(*out, *n, sizeof(**out), cmp_str);
	return 0;
}

int model_read_dir_docs(const char *dir, struct ydoc_set *set, struct diag *d)
{
	char **paths;
	size_t n;
	int rc;

	rc = model_list_dir(dir, &paths, &n);
	if (rc < 0) {
		diag_add(d, DIAG_ERROR, dir, 0, "cannot read config directory: %s", strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < n; i++)
		yaml_parse_file(set, paths[i], d);
	free_strs(paths, n);
	return 0;
}

int model_load_dir(const char *dir, struct model *out, struct diag *d)
{
	char **paths;
	size_t n;
	int rc;

	rc = model_list_dir(dir, &paths, &n);
	if (rc < 0) {
		memset(out, 0, sizeof(*out));
		diag_add(d, DIAG_ERROR, dir, 0, "cannot read config directory: %s", strerror(-rc));
		return rc;
	}
	rc = model_load_files((const char *const *)paths, n, out, d);
	free_strs(paths, n);
	return rc;
}

void model_free(struct model *m)
{
	free_k8s_resources(m);
	free_istio_resources(m);
	free_telemetry_resources(m);
	free_mesh_config(m);
	model_index_free(m);
	free(m->root_namespace);
	model_mesh_tracing_free(&m->tracing);
	ydoc_set_free(&m->src);
	model_pool_free(m->pool);
	memset(m, 0, sizeof(*m));
}
