/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skiff's STRICT guard: the BPF <-> userspace boundary for PeerAuthentication in the kernel.
 *
 * A pod whose PeerAuthentication mode is STRICT (on a port) accepts connections only from the
 * mesh: from skiffd (which terminated mTLS for a peer on another node and marks its connection to
 * the pod with SKIFF_MARK_AGENT), or from a same-node mesh pod whose connect() the kernel saw
 * (sockops files the 4-tuple in skiff_auth_flows before the SYN leaves). The TC program on the
 * pod's veth drops every other SYN to a STRICT port; PERMISSIVE and DISABLE let plaintext in.
 * An XDP program on the node's uplink drops SYNs from off the node to STRICT ports before an skb
 * exists (they can only be plaintext: mesh traffic between nodes arrives on HBONE, 15008).
 *
 * Both parse what the receiving kernel parses (bpf/lib/pkt.h): IPv4 options and fragments, IPv6
 * extension header chains. For a pod that is STRICT on any port, TCP fragments and packets the
 * guard cannot walk do not enter. On the veth, the pod is known by the interface
 * (skiff_guard_ifaces), so every address of the pod (link-local included) carries its mode.
 *
 * A frame the node writes onto the veth past its qdisc skips TC. So a third program, at the pods'
 * cgroup ingress (where the pod's kernel hands a reassembled SYN to a listener), lets a SYN into
 * a pod STRICT on some port (SKIFF_POD_F_STRICT) only if the TC guard filed its 4-tuple in
 * skiff_guard_seen on the way in, or if it came from inside the pod (loopback).
 *
 * Compiled into bpf/guard.bpf.c, bpf/sock_accel.bpf.c and skiffd, carried in BTF.
 */
#ifndef SKIFF_GUARD_H
#define SKIFF_GUARD_H

#ifdef __BPF__
/* vmlinux.h already provides the __u8.. types */
#else
#include <linux/types.h>
#endif

#include "skiff/lb.h"

#define SKIFF_MARK_AGENT     0x5c1ff000u /* SO_MARK of skiffd's connections to local pods */
#define SKIFF_MAX_MTLS_PORTS 65536	 /* skiff_mtls entries (pods x overridden ports) */
#define SKIFF_AUTH_FLOWS     65536	 /* LRU of same-node mesh connections */

#define SKIFF_MAP_MTLS	       "skiff_mtls"	    /* struct skiff_mtls_key -> struct skiff_mtls */
#define SKIFF_MAP_AUTH_FLOWS   "skiff_auth_flows"   /* struct skiff_flow_key -> __u64 (cookie) */
#define SKIFF_MAP_GUARD_STATS  "skiff_guard_stats"  /* [verdict] -> per-CPU packet counts */
#define SKIFF_MAP_GUARD_CFG    "skiff_guard_cfg"    /* [0] -> struct skiff_guard_cfg */
#define SKIFF_MAP_GUARD_IFACES "skiff_guard_ifaces" /* __u32 ifindex -> struct skiff_guard_iface */
#define SKIFF_MAX_GUARD_IFACES 16384		    /* local mesh pods' veths */
#define SKIFF_MAP_GUARD_SEEN   "skiff_guard_seen"   /* struct skiff_flow_key -> __u64 (ktime) */
#define SKIFF_GUARD_SEEN       16384 /* LRU of SYNs on their way from veth to socket */
/* How long a filed SYN stays good. The socket check runs microseconds after the veth's guard on
 * the same path (milliseconds under load); an entry it never took (a SYN the pod's stack dropped
 * on the way: no listener, a full backlog) must not let in a later SYN of the same 4-tuple. */
#define SKIFF_GUARD_SEEN_NS (5ULL * 1000000000ULL)

/* skiff_guard_cfg[0]. Kubelet's health probes come from the node itself; like Istio ambient,
 * which lets them through STRICT, the guard lets SYNs of sockets in kubelet's cgroup in. */
struct skiff_guard_cfg {
	__u64 kubelet_cgroup; /* cgroup v2 id of kubelet (skiffd --kubelet-cgroup); 0: none */
};
_Static_assert(sizeof(struct skiff_guard_cfg) == 8, "skiff_guard_cfg layout");

/* PeerAuthentication modes as the kernel sees them (user/model's enum m_mtls_mode). */
#define SKIFF_MTLS_PERMISSIVE 0
#define SKIFF_MTLS_STRICT     1
#define SKIFF_MTLS_DISABLE    2

/* skiff_mtls key: a local pod address and a port; port 0 is the pod's mode for other ports. */
struct skiff_mtls_key {
	union skiff_addr addr;
	__be16 port; /* network order; 0: the pod's default */
	__u8 family;
	__u8 pad;
};
_Static_assert(sizeof(struct skiff_mtls_key) == 20, "skiff_mtls_key layout");

/* skiff_mtls flags, on a pod's port-0 entry. */
#define SKIFF_MTLS_F_STRICT_ANY 0x1 /* STRICT on some port: what the guard cannot place, drops */

struct skiff_mtls {
	__u16 mode;  /* SKIFF_MTLS_* */
	__u16 flags; /* SKIFF_MTLS_F_*, port-0 entries only */
};
_Static_assert(sizeof(struct skiff_mtls) == 4, "skiff_mtls layout");

/* skiff_guard_ifaces value: the pod behind a veth (node side), by one of its addresses in
 * skiff_mtls. The TC guard decides by this pod whatever address a packet names. */
struct skiff_guard_iface {
	union skiff_addr addr;
	__u8 family;
	__u8 pad[3];
};
_Static_assert(sizeof(struct skiff_guard_iface) == 20, "skiff_guard_iface layout");

/* skiff_auth_flows key: a TCP connection's 4-tuple as its SYN carries it. */
struct skiff_flow_key {
	union skiff_addr saddr;
	union skiff_addr daddr;
	__be16 sport;
	__be16 dport;
	__u8 family;
	__u8 pad[3];
};
_Static_assert(sizeof(struct skiff_flow_key) == 40, "skiff_flow_key layout");

/* skiff_guard_stats index: what the guard did with a SYN to a local pod. */
enum skiff_guard_verdict {
	SKIFF_GUARD_PASS_MODE,	/* not STRICT on that port */
	SKIFF_GUARD_PASS_AGENT, /* from skiffd (mark) */
	SKIFF_GUARD_PASS_FLOW,	/* a same-node mesh connection the kernel saw */
	SKIFF_GUARD_PASS_PROBE, /* kubelet's health probe */
	SKIFF_GUARD_DROP_TC,	/* plaintext to STRICT, dropped on the pod's veth */
	SKIFF_GUARD_DROP_XDP,	/* plaintext to STRICT from off the node, dropped on the uplink */
	/* To a pod STRICT on some port: any TCP fragment (TCP on Linux never fragments: DF and
	 * path MTU discovery), on the veth and on the uplink. */
	SKIFF_GUARD_DROP_TC_FRAG,
	SKIFF_GUARD_DROP_XDP_FRAG,
	/* To a pod STRICT on some port: what the guard cannot walk (truncated headers, an IPv6
	 * chain over PKT_MAX_EXT headers, ESP, tunnels, unknown protocols or ethertypes). */
	SKIFF_GUARD_DROP_TC_UNPARSED,
	SKIFF_GUARD_DROP_XDP_UNPARSED,
	/* A SYN at a listener of a pod STRICT on some port that the TC guard never let through:
	 * written onto the veth past its qdisc (PACKET_QDISC_BYPASS, AF_XDP) on the node. */
	SKIFF_GUARD_DROP_SOCK,
	SKIFF_GUARD_VERDICTS,
};

#endif /* SKIFF_GUARD_H */
