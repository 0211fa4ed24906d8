// SPDX-License-Identifier: Apache-2.0
/* cgroup v2 directories of the lab, under /sys/fs/cgroup/unified/skiff-lab. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/lab.h"

int lab_cgroup_create(const char *path)
{
	int err = lab_mkdir_p(path);

	if (err)
		fprintf(stderr,
			"skiff-lab: cannot create cgroup %s: %s (is cgroup v2 mounted at "
			"/sys/fs/cgroup/unified?)\n",
			path, strerror(-err));
	return err;
}

static int write_to(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX];
	int fd, err = 0;

	lab_fmt(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* pid 0: the calling process. */
int lab_cgroup_join(const char *path, int pid)
{
	char buf[32];

	lab_fmt(buf, sizeof(buf), "%d", pid);
	return write_to(path, "cgroup.procs", buf);
}

int lab_cgroup_kill(const char *path)
{
	return write_to(path, "cgroup.kill", "1");
}

static bool cgroup_empty(const char *path)
{
	char file[PATH_MAX], buf[64];
	int fd;
	ssize_t n;

	lab_fmt(file, sizeof(file), "%s/cgroup.procs", path);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n <= 0;
}

/* Kill everything in the tree, then rmdir bottom-up (a cgroup can only go once it has no
 * processes and no children; killed processes take a moment to leave). */
int lab_cgroup_remove_tree(const char *path)
{
	char sub[PATH_MAX];
	struct dirent *e;
	struct stat st;
	DIR *d;
	int err = 0;

	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	lab_cgroup_kill(path);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		lab_fmt(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (lab_cgroup_remove_tree(sub) < 0)
			err = -EBUSY;
	}
	closedir(d);
	for (int i = 0; i < 200 && !cgroup_empty(path); i++)
		usleep(10000);
	for (int i = 0; i < 100; i++) {
		if (rmdir(path) == 0 || errno == ENOENT)
			return err;
		usleep(10000);
	}
	fprintf(stderr, "skiff-lab: cannot remove cgroup %s: %s\n", path, strerror(errno));
	return -errno;
}
