/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kubernetes API as skiffd's config source. Every kind the model knows is listed, then
 * watched from the list's resourceVersion, in a thread of its own; the objects seen are kept by
 * kind, namespace and name. The agent loop polls kube_source_fd() exactly as it polls the
 * config directory's inotify fd, and reads a whole snapshot with kube_source_snapshot() once
 * every kind has been listed: a half-listed cluster is never applied.
 *
 * A dropped watch resumes from the last resourceVersion seen (bookmarks move it on); a 410 Gone
 * re-lists the kind; a kind the server does not serve (404: its CRD is not installed) is
 * reported once, counts as empty, and is asked for again later. Retries back off with jitter.
 */
#ifndef SKIFF_KUBE_SOURCE_H
#define SKIFF_KUBE_SOURCE_H

#include <stdbool.h>

#include "common/diag.h"
#include "model/model.h"

struct kube_source_opts {
	const char *kubeconfig; /* NULL: in-cluster (KUBERNETES_SERVICE_HOST, service account) */
	const char *sa_dir;	/* in-cluster service account directory; NULL: KUBE_SA_DIR */
	int backoff_min_ms;	/* first retry delay; 0: 250 ms */
	int backoff_max_ms;	/* retry delay cap; 0: 30 s */
	int missing_retry_ms;	/* ask again for a kind that was 404; 0: 60 s */
	int watch_timeout_s;	/* the server ends each watch after this; 0: 5 to 10 min */
	bool quiet;		/* no log lines on stderr (tests) */
	/* this node's name (outlives the source), or NULL: pods of other nodes are then stored
	 * without their uid, which only finds a local pod's cgroup */
	const char *node;
};

/* What the source has done so far, for tests and skiffd's debug output. */
struct kube_source_stats {
	unsigned long lists;	  /* complete LISTs (all pages) */
	unsigned long relists;	  /* LISTs forced by 410 Gone */
	unsigned long watches;	  /* WATCH requests started */
	unsigned long events;	  /* ADDED/MODIFIED/DELETED applied */
	unsigned long duplicates; /* events for an object version already held: not applied */
	unsigned long bookmarks;
	unsigned long failures; /* requests that failed (transport, 401, 5xx...) */
	unsigned long missing;	/* kinds currently not served (404) */
};

struct kube_source;

/* Read the configuration and start listing. Errors (no server, bad kubeconfig) go to `d`. */
int kube_source_open(const struct kube_source_opts *o, struct kube_source **out, struct diag *d);
/* Readable when objects changed; poll it for POLLIN. */
int kube_source_fd(const struct kube_source *ks);
/* Consume the wake-up; true when a snapshot should be taken now (something changed and every
 * kind has finished its first list). */
bool kube_source_drain(struct kube_source *ks);
/* Every kind has finished its first list (or is known not to be served). */
bool kube_source_synced(struct kube_source *ks);
/* Build and validate a model from the objects held now; like model_load_dir(), all or nothing:
 * -EINVAL with the errors in `d` (each naming "api: Kind ns/name: field"). -EAGAIN before sync. */
int kube_source_snapshot(struct kube_source *ks, struct model *out, struct diag *d);
/* Every object held now, as documents in `out` (no model, no validation; the change tracking of
 * snapshots is left alone). -EAGAIN before every kind's first list. */
int kube_source_docs(struct kube_source *ks, struct ydoc_set *out);
/*
 * What changed since the last snapshot or delta, when only EndpointSlices did (the churn of a
 * running cluster): a document per changed slice as it is now into `present`, and the
 * "namespace/name" of deleted ones in *gone (caller frees each and the array). -EAGAIN when
 * anything else changed, or a kind was listed again: take a whole snapshot.
 */
int kube_source_slice_delta(struct kube_source *ks, struct ydoc_set *present, char ***gone,
			    size_t *ngone);
void kube_source_stats(struct kube_source *ks, struct kube_source_stats *st);
/* Stop the threads (in-flight requests are aborted) and free everything. */
void kube_source_close(struct kube_source *ks);

#endif
