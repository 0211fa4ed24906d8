// SPDX-License-Identifier: Apache-2.0
/*
 * `skiffd --uninstall`: take skiff off the node. Nothing is loaded for it: the pins are what
 * keeps skiff's links, maps and programs alive once skiffd is gone, so removing them (links
 * first: each detaches its program) frees everything; the TC guard on pod veths and XDP on the
 * uplink are attached without a pin and are taken off first, by the veths skiff_guard_ifaces
 * lists and by the uplink's program name.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dp_internal.h"
#include "skiff/guard.h"

/* The TC guard off every veth the pinned skiff_guard_ifaces names. */
static int tc_guard_remove(const char *dir)
{
	char path[PATH_MAX];
	__u32 key, next, *prev = NULL;
	int fd, n = 0;

	if (dp_path(path, sizeof(path), dir, SKIFF_MAP_GUARD_IFACES))
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0; /* never guarded a veth */
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)next,
				    .attach_point = BPF_TC_EGRESS);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);

		if (!bpf_tc_detach(&hook, &opts))
			n++;
		key = next;
		prev = &key;
	}
	close(fd);
	return n;
}

/* XDP off the uplink when the program there is skiff's guard. */
static int xdp_guard_remove(const char *uplink)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info), id = 0;
	int ifindex, fd;

	if (!uplink || !(ifindex = (int)if_nametoindex(uplink)))
		return 0;
	if (bpf_xdp_query_id(ifindex, 0, &id) || !id)
		return 0;
	fd = bpf_prog_get_fd_by_id(id);
	memset(&info, 0, sizeof(info));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) ||
	    strcmp(info.name, "guard_uplink")) {
		if (fd >= 0)
			close(fd);
		fprintf(stderr, "dataplane: the XDP program on %s is not skiff's; left there\n",
			uplink);
		return 0;
	}
	close(fd);
	return bpf_xdp_detach(ifindex, 0, NULL) ? 0 : 1;
}

/* Unlink every pin in `dir` (files only); how many. */
static int unpin_dir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (e->d_type == DT_DIR || dp_path(path, sizeof(path), dir, e->d_name))
			continue;
		if (unlink(path) == 0)
			n++;
		else
			fprintf(stderr, "dataplane: cannot remove %s: %s\n", path, strerror(errno));
	}
	closedir(d);
	return n;
}

int dp_uninstall(const char *bpffs_dir, const char *uplink)
{
	char links[PATH_MAX];
	int tc, xdp, nlinks, nmaps;

	if (access(bpffs_dir, F_OK)) {
		fprintf(stderr, "skiffd: nothing to remove: %s does not exist\n", bpffs_dir);
		return 0;
	}
	if (dp_path(links, sizeof(links), bpffs_dir, "links"))
		return -ENAMETOOLONG;
	tc = tc_guard_remove(bpffs_dir);
	xdp = xdp_guard_remove(uplink);
	nlinks = unpin_dir(links);
	nmaps = unpin_dir(bpffs_dir);
	dp_bpffs_remove(bpffs_dir);
	if (access(bpffs_dir, F_OK) == 0) {
		fprintf(stderr, "skiffd: %s is not empty: something not skiff's is pinned there\n",
			bpffs_dir);
		return -ENOTEMPTY;
	}
	fprintf(stderr,
		"skiffd: removed %d links (their programs detached), %d maps, the TC guard from %d "
		"veths%s; %s is gone\n",
		nlinks, nmaps, tc, xdp ? " and XDP from the uplink" : "", bpffs_dir);
	return 0;
}
