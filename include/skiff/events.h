/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skiff flow events: the BPF <-> userspace boundary for what the kernel tells skiffd about
 * connections, one event per connection or per drop, never per packet.
 *
 *   OPENED   sockops, a mesh pod's connection became established (its client end, or the
 *            server end when the client is no mesh pod of this node)
 *   CLOSED   sockops at close: bytes each way and lifetime (see the merge rule below)
 *   DENIED   connect4/6: same-node AuthorizationPolicy refused it (EPERM), with the policy's id
 *   DROPPED  the STRICT guard (TC, XDP, the pods' cgroup ingress) dropped a packet, with the
 *            guard's verdict as the reason; rate-limited per CPU (a flood is not an event storm)
 *   PUNTED   connect4/6 sent the connection to skiffd (another node, or HTTP rules)
 *
 * All programs share one ring buffer, pinned by name. When it is full, or a guard drop is over
 * its CPU's budget, the event is not written and a per-CPU counter says so (skiff_ev_stats):
 * the kernel never waits for skiffd.
 *
 * CLOSED and the fast path. A same-node connection on the fast path moves bytes by sk_msg
 * redirect, which the receiving socket's TCP counters never see, so each end only knows what it
 * sent. Each socket with per-connection state therefore writes its own CLOSED event: the end
 * that counts the connection (SKIFF_EV_F_PRIMARY; SKIFF_EV_F_PARTNER when the other end will add
 * its part), and the other end's part (neither flag). skiffd adds the parts of one connection,
 * matched by their 4-tuple, before it shows the event.
 *
 * Compiled into bpf/sock_lb.bpf.c, bpf/sock_accel.bpf.c, bpf/guard.bpf.c and skiffd.
 */
#ifndef SKIFF_EVENTS_H
#define SKIFF_EVENTS_H

#ifdef __BPF__
/* vmlinux.h already provides the __u8.. types */
#else
#include <linux/types.h>
#endif

#include "skiff/lb.h"

#define SKIFF_MAP_EVENTS    "skiff_events"    /* BPF_MAP_TYPE_RINGBUF of struct skiff_event */
#define SKIFF_MAP_EV_STATS  "skiff_ev_stats"  /* [enum skiff_ev_stat] -> per-CPU counts */
#define SKIFF_MAP_EV_BUCKET "skiff_ev_bucket" /* [0] -> per-CPU struct skiff_ev_bucket */
#define SKIFF_EVENTS_BYTES  (1u << 20)	      /* ring size: about 10,000 events */

/* Guard drops: each CPU may write SKIFF_EV_DROP_RATE events a second, in bursts of at most
 * SKIFF_EV_DROP_BURST; the rest are counted as suppressed. */
#define SKIFF_EV_DROP_RATE  1000
#define SKIFF_EV_DROP_BURST 200

enum skiff_ev_kind {
	SKIFF_EV_OPENED = 1,
	SKIFF_EV_CLOSED,
	SKIFF_EV_DENIED,
	SKIFF_EV_DROPPED,
	SKIFF_EV_PUNTED,
	SKIFF_EV_KINDS,
};

/* DENIED reasons (DROPPED carries an enum skiff_guard_verdict instead). */
#define SKIFF_EV_DENY_POLICY 1 /* a DENY entry, or no ALLOW entry (policy_id 0: none matched) */
#define SKIFF_EV_DENY_L7     2 /* its policies need HTTP and punting is off: never direct */

#define SKIFF_EV_F_PRIMARY 1u /* CLOSED: this end counts the connection and its lifetime */
#define SKIFF_EV_F_PARTNER 2u /* CLOSED primary: the other end writes its part too */
#define SKIFF_EV_F_FAST	   4u /* CLOSED: the connection was on the fast path (sk_msg) */

/*
 * One event. Addresses in network order, ports in network order, oriented client -> server
 * (for DENIED and PUNTED the source port is 0: connect() has not bound one yet). Workloads are
 * skiff_pod.workload_id (0: not a mesh pod of this node). bytes_* follow Istio's istio_tcp_*
 * directions: received = request bytes (client -> server), sent = response bytes.
 */
struct skiff_event {
	__u64 ts_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	union skiff_addr saddr;
	union skiff_addr daddr;
	__be16 sport;
	__be16 dport;
	__u8 kind;   /* enum skiff_ev_kind */
	__u8 family; /* SKIFF_AF_INET or SKIFF_AF_INET6; 0: unknown (unparsed packet) */
	__u8 reason; /* DENIED: SKIFF_EV_DENY_*; DROPPED: enum skiff_guard_verdict */
	__u8 flags;  /* SKIFF_EV_F_* */
	__u32 src_workload;
	__u32 dst_workload;
	__u32 policy_id; /* DENIED: index + 1 of the AuthorizationPolicy that decided; 0 none */
	__u32 pad;
	__u64 cgroup_id; /* DENIED, PUNTED: the calling pod's cgroup */
	__u64 bytes_received;
	__u64 bytes_sent;
	__u64 duration_ns; /* CLOSED primary: established to close */
};
_Static_assert(sizeof(struct skiff_event) == 96, "skiff_event layout");

/* skiff_ev_stats index: what did not become an event. */
enum skiff_ev_stat {
	SKIFF_EV_STAT_LOST,	  /* the ring was full */
	SKIFF_EV_STAT_SUPPRESSED, /* a guard drop over its CPU's budget */
	SKIFF_EV_STATS,
};

/* skiff_ev_bucket: one token bucket per CPU for guard drop events. */
struct skiff_ev_bucket {
	__u64 last_ns; /* when tokens were last added */
	__u64 tokens;
};
_Static_assert(sizeof(struct skiff_ev_bucket) == 16, "skiff_ev_bucket layout");

#endif /* SKIFF_EVENTS_H */
