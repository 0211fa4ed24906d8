/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skiff same-node acceleration and L4 telemetry: the BPF <-> userspace boundary.
 *
 * One definition, compiled into bpf/sock_accel.bpf.c and into skiffd, carried in BTF so that
 * `bpftool map dump pinned /sys/fs/bpf/skiff/skiff_l4_stats` prints named fields. The sockhash
 * is the exception: the kernel refuses BTF for SOCKMAP/SOCKHASH maps (ENOTSUPP on 6.1 and 6.18),
 * so bpftool shows its 40-byte key in hex, laid out as struct skiff_sock_key, and the value as
 * the socket's cookie.
 *
 * sockops (at the pod cgroup root) sees a TCP connection become established. When the local and
 * the remote address are both pods of this node that are in the mesh (skiff_pod_ips), it puts the
 * socket into skiff_sockhash under its own 4-tuple; the peer does the same under its own. sk_msg
 * then redirects every message to the socket whose key is the sender's key with the two ends
 * swapped, straight into the peer's receive queue. The kernel removes a socket from the sockhash
 * when it closes. At close, sockops adds the connection's bytes and duration to skiff_l4_stats.
 *
 * Back-pressure. TCP bounds what a reader that stopped reading holds by its receive window;
 * sk_msg ingress redirect does not (the kernel charges it to global TCP memory only). So before
 * each redirect sk_msg reads how many bytes wait unread in the peer's redirect queue (the kernel
 * address of each accelerated socket is kept in skiff_sk_addr for that), and once they would
 * pass the cap the writer's socket falls back to TCP for the rest of the connection
 * (SKIFF_SOCK_F_TCP): TCP's window then stops the writer. The reader takes the redirected bytes
 * first, then TCP's, so the order is kept. Its peer then sends over TCP for good too, and both
 * sockets leave the sockhash once their queues of redirected bytes are empty, so neither runs
 * sk_msg and the psock's paths for the rest of the connection (bpf/lib/accel_leave.h).
 */
#ifndef SKIFF_ACCEL_H
#define SKIFF_ACCEL_H

#ifdef __BPF__
/* vmlinux.h already provides the __u8.. types */
#else
#include <linux/types.h>
#endif

#include "skiff/lb.h"

#define SKIFF_MAX_ACCEL_SOCKS 65536 /* sockets (two per connection) in the sockhash */
#define SKIFF_MAX_L4_PAIRS    16384 /* (source, destination) workload pairs with counters */

/* Map names as bpftool shows them (BPF object names are limited to 15 characters). */
#define SKIFF_MAP_SOCKHASH  "skiff_sockhash"  /* struct skiff_sock_key -> socket (cookie) */
#define SKIFF_MAP_POD_IPS   "skiff_pod_ips"   /* struct skiff_pod_ip_key -> struct skiff_pod */
#define SKIFF_MAP_L4_STATS  "skiff_l4_stats"  /* struct skiff_l4_key -> struct skiff_l4_stats */
#define SKIFF_MAP_SK_STATE  "skiff_sk_state"  /* struct skiff_sock_state per socket */
#define SKIFF_MAP_SK_ADDR   "skiff_sk_addr"   /* struct skiff_sock_key -> struct skiff_sock_ref */
#define SKIFF_MAP_JOIN_HIST "skiff_join_hist" /* struct skiff_join_key -> struct skiff_join_hist */
#define SKIFF_MAP_AGENT_DIALS                                                                      \
	"skiff_agent_dial" /* struct skiff_agent_dial_key -> __u8, skiffd's dials to its pods */
#define SKIFF_MAX_AGENT_DIALS 16384 /* LRU: dials whose pod end is not established yet */

/* The sockops and sk_msg programs, as named in links/ and in bpftool prog show. */
#define SKIFF_PROG_SOCKOPS "accel_sockops"
#define SKIFF_PROG_SK_MSG  "accel_sk_msg"

/*
 * skiff_sockhash key: a TCP connection as one of its two sockets sees it. An IPv4-mapped IPv6
 * address is stored as IPv4, so a dual-stack listener and an IPv4 client agree on the tuple.
 * Addresses in network byte order, ports in host byte order.
 */
struct skiff_sock_key {
	union skiff_addr local;
	union skiff_addr remote;
	__u16 local_port;
	__u16 remote_port;
	__u8 family; /* SKIFF_AF_INET or SKIFF_AF_INET6 */
	__u8 pad[3];
};
_Static_assert(sizeof(struct skiff_sock_key) == 40, "skiff_sock_key layout");

/* skiff_pod_ips key: an address of an enrolled pod of this node. The value is the pod's
 * struct skiff_pod, the same as its skiff_enrolled entry. Written by skiffd. */
struct skiff_pod_ip_key {
	union skiff_addr addr;
	__u8 family;
	__u8 pad[3];
};
_Static_assert(sizeof(struct skiff_pod_ip_key) == 20, "skiff_pod_ip_key layout");

/*
 * skiff_l4_stats key: client workload -> server workload (skiff_pod.workload_id; 0 for a peer
 * that is not an enrolled pod of this node). One entry per pair, whichever end reports it.
 * SKIFF_WL_AGENT stands for skiffd at the other end of a pod's connection: a punted client's hop
 * to skiffd, or skiffd's dial that brings an HBONE stream to its pod. skiffd reports those
 * connections itself, with both ends and their mTLS identities (the kernel sees only the hop), so
 * its scrape leaves such pairs out of Istio's series rather than count the bytes twice.
 */
#define SKIFF_WL_AGENT 0xffffffffu
struct skiff_l4_key {
	__u32 src_workload;
	__u32 dst_workload;
};
_Static_assert(sizeof(struct skiff_l4_key) == 8, "skiff_l4_key layout");

/*
 * skiff_agent_dial key: a connection skiffd is about to dial to a pod of this node for an HBONE
 * stream, as the pod's accepted socket will see it (its own address and port, skiffd's port).
 * skiffd binds the socket to a port first and files it here; sockops takes the entry when the
 * pod's end is established and files that connection under (SKIFF_WL_AGENT, pod). A port bound
 * by bind() is never shared by another socket, so the key names one connection.
 */
struct skiff_agent_dial_key {
	union skiff_addr pod;
	__u16 pod_port;	  /* host order */
	__u16 agent_port; /* host order */
	__u8 family;	  /* SKIFF_AF_INET or SKIFF_AF_INET6 */
	__u8 pad[3];
};
_Static_assert(sizeof(struct skiff_agent_dial_key) == 24, "skiff_agent_dial_key layout");

/*
 * skiff_l4_stats value, one per CPU (sum them). Byte directions follow Istio's istio_tcp_*
 * metrics: received = request bytes (source -> destination), sent = response bytes (destination
 * -> source). A connection with both ends here is counted once: each socket adds the bytes it
 * sent, and only the client adds the connection and its duration.
 */
struct skiff_l4_stats {
	__u64 conns_opened;
	__u64 conns_closed;
	__u64 bytes_received;
	__u64 bytes_sent;
	__u64 duration_ns; /* sum of the closed connections' lifetimes */
	__u64
	    tcp_fallbacks; /* sockets moved off the fast path because their peer stopped reading */
};
_Static_assert(sizeof(struct skiff_l4_stats) == 48, "skiff_l4_stats layout");

#define SKIFF_SOCK_F_CLIENT 1u /* the active opener (the source workload) */
#define SKIFF_SOCK_F_BOTH_LOCAL                                                                    \
	2u			 /* the peer is an enrolled pod here and on the fast path: it
				     * reports its own bytes */
#define SKIFF_SOCK_F_ACCEL   4u	 /* inserted into skiff_sockhash */
#define SKIFF_SOCK_F_TCP     8u	 /* its peer stopped reading: this socket sends over TCP for good */
#define SKIFF_SOCK_F_NO_PEER 16u /* it sent while its peer was not in the sockhash: TCP for good */
#define SKIFF_SOCK_F_AGENT   32u /* skiffd's end of a punted connection (see skiff/punt.h) */

/*
 * Everything skiff keeps per socket, in one sk_storage element (skiff_sk_state), written by
 * connect4/6, sockops and sk_msg. One element rather than one map per use: a socket's first
 * element also allocates its storage header, each element is one more allocation charged to the
 * pod's memory cgroup, and each use would look its own up. A socket gets the element at
 * connect() when the load balancer rewrote it or punted it, else at established when it is a
 * client in the mesh or an accelerated server end; it goes with the socket.
 *   - vip: what a rewritten or punted socket dialled, which getpeername shows (family 0: none);
 *   - punt: where a punted connect was going, from connect to established (family 0: none);
 *   - the rest: the fast path's and the L4 counters' state, from established (start_ns set) to
 *     the close callback, which counts the connection and clears start_ns and flags.
 */
struct skiff_sock_state {
	__u64 start_ns;	    /* bpf_ktime_get_ns() at established; 0 before it and once counted */
	__u64 redirected;   /* bytes this socket sent through sk_msg redirect (not TCP) */
	__u64 acked0;	    /* bytes_acked at established (the client's SYN counts one) */
	__u64 received0;    /* bytes_received at established */
	__u64 received_fw2; /* bytes_received when the socket entered FIN_WAIT2 */
	struct skiff_l4_key pair;
	__u32 flags; /* SKIFF_SOCK_F_* */
	__u32 msgs;  /* messages this socket sent through sk_msg redirect */
	struct skiff_sock_origin vip;
	struct skiff_sock_origin punt;
};
_Static_assert(sizeof(struct skiff_sock_state) == 96, "skiff_sock_state layout");

/*
 * skiff_sk_addr value, keyed by an accelerated socket's own struct skiff_sock_key: the socket's
 * kernel address, which sk_msg reads its peer's unread byte count through, and its cookie. With
 * BTF, `bpftool map dump` of skiff_sk_addr lists the fast-path sockets with named fields (the
 * sockhash itself cannot carry BTF). Written at established, removed at close.
 */
struct skiff_sock_ref {
	__u64 kaddr; /* with SKIFF_SOCK_REF_TCP set in its low bit once the socket fell back */
	__u64 cookie;
};

/* In skiff_sock_ref.kaddr (a struct sock is aligned, its low bit is free): the socket sends over
 * TCP for good and takes no more redirects; it leaves the sockhash, and this map, once its
 * reader has taken what was redirected to it (bpf/lib/accel_leave.h). */
#define SKIFF_SOCK_REF_TCP 1ull
_Static_assert(sizeof(struct skiff_sock_ref) == 16, "skiff_sock_ref layout");

/*
 * Which same-node connections join the sockhash (bpf/lib/accel_join.h). Joining has a fixed
 * cost per connection (a psock made and torn down for each socket, two map entries each) and
 * pays back per message, so a connection that carries one request and one answer is slower on
 * the fast path than on TCP. sockops keeps, per server (workload, port), how many connections
 * closed lately and how many messages they carried; a new client joins when there is no such
 * history yet or when those connections carried SKIFF_JOIN_MIN_MSGS messages each on average.
 * Its server end joins exactly when the client's did. skiffd --accel-join=always turns this off.
 */
#define SKIFF_MAX_JOIN_HIST  16384 /* (server workload, port) entries, least recently used go */
#define SKIFF_JOIN_MIN_CONNS 8	   /* connections seen before a destination may be kept on TCP */
#define SKIFF_JOIN_MIN_MSGS  4	   /* messages per connection, both ways, for the fast path */
#define SKIFF_JOIN_WINDOW    64	   /* at this many connections the history is halved */
#define SKIFF_JOIN_MSGS_CAP  64	   /* one connection counts at most this many messages */

/* skiff_join_hist key: the server end of same-node connections. */
struct skiff_join_key {
	__u32 workload; /* the server pod's skiff_pod.workload_id */
	__u16 port;	/* its port, host byte order */
	__u16 pad;
};
_Static_assert(sizeof(struct skiff_join_key) == 8, "skiff_join_key layout");

/* skiff_join_hist value: recent connections to that server and the messages they carried
 * (TCP data segments plus redirected messages, each way, capped per connection). */
struct skiff_join_hist {
	__u32 conns;
	__u32 msgs;
};
_Static_assert(sizeof(struct skiff_join_hist) == 8, "skiff_join_hist layout");

#endif /* SKIFF_ACCEL_H */
