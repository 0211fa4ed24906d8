// SPDX-License-Identifier: Apache-2.0
/*
 * The proxy thread: listeners on the outbound port and on HBONE's inbound one, an eventfd to stop,
 * the relays and HBONE's connections, all on one epoll instance. Accepting a connection means
 * learning where it was going from the kernel's record (proxy_opts.orig_dst) and starting a relay
 * or an HBONE stream there; a connection the kernel filed nothing for did not come through the
 * punt path and is reset. A connection to a pod of this node is authorized first
 * (proxy_opts.authz): refused, relayed as bytes, or relayed through an L7 filter that decides
 * each HTTP request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "handoff/handoff.h"
#include "hbone/hbone.h"
#include "l7/l7_filter.h"
#include "proxy/proxy_internal.h"

#define PROXY_BACKLOG 1024

/* The accepted socket's peer as the kernel filed it: IPv4-mapped IPv6 counts as IPv4. */
static int peer_key(int fd, struct skiff_punt_key *k)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(k, 0, sizeof(*k));
	if (getpeername(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	return proxy_punt_key(&ss, k);
}

/* Relay an allowed connection: spliced, or read and written when its client is on the fast path
 * (splice() does not see sk_msg-redirected bytes). */
static void relay_allowed(struct proxy *p, int fd, bool fast, const struct skiff_sock_origin *src,
			  const struct skiff_sock_origin *dst)
{
	if (fast)
		l7_relay_pass(p, fd, src, dst);
	else
		relay_open(p, fd, src, dst);
}

/* Relay a connection with no HBONE route (its destination is a pod of this node, or outside the
 * mesh) as AuthorizationPolicy says. The source is the client as the kernel filed it: the agent
 * knows a local pod's identity by its address (principal NULL). */
static void accept_authorized(struct proxy *p, int fd, bool fast, const struct skiff_punt_key *k,
			      const struct skiff_sock_origin *dst)
{
	struct skiff_sock_origin src = {.addr = k->addr, .port = k->port, .family = k->family};
	struct proxy_l7 l7 = {0};

	if (!p->o.authz) {
		relay_allowed(p, fd, fast, &src, dst);
		return;
	}
	switch (p->o.authz(p->o.ctx, NULL, &src, dst, &l7)) {
	case PROXY_ALLOW:
		relay_allowed(p, fd, fast, &src, dst);
		break;
	case PROXY_L7:
		l7_relay_open(p, fd, dst, &l7);
		break;
	default:
		p->stats.authz_denied++;
		proxy_close(p, fd, true);
		break;
	}
}

static void accept_all(struct proxy *p, int lfd)
{
	struct skiff_sock_origin dst;
	struct proxy_route route;
	struct skiff_punt_key k;
	int fd, fast;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		p->stats.accepted++;
		if (proxy_src_charge(p, fd)) { /* its source holds too many: refused at once */
			proxy_close(p, fd, true);
			continue;
		}
		proxy_nodelay(fd);
		proxy_reset_on_exit(fd);
		fast = peer_key(fd, &k) ? -1 : p->o.orig_dst(p->o.ctx, &k, &dst);
		if (fast < 0) {
			p->stats.no_orig++;
			proxy_close(p, fd, true);
			continue;
		}
		p->stats.fast += fast;
		/* a Service port with HTTP rules: the router picks an endpoint per request */
		if (p->o.l7route && p->o.l7route(p->o.ctx, fd, &k, &dst)) {
			/* the router's threads own fd now and close it themselves, so its source is
			 * uncharged here (the router bounds its own connections: L7R_MAX_CONNS) */
			proxy_src_release(p, fd);
			p->stats.l7_routed++;
			continue;
		}
		/* across nodes, the destination's node decides (hbone/hbone_authz.c) */
		if (p->o.route && !p->o.route(p->o.ctx, &k, &dst, &route))
			hbone_out_open(p, fd, fast, &k, &dst, &route);
		else
			accept_authorized(p, fd, fast, &k, &dst);
	}
}

void proxy_close(struct proxy *p, int fd, bool reset)
{
	struct linger l = {.l_onoff = reset, .l_linger = 0};

	if (fd < 0)
		return;
	epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL); /* ENOENT when it never joined: fine */
	proxy_src_release(p, fd);
	/* a graceful close undoes proxy_reset_on_exit */
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

void proxy_reset_on_exit(int fd)
{
	struct linger rst = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
}

void proxy_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void proxy_defer_free(struct proxy *p, void *ptr)
{
	if (p->ngrave == p->gravecap) {
		size_t cap = p->gravecap ? 2 * p->gravecap : 64;
		void **g = realloc(p->graveyard, cap * sizeof(*g));

		if (!g)
			abort(); /* cannot even remember what to free: nothing sane is left */
		p->graveyard = g;
		p->gravecap = cap;
	}
	p->graveyard[p->ngrave++] = ptr;
}

static void graveyard_empty(struct proxy *p)
{
	for (size_t i = 0; i < p->ngrave; i++)
		free(p->graveyard[i]);
	p->ngrave = 0;
}

/* One event; objects closed earlier in the same batch are skipped (the L7 relay's and HBONE's
 * handlers skip theirs). */
static void dispatch(struct proxy *p, struct proxy_ev *ev, uint32_t events)
{
	switch (ev->kind) {
	case EV_LISTENER:
		accept_all(p, ev->fd);
		break;
	case EV_HB_LISTENER:
		hbone_in_accept(p, ev->fd);
		break;
	case EV_CLIENT:
	case EV_UPSTREAM:
		if (!ev->r->gone)
			relay_event(p, ev, events);
		break;
	case EV_L7_CLIENT:
	case EV_L7_UPSTREAM:
		l7_relay_event(p, ev, events);
		break;
	case EV_HB_CONN:
		hbone_conn_event(ev->conn, events);
		break;
	case EV_HB_LOCAL:
		hbone_stream_event(ev->st, events);
		break;
	case EV_TUNNEL:
		proxy_tunnel_event(p);
		break;
	case EV_WAKE:
	case EV_DRAIN:
		break;
	}
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* How long a peer has to see the first GOAWAY before the final one: the CONNECTs it sent
 * before seeing it are in by then (a round trip on a node's network is far less). */
#define DRAIN_GOAWAY_MS 1000

/* On the proxy thread (no accept can be running): close the listeners, then answer. */
static void drain_start(struct proxy *p)
{
	uint64_t v;

	(void)!read(p->drain.fd, &v, sizeof(v));
	for (size_t i = 0; i < p->nlisteners; i++)
		proxy_close(p, p->listeners[i].fd, false);
	p->nlisteners = 0;
	hbone_drain(p, false);
	p->goaway_at = mono_ms() + DRAIN_GOAWAY_MS;
	pthread_mutex_lock(&p->drain_lock);
	p->draining = true;
	pthread_cond_broadcast(&p->drain_cond);
	pthread_mutex_unlock(&p->drain_lock);
}

/* Draining: the final GOAWAY when due, and whether anything is still open. */
static int drain_tick(struct proxy *p)
{
	if (p->goaway_at && mono_ms() >= p->goaway_at) {
		p->goaway_at = 0;
		hbone_drain(p, true);
	}
	__atomic_store_n(&p->drained, !p->relays && !p->l7_relays && !p->hb_conns,
			 __ATOMIC_RELEASE);
	if (p->goaway_at)
		return (int)(p->goaway_at - mono_ms()) > 0 ? (int)(p->goaway_at - mono_ms()) : 0;
	return -1;
}

static void *proxy_main(void *arg)
{
	struct proxy *p = arg;
	struct epoll_event evs[64];
	int timeout = -1;

	for (;;) {
		int wait = proxy_wait_ms(p); /* the next limit sweep */

		if (timeout >= 0 && timeout < wait)
			wait = timeout; /* a drain step is due first */
		int n = epoll_wait(p->epfd, evs, 64, wait);

		if (n < 0 && errno != EINTR)
			break;
		p->now_ms = proxy_clock_ms();
		for (int i = 0; i < n; i++) {
			struct proxy_ev *ev = evs[i].data.ptr;

			if (ev->kind == EV_WAKE)
				return NULL;
			if (ev->kind == EV_DRAIN)
				drain_start(p);
			else
				dispatch(p, ev, evs[i].events);
		}
		proxy_sweep(p);
		graveyard_empty(p);
		if (p->draining)
			timeout = drain_tick(p);
	}
	return NULL;
}

static int listen_on(struct proxy *p, int family, const char *addr, uint16_t port,
		     enum proxy_ev_kind kind)
{
	struct sockaddr_storage ss = {0};
	struct proxy_ev *l = &p->listeners[p->nlisteners];
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
	socklen_t len;
	int one = 1, fd, err;

	err = addr_sockaddr(addr, port, &ss);
	if (err < 0 || ss.ss_family != family) {
		fprintf(stderr, "proxy: '%s' is not an IPv%d address\n", addr,
			family == AF_INET ? 4 : 6);
		return -EINVAL;
	}
	len = (socklen_t)err;
	/* the running skiffd's socket when it hands over: SYNs queue on it meanwhile */
	fd = handoff_listener((struct sockaddr *)&ss, len);
	if (fd < 0) {
		fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd >= 0 && family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (fd >= 0 &&
		    (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		     bind(fd, (struct sockaddr *)&ss, len) || listen(fd, PROXY_BACKLOG))) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0 || (!p->o.paused && epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev))) {
		err = -errno;
		fprintf(stderr,
			"proxy: cannot listen on %s port %u: %s (is the address on this node, and "
			"the port free?)\n",
			addr, port, strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	*l = (struct proxy_ev){.kind = kind, .fd = fd};
	p->nlisteners++;
	return 0;
}

int proxy_start(const struct proxy_opts *o, struct proxy **out)
{
	struct proxy *p = calloc(1, sizeof(*p));
	struct epoll_event ev;
	int err = 0;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->o = *o;
	p->wakefd = -1;
	proxy_limits_fill(p);
	p->tunnelfd = -1;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0 || (p->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		err = -errno;
	p->wake = (struct proxy_ev){.kind = EV_WAKE, .fd = p->wakefd};
	ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &p->wake};
	if (!err && epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wakefd, &ev))
		err = -errno;
	pthread_mutex_init(&p->drain_lock, NULL);
	pthread_mutex_init(&p->lim_lock, NULL);
	pthread_cond_init(&p->drain_cond, NULL);
	p->drain =
	    (struct proxy_ev){.kind = EV_DRAIN, .fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)};
	ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = &p->drain};
	if (!err && (p->drain.fd < 0 || epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->drain.fd, &ev)))
		err = -errno;
	if (!err)
		err = proxy_tunnel_init(p);
	if (!err && o->addr4)
		err = listen_on(p, AF_INET, o->addr4, o->port, EV_LISTENER);
	if (!err && o->addr6)
		err = listen_on(p, AF_INET6, o->addr6, o->port, EV_LISTENER);
	if (!err && o->addr4 && o->server_ctx)
		err = listen_on(p, AF_INET, o->addr4, HBONE_PORT, EV_HB_LISTENER);
	if (!err && o->addr6 && o->server_ctx)
		err = listen_on(p, AF_INET6, o->addr6, HBONE_PORT, EV_HB_LISTENER);
	if (!err && (err = -pthread_create(&p->thread, NULL, proxy_main, p)) == 0)
		p->started = true;
	if (err) {
		proxy_stop(p);
		return err;
	}
	*out = p;
	return 0;
}

void proxy_stats_read(const struct proxy *p, struct proxy_stats *s)
{
	*s = p->stats;
}

void proxy_resume(struct proxy *p)
{
	if (!p || !p->o.paused)
		return;
	p->o.paused = false;
	for (size_t i = 0; i < p->nlisteners; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &p->listeners[i]};

		if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->listeners[i].fd, &ev))
			fprintf(stderr, "proxy: cannot accept on a listener: %s\n",
				strerror(errno));
	}
}

int proxy_listener_fds(const struct proxy *p, int *fds, int max)
{
	int n = 0;

	for (size_t i = 0; p && !p->draining && i < p->nlisteners && n < max; i++)
		fds[n++] = p->listeners[i].fd;
	return n;
}

void proxy_drain(struct proxy *p)
{
	uint64_t one = 1;

	if (!p || !p->started)
		return;
	(void)!write(p->drain.fd, &one, sizeof(one));
	pthread_mutex_lock(&p->drain_lock);
	while (!p->draining)
		pthread_cond_wait(&p->drain_cond, &p->drain_lock);
	pthread_mutex_unlock(&p->drain_lock);
}

bool proxy_drained(const struct proxy *p)
{
	return !p || __atomic_load_n(&p->drained, __ATOMIC_ACQUIRE);
}

void proxy_stop(struct proxy *p)
{
	uint64_t one = 1;

	if (!p)
		return;
	if (p->started) {
		(void)!write(p->wakefd, &one, sizeof(one));
		pthread_join(p->thread, NULL);
	}
	while (p->relays)
		relay_close(p, p->relays, true);
	while (p->l7_relays)
		l7_relay_close(p, p->l7_relays, true);
	proxy_tunnel_fini(p);
	while (p->hb_conns)
		hbone_conn_close(p->hb_conns);
	graveyard_empty(p);
	free(p->graveyard);
	proxy_src_free(p);
	for (size_t i = 0; i < p->nlisteners; i++)
		close(p->listeners[i].fd);
	if (p->wakefd >= 0)
		close(p->wakefd);
	if (p->drain.fd >= 0)
		close(p->drain.fd);
	pthread_mutex_destroy(&p->drain_lock);
	pthread_mutex_destroy(&p->lim_lock);
	pthread_cond_destroy(&p->drain_cond);
	if (p->epfd >= 0)
		close(p->epfd);
	free(p);
}
