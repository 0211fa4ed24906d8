// SPDX-License-Identifier: Apache-2.0
/*
 * /status: what `skiffctl status` shows for this node. Whether the configuration in force is the
 * newest one skiffd has seen, what is attached in the kernel and where, how full each map is,
 * and which pods of enrolled namespaces are in the mesh and which are not, with the reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/agent_state.h"
#include "common/strbuf.h"
#include "inspect/inspect_bpf.h"

/* SYNCED: the newest configuration is in force. STALE: a newer one was refused, an older one
 * is in force. ERROR: none is in force. */
static void status_sync(struct strbuf *b, const struct agent *a)
{
	const char *state = !a->applied ? "ERROR" : a->last_error ? "STALE" : "SYNCED";
	const char *reason = a->last_error;

	if (!a->applied && !reason)
		reason = "no configuration applied yet: waiting for the first whole snapshot";
	sb_printf(b,
		  "\"sync\":{\"state\":\"%s\",\"generation\":%u,\"applied_config\":%lu,"
		  "\"newest_config\":%lu,\"rejected\":%lu,\"source\":",
		  state, dp_generation(a->dp), a->applied_reload, a->reloads, a->rejected);
	sb_json_str(b, agent_config_source(a));
	sb_printf(b, ",\"reason\":");
	sb_json_str(b, reason);
	sb_printf(b, "},");
}

struct prog_ctx {
	struct strbuf *b;
	const struct agent *a;
	int n;
};

/* skiffd's own cgroup directory when --agent-cgroup does not name it: the cgroup2 mount point
 * (mountinfo) joined with its path in /proc/self/cgroup. "" when either is missing. */
static void own_cgroup(char *buf, size_t len)
{
	char line[4096], mnt[2048] = "", path[2048] = "", fstype[64];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	buf[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");

		if (sep && sscanf(sep, " - %63s", fstype) == 1 && !strcmp(fstype, "cgroup2") &&
		    sscanf(line, "%*s %*s %*s %*s %2047s", mnt) == 1)
			break;
		mnt[0] = '\0';
	}
	if (f)
		fclose(f);
	f = fopen("/proc/self/cgroup", "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3) && sscanf(line + 3, "%2047s", path) == 1)
			break;
	if (f)
		fclose(f);
	if (mnt[0] && path[0])
		snprintf(buf, len, "%s%s", mnt, strcmp(path, "/") ? path : "");
}

/* The directory of a cgroup skiffd knows by id: the pod cgroup root, its own, kubelet's. */
static const char *cgroup_dir(const struct agent *a, unsigned long long id, char *own, size_t len)
{
	const char *dirs[] = {a->o->cgroup_root, a->o->agent_cgroup, a->o->kubelet_cgroup};
	struct stat st;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (dirs[i] && !stat(dirs[i], &st) && st.st_ino == id)
			return dirs[i];
	own_cgroup(own, len);
	return own[0] && !stat(own, &st) && st.st_ino == id ? own : NULL;
}

static void one_prog(void *ctx, const struct inspect_prog *p)
{
	struct prog_ctx *c = ctx;
	char own[4096];

	sb_printf(c->b, "%s{\"hook\":\"%s\",\"program\":", c->n++ ? "," : "", p->hook);
	sb_json_str(c->b, p->prog);
	sb_printf(c->b, ",\"id\":%u", p->prog_id);
	if (p->iface[0]) {
		sb_printf(c->b, ",\"interface\":");
		sb_json_str(c->b, p->iface);
	} else {
		sb_printf(c->b,
			  ",\"cgroup_id\":%llu,\"cgroup\":", (unsigned long long)p->cgroup_id);
		sb_json_str(c->b, cgroup_dir(c->a, p->cgroup_id, own, sizeof(own)));
	}
	sb_printf(c->b, "}");
}

static void one_map(void *ctx, const struct inspect_map *m)
{
	struct prog_ctx *c = ctx;

	sb_printf(c->b, "%s{\"name\":", c->n++ ? "," : "");
	sb_json_str(c->b, m->name);
	sb_printf(c->b, ",\"type\":\"%s\",\"entries\":%ld,\"max_entries\":%u}", m->type, m->entries,
		  m->max_entries);
}

/*
 * Counting a map's entries is one syscall per entry: a full skiff_backends is half a million,
 * a quarter of a second of the agent loop. /status is also served on the node's address, so
 * the counts are kept for STATUS_MAPS_TTL_MS: a client asking in a loop cannot stall the loop.
 * One agent per process, on one thread: the cache is this file's.
 */
#define STATUS_MAPS_TTL_MS 5000

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *maps_json(const struct agent *a)
{
	static char *cached;
	static long long at;
	struct strbuf mb = {0};
	struct prog_ctx c = {.b = &mb, .a = a};

	if (cached && now_ms() - at < STATUS_MAPS_TTL_MS)
		return cached;
	inspect_maps(a->o->bpffs, one_map, &c);
	free(cached);
	cached = sb_take(&mb);
	at = now_ms();
	return cached ? cached : "";
}

static void status_kernel(struct strbuf *b, const struct agent *a)
{
	struct prog_ctx c = {.b = b, .a = a};

	sb_printf(b, "\"programs\":[");
	inspect_programs(a->o->bpffs, a->o->uplink, one_prog, &c);
	sb_printf(b, "],\"maps\":[%s],", maps_json(a));
}

static int cmp_name(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The enrolled pods' names, sorted, for bsearch (a node may hold thousands of pods). */
static const char **enrolled_sorted(const struct node_view *v, size_t *n)
{
	const char **names = calloc(v->npods ? v->npods : 1, sizeof(*names));

	*n = 0;
	if (!names)
		return NULL;
	for (size_t i = 0; i < v->npods; i++)
		if (v->pods[i].name)
			names[(*n)++] = v->pods[i].name;
	qsort(names, *n, sizeof(*names), cmp_name);
	return names;
}

/* This node's pods of enrolled namespaces that skiffd does not enrol, and why. */
static void status_outside(struct strbuf *b, const struct agent *a)
{
	const struct model *m = a->snap ? &a->snap->m : NULL;
	size_t nenrolled;
	const char **enrolled = enrolled_sorted(&a->view, &nenrolled);
	const char *key = NULL;
	char name[512];
	int n = 0;

	sb_printf(b, "\"pods_not_in_mesh\":[");
	for (size_t i = 0; m && i < m->npods; i++) {
		const struct m_pod *p = &m->pods[i];
		const char *why;

		if (!p->node_name || strcmp(p->node_name, a->o->node) ||
		    !model_namespace_enrolled(m, p->meta.ns))
			continue;
		snprintf(name, sizeof(name), "%s/%s", p->meta.ns, p->meta.name);
		why = model_pod_opt_out(m, p);
		key = name;
		if (!why && enrolled &&
		    bsearch(&key, enrolled, nenrolled, sizeof(*enrolled), cmp_name))
			continue;
		if (!why)
			why = "no cgroup found yet (skiffd looks again at every rescan)";
		sb_printf(b, "%s{\"pod\":", n++ ? "," : "");
		sb_json_str(b, name);
		sb_printf(b, ",\"reason\":");
		sb_json_str(b, why);
		sb_printf(b, "}");
	}
	sb_printf(b, "]");
	free(enrolled);
}

char *agent_status(const struct agent *a)
{
	struct strbuf b = {0};

	sb_printf(&b, "{\"node\":");
	sb_json_str(&b, a->o->node);
	sb_printf(&b, ",");
	status_sync(&b, a);
	status_kernel(&b, a);
	sb_printf(&b, "\"enrolled_pods\":[");
	for (size_t i = 0; i < a->view.npods; i++) {
		sb_printf(&b, "%s", i ? "," : "");
		sb_json_str(&b, a->view.pods[i].name);
	}
	sb_printf(&b, "],");
	status_outside(&b, a);
	sb_printf(&b, "}\n");
	return sb_take(&b);
}

char *agent_status_page(void *agent)
{
	return agent_status(agent);
}
