// SPDX-License-Identifier: Apache-2.0
/*
 * A Kubernetes API response body (a LIST, or a WATCH's events one per line) as skiffd reads it:
 * bytes through kube_stream_feed as they arrive, each JSON value into the trees the YAML loader
 * builds (kube_json.c), those into the validated model, as the API source does.
 *
 * Differential: the body is fed whole and again in pieces cut anywhere; both must yield the same
 * values in the same order and end the same way, since the network decides where a body is cut.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_util.h"
#include "kube/kube_internal.h"
#include "kube/kube_json.h"
#include "model/model.h"

#define MAX_VALUES 64

struct seen {
	char *text[MAX_VALUES];
	size_t n;
	bool docs; /* build the documents too (once is enough) */
	struct ydoc_set set;
};

/* A watch event carries its object under "object"; a list its objects under "items". */
static void add_docs(struct seen *s, struct json_object *o)
{
	struct json_object *inner, *items;
	char key[512];

	if (!json_object_is_type(o, json_type_object))
		return;
	if (json_object_object_get_ex(o, "object", &inner) &&
	    json_object_is_type(inner, json_type_object)) {
		(void)kube_obj_key(inner, key, sizeof(key));
		(void)kube_obj_rv(inner);
		kube_json_add_doc(&s->set, inner);
		return;
	}
	if (json_object_object_get_ex(o, "items", &items) &&
	    json_object_is_type(items, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(items) && i < MAX_VALUES; i++) {
			inner = json_object_array_get_idx(items, i);
			if (json_object_is_type(inner, json_type_object))
				kube_json_add_doc(&s->set, inner);
		}
		return;
	}
	(void)kube_obj_key(o, key, sizeof(key));
	kube_json_add_doc(&s->set, o);
}

static int on_value(void *ctx, struct json_object *o)
{
	struct seen *s = ctx;
	const char *t;

	if (s->n == MAX_VALUES)
		return -E2BIG;
	t = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	s->text[s->n] = strdup(t ? t : "");
	if (!s->text[s->n])
		abort();
	s->n++;
	if (s->docs)
		add_docs(s, o);
	return 0;
}

static void seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->text[i]);
	ydoc_set_free(&s->set);
}

/* Feed data[0..size) in pieces (max 0: whole), then end the body; 0 or -errno. */
static int feed(const uint8_t *data, size_t size, struct seen *s, size_t max)
{
	json_tokener *tok = json_tokener_new_ex(64); /* the depth kube_http_get allows */
	struct kube_stream ks;
	struct fz_split sp;
	size_t off = 0, n;
	int rc = 0;

	if (!tok)
		abort();
	kube_stream_init(&ks, tok);
	fz_split_init(&sp, data, size);
	while (off < size && !rc) {
		n = max ? fz_split_next(&sp, size - off, max) : size - off;
		rc = kube_stream_feed(&ks, (const char *)data + off, n, on_value, s);
		off += n;
	}
	if (!rc)
		rc = kube_stream_end(&ks, on_value, s);
	kube_stream_free(&ks);
	json_tokener_free(tok);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen whole = {.docs = true}, cut = {0};
	struct model m = {0};
	struct diag d = {0};
	int rw, rc;

	rw = feed(data, size, &whole, 0);
	rc = feed(data, size, &cut, 16);
	if (rw != rc || whole.n != cut.n) {
		fprintf(stderr, "whole: %d, %zu values; in pieces: %d, %zu values\n", rw, whole.n,
			rc, cut.n);
		abort();
	}
	for (size_t i = 0; i < whole.n; i++)
		if (strcmp(whole.text[i], cut.text[i])) {
			fprintf(stderr, "value %zu whole: %s\nin pieces: %s\n", i, whole.text[i],
				cut.text[i]);
			abort();
		}
	if (!model_load_set(&whole.set, &m, &d))
		model_free(&m);
	diag_free(&d);
	seen_free(&whole);
	seen_free(&cut);
	return 0;
}
