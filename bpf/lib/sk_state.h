/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one sk_storage map of skiff (struct skiff_sock_state in include/skiff/accel.h): what
 * connect4/6, sockops and sk_msg remember of a socket. Included by sock_lb and sock_accel: the
 * map is pinned by name, so both share it. A lookup on a socket that has no storage at all only
 * reads a NULL pointer; a socket gets storage only from sk_state_new.
 */
#ifndef SKIFF_BPF_SK_STATE_H
#define SKIFF_BPF_SK_STATE_H

#include "skiff/accel.h"

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct skiff_sock_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} skiff_sk_state SEC(".maps");

/* The socket's state, or NULL when it has none. */
static __always_inline struct skiff_sock_state *sk_state(struct bpf_sock *sk)
{
	return bpf_sk_storage_get(&skiff_sk_state, sk, 0, 0);
}

/* The socket's state, made (zeroed) when it has none; NULL when that fails (memory). */
static __always_inline struct skiff_sock_state *sk_state_new(struct bpf_sock *sk)
{
	return bpf_sk_storage_get(&skiff_sk_state, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
}

#endif
