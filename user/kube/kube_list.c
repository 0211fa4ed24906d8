// SPDX-License-Identifier: Apache-2.0
/*
 * LIST a kind, 500 objects a page, into a fresh store that replaces the kind's old one whole:
 * after a 410 the objects deleted while we were away must go too, which no event will say.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "kube/kube_internal.h"

#define KUBE_LIST_LIMIT 500

struct kl_page {
	struct kube_store objs; /* the new store */
	char rv[128];
	char cont[1024]; /* metadata.continue: the next page's token, "" on the last */
};

static void kl_meta(struct json_object *list, struct kl_page *pg)
{
	struct json_object *md, *v;

	pg->cont[0] = '\0';
	if (!json_object_object_get_ex(list, "metadata", &md))
		return;
	if (json_object_object_get_ex(md, "resourceVersion", &v))
		snprintf(pg->rv, sizeof(pg->rv), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(md, "continue", &v))
		snprintf(pg->cont, sizeof(pg->cont), "%s", json_object_get_string(v));
}

static int kl_list_object(struct kube_watcher *w, void *ctx, struct json_object *list)
{
	struct kl_page *pg = ctx;
	struct json_object *items;
	char key[512];

	kl_meta(list, pg);
	if (!json_object_object_get_ex(list, "items", &items) ||
	    json_object_is_type(items, json_type_null))
		return 0;
	if (!json_object_is_type(items, json_type_array))
		return -EPROTO;
	for (size_t i = 0; i < json_object_array_length(items); i++) {
		struct json_object *o = json_object_array_get_idx(items, i);
		struct kube_rec *packed;

		if (!kube_obj_key(o, key, sizeof(key)))
			continue;
		kube_obj_normalise(w, o);
		if (!(packed = kube_obj_pack(o, key)))
			return -ENOMEM;
		if (kube_store_put(&pg->objs, packed) < 0) {
			kube_rec_unref(packed);
			return -ENOMEM;
		}
	}
	return 0;
}

static void kl_path(struct kube_watcher *w, const char *cont, char *buf, size_t len)
{
	char base[512], sel[256];
	char *esc = NULL;

	kube_kind_path(w, base, sizeof(base));
	kube_kind_query(w, sel, sizeof(sel));
	if (cont[0])
		esc = curl_easy_escape(NULL, cont, 0);
	snprintf(buf, len, "%s?limit=%d%s%s%s", base, KUBE_LIST_LIMIT, sel, esc ? "&continue=" : "",
		 esc ? esc : "");
	curl_free(esc);
}

/* The store becomes the listed objects; the resourceVersion, the list's. */
static void kl_install(struct kube_watcher *w, struct kl_page *pg)
{
	struct kube_source *ks = w->ks;

	pthread_mutex_lock(&ks->lock);
	kube_store_clear(&w->objs);
	w->objs = pg->objs;
	memset(&pg->objs, 0, sizeof(pg->objs));
	snprintf(w->rv, sizeof(w->rv), "%s", pg->rv);
	w->listed = true;
	if (w->missing) {
		ks->st.missing--;
		kube_log(ks, "%s: served at %s now", w->k->kind, w->k->versions[w->version]);
	}
	w->missing = false;
	ks->st.lists++;
	kube_source_notify(ks);
	pthread_mutex_unlock(&ks->lock);
}

int kube_list(struct kube_watcher *w)
{
	struct kl_page pg = {0};
	char path[2048], msg[256], why[320];
	long status = 0;
	int rc;

	do {
		kl_path(w, pg.cont, path, sizeof(path));
		rc = kube_http_get(w, path, 120, kl_list_object, &pg, &status, msg, sizeof(msg));
		if (rc < 0 || status != 200) {
			if (status != 404 && status != 410)
				kube_log(w->ks, "%s: list %s failed: %s", w->k->kind, path,
					 kube_failure_text(rc, status, msg, why, sizeof(why)));
			kube_store_clear(&pg.objs);
			return rc < 0 ? rc : (int)status;
		}
	} while (pg.cont[0]);
	kl_install(w, &pg);
	return 0;
}
