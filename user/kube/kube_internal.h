/* SPDX-License-Identifier: Apache-2.0 */
/* The API source's state, shared by its files (kinds, http, list/watch, source). Private. */
#ifndef SKIFF_KUBE_INTERNAL_H
#define SKIFF_KUBE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "kube/kube_config.h"
#include "kube/kube_source.h"

/* One kind skiffd reads, and where the API serves it. */
struct kube_kind {
	const char *kind;
	const char *group;	     /* "" for the core group */
	const char *const *versions; /* preferred first; the next is tried on 404 */
	const char *resource;	     /* plural, lower case, as in the URL */
};

/* A kind read in one namespace only, by name: the objects of `ns` that `field_selector` picks
 * ("metadata.name=x"). Kinds without one are read cluster-wide, all objects. */
struct kube_kind_scope {
	const char *kind;
	const char *ns;
	const char *field_selector;
};

extern const struct kube_kind kube_kinds[];
extern const size_t kube_nkinds;

/* One stored object (kube_pack.c): "namespace/name", resourceVersion and deflated JSON in one
 * allocation. Shared by reference: a snapshot holds the records it reads while the watchers go
 * on replacing them in the store. */
struct kube_rec {
	uint32_t refs;	 /* atomic */
	uint32_t tlen;	 /* the JSON text's length */
	uint32_t zlen;	 /* deflated, at data + z_off */
	uint16_t rv_off; /* resourceVersion at data + rv_off; the key is at data */
	uint16_t z_off;
	char data[];
};

/* A kind's objects by key (kube_store.c): a flat table of records. Not locked itself. */
struct kube_store {
	struct kube_rec **slot;
	size_t cap; /* a power of two, or 0 */
	size_t n;
};

const char *kube_rec_key(const struct kube_rec *r);
void kube_rec_ref(struct kube_rec *r);
void kube_rec_unref(struct kube_rec *r); /* NULL is fine */
struct kube_rec *kube_store_get(const struct kube_store *st, const char *key);
/* Add `r` (taking its reference), replacing the record of the same key. 0 or -ENOMEM. */
int kube_store_put(struct kube_store *st, struct kube_rec *r);
/* Drop the record of `key`; false when there was none. */
bool kube_store_del(struct kube_store *st, const char *key);
/* Drop every record and the table. */
void kube_store_clear(struct kube_store *st);
/* Every record, sorted by key, a reference taken on each, into `out` (room for st->n). */
size_t kube_store_take_sorted(const struct kube_store *st, struct kube_rec **out);

/* A kind's watcher: its thread, what it has seen, and the objects it holds. */
struct kube_watcher {
	const struct kube_kind *k;
	struct kube_source *ks;
	pthread_t thread;
	bool started;
	size_t version; /* index into k->versions that answered */
	char rv[128];	/* resourceVersion to resume from; "" means list first */
	bool listed;	/* first list done (or the kind is known not to be served) */
	bool missing;	/* the API answered 404 for every version */
	bool gone;	/* the watch said 410: list again */
	int backoff_ms;
	struct kube_store objs; /* the kind's objects; under ks->lock */
};

struct kube_source {
	struct kube_source_opts o;
	struct kube_conn conn;
	pthread_mutex_t lock; /* objs, stats, stopping */
	pthread_cond_t wake;  /* stopping was set */
	bool stopping;
	int efd;
	bool changed; /* something changed since the last drain */
	/* What changed since the last snapshot or slice delta (kube_source_slice_delta): the keys of
	 * changed EndpointSlices, or `full` when anything else changed or a kind was listed. */
	bool full;
	char **dirty;
	size_t ndirty, dirty_cap;
	struct kube_source_stats st;
	struct kube_watcher *w;
	size_t nw;
};

/* The path of a kind's collection at its current version: "/apis/g/v/res". */
void kube_kind_path(const struct kube_watcher *w, char *buf, size_t len);
/* "&fieldSelector=..." for the kind's list and watch URLs, or "". */
void kube_kind_query(const struct kube_watcher *w, char *buf, size_t len);
/* "group/version" or "version". */
void kube_kind_api_version(const struct kube_watcher *w, char *buf, size_t len);

/* GET `url` (a path under the server), feeding each top-level JSON object of the body to `fn`
 * as it arrives (a watch is one object per line). Returns 0 when the response ended, with its
 * status in *status; -ECANCELED when the source stops, -EIO for transport failures, -EPROTO for
 * a body that is not JSON, or what `fn` returned (< 0 ends the transfer). For a status other
 * than 200 the objects are not given to `fn`; the Status message goes to `msg`. */
typedef int (*kube_obj_fn)(struct kube_watcher *w, void *ctx, struct json_object *o);
int kube_http_get(struct kube_watcher *w, const char *path, long timeout_s, kube_obj_fn fn,
		  void *ctx, long *status, char *msg, size_t msglen);

/* "HTTP 401: Unauthorized" or "Input/output error: <curl's reason>", for log lines. */
const char *kube_failure_text(int rc, long status, const char *msg, char *buf, size_t len);

/* List the kind into a fresh store (all pages). 0, or the HTTP status when not 200, or -errno. */
int kube_list(struct kube_watcher *w);
/* Watch from w->rv until the stream ends. 0 or the HTTP status when not 200, or -errno. */
int kube_watch(struct kube_watcher *w);

/* The kind's object from an API object or event: apiVersion and kind set (a LIST's items carry
 * neither), trimmed (kube_obj_trim). */
void kube_obj_normalise(struct kube_watcher *w, struct json_object *o);
/* Drop what the model never reads from an object of w's kind (kube_trim.c): metadata but for
 * name, namespace, labels, annotations and resourceVersion; most of a Pod. */
void kube_obj_trim(struct kube_watcher *w, struct json_object *o);
/* The store's form of object `o` under `key` (kube_pack.c): a record with one reference, NULL on
 * OOM; whether it holds resourceVersion `rv`; the object parsed again (a new json-c reference,
 * NULL if unreadable). */
struct kube_rec *kube_obj_pack(struct json_object *o, const char *key);
bool kube_rec_rv_is(const struct kube_rec *r, const char *rv);
/* The record's bytes, as allocated (kube_slab.h). */
size_t kube_rec_size(const struct kube_rec *r);
struct json_object *kube_obj_unpack(const struct kube_rec *r);
/* Free the calling thread's compression state (kube_pack.c), before it ends. */
void kube_pack_thread_end(void);
/* "namespace/name" (or "name") and metadata.resourceVersion of `o`; NULL when unnamed. */
const char *kube_obj_key(struct json_object *o, char *buf, size_t len);
const char *kube_obj_rv(struct json_object *o);

/* Something changed: wake the agent. Call with ks->lock held. */
void kube_source_notify(struct kube_source *ks);
/* Object `key` of w's kind changed (an event): the same, noting an EndpointSlice's key so that
 * the agent can compile just that change. Call with ks->lock held. */
void kube_source_notify_obj(struct kube_watcher *w, const char *key);
/* Forget what changed (a snapshot took everything). Call with ks->lock held. */
void kube_source_dirty_clear(struct kube_source *ks);
void kube_log(struct kube_source *ks, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
