/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The STRICT guard's maps and its decision for one TCP SYN (include/skiff/guard.h). Packet
 * parsing is left to the callers (TC and XDP see the same Ethernet frame through different
 * contexts); this file only answers "may this SYN reach that pod?".
 */
#ifndef SKIFF_BPF_GUARD_H
#define SKIFF_BPF_GUARD_H

#include "skiff/guard.h"

/* Local pod address and port -> PeerAuthentication mode. Written by skiffd. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SKIFF_MAX_MTLS_PORTS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct skiff_mtls_key);
	__type(value, struct skiff_mtls);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_mtls SEC(".maps");

/* Same-node mesh connections, filed by sockops before their SYN leaves. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SKIFF_AUTH_FLOWS);
	__type(key, struct skiff_flow_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_auth_flows SEC(".maps");

/* skiff_guard_cfg[0]. Written by skiffd. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct skiff_guard_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_guard_cfg SEC(".maps");

/* What the guard did, per verdict and CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SKIFF_GUARD_VERDICTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_guard_stats SEC(".maps");

static __always_inline void guard_count(__u32 verdict)
{
	__u64 *n = bpf_map_lookup_elem(&skiff_guard_stats, &verdict);

	if (n)
		*n += 1;
}

/* The mode of a local pod's port: its port entry, else its pod entry, else PERMISSIVE (not a
 * mesh pod of this node, or no policy). */
static __always_inline __u32 guard_mode(const struct skiff_flow_key *f)
{
	struct skiff_mtls_key k;
	struct skiff_mtls *m;

	__builtin_memset(&k, 0, sizeof(k));
	k.addr = f->daddr;
	k.family = f->family;
	k.port = f->dport;
	m = bpf_map_lookup_elem(&skiff_mtls, &k);
	if (!m) {
		k.port = 0;
		m = bpf_map_lookup_elem(&skiff_mtls, &k);
	}
	return m ? m->mode : SKIFF_MTLS_PERMISSIVE;
}

#endif
