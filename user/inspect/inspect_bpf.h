/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What skiff has in the kernel, read from its pin directory with the kernel's own answers (link
 * and program info, tc and XDP queries): the programs attached and where, and each pinned map's
 * fill level. skiffd serves it on /status; nothing here writes.
 */
#ifndef SKIFF_INSPECT_BPF_H
#define SKIFF_INSPECT_BPF_H

#include <stdint.h>

struct inspect_prog {
	const char *hook;   /* "cgroup/connect4", "tc/egress", "xdp", ... */
	char prog[64];	    /* the program's name as the kernel knows it */
	uint32_t prog_id;   /* bpftool prog show id N */
	uint64_t cgroup_id; /* cgroup hooks: the cgroup's id (its directory's inode) */
	char iface[32];	    /* tc and xdp: the interface */
};

typedef void (*inspect_prog_fn)(void *ctx, const struct inspect_prog *p);

/* Every program attached through a link pinned under <pin_dir>/links, the TC guard on every veth
 * listed in <pin_dir>/skiff_guard_ifaces, and XDP on `uplink` (NULL: none). Interfaces are
 * looked up in the caller's network namespace. Returns how many were reported, or -errno when
 * the pin directory cannot be read. */
int inspect_programs(const char *pin_dir, const char *uplink, inspect_prog_fn fn, void *ctx);

struct inspect_map {
	char name[256];	  /* the pin's file name */
	const char *type; /* "hash", "array", "lru_hash", ... */
	long entries;	  /* -1: the map type cannot be walked (socket storage) */
	uint32_t max_entries;
};

typedef void (*inspect_map_fn)(void *ctx, const struct inspect_map *m);

/* Every map pinned directly in `pin_dir`, in name order, with its entry count. Arrays are full
 * by construction: their count is max_entries. Returns how many, or -errno. */
int inspect_maps(const char *pin_dir, inspect_map_fn fn, void *ctx);

#endif
