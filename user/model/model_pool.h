/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One shared copy of each value many objects of a model repeat: a cluster's 50,000 pods name a
 * hundred namespaces and nodes, and the pods behind one Service carry the same service account,
 * labels and container ports. Each copy lives as long as the model that pooled it.
 */
#ifndef SKIFF_MODEL_POOL_H
#define SKIFF_MODEL_POOL_H

#include <stddef.h>

struct model;
struct model_pool;

/* The model's copy of `s` (NULL stays NULL); aborts when out of memory, like the parser. */
const char *model_pool_str(struct model *m, const char *s);
/* The same for a string of the caller's, which is freed; returned writable for the structs that
 * hold owned and shared strings alike, but never to be changed or freed. */
char *model_pool_take(struct model *m, char *s);
/* The model's copy of `len` bytes (compared byte for byte: zero any padding first). */
const void *model_pool_blob(struct model *m, const void *data, size_t len);
/* Distinct values held, and their bytes (for the memory report). */
size_t model_pool_count(const struct model *m, size_t *bytes);
void model_pool_free(struct model_pool *p);

#endif
