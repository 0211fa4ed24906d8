// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * skiff's STRICT guard (include/skiff/guard.h): a TC program on the node side of each local mesh
 * pod's veth (egress: packets going into the pod) and an XDP program on the node's uplink. Both
 * look only at TCP SYNs; every other packet passes untouched.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/guard.h"
#include "lib/pkt.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

/* A SYN of a socket of this node in kubelet's cgroup (a forwarded packet has no socket: 0). */
static __always_inline bool from_kubelet(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct skiff_guard_cfg *cfg = bpf_map_lookup_elem(&skiff_guard_cfg, &zero);

	return cfg && cfg->kubelet_cgroup && bpf_skb_cgroup_id(skb) == cfg->kubelet_cgroup;
}

/* Into a pod: a SYN to a STRICT port must come from skiffd or from a same-node mesh pod. */
SEC("tc")
int guard_pod(struct __sk_buff *skb)
{
	struct skiff_flow_key f;

	if (!pkt_syn((void *)(long)skb->data, (void *)(long)skb->data_end, &f))
		return TC_ACT_OK;
	if (guard_mode(&f) != SKIFF_MTLS_STRICT) {
		guard_count(SKIFF_GUARD_PASS_MODE);
		return TC_ACT_OK;
	}
	if (skb->mark == SKIFF_MARK_AGENT) {
		guard_count(SKIFF_GUARD_PASS_AGENT);
		return TC_ACT_OK;
	}
	if (bpf_map_lookup_elem(&skiff_auth_flows, &f)) {
		guard_count(SKIFF_GUARD_PASS_FLOW);
		return TC_ACT_OK;
	}
	if (from_kubelet(skb)) {
		guard_count(SKIFF_GUARD_PASS_PROBE);
		return TC_ACT_OK;
	}
	guard_count(SKIFF_GUARD_DROP_TC);
	return TC_ACT_SHOT;
}

/* From off the node: a SYN to a STRICT port of a local pod can only be plaintext. */
SEC("xdp")
int guard_uplink(struct xdp_md *ctx)
{
	struct skiff_flow_key f;

	if (!pkt_syn((void *)(long)ctx->data, (void *)(long)ctx->data_end, &f))
		return XDP_PASS;
	if (guard_mode(&f) != SKIFF_MTLS_STRICT)
		return XDP_PASS;
	guard_count(SKIFF_GUARD_DROP_XDP);
	return XDP_DROP;
}
