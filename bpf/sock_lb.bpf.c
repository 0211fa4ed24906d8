// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * skiff socket load balancer: a service VIP becomes a backend address at connect()/sendmsg()
 * time, before routing, for processes of enrolled pods; getpeername()/recvmsg() show the VIP
 * back. Attached once at the node's pod cgroup root. The logic lives in lib/lb_*.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "skiff/lb.h"
#include "lib/lb_hooks.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("cgroup/connect4")
int sock_connect4(struct bpf_sock_addr *ctx)
{
	return lb_connect(ctx, false);
}

SEC("cgroup/connect6")
int sock_connect6(struct bpf_sock_addr *ctx)
{
	return lb_connect(ctx, true);
}

SEC("cgroup/sendmsg4")
int sock_sendmsg4(struct bpf_sock_addr *ctx)
{
	return lb_sendmsg(ctx, false);
}

SEC("cgroup/sendmsg6")
int sock_sendmsg6(struct bpf_sock_addr *ctx)
{
	return lb_sendmsg(ctx, true);
}

SEC("cgroup/recvmsg4")
int sock_recvmsg4(struct bpf_sock_addr *ctx)
{
	return lb_recvmsg(ctx, false);
}

SEC("cgroup/recvmsg6")
int sock_recvmsg6(struct bpf_sock_addr *ctx)
{
	return lb_recvmsg(ctx, true);
}

SEC("cgroup/getpeername4")
int sock_getpeer4(struct bpf_sock_addr *ctx)
{
	return lb_getpeername(ctx, false);
}

SEC("cgroup/getpeername6")
int sock_getpeer6(struct bpf_sock_addr *ctx)
{
	return lb_getpeername(ctx, true);
}
