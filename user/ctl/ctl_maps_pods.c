// SPDX-License-Identifier: Apache-2.0
/*
 * skiffctl maps enrolled|policy|mtls|stats: the per-pod maps, decoded. Pods are named by the
 * keys the kernel knows them by (cgroup id, workload id, address), through skiffd's names.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_state.h" /* agent_guard_names */
#include "common/addr.h"
#include "ctl/ctl_maps.h"
#include "skiff/accel.h"
#include "skiff/guard.h"
#include "skiff/lb.h"
#include "skiff/policy.h"

struct pods_ctx {
	struct ctl_names *names;
	json_object *out;
	int ncpu;
};

static void add_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

static void add_num(json_object *o, const char *key, int64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

static void pod_flags(json_object *o, __u32 flags)
{
	char buf[64] = "";

	snprintf(buf, sizeof(buf), "%s%s%s%s", flags & SKIFF_POD_F_ENROLLED ? "enrolled " : "",
		 flags & SKIFF_POD_F_AUTHZ ? "authz " : "", flags & SKIFF_POD_F_L7 ? "l7 " : "",
		 flags & SKIFF_POD_F_STRICT ? "strict " : "");
	if (buf[0])
		buf[strlen(buf) - 1] = '\0';
	add_str(o, "flags", buf);
}

static void one_enrolled(void *ctx, const void *kp, const void *vp)
{
	const __u64 *cgid = kp;
	const struct skiff_pod *v = vp;
	struct pods_ctx *c = ctx;
	json_object *o = json_object_new_object();

	add_str(o, "pod", ctl_names_cgroup(c->names, *cgid));
	add_num(o, "cgroup_id", (int64_t)*cgid);
	add_num(o, "workload_id", v->workload_id);
	pod_flags(o, v->flags);
	json_object_array_add(c->out, o);
}

static const char *workload(struct pods_ctx *c, __u32 id)
{
	const char *name = id == SKIFF_WL_AGENT ? "(skiffd)" : ctl_names_workload(c->names, id);

	return name ? name : id ? "?" : "(not a mesh pod here)";
}

static void one_policy(void *ctx, const void *kp, const void *vp)
{
	const struct skiff_policy_key *k = kp;
	const struct skiff_policy *v = vp;
	struct pods_ctx *c = ctx;
	json_object *o = json_object_new_object();

	add_str(o, "from", workload(c, k->src_workload));
	add_str(o, "to", workload(c, k->dst_workload));
	add_num(o, "src_workload", k->src_workload);
	add_num(o, "dst_workload", k->dst_workload);
	add_num(o, "port", ntohs(k->port));
	add_str(o, "family", k->family == SKIFF_AF_INET6 ? "ipv6" : "ipv4");
	add_str(o, "verdict", v->verdict == SKIFF_POLICY_ALLOW ? "ALLOW" : "DENY");
	json_object_array_add(c->out, o);
}

static void one_mtls(void *ctx, const void *kp, const void *vp)
{
	static const char *const modes[] = {[SKIFF_MTLS_PERMISSIVE] = "PERMISSIVE",
					    [SKIFF_MTLS_STRICT] = "STRICT",
					    [SKIFF_MTLS_DISABLE] = "DISABLE"};
	const struct skiff_mtls_key *k = kp;
	const struct skiff_mtls *v = vp;
	struct pods_ctx *c = ctx;
	json_object *o = json_object_new_object();
	char ip[INET6_ADDRSTRLEN];

	addr_text(&k->addr, k->family, ip, sizeof(ip));
	add_str(o, "pod", ctl_names_addr(c->names, ip));
	add_str(o, "addr", ip);
	add_num(o, "port", ntohs(k->port));
	add_str(o, "mode", v->mode < 3 ? modes[v->mode] : "?");
	json_object_array_add(c->out, o);
}

static void one_l4(void *ctx, const void *kp, const void *vp)
{
	const struct skiff_l4_key *k = kp;
	const struct skiff_l4_stats *v = vp;
	struct pods_ctx *c = ctx;
	struct skiff_l4_stats sum = {0};
	json_object *o = json_object_new_object();

	for (int i = 0; i < c->ncpu; i++) {
		sum.conns_opened += v[i].conns_opened;
		sum.conns_closed += v[i].conns_closed;
		sum.bytes_received += v[i].bytes_received;
		sum.bytes_sent += v[i].bytes_sent;
		sum.tcp_fallbacks += v[i].tcp_fallbacks;
	}
	add_str(o, "from", workload(c, k->src_workload));
	add_str(o, "to", workload(c, k->dst_workload));
	add_num(o, "conns_opened", (int64_t)sum.conns_opened);
	add_num(o, "conns_closed", (int64_t)sum.conns_closed);
	add_num(o, "bytes_received", (int64_t)sum.bytes_received);
	add_num(o, "bytes_sent", (int64_t)sum.bytes_sent);
	add_num(o, "tcp_fallbacks", (int64_t)sum.tcp_fallbacks);
	json_object_array_add(c->out, o);
}

/* The STRICT guard's verdict counters, summed over CPUs, as one object. */
static json_object *guard_stats(int fd, int ncpu)
{
	json_object *o = json_object_new_object();
	__u64 *v = calloc((size_t)ncpu, sizeof(*v));

	if (!v)
		abort();
	for (__u32 k = 0; k < SKIFF_GUARD_VERDICTS; k++) {
		__u64 sum = 0;

		if (!bpf_map_lookup_elem(fd, &k, v))
			for (int i = 0; i < ncpu; i++)
				sum += v[i];
		add_num(o, agent_guard_names[k], (int64_t)sum);
	}
	free(v);
	return o;
}

static const struct pod_map {
	const char *kind, *map;
	size_t ksz, vsz;
	ctl_entry_fn fn;
	int percpu;
} pod_maps[] = {
    {"enrolled", SKIFF_MAP_ENROLLED, sizeof(__u64), sizeof(struct skiff_pod), one_enrolled, 0},
    {"policy", SKIFF_MAP_POLICY, sizeof(struct skiff_policy_key), sizeof(struct skiff_policy),
     one_policy, 0},
    {"mtls", SKIFF_MAP_MTLS, sizeof(struct skiff_mtls_key), sizeof(struct skiff_mtls), one_mtls, 0},
    {"stats", SKIFF_MAP_L4_STATS, sizeof(struct skiff_l4_key), sizeof(struct skiff_l4_stats),
     one_l4, 1},
};

json_object *ctl_maps_read_pods(const char *kind, const char *dir, struct ctl_names *names,
				FILE *err)
{
	struct pods_ctx c = {.names = names, .ncpu = libbpf_num_possible_cpus()};
	const struct pod_map *pm = NULL;
	char path[4096];
	json_object *res;
	int fd;

	for (size_t i = 0; i < sizeof(pod_maps) / sizeof(pod_maps[0]); i++)
		if (!strcmp(pod_maps[i].kind, kind))
			pm = &pod_maps[i];
	if (!pm || c.ncpu <= 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, pm->map);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		fprintf(err, "skiffctl maps: cannot open %s: %s (pass --pin-dir)\n", path,
			strerror(errno));
		return NULL;
	}
	c.out = json_object_new_array();
	ctl_map_each(fd, pm->ksz, pm->vsz * (pm->percpu ? (size_t)c.ncpu : 1), pm->fn, &c);
	close(fd);
	if (strcmp(kind, "stats"))
		return c.out;
	res = json_object_new_object();
	json_object_object_add(res, "l4", c.out);
	snprintf(path, sizeof(path), "%s/%s", dir, SKIFF_MAP_GUARD_STATS);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		json_object_object_add(res, "guard", guard_stats(fd, c.ncpu));
		close(fd);
	}
	return res;
}

static const char *js(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return "-";
	return json_object_get_string(v);
}

void ctl_maps_print_pods(FILE *out, const char *kind, json_object *v)
{
	json_object *rows = v, *g;

	if (!strcmp(kind, "stats"))
		json_object_object_get_ex(v, "l4", &rows);
	for (size_t i = 0; rows && i < json_object_array_length(rows); i++) {
		json_object *o = json_object_array_get_idx(rows, i);

		if (!strcmp(kind, "enrolled"))
			fprintf(out, "%-48s cgroup %-10s workload %-5s %s\n", js(o, "pod"),
				js(o, "cgroup_id"), js(o, "workload_id"), js(o, "flags"));
		else if (!strcmp(kind, "policy"))
			fprintf(out, "%-40s -> %-40s port %-5s %s %s\n", js(o, "from"), js(o, "to"),
				js(o, "port"), js(o, "family"), js(o, "verdict"));
		else if (!strcmp(kind, "mtls"))
			fprintf(out, "%-48s %-39s port %-5s %s\n", js(o, "pod"), js(o, "addr"),
				js(o, "port"), js(o, "mode"));
		else
			fprintf(out, "%-40s -> %-40s opened %s closed %s bytes in %s out %s\n",
				js(o, "from"), js(o, "to"), js(o, "conns_opened"),
				js(o, "conns_closed"), js(o, "bytes_received"),
				js(o, "bytes_sent"));
	}
	if (!strcmp(kind, "stats") && json_object_object_get_ex(v, "guard", &g)) {
		fprintf(out, "STRICT guard:");
		json_object_object_foreach(g, key, val)
		    fprintf(out, " %s %s", key, json_object_get_string(val));
		fprintf(out, "\n");
	}
}
