// SPDX-License-Identifier: Apache-2.0
/* The bpffs directory the dataplane pins into: mount bpffs if needed, mkdir -p, remove. */
#include <errno.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "dataplane/dp_internal.h"

#define DP_BPFFS_MOUNT "/sys/fs/bpf"

int dp_path(char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "dataplane: path %s/%s is too long\n", dir, name);
		return -ENAMETOOLONG;
	}
	return 0;
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

/* Pins only live on a bpffs; distributions that do not mount one at boot leave us to do it. */
static int bpffs_mount(void)
{
	if (is_bpffs(DP_BPFFS_MOUNT))
		return 0;
	if (mkdir(DP_BPFFS_MOUNT, 0700) && errno != EEXIST)
		return -errno;
	if (mount("bpf", DP_BPFFS_MOUNT, "bpf", 0, "mode=0700")) {
		int err = -errno;

		fprintf(stderr,
			"dataplane: cannot mount bpffs on %s: %s (run as root, or mount it: "
			"mount -t bpf bpf %s)\n",
			DP_BPFFS_MOUNT, strerror(-err), DP_BPFFS_MOUNT);
		return err;
	}
	return 0;
}

static int mkdir_p(const char *dir)
{
	char buf[PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, dir, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

int dp_bpffs_ensure(const char *dir)
{
	char links[PATH_MAX];
	int err;

	err = bpffs_mount();
	if (err)
		return err;
	err = dp_path(links, sizeof(links), dir, "links");
	if (!err)
		err = mkdir_p(links);
	if (err) {
		fprintf(stderr, "dataplane: cannot create %s: %s\n", links, strerror(-err));
		return err;
	}
	if (!is_bpffs(dir)) {
		fprintf(stderr,
			"dataplane: %s is not on a bpffs; pins need one (use a directory "
			"under %s)\n",
			dir, DP_BPFFS_MOUNT);
		return -EINVAL;
	}
	return 0;
}

/* Remove the (now empty) links directory and the pin directory. */
void dp_bpffs_remove(const char *dir)
{
	char links[PATH_MAX];

	if (!dp_path(links, sizeof(links), dir, "links") && rmdir(links) && errno != ENOENT)
		fprintf(stderr, "dataplane: cannot remove %s: %s\n", links, strerror(errno));
	if (rmdir(dir) && errno != ENOENT)
		fprintf(stderr, "dataplane: cannot remove %s: %s\n", dir, strerror(errno));
}
