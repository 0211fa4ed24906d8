/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A YAML document as a plain tree, with the source line of every node, so that validators can say
 * "file:line". Built with libyaml; aliases are resolved by copy; anchors/tags otherwise ignored.
 */
#ifndef SKIFF_YAML_TREE_H
#define SKIFF_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/diag.h"

enum ynode_kind { YNODE_SCALAR, YNODE_MAP, YNODE_SEQ };

struct ynode {
	enum ynode_kind kind;
	const char *file; /* shared, owned by the ydoc_set */
	int line;	  /* 1-based */
	/* scalar */
	char *scalar;
	bool plain; /* unquoted scalar (so 90 is a number and "90" a string) */
	/* map: keys[i] -> items[i]; seq: items[i] */
	size_t n;
	char **keys;
	int *key_lines;
	struct ynode **items;
};

/* All documents of one or more files. Empty documents (`---` alone) are skipped. */
struct ydoc_set {
	struct ynode **docs;
	size_t n, cap;
	char **files; /* owned copies of file names the nodes point at */
	size_t nfiles;
};

/* Parse a file (multi-document). Syntax errors go to `d` as "file:line: YAML syntax: ..." and
 * return -EINVAL; documents parsed from that file are discarded (nothing half-read). */
int yaml_parse_file(struct ydoc_set *set, const char *path, struct diag *d);
/* Same for a buffer; `name` is used as the file name in messages. */
int yaml_parse_string(struct ydoc_set *set, const char *name, const char *buf, size_t len,
		      struct diag *d);
void ydoc_set_free(struct ydoc_set *set);

/* Lookups. All return NULL when absent or when `n` is NULL or of another kind. */
const struct ynode *ynode_get(const struct ynode *map, const char *key);
/* Dotted path through maps: ynode_path(doc, "metadata.name"). */
const struct ynode *ynode_path(const struct ynode *n, const char *dotted);
const char *ynode_str(const struct ynode *n);		      /* scalar text or NULL */
int ynode_key_line(const struct ynode *map, const char *key); /* line of the key, or map's line */
const char *ynode_kind_name(enum ynode_kind k);		      /* "scalar", "mapping", "sequence" */

/* Building trees from another source (the Kubernetes API's JSON): a node of kind `k`; a map
 * entry (the map takes `key`, which must be malloc'ed, and `val`); a sequence item; a file name
 * the nodes can point at (copied into the set); a document (the set takes it). Allocation
 * failure aborts, as in the parser. */
struct ynode *ynode_alloc(enum ynode_kind k, const char *file, int line);
void ynode_map_append(struct ynode *m, char *key, int key_line, struct ynode *val);
void ynode_seq_append(struct ynode *s, struct ynode *val);
const char *ydoc_set_add_file(struct ydoc_set *set, const char *name);
void ydoc_set_push(struct ydoc_set *set, struct ynode *doc);

/* Deep copy (owner frees with ynode_free). `file` pointers stay shared. */
struct ynode *ynode_clone(const struct ynode *n);
void ynode_free(struct ynode *n);

#endif
