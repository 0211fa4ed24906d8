// SPDX-License-Identifier: Apache-2.0
/*
 * Inbound HBONE (15008): other nodes' skiffd connect here with their source workload's
 * certificate. The handshake verifies it against the mesh root (the server SSL_CTX requires a
 * peer certificate); each CONNECT stream then reaches its pod (hbone_session.c).
 */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hbone/hbone_internal.h"

void hbone_in_accept(struct proxy *p, int lfd)
{
	SSL_CTX *ctx = p->o.server_ctx(p->o.ctx);
	int fd;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct hb_conn *c;

		if (proxy_src_charge(p, fd)) { /* that node holds too many connections */
			proxy_close(p, fd, true);
			continue;
		}
		proxy_nodelay(fd);
		c = ctx ? hb_conn_new(p, fd, true, ctx) : NULL;
		if (!c) {
			p->stats.tls_failed++;
			proxy_close(p, fd, true);
		}
	}
}
