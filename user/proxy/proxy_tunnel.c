// SPDX-License-Identifier: Apache-2.0
/*
 * HBONE streams for other threads (proxy_tunnel): the L7 router runs on its own threads, but HBONE
 * connections live on the proxy thread. The router gets one end of a socket pair at once; the
 * other end is queued, and the proxy thread, woken by an eventfd, carries it over a CONNECT
 * stream exactly as it carries a punted client (the client pod's identity, pooled connections to
 * the destination's node). A stream that cannot open resets its end, which the router sees as a
 * connection that failed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hbone/hbone.h"
#include "proxy/proxy.h"

struct proxy_tunnel_rq {
	int fd;
	struct skiff_punt_key client;
	struct skiff_sock_origin dst;
	struct proxy_route route;
	struct proxy_tunnel_rq *next;
};

int proxy_tunnel_init(struct proxy *p)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &p->tunnel_ev};

	pthread_mutex_init(&p->tunnel_lock, NULL);
	p->tunnelfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->tunnelfd < 0)
		return -errno;
	p->tunnel_ev = (struct proxy_ev){.kind = EV_TUNNEL, .fd = p->tunnelfd};
	return epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->tunnelfd, &ev) ? -errno : 0;
}

int proxy_tunnel(struct proxy *p, const struct skiff_punt_key *client,
		 const struct skiff_sock_origin *dst, const char *traceparent)
{
	struct proxy_tunnel_rq *rq;
	uint64_t one = 1;
	int sv[2];

	if (!p || !p->o.route)
		return -ENOENT;
	rq = calloc(1, sizeof(*rq));
	if (!rq)
		return -ENOMEM;
	/* the route is looked up here: the agent answers from any thread */
	if (p->o.route(p->o.ctx, client, dst, &rq->route)) {
		free(rq);
		return -ENOENT;
	}
	/* held until the proxy thread has opened the stream: a rotation meanwhile must not free it */
	SSL_CTX_up_ref(rq->route.ctx);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv)) {
		SSL_CTX_free(rq->route.ctx);
		free(rq);
		return -errno;
	}
	rq->fd = sv[1];
	rq->client = *client;
	rq->dst = *dst;
	if (traceparent)
		snprintf(rq->route.trace, sizeof(rq->route.trace), "%s", traceparent);
	pthread_mutex_lock(&p->tunnel_lock);
	rq->next = p->tunnels;
	p->tunnels = rq;
	pthread_mutex_unlock(&p->tunnel_lock);
	(void)!write(p->tunnelfd, &one, sizeof(one));
	return sv[0];
}

static struct proxy_tunnel_rq *take_all(struct proxy *p)
{
	struct proxy_tunnel_rq *v;

	pthread_mutex_lock(&p->tunnel_lock);
	v = p->tunnels;
	p->tunnels = NULL;
	pthread_mutex_unlock(&p->tunnel_lock);
	return v;
}

void proxy_tunnel_event(struct proxy *p)
{
	struct proxy_tunnel_rq *rq = take_all(p), *next;
	uint64_t n;

	(void)!read(p->tunnelfd, &n, sizeof(n));
	for (; rq; rq = next) {
		next = rq->next;
		/* read and written, never spliced: fast = true */
		hbone_out_open(p, rq->fd, true, &rq->client, &rq->dst, &rq->route);
		SSL_CTX_free(rq->route.ctx); /* the connections took their own references */
		free(rq);
	}
}

void proxy_tunnel_fini(struct proxy *p)
{
	struct proxy_tunnel_rq *rq, *next;

	if (p->tunnelfd < 0)
		return;
	for (rq = take_all(p); rq; rq = next) {
		next = rq->next;
		close(rq->fd);
		SSL_CTX_free(rq->route.ctx);
		free(rq);
	}
	close(p->tunnelfd);
	pthread_mutex_destroy(&p->tunnel_lock);
}
