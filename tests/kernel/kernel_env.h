/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every kernel test does to its surroundings: run a shell command (ip netns, ip addr), write
 * a sysfs/cgroupfs file, make and remove cgroups, move this process between them, find the
 * cgroup it started in. Header-only (static), included after <cmocka.h>: cg_enter asserts.
 * The cgroup v2 hierarchy is at /sys/fs/cgroup/unified, as on the project machines and in
 * vmtests/guest.sh.
 */
#ifndef SKIFF_TESTS_KERNEL_ENV_H
#define SKIFF_TESTS_KERNEL_ENV_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/addr.h"

/* A shell command, printf-style; 0 when it exited 0. */
static inline int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd) == 0 ? 0 : -1;
}

static inline int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* mkdir a cgroup (it may exist); its id (the directory's inode) in *id when asked. */
static inline int mkcg(const char *path, uint64_t *id)
{
	struct stat st;

	if (mkdir(path, 0755) && errno != EEXIST)
		return -errno;
	if (id) {
		if (stat(path, &st))
			return -errno;
		*id = st.st_ino;
	}
	return 0;
}

/* rmdir a cgroup, waiting out the moment its last task takes to leave. */
static inline void rmcg(const char *path)
{
	for (int i = 0; i < 100 && rmdir(path) && errno == EBUSY; i++)
		usleep(10000);
}

/* The same after killing what is still in it (children a failed case left behind). */
static inline void rmcg_kill(const char *path)
{
	char kill[300];

	snprintf(kill, sizeof(kill), "%s/cgroup.kill", path);
	write_file(kill, "1");
	rmcg(path);
}

/* Move this whole process into cgroup directory `cg`. */
static inline int cg_move(const char *cg)
{
	char procs[600];

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	return write_file(procs, "0");
}

static inline void cg_enter(const char *cg)
{
	assert_int_equal(cg_move(cg), 0);
}

/* The cgroup directory this process is in now (to come back to). */
static inline int cg_home(char *buf, size_t size)
{
	char line[200];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(buf, size, "/sys/fs/cgroup/unified%s", line + 3);
		err = 0;
	}
	fclose(f);
	return err;
}

/* ---- socket addresses from literals (user/common/addr.h does the work) ---- */

static inline int family_of(const char *ip)
{
	return strchr(ip, ':') ? AF_INET6 : AF_INET;
}

/* `ip`:`port` as a socket address; returns its length (0 for a bad literal, which bind and
 * connect then refuse visibly). */
static inline socklen_t sa_make(const char *ip, int port, struct sockaddr_storage *ss)
{
	int n = addr_sockaddr(ip, (uint16_t)port, ss);

	return n < 0 ? 0 : (socklen_t)n;
}

/* A socket address as skiff's endpoint (address, port, family; network order). */
static inline void sa_endpoint(const struct sockaddr_storage *ss, struct skiff_sock_origin *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->family = (__u8)addr_from_sockaddr(ss, &ep->addr, &ep->port);
}

#endif
