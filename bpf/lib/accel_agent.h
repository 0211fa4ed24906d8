/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sockops on skiffd's own sockets (skiffd attaches it to its cgroup too, and then sets
 * SKIFF_PUNT_F_ACCEL): the hops between a pod and skiffd on one node join the sockhash, so a
 * punted request reaches skiffd, and skiffd's bytes reach the pod, without TCP/IP or the veth.
 *   - passive: skiffd accepted on its outbound listener a client that is already in (a punted
 *     client, lib/punt_sockops.h);
 *   - active: skiffd dialled a pod of this node (SO_MARK SKIFF_MARK_AGENT: the HBONE server side
 *     and the L7 relay); the pod's accepted end follows because this one is in.
 * skiffd's other sockets (HBONE between nodes, the admin port) are left alone. Its ends count
 * only the bytes they redirected (lib/accel_sockops.h, accel_closed): the pod's end counts the
 * connection.
 */
#ifndef SKIFF_BPF_ACCEL_AGENT_H
#define SKIFF_BPF_ACCEL_AGENT_H

#include "skiff/guard.h"
#include "lib/accel_sock.h"
#include "lib/punt.h"

/* The punt listener's address and port are this socket's local end. */
static __always_inline bool agent_is_listener(const struct skiff_punt_cfg *cfg,
					      const struct skiff_sock_key *k)
{
	if (bpf_ntohs(cfg->port) != k->local_port)
		return false;
	if (k->family == SKIFF_AF_INET)
		return cfg->addr4 && cfg->addr4 == k->local.v4;
	return (cfg->addr6[0] | cfg->addr6[1] | cfg->addr6[2] | cfg->addr6[3]) &&
	       cfg->addr6[0] == k->local.v6[0] && cfg->addr6[1] == k->local.v6[1] &&
	       cfg->addr6[2] == k->local.v6[2] && cfg->addr6[3] == k->local.v6[3];
}

/* The skiff_agent_dial key of one of skiffd's dials: the pod's end and skiffd's port, from
 * whichever end of the connection `k` is (`agent_side`: skiffd's). */
static __always_inline void agent_dial_key(struct skiff_agent_dial_key *d,
					   const struct skiff_sock_key *k, bool agent_side)
{
	__builtin_memset(d, 0, sizeof(*d));
	d->pod = agent_side ? k->remote : k->local;
	d->pod_port = agent_side ? k->remote_port : k->local_port;
	d->agent_port = agent_side ? k->local_port : k->remote_port;
	d->family = k->family;
}

/* skiffd's dial with key `k` (its own end) was filed for an HBONE stream; the entry stays for the
 * pod's end, which is established after this one (accel_sockops.h, agent_dialled). */
static __always_inline bool agent_dial_filed(const struct skiff_sock_key *k)
{
	struct skiff_agent_dial_key d;

	agent_dial_key(&d, k, true);
	return bpf_map_lookup_elem(&skiff_agent_dial, &d) != NULL;
}

static __always_inline void agent_established(struct bpf_sock_ops *ctx, struct skiff_sock_key *k,
					      bool client)
{
	const struct skiff_punt_cfg *cfg = punt_cfg();
	struct skiff_sock_state *st;
	struct bpf_sock *sk = ctx->sk;
	struct skiff_pod *pod;
	__u32 wl;

	if (!accel_redirect_on || !sk || !cfg || !(cfg->flags & SKIFF_PUNT_F_ACCEL))
		return;
	pod = pod_ips_lookup(&k->remote, k->family);
	if (!pod)
		return; /* only hops to and from pods of this node */
	if (client ? sk->mark != SKIFF_MARK_AGENT
		   : !agent_is_listener(cfg, k) || !accel_peer_inserted(k))
		return;
	st = sk_state_new(sk);
	if (!st)
		return;
	wl = pod->workload_id;
	/* the pair of the pod's end: (client pod, skiffd) for a punt, (skiffd, server pod) for a
	 * dial skiffd filed for an HBONE stream, (0, server pod) for another dial */
	accel_state_init(ctx, st, client ? (agent_dial_filed(k) ? SKIFF_WL_AGENT : 0) : wl,
			 client ? wl : SKIFF_WL_AGENT,
			 SKIFF_SOCK_F_AGENT | (client ? SKIFF_SOCK_F_CLIENT : 0));
	accel_insert(ctx, k, st);
}

#endif
