// SPDX-License-Identifier: Apache-2.0
/* skiffctl sockets: the accelerated sockets of this node, decoded from skiff_sockhash's keys. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "common/addr.h"
#include "inspect/inspect.h"
#include "skiff/accel.h"

static void print_end(FILE *out, const union skiff_addr *a, __u16 port, __u8 family)
{
	char buf[ADDR_ENDPOINT_MAX];

	fputs(addr_endpoint(a, family, port, buf, sizeof(buf)), out);
}

static void print_socket(FILE *out, const struct skiff_sock_key *k, __u64 cookie)
{
	fprintf(out, "%s ", k->family == SKIFF_AF_INET6 ? "ipv6" : "ipv4");
	print_end(out, &k->local, k->local_port, k->family);
	fputs(" -> ", out);
	print_end(out, &k->remote, k->remote_port, k->family);
	fprintf(out, " cookie %llu\n", (unsigned long long)cookie);
}

int inspect_sockets(FILE *out, const char *bpffs)
{
	struct skiff_sock_key cur, next;
	char path[512];
	bool first = true;
	int fd, n = 0, err;

	snprintf(path, sizeof(path), "%s/%s", bpffs, SKIFF_MAP_SOCKHASH);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr,
			"skiffctl: cannot open %s: %s (is skiffd running with --bpffs %s?)\n", path,
			strerror(-err), bpffs);
		return err;
	}
	while (!bpf_map_get_next_key(fd, first ? NULL : &cur, &next)) {
		__u64 cookie = 0;

		first = false;
		cur = next;
		if (bpf_map_lookup_elem(fd, &cur, &cookie))
			continue; /* closed since the key was listed */
		print_socket(out, &cur, cookie);
		n++;
	}
	close(fd);
	fprintf(out,
		"%d accelerated socket(s) (two per connection on the fast path: pod to pod, or pod "
		"to skiffd)\n",
		n);
	return n;
}
