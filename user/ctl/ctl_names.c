// SPDX-License-Identifier: Apache-2.0
/* Names for what the pinned maps hold, from skiffd's /config_dump (ctl_maps.h). */
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl_maps.h"

struct ctl_names {
	json_object *dump;
};

struct ctl_names *ctl_names_fetch(const struct ctl_target *admin, FILE *err)
{
	char why[512];
	char *body = ctl_http_get(admin, "/config_dump", why, sizeof(why));
	struct ctl_names *n;

	if (!body) {
		fprintf(err,
			"skiffctl: no names from skiffd (%s): showing addresses and ids; pass "
			"--admin HOST:PORT\n",
			why);
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		abort();
	n->dump = json_tokener_parse(body);
	free(body);
	return n;
}

void ctl_names_free(struct ctl_names *n)
{
	if (!n)
		return;
	json_object_put(n->dump);
	free(n);
}

static json_object *arr(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

static const char *s(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return json_object_get_string(v);
}

/* "vip:port" as addr_endpoint writes it: an IPv6 address in brackets. */
static void endpoint(char *buf, size_t len, const char *addr, long port)
{
	snprintf(buf, len, strchr(addr, ':') ? "[%s]:%ld" : "%s:%ld", addr, port);
}

static json_object *service_at(struct ctl_names *n, const char *vip, int proto)
{
	json_object *svcs = n ? arr(n->dump, "services") : NULL, *port;
	const char *want = proto == 17 ? "/UDP" : "/TCP";
	char ep[128];

	for (size_t i = 0; svcs && i < json_object_array_length(svcs); i++) {
		json_object *sv = json_object_array_get_idx(svcs, i);
		const char *name = s(sv, "name"), *addr = s(sv, "vip");

		if (!name || !addr || !json_object_object_get_ex(sv, "port", &port))
			continue;
		endpoint(ep, sizeof(ep), addr, json_object_get_int(port));
		if (!strcmp(ep, vip) && strlen(name) > 4 && !strcmp(name + strlen(name) - 4, want))
			return sv;
	}
	return NULL;
}

const char *ctl_names_service(struct ctl_names *n, const char *vip, int proto)
{
	json_object *sv = service_at(n, vip, proto);

	return sv ? s(sv, "name") : vip;
}

void ctl_names_backend(struct ctl_names *n, const char *vip, const char *be, json_object *o)
{
	json_object *sv = service_at(n, vip, 6), *bes = sv ? arr(sv, "backends") : NULL, *port;
	char ep[128];

	if (!sv)
		sv = service_at(n, vip, 17), bes = sv ? arr(sv, "backends") : NULL;
	for (size_t i = 0; bes && i < json_object_array_length(bes); i++) {
		json_object *b = json_object_array_get_idx(bes, i);

		if (!s(b, "addr") || !json_object_object_get_ex(b, "port", &port))
			continue;
		endpoint(ep, sizeof(ep), s(b, "addr"), json_object_get_int(port));
		if (strcmp(ep, be))
			continue;
		if (s(b, "pod"))
			json_object_object_add(o, "pod", json_object_new_string(s(b, "pod")));
		if (s(b, "version"))
			json_object_object_add(o, "version",
					       json_object_new_string(s(b, "version")));
		return;
	}
}

/* The enrolled pod whose `key` is `val`. */
static const char *enrolled_by(struct ctl_names *n, const char *key, int64_t val)
{
	json_object *pods = n ? arr(n->dump, "enrolled") : NULL, *v;

	for (size_t i = 0; pods && i < json_object_array_length(pods); i++) {
		json_object *p = json_object_array_get_idx(pods, i);

		if (json_object_object_get_ex(p, key, &v) && json_object_get_int64(v) == val)
			return s(p, "pod");
	}
	return NULL;
}

const char *ctl_names_cgroup(struct ctl_names *n, uint64_t cgroup_id)
{
	return enrolled_by(n, "cgroup_id", (int64_t)cgroup_id);
}

const char *ctl_names_workload(struct ctl_names *n, uint32_t workload_id)
{
	return enrolled_by(n, "workload_id", workload_id);
}

const char *ctl_names_addr(struct ctl_names *n, const char *addr)
{
	json_object *pods = n ? arr(n->dump, "enrolled") : NULL, *addrs;

	for (size_t i = 0; pods && i < json_object_array_length(pods); i++) {
		json_object *p = json_object_array_get_idx(pods, i);

		addrs = arr(p, "addrs");
		for (size_t k = 0; addrs && k < json_object_array_length(addrs); k++)
			if (!strcmp(json_object_get_string(json_object_array_get_idx(addrs, k)),
				    addr))
				return s(p, "pod");
	}
	return NULL;
}
