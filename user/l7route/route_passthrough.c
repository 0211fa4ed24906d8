// SPDX-License-Identifier: Apache-2.0
/*
 * What the router does not speak yet: a connection that opens with the HTTP/2 preface (h2c prior
 * knowledge, gRPC) is carried as bytes to one endpoint of the route the kernel would use (the
 * first without a match), by weight, as the kernel does per connection: HTTP/2 clients keep
 * working at L4 until the router routes their streams.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "l7route/route_conn.h"
#include "l7route/route_pick.h"

bool l7r_is_h2(struct l7r_conn *c)
{
	while (l7_buf_unread(&c->in) < L7_H2_PREFACE_LEN) {
		size_t have = l7_buf_unread(&c->in);
		uint8_t buf[4096];
		ssize_t n;

		if (memcmp(l7_buf_head(&c->in), L7_H2_PREFACE, have))
			return false;
		n = l7r_read(c->fd, buf, sizeof(buf), l7r_deadline(30000));
		if (n <= 0 || l7_buf_put(&c->in, buf, (size_t)n))
			return false;
	}
	return !memcmp(l7_buf_head(&c->in), L7_H2_PREFACE, L7_H2_PREFACE_LEN);
}

static const struct l7_route *kernel_route(const struct l7_svcport *sp)
{
	for (size_t i = 0; i < sp->nroutes; i++)
		if (!sp->routes[i].r->h || !sp->routes[i].r->h->nmatches)
			return &sp->routes[i];
	return sp->nroutes ? &sp->routes[0] : NULL;
}

/* Copy what `from` has to `to`; false at EOF or an error. */
static bool pump(int from, int to)
{
	uint8_t buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	return n > 0 && !l7r_write_all(to, buf, (size_t)n, l7r_deadline(30000));
}

void l7r_passthrough(struct l7r_conn *c)
{
	const struct l7_route *r = kernel_route(c->sp);
	const struct l7_dest *d = r ? l7r_pick_dest(r, l7r_rand01()) : NULL;
	const struct l7_endpoint *ep = d ? l7r_pick_endpoint(d, NULL, 0, l7r_rand32()) : NULL;
	struct pollfd p[2];
	int up = -ENOENT;

	if (!ep)
		return;
	if (!ep->local && c->rt->o.tunnel)
		up = c->rt->o.tunnel(c->rt->o.ctx, &c->client, &ep->addr, NULL);
	if (up == -ENOENT)
		up = l7r_dial(&ep->addr, l7r_deadline(L7R_CONNECT_MS));
	if (up < 0)
		return;
	if (l7r_write_all(up, l7_buf_head(&c->in), l7_buf_unread(&c->in), l7r_deadline(30000)))
		goto out;
	p[0] = (struct pollfd){.fd = c->fd, .events = POLLIN};
	p[1] = (struct pollfd){.fd = up, .events = POLLIN};
	while (poll(p, 2, -1) > 0 || errno == EINTR) {
		if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(c->fd, up))
			break;
		if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && !pump(up, c->fd))
			break;
	}
out:
	close(up);
}
