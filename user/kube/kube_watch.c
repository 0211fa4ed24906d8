// SPDX-License-Identifier: Apache-2.0
/*
 * WATCH a kind from the resourceVersion last seen. Each event moves the resourceVersion on, so a
 * watch that drops resumes exactly after the last event applied: none is lost, none applied
 * twice. Bookmarks move it on without an object, so a quiet kind does not fall behind the
 * server's compaction window and need a full re-list on its next resume.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/kube_internal.h"

/* The server's Status in an ERROR event: 410 means our resourceVersion was compacted away. */
static int kw_error(struct kube_watcher *w, struct json_object *st)
{
	struct json_object *code, *msg;

	if (json_object_object_get_ex(st, "code", &code) && json_object_get_int(code) == 410) {
		w->gone = true;
		return -ESTALE;
	}
	json_object_object_get_ex(st, "message", &msg);
	kube_log(w->ks, "%s: watch error: %s", w->k->kind, msg ? json_object_get_string(msg) : "");
	return -EPROTO;
}

/* Apply one object event with ks->lock held. */
static void kw_apply(struct kube_watcher *w, const char *type, struct json_object *o)
{
	struct kube_source *ks = w->ks;
	struct kube_rec *old, *packed;
	const char *rv = kube_obj_rv(o);
	char key[512];

	if (!kube_obj_key(o, key, sizeof(key)))
		return;
	if (!strcmp(type, "DELETED")) {
		if (kube_store_del(&w->objs, key)) {
			ks->st.events++;
			kube_source_notify_obj(w, key);
		} else {
			ks->st.duplicates++;
		}
		return;
	}
	old = kube_store_get(&w->objs, key);
	if (old && kube_rec_rv_is(old, rv)) {
		ks->st.duplicates++;
		return;
	}
	kube_obj_normalise(w, o);
	packed = kube_obj_pack(o, key);
	/* out of memory: the object goes, and a snapshot must not miss that */
	if (!packed || kube_store_put(&w->objs, packed) < 0) {
		kube_rec_unref(packed);
		kube_store_del(&w->objs, key);
	}
	ks->st.events++;
	kube_source_notify_obj(w, key);
}

static int kw_event(struct kube_watcher *w, void *ctx, struct json_object *ev)
{
	struct kube_source *ks = w->ks;
	struct json_object *t, *o;
	const char *type, *rv;

	(void)ctx;
	if (!json_object_object_get_ex(ev, "type", &t) ||
	    !json_object_object_get_ex(ev, "object", &o) ||
	    !json_object_is_type(o, json_type_object))
		return -EPROTO;
	type = json_object_get_string(t);
	if (!strcmp(type, "ERROR"))
		return kw_error(w, o);
	pthread_mutex_lock(&ks->lock);
	if (!strcmp(type, "BOOKMARK"))
		ks->st.bookmarks++;
	else if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED") || !strcmp(type, "DELETED"))
		kw_apply(w, type, o);
	rv = kube_obj_rv(o);
	if (rv && *rv)
		snprintf(w->rv, sizeof(w->rv), "%s", rv);
	pthread_mutex_unlock(&ks->lock);
	w->backoff_ms = 0; /* the server is answering: the next drop retries at once */
	return 0;
}

int kube_watch(struct kube_watcher *w)
{
	struct kube_source *ks = w->ks;
	char base[512], path[1024], msg[256], why[320], sel[256];
	int timeout = ks->o.watch_timeout_s;
	long status = 0;
	int rc;

	/* like client-go, spread the watches' ends so they do not all reconnect at once */
	if (!timeout) {
		/* seeded per process and kind: unseeded, every node would draw the same */
		unsigned int seed = (unsigned int)(time(NULL) ^ getpid() ^ (uintptr_t)w);

		timeout = 300 + (int)(rand_r(&seed) % 300);
	}
	kube_kind_path(w, base, sizeof(base));
	kube_kind_query(w, sel, sizeof(sel));
	snprintf(path, sizeof(path),
		 "%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%d%s", base,
		 w->rv, timeout, sel);
	pthread_mutex_lock(&ks->lock);
	ks->st.watches++;
	pthread_mutex_unlock(&ks->lock);
	rc = kube_http_get(w, path, timeout + 30, kw_event, NULL, &status, msg, sizeof(msg));
	if (rc == -ESTALE || status == 410) {
		w->gone = true;
		return 410;
	}
	if (rc < 0 || status != 200) {
		if (rc != -ECANCELED)
			kube_log(ks, "%s: watch from resourceVersion %s failed: %s", w->k->kind,
				 w->rv, kube_failure_text(rc, status, msg, why, sizeof(why)));
		return rc < 0 ? rc : (int)status;
	}
	return 0;
}
