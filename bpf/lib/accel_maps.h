/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maps of the same-node accelerator and its L4 counters. Types come from include/skiff/accel.h;
 * every map is pinned by name under the bpffs directory skiffd chooses, so an agent restart
 * adopts them and the sockets already in the sockhash keep their fast path.
 */
#ifndef SKIFF_BPF_ACCEL_MAPS_H
#define SKIFF_BPF_ACCEL_MAPS_H

#include "skiff/accel.h"
#include "lib/pod_ips.h" /* skiff_pod_ips */
#include "lib/sk_state.h"

/* Set by skiffd before load: 0 (skiffd --no-accel) keeps the counters but inserts no socket. */
const volatile __u32 accel_redirect_on = 1;

/* Set by skiffd before load: the most a reader may leave unread of what was redirected to it
 * before its writer falls back to TCP. skiffd uses the kernel's largest TCP receive buffer
 * (net.ipv4.tcp_rmem[2]), so a slow reader holds no more than it would over TCP. */
const volatile __u64 accel_queue_cap = 6 << 20;

/* A socket of a same-node mesh connection, under the 4-tuple it sees. Written by sockops. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, SKIFF_MAX_ACCEL_SOCKS);
	__type(key, struct skiff_sock_key);
	__type(value, __u64); /* 8 bytes: a userspace lookup answers the socket cookie */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_sockhash SEC(".maps");

/* (client workload, server workload) -> per-CPU connection and byte counters. Written by
 * sockops at established and close; read (and some day aged) by skiffd. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, SKIFF_MAX_L4_PAIRS);
	__type(key, struct skiff_l4_key);
	__type(value, struct skiff_l4_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_l4_stats SEC(".maps");

/* An accelerated socket's own key -> its struct sock address (for sk_msg to read the peer's
 * unread byte count: probe reads, so a stale address reads garbage, never crashes) and cookie.
 * Written by sockops at established, removed at close. Only root can read it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SKIFF_MAX_ACCEL_SOCKS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct skiff_sock_key);
	__type(value, struct skiff_sock_ref);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_sk_addr SEC(".maps");

/* skiffd's dials to pods of this node for HBONE streams, before the pod's end is established.
 * Written by skiffd, taken by sockops; LRU so that a dial that never completed cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SKIFF_MAX_AGENT_DIALS);
	__type(key, struct skiff_agent_dial_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_agent_dial SEC(".maps");

#endif
