// SPDX-License-Identifier: Apache-2.0
/*
 * libyaml documents -> struct ynode trees (see yaml_tree.h). We use libyaml's document API and copy
 * each document into our own tree, so the rest of skiffd never sees libyaml types. Aliases become
 * deep copies; a budget on the number of copied nodes stops alias bombs ("billion laughs") and
 * self-referencing anchors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config/yaml_tree.h"

/* Far above any real manifest; a file that expands past this is an alias bomb. */
#define YAML_MAX_NODES (1u << 20)
#define YAML_MAX_DEPTH 256
#define YAML_MAX_FILE  (64u << 20)

struct yconv {
	yaml_document_t *doc;
	const char *file;
	struct diag *d;
	size_t budget;
	int err;
};

static void *yzalloc(size_t n)
{
	void *p = calloc(1, n);

	if (!p)
		abort();
	return p;
}

static char *ystrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		abort();
	return p;
}

static void yconv_fail(struct yconv *y, int line, const char *what, const char *arg)
{
	if (y->err)
		return;
	diag_add(y->d, DIAG_ERROR, y->file, line, "YAML syntax: %s%s", what, arg ? arg : "");
	y->err = -EINVAL;
}

struct ynode *ynode_alloc(enum ynode_kind k, const char *file, int line)
{
	struct ynode *n = yzalloc(sizeof(*n));

	n->kind = k;
	n->file = file;
	n->line = line;
	return n;
}

static struct ynode *ynode_new(struct yconv *y, enum ynode_kind k, const yaml_node_t *src)
{
	return ynode_alloc(k, y->file, (int)src->start_mark.line + 1);
}

void ynode_seq_append(struct ynode *s, struct ynode *val)
{
	s->items = realloc(s->items, (s->n + 1) * sizeof(*s->items));
	if (!s->items)
		abort();
	s->items[s->n++] = val;
}

void ynode_map_append(struct ynode *m, char *key, int key_line, struct ynode *val)
{
	m->keys = realloc(m->keys, (m->n + 1) * sizeof(*m->keys));
	m->key_lines = realloc(m->key_lines, (m->n + 1) * sizeof(*m->key_lines));
	m->items = realloc(m->items, (m->n + 1) * sizeof(*m->items));
	if (!m->keys || !m->key_lines || !m->items)
		abort();
	m->keys[m->n] = key;
	m->key_lines[m->n] = key_line;
	m->items[m->n] = val;
	m->n++;
}

static bool ymap_has(const struct ynode *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->keys[i], key))
			return true;
	return false;
}

static struct ynode *yconv_node(struct yconv *y, yaml_node_t *src, int depth);

/* YAML 1.1 merge key `<<: *base` (or a list of them): copy keys the map does not set itself. */
static void yconv_merge(struct yconv *y, struct ynode *m, const struct ynode *from, int line)
{
	if (from->kind == YNODE_SEQ) {
		for (size_t i = 0; i < from->n; i++)
			yconv_merge(y, m, from->items[i], line);
		return;
	}
	if (from->kind != YNODE_MAP) {
		yconv_fail(y, line, "merge key << needs a mapping or a list of mappings", NULL);
		return;
	}
	for (size_t i = 0; i < from->n; i++)
		if (!ymap_has(m, from->keys[i]))
			ynode_map_append(m, ystrdup(from->keys[i]), from->key_lines[i],
					 ynode_clone(from->items[i]));
}

static void yconv_pair(struct yconv *y, struct ynode *m, yaml_node_pair_t *p, int depth,
		       struct ynode **merge)
{
	yaml_node_t *k = yaml_document_get_node(y->doc, p->key);
	yaml_node_t *v = yaml_document_get_node(y->doc, p->value);
	const char *key;
	struct ynode *val;
	int kline;

	if (!k || !v || k->type != YAML_SCALAR_NODE) {
		yconv_fail(y, k ? (int)k->start_mark.line + 1 : m->line,
			   "mapping keys must be plain strings", NULL);
		return;
	}
	key = (const char *)k->data.scalar.value;
	kline = (int)k->start_mark.line + 1;
	val = yconv_node(y, v, depth + 1);
	if (!val)
		return;
	if (k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !strcmp(key, "<<")) {
		if (*merge) {
			ynode_free(val); /* the first one stays the map's to free */
			yconv_fail(y, kline, "more than one merge key << in a mapping", NULL);
			return;
		}
		*merge = val;
		return;
	}
	if (ymap_has(m, key)) {
		ynode_free(val);
		yconv_fail(y, kline, "duplicate key ", key);
		return;
	}
	ynode_map_append(m, ystrdup(key), kline, val);
}

static struct ynode *yconv_map(struct yconv *y, yaml_node_t *src, int depth)
{
	struct ynode *m = ynode_new(y, YNODE_MAP, src), *merge = NULL;
	yaml_node_pair_t *p;

	for (p = src->data.mapping.pairs.start; p < src->data.mapping.pairs.top && !y->err; p++)
		yconv_pair(y, m, p, depth, &merge);
	if (merge) {
		if (!y->err)
			yconv_merge(y, m, merge, m->line);
		ynode_free(merge);
	}
	return m;
}

static struct ynode *yconv_seq(struct yconv *y, yaml_node_t *src, int depth)
{
	struct ynode *s = ynode_new(y, YNODE_SEQ, src);
	size_t cnt = src->data.sequence.items.top - src->data.sequence.items.start;
	struct ynode *it;

	s->items = yzalloc((cnt ? cnt : 1) * sizeof(*s->items));
	for (size_t i = 0; i < cnt && !y->err; i++) {
		yaml_node_t *c = yaml_document_get_node(y->doc, src->data.sequence.items.start[i]);

		it = c ? yconv_node(y, c, depth + 1) : NULL;
		if (!it)
			break;
		s->items[s->n++] = it;
	}
	return s;
}

static struct ynode *yconv_node(struct yconv *y, yaml_node_t *src, int depth)
{
	struct ynode *n;

	if (y->err)
		return NULL;
	if (depth > YAML_MAX_DEPTH || ++y->budget > YAML_MAX_NODES) {
		yconv_fail(y, (int)src->start_mark.line + 1,
			   "document nests or expands aliases too deeply", NULL);
		return NULL;
	}
	switch (src->type) {
	case YAML_SCALAR_NODE:
		n = ynode_new(y, YNODE_SCALAR, src);
		n->scalar = ystrdup((const char *)src->data.scalar.value);
		n->plain = src->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		return n;
	case YAML_MAPPING_NODE:
		return yconv_map(y, src, depth);
	case YAML_SEQUENCE_NODE:
		return yconv_seq(y, src, depth);
	default:
		yconv_fail(y, (int)src->start_mark.line + 1, "unexpected node", NULL);
		return NULL;
	}
}

/* `---` alone, or a document holding only `~`/`null`, carries nothing. */
static bool ynode_is_empty_doc(const struct ynode *n)
{
	if (n->kind != YNODE_SCALAR || !n->plain)
		return false;
	return !n->scalar[0] || !strcmp(n->scalar, "~") || !strcmp(n->scalar, "null");
}

static int line_of_offset(const char *buf, size_t len, size_t off)
{
	int line = 1;

	for (size_t i = 0; i < off && i < len; i++)
		line += buf[i] == '\n';
	return line;
}

static void yaml_report_error(const yaml_parser_t *p, const char *name, const char *buf, size_t len,
			      struct diag *d)
{
	int line;

	if (p->error == YAML_READER_ERROR)
		line = line_of_offset(buf, len, p->problem_offset);
	else
		line = (int)p->problem_mark.line + 1;
	if (p->context)
		diag_add(d, DIAG_ERROR, name, line, "YAML syntax: %s (%s started at line %d)",
			 p->problem ? p->problem : "error", p->context,
			 (int)p->context_mark.line + 1);
	else
		diag_add(d, DIAG_ERROR, name, line, "YAML syntax: %s",
			 p->problem ? p->problem : "cannot parse");
}

const char *ydoc_set_add_file(struct ydoc_set *set, const char *name)
{
	set->files = realloc(set->files, (set->nfiles + 1) * sizeof(*set->files));
	if (!set->files)
		abort();
	set->files[set->nfiles] = ystrdup(name);
	return set->files[set->nfiles++];
}

void ydoc_set_push(struct ydoc_set *set, struct ynode *doc)
{
	/* doubling: growing by one copied the array per document, which was a third of a whole
	 * API snapshot's time with 70,000 objects */
	if (set->n == set->cap) {
		set->cap = set->cap ? 2 * set->cap : 64;
		set->docs = realloc(set->docs, set->cap * sizeof(*set->docs));
		if (!set->docs)
			abort();
	}
	set->docs[set->n++] = doc;
}

/* Drop documents [from, n) and the last file name: a file with an error contributes nothing. */
static void ydoc_set_rollback(struct ydoc_set *set, size_t from)
{
	while (set->n > from)
		ynode_free(set->docs[--set->n]);
	free(set->files[--set->nfiles]);
}

/* Load one document; 1 when one was read, 0 at end of stream, -EINVAL on error. */
static int yaml_load_one(yaml_parser_t *p, struct yconv *y, struct ydoc_set *set)
{
	yaml_document_t doc;
	yaml_node_t *root;
	struct ynode *n;

	if (!yaml_parser_load(p, &doc))
		return -EINVAL;
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		yaml_document_delete(&doc);
		return 0;
	}
	y->doc = &doc;
	y->budget = 0;
	n = yconv_node(y, root, 0);
	yaml_document_delete(&doc);
	y->doc = NULL; /* the document lived on this stack frame */
	if (y->err) {
		ynode_free(n);
		return y->err;
	}
	if (ynode_is_empty_doc(n))
		ynode_free(n);
	else
		ydoc_set_push(set, n);
	return 1;
}

int yaml_parse_string(struct ydoc_set *set, const char *name, const char *buf, size_t len,
		      struct diag *d)
{
	struct yconv y = {.d = d};
	size_t first = set->n;
	yaml_parser_t p;
	int rc;

	if (!yaml_parser_initialize(&p))
		abort();
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	y.file = ydoc_set_add_file(set, name);
	while ((rc = yaml_load_one(&p, &y, set)) > 0)
		;
	if (rc < 0 && !y.err)
		yaml_report_error(&p, y.file, buf, len, d);
	yaml_parser_delete(&p);
	if (rc < 0) {
		ydoc_set_rollback(set, first);
		return -EINVAL;
	}
	return 0;
}

static int read_whole_file(const char *path, char **out, size_t *len)
{
	struct stat st;
	ssize_t got;
	size_t off = 0;
	char *buf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		got = -errno;
		close(fd);
		return (int)got;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > YAML_MAX_FILE) {
		close(fd);
		return S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
	}
	buf = yzalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size) {
		got = read(fd, buf + off, (size_t)st.st_size - off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break; /* the file shrank under us: parse what is there */
		off += (size_t)got;
	}
	close(fd);
	*out = buf;
	*len = off;
	return 0;
}

int yaml_parse_file(struct ydoc_set *set, const char *path, struct diag *d)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	rc = read_whole_file(path, &buf, &len);
	if (rc < 0) {
		diag_add(d, DIAG_ERROR, path, 0, "cannot read: %s", strerror(-rc));
		return rc;
	}
	rc = yaml_parse_string(set, path, buf, len, d);
	free(buf);
	return rc;
}

void ynode_free(struct ynode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++) {
		ynode_free(n->items[i]);
		if (n->keys)
			free(n->keys[i]);
	}
	free(n->scalar);
	free(n->keys);
	free(n->key_lines);
	free(n->items);
	free(n);
}

void ydoc_set_free(struct ydoc_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		ynode_free(set->docs[i]);
	for (size_t i = 0; i < set->nfiles; i++)
		free(set->files[i]);
	free(set->docs);
	free(set->files);
	memset(set, 0, sizeof(*set));
}

struct ynode *ynode_clone(const struct ynode *n)
{
	struct ynode *c;

	if (!n)
		return NULL;
	c = yzalloc(sizeof(*c));
	*c = *n;
	c->keys = NULL;
	c->key_lines = NULL;
	c->items = NULL;
	c->scalar = n->scalar ? ystrdup(n->scalar) : NULL;
	if (!n->n)
		return c;
	c->items = yzalloc(n->n * sizeof(*c->items));
	for (size_t i = 0; i < n->n; i++)
		c->items[i] = ynode_clone(n->items[i]);
	if (n->kind == YNODE_MAP) {
		c->keys = yzalloc(n->n * sizeof(*c->keys));
		c->key_lines = yzalloc(n->n * sizeof(*c->key_lines));
		for (size_t i = 0; i < n->n; i++) {
			c->keys[i] = ystrdup(n->keys[i]);
			c->key_lines[i] = n->key_lines[i];
		}
	}
	return c;
}

static int ymap_index(const struct ynode *map, const char *key, size_t keylen)
{
	if (!map || map->kind != YNODE_MAP || !key)
		return -1;
	for (size_t i = 0; i < map->n; i++)
		if (strlen(map->keys[i]) == keylen && !memcmp(map->keys[i], key, keylen))
			return (int)i;
	return -1;
}

const struct ynode *ynode_get(const struct ynode *map, const char *key)
{
	int i = ymap_index(map, key, key ? strlen(key) : 0);

	return i < 0 ? NULL : map->items[i];
}

const struct ynode *ynode_path(const struct ynode *n, const char *dotted)
{
	const char *p = dotted, *dot;
	int i;

	while (n && p) {
		dot = strchr(p, '.');
		i = ymap_index(n, p, dot ? (size_t)(dot - p) : strlen(p));
		n = i < 0 ? NULL : n->items[i];
		p = dot ? dot + 1 : NULL;
	}
	return n;
}

const char *ynode_str(const struct ynode *n)
{
	return n && n->kind == YNODE_SCALAR ? n->scalar : NULL;
}

int ynode_key_line(const struct ynode *map, const char *key)
{
	int i = ymap_index(map, key, key ? strlen(key) : 0);

	if (i >= 0)
		return map->key_lines[i];
	return map ? map->line : 0;
}

const char *ynode_kind_name(enum ynode_kind k)
{
	switch (k) {
	case YNODE_SCALAR:
		return "scalar";
	case YNODE_MAP:
		return "mapping";
	case YNODE_SEQ:
		return "sequence";
	}
	return "?";
}
