// SPDX-License-Identifier: Apache-2.0
/*
 * skiffd's dials to pods of this node that carry HBONE streams, filed with the kernel before
 * connect() (include/skiff/accel.h, skiff_agent_dial): sockops then counts the pod's end under
 * skiffd's id rather than as a client from outside the mesh, and the scrape leaves it out, since
 * the stream is reported by skiffd with both ends and their identities. The socket is bound to a
 * port of its own first: a bind()ed port is shared with no other socket, so the entry names this
 * connection only. Filing is telemetry: when it fails, the dial goes on unfiled.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "common/addr.h"
#include "proxy/proxy_internal.h"

bool proxy_dial_file(struct proxy *p, int fd, const struct skiff_sock_origin *dst,
		     struct skiff_agent_dial_key *k)
{
	struct sockaddr_storage ss = {.ss_family =
					  dst->family == SKIFF_AF_INET6 ? AF_INET6 : AF_INET};
	socklen_t len =
	    ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	union skiff_addr any;
	uint16_t port;

	memset(k, 0, sizeof(*k));
	if (!p->o.dial_file || bind(fd, (struct sockaddr *)&ss, len))
		return false;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) || !addr_from_sockaddr(&ss, &any, &port))
		return false;
	k->pod = dst->addr;
	k->pod_port = ntohs(dst->port);
	k->agent_port = ntohs(port);
	k->family = dst->family;
	p->o.dial_file(p->o.ctx, k, true);
	return true;
}

void proxy_dial_withdraw(struct proxy *p, const struct skiff_agent_dial_key *k)
{
	if (p->o.dial_file && k->agent_port)
		p->o.dial_file(p->o.ctx, k, false);
}
