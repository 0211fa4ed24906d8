/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The punt path (see include/skiff/punt.h): connect4/6 send TCP aimed at an enrolled pod on
 * another node to skiffd's outbound listener and remember where it was going; sockops files that
 * under the client's address and port once the connection is established, for skiffd to look up.
 * Included by both sock_lb and sock_accel: the maps are pinned by name, so both share them.
 */
#ifndef SKIFF_BPF_PUNT_H
#define SKIFF_BPF_PUNT_H

#include "skiff/punt.h"
#include "lib/addr.h"
#include "lib/sk_state.h"

/* skiff_punt_cfg[0]: skiffd's outbound listener. Written by skiffd. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct skiff_punt_cfg);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_punt_cfg SEC(".maps");

/* Address of an enrolled pod on another node -> its node and workload. Written by skiffd. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SKIFF_MAX_REMOTE_PODS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct skiff_pod_ip_key);
	__type(value, struct skiff_remote_pod);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_remote_pods SEC(".maps");

/* Client end of a punted connection -> where it was going. Written by sockops, read and
 * deleted by skiffd; LRU so that entries skiffd never claims cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SKIFF_PUNT_FLOWS);
	__type(key, struct skiff_punt_key);
	__type(value, struct skiff_sock_origin);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_punt_orig SEC(".maps");

static __always_inline const struct skiff_punt_cfg *punt_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&skiff_punt_cfg, &zero);
}

/* skiffd's listener in the family of `dst`; false when punting is off for that family. */
static __always_inline bool punt_listener(const struct skiff_sock_origin *dst,
					  struct skiff_sock_origin *l)
{
	const struct skiff_punt_cfg *cfg = punt_cfg();

	if (!cfg || !(cfg->flags & SKIFF_PUNT_F_ON))
		return false;
	ep_clear(l);
	l->port = cfg->port;
	l->family = dst->family;
	if (dst->family == SKIFF_AF_INET) {
		l->addr.v4 = cfg->addr4;
		return cfg->addr4 != 0;
	}
	l->addr.v6[0] = cfg->addr6[0];
	l->addr.v6[1] = cfg->addr6[1];
	l->addr.v6[2] = cfg->addr6[2];
	l->addr.v6[3] = cfg->addr6[3];
	return cfg->addr6[0] | cfg->addr6[1] | cfg->addr6[2] | cfg->addr6[3];
}

static __always_inline bool punt_remote_pod(const struct skiff_sock_origin *dst)
{
	struct skiff_pod_ip_key k;

	__builtin_memset(&k, 0, sizeof(k));
	k.addr = dst->addr;
	k.family = dst->family;
	return bpf_map_lookup_elem(&skiff_remote_pods, &k) != NULL;
}

/*
 * connect() of a TCP socket of an enrolled pod to `dst` (the backend already chosen; `vip`: what
 * was dialled): when `dst` is an enrolled pod on another node, or `always` (a local pod whose
 * policies need HTTP), dial skiffd instead, and keep `dst` and `vip` in the socket's state.
 * Returns true when rewritten. Otherwise (not punted, punting off, or a socket that cannot carry
 * the memory of its destination) the caller decides whether it may go direct, and clears what an
 * earlier connect() of the socket kept (origin_remember or origin_forget).
 */
static __always_inline bool punt_connect(struct bpf_sock_addr *ctx, struct bpf_sock *sk,
					 const struct skiff_sock_origin *dst,
					 const struct skiff_sock_origin *vip, bool always,
					 const bool is6)
{
	struct skiff_sock_state *st;
	struct skiff_sock_origin l;

	if (!(always || punt_remote_pod(dst)) || !punt_listener(dst, &l))
		return false;
	st = sk_state_new(sk);
	if (!st || ep_write(ctx, &l, is6))
		return false;
	st->punt = *dst;
	st->vip = *vip; /* getpeername: what was dialled, not skiffd */
	return true;
}

#endif
