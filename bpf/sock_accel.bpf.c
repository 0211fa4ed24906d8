// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * skiff same-node accelerator: sockops puts both sockets of a connection between two enrolled
 * pods of this node into a sockhash, and sk_msg hands each message to the peer socket, so bytes
 * skip the TCP/IP stack; a pair that fell back to TCP leaves it again. sockops also counts
 * connections and bytes per workload pair at close.
 * Attached at the node's pod cgroup root and at skiffd's own cgroup (sockops: the punt hops, see
 * lib/accel_agent.h) and on the sockhash (sk_msg). The logic lives in lib/accel_*.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "skiff/accel.h"
#include "lib/accel_leave.h"
#include "lib/accel_msg.h"
#include "lib/accel_sockops.h"
#include "lib/guard_sockops.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("sockops")
int accel_sockops(struct bpf_sock_ops *ctx)
{
	switch (ctx->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		guard_connect(ctx);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		accel_established(ctx, true);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		accel_established(ctx, false);
		break;
	case BPF_SOCK_OPS_RTT_CB:
		accel_leave(ctx); /* asked for by fast-path sockets only */
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (ctx->args[1] == BPF_TCP_CLOSE)
			accel_closed(ctx, ctx->args[0]);
		else if (ctx->args[1] == BPF_TCP_FIN_WAIT2)
			accel_fin_wait2(ctx);
		break;
	default:
		break;
	}
	return 1;
}

SEC("sk_msg")
int accel_sk_msg(struct sk_msg_md *msg)
{
	return accel_msg_redirect(msg);
}
