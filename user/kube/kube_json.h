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

/* A response body's JSON values as its bytes arrive (kube_stream.c). */
struct kube_stream {
	json_tokener *tok;
	bool mid; /* a value is under way: every byte, spaces included, goes to the tokener */
};

/* Called with each complete value (the caller of kube_stream_feed keeps no reference to it
 * after; take one with json_object_get). A negative return ends the feed with it. */
typedef int (*kube_stream_fn)(void *ctx, struct json_object *o);

void kube_stream_init(struct kube_stream *s, json_tokener *tok);
/* Take `len` more bytes of the body, handing each object completed to `fn`. 0 when all were
 * taken (the last object may still be under way), -EPROTO for bytes that are not JSON objects,
 * or what `fn` returned. Pure: no I/O, so it is fuzzed alone (tests/fuzz/fuzz_kube_stream.c). */
int kube_stream_feed(struct kube_stream *s, const char *p, size_t len, kube_stream_fn fn,
		     void *ctx);

#endif
