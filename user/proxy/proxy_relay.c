// SPDX-License-Identifier: Apache-2.0
/*
 * One punted connection: the client's socket (accepted on 15001) and a socket to where the client
 * was going, with bytes moved each way through a pipe by splice(), so they are never copied into
 * skiffd. Half-close is passed on (a FIN from one side becomes shutdown(SHUT_WR) on the other
 * once the pipe is drained); a reset or an error on either side resets both.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/addr.h"
#include "proxy/proxy_internal.h"

socklen_t proxy_sockaddr(const struct skiff_sock_origin *dst, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (dst->family == SKIFF_AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = dst->port;
		sin->sin_addr.s_addr = dst->addr.v4;
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = dst->port;
	memcpy(&sin6->sin6_addr, dst->addr.v6, 16);
	return sizeof(*sin6);
}

int proxy_punt_key(const struct sockaddr_storage *peer, struct skiff_punt_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = (__u8)addr_from_sockaddr(peer, &k->addr, &k->port);
	return k->family ? 0 : -EAFNOSUPPORT;
}

static int dir_open(struct relay_dir *d)
{
	if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		d->pipe[0] = d->pipe[1] = -1;
		return -errno;
	}
	fcntl(d->pipe[1], F_SETPIPE_SZ, PROXY_PIPE_BYTES); /* a smaller pipe only costs speed */
	return 0;
}

static void dir_close(struct relay_dir *d)
{
	if (d->pipe[0] >= 0)
		close(d->pipe[0]);
	if (d->pipe[1] >= 0)
		close(d->pipe[1]);
}

void relay_close(struct proxy *p, struct relay *r, bool reset)
{
	if (r->pl.opened)
		proxy_report_plain(p, &r->pl, true, reset, r->out.bytes, r->in.bytes);
	proxy_close(p, r->client.fd, reset);
	proxy_close(p, r->upstream.fd, reset);
	dir_close(&r->out);
	dir_close(&r->in);
	if (r->prev)
		r->prev->next = r->next;
	else
		p->relays = r->next;
	if (r->next)
		r->next->prev = r->prev;
	p->stats.active--;
	p->stats.bytes_out += r->out.bytes;
	p->stats.bytes_in += r->in.bytes;
	r->gone = true;
	proxy_defer_free(p, r);
}

/* The events each side waits for now. A side with nothing left to do leaves epoll, so that a
 * socket shut both ways (EPOLLHUP, always reported) cannot spin the loop. */
static int rearm(struct proxy *p, struct relay *r)
{
	bool client_done = r->out.src_eof && r->in.dst_shut;
	bool up_done = r->in.src_eof && r->out.dst_shut;
	uint32_t ce = 0, ue = 0;
	struct epoll_event ev;

	if (r->connecting) {
		ue = EPOLLOUT;
	} else {
		if (!r->out.src_eof && r->out.queued < PROXY_PIPE_BYTES)
			ce |= EPOLLIN;
		if (r->in.queued)
			ce |= EPOLLOUT;
		if (!r->in.src_eof && r->in.queued < PROXY_PIPE_BYTES)
			ue |= EPOLLIN;
		if (r->out.queued)
			ue |= EPOLLOUT;
	}
	ev = (struct epoll_event){.events = ce, .data.ptr = &r->client};
	if (client_done ? epoll_ctl(p->epfd, EPOLL_CTL_DEL, r->client.fd, NULL) && errno != ENOENT
			: epoll_ctl(p->epfd, EPOLL_CTL_MOD, r->client.fd, &ev))
		return -errno;
	ev = (struct epoll_event){.events = ue, .data.ptr = &r->upstream};
	if (up_done ? epoll_ctl(p->epfd, EPOLL_CTL_DEL, r->upstream.fd, NULL) && errno != ENOENT
		    : epoll_ctl(p->epfd, EPOLL_CTL_MOD, r->upstream.fd, &ev))
		return -errno;
	return 0;
}

/* Move what can move from `src` through the pipe to `dst` without blocking. -errno on a broken
 * side (a reset, or a write to a side that went away). */
static int pump(struct relay_dir *d, int src, int dst)
{
	const unsigned int fl = SPLICE_F_NONBLOCK | SPLICE_F_MOVE;
	bool moved = true;
	ssize_t n;

	while (moved) {
		moved = false;
		if (!d->src_eof && d->queued < PROXY_PIPE_BYTES) {
			n = splice(src, NULL, d->pipe[1], NULL, PROXY_PIPE_BYTES - d->queued, fl);
			if (n > 0)
				d->queued += n;
			else if (n == 0)
				d->src_eof = true;
			else if (errno != EAGAIN)
				return -errno;
			moved = n >= 0;
		}
		if (d->queued) {
			n = splice(d->pipe[0], NULL, dst, NULL, d->queued, fl);
			if (n > 0) {
				d->queued -= n;
				d->bytes += n;
				moved = true;
			} else if (n < 0 && errno != EAGAIN) {
				return -errno;
			}
		}
	}
	if (d->src_eof && !d->queued && !d->dst_shut) {
		shutdown(dst, SHUT_WR);
		d->dst_shut = true;
	}
	return 0;
}

static bool connect_done(struct proxy *p, struct relay *r)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(r->upstream.fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		p->stats.upstream_failed++;
		proxy_report_plain_failed(p, &r->pl);
		return false;
	}
	r->connecting = false;
	r->pl.start_ms = p->now_ms;
	r->pl.opened = true;
	proxy_report_plain(p, &r->pl, false, false, 0, 0);
	return true;
}

void relay_event(struct proxy *p, struct proxy_ev *ev, uint32_t events)
{
	struct relay *r = ev->r;

	r->active_ms = p->now_ms;
	if (r->connecting) {
		if (ev->kind == EV_CLIENT) {
			if (events & (EPOLLERR | EPOLLHUP))
				relay_close(p, r, true); /* the client gave up first */
			return;
		}
		if (!connect_done(p, r)) {
			relay_close(p, r, true);
			return;
		}
	}
	if (pump(&r->out, r->client.fd, r->upstream.fd) ||
	    pump(&r->in, r->upstream.fd, r->client.fd)) {
		relay_close(p, r, true);
		return;
	}
	if (r->out.dst_shut && r->in.dst_shut) {
		p->stats.relayed++;
		relay_close(p, r, false);
		return;
	}
	if (rearm(p, r))
		relay_close(p, r, true);
}

static int relay_add(struct proxy *p, struct relay *r)
{
	struct epoll_event ce = {.events = 0, .data.ptr = &r->client};
	struct epoll_event ue = {.events = EPOLLOUT, .data.ptr = &r->upstream};

	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, r->client.fd, &ce) ||
	    epoll_ctl(p->epfd, EPOLL_CTL_ADD, r->upstream.fd, &ue))
		return -errno;
	return 0;
}

/* Start relaying `client_fd` to `dst`. The client socket is the relay's from here on, also when
 * this fails (it is then reset). */
int relay_open(struct proxy *p, int client_fd, const struct skiff_sock_origin *src,
	       const struct skiff_sock_origin *dst)
{
	struct relay *r = calloc(1, sizeof(*r));
	struct sockaddr_storage ss;
	socklen_t len = proxy_sockaddr(dst, &ss);
	int err;

	if (!r) {
		proxy_close(p, client_fd, true);
		return -ENOMEM;
	}
	*r = (struct relay){
	    .client = {.kind = EV_CLIENT, .fd = client_fd, .r = r},
	    .upstream = {.kind = EV_UPSTREAM, .fd = -1, .r = r},
	    .out.pipe = {-1, -1},
	    .in.pipe = {-1, -1},
	    .connecting = true,
	    .active_ms = p->now_ms,
	    .pl = {.src = *src, .dst = *dst, .start_ms = p->now_ms},
	    .next = p->relays,
	};
	if (p->relays)
		p->relays->prev = r;
	p->relays = r;
	p->stats.active++;
	r->upstream.fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	err = r->upstream.fd < 0 ? -errno : dir_open(&r->out);
	if (r->upstream.fd >= 0) {
		proxy_nodelay(r->upstream.fd);
		proxy_reset_on_exit(r->upstream.fd);
	}
	if (!err)
		err = dir_open(&r->in);
	if (!err && connect(r->upstream.fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		err = -errno;
		p->stats.upstream_failed++;
		proxy_report_plain_failed(p, &r->pl);
	}
	if (!err)
		err = relay_add(p, r);
	if (err)
		relay_close(p, r, true);
	return err;
}

void relay_sweep(struct proxy *p)
{
	struct relay *r, *next;

	for (r = p->relays; r; r = next) {
		uint64_t limit = r->connecting ? p->lim.connect_ms : p->lim.idle_ms;

		next = r->next;
		if (p->now_ms - r->active_ms < limit)
			continue;
		if (r->connecting) {
			p->stats.connect_timeouts++;
			proxy_report_plain_failed(p, &r->pl);
		} else
			p->stats.idle_closed++;
		relay_close(p, r, true);
	}
}
