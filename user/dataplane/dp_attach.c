// SPDX-License-Identifier: Apache-2.0
/*
 * Attach sock_lb's programs, sock_accel's sockops and the STRICT guard's socket check at the pod
 * cgroup root through bpf_links pinned under <bpffs_dir>/links/<program>. A link pinned by an
 * earlier agent is adopted and switched to the newly loaded program in one step
 * (BPF_LINK_UPDATE), so a restart never leaves pods untranslated. The socket check is there only
 * while some local pod is STRICT on a port (dp_apply).
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
#include "guard.skel.h"
#include "sock_accel.skel.h"
#include "sock_lb.skel.h"

/* <dir>/links/<program><suffix>: one pinned link per (program, cgroup) */
static int link_path(char *buf, size_t size, const struct dataplane *dp,
		     const struct bpf_program *prog, const char *suffix)
{
	char rel[NAME_MAX];

	snprintf(rel, sizeof(rel), "links/%s%s", bpf_program__name(prog), suffix);
	return dp_path(buf, size, dp->dir, rel);
}

/* The cgroup a pinned link is attached to, 0 when it lost it (the cgroup was removed). */
static unsigned long long link_cgroup_id(const struct bpf_link *link)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len))
		return 0;
	return info.type == BPF_LINK_TYPE_CGROUP ? info.cgroup.cgroup_id : 0;
}

/* Adopt the link pinned at `path`: 1 when adopted, 0 when there is none we can use. */
static int link_adopt(struct bpf_program *prog, const char *path, unsigned long long cgid,
		      struct bpf_link **out)
{
	struct bpf_link *link;
	int err;

	if (access(path, F_OK) && errno == ENOENT)
		return 0; /* nothing pinned yet: a first start */
	link = bpf_link__open(path);
	if (!link) {
		err = -errno;
		if (err == -ENOENT)
			return 0;
		fprintf(stderr,
			"dataplane: cannot open pinned link %s: %s (remove it if it is not "
			"skiff's)\n",
			path, strerror(-err));
		return err;
	}
	if (link_cgroup_id(link) != cgid) {
		fprintf(stderr,
			"dataplane: link %s is attached to another (or a removed) cgroup; "
			"replacing it\n",
			path);
		goto out_replace;
	}
	err = bpf_link__update_program(link, prog);
	if (err) {
		fprintf(stderr, "dataplane: cannot update link %s: %s; replacing it\n", path,
			strerror(-err));
		goto out_replace;
	}
	*out = link;
	return 1;

out_replace:
	bpf_link__unpin(link);
	bpf_link__destroy(link);
	return 0;
}

static int link_create(struct bpf_program *prog, int cgfd, const char *path, struct bpf_link **out)
{
	struct bpf_link *link = bpf_program__attach_cgroup(prog, cgfd);
	int err;

	if (!link) {
		err = -errno;
		fprintf(stderr, "dataplane: cannot attach %s: %s\n", bpf_program__name(prog),
			strerror(-err));
		return err;
	}
	err = bpf_link__pin(link, path);
	if (err) {
		fprintf(stderr, "dataplane: cannot pin link %s: %s\n", path, strerror(-err));
		bpf_link__destroy(link);
		return err;
	}
	*out = link;
	return 0;
}

int dp_attach_one(struct dataplane *dp, struct bpf_program *prog, int cgfd, unsigned long long cgid,
		  const char *suffix)
{
	struct bpf_link *link = NULL;
	char path[PATH_MAX];
	int err;

	if (dp->nlinks >= DP_MAX_LINKS)
		return -E2BIG;
	err = link_path(path, sizeof(path), dp, prog, suffix);
	if (err)
		return err;
	err = link_adopt(prog, path, cgid, &link);
	if (err == 0)
		err = link_create(prog, cgfd, path, &link);
	if (err < 0)
		return err;
	dp->links[dp->nlinks++] = link;
	return 0;
}

int dp_attach_all(struct dataplane *dp)
{
	struct bpf_program *prog;
	struct stat st;
	int cgfd, err = 0;

	cgfd = open(dp->cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0 || fstat(cgfd, &st)) {
		err = -errno;
		fprintf(stderr,
			"dataplane: cannot open cgroup root %s: %s (is cgroup v2 mounted, "
			"and does the directory exist?)\n",
			dp->cgroup_root, strerror(-err));
		if (cgfd >= 0)
			close(cgfd);
		return err;
	}
	bpf_object__for_each_program(prog, dp->skel->obj)
	{
		err = dp_attach_one(dp, prog, cgfd, st.st_ino, "");
		if (err)
			break;
	}
	/* sockops runs even with --no-accel: it keeps the L4 counters */
	if (!err)
		err = dp_attach_one(dp, dp->accel->progs.accel_sockops, cgfd, st.st_ino, "");
	close(cgfd);
	/* an earlier agent's socket check stays in force, on our program, until dp_apply decides */
	if (!err && dp_guard_sock_pinned(dp))
		err = dp_guard_sock_attach(dp);
	if (!err && dp->accel_on && dp->agent_sockops)
		dp_attach_agent(dp); /* without it the punt hops stay on TCP: slower, not wrong */
	else if (!err)
		dp_detach_agent(dp);
	return err;
}

/* links/guard_sock, where the STRICT guard's socket check is pinned while it is attached */
static int guard_sock_path(char *buf, size_t size, const struct dataplane *dp)
{
	return link_path(buf, size, dp, dp->guard->progs.guard_sock, "");
}

bool dp_guard_sock_pinned(const struct dataplane *dp)
{
	char path[PATH_MAX];

	return !guard_sock_path(path, sizeof(path), dp) && !access(path, F_OK);
}

int dp_guard_sock_attach(struct dataplane *dp)
{
	struct bpf_program *prog = dp->guard->progs.guard_sock;
	char path[PATH_MAX];
	struct stat st;
	int cgfd, err;

	if (dp->guard_sock)
		return 0;
	err = guard_sock_path(path, sizeof(path), dp);
	if (err)
		return err;
	cgfd = open(dp->cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0 || fstat(cgfd, &st)) {
		err = -errno;
		fprintf(stderr,
			"dataplane: cannot open cgroup root %s for the STRICT socket check: %s\n",
			dp->cgroup_root, strerror(-err));
		if (cgfd >= 0)
			close(cgfd);
		return err;
	}
	err = link_adopt(prog, path, st.st_ino, &dp->guard_sock);
	if (err == 0)
		err = link_create(prog, cgfd, path, &dp->guard_sock);
	close(cgfd);
	return err < 0 ? err : 0;
}

void dp_guard_sock_detach(struct dataplane *dp)
{
	struct bpf_link *link = dp->guard_sock;
	char path[PATH_MAX];

	if (!link && dp_guard_sock_pinned(dp) && !guard_sock_path(path, sizeof(path), dp))
		link = bpf_link__open(path); /* an earlier agent's */
	if (!link)
		return;
	/* unpinned and closed, the link has no holder left: the kernel detaches it */
	if (bpf_link__unpin(link))
		fprintf(stderr, "dataplane: cannot unpin the STRICT socket check under %s/links\n",
			dp->dir);
	bpf_link__destroy(link);
	dp->guard_sock = NULL;
}

void dp_links_close(struct dataplane *dp, bool unpin)
{
	if (dp->guard_sock) {
		if (unpin && bpf_link__unpin(dp->guard_sock))
			fprintf(stderr, "dataplane: cannot unpin a link under %s/links\n", dp->dir);
		bpf_link__destroy(dp->guard_sock);
		dp->guard_sock = NULL;
	}
	for (size_t i = 0; i < dp->nlinks; i++) {
		if (unpin && bpf_link__unpin(dp->links[i]))
			fprintf(stderr, "dataplane: cannot unpin a link under %s/links\n", dp->dir);
		bpf_link__destroy(dp->links[i]);
		dp->links[i] = NULL;
	}
	dp->nlinks = 0;
}
