/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skiff punt path: the BPF <-> userspace boundary for flows the kernel hands to skiffd.
 *
 * A TCP connect() from an enrolled pod whose destination (after the load balancer picked a
 * backend) is an enrolled pod on another node must not leave the node in plaintext: connect4/6
 * rewrite it to skiffd's outbound listener (skiff_punt_cfg, port 15001) and keep the original
 * destination in the socket's state (skiff_sk_state, skiff/accel.h). When the connection is
 * established, sockops (which now knows the client's port) copies it into skiff_punt_orig under
 * the client's address and port, where skiffd finds it for the socket it accepted: the map
 * answers what SO_ORIGINAL_DST answers for iptables REDIRECT. skiffd runs outside the pod cgroup root, so
 * its own connections are never punted.
 *
 * The hops between a pod and skiffd on one node skip TCP/IP like same-node pod traffic does
 * (skiff/accel.h) when skiffd attached sockops to its own cgroup too (SKIFF_PUNT_F_ACCEL):
 *   - a punted client joins the sockhash, and skiffd's accepted end joins it when it is
 *     established (its local end is the listener below);
 *   - skiffd's connection to a local pod (SO_MARK SKIFF_MARK_AGENT) joins it, and the pod's
 *     accepted end joins it because its peer is already there.
 * A punted client on that fast path is filed with SKIFF_ORIGIN_F_FAST: its bytes reach skiffd
 * by sk_msg redirect, which read() returns but splice() does not see, so skiffd read()s it.
 *
 * Compiled into bpf/sock_lb.bpf.c, bpf/sock_accel.bpf.c and skiffd, carried in BTF.
 */
#ifndef SKIFF_PUNT_H
#define SKIFF_PUNT_H

#ifdef __BPF__
/* vmlinux.h already provides the __u8.. types */
#else
#include <linux/types.h>
#endif

#include "skiff/accel.h" /* struct skiff_pod_ip_key */
#include "skiff/lb.h"

#define SKIFF_MAX_REMOTE_PODS 65536 /* enrolled pod addresses on other nodes */
#define SKIFF_PUNT_FLOWS      65536 /* LRU: accepted-but-not-yet-claimed punted connections */
#define SKIFF_OUTBOUND_PORT   15001

#define SKIFF_MAP_PUNT_CFG    "skiff_punt_cfg"	  /* [0] -> struct skiff_punt_cfg */
#define SKIFF_MAP_REMOTE_PODS "skiff_remote_pods" /* struct skiff_pod_ip_key -> skiff_remote_pod */
#define SKIFF_MAP_PUNT_ORIG   "skiff_punt_orig"	  /* struct skiff_punt_key -> skiff_sock_origin */

#define SKIFF_PUNT_F_ON	   1u /* punting enabled: skiffd listens on the addresses below */
#define SKIFF_PUNT_F_ACCEL 2u /* skiffd's own sockets run sockops: punt hops join the sockhash */

/* skiff_punt_orig value's `pad`: the client socket is on the fast path (see above). */
#define SKIFF_ORIGIN_F_FAST 1u

/* skiff_punt_cfg[0]: where skiffd's outbound listener is, as pods reach it. Written by skiffd. */
struct skiff_punt_cfg {
	__be32 addr4;	 /* IPv4 address of the listener (network order); 0: no IPv4 punting */
	__be32 addr6[4]; /* IPv6 address; all zero: no IPv6 punting */
	__be16 port;	 /* network order, SKIFF_OUTBOUND_PORT by default */
	__u16 pad;
	__u32 flags; /* SKIFF_PUNT_F_* */
};
_Static_assert(sizeof(struct skiff_punt_cfg) == 28, "skiff_punt_cfg layout");

/* skiff_remote_pods value: an enrolled pod on another node, by its address. */
struct skiff_remote_pod {
	__u32 node_id;	   /* index of its node in skiffd's node table */
	__u32 workload_id; /* its workload (identity), as for local pods */
};
_Static_assert(sizeof(struct skiff_remote_pod) == 8, "skiff_remote_pod layout");

/* skiff_punt_orig key: the client end of a punted connection, as skiffd's accepted socket sees
 * its peer. The value is the struct skiff_sock_origin the client really dialled (the backend). */
struct skiff_punt_key {
	union skiff_addr addr;
	__be16 port; /* network order */
	__u8 family;
	__u8 pad;
};
_Static_assert(sizeof(struct skiff_punt_key) == 20, "skiff_punt_key layout");

#endif /* SKIFF_PUNT_H */
