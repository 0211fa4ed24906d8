/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * skiff_enrolled, on its own: the socket load balancer and the STRICT guard's socket check both
 * ask "is this cgroup a mesh pod of this node, and with which flags?".
 */
#ifndef SKIFF_BPF_ENROLLED_H
#define SKIFF_BPF_ENROLLED_H

#include "skiff/lb.h"

/* cgroup id of a local pod -> its mesh state; presence means the pod is in the mesh. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SKIFF_MAX_PODS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct skiff_pod);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_enrolled SEC(".maps");

#endif
