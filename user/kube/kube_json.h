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
/* The same tree, not added: its `file` is the origin name held in `set`. */
struct ynode *kube_json_tree(struct ydoc_set *set, struct json_object *obj);

/* A response body's JSON objects as its bytes arrive (kube_stream.c). */
#define KUBE_STREAM_LINE_MAX (128u << 20) /* a line (a compact LIST page is one) at most */

struct kube_stream {
	json_tokener *tok;
	bool mid;   /* a value is under way: every byte, spaces included, goes to the tokener */
	char *line; /* bytes since the last newline, not yet given to the tokener */
	size_t len, cap;
};

/* Called with each complete object (the stream keeps no reference to it after; take one with
 * json_object_get). A negative return ends the feed with it. */
typedef int (*kube_stream_fn)(void *ctx, struct json_object *o);

void kube_stream_init(struct kube_stream *s, json_tokener *tok);
void kube_stream_free(struct kube_stream *s);
/* Take `len` more bytes of the body, handing each object completed by a whole line to `fn`.
 * 0 when all were taken, -EPROTO for bytes that are not JSON objects, -E2BIG for a line over
 * KUBE_STREAM_LINE_MAX, -ENOMEM, or what `fn` returned. Pure: no I/O, so it is fuzzed alone
 * (tests/fuzz/fuzz_kube_stream.c). */
int kube_stream_feed(struct kube_stream *s, const char *p, size_t len, kube_stream_fn fn,
		     void *ctx);
/* The body ended: its last line, if it had no newline. -EPROTO when it ended inside a value. */
int kube_stream_end(struct kube_stream *s, kube_stream_fn fn, void *ctx);

#endif
