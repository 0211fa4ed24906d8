// SPDX-License-Identifier: Apache-2.0
/*
 * The flow events thread (see flows.h): drain the ring, join CLOSED parts, name, keep the
 * history, answer and feed /flows clients. Only this thread writes to clients; the agent loop
 * only queues them (flows_serve) and installs names (flows_names_set), both under `lock`.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "flows/flows_internal.h"

/* How often the ring is drained whether or not the kernel woke us: connection events are
 * written without a wakeup (bpf/lib/events.h), so this is how late they can be shown. */
#define FLOWS_TICK_MS	     50
#define FLOWS_PARTNER_MS     1000 /* how long a CLOSED part waits for the other end's */
#define FLOWS_PENDING	     1024
#define FLOWS_QUEUE	     8 /* clients handed over, not yet answered */
#define FLOWS_SEND_TIMEOUT_S 1

struct flows_pend {
	struct skiff_event e;
	int64_t due; /* CLOCK_MONOTONIC ms; 0: slot free */
};

struct flows_client {
	int fd;
	struct flows_filter ft;
};

struct flows {
	pthread_t th;
	int epfd, efd;
	struct ring_buffer *rb;
	char node[64];
	volatile int stop;

	pthread_mutex_t lock; /* names, queue, counts, hist */
	struct flows_names *names;
	flows_closed_fn on_closed; /* with on_closed_ctx: the access log's L4 lines */
	void *on_closed_ctx;
	struct flows_client queue[FLOWS_QUEUE];
	size_t nqueue;
	uint64_t kinds[SKIFF_EV_KINDS], orphans;
	struct flows_rec hist[FLOWS_HISTORY];
	size_t head, n; /* oldest at head */

	/* this thread's own */
	struct flows_client followers[FLOWS_MAX_FOLLOWERS];
	size_t nfollowers;
	struct flows_pend pend[FLOWS_PENDING];
	size_t npend; /* slots in use: none, and a CLOSED part need not look through them */
};

static int64_t clock_ms(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The kernel stamps CLOCK_MONOTONIC: shown as wall-clock time. */
static int64_t event_ms(const struct skiff_event *e)
{
	struct timespec m;
	int64_t age_ns;

	clock_gettime(CLOCK_MONOTONIC, &m);
	age_ns = ((int64_t)m.tv_sec * 1000000000 + m.tv_nsec) - (int64_t)e->ts_ns;
	return clock_ms(CLOCK_REALTIME) - (age_ns > 0 ? age_ns / 1000000 : 0);
}

static bool send_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w <= 0)
			return false;
		p += w;
		len -= (size_t)w;
	}
	return true;
}

static void follower_drop(struct flows *f, size_t i)
{
	close(f->followers[i].fd);
	f->followers[i] = f->followers[--f->nfollowers];
}

/* Into the history (the oldest goes), counted, and to every follower it matches. Its JSON line is
 * written here only for a follower; a /flows request writes those of the history it reads. */
static void publish(struct flows *f, const struct skiff_event *e)
{
	flows_closed_fn closed_fn;
	void *closed_ctx;
	struct flows_rec *r;

	pthread_mutex_lock(&f->lock);
	if (f->n == FLOWS_HISTORY) {
		r = &f->hist[f->head];
		flows_rec_free(r);
		f->head = (f->head + 1) % FLOWS_HISTORY;
	} else {
		r = &f->hist[(f->head + f->n++) % FLOWS_HISTORY];
	}
	flows_rec_build(r, e, event_ms(e), f->names, f->node);
	if (r->kind)
		f->kinds[r->kind]++;
	closed_fn = f->on_closed;
	closed_ctx = f->on_closed_ctx;
	/* only this thread replaces history entries: r stays valid after the unlock */
	pthread_mutex_unlock(&f->lock);
	if (closed_fn && e->kind == SKIFF_EV_CLOSED)
		closed_fn(closed_ctx, e, r->ms, r->src, r->dst);
	for (size_t i = f->nfollowers; i-- > 0;) {
		const char *line;

		if (!flows_rec_match(r, &f->followers[i].ft))
			continue;
		pthread_mutex_lock(&f->lock);
		line = flows_rec_json(r);
		pthread_mutex_unlock(&f->lock);
		if (!send_all(f->followers[i].fd, line, strlen(line)))
			follower_drop(f, i);
	}
}

static bool same_conn(const struct skiff_event *a, const struct skiff_event *b)
{
	return a->family == b->family && a->sport == b->sport && a->dport == b->dport &&
	       !memcmp(&a->saddr, &b->saddr, sizeof(a->saddr)) &&
	       !memcmp(&a->daddr, &b->daddr, sizeof(a->daddr));
}

static void add_part(struct skiff_event *into, const struct skiff_event *part)
{
	into->bytes_received += part->bytes_received;
	into->bytes_sent += part->bytes_sent;
	into->flags |= part->flags & SKIFF_EV_F_FAST;
}

/* Hold a CLOSED part for its partner; false when there is no room. */
static bool pend_put(struct flows *f, const struct skiff_event *e)
{
	for (size_t i = 0; i < FLOWS_PENDING; i++) {
		if (f->pend[i].due)
			continue;
		f->pend[i].e = *e;
		f->pend[i].due = clock_ms(CLOCK_MONOTONIC) + FLOWS_PARTNER_MS;
		f->npend++;
		return true;
	}
	return false;
}

/* A CLOSED part (include/skiff/events.h: the merge rule). */
static void closed_part(struct flows *f, struct skiff_event *e)
{
	bool primary = e->flags & SKIFF_EV_F_PRIMARY;

	for (size_t i = 0; f->npend && i < FLOWS_PENDING; i++) {
		struct flows_pend *p = &f->pend[i];

		if (!p->due || !same_conn(&p->e, e) ||
		    primary == !!(p->e.flags & SKIFF_EV_F_PRIMARY))
			continue;
		p->due = 0;
		f->npend--;
		if (primary) {
			add_part(e, &p->e);
			publish(f, e);
		} else {
			add_part(&p->e, e);
			publish(f, &p->e);
		}
		return;
	}
	if (primary && !(e->flags & SKIFF_EV_F_PARTNER)) {
		publish(f, e);
		return;
	}
	if (pend_put(f, e))
		return;
	if (primary) {
		publish(f, e); /* no room to wait: shown with the bytes this end knows */
		return;
	}
	pthread_mutex_lock(&f->lock);
	f->orphans++;
	pthread_mutex_unlock(&f->lock);
}

/* Parts whose partner did not come in time: a primary is shown as it is, a lone part dropped. */
static void pend_expire(struct flows *f)
{
	int64_t now = clock_ms(CLOCK_MONOTONIC);

	for (size_t i = 0; f->npend && i < FLOWS_PENDING; i++) {
		struct flows_pend *p = &f->pend[i];

		if (!p->due || p->due > now)
			continue;
		p->due = 0;
		f->npend--;
		if (p->e.flags & SKIFF_EV_F_PRIMARY) {
			publish(f, &p->e);
		} else {
			pthread_mutex_lock(&f->lock);
			f->orphans++;
			pthread_mutex_unlock(&f->lock);
		}
	}
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct flows *f = ctx;
	struct skiff_event e;

	if (size < sizeof(e))
		return 0;
	memcpy(&e, data, sizeof(e));
	if (e.kind == SKIFF_EV_CLOSED)
		closed_part(f, &e);
	else
		publish(f, &e);
	return 0;
}

static const char ok_head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
			      "Cache-Control: no-cache\r\nConnection: close\r\n\r\n";

/* A new client: the history it asks for, then it follows or is done. */
static void client_start(struct flows *f, struct flows_client *c)
{
	struct timeval tv = {.tv_sec = FLOWS_SEND_TIMEOUT_S};
	struct strbuf b = {0};
	int fl = fcntl(c->fd, F_GETFL);

	if (fl >= 0)
		fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK);
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	sb_put(&b, ok_head, sizeof(ok_head) - 1);
	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n; i++) {
		struct flows_rec *r = &f->hist[(f->head + i) % FLOWS_HISTORY];

		if (flows_rec_match(r, &c->ft))
			sb_put(&b, flows_rec_json(r), strlen(flows_rec_json(r)));
	}
	pthread_mutex_unlock(&f->lock);
	if (!send_all(c->fd, b.s, b.len) || !c->ft.follow || f->nfollowers == FLOWS_MAX_FOLLOWERS) {
		shutdown(c->fd, SHUT_WR);
		close(c->fd);
	} else {
		f->followers[f->nfollowers++] = *c;
	}
	sb_free(&b);
}

static void take_clients(struct flows *f)
{
	struct flows_client q[FLOWS_QUEUE];
	uint64_t v;
	size_t n;

	(void)!read(f->efd, &v, sizeof(v));
	pthread_mutex_lock(&f->lock);
	n = f->nqueue;
	memcpy(q, f->queue, n * sizeof(*q));
	f->nqueue = 0;
	pthread_mutex_unlock(&f->lock);
	for (size_t i = 0; i < n; i++)
		client_start(f, &q[i]);
}

static void *flows_thread(void *arg)
{
	struct flows *f = arg;
	struct epoll_event ev[4];

	while (!f->stop) {
		int n = epoll_wait(f->epfd, ev, 4, FLOWS_TICK_MS);

		for (int i = 0; i < n; i++)
			if (ev[i].data.fd == f->efd)
				take_clients(f);
		ring_buffer__consume(f->rb);
		pend_expire(f);
	}
	return NULL;
}

int flows_open(int ring_fd, const char *node, struct flows **out)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct flows *f = calloc(1, sizeof(*f));
	int err;

	*out = NULL;
	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->lock, NULL);
	snprintf(f->node, sizeof(f->node), "%s", node ? node : "");
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	f->rb = ring_buffer__new(ring_fd, on_event, f, NULL);
	if (f->epfd < 0 || f->efd < 0 || !f->rb) {
		err = f->rb ? -errno : -ENOENT;
		goto fail;
	}
	ev.data.fd = f->efd;
	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->efd, &ev))
		goto fail_errno;
	ev.data.fd = ring_buffer__epoll_fd(f->rb);
	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev))
		goto fail_errno;
	err = -pthread_create(&f->th, NULL, flows_thread, f);
	if (err)
		goto fail;
	*out = f;
	return 0;
fail_errno:
	err = -errno;
fail:
	ring_buffer__free(f->rb);
	if (f->epfd >= 0)
		close(f->epfd);
	if (f->efd >= 0)
		close(f->efd);
	free(f);
	return err;
}

void flows_names_set(struct flows *f, struct flows_names *n)
{
	struct flows_names *old;

	if (!f) {
		flows_names_free(n);
		return;
	}
	flows_names_sort(n);
	pthread_mutex_lock(&f->lock);
	old = f->names;
	f->names = n;
	pthread_mutex_unlock(&f->lock);
	flows_names_free(old);
}

static void answer_close(int fd, const char *status, const char *msg)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n%s",
			 status, strlen(msg), msg);

	(void)!send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

void flows_serve(struct flows *f, int fd, const char *query)
{
	struct flows_client c = {.fd = fd};
	char err[256], msg[320];
	uint64_t one = 1;

	if (!f)
		return answer_close(fd, "503 Service Unavailable",
				    "flow events are off (skiffd --flow-events=off, or its ring "
				    "could not be read)\n");
	if (flows_filter_parse(query, &c.ft, err, sizeof(err))) {
		snprintf(msg, sizeof(msg), "/flows: %s\n", err);
		return answer_close(fd, "400 Bad Request", msg);
	}
	pthread_mutex_lock(&f->lock);
	if (f->nqueue == FLOWS_QUEUE) {
		pthread_mutex_unlock(&f->lock);
		return answer_close(fd, "503 Service Unavailable", "too many /flows clients\n");
	}
	f->queue[f->nqueue++] = c;
	pthread_mutex_unlock(&f->lock);
	(void)!write(f->efd, &one, sizeof(one));
}

void flows_counts(struct flows *f, uint64_t kinds[SKIFF_EV_KINDS], uint64_t *orphans)
{
	memset(kinds, 0, SKIFF_EV_KINDS * sizeof(*kinds));
	*orphans = 0;
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	memcpy(kinds, f->kinds, sizeof(f->kinds));
	*orphans = f->orphans;
	pthread_mutex_unlock(&f->lock);
}

void flows_close(struct flows *f)
{
	if (!f)
		return;
	f->stop = 1;
	pthread_join(f->th, NULL);
	for (size_t i = 0; i < f->nfollowers; i++)
		close(f->followers[i].fd);
	for (size_t i = 0; i < f->nqueue; i++)
		close(f->queue[i].fd);
	for (size_t i = 0; i < f->n; i++)
		flows_rec_free(&f->hist[(f->head + i) % FLOWS_HISTORY]);
	ring_buffer__free(f->rb);
	close(f->epfd);
	close(f->efd);
	flows_names_free(f->names);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

void flows_on_closed(struct flows *f, flows_closed_fn fn, void *ctx)
{
	pthread_mutex_lock(&f->lock);
	f->on_closed = fn;
	f->on_closed_ctx = ctx;
	pthread_mutex_unlock(&f->lock);
}
