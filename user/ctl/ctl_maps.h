/* SPDX-License-Identifier: Apache-2.0 */
/* skiffctl maps' parts (private to user/ctl): map walking, names from skiffd, per-pod maps. */
#ifndef SKIFF_CTL_MAPS_H
#define SKIFF_CTL_MAPS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "ctl/ctl_http.h"

typedef void (*ctl_entry_fn)(void *ctx, const void *key, const void *val);
/* Every entry of the map `fd` (keys up to 64 bytes). Returns how many. */
int ctl_map_each(int fd, size_t ksz, size_t vsz, ctl_entry_fn fn, void *ctx);

/* What skiffd's /config_dump names (ctl_names.c); NULL-safe: every lookup falls back. */
struct ctl_names;
/* From skiffd at `admin`; on failure a note on `err` and NULL (names then stay numbers). */
struct ctl_names *ctl_names_fetch(const struct ctl_target *admin, FILE *err);
void ctl_names_free(struct ctl_names *n);
/* The service "ns/name:port/TCP" at VIP endpoint `vip` ("10.96.0.10:80"), else `vip`. */
const char *ctl_names_service(struct ctl_names *n, const char *vip, int proto);
/* Add "pod" and "version" of backend endpoint `be` of service `vip` to `o`, when known. */
void ctl_names_backend(struct ctl_names *n, const char *vip, const char *be, json_object *o);
/* The enrolled pod with this cgroup id / workload id / address, or NULL. */
const char *ctl_names_cgroup(struct ctl_names *n, uint64_t cgroup_id);
const char *ctl_names_workload(struct ctl_names *n, uint32_t workload_id);
const char *ctl_names_addr(struct ctl_names *n, const char *addr);

/* enrolled, policy, mtls, stats (ctl_maps_pods.c) */
json_object *ctl_maps_read_pods(const char *kind, const char *dir, struct ctl_names *names,
				FILE *err);
void ctl_maps_print_pods(FILE *out, const char *kind, json_object *v);

#endif
