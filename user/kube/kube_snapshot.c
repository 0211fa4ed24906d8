// SPDX-License-Identifier: Apache-2.0
/*
 * The agent's side of the API source: the wake-up fd, whether every kind has been listed, and
 * whole snapshots of the objects the watchers hold, built through the model loader.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kube/kube_internal.h"
#include "kube/kube_json.h"

int kube_source_fd(const struct kube_source *ks)
{
	return ks->efd;
}

static bool ks_synced_locked(struct kube_source *ks)
{
	for (size_t i = 0; i < ks->nw; i++)
		if (!ks->w[i].listed)
			return false;
	return true;
}

bool kube_source_synced(struct kube_source *ks)
{
	bool r;

	pthread_mutex_lock(&ks->lock);
	r = ks_synced_locked(ks);
	pthread_mutex_unlock(&ks->lock);
	return r;
}

bool kube_source_drain(struct kube_source *ks)
{
	uint64_t n;
	bool r;

	(void)!read(ks->efd, &n, sizeof(n));
	pthread_mutex_lock(&ks->lock);
	r = ks->changed && ks_synced_locked(ks);
	if (r)
		ks->changed = false;
	pthread_mutex_unlock(&ks->lock);
	return r;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One kind's objects into `set`, sorted by namespace/name so that a snapshot does not depend on
 * the order events came in. */
static void ks_add_kind(struct kube_watcher *w, struct ydoc_set *set)
{
	struct kube_rec **recs = calloc(w->objs.n + 1, sizeof(*recs));
	size_t n;

	if (!recs)
		abort();
	n = kube_store_take_sorted(&w->objs, recs);
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = kube_obj_unpack(recs[i]);

		if (!o)
			abort(); /* we wrote it; only OOM can make it unreadable */
		kube_json_add_doc(set, o);
		json_object_put(o);
		kube_rec_unref(recs[i]);
	}
	free(recs);
}

/*
 * The store's records are referenced under the lock (the watchers go on meanwhile: a record
 * they replace stays alive until the reference is dropped) and turned into the model one at a
 * time, each parse tree freed once read: all 70,000 trees of a big cluster at once were the
 * 600-700 MB peak of every whole reload.
 */
int kube_source_snapshot(struct kube_source *ks, struct model *out, struct diag *d)
{
	struct kube_rec **recs;
	size_t total = 0, n = 0, errors_before = d->errors;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&ks->lock);
	if (!ks_synced_locked(ks)) {
		pthread_mutex_unlock(&ks->lock);
		return -EAGAIN;
	}
	for (size_t i = 0; i < ks->nw; i++)
		total += ks->w[i].objs.n;
	if (!(recs = calloc(total + 1, sizeof(*recs))))
		abort();
	for (size_t i = 0; i < ks->nw; i++)
		n += kube_store_take_sorted(&ks->w[i].objs, recs + n);
	kube_source_dirty_clear(ks);
	pthread_mutex_unlock(&ks->lock);
	model_load_start(out);
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = kube_obj_unpack(recs[i]);

		if (!o)
			abort(); /* we wrote it; only OOM can make it unreadable */
		model_load_one(out, kube_json_tree(&out->src, o), d);
		json_object_put(o);
		/* a record the watchers replaced meanwhile is freed here, not held to the end */
		kube_rec_unref(recs[i]);
	}
	free(recs);
	return model_load_end(out, errors_before, d);
}

int kube_source_docs(struct kube_source *ks, struct ydoc_set *out)
{
	pthread_mutex_lock(&ks->lock);
	if (!ks_synced_locked(ks)) {
		pthread_mutex_unlock(&ks->lock);
		return -EAGAIN;
	}
	for (size_t i = 0; i < ks->nw; i++)
		ks_add_kind(&ks->w[i], out);
	pthread_mutex_unlock(&ks->lock);
	return 0;
}

static struct kube_watcher *ks_slices(struct kube_source *ks)
{
	for (size_t i = 0; i < ks->nw; i++)
		if (!strcmp(ks->w[i].k->kind, "EndpointSlice"))
			return &ks->w[i];
	return NULL;
}

int kube_source_slice_delta(struct kube_source *ks, struct ydoc_set *present, char ***gone,
			    size_t *ngone)
{
	struct kube_watcher *w = ks_slices(ks);
	const char *prev = NULL;
	size_t n = 0;

	*gone = NULL;
	*ngone = 0;
	pthread_mutex_lock(&ks->lock);
	if (!w || ks->full || !ks_synced_locked(ks) ||
	    !(*gone = calloc(ks->ndirty + 1, sizeof(**gone)))) {
		pthread_mutex_unlock(&ks->lock);
		return -EAGAIN;
	}
	/* a slice changed twice since the last look is taken once, as it is now */
	qsort(ks->dirty, ks->ndirty, sizeof(*ks->dirty), cmp_key);
	for (size_t i = 0; i < ks->ndirty; i++) {
		struct kube_rec *packed;
		struct json_object *o;

		/* prev, not dirty[i - 1]: a gone key moves to *gone and leaves NULL in its place */
		if (prev && !strcmp(prev, ks->dirty[i]))
			continue;
		prev = ks->dirty[i];
		if ((packed = kube_store_get(&w->objs, ks->dirty[i]))) {
			if (!(o = kube_obj_unpack(packed)))
				abort(); /* as in ks_add_kind */
			kube_json_add_doc(present, o);
			json_object_put(o);
		} else {
			(*gone)[n++] = ks->dirty[i];
			ks->dirty[i] = NULL;
		}
	}
	kube_source_dirty_clear(ks);
	pthread_mutex_unlock(&ks->lock);
	*ngone = n;
	return 0;
}

void kube_source_stats(struct kube_source *ks, struct kube_source_stats *st)
{
	pthread_mutex_lock(&ks->lock);
	*st = ks->st;
	pthread_mutex_unlock(&ks->lock);
}
