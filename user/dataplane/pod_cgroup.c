// SPDX-License-Identifier: Apache-2.0
/* Pod uid -> cgroup id, by walking the cgroup tree as kubelet lays it out (see pod_cgroup.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataplane/pod_cgroup.h"

/* Copy `len` chars of a uid, mapping the systemd escape '_' back to '-'. */
static int uid_copy(const char *s, size_t len, char *uid, size_t size)
{
	if (len == 0 || len >= size)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i] == '_' ? '-' : s[i];

		if (!isalnum((unsigned char)c) && c != '-')
			return -EINVAL;
		uid[i] = c;
	}
	uid[len] = '\0';
	return 0;
}

int pod_cgroup_uid_from_name(const char *name, char *uid, size_t size)
{
	static const char slice[] = ".slice";
	size_t n = strlen(name), ns = sizeof(slice) - 1;
	const char *p;

	/* systemd: kubepods-burstable-pod<uid_>.slice; the uid itself holds no '-' here. */
	if (n > ns && !strcmp(name + n - ns, slice)) {
		p = strstr(name, "-pod");
		while (p && strstr(p + 1, "-pod"))
			p = strstr(p + 1, "-pod");
		if (!p)
			return -EINVAL;
		p += 4;
		if (memchr(p, '-', name + n - ns - p))
			return -EINVAL;
		return uid_copy(p, name + n - ns - p, uid, size);
	}
	/* cgroupfs: pod<uid> */
	if (strncmp(name, "pod", 3) || strchr(name, '_'))
		return -EINVAL;
	return uid_copy(name + 3, n - 3, uid, size);
}

static int table_add(struct pod_cgroup_table *t, const char *uid, uint64_t id)
{
	struct pod_cgroup *v = realloc(t->v, (t->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	t->v = v;
	v[t->n].uid = strdup(uid);
	if (!v[t->n].uid)
		return -ENOMEM;
	v[t->n].id = id;
	t->n++;
	return 0;
}

/* One directory level; pod cgroups are recorded and not descended into (containers live there). */
static int scan_dir(int dfd, int depth, struct pod_cgroup_table *t)
{
	char uid[128];
	struct dirent *e;
	struct stat st;
	int err = 0, sub;
	DIR *d = fdopendir(dfd);

	if (!d) {
		close(dfd);
		return -errno;
	}
	while (!err && (e = readdir(d))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if (pod_cgroup_uid_from_name(e->d_name, uid, sizeof(uid)) == 0) {
			if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
				err = table_add(t, uid, st.st_ino);
			continue;
		}
		if (depth + 1 >= POD_CGROUP_MAX_DEPTH)
			continue;
		sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub >= 0)
			err = scan_dir(sub, depth + 1, t); /* a cgroup that vanished is no error */
	}
	closedir(d);
	return err;
}

int pod_cgroup_scan(const char *root, struct pod_cgroup_table *t)
{
	int dfd, err;

	t->v = NULL;
	t->n = 0;
	dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			return 0;
		err = -errno;
		fprintf(stderr, "pod_cgroup: cannot open cgroup root %s: %s\n", root,
			strerror(-err));
		return err;
	}
	err = scan_dir(dfd, 0, t);
	if (err) {
		fprintf(stderr, "pod_cgroup: scanning %s failed: %s\n", root, strerror(-err));
		pod_cgroup_table_free(t);
	}
	return err;
}

int pod_cgroup_find(const struct pod_cgroup_table *t, const char *uid, uint64_t *id)
{
	for (size_t i = 0; i < t->n; i++) {
		if (!strcasecmp(t->v[i].uid, uid)) {
			*id = t->v[i].id;
			return 0;
		}
	}
	return -ENOENT;
}

void pod_cgroup_table_free(struct pod_cgroup_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].uid);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}
