// SPDX-License-Identifier: Apache-2.0
/* Programs and maps under skiff's pin directory, as the kernel reports them (inspect_bpf.h). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "inspect/inspect_bpf.h"
#include "skiff/guard.h"

/* Hooks by the names their programs' ELF sections use, which operators know from bpftool. */
static const char *hook_name(enum bpf_attach_type t)
{
	static const struct {
		enum bpf_attach_type t;
		const char *name;
	} names[] = {
	    {BPF_CGROUP_INET4_CONNECT, "cgroup/connect4"},
	    {BPF_CGROUP_INET6_CONNECT, "cgroup/connect6"},
	    {BPF_CGROUP_UDP4_SENDMSG, "cgroup/sendmsg4"},
	    {BPF_CGROUP_UDP6_SENDMSG, "cgroup/sendmsg6"},
	    {BPF_CGROUP_UDP4_RECVMSG, "cgroup/recvmsg4"},
	    {BPF_CGROUP_UDP6_RECVMSG, "cgroup/recvmsg6"},
	    {BPF_CGROUP_INET4_GETPEERNAME, "cgroup/getpeername4"},
	    {BPF_CGROUP_INET6_GETPEERNAME, "cgroup/getpeername6"},
	    {BPF_CGROUP_INET_SOCK_CREATE, "cgroup/sock_create"},
	    {BPF_CGROUP_INET_SOCK_RELEASE, "cgroup/sock_release"},
	    {BPF_CGROUP_INET4_POST_BIND, "cgroup/post_bind4"},
	    {BPF_CGROUP_INET6_POST_BIND, "cgroup/post_bind6"},
	    {BPF_CGROUP_SOCK_OPS, "sockops"},
	    {BPF_CGROUP_INET_INGRESS, "cgroup_skb/ingress"},
	    {BPF_CGROUP_INET_EGRESS, "cgroup_skb/egress"},
	};
	const char *s;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].t == t)
			return names[i].name;
	s = libbpf_bpf_attach_type_str(t);
	return s ? s : "unknown";
}

/* The program's name by id; "" when it went away meanwhile. */
static void prog_name(uint32_t id, char *out, size_t len)
{
	struct bpf_prog_info info;
	__u32 ilen = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);

	out[0] = '\0';
	if (fd < 0)
		return;
	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(fd, &info, &ilen))
		snprintf(out, len, "%s", info.name);
	close(fd);
}

static int cgroup_links(const char *pin_dir, inspect_prog_fn fn, void *ctx)
{
	char dir[PATH_MAX], path[PATH_MAX + NAME_MAX + 2];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/links", pin_dir);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct bpf_link_info info;
		__u32 len = sizeof(info);
		struct inspect_prog p = {0};
		int fd;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_LINK_TYPE_CGROUP) {
			p.hook = hook_name(info.cgroup.attach_type);
			p.prog_id = info.prog_id;
			p.cgroup_id = info.cgroup.cgroup_id;
			prog_name(p.prog_id, p.prog, sizeof(p.prog));
			fn(ctx, &p);
			n++;
		}
		close(fd);
	}
	closedir(d);
	return n;
}

/* The guard's TC filter (egress, handle 1, priority 1: dp_guard.c) on each veth it lists. */
static int tc_guards(const char *pin_dir, inspect_prog_fn fn, void *ctx)
{
	char path[PATH_MAX];
	__u32 cur, next;
	int fd, n = 0;
	bool first = true;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, SKIFF_MAP_GUARD_IFACES);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0; /* an older layout without the guard: nothing attached at TC */
	while (!bpf_map_get_next_key(fd, first ? NULL : &cur, &next)) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)next,
				    .attach_point = BPF_TC_EGRESS);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = 1, .priority = 1);
		struct inspect_prog p = {.hook = "tc/egress"};

		first = false;
		cur = next;
		if (bpf_tc_query(&hook, &opts) || !if_indextoname(next, p.iface))
			continue;
		p.prog_id = opts.prog_id;
		prog_name(p.prog_id, p.prog, sizeof(p.prog));
		fn(ctx, &p);
		n++;
	}
	close(fd);
	return n;
}

int inspect_programs(const char *pin_dir, const char *uplink, inspect_prog_fn fn, void *ctx)
{
	int n = cgroup_links(pin_dir, fn, ctx), ifindex;
	struct inspect_prog p = {.hook = "xdp"};

	if (n < 0)
		return n;
	n += tc_guards(pin_dir, fn, ctx);
	ifindex = uplink ? (int)if_nametoindex(uplink) : 0;
	if (ifindex && !bpf_xdp_query_id(ifindex, 0, &p.prog_id) && p.prog_id) {
		snprintf(p.iface, sizeof(p.iface), "%s", uplink);
		prog_name(p.prog_id, p.prog, sizeof(p.prog));
		fn(ctx, &p);
		n++;
	}
	return n;
}

/* Entries of a map that can be walked key by key; -1 for one that cannot. */
static long count_entries(int fd, const struct bpf_map_info *info)
{
	char cur[512], next[512];
	long n = 0;

	switch (info->type) {
	case BPF_MAP_TYPE_ARRAY:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_PROG_ARRAY:
		return info->max_entries;
	case BPF_MAP_TYPE_SK_STORAGE:
	case BPF_MAP_TYPE_INODE_STORAGE:
	case BPF_MAP_TYPE_TASK_STORAGE:
		return -1;
	default:
		break;
	}
	if (info->key_size > sizeof(cur))
		return -1;
	if (bpf_map_get_next_key(fd, NULL, next))
		return errno == ENOENT ? 0 : -1;
	/* a key deleted under the walk restarts it from the first: stop at the map's size */
	do {
		memcpy(cur, next, info->key_size);
		n++;
	} while (n < (long)info->max_entries && !bpf_map_get_next_key(fd, cur, next));
	return n;
}

/* A pinned object may be a map, a program or a link: the fd's inode says which. */
static bool is_map_fd(int fd)
{
	char link[64], target[64];
	ssize_t r;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	r = readlink(link, target, sizeof(target) - 1);
	if (r < 0)
		return false;
	target[r] = '\0';
	return !strcmp(target, "anon_inode:bpf-map");
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int inspect_maps(const char *pin_dir, inspect_map_fn fn, void *ctx)
{
	char path[PATH_MAX + NAME_MAX + 2];
	struct dirent **list;
	int n = scandir(pin_dir, &list, NULL, by_name), found = 0;

	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		struct bpf_map_info info;
		__u32 len = sizeof(info);
		struct inspect_map m = {0};
		const char *t;
		int fd = -1;

		snprintf(path, sizeof(path), "%s/%s", pin_dir, list[i]->d_name);
		if (list[i]->d_name[0] != '.' && list[i]->d_type != DT_DIR)
			fd = bpf_obj_get(path);
		memset(&info, 0, sizeof(info));
		if (fd >= 0 && is_map_fd(fd) && !bpf_obj_get_info_by_fd(fd, &info, &len)) {
			snprintf(m.name, sizeof(m.name), "%s", list[i]->d_name);
			t = libbpf_bpf_map_type_str(info.type);
			m.type = t ? t : "unknown";
			m.max_entries = info.max_entries;
			m.entries = count_entries(fd, &info);
			fn(ctx, &m);
			found++;
		}
		if (fd >= 0)
			close(fd);
		free(list[i]);
	}
	free(list);
	return found;
}
