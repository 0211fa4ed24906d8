/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skiff socket load balancer: the BPF <-> userspace boundary.
 *
 * One definition, compiled into bpf/sock_lb.bpf.c and into skiffd, carried in BTF so that
 * `bpftool map dump pinned /sys/fs/bpf/skiff/skiff_services` prints named fields.
 *
 * Generations: skiffd writes a whole new route table under generation N+1 (the `gen` field of
 * every generational key), then flips skiff_config.active_gen, then deletes generation N. A BPF
 * program reads active_gen once per run, so it sees either the old table or the new one, never a
 * mix of both.
 */
#ifndef SKIFF_LB_H
#define SKIFF_LB_H

#ifdef __BPF__
/* vmlinux.h already provides the __u8.. types */
#else
#include <linux/types.h>
#endif

#define SKIFF_MAX_SERVICES	65536  /* service ports per generation */
#define SKIFF_MAX_BACKENDS	262144 /* backend slots per generation */
#define SKIFF_MAX_PODS		16384  /* enrolled pods on one node */
#define SKIFF_MAX_BACKEND_SLOTS 4096   /* backends of one service port */
#define SKIFF_BSEARCH_STEPS	12     /* log2(SKIFF_MAX_BACKEND_SLOTS) */
#define SKIFF_UDP_FLOWS		65536  /* LRU size for UDP stickiness + reverse NAT */
#define SKIFF_WEIGHT_TOTAL_MAX	(1u << 24)

#define SKIFF_AF_INET  4
#define SKIFF_AF_INET6 6

/* Map names as bpftool shows them (BPF object names are limited to 15 characters). */
#define SKIFF_MAP_CONFIG    "skiff_config"
#define SKIFF_MAP_SERVICES  "skiff_services"
#define SKIFF_MAP_BACKENDS  "skiff_backends"
#define SKIFF_MAP_ENROLLED  "skiff_enrolled"
#define SKIFF_MAP_UDP_FLOWS "skiff_udp_flows"
#define SKIFF_MAP_UDP_REV   "skiff_udp_rev"
#define SKIFF_MAP_POD_ADDR  "skiff_pod_addr"

/* An IPv4 address lives in v6[0] with v6[1..3] zero; family says which. Network byte order. */
union skiff_addr {
	__be32 v4;
	__be32 v6[4];
};

/* skiff_config.flags */
#define SKIFF_CFG_F_NO_EVENTS 1u /* flow events off (skiffd --flow-events=off, skiff/events.h) */

/* skiff_config[0]: written by skiffd only; read by every program. */
struct skiff_config {
	__u32 active_gen; /* generation the data path uses now */
	__u32 flags;	  /* SKIFF_CFG_F_* */
};
_Static_assert(sizeof(struct skiff_config) == 8, "skiff_config layout");

/* skiff_services key: a ClusterIP (or other VIP) + port + protocol, in one generation. */
struct skiff_svc_key {
	union skiff_addr addr;
	__be16 port;
	__u8 proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 family; /* SKIFF_AF_INET or SKIFF_AF_INET6 */
	__u32 gen;
};
_Static_assert(sizeof(struct skiff_svc_key) == 24, "skiff_svc_key layout");

#define SKIFF_SVC_F_NO_BACKENDS 1u /* connect fails with ECONNREFUSED, like kube-proxy's REJECT */
/*
 * DestinationRule consistentHash.useSourceIp: the port's slots are a Maglev lookup table of
 * SKIFF_MAGLEV_SIZE entries (count), each a copy of the backend that owns it, and a connect takes
 * slot skiff_hash_addr(client address) % count. The same client always lands on the same backend,
 * and a backend leaving moves only the clients it had. skiffd builds the table
 * (user/l7/upstream_maglev.c), so the kernel and the per-request proxy agree.
 */
#define SKIFF_SVC_F_MAGLEV 2u
#define SKIFF_MAGLEV_SIZE  4093 /* a prime, within SKIFF_MAX_BACKEND_SLOTS */
/* HTTP rules beyond weights (a VirtualService match, retries, fault...): a TCP connect() from a
 * mesh pod goes to skiffd's outbound listener with this VIP:port as its original destination
 * (skiff/punt.h), and skiffd routes each request. The backend slots stay filled: they are the
 * connection's path while punting is off. */
#define SKIFF_SVC_F_L7 4u

/*
 * skiff_services value: where this service port's backends are and how much weight they hold.
 * svc_id is the port's index in skiffd's view, or that + SKIFF_SVC_ID_ALT: a port whose backends
 * skiffd rewrites in place (an endpoint change) gets its new slots under the other of the two,
 * and this entry switches to them in one update.
 */
#define SKIFF_SVC_ID_ALT SKIFF_MAX_SERVICES
struct skiff_svc {
	__u32 svc_id;	    /* key of its backend slots in skiff_backends */
	__u32 count;	    /* backend slots 0..count-1 */
	__u32 weight_total; /* sum of backend weights, <= SKIFF_WEIGHT_TOTAL_MAX */
	__u32 flags;	    /* SKIFF_SVC_F_* */
};
_Static_assert(sizeof(struct skiff_svc) == 16, "skiff_svc layout");

/* skiff_backends key: slot `slot` of service `svc_id` in generation `gen`. */
struct skiff_backend_key {
	__u32 gen;
	__u32 svc_id;
	__u32 slot;
};
_Static_assert(sizeof(struct skiff_backend_key) == 12, "skiff_backend_key layout");

/*
 * skiff_backends value. Slots are sorted; weight_end is the cumulative weight up to and including
 * this slot, so a random r in [0, weight_total) picks the first slot with r < weight_end.
 * Backends with weight 0 are never written. A slot with family 0 is a "no healthy upstream"
 * share: a route weight whose subset has no ready endpoint. Connections that land there fail with
 * ECONNREFUSED, as Istio answers 503 for that share instead of moving it to other subsets.
 */
struct skiff_backend {
	union skiff_addr addr;
	__be16 port;
	__u8 family;
	__u8 group; /* the route destination it serves (index, at most 255); BPF does not read it:
		     * skiffd gives an ejected endpoint's share to its group's other endpoints */
	__u32 weight_end;
};
_Static_assert(sizeof(struct skiff_backend) == 24, "skiff_backend layout");

#define SKIFF_POD_F_ENROLLED 1u
/* Connections to this pod are checked in skiff_policy (policy.h) at connect(). */
#define SKIFF_POD_F_AUTHZ 2u
/* Its AuthorizationPolicies need HTTP: connections to it are punted to skiffd, which decides
 * each request (policy.h). */
#define SKIFF_POD_F_L7 4u
/* STRICT on some port (guard.h): a SYN reaches its listeners only after the TC guard on its veth
 * let it through (skiff_guard_seen), whatever way it was written onto the veth. */
#define SKIFF_POD_F_STRICT 8u

/* skiff_enrolled: cgroup id of a local pod -> its mesh state. Present means in the mesh. */
struct skiff_pod {
	__u32 workload_id; /* 1..SKIFF_MAX_PODS, the pod's for its life (user/compile/wl_ids.h) */
	__u32 flags;	   /* SKIFF_POD_F_* */
};
_Static_assert(sizeof(struct skiff_pod) == 8, "skiff_pod layout");

/*
 * skiff_pod_addr: cgroup id of a local enrolled pod -> its addresses (status.podIPs), family 0
 * where it has none. A Maglev port hashes the client's address; a socket not bound yet has
 * none at connect(), and the pod's address is what its packets will carry.
 */
struct skiff_pod_addr {
	union skiff_addr v4;
	union skiff_addr v6;
	__u8 has4;
	__u8 has6;
	__u8 pad[6];
};
_Static_assert(sizeof(struct skiff_pod_addr) == 40, "skiff_pod_addr layout");

/* An endpoint as the load balancer keeps it: the VIP a TCP or connected UDP socket dialled (in
 * its struct skiff_sock_state, skiff/accel.h), a backend, a punted destination. */
struct skiff_sock_origin {
	union skiff_addr addr;
	__be16 port;
	__u8 family;
	__u8 pad;
};
_Static_assert(sizeof(struct skiff_sock_origin) == 20, "skiff_sock_origin layout");

/* skiff_udp_flows: (socket, VIP) -> chosen backend, so one UDP flow sticks to one backend. */
struct skiff_udp_flow_key {
	__u64 cookie; /* bpf_get_socket_cookie of the client socket */
	union skiff_addr vip;
	__be16 port;
	__u8 family;
	__u8 pad[5];
};
_Static_assert(sizeof(struct skiff_udp_flow_key) == 32, "skiff_udp_flow_key layout");

/*
 * skiff_udp_flows value: the backend a flow sticks to, and the generation it was picked in. A
 * flow picked under an older generation is picked again, so a backend removed by a config change
 * stops receiving datagrams at the next send.
 */
struct skiff_udp_flow {
	union skiff_addr addr;
	__be16 port;
	__u8 family;
	__u8 pad;
	__u32 gen;
};
_Static_assert(sizeof(struct skiff_udp_flow) == 24, "skiff_udp_flow layout");

/* skiff_udp_rev: (socket, backend) -> VIP (a struct skiff_sock_origin), for recvmsg to show the
 * client the VIP it sent to. Written by sendmsg (unconnected) and connect (connected UDP). */
struct skiff_udp_rev_key {
	__u64 cookie;
	union skiff_addr backend;
	__be16 port;
	__u8 family;
	__u8 pad[5];
};
_Static_assert(sizeof(struct skiff_udp_rev_key) == 32, "skiff_udp_rev_key layout");

/* 64-bit finaliser of MurmurHash3: every input bit moves every output bit. */
static inline __u64 skiff_mix64(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* The hash of a client address (network byte order words, IPv4 in v6[0]) that picks its Maglev
 * slot; written once here so BPF and skiffd compute the same value. */
static inline __u64 skiff_hash_addr(const union skiff_addr *a, __u8 family)
{
	__u64 h = skiff_mix64(family);

	h = skiff_mix64(h ^ a->v6[0]);
	if (family == SKIFF_AF_INET6) {
		h = skiff_mix64(h ^ a->v6[1]);
		h = skiff_mix64(h ^ a->v6[2]);
		h = skiff_mix64(h ^ a->v6[3]);
	}
	return h;
}

#endif /* SKIFF_LB_H */
