// SPDX-License-Identifier: Apache-2.0
/*
 * Bounds on what a client can hold in skiffd's proxy: the clock each relay's limits are read
 * against, the sweep that closes what outstayed them, and the count of open connections per
 * source address. A connection whose peer never sends, never reads and never closes would
 * otherwise keep its sockets, pipes and buffers until skiffd restarts; a source that opens
 * connections without end would run skiffd out of file descriptors for every other pod.
 *
 * The sweep walks every relay once per PROXY_TICK_MS (at most): a cost linear in the open
 * connections, a second apart, instead of a timer per connection rearmed on every byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/addr.h"
#include "hbone/hbone.h"
#include "proxy/proxy_internal.h"

/* An address with open connections. */
struct proxy_src {
	union skiff_addr addr;
	uint8_t family;
	uint32_t open;
	struct proxy_src *next;
};

uint64_t proxy_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint32_t or_default(uint32_t v, uint32_t def)
{
	return v ? v : def;
}

void proxy_limits_set(struct proxy *p, const struct proxy_limits *l)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lim_lock);
	p->lim_next = *l;
	p->lim_pending = true;
	pthread_mutex_unlock(&p->lim_lock);
}

/* On the proxy thread: limits proxy_limits_set left, if any. */
static void limits_take(struct proxy *p)
{
	pthread_mutex_lock(&p->lim_lock);
	if (p->lim_pending) {
		p->o.limits = p->lim_next;
		p->lim_pending = false;
		pthread_mutex_unlock(&p->lim_lock);
		proxy_limits_fill(p);
		return;
	}
	pthread_mutex_unlock(&p->lim_lock);
}

void proxy_limits_fill(struct proxy *p)
{
	const struct proxy_limits *o = &p->o.limits;

	p->lim.idle_ms = or_default(o->idle_ms, PROXY_IDLE_MS);
	p->lim.sniff_ms = or_default(o->sniff_ms, PROXY_SNIFF_MS);
	p->lim.head_ms = or_default(o->head_ms, PROXY_HEAD_MS);
	p->lim.connect_ms = or_default(o->connect_ms, PROXY_CONNECT_MS);
	p->lim.linger_ms = or_default(o->linger_ms, PROXY_LINGER_MS);
	p->lim.per_source = or_default(o->per_source, PROXY_PER_SOURCE);
	p->now_ms = proxy_clock_ms();
	p->next_sweep_ms = p->now_ms + proxy_tick_ms(p);
}

/* A sweep every second, or often enough for the shortest limit to be kept within a quarter of
 * it (tests set them in milliseconds). */
uint32_t proxy_tick_ms(const struct proxy *p)
{
	uint32_t t = PROXY_TICK_MS,
		 l[] = {p->lim.idle_ms, p->lim.sniff_ms, p->lim.head_ms, p->lim.connect_ms};

	for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++)
		if (l[i] / 4 < t)
			t = l[i] / 4;
	return t ? t : 1;
}

int proxy_wait_ms(const struct proxy *p)
{
	uint64_t now = proxy_clock_ms();

	return now >= p->next_sweep_ms ? 0 : (int)(p->next_sweep_ms - now);
}

void proxy_sweep(struct proxy *p)
{
	p->now_ms = proxy_clock_ms();
	if (p->now_ms < p->next_sweep_ms)
		return;
	limits_take(p);
	p->next_sweep_ms = p->now_ms + proxy_tick_ms(p);
	relay_sweep(p);
	l7_relay_sweep(p);
	hbone_sweep(p);
}

/* ---- connections per source ---- */

static size_t src_bucket(const union skiff_addr *a, uint8_t family)
{
	uint32_t h = 2166136261u; /* FNV-1a over the address */
	const uint8_t *b = (const uint8_t *)a;
	size_t n = family == SKIFF_AF_INET ? 4 : 16;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h % PROXY_SRC_BUCKETS;
}

static struct proxy_src **src_find(struct proxy *p, const union skiff_addr *a, uint8_t family)
{
	struct proxy_src **pp = &p->srcs[src_bucket(a, family)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->family == family && !memcmp(&(*pp)->addr, a, sizeof(*a)))
			break;
	return pp;
}

static int fd_src_grow(struct proxy *p, int fd)
{
	size_t n = p->nfd_src ? p->nfd_src : 1024;
	struct proxy_src **v;

	while (n <= (size_t)fd)
		n *= 2;
	if (n == p->nfd_src)
		return 0;
	v = realloc(p->fd_src, n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(v + p->nfd_src, 0, (n - p->nfd_src) * sizeof(*v));
	p->fd_src = v;
	p->nfd_src = n;
	return 0;
}

int proxy_src_charge(struct proxy *p, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	union skiff_addr a;
	struct proxy_src **pp, *s;
	uint16_t port;
	uint8_t family;

	if (getpeername(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	memset(&a, 0, sizeof(a));
	family = (uint8_t)addr_from_sockaddr(&ss, &a, &port);
	if (!family)
		return 0; /* not an IP peer (a test's socketpair): nothing to count by */
	if (fd_src_grow(p, fd))
		return -ENOMEM;
	pp = src_find(p, &a, family);
	s = *pp;
	if (s && s->open >= p->lim.per_source) {
		p->stats.source_refused++;
		return -EMFILE;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->addr = a;
		s->family = family;
		*pp = s;
	}
	s->open++;
	p->fd_src[fd] = s;
	return 0;
}

void proxy_src_release(struct proxy *p, int fd)
{
	struct proxy_src *s, **pp;

	if (fd < 0 || (size_t)fd >= p->nfd_src || !(s = p->fd_src[fd]))
		return;
	p->fd_src[fd] = NULL;
	if (--s->open)
		return;
	pp = src_find(p, &s->addr, s->family);
	*pp = s->next;
	free(s);
}

void proxy_src_free(struct proxy *p)
{
	for (size_t i = 0; i < PROXY_SRC_BUCKETS; i++)
		while (p->srcs[i]) {
			struct proxy_src *s = p->srcs[i];

			p->srcs[i] = s->next;
			free(s);
		}
	free(p->fd_src);
	p->fd_src = NULL;
	p->nfd_src = 0;
}
