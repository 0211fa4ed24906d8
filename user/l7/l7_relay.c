// SPDX-License-Identifier: Apache-2.0
/*
 * The L7 relay: a connection to a local pod whose AuthorizationPolicy decides per HTTP request.
 * Unlike the plain relay (proxy/proxy_relay.c, splice), bytes come up into skiffd: what the client
 * sends goes through an L7 filter (l7_filter.h), which passes allowed requests on and answers
 * denied ones itself; what the pod sends goes back through it too, so its answers land between
 * responses. The filter is chosen by the client's first bytes: the HTTP/2 preface means h2c,
 * anything else HTTP/1.1.
 *
 * Back-pressure: a side is not read while the buffer toward the other holds more than
 * L7_BACKLOG. The client's bytes go to the filter L7_FEED_STEP at a time and stop there too, so
 * a read that a filter expands (an h2c header block re-encoded for the pod) cannot run far past
 * the backlog: the rest waits in `pending`, and the client is not read until it is filtered.
 * Half-close passes both ways once the buffers are drained. When the filter has said
 * its last word (a 403 that closes, a 400, a pod that broke HTTP), the relay writes what is left
 * to the client, shuts it, closes the pod's side, and reads the client to its FIN so that the
 * answer is not lost to a reset.
 *
 * Time (l7_relay_sweep): a relay with no event for proxy_limits.idle_ms is reset; a client whose
 * first bytes have not chosen a protocol within sniff_ms of the first one is decided as TCP (as
 * Envoy does when its listener filters time out: the L4 decision, which refuses where a rule
 * needs HTTP). A client that has sent nothing is only idle: pools open connections ahead of
 * their requests, and those must stay HTTP. A
 * request head, or h2 header block, under way for longer than head_ms closes the connection
 * (slowloris): nothing of it was forwarded. After the last word, the client's FIN is awaited
 * linger_ms at most (Envoy's delayed close): a client that never closes holds nothing long.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "l7/l7_filter.h"
#include "proxy/proxy.h"
#include "skiff/guard.h"

#define L7_BACKLOG    (1 << 20)	 /* bytes waiting for a side before the other is not read */
#define L7_FEED_STEP  (4 << 10)	 /* client bytes filtered between two looks at the backlog */
#define L7_READ_BYTES (32 << 10) /* one read */
#define L7_ROUNDS     16	 /* reads per side and event: other connections get their turn */
#define L7_LINGER_MAX (1 << 20)	 /* client bytes read and dropped after the last word */
#define L7_HELD_MAX   (64 << 10) /* pod bytes held until the client's first bytes choose */

/* One side of an L7 relay. */
struct l7_side {
	struct proxy_ev ev;
	uint32_t armed; /* the events epoll waits for on it; 0: not in epoll */
	bool eof;	/* it said FIN */
	bool broke;	/* a read or write on it failed (a reset) */
	bool shut;	/* FIN passed on to it */
	uint64_t bytes; /* written to it */
};

/* A connection whose HTTP requests are decided one by one: bytes are read into skiffd, pass
 * through an L7 filter (l7_filter.h) and are written from its output buffers. */
struct l7_relay {
	struct l7_side client, upstream;
	const struct l7_filter_ops *ops; /* NULL until the client's first bytes choose one */
	struct l7_filter *f;
	struct proxy_l7 l7;
	struct l7_buf to_up, to_client;
	uint8_t
	    sniff[L7_H2_PREFACE_LEN]; /* the client's first bytes, while they may be a preface */
	struct l7_buf held; /* the pod's first bytes, while they may be an h2c server's SETTINGS */
	struct l7_buf pending; /* client bytes read but not yet filtered: the backlog was full */
	size_t nsniff;
	bool connecting;		  /* upstream connect() in progress */
	struct skiff_agent_dial_key dial; /* its dial, filed when an HBONE stream is the client */
	struct proxy_plain *pl; /* l7_relay_pass: reported to the metrics once connected */
	bool pass;		/* l7_relay_pass: allowed at L4, no HTTP decisions to count */
	bool ending;	 /* the filter said its last word (or gave up): close once it is out */
	bool gone;	 /* closed; freed after this batch */
	size_t lingered; /* client bytes dropped after the last word */
	uint64_t born_ms, active_ms; /* proxy.now_ms at its start, and at its last event */
	uint64_t first_ms;	     /* ... when the client's first byte came */
	uint64_t head_ms;	     /* ... when the request head under way began; 0: none */
	uint64_t seen_requests, seen_denied; /* filter counts already in the proxy's stats */
	struct l7_relay *next, *prev;
};

/* Add what the filter counted since last time to the proxy's counters. */
static void counts_update(struct proxy *p, struct l7_relay *r)
{
	const struct l7_counts *c;

	if (!r->f || r->pass)
		return;
	c = r->ops->counts(r->f);
	p->stats.l7_requests += c->requests - r->seen_requests;
	p->stats.l7_denied += c->denied - r->seen_denied;
	r->seen_requests = c->requests;
	r->seen_denied = c->denied;
}

void l7_relay_close(struct proxy *p, struct l7_relay *r, bool reset)
{
	if (r->pl && r->pl->opened)
		proxy_report_plain(p, r->pl, true, reset, r->upstream.bytes, r->client.bytes);
	free(r->pl);
	proxy_close(p, r->client.ev.fd, reset);
	proxy_close(p, r->upstream.ev.fd, reset);
	if (r->f) {
		/* the pod went first (FIN or reset) unless the client already had */
		bool pod_gone = (r->upstream.eof || r->upstream.broke) && !r->client.broke;

		if (r->ops->end)
			r->ops->end(r->f, pod_gone);
		counts_update(p, r);
		r->ops->close(r->f);
	}
	l7_buf_free(&r->to_up);
	l7_buf_free(&r->to_client);
	l7_buf_free(&r->held);
	l7_buf_free(&r->pending);
	if (r->l7.release)
		r->l7.release(r->l7.d.ctx);
	if (r->prev)
		r->prev->next = r->next;
	else
		p->l7_relays = r->next;
	if (r->next)
		r->next->prev = r->prev;
	p->stats.active--;
	p->stats.bytes_out += r->upstream.bytes;
	p->stats.bytes_in += r->client.bytes;
	r->gone = true;
	proxy_defer_free(p, r);
}

/* ---- the filter ---- */

/* After a filter call: -EPROTO or a done filter end the relay gracefully, other errors reset. */
static int filter_result(struct proxy *p, struct l7_relay *r, int rc)
{
	counts_update(p, r);
	if (rc == -EPROTO || (!rc && r->ops->done(r->f)))
		r->ending = true;
	return rc == -EPROTO ? 0 : rc;
}

static int filter_open(struct l7_relay *r, const struct l7_filter_ops *ops)
{
	r->ops = ops;
	r->f = ops->open(&r->l7.d);
	return r->f ? 0 : -ENOMEM;
}

static int filter_client(struct proxy *p, struct l7_relay *r, const uint8_t *in, size_t n)
{
	if (!n || r->ending)
		return 0;
	return filter_result(p, r, r->ops->from_client(r->f, in, n, &r->to_up, &r->to_client));
}

static bool backlogged(const struct l7_relay *r)
{
	return l7_buf_unread(&r->to_up) > L7_BACKLOG || l7_buf_unread(&r->to_client) > L7_BACKLOG;
}

/* Client bytes to the filter a step at a time, while the backlog allows; the rest is kept. */
static int feed_client(struct proxy *p, struct l7_relay *r, const uint8_t *in, size_t n)
{
	while (n && !r->ending) {
		size_t k = n < L7_FEED_STEP ? n : L7_FEED_STEP;
		int rc;

		if (backlogged(r))
			return l7_buf_put(&r->pending, in, n);
		rc = filter_client(p, r, in, k);
		if (rc)
			return rc;
		in += k;
		n -= k;
	}
	return 0;
}

/* What the backlog held back, now that it may have drained: 1 when some went, 0, or -errno. */
static int feed_pending(struct proxy *p, struct l7_relay *r)
{
	bool moved = false;

	while (l7_buf_unread(&r->pending) && !backlogged(r) && !r->ending) {
		size_t k = l7_buf_unread(&r->pending);
		int rc;

		k = k < L7_FEED_STEP ? k : L7_FEED_STEP;
		rc = filter_client(p, r, r->pending.data + r->pending.off, k);
		l7_buf_consume(&r->pending, k);
		if (rc)
			return rc;
		moved = true;
	}
	if (r->ending)
		l7_buf_consume(&r->pending, l7_buf_unread(&r->pending));
	return moved;
}

/*
 * Could the pod's first bytes be an HTTP/2 server's SETTINGS frame (9-byte header: length a
 * multiple of 6, type 4, no flags, stream 0)? An h2c server sends it as soon as the connection
 * opens, before the client's preface may have arrived; other protocols that speak first (SMTP,
 * MySQL, SSH greetings) do not start like that.
 */
static bool maybe_h2_settings(const uint8_t *b, size_t n)
{
	static const uint8_t want[9] = {0, 0, 0, 4, 0, 0, 0, 0, 0};
	static const uint8_t mask[9] = {0, 0, 0, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff};

	for (size_t i = 0; i < n && i < 9; i++)
		if ((b[i] & mask[i]) != want[i])
			return false;
	return n < 3 || ((b[0] << 16 | b[1] << 8 | b[2]) % 6 == 0);
}

/* The pod's bytes held while the filter was not chosen go to it now. */
static int feed_held(struct proxy *p, struct l7_relay *r)
{
	size_t n = l7_buf_unread(&r->held);
	int rc;

	if (!n)
		return 0;
	rc = r->ops->from_upstream(r->f, r->held.data + r->held.off, n, &r->to_client, &r->to_up);
	l7_buf_consume(&r->held, n);
	return filter_result(p, r, rc);
}

/* Could these first bytes begin an HTTP/1.x request line? A method is a token of capitals (in
 * practice), then a space; anything else is not HTTP. 0: yes, 1: no, -1: cannot tell yet. */
static int not_http1(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n && i < 24; i++) {
		if (b[i] == ' ')
			return i ? 0 : 1;
		if (!((b[i] >= 'A' && b[i] <= 'Z') || b[i] == '-' || b[i] == '_'))
			return 1;
	}
	return n >= 24 ? 1 : -1;
}

/*
 * The client's first bytes: the whole HTTP/2 preface means h2c; an HTTP/1.x method means
 * HTTP/1.1; anything else is not HTTP (decided once at L4, then passed through), as soon as the
 * bytes tell (or the client stops sending: what it sent is then judged as it stands).
 */
static int sniff(struct proxy *p, struct l7_relay *r, const uint8_t *in, size_t n, bool eof)
{
	size_t k = L7_H2_PREFACE_LEN - r->nsniff;
	const struct l7_filter_ops *ops = &l7_http1_ops;
	bool prefix;
	int rc, h1;

	if (k > n)
		k = n;
	if (!r->nsniff && k)
		r->first_ms = p->now_ms;
	memcpy(r->sniff + r->nsniff, in, k);
	r->nsniff += k;
	prefix = !memcmp(r->sniff, L7_H2_PREFACE, r->nsniff);
	h1 = not_http1(r->sniff, r->nsniff);
	if ((prefix || h1 < 0) && r->nsniff < L7_H2_PREFACE_LEN && !eof)
		return 0; /* not decided yet */
	if (prefix && r->nsniff == L7_H2_PREFACE_LEN)
		ops = &l7_h2_ops;
	else if (h1 == 1)
		ops = &l7_tcp_ops;
	if (filter_open(r, ops))
		return -ENOMEM;
	rc = feed_client(p, r, r->sniff, r->nsniff);
	rc = rc ? rc : feed_client(p, r, in + k, n - k);
	return rc ? rc : feed_held(p, r);
}

/* The client's first bytes took too long to choose: what they are is judged at L4, once. */
static int sniff_expired(struct proxy *p, struct l7_relay *r)
{
	if (filter_open(r, &l7_tcp_ops))
		return -ENOMEM;
	p->stats.sniff_timeouts++;
	return feed_client(p, r, r->sniff, r->nsniff) ?: feed_held(p, r);
}

static int from_client(struct proxy *p, struct l7_relay *r, const uint8_t *in, size_t n)
{
	if (r->ending) { /* after the last word: read only to see the client's FIN */
		r->lingered += n;
		return r->lingered > L7_LINGER_MAX ? -EMSGSIZE : 0;
	}
	if (!r->ops)
		return sniff(p, r, in, n, false);
	return feed_client(p, r, in, n);
}

static int from_upstream(struct proxy *p, struct l7_relay *r, const uint8_t *in, size_t n)
{
	int rc;

	if (!r->ops) {
		if (l7_buf_put(&r->held, in, n))
			return -ENOMEM;
		if (l7_buf_unread(&r->held) <= L7_HELD_MAX &&
		    maybe_h2_settings(r->held.data + r->held.off, l7_buf_unread(&r->held)))
			return 0; /* an h2c pod greets first: wait for the client's preface */
		if (filter_open(r, &l7_tcp_ops)) /* a server-first protocol: not HTTP */
			return -ENOMEM;
		return feed_held(p, r);
	}
	rc = r->ops->from_upstream(r->f, in, n, &r->to_client, &r->to_up);
	return filter_result(p, r, rc);
}

/* ---- sockets ---- */

static bool client_wanted(const struct l7_relay *r)
{
	if (r->connecting || r->client.eof)
		return false;
	return r->ending || (!l7_buf_unread(&r->pending) && !backlogged(r));
}

static bool upstream_wanted(const struct l7_relay *r)
{
	return !r->connecting && !r->upstream.eof && !r->ending &&
	       l7_buf_unread(&r->to_client) <= L7_BACKLOG;
}

/* One read from a side: 1 when something happened (bytes or FIN), 0, or -errno. */
static int side_read(struct proxy *p, struct l7_relay *r, struct l7_side *s)
{
	uint8_t buf[L7_READ_BYTES];
	ssize_t n = recv(s->ev.fd, buf, sizeof(buf), 0);
	int rc;

	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		s->broke = true;
		return -errno;
	}
	if (n == 0) {
		s->eof = true;
		if (s == &r->client && !r->ops && !r->ending)
			rc = sniff(p, r, buf, 0, true); /* what it sent is all it sends */
		else
			rc = 0;
	} else {
		rc = s == &r->client ? from_client(p, r, buf, n) : from_upstream(p, r, buf, n);
	}
	return rc < 0 ? rc : 1;
}

/* Write what `b` holds to `s`: 1 when bytes went, 0, or -errno. */
static int side_write(struct l7_side *s, struct l7_buf *b)
{
	bool moved = false;

	while (l7_buf_unread(b)) {
		ssize_t n = send(s->ev.fd, b->data + b->off, l7_buf_unread(b), MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return moved;
			s->broke = true;
			return -errno;
		}
		l7_buf_consume(b, n);
		s->bytes += n;
		moved = true;
	}
	return moved;
}

/* The last word is out: shut the client, let the pod go, wait for the client's FIN. */
static void last_word(struct proxy *p, struct l7_relay *r)
{
	l7_buf_consume(&r->to_up, l7_buf_unread(&r->to_up));
	if (!r->client.shut) {
		shutdown(r->client.ev.fd, SHUT_WR);
		r->client.shut = true;
	}
	proxy_close(p, r->upstream.ev.fd, false);
	r->upstream.ev.fd = -1;
	r->upstream.armed = 0;
	r->upstream.eof = r->upstream.shut = true;
}

/* A FIN from one side goes on to the other once everything before it has. */
static void half_close(struct proxy *p, struct l7_relay *r)
{
	if (r->ending) {
		if (!l7_buf_unread(&r->to_client) && r->upstream.ev.fd >= 0)
			last_word(p, r);
		return;
	}
	if (r->client.eof && !r->upstream.shut && !l7_buf_unread(&r->to_up) &&
	    !l7_buf_unread(&r->pending)) {
		shutdown(r->upstream.ev.fd, SHUT_WR);
		r->upstream.shut = true;
	}
	if (r->upstream.eof && !r->client.shut && !l7_buf_unread(&r->to_client)) {
		shutdown(r->client.ev.fd, SHUT_WR);
		r->client.shut = true;
	}
}

/* Bytes for a side that was already shut cannot go anywhere (a filter may still write some,
 * e.g. an HTTP/2 acknowledgement after the client's FIN): drop them rather than fail. */
static int side_flush(struct l7_side *s, struct l7_buf *b)
{
	if (s->shut || s->ev.fd < 0) {
		l7_buf_consume(b, l7_buf_unread(b));
		return 0;
	}
	return side_write(s, b);
}

/* Read each side once, write what there is: 1 when something moved, 0, or -errno. */
static int relay_round(struct proxy *p, struct l7_relay *r)
{
	int moved, rc;

	moved = feed_pending(p, r);
	if (moved < 0)
		return moved;
	if (client_wanted(r)) {
		rc = side_read(p, r, &r->client);
		if (rc < 0)
			return rc;
		moved |= rc;
	}
	if (upstream_wanted(r)) {
		rc = side_read(p, r, &r->upstream);
		if (rc < 0)
			return rc;
		moved |= rc;
	}
	if (!r->connecting) {
		rc = side_flush(&r->upstream, &r->to_up);
		if (rc < 0)
			return rc;
		moved |= rc;
	}
	rc = side_flush(&r->client, &r->to_client);
	if (rc < 0)
		return rc;
	half_close(p, r);
	return moved | rc;
}

/* Move what can move, a bounded number of rounds. 0, or -errno: reset. */
static int relay_step(struct proxy *p, struct l7_relay *r)
{
	int rc = 1;

	for (int round = 0; round < L7_ROUNDS && rc > 0; round++)
		rc = relay_round(p, r);
	return rc < 0 ? rc : 0;
}

static int side_arm(struct proxy *p, struct l7_side *s, uint32_t want)
{
	struct epoll_event ev = {.events = want, .data.ptr = &s->ev};
	int op = !want ? EPOLL_CTL_DEL : !s->armed ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;

	if (s->ev.fd < 0 || want == s->armed)
		return 0;
	if (epoll_ctl(p->epfd, op, s->ev.fd, &ev))
		return -errno;
	s->armed = want;
	return 0;
}

/* The events each side waits for now. A side with nothing to wait for leaves epoll, so that a
 * peer that hung up cannot spin the loop with EPOLLHUP. */
static int rearm(struct proxy *p, struct l7_relay *r)
{
	uint32_t ce = 0, ue = 0;
	int rc;

	if (client_wanted(r))
		ce |= EPOLLIN;
	if (l7_buf_unread(&r->to_client))
		ce |= EPOLLOUT;
	if (r->connecting)
		ue = EPOLLOUT;
	if (upstream_wanted(r))
		ue |= EPOLLIN;
	/* held-back client bytes wait for to_up to drain: writable is when to feed them */
	if (!r->connecting && (l7_buf_unread(&r->to_up) || l7_buf_unread(&r->pending)))
		ue |= EPOLLOUT;
	rc = side_arm(p, &r->client, ce);
	return rc ? rc : side_arm(p, &r->upstream, ue);
}

static bool connect_done(struct proxy *p, struct l7_relay *r)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(r->upstream.ev.fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		proxy_dial_withdraw(p, &r->dial);
		p->stats.upstream_failed++;
		return false;
	}
	r->connecting = false;
	if (r->pl) {
		r->pl->start_ms = p->now_ms;
		r->pl->opened = true;
		proxy_report_plain(p, r->pl, false, false, 0, 0);
	}
	return true;
}

static void relay_settle(struct proxy *p, struct l7_relay *r);

void l7_relay_event(struct proxy *p, struct proxy_ev *ev, uint32_t events)
{
	struct l7_relay *r = ev->l7;

	(void)events; /* level-triggered: reading and writing find out what the event meant */
	if (r->gone)  /* closed earlier in this batch of events */
		return;
	if (r->connecting) {
		if (ev->kind != EV_L7_UPSTREAM)
			return;
		if (!connect_done(p, r)) {
			/* the pod refused: the client sees a reset, as it would without us */
			l7_relay_close(p, r, true);
			return;
		}
	}
	r->active_ms = p->now_ms;
	if (relay_step(p, r)) {
		l7_relay_close(p, r, true);
		return;
	}
	relay_settle(p, r);
}

/* After bytes moved: close when both sides are done, else wait for what comes next. */
static void relay_settle(struct proxy *p, struct l7_relay *r)
{
	if (r->f && !r->ending && r->ops->in_head && r->ops->in_head(r->f)) {
		if (!r->head_ms)
			r->head_ms = p->now_ms;
	} else {
		r->head_ms = 0;
	}
	if (r->client.eof && r->client.shut && r->upstream.eof && r->upstream.shut) {
		p->stats.relayed++;
		l7_relay_close(p, r, false);
		return;
	}
	if (rearm(p, r))
		l7_relay_close(p, r, true);
}

/* A non-blocking connect() to the pod, marked so the kernel's STRICT guard lets skiffd in. */
static int dial(struct proxy *p, struct l7_relay *r, const struct skiff_sock_origin *dst)
{
	struct sockaddr_storage ss;
	socklen_t len = proxy_sockaddr(dst, &ss);
	unsigned int mark = SKIFF_MARK_AGENT;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	r->upstream.ev.fd = fd;
	setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)); /* needs CAP_NET_ADMIN */
	proxy_nodelay(fd);
	if (r->l7.hbone)
		proxy_dial_file(p, fd, dst, &r->dial);
	if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		proxy_dial_withdraw(p, &r->dial);
		p->stats.upstream_failed++;
		return -errno;
	}
	return 0;
}

/* A relay with `ops` chosen at once (NULL: by the first bytes); `pl` (taken) for the metrics. */
static int relay_start(struct proxy *p, int client_fd, const struct skiff_sock_origin *dst,
		       const struct proxy_l7 *l7, const struct l7_filter_ops *ops,
		       struct proxy_plain *pl)
{
	struct l7_relay *r = calloc(1, sizeof(*r));
	int err;

	if (!r) {
		free(pl);
		proxy_close(p, client_fd, true);
		if (l7->release)
			l7->release(l7->d.ctx);
		return -ENOMEM;
	}
	*r = (struct l7_relay){
	    .client.ev = {.kind = EV_L7_CLIENT, .fd = client_fd, .l7 = r},
	    .upstream.ev = {.kind = EV_L7_UPSTREAM, .fd = -1, .l7 = r},
	    .l7 = *l7,
	    .connecting = true,
	    .born_ms = p->now_ms,
	    .active_ms = p->now_ms,
	    .pl = pl,
	    .next = p->l7_relays,
	};
	if (p->l7_relays)
		p->l7_relays->prev = r;
	p->l7_relays = r;
	p->stats.active++;
	r->pass = ops != NULL;
	p->stats.l7_conns += !r->pass;
	err = ops ? filter_open(r, ops) : 0;
	if (!err)
		err = dial(p, r, dst);
	if (!err)
		err = rearm(p, r);
	if (err)
		l7_relay_close(p, r, true);
	return err;
}

int l7_relay_open(struct proxy *p, int client_fd, const struct skiff_sock_origin *dst,
		  const struct proxy_l7 *l7)
{
	return relay_start(p, client_fd, dst, l7, NULL, NULL);
}

static bool allow_all(void *ctx, struct authz_request *rq, char *why, size_t whylen)
{
	(void)ctx;
	(void)rq;
	(void)why;
	(void)whylen;
	return true;
}

int l7_relay_pass(struct proxy *p, int client_fd, const struct skiff_sock_origin *src,
		  const struct skiff_sock_origin *dst)
{
	const struct proxy_l7 pass = {.d = {.decide = allow_all}};
	struct proxy_plain *pl = calloc(1, sizeof(*pl));

	if (pl) /* without it, the connection still passes: only its report is lost */
		*pl = (struct proxy_plain){.src = *src, .dst = *dst};
	/* l7_tcp's filter, allowed once: bytes pass untouched both ways */
	return relay_start(p, client_fd, dst, &pass, &l7_tcp_ops, pl);
}

/* One relay against the clock: 1 when it was closed. */
static bool relay_expired(struct proxy *p, struct l7_relay *r)
{
	const struct proxy_limits *l = &p->lim;

	if (r->connecting && p->now_ms - r->born_ms >= l->connect_ms) {
		p->stats.connect_timeouts++;
	} else if (p->now_ms - r->active_ms >= (r->ending ? l->linger_ms : l->idle_ms)) {
		p->stats.idle_closed++;
	} else if (r->head_ms && p->now_ms - r->head_ms >= l->head_ms) {
		p->stats.head_timeouts++;
	} else if (!r->ops && r->nsniff && p->now_ms - r->first_ms >= l->sniff_ms) {
		/* decided: what the L4 decision lets through (or its refusal) goes now */
		if (sniff_expired(p, r) || relay_step(p, r)) {
			l7_relay_close(p, r, true);
			return true;
		}
		relay_settle(p, r);
		return r->gone;
	} else {
		return false;
	}
	l7_relay_close(p, r, true);
	return true;
}

void l7_relay_sweep(struct proxy *p)
{
	struct l7_relay *r, *next;

	for (r = p->l7_relays; r; r = next) {
		next = r->next;
		relay_expired(p, r);
	}
}
