// SPDX-License-Identifier: Apache-2.0
/*
 * skiffctl status: every node's skiffd as its /status reports it (agent_status.c): one summary
 * line per node, as istioctl proxy-status prints, then each node's programs, maps, and pods in
 * and out of the mesh. Which nodes: this one (127.0.0.1:15000), an explicit --node-addr list,
 * or every node of the skiff-lab on this machine (--lab).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl/ctl.h"
#include "ctl/ctl_fmt.h"
#include "ctl/ctl_http.h"

#define CTL_MAX_NODES 1024

struct node_status {
	const struct ctl_target *t;
	json_object *st; /* the node's /status, or NULL */
	char err[512];	 /* why there is none */
};

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *str(json_object *o, const char *key, const char *def)
{
	json_object *v = get(o, key);

	return v && !json_object_is_type(v, json_type_null) ? json_object_get_string(v) : def;
}

static long num(json_object *o, const char *key)
{
	return (long)json_object_get_int64(get(o, key));
}

static size_t len(json_object *o, const char *key)
{
	json_object *a = get(o, key);

	return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static json_object *at(json_object *o, const char *key, size_t i)
{
	return json_object_array_get_idx(get(o, key), i);
}

/* The fullest map's name and fill, for the summary line. */
static void fullest_map(json_object *st, char *buf, size_t blen)
{
	double best = -1;

	snprintf(buf, blen, "-");
	for (size_t i = 0; i < len(st, "maps"); i++) {
		json_object *m = at(st, "maps", i);
		long e = num(m, "entries"), max = num(m, "max_entries");
		const char *t = str(m, "type", "");

		/* arrays are full by construction: their fill says nothing */
		if (e < 0 || max <= 0 || strstr(t, "array"))
			continue;
		if ((double)e / max > best) {
			best = (double)e / max;
			ctl_fmt_share(buf, blen, (uint64_t)e, (uint64_t)max);
			snprintf(buf + strlen(buf), blen - strlen(buf), " %s", str(m, "name", "?"));
		}
	}
}

static void print_summary(FILE *out, const struct node_status *ns, size_t n)
{
	fprintf(out, "%-16s %-7s %10s %9s %8s %6s %6s  %s\n", "NODE", "SYNC", "GENERATION",
		"CONFIG", "PROGRAMS", "PODS", "OUT", "FULLEST MAP");
	for (size_t i = 0; i < n; i++) {
		json_object *st = ns[i].st, *sync = get(st, "sync");
		char cfg[48], full[320];

		if (!st) {
			fprintf(out, "%-16s %-7s %s\n", ns[i].t->name, "ERROR", ns[i].err);
			continue;
		}
		snprintf(cfg, sizeof(cfg), "%ld/%ld", num(sync, "applied_config"),
			 num(sync, "newest_config"));
		fullest_map(st, full, sizeof(full));
		fprintf(out, "%-16s %-7s %10ld %9s %8zu %6zu %6zu  %s\n", str(st, "node", "?"),
			str(sync, "state", "?"), num(sync, "generation"), cfg, len(st, "programs"),
			len(st, "enrolled_pods"), len(st, "pods_not_in_mesh"), full);
	}
}

static void print_programs(FILE *out, json_object *st)
{
	fprintf(out, "  programs attached (%zu):\n", len(st, "programs"));
	for (size_t i = 0; i < len(st, "programs"); i++) {
		json_object *p = at(st, "programs", i);
		char where[512];

		if (get(p, "interface"))
			snprintf(where, sizeof(where), "interface %s", str(p, "interface", "?"));
		else
			snprintf(where, sizeof(where), "cgroup %s (id %ld)", str(p, "cgroup", "?"),
				 num(p, "cgroup_id"));
		fprintf(out, "    %-20s %-22s id %-6ld %s\n", str(p, "hook", "?"),
			str(p, "program", "?"), num(p, "id"), where);
	}
}

static void print_maps(FILE *out, json_object *st)
{
	fprintf(out, "  maps (entries/max):\n");
	for (size_t i = 0; i < len(st, "maps"); i++) {
		json_object *m = at(st, "maps", i);
		long e = num(m, "entries"), max = num(m, "max_entries");
		const char *t = str(m, "type", "?");
		char fill[96];

		/* an array has all its slots from the start: no fill level to watch */
		if (strstr(t, "array"))
			snprintf(fill, sizeof(fill), "%ld slots", max);
		else
			ctl_fmt_fill(fill, sizeof(fill), e, (uint32_t)max);
		fprintf(out, "    %-20s %-14s %s%s\n", str(m, "name", "?"), t, fill,
			!strstr(t, "array") && ctl_fill_low(e, (uint32_t)max) ? "  LOW HEADROOM"
									      : "");
	}
}

static void print_pods(FILE *out, json_object *st)
{
	fprintf(out, "  enrolled pods (%zu):", len(st, "enrolled_pods"));
	for (size_t i = 0; i < len(st, "enrolled_pods"); i++)
		fprintf(out, "%s%s", i ? ", " : " ",
			json_object_get_string(at(st, "enrolled_pods", i)));
	fprintf(out, "\n  pods of enrolled namespaces not in the mesh (%zu)%s\n",
		len(st, "pods_not_in_mesh"), len(st, "pods_not_in_mesh") ? ":" : "");
	for (size_t i = 0; i < len(st, "pods_not_in_mesh"); i++) {
		json_object *p = at(st, "pods_not_in_mesh", i);

		fprintf(out, "    %s: %s\n", str(p, "pod", "?"), str(p, "reason", "?"));
	}
}

static void print_node(FILE *out, const struct node_status *ns)
{
	json_object *st = ns->st, *sync = get(st, "sync");

	fprintf(out,
		"\n%s: %s, generation %ld, configuration %ld of %ld seen (%ld refused), from %s\n",
		str(st, "node", "?"), str(sync, "state", "?"), num(sync, "generation"),
		num(sync, "applied_config"), num(sync, "newest_config"), num(sync, "rejected"),
		str(sync, "source", "?"));
	if (get(sync, "reason") && !json_object_is_type(get(sync, "reason"), json_type_null))
		fprintf(out, "  reason: %s\n", str(sync, "reason", ""));
	print_programs(out, st);
	print_maps(out, st);
	print_pods(out, st);
}

/* {"nodes":[<each node's /status>, or {"address":..., "error":...}]} */
static void print_json(FILE *out, struct node_status *ns, size_t n)
{
	json_object *root = json_object_new_object(), *nodes = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		json_object *o = ns[i].st ? json_object_get(ns[i].st) : json_object_new_object();

		json_object_object_add(o, "address", json_object_new_string(ns[i].t->addr));
		if (!ns[i].st) {
			json_object_object_add(o, "node", json_object_new_string(ns[i].t->name));
			json_object_object_add(o, "error", json_object_new_string(ns[i].err));
		}
		json_object_array_add(nodes, o);
	}
	json_object_object_add(root, "nodes", nodes);
	fprintf(out, "%s\n",
		json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

static int status_usage(FILE *err)
{
	fprintf(err, "usage: skiffctl status [--json] [--node-addr HOST[:PORT][,...]]... [--lab]\n"
		     "  (default: this node's skiffd, 127.0.0.1:15000; --admin HOST:PORT is the "
		     "same as one --node-addr)\n");
	return 2;
}

/* Fill `t` from the options; 0, or an exit code. */
static int status_targets(int argc, char **argv, struct ctl_target *t, size_t *n, bool *json,
			  FILE *err)
{
	bool lab = false;
	char why[256];

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			*json = true;
		} else if (!strcmp(argv[i], "--lab")) {
			lab = true;
			*n += ctl_lab_targets(t + *n, CTL_MAX_NODES - *n);
		} else if ((!strcmp(argv[i], "--node-addr") || !strcmp(argv[i], "--admin")) &&
			   i + 1 < argc) {
			if (ctl_parse_targets(argv[++i], t, n, CTL_MAX_NODES, why, sizeof(why))) {
				fprintf(err, "skiffctl status: %s\n", why);
				return 2;
			}
		} else {
			return status_usage(err);
		}
	}
	if (*n == 0 && lab) {
		fprintf(err, "skiffctl status: --lab: no skiff-lab node on this machine "
			     "(/run/netns/skl-node-*); is a lab up?\n");
		return 1;
	}
	if (*n == 0)
		ctl_parse_targets("127.0.0.1:15000", t, n, CTL_MAX_NODES, why, sizeof(why));
	return 0;
}

int ctl_status(int argc, char **argv, FILE *out, FILE *err)
{
	struct ctl_target *t = calloc(CTL_MAX_NODES, sizeof(*t));
	struct node_status *ns = calloc(CTL_MAX_NODES, sizeof(*ns));
	bool json = false, all_synced = true;
	size_t n = 0;
	int rc;

	if (!t || !ns)
		abort();
	rc = status_targets(argc, argv, t, &n, &json, err);
	for (size_t i = 0; !rc && i < n; i++) {
		char *body = ctl_http_get(&t[i], "/status", ns[i].err, sizeof(ns[i].err));

		ns[i].t = &t[i];
		ns[i].st = body ? json_tokener_parse(body) : NULL;
		if (body && !ns[i].st)
			snprintf(ns[i].err, sizeof(ns[i].err), "skiffd at %s answered no JSON",
				 t[i].addr);
		free(body);
		all_synced &=
		    ns[i].st && !strcmp(str(get(ns[i].st, "sync"), "state", ""), "SYNCED");
	}
	if (!rc && json) {
		print_json(out, ns, n);
	} else if (!rc) {
		print_summary(out, ns, n);
		for (size_t i = 0; i < n; i++)
			if (ns[i].st)
				print_node(out, &ns[i]);
	}
	for (size_t i = 0; i < n; i++) {
		if (!rc && !ns[i].st)
			fprintf(err, "skiffctl status: %s: %s\n", t[i].name, ns[i].err);
		json_object_put(ns[i].st);
	}
	free(ns);
	free(t);
	return rc ? rc : all_synced ? 0 : 1;
}
