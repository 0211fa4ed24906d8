// SPDX-License-Identifier: Apache-2.0
/*
 * HBONE's bytes through skiffd's own TLS 1.3 record layer (tls_records.c) where the kernel does
 * not do them: OpenSSL does the handshake and verifies the peer; then the records are sealed and
 * opened here, read() and write() straight from and to the socket. With kTLS (which OpenSSL 3.0
 * gives TLS 1.3's send side only) the received records are still opened here. libssl's record
 * path costs microseconds per record (BIO calls, a copy into its own buffer); this one costs a
 * nonce and an AES-GCM pass, and the ping-pong round trip crosses four of them (README: the
 * agents' CPU per 1000 round trips, A/B against --hbone-records=openssl).
 *
 * The hand-over is exact, as kTLS's is: OpenSSL reads no record ahead during the handshake (so
 * nothing of the peer's waits in its buffers), the server sends no session tickets (so nothing
 * of ours was sealed under the application key), and both sequence numbers start at zero. If
 * any of that does not hold, or the suite is not AES-GCM, OpenSSL keeps the records.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hbone/hbone_internal.h"

/* rbuf starts with one record's room, obuf small (hb_buf_grow); bulk traffic grows them to: */
#define HB_REC_RBUF  (128 << 10) /* records read per read(), at most: eight full ones */
#define HB_REC_BATCH (256 << 10) /* plaintext sealed before one write(), at most */

static int conn_slot = -1; /* SSL ex_data: the hb_conn an SSL belongs to */

/* OpenSSL's keylog line "CLIENT_TRAFFIC_SECRET_0 <client random> <secret>", and the server's:
 * kept (in memory only) until the handshake is done. Lines of other SSLs (and of connections
 * left to libssl's records, never watched) are not ours. */
static void keylog(const SSL *ssl, const char *line)
{
	struct hb_conn *c = conn_slot >= 0 ? SSL_get_ex_data(ssl, conn_slot) : NULL;
	int who = !strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24)   ? 0
		  : !strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) ? 1
								   : -1;
	const char *hex = who < 0 ? NULL : strchr(line + 24, ' ');
	size_t n = 0;

	if (!c || !hex)
		return;
	if (!OPENSSL_hexstr2buf_ex(c->secret[who], sizeof(c->secret[who]), &n, hex + 1, '\0'))
		return;
	c->secret_len = n;
	c->secret_got |= 1u << who;
}

void hb_rec_watch(struct hb_conn *c, SSL_CTX *ctx)
{
	if (c->p->o.hbone_openssl_records) /* no secrets are kept, so rec_take declines */
		return;
	if (conn_slot < 0)
		conn_slot = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (conn_slot < 0 || !SSL_set_ex_data(c->ssl, conn_slot, c))
		return;
	if (SSL_CTX_get_keylog_callback(ctx) != keylog)
		SSL_CTX_set_keylog_callback(ctx, keylog);
}

static bool rec_take(struct hb_conn *c)
{
	const char *suite = SSL_CIPHER_get_name(SSL_get_current_cipher(c->ssl));
	int me = c->server ? 1 : 0;

	/* OpenSSL 3.2 and later may have given the receive keys to the kernel (kTLS receive):
	 * the records then arrive decrypted, and opening them here would fail on every one */
	if (c->secret_got != 3 || SSL_has_pending(c->ssl) ||
	    SSL_version(c->ssl) != TLS1_3_VERSION || !suite ||
	    BIO_get_ktls_recv(SSL_get_rbio(c->ssl)))
		return false;
	c->rec = calloc(1, sizeof(*c->rec));
	c->rcap = TLS_REC_MAX_WIRE;
	c->rbuf = malloc(c->rcap);
	if (!c->rec || !c->rbuf ||
	    tls_rec_init(c->rec, suite, c->secret[me], c->secret[!me], c->secret_len)) {
		hb_rec_free(c);
		return false;
	}
	tls_rec_set_server(c->rec, c->server);
	return true;
}

bool hb_rec_start(struct hb_conn *c)
{
	bool ok = rec_take(c);

	OPENSSL_cleanse(c->secret, sizeof(c->secret));
	c->secret_got = 0;
	if (!ok)
		return false;
	c->p->stats.hbone_records++;
	SSL_free_buffers(c->ssl); /* libssl reads and writes nothing more: its 128 KiB go back */
	return true;
}

void hb_rec_free(struct hb_conn *c)
{
	if (c->rec)
		tls_rec_free(c->rec);
	free(c->rec);
	free(c->rbuf);
	free(c->obuf);
	c->rec = NULL;
	c->rbuf = c->obuf = NULL;
	c->rlen = c->rcap = c->ooff = c->olen = c->ocap = 0;
	OPENSSL_cleanse(c->secret, sizeof(c->secret));
}

/* Open every whole record in rbuf into nghttp2; a partial one moves to the front. */
static int rec_drain(struct hb_conn *c, bool kernel_seals)
{
	size_t pos = 0, used, off, plen;

	for (;;) {
		enum tls_rec_result r =
		    tls_rec_open(c->rec, c->rbuf + pos, c->rlen - pos, &used, &off, &plen);

		if (r == TLS_REC_MORE)
			break;
		if (r == TLS_REC_ERR)
			c->alert = tls_rec_alert(c->rec);
		if (r == TLS_REC_ERR || r == TLS_REC_CLOSE)
			return -1;
		/* the peer wants new send keys, and the kernel's cannot be renewed: TLS allows no
		 * more application data (not even a GOAWAY) before our KeyUpdate, so the
		 * connection ends with close_notify, which it does allow */
		if (kernel_seals && tls_rec_pending(c->rec))
			return -1;
		if (r == TLS_REC_DATA && plen &&
		    nghttp2_session_mem_recv(c->h2, c->rbuf + pos + off, plen) < 0)
			return -1;
		pos += used;
	}
	if (pos) {
		memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
		c->rlen -= pos;
	}
	return 0;
}

static int rec_read(struct hb_conn *c, bool kernel_seals)
{
	for (;;) {
		size_t room = c->rcap - c->rlen; /* a partial record is shorter than rcap */
		ssize_t n;

		if (!c->rx_more)
			return 0;
		n = read(c->ev.fd, c->rbuf + c->rlen, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			c->rx_more = false;
			return 0;
		}
		if (n <= 0) /* EOF without close_notify, or a broken socket: the end either way */
			return -1;
		c->rx_more = (size_t)n == room; /* a short read: the socket is drained */
		c->rlen += n;
		if (rec_drain(c, kernel_seals))
			return -1;
		/* a read() that filled rbuf: bulk, the next gets twice the room (failing that, the
		 * same room: smaller reads, not wrong) */
		if (c->rx_more && c->rcap < HB_REC_RBUF)
			hb_buf_grow(&c->rbuf, &c->rcap,
				    2 * c->rcap < HB_REC_RBUF ? 2 * c->rcap : HB_REC_RBUF,
				    HB_REC_RBUF);
	}
}

int hb_rec_read(struct hb_conn *c)
{
	return rec_read(c, false);
}

int hb_rec_read_ktls(struct hb_conn *c)
{
	return rec_read(c, true);
}

/* obuf -> the socket; a short write means it is full (ssl_want_write: wait for EPOLLOUT). */
static int rec_write(struct hb_conn *c)
{
	while (c->ooff < c->olen) {
		ssize_t n = send(c->ev.fd, c->obuf + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -1;
		if (n > 0)
			c->ooff += n;
		if (n < 0 || c->ooff < c->olen) {
			c->ssl_want_write = true;
			return 0;
		}
	}
	c->ssl_want_write = false;
	c->ooff = c->olen = 0;
	return 0;
}

void hb_rec_alert(struct hb_conn *c, int desc)
{
	unsigned char rec[TLS_REC_ALERT_WIRE];
	ssize_t n;

	/* records already half written go first, or the alert would land inside one */
	if (c->ooff < c->olen && (rec_write(c) || c->ooff < c->olen))
		return;
	n = tls_rec_seal_alert(c->rec, (enum tls_alert)desc, rec);
	if (n > 0 && send(c->ev.fd, rec, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return; /* a full or broken socket: the close says the rest */
}

bool hb_rec_owed(const struct hb_conn *c)
{
	return c->ooff < c->olen || tls_rec_pending(c->rec);
}

int hb_rec_send(struct hb_conn *c)
{
	for (;;) {
		if (c->ooff == c->olen) {
			size_t n = c->wlen - c->woff;
			ssize_t k;

			if (!n && !tls_rec_pending(c->rec))
				break;
			n = n < HB_REC_BATCH ? n : HB_REC_BATCH;
			if (hb_buf_grow(&c->obuf, &c->ocap, tls_rec_seal_bound(n),
					tls_rec_seal_bound(HB_REC_BATCH)))
				return -1;
			k = tls_rec_seal(c->rec, n ? c->wbuf + c->woff : NULL, n, c->obuf);
			if (k < 0)
				return -1;
			c->woff += n;
			c->ooff = 0;
			c->olen = k;
		}
		if (rec_write(c))
			return -1;
		if (c->olen) /* the socket is full */
			return 0;
	}
	c->woff = c->wlen = 0;
	return 0;
}
