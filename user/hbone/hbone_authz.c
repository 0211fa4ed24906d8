// SPDX-License-Identifier: Apache-2.0
/*
 * AuthorizationPolicy on inbound HBONE: every CONNECT is a new connection to a pod of this
 * node, from the principal of the peer's certificate (the source workload's identity: clients
 * present their workload's certificate, and connections are pooled per identity) and from the
 * address `forwarded: for=` names. Denied at L4: 401, like ztunnel. When the pod's policies need
 * HTTP, the stream is joined to the pod through an L7 filter (a socketpair between the stream and
 * the L7 relay), so requests are decided one by one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/addr.h"
#include "hbone/hbone_internal.h"
#include "l7/l7_filter.h"

void hb_forwarded_format(const struct skiff_sock_origin *src, char *out, size_t len)
{
	char ip[ADDR_TEXT_MAX];

	addr_text(&src->addr, src->family, ip, sizeof(ip));
	/* RFC 7239: an IPv6 node is quoted and bracketed */
	if (src->family == SKIFF_AF_INET6)
		snprintf(out, len, "for=\"[%s]\"", ip);
	else
		snprintf(out, len, "for=%s", ip);
}

/* `forwarded: for=1.2.3.4` or `for="[fd00::1]"` (first element, first pair) -> *src; left zeroed
 * when it names no address. */
void hb_forwarded_parse(const char *v, size_t n, struct skiff_sock_origin *src)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *s = buf, *end;

	memset(src, 0, sizeof(*src));
	if (n < 5 || n >= sizeof(buf) || strncasecmp(v, "for=", 4))
		return;
	memcpy(buf, v + 4, n - 4);
	buf[n - 4] = '\0';
	end = s + strcspn(s, ",;");
	*end = '\0';
	if (*s == '"' && end > s + 1 && end[-1] == '"') {
		*--end = '\0';
		s++;
	}
	if (*s == '[' && (end = strchr(s, ']'))) {
		*end = '\0';
		if (addr_parse(s + 1, &src->addr) == SKIFF_AF_INET6)
			src->family = SKIFF_AF_INET6;
		else
			memset(&src->addr, 0, sizeof(src->addr));
		return;
	}
	if (addr_parse(s, &src->addr) == SKIFF_AF_INET)
		src->family = SKIFF_AF_INET;
	else
		memset(&src->addr, 0, sizeof(src->addr));
}

int hb_authorize(struct hb_conn *c, struct hb_stream *st, struct proxy_l7 *l7)
{
	struct proxy *p = c->p;

	if (!p->o.authz)
		return PROXY_ALLOW;
	switch (p->o.authz(p->o.ctx, c->peer_id, &st->src, &st->dst, l7)) {
	case PROXY_ALLOW:
		return PROXY_ALLOW;
	case PROXY_L7:
		return PROXY_L7;
	default:
		p->stats.authz_denied++;
		hb_access_log(c, st, "denied by AuthorizationPolicy (401)");
		return PROXY_DENY;
	}
}

/* The pod is reached through the L7 relay: the stream's local side is one end of a socketpair,
 * the relay holds the other and dials the pod itself. The stream answers 200 at once; a pod that
 * refuses ends the stream with a reset instead of a 503. */
int hb_stream_attach_l7(struct hb_stream *st, const struct proxy_l7 *l7)
{
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = &st->local};
	struct proxy *p = st->conn->p;
	struct proxy_l7 via = *l7;
	int sp[2];

	via.hbone = true; /* its dial is filed: the stream reports the connection */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp)) {
		l7->release(l7->d.ctx);
		return -errno;
	}
	if (l7_relay_open(p, sp[1], &st->dst, &via)) {
		close(sp[0]);
		return -ECONNREFUSED;
	}
	/* "connected" once the socketpair end is writable (dial_done, like a pod's socket) */
	st->local.fd = sp[0];
	st->local_connecting = true;
	epoll_ctl(p->epfd, EPOLL_CTL_ADD, sp[0], &ev);
	return 0;
}
