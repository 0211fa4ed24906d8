// SPDX-License-Identifier: Apache-2.0
/*
 * skiffctl config dump: the compiled view skiffd applied (its /config_dump), for people: the
 * generation and whether the newest configuration is in force, each service with its backends
 * and their shares, the enrolled pods, and skiffd's counters. --json prints skiffd's JSON as is.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl/ctl.h"
#include "ctl/ctl_fmt.h"
#include "ctl/ctl_http.h"

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *str(json_object *o, const char *key)
{
	json_object *v = get(o, key);

	return v && !json_object_is_type(v, json_type_null) ? json_object_get_string(v) : NULL;
}

static size_t alen(json_object *a)
{
	return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static void print_service(FILE *out, json_object *s)
{
	json_object *bes = get(s, "backends");
	size_t n = alen(bes);
	struct ctl_backend *be = calloc(n ? n : 1, sizeof(*be));
	struct strbuf b = {0};
	uint32_t total = 0;
	char *line, share[16];

	if (!be)
		abort();
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(bes, i);
		const char *addr = str(o, "addr");

		be[i].weight = (uint32_t)json_object_get_int64(get(o, "weight"));
		be[i].label = !addr || !strcmp(addr, "none") ? NULL
			      : str(o, "version")	     ? str(o, "version")
			      : str(o, "pod")		     ? str(o, "pod")
							     : addr;
		total += be[i].weight;
	}
	ctl_fmt_service(&b, str(s, "name") ? str(s, "name") : "?", be, n, total);
	line = sb_take(&b);
	fprintf(out, "  %s  [VIP %s]\n", line ? line : "", str(s, "vip") ? str(s, "vip") : "?");
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(bes, i);

		const char *addr = str(o, "addr") ? str(o, "addr") : "none";

		ctl_fmt_share(share, sizeof(share), be[i].weight, total);
		fprintf(out, "      %-7s %s%s%s:%s  %s%s%s%s\n", share,
			strchr(addr, ':') ? "[" : "", addr, strchr(addr, ':') ? "]" : "",
			json_object_get_string(get(o, "port")), str(o, "pod") ? str(o, "pod") : "",
			str(o, "version") ? " (version " : "",
			str(o, "version") ? str(o, "version") : "", str(o, "version") ? ")" : "");
	}
	free(line);
	free(be);
}

/* "outbound", "authz", "guard": name value pairs on one line. */
static void print_counters(FILE *out, json_object *d, const char *key, const char *title)
{
	json_object *o = get(d, key);

	if (!o || !json_object_is_type(o, json_type_object)) {
		fprintf(out, "%s: off\n", title);
		return;
	}
	fprintf(out, "%s:", title);
	json_object_object_foreach(o, k, v) fprintf(out, " %s %s", k, json_object_get_string(v));
	fprintf(out, "\n");
}

static void print_dump(FILE *out, json_object *d)
{
	json_object *svcs = get(d, "services"), *pods = get(d, "enrolled_pods");
	const char *err = str(d, "last_error");

	fprintf(out, "node %s: generation %s, %s; %s reloads, %s refused\n", str(d, "node"),
		json_object_get_string(get(d, "generation")),
		json_object_get_boolean(get(d, "applied")) ? "applied" : "NOTHING APPLIED YET",
		json_object_get_string(get(d, "reloads")),
		json_object_get_string(get(d, "rejected")));
	if (err)
		fprintf(out, "newest configuration refused (the previous one stays): %s\n", err);
	fprintf(out, "services (%zu service ports):\n", alen(svcs));
	for (size_t i = 0; i < alen(svcs); i++)
		print_service(out, json_object_array_get_idx(svcs, i));
	fprintf(out, "enrolled pods (%zu):", alen(pods));
	for (size_t i = 0; i < alen(pods); i++)
		fprintf(out, "%s%s", i ? ", " : " ",
			json_object_get_string(json_object_array_get_idx(pods, i)));
	fprintf(out, "\npods waiting for their cgroup: %s; mesh pod addresses on other nodes: %s\n",
		json_object_get_string(get(d, "pods_pending")),
		json_object_get_string(get(d, "remote_pod_addrs")));
	print_counters(out, d, "outbound", "outbound (punt path, HBONE)");
	print_counters(out, d, "authz", "authz (decided in skiffd)");
	print_counters(out, d, "guard", "STRICT guard (packets)");
}

int ctl_config_dump(int argc, char **argv, FILE *out, FILE *err)
{
	struct ctl_target t = {.name = "skiffd", .addr = "127.0.0.1:15000"};
	char why[512], *body;
	json_object *d;
	bool json = false;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--admin") && i + 1 < argc) {
			snprintf(t.addr, sizeof(t.addr), "%s", argv[++i]);
		} else {
			fprintf(err, "usage: skiffctl config dump [--json] [--admin HOST:PORT]\n");
			return 2;
		}
	}
	body = ctl_http_get(&t, "/config_dump", why, sizeof(why));
	if (!body) {
		fprintf(err,
			"skiffctl config dump: %s (is skiffd running on this node? pass "
			"--admin HOST:PORT)\n",
			why);
		return 1;
	}
	d = json_tokener_parse(body);
	if (!d) {
		fprintf(err, "skiffctl config dump: skiffd at %s answered no JSON\n", t.addr);
		free(body);
		return 1;
	}
	if (json)
		fputs(body, out);
	else
		print_dump(out, d);
	json_object_put(d);
	free(body);
	return 0;
}
