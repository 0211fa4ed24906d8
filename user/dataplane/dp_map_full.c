// SPDX-License-Identifier: Apache-2.0
/*
 * Maps that filled up. A hash map refuses a new key with E2BIG once it holds max_entries: the
 * write fails the apply it belongs to (the generation in force stays), and here it is counted
 * per map (skiff_map_full_total) and logged with the map's name, its size and what to do, since
 * "Argument list too long" alone names neither.
 *
 * $SKIFF_MAP_MAX_ENTRIES ("skiff_services=64,skiff_backends=256") makes maps of sock_lb smaller
 * than built, so that a test can fill one with a lab-sized configuration. It only ever lowers a
 * size: production runs without it, at the sizes of include/skiff/.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dp_internal.h"

#define FULL_MAPS 16

/* One process, one dataplane: a process-wide table keeps the writers' signatures as they are. */
static struct {
	char name[BPF_OBJ_NAME_LEN];
	uint64_t n;
} full[FULL_MAPS];
static size_t nfull;

static void full_count(const char *map)
{
	size_t i;

	for (i = 0; i < nfull; i++)
		if (!strcmp(full[i].name, map))
			break;
	if (i == nfull) {
		if (nfull == FULL_MAPS)
			return;
		snprintf(full[nfull++].name, sizeof(full[0].name), "%s", map);
	}
	full[i].n++;
}

int dp_map_write_failed(int fd, const char *map, const char *what, const char *fix)
{
	int err = -errno;
	struct bpf_map_info info = {0};
	__u32 len = sizeof(info);

	if (err != -E2BIG) {
		fprintf(stderr, "dataplane: cannot write %s into %s: %s\n", what, map,
			strerror(-err));
		return err;
	}
	full_count(map);
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.max_entries = 0;
	fprintf(stderr,
		"dataplane: map %s is full (%u entries): cannot add %s; the configuration is "
		"refused and the one in force stays (%s)\n",
		map, info.max_entries, what, fix);
	return err;
}

size_t dp_map_full_counts(const char **names, uint64_t *counts, size_t max)
{
	size_t n = nfull < max ? nfull : max;

	for (size_t i = 0; i < n; i++) {
		names[i] = full[i].name;
		counts[i] = full[i].n;
	}
	return n;
}

static int limit_one(struct bpf_object *obj, const char *item)
{
	const char *eq = strchr(item, '=');
	char name[BPF_OBJ_NAME_LEN], *end;
	struct bpf_map *map;
	unsigned long v;

	if (!eq || (size_t)(eq - item) >= sizeof(name))
		goto bad;
	snprintf(name, sizeof(name), "%.*s", (int)(eq - item), item);
	errno = 0;
	v = strtoul(eq + 1, &end, 10);
	if (errno || *end || end == eq + 1 || !v)
		goto bad;
	map = bpf_object__find_map_by_name(obj, name);
	if (!map) {
		fprintf(stderr,
			"dataplane: SKIFF_MAP_MAX_ENTRIES names %s, which is no map of sock_lb "
			"(e.g. skiff_services, skiff_backends, skiff_enrolled, skiff_policy)\n",
			name);
		return -ENOENT;
	}
	if (v > bpf_map__max_entries(map)) {
		fprintf(stderr,
			"dataplane: SKIFF_MAP_MAX_ENTRIES: %s=%lu is more than its built size %u; "
			"it can only make a map smaller\n",
			name, v, bpf_map__max_entries(map));
		return -EINVAL;
	}
	fprintf(stderr, "dataplane: %s holds %lu entries (SKIFF_MAP_MAX_ENTRIES; built: %u)\n",
		name, v, bpf_map__max_entries(map));
	return bpf_map__set_max_entries(map, (__u32)v);
bad:
	fprintf(stderr,
		"dataplane: SKIFF_MAP_MAX_ENTRIES: '%s' is not MAP=ENTRIES with ENTRIES > 0 "
		"(e.g. skiff_services=64)\n",
		item);
	return -EINVAL;
}

int dp_map_limits_apply(struct bpf_object *obj)
{
	const char *env = getenv("SKIFF_MAP_MAX_ENTRIES");
	char *copy, *item, *save = NULL;
	int err = 0;

	if (!env || !*env)
		return 0;
	copy = strdup(env);
	if (!copy)
		return -ENOMEM;
	for (item = strtok_r(copy, ",", &save); item && !err; item = strtok_r(NULL, ",", &save))
		err = limit_one(obj, item);
	free(copy);
	return err;
}
