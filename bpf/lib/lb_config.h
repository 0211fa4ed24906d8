/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * skiff_config[0]: the active generation and the node's switches (include/skiff/lb.h). Written
 * by skiffd, read by every program; on its own so that programs that need only the switches
 * (sockops, the guard) do not carry the load balancer's maps. Pinned by name: one map for all.
 */
#ifndef SKIFF_BPF_LB_CONFIG_H
#define SKIFF_BPF_LB_CONFIG_H

#include "skiff/lb.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct skiff_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_config SEC(".maps");

#endif
