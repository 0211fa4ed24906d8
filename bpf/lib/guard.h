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

/* SYNs the TC guard let into a pod STRICT on some port, until the pod's socket check takes
 * them: a SYN at such a pod's listener that is not here did not cross the TC guard. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SKIFF_GUARD_SEEN);
	__type(key, struct skiff_flow_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_guard_seen SEC(".maps");

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

/* The veth (node side) of each local mesh pod -> that pod. Written by skiffd. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SKIFF_MAX_GUARD_IFACES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct skiff_guard_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_guard_ifaces SEC(".maps");

static __always_inline struct skiff_mtls *guard_entry(const struct skiff_guard_iface *pod,
						      __be16 port)
{
	struct skiff_mtls_key k;

	__builtin_memset(&k, 0, sizeof(k));
	k.addr = pod->addr;
	k.family = pod->family;
	k.port = port;
	return bpf_map_lookup_elem(&skiff_mtls, &k);
}

/* The mode of a local pod's port: its port entry, else its pod entry, else PERMISSIVE (not a
 * mesh pod of this node, or no policy). */
static __always_inline __u32 guard_mode(const struct skiff_guard_iface *pod, __be16 port)
{
	struct skiff_mtls *m = guard_entry(pod, port);

	if (!m)
		m = guard_entry(pod, 0);
	return m ? m->mode : SKIFF_MTLS_PERMISSIVE;
}

/* STRICT on some port: a packet whose port the guard cannot know must not reach the pod. */
static __always_inline bool guard_strict_any(const struct skiff_guard_iface *pod)
{
	struct skiff_mtls *m = guard_entry(pod, 0);

	return m && (m->flags & SKIFF_MTLS_F_STRICT_ANY);
}

/* The pod a packet is for, by its destination address (family 0: none). */
static __always_inline void guard_pod_by_addr(const struct skiff_flow_key *f,
					      struct skiff_guard_iface *pod)
{
	__builtin_memset(pod, 0, sizeof(*pod));
	pod->addr = f->daddr;
	pod->family = f->family;
}

/* The pod behind veth `ifindex`, whatever address the packet names (link-local, or any other the
 * pod answers on); a veth skiffd has not listed falls back to the destination address. */
static __always_inline void guard_pod_by_iface(__u32 ifindex, const struct skiff_flow_key *f,
					       struct skiff_guard_iface *pod)
{
	struct skiff_guard_iface *v = bpf_map_lookup_elem(&skiff_guard_ifaces, &ifindex);

	if (v)
		*pod = *v;
	else
		guard_pod_by_addr(f, pod);
}

#endif
