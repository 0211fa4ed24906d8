// SPDX-License-Identifier: Apache-2.0
/*
 * An HBONE connection: a non-blocking socket, OpenSSL on it (TLS 1.3, both sides present mesh
 * certificates, the SSL_CTX says which and whom to trust), and the nghttp2 session inside.
 * Everything is driven from the proxy's epoll loop: a readable socket feeds TLS records to
 * nghttp2, nghttp2's output is written back through TLS, and hb_conn_kick() then lets every
 * stream move bytes and re-arms the sockets. A connection ends when nghttp2 wants neither to
 * read nor to write, or when TLS or the socket fail (its streams are then reset).
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "hbone/hbone_internal.h"

struct hb_conn *hb_conn_new(struct proxy *p, int fd, bool server, SSL_CTX *ctx)
{
	struct hb_conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT};

	if (!c)
		return NULL;
	c->p = p;
	c->server = server;
	c->ev = (struct proxy_ev){.kind = EV_HB_CONN, .fd = fd, .conn = c};
	c->alert = -1;
	c->ssl = SSL_new(ctx);
	if (!c->ssl || !SSL_set_fd(c->ssl, fd)) {
		SSL_free(c->ssl);
		free(c);
		return NULL;
	}
	hb_tls_setup(c);
	if (server)
		SSL_set_accept_state(c->ssl);
	else
		SSL_set_connect_state(c->ssl);
	c->handshaking = true;
	c->connecting = !server;
	c->born_ms = c->active_ms = c->rx_ms = p->now_ms;
	c->ev_mask = ev.events;
	ev.data.ptr = &c->ev;
	epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
	c->next = p->hb_conns;
	if (p->hb_conns)
		p->hb_conns->prev = c;
	p->hb_conns = c;
	return c;
}

void hbone_conn_close(struct hb_conn *c)
{
	struct proxy *p = c->p;

	while (c->streams)
		hb_stream_free(c->streams, true);
	if (c->prev)
		c->prev->next = c->next;
	else
		p->hb_conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	nghttp2_session_del(c->h2);
	hb_tls_goodbye(c);
	SSL_free(c->ssl);
	hb_rec_free(c);
	proxy_close(p, c->ev.fd, false);
	free(c->wbuf);
	hb_splice_drop(c);
	c->gone = true;
	proxy_defer_free(p, c);
}

void hbone_drain(struct proxy *p, bool final)
{
	struct hb_conn *c, *next;

	for (c = p->hb_conns; c; c = next) {
		next = c->next;
		if (!c->server || c->dead || c->handshaking || !c->h2)
			continue;
		if (final)
			nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
					      nghttp2_session_get_last_proc_stream_id(c->h2),
					      NGHTTP2_NO_ERROR, NULL, 0);
		else
			nghttp2_submit_shutdown_notice(c->h2);
		hb_conn_kick(c); /* may close c: it had no stream left */
	}
}

/* The peer's SPIFFE ID (its certificate's one URI SAN), verified by the handshake. */
static bool peer_identity(struct hb_conn *c)
{
	X509 *cert = SSL_get1_peer_certificate(c->ssl);
	GENERAL_NAMES *names;
	bool ok = false;

	if (!cert || SSL_get_verify_result(c->ssl) != X509_V_OK) {
		X509_free(cert);
		return false;
	}
	names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		const unsigned char *u;
		int n;

		if (gn->type != GEN_URI)
			continue;
		u = ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
		n = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
		if (n > 9 && n < (int)sizeof(c->peer_id) && !memcmp(u, "spiffe://", 9)) {
			memcpy(c->peer_id, u, n);
			c->peer_id[n] = '\0';
			ok = true;
		}
	}
	GENERAL_NAMES_free(names);
	X509_free(cert);
	return ok;
}

static int handshake(struct hb_conn *c)
{
	const unsigned char *alpn = NULL;
	unsigned int alpn_len = 0;
	int rv = SSL_do_handshake(c->ssl);

	if (rv != 1)
		return hb_tls_wants(c, rv);
	c->handshaking = false;
	c->ssl_want_write = false;
	/* the idle clocks start now, not at this batch of events: a handshake is slow (an
	 * emulated CPU, a loaded node), and must not count against the connection, the streams
	 * that waited for it, or one its first records open (connect_ms bounds the handshake) */
	c->p->now_ms = proxy_clock_ms();
	c->active_ms = c->rx_ms = c->p->now_ms;
	for (struct hb_stream *st = c->streams; st; st = st->next)
		st->active_ms = c->active_ms;
	hb_tls_established(c);
	SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
	if (alpn_len != 2 || memcmp(alpn, HBONE_ALPN, 2) || !peer_identity(c))
		return -1;
	/* skiffd's records (and the kernel) carry everything from here: libssl still holds the
	 * handshake's secrets (the first traffic secrets, the resumption secret) until freed */
	if (c->rec) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (hb_session_init(c))
		return -1;
	if (!c->server)
		hb_out_submit_pending(c);
	return 0;
}

/* The socket's epoll interest, changed only when it differs from what is armed. */
static void conn_rearm(struct hb_conn *c)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->ev};

	if (c->connecting || c->ssl_want_write || c->wlen)
		ev.events |= EPOLLOUT;
	if (ev.events == c->ev_mask)
		return;
	c->ev_mask = ev.events;
	epoll_ctl(c->p->epfd, EPOLL_CTL_MOD, c->ev.fd, &ev);
}

void hb_conn_kick(struct hb_conn *c)
{
	struct hb_stream *st, *next;

	if (!c->dead && !c->handshaking && hb_tls_flush(c))
		c->dead = true;
	for (st = c->streams; st; st = next) {
		next = st->next;
		if (!st->local_reset && hb_stream_pump(st))
			st->local_reset = true;
		if (st->local_reset || (st->closed && !st->down.len && st->local_shut))
			hb_stream_free(st, st->local_reset);
	}
	/* a client connection left without streams is released */
	if (!c->server && !c->dead && !c->handshaking && !c->nstreams && !c->goaway) {
		c->goaway = true;
		nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
	}
	if (!c->dead && !c->handshaking && hb_tls_flush(c))
		c->dead = true;
	if (c->dead || (!c->handshaking && !nghttp2_session_want_read(c->h2) &&
			!nghttp2_session_want_write(c->h2) && c->ops->flushed(c))) {
		hbone_conn_close(c);
		return;
	}
	/* after the last flush: it may have taken a stream's buffered bytes, and that stream must
	 * then read again (nothing else would wake it: the peer owes no WINDOW_UPDATE yet) */
	for (st = c->streams; st; st = st->next)
		hb_stream_rearm(st);
	conn_rearm(c);
}

void hbone_conn_event(struct hb_conn *c, uint32_t events)
{
	if (c->gone) /* closed earlier in this batch of events */
		return;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		c->rx_more = true; /* until a read() comes back short */
	if (c->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		if (getsockopt(c->ev.fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
			c->p->stats.tls_failed++;
			c->dead = true;
		}
		c->connecting = false;
	}
	if (!c->dead && c->handshaking && handshake(c)) {
		c->p->stats.tls_failed++;
		c->dead = true;
	}
	if (!c->dead && !c->handshaking && c->ops->read(c))
		c->dead = true;
	hb_conn_kick(c);
}
