/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maps of the socket load balancer. Types come from include/skiff/lb.h; every map is pinned by
 * name under the bpffs directory skiffd chooses, so an agent restart adopts them.
 */
#ifndef SKIFF_BPF_LB_MAPS_H
#define SKIFF_BPF_LB_MAPS_H

#include "skiff/lb.h"
#include "lib/enrolled.h"
#include "lib/lb_config.h"

/* VIP:port/proto of one generation -> service. Written by skiffd; room for two generations. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * SKIFF_MAX_SERVICES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct skiff_svc_key);
	__type(value, struct skiff_svc);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_services SEC(".maps");

/* (gen, service, slot) -> backend with its cumulative weight. Written by skiffd. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * SKIFF_MAX_BACKENDS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct skiff_backend_key);
	__type(value, struct skiff_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_backends SEC(".maps");

/* Enrolled pod's cgroup id -> its addresses, for a Maglev port's client hash. Written by
 * skiffd with skiff_enrolled. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SKIFF_MAX_PODS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct skiff_pod_addr);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_pod_addr SEC(".maps");

/* (socket, VIP) -> backend an unconnected UDP flow sticks to. Written by sendmsg4/6. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SKIFF_UDP_FLOWS);
	__type(key, struct skiff_udp_flow_key);
	__type(value, struct skiff_udp_flow);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_udp_flows SEC(".maps");

/* (socket, backend) -> VIP, for recvmsg4/6. Written by sendmsg4/6 and UDP connect4/6. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SKIFF_UDP_FLOWS);
	__type(key, struct skiff_udp_rev_key);
	__type(value, struct skiff_sock_origin);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_udp_rev SEC(".maps");

#endif
