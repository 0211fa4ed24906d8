/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The enrolled pods of this node by address (include/skiff/accel.h), one definition for every
 * program that looks a pod up by address: sockops (is this socket a mesh pod's? whose?) and
 * connect4/6 (is the destination a mesh pod here, and are its connections checked?). Pinned by
 * name, so all of them share one map.
 */
#ifndef SKIFF_BPF_POD_IPS_H
#define SKIFF_BPF_POD_IPS_H

#include "skiff/accel.h"

/* Address of an enrolled pod of this node -> the pod. Written by skiffd. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * SKIFF_MAX_PODS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct skiff_pod_ip_key);
	__type(value, struct skiff_pod);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_pod_ips SEC(".maps");

/* The enrolled local pod at address `a`, or NULL. */
static __always_inline struct skiff_pod *pod_ips_lookup(const union skiff_addr *a, __u8 family)
{
	struct skiff_pod_ip_key k;

	__builtin_memset(&k, 0, sizeof(k));
	k.addr = *a;
	k.family = family;
	return bpf_map_lookup_elem(&skiff_pod_ips, &k);
}

#endif
