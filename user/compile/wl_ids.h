/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workload ids of this node's mesh pods: the number every per-pod map names a pod by
 * (skiff_enrolled, skiff_pod_ips, skiff_policy, skiff_l4_stats, skiff_join_hist).
 *
 * A pod keeps its id for its life (key: "ns/name/uid"). The pod maps and skiff_policy are
 * written entry by entry, not swapped as one, so an id must never name two pods while entries
 * of both can be in the maps: a freed id is quarantined until the apply that removed its pod has
 * completed (every entry naming it is gone), and is then reused least recently freed first,
 * after every id never given out. Ids stay in 1..max.
 *
 * Assignments are proposed while a view compiles (wl_ids_begin, wl_ids_get) and take effect
 * when that view is in the kernel (wl_ids_commit); a view that may be half written keeps both
 * the old and the new ids reserved (wl_ids_keep). One compile at a time.
 */
#ifndef SKIFF_WL_IDS_H
#define SKIFF_WL_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wl_ids;

/* An allocator of ids 1..max. NULL when out of memory. */
struct wl_ids *wl_ids_new(uint32_t max);
void wl_ids_free(struct wl_ids *w);

/* Before the first wl_ids_begin: the maps adopted from an earlier skiffd name cgroup
 * `cgroup_id` as `id`. The pod found in that cgroup keeps it; an id no pod claims is
 * quarantined like a freed one. -EINVAL for an id out of range or already adopted. */
int wl_ids_adopt(struct wl_ids *w, uint64_t cgroup_id, uint32_t id);

/* A new proposal: forget what the last uncommitted one handed out. */
void wl_ids_begin(struct wl_ids *w);
/*
 * The id of pod `key` (its cgroup `cgroup_id`) in the proposal: its own, the adopted one of its
 * cgroup, or a free one. *fresh is true when the maps may still hold entries of another holder
 * (the caller resets them before the pod's entries go in). -ENOSPC when every id is held or
 * quarantined, -EEXIST when `key` was asked for twice, -ENOMEM.
 */
int wl_ids_get(struct wl_ids *w, const char *key, uint64_t cgroup_id, uint32_t *id, bool *fresh);
/* The proposal is in the kernel: its pods hold their ids, the others' ids are quarantined. */
void wl_ids_commit(struct wl_ids *w);
/* The proposal may be partly in the kernel (a failed apply): every id of the last commit and of
 * the proposal stays held, and the fresh ones are reset again when next given. */
void wl_ids_keep(struct wl_ids *w);

/* Counts for reports and tests: ids held by a pod, quarantined, and free to give. */
struct wl_ids_stats {
	size_t held, quarantined, free;
};
void wl_ids_stats(const struct wl_ids *w, struct wl_ids_stats *s);

#endif
