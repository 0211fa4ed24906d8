/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod cgroups, found the way kubelet names them, so a Pod's uid leads to the cgroup id that
 * bpf_get_current_cgroup_id() returns for its processes (the inode number of the directory).
 *
 *   cgroupfs driver: <root>/kubepods[/burstable|/besteffort]/pod<uid>
 *   systemd driver:  <root>/kubepods.slice/.../kubepods-burstable-pod<uid with _ for ->.slice
 */
#ifndef SKIFF_POD_CGROUP_H
#define SKIFF_POD_CGROUP_H

#include <stddef.h>
#include <stdint.h>

#define POD_CGROUP_MAX_DEPTH 4 /* kubepods/burstable/pod<uid> is 3 below the root; 1 spare */

struct pod_cgroup {
	char *uid;   /* as the API server writes it: lower-case, with dashes */
	uint64_t id; /* inode number of the cgroup directory */
};

/* Owned by its user; a zeroed table is empty and valid. */
struct pod_cgroup_table {
	struct pod_cgroup *v;
	size_t n;
};

/*
 * Fill `t` with every pod cgroup under `root`, searching POD_CGROUP_MAX_DEPTH levels down.
 * Returns 0 (a missing root gives an empty table) or a negative errno; on error `t` is empty.
 */
int pod_cgroup_scan(const char *root, struct pod_cgroup_table *t);
/* Set *id for pod `uid`: 0, or -ENOENT when its cgroup was not found. */
int pod_cgroup_find(const struct pod_cgroup_table *t, const char *uid, uint64_t *id);
void pod_cgroup_table_free(struct pod_cgroup_table *t);

/* The pod uid a cgroup directory name stands for, or -EINVAL when it is not a pod cgroup.
 * Writes a NUL-terminated uid into `uid` (at least 64 bytes). Exposed for the unit test. */
int pod_cgroup_uid_from_name(const char *name, char *uid, size_t size);

#endif
