// SPDX-License-Identifier: Apache-2.0
/*
 * sockops on skiffd's own cgroup. The hops between a pod and skiffd on one node (a punted client
 * to the outbound listener, skiffd to a pod it serves) join the sockhash like same-node pod
 * traffic, but only if sockops also sees skiffd's end of them (bpf/lib/accel_agent.h). skiffd's
 * cgroup is --agent-cgroup, else read from /proc/self/cgroup and found under the cgroup2 mount of
 * the pod cgroup root. The latter is refused when it is the hierarchy's root (every process on
 * the node would run the program; in a private cgroup namespace that is also what skiffd sees).
 * Either is refused when it contains the pod cgroup root or lies inside it (pod sockets would run
 * sockops twice, or skiffd's would be taken for a pod's). Refused or failed, the hops simply stay
 * on TCP.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dp_internal.h"
#include "sock_accel.skel.h"

/* skiffd's cgroup v2 path ("0::/a/b" in /proc/self/cgroup -> "/a/b"). */
static int own_cgroup(char *out, size_t len)
{
	char line[PATH_MAX + 8];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			size_t n = strcspn(line + 3, "\n");

			err = n < len ? 0 : -ENAMETOOLONG;
			if (!err) {
				memcpy(out, line + 3, n);
				out[n] = '\0';
			}
			break;
		}
	fclose(f);
	return err;
}

/* The cgroup2 mount point that holds `path` (the longest one that prefixes it). */
static int cgroup2_mount_of(const char *path, char *out, size_t len)
{
	char line[2 * PATH_MAX], mnt[PATH_MAX], fstype[64];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	size_t best = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");
		size_t n;

		/* id parent major:minor root mount-point ... - fstype source options */
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		n = strlen(mnt);
		if (n > best && !strncmp(path, mnt, n) && (path[n] == '/' || !path[n])) {
			snprintf(out, len, "%s", mnt);
			best = n;
		}
	}
	fclose(f);
	return best ? 0 : -ENOENT;
}

/* Is one of the two directories the other or inside it? */
static bool nested(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b), n = na < nb ? na : nb;

	return !strncmp(a, b, n) && (a[n] == '/' || !a[n]) && (b[n] == '/' || !b[n]);
}

/* skiffd's cgroup directory into `dir` (PATH_MAX): --agent-cgroup, else /proc/self/cgroup under
 * the cgroup2 mount of the pod cgroup root `root`. -EPERM: it is the hierarchy's root. */
static int agent_dir(const struct dataplane *dp, const char *root, char *dir)
{
	char rel[PATH_MAX], mnt[PATH_MAX];

	if (dp->agent_cgroup[0])
		return realpath(dp->agent_cgroup, dir) ? 0 : -errno;
	if (own_cgroup(rel, sizeof(rel)) || cgroup2_mount_of(root, mnt, sizeof(mnt)))
		return -ENOENT;
	if (!strcmp(rel, "/"))
		return -EPERM;
	return snprintf(dir, PATH_MAX, "%s%s", mnt, rel) < PATH_MAX ? 0 : -ENAMETOOLONG;
}

void dp_attach_agent(struct dataplane *dp)
{
	char dir[PATH_MAX], root[PATH_MAX];
	struct stat st;
	int fd, err;

	err = realpath(dp->cgroup_root, root) ? agent_dir(dp, root, dir) : -errno;
	if (err == -EPERM) {
		fprintf(stderr,
			"dataplane: skiffd's cgroup is the root of its hierarchy (or of a "
			"private cgroup namespace); the hops between pods and skiffd stay on TCP "
			"(run skiffd in a cgroup of its own, or give --agent-cgroup)\n");
		return;
	}
	if (err) {
		fprintf(stderr,
			"dataplane: cannot tell skiffd's own cgroup v2 directory%s%s: %s; the "
			"hops between pods and skiffd stay on TCP (give it with --agent-cgroup)\n",
			dp->agent_cgroup[0] ? " " : "", dp->agent_cgroup, strerror(-err));
		return;
	}
	if (nested(dir, root)) {
		fprintf(stderr,
			"dataplane: skiffd's cgroup %s is nested with the pod cgroup root %s; "
			"the hops between pods and skiffd stay on TCP (run skiffd in a cgroup "
			"beside the pod cgroup root)\n",
			dir, root);
		return;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr,
			"dataplane: cannot open skiffd's cgroup %s: %s; the hops between pods "
			"and skiffd stay on TCP\n",
			dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	err = dp_attach_one(dp, dp->accel->progs.accel_sockops, fd, st.st_ino, "_agent");
	close(fd);
	dp->agent_accel = !err;
}

void dp_detach_agent(struct dataplane *dp)
{
	char path[PATH_MAX];

	/* the pinned file holds the link: removing it detaches the program */
	if (!dp_path(path, sizeof(path), dp->dir, "links/accel_sockops_agent") && unlink(path) &&
	    errno != ENOENT)
		fprintf(stderr, "dataplane: cannot remove %s: %s\n", path, strerror(errno));
}

bool dp_punt_hops_fast(const struct dataplane *dp)
{
	return dp->agent_accel;
}

void dp_agent_dial(struct dataplane *dp, const struct skiff_agent_dial_key *k, bool add)
{
	__u8 one = 1;
	int fd;

	if (!dp || !dp->accel)
		return;
	fd = bpf_map__fd(dp->accel->maps.skiff_agent_dial);
	if (add)
		bpf_map_update_elem(fd, k, &one, BPF_ANY);
	else
		bpf_map_delete_elem(fd, k);
}
