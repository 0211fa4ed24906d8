// SPDX-License-Identifier: Apache-2.0
/* Open and close the dataplane: load sock_lb and sock_accel with their maps pinned (or adopted)
 * in bpffs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "dataplane/dp_internal.h"
#include "sock_lb.skel.h"

static int copy_opt(char *dst, size_t size, const char *src, const char *what)
{
	if (!src || !*src) {
		fprintf(stderr, "dataplane: no %s given\n", what);
		return -EINVAL;
	}
	if (strlen(src) >= size) {
		fprintf(stderr, "dataplane: %s %s is too long\n", what, src);
		return -ENAMETOOLONG;
	}
	strcpy(dst, src);
	return 0;
}

/* Point every map at <dir>/<name>: libbpf then reuses a pin that exists and pins new maps there,
 * so a restarted agent works on the very maps the kernel path is using. */
int dp_pin_paths(struct dataplane *dp, struct bpf_object *obj)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map(map, obj)
	{
		if (bpf_map__is_internal(map))
			continue;
		err = dp_path(path, sizeof(path), dp->dir, bpf_map__name(map));
		if (!err)
			err = bpf_map__set_pin_path(map, path);
		if (err)
			return err;
	}
	return 0;
}

static int load(struct dataplane *dp)
{
	int err;

	dp->skel = sock_lb__open();
	if (!dp->skel) {
		err = -errno;
		fprintf(stderr, "dataplane: cannot open the sock_lb BPF object: %s\n",
			strerror(-err));
		return err;
	}
	err = dp_pin_paths(dp, dp->skel->obj);
	if (!err)
		err = dp_map_limits_apply(dp->skel->obj);
	if (err)
		return err;
	err = sock_lb__load(dp->skel);
	if (err) {
		fprintf(stderr,
			"dataplane: cannot load sock_lb: %s (if pinned maps under %s come "
			"from an incompatible skiff version, remove them and restart)\n",
			strerror(-err), dp->dir);
		return err;
	}
	return 0;
}

int dp_open(const struct dp_opts *opts, struct dataplane **out)
{
	struct dataplane *dp = calloc(1, sizeof(*dp));
	int err;

	*out = NULL;
	if (!dp)
		return -ENOMEM;
	dp->accel_on = !opts->no_accel;
	dp->accel_join_all = opts->accel_join_all;
	dp->agent_sockops = opts->agent_sockops;
	if (opts->agent_cgroup)
		snprintf(dp->agent_cgroup, sizeof(dp->agent_cgroup), "%s", opts->agent_cgroup);
	err = copy_opt(dp->dir, sizeof(dp->dir), opts->bpffs_dir, "bpffs directory");
	if (!err)
		err = copy_opt(dp->cgroup_root, sizeof(dp->cgroup_root), opts->cgroup_root,
			       "cgroup root");
	if (!err)
		err = dp_bpffs_ensure(dp->dir);
	if (!err)
		err = load(dp);
	if (!err)
		err = dp_accel_load(dp);
	if (!err)
		err = dp_guard_load(dp);
	if (!err)
		err = dp_guard_configure(dp, opts->kubelet_cgroup);
	if (!err && opts->uplink)
		err = dp_guard_attach_uplink(dp, opts->uplink);
	if (!err)
		err = dp_gen_read(dp);
	if (!err)
		err = dp_attach_all(dp);
	if (!err)
		err = dp_accel_attach_msg(dp);
	if (err) {
		dp_close(dp, false);
		return err;
	}
	*out = dp;
	return 0;
}

unsigned int dp_generation(const struct dataplane *dp)
{
	return dp ? dp->gen : 0;
}

void dp_unpin_maps(struct dataplane *dp, struct bpf_object *obj)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, obj)
	{
		if (bpf_map__is_internal(map) || !bpf_map__is_pinned(map))
			continue;
		if (bpf_map__unpin(map, NULL))
			fprintf(stderr, "dataplane: cannot unpin map %s from %s\n",
				bpf_map__name(map), dp->dir);
	}
}

void dp_close(struct dataplane *dp, bool unpin)
{
	if (!dp)
		return;
	dp_links_close(dp, unpin);
	dp_accel_close(dp, unpin);
	dp_guard_close(dp, unpin);
	if (dp->skel) {
		if (unpin)
			dp_unpin_maps(dp, dp->skel->obj);
		sock_lb__destroy(dp->skel);
	}
	if (unpin)
		dp_bpffs_remove(dp->dir);
	free(dp->ejections);
	free(dp);
}
