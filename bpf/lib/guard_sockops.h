/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sockops half of the STRICT guard: when an enrolled pod of this node connects, file the
 * connection's 4-tuple before its SYN leaves, so that the TC guard on the destination pod's veth
 * knows it for a mesh connection (the kernel saw which pod made it: identity on the node is
 * kernel-attested). Connections of pods outside the mesh, and of the node itself, are not filed;
 * nor are those to anything but a pod of this node STRICT on some port (SKIFF_POD_F_STRICT): only
 * such a pod's TC guard ever looks a flow up, and a SYN that leaves the node meets the other
 * node's guard, which knows nothing of this node's flows. That spares most connections a map
 * update and the socket cookie.
 */
#ifndef SKIFF_BPF_GUARD_SOCKOPS_H
#define SKIFF_BPF_GUARD_SOCKOPS_H

#include "lib/accel_sockops.h"
#include "lib/guard.h"

static __always_inline void guard_connect(struct bpf_sock_ops *ctx)
{
	struct skiff_sock_key k;
	struct skiff_flow_key f;
	struct skiff_pod *dst;
	__u64 cookie;

	if (key_of_sockops(ctx, &k))
		return;
	dst = pod_ips_lookup(&k.remote, k.family);
	if (!dst || !(dst->flags & SKIFF_POD_F_STRICT) || !pod_ips_lookup(&k.local, k.family))
		return;
	__builtin_memset(&f, 0, sizeof(f));
	f.saddr = k.local;
	f.daddr = k.remote;
	f.sport = bpf_htons(k.local_port);
	f.dport = bpf_htons(k.remote_port);
	f.family = k.family;
	cookie = bpf_get_socket_cookie(ctx);
	bpf_map_update_elem(&skiff_auth_flows, &f, &cookie, BPF_ANY);
}

#endif
