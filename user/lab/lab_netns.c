// SPDX-License-Identifier: Apache-2.0
/*
 * Working inside the lab's network namespaces without `ip netns exec` (which remounts /sys and so
 * hides /sys/fs/cgroup/unified and /sys/fs/bpf): setns() to the namespace, do one thing, setns()
 * back. A socket keeps the namespace it was created in; a /proc/sys/net file is bound to the
 * namespace of the process that opens it.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lab/lab.h"

static int open_netns(const char *netns)
{
	char path[PATH_MAX];
	int fd;

	lab_fmt(path, sizeof(path), "/run/netns/%s", netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

bool lab_netns_exists(const char *netns)
{
	char path[PATH_MAX];
	struct stat st;

	lab_fmt(path, sizeof(path), "/run/netns/%s", netns);
	return stat(path, &st) == 0;
}

int lab_netns_enter(const char *netns)
{
	int fd = open_netns(netns), err = 0;

	if (fd < 0)
		return fd;
	if (setns(fd, CLONE_NEWNET) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Run `fn` with the calling thread in `netns`; its result (>= 0) or a negative errno. */
static int in_netns(const char *netns, int (*fn)(void *), void *arg)
{
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), err;

	if (self < 0)
		return -errno;
	err = lab_netns_enter(netns);
	if (!err) {
		err = fn(arg);
		if (setns(self, CLONE_NEWNET) < 0) {
			perror("skiff-lab: setns back to the original netns");
			err = -errno;
		}
	}
	close(self);
	return err;
}

struct sock_args {
	int domain, type;
};

static int make_socket(void *arg)
{
	struct sock_args *a = arg;
	int fd = socket(a->domain, a->type | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

int lab_netns_socket(const char *netns, int domain, int type)
{
	struct sock_args a = {domain, type};

	return in_netns(netns, make_socket, &a);
}

struct sysctl_args {
	const char *path, *val;
};

static int write_sysctl(void *arg)
{
	struct sysctl_args *a = arg;
	int fd = open(a->path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, a->val, strlen(a->val)) < 0)
		err = -errno;
	close(fd);
	return err;
}

int lab_netns_sysctl(const char *netns, const char *path, const char *val)
{
	struct sysctl_args a = {path, val};
	int err = in_netns(netns, write_sysctl, &a);

	if (err < 0)
		fprintf(stderr, "skiff-lab: netns %s: cannot set %s to %s: %s\n", netns, path, val,
			strerror(-err));
	return err;
}
