// SPDX-License-Identifier: Apache-2.0
/*
 * Istio resources go to skiffd untouched: the documents of kinds from *.istio.io are copied
 * verbatim into <config>/user-<basename>.yaml. Like the API server, the lab keeps one object per
 * kind/namespace/name: applying an object removes its older copy from other user files (so
 * virtual-service-50-50.yaml replaces what virtual-service.yaml said), and delete removes it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "config/yaml_tree.h"
#include "lab/lab.h"

/* One document of a file: its text and, when it is an Istio object, "kind ns/name". */
struct piece {
	char *text;
	char id[3 * LAB_NAME + 8];
};

struct pieces {
	struct piece *v;
	size_t n;
};

static bool line_is_separator(const char *s)
{
	return !strncmp(s, "---", 3) && (s[3] == 0 || s[3] == '\n' || s[3] == ' ' || s[3] == '\r');
}

static void classify(struct piece *p, const char *file)
{
	struct ydoc_set set = {0};
	struct diag d = {0};

	if (yaml_parse_string(&set, file, p->text, strlen(p->text), &d) == 0 && set.n) {
		const struct ynode *doc = set.docs[0];
		const char *api = ynode_str(ynode_get(doc, "apiVersion")) ?: "";
		const char *ns = ynode_str(ynode_path(doc, "metadata.namespace")) ?: "default";

		if (strstr(api, ".istio.io/"))
			lab_fmt(p->id, sizeof(p->id), "%s %s/%s",
				ynode_str(ynode_get(doc, "kind")) ?: "?", ns,
				ynode_str(ynode_path(doc, "metadata.name")) ?: "?");
	}
	ydoc_set_free(&set);
	diag_free(&d);
}

static void pieces_add(struct pieces *ps, const char *start, size_t len, const char *file)
{
	struct piece *p = lab_push(&ps->v, &ps->n, sizeof(*p));

	p->text = strndup(start, len);
	if (!p->text)
		abort();
	classify(p, file);
}

static int pieces_read(struct pieces *ps, const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL, *line, *start;
	size_t cap = 0;
	ssize_t len;

	if (!f)
		return -errno;
	len = getdelim(&buf, &cap, 0, f);
	fclose(f);
	if (len < 0 || !buf) { /* buf is set whenever len >= 0; the analyzer doubts it */
		free(buf);
		return 0;
	}
	start = line = buf;
	for (; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (!line_is_separator(line))
			continue;
		if (line > start)
			pieces_add(ps, start, line - start, path);
		start = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + strlen(line);
	}
	if (*start)
		pieces_add(ps, start, strlen(start), path);
	free(buf);
	return 0;
}

static void pieces_free(struct pieces *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		free(ps->v[i].text);
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}

static bool pieces_has_id(const struct pieces *ps, const char *id)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->v[i].id[0] && !strcmp(ps->v[i].id, id))
			return true;
	return false;
}

/* Write the Istio documents of `ps` to `path`, or remove it when there are none. */
static int pieces_write(const struct pieces *ps, const char *path)
{
	struct strbuf b = {0};
	int err = 0;

	for (size_t i = 0; i < ps->n; i++) {
		if (!ps->v[i].id[0])
			continue;
		sb_printf(&b, "%s%s", b.len ? "---\n" : "", ps->v[i].text);
		if (b.s[b.len - 1] != '\n')
			sb_printf(&b, "\n");
	}
	if (b.len)
		err = lab_write_atomic(path, b.s, b.len);
	else if (unlink(path) < 0 && errno != ENOENT)
		err = -errno;
	sb_free(&b);
	return err;
}

static void user_file(char *out, const struct lab *lab, const char *file)
{
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	char name[PATH_MAX];

	lab_fmt(name, sizeof(name), "config/user-%s", base);
	if (!strstr(name, ".yaml") && !strstr(name, ".yml"))
		strncat(name, ".yaml", sizeof(name) - strlen(name) - 1);
	lab_path(out, lab, name);
}

/* Drop from every user file except `keep` the objects that `ps` (re)defines. */
static int drop_elsewhere(const struct lab *lab, const struct pieces *ps, const char *keep)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int err = 0;

	lab_path(dir, lab, "config");
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		struct pieces old = {0};
		bool changed = false;

		if (strncmp(e->d_name, "user-", 5))
			continue;
		lab_fmt(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((keep && !strcmp(path, keep)) || pieces_read(&old, path) < 0)
			continue;
		for (size_t i = 0; i < old.n; i++)
			if (old.v[i].id[0] && pieces_has_id(ps, old.v[i].id)) {
				old.v[i].id[0] = 0;
				changed = true;
			}
		if (changed && pieces_write(&old, path) < 0)
			err = -EIO;
		pieces_free(&old);
	}
	closedir(d);
	return err;
}

static size_t istio_count(const struct pieces *ps)
{
	size_t n = 0;

	for (size_t i = 0; i < ps->n; i++)
		n += ps->v[i].id[0] != 0;
	return n;
}

int lab_istio_apply(const struct lab *lab, const char *file)
{
	struct pieces ps = {0};
	char path[PATH_MAX];
	int err;

	err = pieces_read(&ps, file);
	if (err || !istio_count(&ps))
		goto out;
	user_file(path, lab, file);
	err = drop_elsewhere(lab, &ps, path);
	if (!err)
		err = pieces_write(&ps, path);
out:
	pieces_free(&ps);
	return err;
}

int lab_istio_delete(const struct lab *lab, const char *file)
{
	struct pieces ps = {0};
	char path[PATH_MAX];
	int err;

	err = pieces_read(&ps, file);
	if (err)
		goto out;
	user_file(path, lab, file);
	if (unlink(path) < 0 && errno != ENOENT)
		err = -errno;
	if (istio_count(&ps) && drop_elsewhere(lab, &ps, NULL) < 0)
		err = -EIO;
out:
	pieces_free(&ps);
	return err;
}
