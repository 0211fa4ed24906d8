/* SPDX-License-Identifier: Apache-2.0 */
/*
 * API objects (JSON, as json-c parsed them) into the trees the YAML loader builds, so that one
 * set of model parsers and validators serves the config directory and the Kubernetes API alike.
 */
#ifndef SKIFF_KUBE_JSON_H
#define SKIFF_KUBE_JSON_H

#include <json-c/json.h>

#include "config/yaml_tree.h"

/*
 * The name API objects carry where a manifest carries its file. They have no lines: messages
 * read "api: VirtualService payments/reviews: spec.http[0]...", the object named by the parser.
 */
#define KUBE_JSON_ORIGIN "api"

/* Append `obj` to `set` as one document (a deep copy: `obj` stays the caller's). Strings become
 * quoted scalars; numbers, booleans and null plain ones, as YAML would read the same JSON. */
void kube_json_add_doc(struct ydoc_set *set, struct json_object *obj);

#endif
