/* SPDX-License-Identifier: Apache-2.0 */
/* A parsed YAML tree written out as JSON (the API server's form of an object). */
#ifndef SKIFF_YAML_JSON_H
#define SKIFF_YAML_JSON_H

#include "common/strbuf.h"
#include "config/yaml_tree.h"

/* `n` as JSON into `b`: maps as objects, sequences as arrays; a plain scalar as JSON reads it
 * (null, ~ and empty as null, a boolean, a number, else a string); a quoted scalar always as a
 * string; NULL as null. */
void ynode_json(struct strbuf *b, const struct ynode *n);

#endif
