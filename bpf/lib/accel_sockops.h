/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sockops: at established, a socket whose local address is an enrolled pod of this node gets a
 * per-socket state (start time, workload pair) and asks for state callbacks. When its peer is an
 * enrolled pod here too it may go into the sockhash: the client's end when the server's history
 * says the fast path pays (lib/accel_join.h), the server's end when the client's is in. A punted
 * client always goes in (the hop to skiffd, lib/accel_agent.h). At close, its bytes and lifetime
 * go to skiff_l4_stats, and its messages to the server's history. A server end whose client
 * stayed on TCP keeps no state: the client sees every byte both ways and counts them. Nothing
 * here can fail a connection: a socket that cannot be inserted (map full, a socket type sockmap
 * refuses) simply stays on TCP.
 */
#ifndef SKIFF_BPF_ACCEL_SOCKOPS_H
#define SKIFF_BPF_ACCEL_SOCKOPS_H

#include "lib/accel_agent.h"
#include "lib/accel_join.h"
#include "lib/accel_key.h"
#include "lib/accel_maps.h"
#include "lib/accel_sock.h"
#include "lib/accel_stats.h"
#include "lib/events.h"
#include "lib/punt_sockops.h"

/* A flow event of this socket's connection, oriented client -> server. */
static __always_inline struct skiff_event *ev_sock(__u8 kind, const struct skiff_sock_key *k,
						   const struct skiff_l4_key *pair, bool client)
{
	struct skiff_event *e = ev_reserve(kind);

	if (!e)
		return NULL;
	e->saddr = client ? k->local : k->remote;
	e->daddr = client ? k->remote : k->local;
	e->sport = bpf_htons(client ? k->local_port : k->remote_port);
	e->dport = bpf_htons(client ? k->remote_port : k->local_port);
	e->family = k->family;
	/* flow events name skiffd's end by its address, as before it had an id */
	e->src_workload = pair->src_workload == SKIFF_WL_AGENT ? 0 : pair->src_workload;
	e->dst_workload = pair->dst_workload == SKIFF_WL_AGENT ? 0 : pair->dst_workload;
	return e;
}

static __always_inline void ev_opened(const struct skiff_sock_key *k,
				      const struct skiff_l4_key *pair, bool client)
{
	struct skiff_event *e = ev_sock(SKIFF_EV_OPENED, k, pair, client);

	if (e)
		ev_submit(e);
}

/* This socket's part of its connection's CLOSED event (skiff/events.h: the merge rule). */
static __always_inline void ev_closed(const struct skiff_sock_key *k,
				      const struct skiff_sock_state *st,
				      const struct skiff_l4_stats *d)
{
	struct skiff_event *e;
	__u8 flags = 0;

	e = ev_sock(SKIFF_EV_CLOSED, k, &st->pair, st->flags & SKIFF_SOCK_F_CLIENT);
	if (!e)
		return;
	if (st->flags & SKIFF_SOCK_F_ACCEL)
		flags |= SKIFF_EV_F_FAST;
	if (d->conns_closed) /* a fast-path peer knows what it sent: it writes its part too */
		flags |=
		    SKIFF_EV_F_PRIMARY | (st->flags & SKIFF_SOCK_F_ACCEL ? SKIFF_EV_F_PARTNER : 0);
	e->flags = flags;
	e->bytes_received = d->bytes_received;
	e->bytes_sent = d->bytes_sent;
	e->duration_ns = d->duration_ns;
	ev_submit(e);
}

/* Does this socket join the sockhash? `punted`: a client that connect4/6 sent to skiffd, on its
 * way to a pod on another node (see punt_established): it joins for the hop to skiffd. */
static __always_inline bool accel_join(const struct skiff_sock_key *key, bool client, bool punted,
				       const struct skiff_pod *peer)
{
	if (!accel_redirect_on)
		return false;
	if (punted)
		return true;
	if (peer && client)
		return accel_join_wanted(peer->workload_id, key->remote_port);
	/* the server end of a local pair, or a pod that skiffd dialled: it follows the client */
	return accel_peer_inserted(key);
}

/* Did skiffd file this accepted connection as its dial for an HBONE stream? The entry is taken. */
static __always_inline bool agent_dialled(const struct skiff_sock_key *k)
{
	struct skiff_agent_dial_key d;

	agent_dial_key(&d, k, false);
	if (!bpf_map_lookup_elem(&skiff_agent_dial, &d))
		return false;
	bpf_map_delete_elem(&skiff_agent_dial, &d);
	return true;
}

/* A socket is established: its state, counters and maybe the sockhash. A client may carry state
 * from connect4/6 (its VIP, a punt to file); an accepted socket starts with none. */
static __always_inline void accel_established(struct bpf_sock_ops *ctx, bool client)
{
	struct skiff_sock_state *st = NULL;
	struct skiff_pod *me, *peer;
	struct skiff_sock_key key;
	struct bpf_sock *sk = ctx->sk;
	__u32 my_wl, peer_wl = 0;
	bool join;
	int punt = -1;

	if (!sk || key_of_sockops(ctx, &key))
		return;
	if (client) {
		st = sk_state(sk);
		punt = punt_established(st, &key);
	}
	me = pod_ips_lookup(&key.local, key.family);
	if (!me) {
		agent_established(ctx, &key, client); /* skiffd's end of a hop, or nothing */
		return;
	}
	my_wl = me->workload_id;
	peer = pod_ips_lookup(&key.remote, key.family);
	if (peer)
		peer_wl = peer->workload_id;
	else if (client ? punt >= 0 : agent_dialled(&key))
		peer_wl = SKIFF_WL_AGENT; /* skiffd's hop: skiffd reports the connection */
	join = accel_join(&key, client, punt > 0, peer);
	if (peer && !client && !join)
		return; /* its client stayed on TCP and counts this connection, both ways */

	if (!st)
		st = sk_state_new(sk);
	if (!st)
		return;
	accel_state_init(ctx, st, client ? my_wl : peer_wl, client ? peer_wl : my_wl,
			 client ? SKIFF_SOCK_F_CLIENT : (peer ? SKIFF_SOCK_F_BOTH_LOCAL : 0));
	/* a connection with both ends here is counted once, by its client */
	if (client || !peer) {
		l4_stats_opened(&st->pair);
		ev_opened(&key, &st->pair, client);
	}
	if (!join)
		return;
	accel_insert(ctx, &key, st);
	/* the server end follows a client that is in, and reports its own bytes */
	if (peer && client && (st->flags & SKIFF_SOCK_F_ACCEL))
		st->flags |= SKIFF_SOCK_F_BOTH_LOCAL;
}

/*
 * TCP counts a FIN as one sequence number: in bytes_received once the peer's came, in
 * bytes_acked once ours was acknowledged. At close, the state the socket left says which:
 * - received: CLOSE_WAIT, LAST_ACK, CLOSING and TIME_WAIT come after the peer's FIN. From
 *   FIN_WAIT2 the socket closes either at that FIN (into TIME_WAIT) or, closed by its owner, as
 *   soon as its own FIN is acknowledged (the kernel keeps a TIME_WAIT bucket in its place, which
 *   takes the peer's FIN later): the FIN came only if bytes_received grew after FIN_WAIT2, which
 *   an orphan could not take but as a FIN.
 * - sent: FIN_WAIT2 and TIME_WAIT come after our FIN's ACK. LAST_ACK and CLOSING also close when
 *   a RST answers our FIN (a peer whose TIME_WAIT bucket was refused, a peer that gave up), and
 *   then the FIN is the one byte still unacknowledged.
 */
static __always_inline __u64 accel_received_data(const struct bpf_sock_ops *ctx,
						 const struct skiff_sock_state *st, __u64 bytes,
						 __u32 old_state)
{
	bool fin;

	switch (old_state) {
	case BPF_TCP_CLOSE_WAIT:
	case BPF_TCP_LAST_ACK:
	case BPF_TCP_CLOSING:
	case BPF_TCP_TIME_WAIT:
		fin = true;
		break;
	case BPF_TCP_FIN_WAIT2:
		fin = ctx->bytes_received != st->received_fw2;
		break;
	default:
		fin = false;
	}
	return fin && bytes ? bytes - 1 : bytes;
}

/* Entering FIN_WAIT2: what was received so far, for accel_received_data. */
static __always_inline void accel_fin_wait2(struct bpf_sock_ops *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct skiff_sock_state *st;

	if (!sk)
		return;
	st = sk_state(sk);
	if (st && st->start_ns)
		st->received_fw2 = ctx->bytes_received;
}

static __always_inline __u64 accel_acked_data(const struct bpf_sock_ops *ctx, __u64 bytes,
					      __u32 old_state)
{
	bool fin;

	switch (old_state) {
	case BPF_TCP_FIN_WAIT2:
	case BPF_TCP_TIME_WAIT:
		fin = true;
		break;
	case BPF_TCP_LAST_ACK:
	case BPF_TCP_CLOSING:
		fin = ctx->snd_una == ctx->snd_nxt;
		break;
	default:
		fin = false;
	}
	return fin && bytes ? bytes - 1 : bytes;
}

/* The messages a same-node connection carried, into its server's history: the client's end
 * adds the connection, what it sent and what reached it over TCP; the server's end, when it was
 * on the fast path, what it redirected. */
static __always_inline void accel_closed_learn(struct bpf_sock_ops *ctx,
					       const struct skiff_sock_state *st, bool client)
{
	if (!accel_redirect_on || (st->flags & SKIFF_SOCK_F_AGENT) || !st->pair.dst_workload ||
	    st->pair.dst_workload == SKIFF_WL_AGENT)
		return;
	if (client)
		accel_join_record(st->pair.dst_workload, (__u16)bpf_ntohl(ctx->remote_port),
				  (__u64)st->msgs + ctx->data_segs_out + ctx->data_segs_in, 1);
	else if (st->flags & SKIFF_SOCK_F_BOTH_LOCAL)
		accel_join_record(st->pair.dst_workload, (__u16)ctx->local_port, st->msgs, 0);
}

static __always_inline void accel_closed(struct bpf_sock_ops *ctx, __u32 old_state)
{
	struct skiff_l4_stats d = {};
	struct skiff_sock_key key;
	struct skiff_sock_state *st;
	struct bpf_sock *sk = ctx->sk;
	__u64 sent, rcvd;
	bool client, agent;

	if (!sk)
		return;
	st = sk_state(sk);
	if (!st || !st->start_ns)
		return; /* no state since established, or counted already */
	client = st->flags & SKIFF_SOCK_F_CLIENT;
	agent = st->flags & SKIFF_SOCK_F_AGENT;
	/* skiffd's end adds only what it redirected: what went over TCP, its pod's end counted */
	sent = st->redirected;
	if (!agent)
		sent += accel_acked_data(ctx, ctx->bytes_acked - st->acked0, old_state);
	rcvd = accel_received_data(ctx, st, ctx->bytes_received - st->received0, old_state);
	/* what this socket sent is the request when it is the client, the response otherwise */
	if (client)
		d.bytes_received = sent;
	else
		d.bytes_sent = sent;
	/* a peer that is not a pod here reports nothing: this socket counts what it received too */
	if (!(st->flags & (SKIFF_SOCK_F_BOTH_LOCAL | SKIFF_SOCK_F_AGENT))) {
		if (client)
			d.bytes_sent = rcvd;
		else
			d.bytes_received = rcvd;
	}
	d.tcp_fallbacks = !!(st->flags & SKIFF_SOCK_F_TCP);
	if (!agent && (client || !(st->flags & SKIFF_SOCK_F_BOTH_LOCAL))) {
		d.conns_closed = 1;
		d.duration_ns = bpf_ktime_get_ns() - st->start_ns;
	}
	l4_stats_add(&st->pair, &d);
	accel_closed_learn(ctx, st, client);
	if (!key_of_sockops(ctx, &key)) {
		ev_closed(&key, st, &d);
		if (st->flags & SKIFF_SOCK_F_ACCEL)
			bpf_map_delete_elem(&skiff_sk_addr, &key);
	}
	/* a second CLOSE must not count again; the storage itself goes with the socket (deleting
	 * it here would cost a lookup and a free that the socket's destruction does anyway) */
	st->start_ns = 0;
	st->flags = 0;
}

#endif
