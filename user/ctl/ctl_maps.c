// SPDX-License-Identifier: Apache-2.0
/*
 * skiffctl maps [KIND]: skiff's pinned maps read directly (bpf_obj_get on the pins, as bpftool
 * does: the maps are the truth of what the kernel does), decoded with names. Names come from
 * the node's skiffd (/config_dump: services, backends' pods and versions, enrolled pods' cgroup
 * and workload ids); without it, addresses and ids are shown as they are.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include "common/addr.h"
#include "ctl/ctl.h"
#include "ctl/ctl_fmt.h"
#include "ctl/ctl_http.h"
#include "ctl/ctl_maps.h"
#include "skiff/accel.h"
#include "skiff/guard.h"
#include "skiff/lb.h"
#include "skiff/policy.h"

static int open_pin(const char *dir, const char *name, FILE *err)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(err,
			"skiffctl maps: cannot open %s: %s (is skiffd running with --bpffs %s? "
			"pass --pin-dir)\n",
			path, strerror(errno), dir);
	return fd;
}

/* Call fn for every entry; values of per-CPU maps are summed by the caller (ncpu copies). A key
 * deleted under the walk restarts it from the first: a busy LRU map could keep it going, so it
 * stops after the map's max_entries. */
int ctl_map_each(int fd, size_t ksz, size_t vsz, ctl_entry_fn fn, void *ctx)
{
	unsigned char cur[64], next[64], *val = malloc(vsz);
	struct bpf_map_info info;
	__u32 ilen = sizeof(info);
	bool first = true;
	long steps = 0, max;
	int n = 0;

	if (!val || ksz > sizeof(cur))
		abort();
	memset(&info, 0, sizeof(info));
	max = bpf_obj_get_info_by_fd(fd, &info, &ilen) ? 1L << 22 : (long)info.max_entries;
	while (steps++ < max && !bpf_map_get_next_key(fd, first ? NULL : cur, next)) {
		first = false;
		memcpy(cur, next, ksz);
		if (bpf_map_lookup_elem(fd, cur, val))
			continue; /* gone since it was listed */
		fn(ctx, cur, val);
		n++;
	}
	free(val);
	return n;
}

struct svc_ctx {
	struct ctl_names *names;
	int backends_fd;
	__u32 gen;
	json_object *out; /* array of decoded services */
};

static void one_service(void *ctx, const void *kp, const void *vp)
{
	const struct skiff_svc_key *k = kp;
	const struct skiff_svc *v = vp;
	struct svc_ctx *c = ctx;
	char vip[ADDR_ENDPOINT_MAX], be[ADDR_ENDPOINT_MAX];
	json_object *s, *bes;
	__u32 prev = 0;

	if (k->gen != c->gen)
		return; /* a generation being written or deleted: not what connect() sees */
	addr_endpoint(&k->addr, k->family, ntohs(k->port), vip, sizeof(vip));
	s = json_object_new_object();
	bes = json_object_new_array();
	json_object_object_add(s, "name",
			       json_object_new_string(ctl_names_service(c->names, vip, k->proto)));
	json_object_object_add(s, "vip", json_object_new_string(vip));
	json_object_object_add(s, "proto", json_object_new_string(k->proto == 17 ? "UDP" : "TCP"));
	json_object_object_add(s, "weight_total", json_object_new_int64(v->weight_total));
	json_object_object_add(s, "svc_id", json_object_new_int64(v->svc_id));
	for (__u32 slot = 0; slot < v->count; slot++) {
		struct skiff_backend_key bk = {.gen = c->gen, .svc_id = v->svc_id, .slot = slot};
		struct skiff_backend b;
		json_object *o;

		if (bpf_map_lookup_elem(c->backends_fd, &bk, &b))
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "slot", json_object_new_int64(slot));
		json_object_object_add(o, "weight", json_object_new_int64(b.weight_end - prev));
		prev = b.weight_end;
		if (b.family) {
			addr_endpoint(&b.addr, b.family, ntohs(b.port), be, sizeof(be));
			json_object_object_add(o, "addr", json_object_new_string(be));
			ctl_names_backend(c->names, vip, be, o);
		}
		json_object_array_add(bes, o);
	}
	json_object_object_add(s, "backends", bes);
	json_object_array_add(c->out, s);
}

static int by_name(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b, *nx, *ny;

	json_object_object_get_ex(x, "name", &nx);
	json_object_object_get_ex(y, "name", &ny);
	return strcmp(json_object_get_string(nx), json_object_get_string(ny));
}

/* The services of the generation in force, each with its backend slots. */
static json_object *read_services(const char *dir, struct ctl_names *names, FILE *err)
{
	struct svc_ctx c = {.names = names, .out = json_object_new_array()};
	struct skiff_config cfg = {0};
	int cfd = open_pin(dir, SKIFF_MAP_CONFIG, err), sfd, zero = 0;

	if (cfd < 0 || bpf_map_lookup_elem(cfd, &zero, &cfg)) {
		if (cfd >= 0)
			close(cfd);
		json_object_put(c.out);
		return NULL;
	}
	close(cfd);
	c.gen = cfg.active_gen;
	sfd = open_pin(dir, SKIFF_MAP_SERVICES, err);
	c.backends_fd = open_pin(dir, SKIFF_MAP_BACKENDS, err);
	if (sfd >= 0 && c.backends_fd >= 0)
		ctl_map_each(sfd, sizeof(struct skiff_svc_key), sizeof(struct skiff_svc),
			     one_service, &c);
	if (sfd >= 0)
		close(sfd);
	if (c.backends_fd >= 0)
		close(c.backends_fd);
	if (sfd < 0 || c.backends_fd < 0) {
		json_object_put(c.out);
		return NULL;
	}
	json_object_array_sort(c.out, by_name);
	return c.out;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return json_object_get_string(v);
}

static long jnum(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (long)json_object_get_int64(v) : 0;
}

/* A backend as people name it: its version, else its pod, else its address. */
static const char *backend_label(json_object *b)
{
	if (!jstr(b, "addr"))
		return NULL;
	return jstr(b, "version") ? jstr(b, "version")
	       : jstr(b, "pod")	  ? jstr(b, "pod")
				  : jstr(b, "addr");
}

static void print_services(FILE *out, json_object *svcs)
{
	for (size_t i = 0; i < json_object_array_length(svcs); i++) {
		json_object *s = json_object_array_get_idx(svcs, i), *bes;
		struct ctl_backend be[64];
		struct strbuf b = {0};
		size_t n = 0, nb;
		char *line;

		json_object_object_get_ex(s, "backends", &bes);
		nb = json_object_array_length(bes);
		for (size_t k = 0; k < nb && n < sizeof(be) / sizeof(be[0]); k++) {
			json_object *o = json_object_array_get_idx(bes, k);

			be[n++] =
			    (struct ctl_backend){backend_label(o), (uint32_t)jnum(o, "weight")};
		}
		ctl_fmt_service(&b, jstr(s, "name"), be, n, (uint32_t)jnum(s, "weight_total"));
		line = sb_take(&b);
		fprintf(out, "%s%s  [%s %s]\n", line ? line : "", nb > n ? " ..." : "",
			jstr(s, "vip"), jstr(s, "proto"));
		free(line);
	}
}

static void print_backends(FILE *out, json_object *svcs)
{
	fprintf(out, "%-40s %4s  %-40s %-40s %-8s %s\n", "SERVICE", "SLOT", "BACKEND", "POD",
		"VERSION", "WEIGHT");
	for (size_t i = 0; i < json_object_array_length(svcs); i++) {
		json_object *s = json_object_array_get_idx(svcs, i), *bes;
		char svc[512], share[16];

		ctl_fmt_service_name(svc, sizeof(svc), jstr(s, "name"));
		json_object_object_get_ex(s, "backends", &bes);
		for (size_t k = 0; k < json_object_array_length(bes); k++) {
			json_object *o = json_object_array_get_idx(bes, k);

			ctl_fmt_share(share, sizeof(share), (uint64_t)jnum(o, "weight"),
				      (uint64_t)jnum(s, "weight_total"));
			fprintf(out, "%-40s %4ld  %-40s %-40s %-8s %s\n", svc, jnum(o, "slot"),
				jstr(o, "addr") ? jstr(o, "addr") : "(no backend: refused)",
				jstr(o, "pod") ? jstr(o, "pod") : "-",
				jstr(o, "version") ? jstr(o, "version") : "-", share);
		}
	}
}

static const char *const kinds[] = {"services", "backends", "enrolled", "policy",
				    "mtls",	"stats",    NULL};

static json_object *read_kind(const char *kind, const char *dir, struct ctl_names *names, FILE *err)
{
	if (!strcmp(kind, "services") || !strcmp(kind, "backends"))
		return read_services(dir, names, err);
	return ctl_maps_read_pods(kind, dir, names, err);
}

static void print_kind(FILE *out, const char *kind, json_object *v)
{
	if (!strcmp(kind, "services"))
		print_services(out, v);
	else if (!strcmp(kind, "backends"))
		print_backends(out, v);
	else
		ctl_maps_print_pods(out, kind, v);
}

static int maps_usage(FILE *err)
{
	fprintf(err,
		"usage: skiffctl maps [services|backends|enrolled|policy|mtls|stats] [--json]\n"
		"        [--pin-dir DIR] [--admin HOST:PORT] [--raw]\n");
	return 2;
}

int ctl_maps(int argc, char **argv, FILE *out, FILE *err)
{
	struct ctl_target admin = {.name = "skiffd", .addr = "127.0.0.1:15000"};
	const char *dir = "/sys/fs/bpf/skiff", *kind = NULL;
	json_object *all = json_object_new_object();
	struct ctl_names *names;
	bool json = false;
	int rc = 0;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if ((!strcmp(argv[i], "--pin-dir") || !strcmp(argv[i], "--bpffs")) &&
			 i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--admin") && i + 1 < argc)
			snprintf(admin.addr, sizeof(admin.addr), "%s", argv[++i]);
		else if (!kind && argv[i][0] != '-')
			kind = argv[i];
		else
			return json_object_put(all), maps_usage(err);
	}
	for (int k = 0; kind && kinds[k] && strcmp(kinds[k], kind); k++)
		if (!kinds[k + 1])
			return json_object_put(all), maps_usage(err);
	names = ctl_names_fetch(&admin, err);
	for (int k = 0; kinds[k]; k++) {
		json_object *v;

		if (kind ? strcmp(kind, kinds[k]) : !strcmp(kinds[k], "backends"))
			continue; /* all kinds: backends are in services already */
		v = read_kind(kinds[k], dir, names, err);
		if (!v) {
			rc = 1;
			continue;
		}
		if (!json) {
			if (!kind)
				fprintf(out, "== %s\n", kinds[k]);
			if (json_object_is_type(v, json_type_array) && !json_object_array_length(v))
				fprintf(out, "(no entries)\n");
			else
				print_kind(out, kinds[k], v);
		}
		json_object_object_add(all, kinds[k], v);
	}
	if (json)
		fprintf(out, "%s\n",
			json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY |
								JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(all);
	ctl_names_free(names);
	return rc;
}
