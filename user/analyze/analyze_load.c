// SPDX-License-Identifier: Apache-2.0
/*
 * Lenient loading for analysis. skiffd refuses a whole snapshot when one document is wrong (the
 * last good configuration stays in force); analysis must instead say what is wrong with that
 * document AND analyze the rest, as istioctl does. So each document goes into the model on its
 * own, and what the validator says about it becomes an IST0106 (errors) or SKF0005/SKF0007
 * (warnings) message about that very object.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analyze/analyze.h"
#include "config/config_watch.h"

/* "file:line: Kind ns/name: body" -> origin and body (any part may be missing). */
struct diag_parts {
	char *file;
	int line;
	char kind[64], ns[254], name[254];
	const char *body;
};

static void diag_split(char *msg, struct diag_parts *p)
{
	char *s = msg, *colon = strchr(msg, ':'), *end;
	long line;

	memset(p, 0, sizeof(*p));
	/* "file:line: " (the file is the prefix before the first ':' that a line number follows) */
	while (colon) {
		line = strtol(colon + 1, &end, 10);
		if (end > colon + 1 && end[0] == ':' && end[1] == ' ') {
			*colon = '\0';
			p->file = msg;
			p->line = (int)line;
			s = end + 2;
			break;
		}
		colon = strchr(colon + 1, ':');
	}
	p->body = s;
	/* "Kind ns/name: " or "Kind name: ", as the model's parsers prefix their messages */
	if (sscanf(s, "%63[A-Za-z] %253[^/: ]/%253[^: ]: ", p->kind, p->ns, p->name) == 3 ||
	    (p->ns[0] = '\0', sscanf(s, "%63[A-Za-z] %253[^/: ]: ", p->kind, p->name) == 2)) {
		colon = strstr(s, ": ");
		if (colon &&
		    (size_t)(colon - s) <= strlen(p->kind) + strlen(p->ns) + strlen(p->name) + 2) {
			p->body = colon + 2;
			return;
		}
	}
	p->kind[0] = p->ns[0] = p->name[0] = '\0';
}

/* A message that names no object ("kind Deployment is not used") is about the document `doc`. */
static void origin_of_doc(const struct ynode *doc, struct diag_parts *p)
{
	const struct ynode *md = ynode_get(doc, "metadata");
	const char *kind = ynode_str(ynode_get(doc, "kind"));
	const char *ns = ynode_str(ynode_get(md, "namespace"));
	const char *name = ynode_str(ynode_get(md, "name"));

	if (p->kind[0] || !kind || !name)
		return;
	snprintf(p->kind, sizeof(p->kind), "%s", kind);
	snprintf(p->ns, sizeof(p->ns), "%s", ns ? ns : "");
	snprintf(p->name, sizeof(p->name), "%s", name);
}

static void from_diag(struct diag *d, size_t from, enum an_code err_code, enum an_code warn_code,
		      const struct ynode *doc, struct an_result *r)
{
	for (size_t i = from; i < d->n; i++) {
		struct diag_parts p;
		enum an_code code = d->v[i].level == DIAG_ERROR ? err_code : warn_code;

		diag_split(d->v[i].msg, &p);
		if (doc)
			origin_of_doc(doc, &p);
		if (code == SKF0007 && strstr(p.body, "is not used by skiffd"))
			code = SKF0005;
		analyze_report_at(r, code, p.kind, p.ns, p.name, p.file, p.line,
				  code == IST0106 ? "correct the field named above; until then "
						    "skiffd refuses the whole configuration and "
						    "keeps its previous one"
						  : NULL,
				  code == IST0106 ? "Schema validation error: %s" : "%s", p.body);
	}
}

void analyze_from_diag(struct diag *d, size_t from, enum an_code err_code, enum an_code warn_code,
		       struct an_result *r)
{
	from_diag(d, from, err_code, warn_code, NULL, r);
}

static void diag_to_msgs(struct diag *d, size_t from, struct an_result *r)
{
	analyze_from_diag(d, from, IST0106, SKF0007, r);
}

/* (kind, namespace, name) of a document, for files replacing live objects. */
static void doc_id(const struct ynode *doc, char *buf, size_t len)
{
	const struct ynode *md = ynode_get(doc, "metadata");
	const char *kind = ynode_str(ynode_get(doc, "kind"));
	const char *ns = ynode_str(ynode_get(md, "namespace"));
	const char *name = ynode_str(ynode_get(md, "name"));

	snprintf(buf, len, "%s/%s/%s", kind ? kind : "", ns && ns[0] ? ns : "default",
		 name ? name : "");
}

static bool replaced(const struct ydoc_set *files, size_t from, const struct ynode *live_doc)
{
	char a[600], b[600];

	doc_id(live_doc, a, sizeof(a));
	for (size_t i = from; i < files->n; i++) {
		doc_id(files->docs[i], b, sizeof(b));
		if (!strcmp(a, b))
			return true;
	}
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Parse one path: a manifest file, or every manifest directly in a directory (sorted). */
static int load_path(struct ydoc_set *set, const char *path, struct diag *d)
{
	struct stat st;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	int dir_len = (int)strlen(path);
	DIR *dh;

	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode)) {
		int rc = yaml_parse_file(set, path, d);

		return rc == -EINVAL ? 0 : rc;
	}
	dh = opendir(path);
	if (!dh)
		return -errno;
	/* "dir/" names its files "dir/x.yaml", as the user would write them */
	while (dir_len > 1 && path[dir_len - 1] == '/')
		dir_len--;
	while ((e = readdir(dh)))
		if (config_is_manifest_name(e->d_name)) {
			names = realloc(names, (n + 1) * sizeof(*names));
			if (!names ||
			    asprintf(&names[n++], "%.*s/%s", dir_len, path, e->d_name) < 0)
				abort();
		}
	closedir(dh);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
			yaml_parse_file(set, names[i], d);
		free(names[i]);
	}
	free(names);
	return 0;
}

static int parse_inputs(const char *const *paths, size_t n, struct ydoc_set *set,
			struct an_result *r, struct diag *err)
{
	struct diag d = {0};

	for (size_t i = 0; i < n; i++) {
		size_t from = d.n;
		int rc = load_path(set, paths[i], &d);

		if (rc < 0) {
			diag_add(err, DIAG_ERROR, paths[i], 0, "cannot read: %s (check the path)",
				 strerror(-rc));
			diag_free(&d);
			return rc;
		}
		diag_to_msgs(&d, from, r); /* YAML syntax errors: about a file, not an object */
	}
	diag_free(&d);
	return 0;
}

static void add_docs(struct model *m, size_t live_n, struct an_result *r)
{
	for (size_t i = 0; i < m->src.n; i++) {
		const struct ynode *doc = m->src.docs[i];
		struct diag d = {0};

		if (i < live_n && replaced(&m->src, live_n, doc))
			continue;
		model_add_doc(m, doc, &d);
		from_diag(&d, 0, IST0106, SKF0007, doc, r);
		diag_free(&d);
	}
}

int analyze_load(const char *const *paths, size_t n, struct ydoc_set *live, struct model *m,
		 struct an_result *r, struct diag *err)
{
	struct diag d = {0};
	size_t live_n = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	m->root_namespace = strdup("istio-system");
	if (!m->root_namespace)
		abort();
	if (live) {
		m->src = *live;
		memset(live, 0, sizeof(*live));
		live_n = m->src.n;
	}
	rc = parse_inputs(paths, n, &m->src, r, err);
	if (rc < 0)
		return rc;
	add_docs(m, live_n, r);
	model_validate(m, &d);
	diag_to_msgs(&d, 0, r);
	diag_free(&d);
	return 0;
}
