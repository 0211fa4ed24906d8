// SPDX-License-Identifier: Apache-2.0
/*
 * The router's idle upstream connections, per endpoint (route_io.h). Each remembers how many
 * requests it carried (maxRequestsPerConnection is checked by the caller before it is put back)
 * and until when it may stay idle (idleTimeout): the router's timer sweeps the expired ones, so
 * an endpoint sees its idle connections closed on time even when no request comes. A pooled
 * connection the endpoint closed while idle is noticed before reuse (it reads as EOF) when the
 * caller asks; otherwise the caller learns it from the first wait for the response (a reset
 * before any byte), which it redials, and the poll of every reuse is saved.
 */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "l7route/l7route.h"
#include "l7route/route_io.h"

struct idle_conn {
	int fd;
	uint32_t served;
	uint64_t until_ns; /* L7R_NO_DEADLINE: no idle timeout */
	uint64_t since_ns; /* when it went idle */
};

/*
 * A connection idle for longer than this is polled before reuse even when the request could be
 * sent again on a fresh one: an endpoint that timed it out may have written something first (an
 * HTTP/1.1 server's unsolicited 408), which would otherwise be read as the response. Endpoints'
 * idle timeouts are seconds; a connection reused sooner, the common case under load, skips the
 * poll.
 */
#define RECHECK_IDLE_NS (250 * 1000000ull)

struct pool_host {
	struct skiff_sock_origin ep;
	struct idle_conn c[L7R_IDLE_PER_HOST];
	size_t n;
	struct pool_host *next;
};

struct l7r_pool {
	pthread_mutex_t lock;
	struct pool_host *hosts;
};

struct l7r_pool *l7r_pool_new(void)
{
	struct l7r_pool *p = calloc(1, sizeof(*p));

	if (p)
		pthread_mutex_init(&p->lock, NULL);
	return p;
}

void l7r_pool_free(struct l7r_pool *p)
{
	if (!p)
		return;
	while (p->hosts) {
		struct pool_host *h = p->hosts;

		p->hosts = h->next;
		for (size_t i = 0; i < h->n; i++)
			close(h->c[i].fd);
		free(h);
	}
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static struct pool_host *host_of(struct l7r_pool *p, const struct skiff_sock_origin *ep,
				 bool create)
{
	struct pool_host *h;

	for (h = p->hosts; h; h = h->next)
		if (!memcmp(&h->ep, ep, sizeof(*ep)))
			return h;
	if (!create || !(h = calloc(1, sizeof(*h))))
		return NULL;
	h->ep = *ep;
	h->next = p->hosts;
	p->hosts = h;
	return h;
}

/* An idle keep-alive connection has nothing to read; EOF or stray bytes mean it is done. */
static bool still_open(int fd)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN | POLLRDHUP};

	return poll(&pf, 1, 0) == 0;
}

int l7r_pool_get(struct l7r_pool *p, const struct skiff_sock_origin *ep, uint32_t *served,
		 bool check)
{
	uint64_t now = l7r_now_ns();
	struct pool_host *h;
	int fd = -1;

	*served = 0;
	pthread_mutex_lock(&p->lock);
	h = host_of(p, ep, false);
	while (h && h->n && fd < 0) {
		struct idle_conn *c = &h->c[--h->n];

		fd = c->fd;
		*served = c->served;
		if (now >= c->until_ns ||
		    ((check || now - c->since_ns >= RECHECK_IDLE_NS) && !still_open(fd))) {
			close(fd);
			fd = -1;
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (fd < 0)
		*served = 0;
	return fd;
}

void l7r_pool_put(struct l7r_pool *p, const struct skiff_sock_origin *ep, int fd, uint32_t served,
		  uint64_t idle_ms)
{
	struct pool_host *h;

	pthread_mutex_lock(&p->lock);
	h = host_of(p, ep, true);
	if (h && h->n < L7R_IDLE_PER_HOST) {
		h->c[h->n++] = (struct idle_conn){.fd = fd,
						  .served = served,
						  .until_ns = l7r_deadline(idle_ms),
						  .since_ns = l7r_now_ns()};
		fd = -1;
	}
	pthread_mutex_unlock(&p->lock);
	if (fd >= 0)
		close(fd);
}

void l7r_pool_sweep(struct l7r_pool *p)
{
	uint64_t now = l7r_now_ns();

	pthread_mutex_lock(&p->lock);
	for (struct pool_host *h = p->hosts; h; h = h->next) {
		size_t keep = 0;

		for (size_t i = 0; i < h->n; i++) {
			if (now >= h->c[i].until_ns)
				close(h->c[i].fd);
			else
				h->c[keep++] = h->c[i]; /* order kept: the newest is reused first */
		}
		h->n = keep;
	}
	pthread_mutex_unlock(&p->lock);
}

size_t l7r_pool_idle(struct l7r_pool *p)
{
	size_t n = 0;

	pthread_mutex_lock(&p->lock);
	for (struct pool_host *h = p->hosts; h; h = h->next)
		n += h->n;
	pthread_mutex_unlock(&p->lock);
	return n;
}
