// SPDX-License-Identifier: Apache-2.0
/*
 * The bytes of an HBONE connection between nghttp2 and the socket, through TLS, with as few
 * system calls and copies as the record layer allows:
 *
 *   - Reading: OpenSSL reads ahead into a large buffer (many 16 KiB records per read()), and a
 *     callback on the socket BIO notes when a read came back short: the socket is drained, so the
 *     loop stops without the read() that would only say EAGAIN.
 *   - Writing: every frame nghttp2 has (DATA frames straight from the stream's buffer, see
 *     hb_tls_send_data) is gathered into one plaintext buffer first, so TLS records are full
 *     16 KiB ones and a frame header never becomes a record of its own; the records then gather
 *     in a buffering BIO and leave in one write() (one copy of the ciphertext buys TCP 64 KiB
 *     segments instead of one 16 KiB push per record).
 *   - kTLS: where the kernel has the tls ULP, OpenSSL hands it the send keys after the handshake
 *     (SSL_OP_ENABLE_KTLS; OpenSSL 3.0 offloads TLS 1.3 send only). The gathered plaintext then
 *     goes to the socket with send(), DATA payloads by splice() from the streams' pipes in
 *     between (hbone_splice.c): the kernel cuts it into records and encrypts.
 *   - What the kernel does not do, skiffd's own record layer does after the handshake
 *     (hbone_records.c): both directions without the ULP, the received records with it;
 *     --hbone-records=openssl leaves them to libssl (SSL_read_ex / SSL_write_ex below).
 *
 * So a connection takes one of four record paths, chosen once when the handshake is done
 * (hb_tls_established) and followed through c->ops from then on:
 *
 *   path            sends                                    receives
 *   records         skiffd seals (hb_rec_send)               skiffd opens (hb_rec_read)
 *   ktls_records    the kernel seals; payloads by splice()   skiffd opens; a KeyUpdate request
 *                   (hb_splice_send)                         ends the connection (close_notify)
 *   ktls            the kernel, as above                     libssl
 *   libssl          libssl, through a buffering BIO          libssl
 *
 * ktls and libssl are what --hbone-records=openssl gives, and what a connection whose records
 * skiffd cannot take over falls back to (hb_rec_start).
 */
#include <errno.h>
#include <linux/tls.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hbone/hbone_internal.h"

#define HB_TLS_READ_AHEAD (128 << 10) /* OpenSSL's read buffer: eight full records per read() */
#define HB_READ_CHUNK	  (16 << 10)  /* one record's plaintext per SSL_read */
#define HB_WBUF_BATCH	  (256 << 10) /* plaintext gathered before it is handed to TLS */
#define HB_TLS_WBATCH	  (256 << 10) /* records gathered before they are written */

/* After each read() of the socket BIO: a short one (or EAGAIN) means the socket is drained. */
static long bio_watch(BIO *b, int oper, const char *argp, size_t len, int argi, long argl, int ret,
		      size_t *processed)
{
	struct hb_conn *c = (struct hb_conn *)BIO_get_callback_arg(b);

	(void)argp;
	(void)argi;
	(void)argl;
	if (oper == (BIO_CB_READ | BIO_CB_RETURN) && c)
		c->rx_more = ret > 0 && processed && *processed == len;
	return ret;
}

void hb_tls_setup(struct hb_conn *c)
{
	BIO *b = SSL_get_rbio(c->ssl);

	SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* no read-ahead until the handshake is done: a record of the peer's read with its last
	 * flight would be in OpenSSL's buffer when skiffd's record layer takes over */
	SSL_set_read_ahead(c->ssl, 0);
	SSL_set_default_read_buffer_len(c->ssl, HB_TLS_READ_AHEAD);
	if (!c->p->o.hbone_ktls_off)
		SSL_set_options(c->ssl, SSL_OP_ENABLE_KTLS);
	/* nothing resumes an HBONE session: tickets would only cost two records per connection */
	if (c->server)
		SSL_set_num_tickets(c->ssl, 0);
	BIO_set_callback_arg(b, (char *)c);
	BIO_set_callback_ex(b, bio_watch);
	hb_rec_watch(c, SSL_get_SSL_CTX(c->ssl));
}

/* Record why an SSL call stopped; -1 for a real failure. */
int hb_tls_wants(struct hb_conn *c, int rv)
{
	switch (SSL_get_error(c->ssl, rv)) {
	case SSL_ERROR_WANT_READ:
		c->ssl_want_write = false;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->ssl_want_write = true;
		return 0;
	default:
		return -1;
	}
}

/* libssl's records -> nghttp2. */
static int ssl_read(struct hb_conn *c)
{
	unsigned char buf[HB_READ_CHUNK];
	size_t n;

	while (c->rx_more || SSL_has_pending(c->ssl)) {
		int rv = SSL_read_ex(c->ssl, buf, sizeof(buf), &n);

		if (rv <= 0)
			return SSL_get_error(c->ssl, rv) == SSL_ERROR_ZERO_RETURN
				   ? -1
				   : hb_tls_wants(c, rv);
		if (nghttp2_session_mem_recv(c->h2, buf, n) < 0)
			return -1;
	}
	return 0;
}

int hb_buf_grow(unsigned char **buf, size_t *cap, size_t need, size_t most)
{
	size_t n = *cap ? *cap : 4096;
	unsigned char *nb;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if (most && n > most)
		n = most > need ? most : need;
	nb = realloc(*buf, n);
	if (!nb)
		return -1;
	*buf = nb;
	*cap = n;
	return 0;
}

/* Room for `len` more bytes at the end of wbuf (what is sent is dropped from the front). */
static int wbuf_reserve(struct hb_conn *c, size_t len)
{
	if (c->woff && c->wlen + len > c->wcap) {
		memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
		hb_splice_shift(c, c->woff);
		c->wlen -= c->woff;
		c->woff = 0;
	}
	return hb_buf_grow(&c->wbuf, &c->wcap, c->wlen + len, 0);
}

int hb_tls_wbuf_add(struct hb_conn *c, const void *data, size_t len)
{
	if (wbuf_reserve(c, len))
		return -1;
	memcpy(c->wbuf + c->wlen, data, len);
	c->wlen += len;
	return 0;
}

int hb_tls_send_data(nghttp2_session *s, nghttp2_frame *f, const uint8_t *hd, size_t len,
		     nghttp2_data_source *src, void *user)
{
	struct hb_conn *c = user;

	(void)s;
	(void)f; /* no padding is ever asked for */
	if (((struct hb_stream *)src->ptr)->pipe)
		return hb_splice_queue(c, src->ptr, hd, len) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
	if (wbuf_reserve(c, 9 + len))
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	memcpy(c->wbuf + c->wlen, hd, 9);
	hb_stream_take_up(src->ptr, c->wbuf + c->wlen + 9, len);
	c->wlen += 9 + len;
	return 0;
}

/* wbuf -> libssl's records (SSL_write_ex), gathered in the buffering BIO. */
static int ssl_send(struct hb_conn *c)
{
	while (c->woff < c->wlen) {
		size_t w;
		int rv = SSL_write_ex(c->ssl, c->wbuf + c->woff, c->wlen - c->woff, &w);

		if (rv <= 0)
			return hb_tls_wants(c, rv);
		c->ssl_want_write = false;
		c->woff += w;
	}
	c->woff = c->wlen = 0;
	return 0;
}

/* Records waiting in the buffering BIO -> the socket. */
static int ssl_push(struct hb_conn *c)
{
	BIO *b = SSL_get_wbio(c->ssl);

	if (c->wlen || BIO_wpending(b) <= 0)
		return 0;
	if (BIO_flush(b) > 0) {
		c->ssl_want_write = false;
		return 0;
	}
	if (!BIO_should_retry(b))
		return -1;
	c->ssl_want_write = true;
	return 0;
}

int hb_tls_flush(struct hb_conn *c)
{
	for (;;) {
		while (c->wlen - c->woff < HB_WBUF_BATCH && nghttp2_session_want_write(c->h2)) {
			const uint8_t *data;
			ssize_t n = nghttp2_session_mem_send(c->h2, &data);

			if (n < 0)
				return -1;
			if (n == 0)
				break;
			if (hb_tls_wbuf_add(c, data, n))
				return -1;
		}
		if (c->woff == c->wlen && !c->ops->owed(c))
			break;
		if (c->ops->send(c))
			return -1;
		/* the socket is full; a record still owed with wbuf empty (a KeyUpdate alone) counts
		 * too, or the loop would retry it until the kernel makes room */
		if (c->wlen || c->nseg || c->ops->owed(c))
			break;
	}
	return c->ops->push ? c->ops->push(c) : 0;
}

/* ---- the four record paths, as the table at the top of this file lays them out ---- */

static bool ssl_flushed(const struct hb_conn *c)
{
	return c->woff == c->wlen && BIO_wpending(SSL_get_wbio(c->ssl)) <= 0;
}

static bool none_owed(const struct hb_conn *c)
{
	(void)c;
	return false;
}

/* Payloads queued in pipes, between wbuf's bytes. */
static bool payloads_owed(const struct hb_conn *c)
{
	return c->nseg;
}

static bool ktls_flushed(const struct hb_conn *c)
{
	return c->woff == c->wlen && !c->nseg;
}

static bool records_flushed(const struct hb_conn *c)
{
	return c->woff == c->wlen && !hb_rec_owed(c);
}

static const struct hb_rec_ops path_records = {
    .read = hb_rec_read,
    .send = hb_rec_send,
    .owed = hb_rec_owed,
    .flushed = records_flushed,
};

static const struct hb_rec_ops path_ktls_records = {
    .read = hb_rec_read_ktls,
    .send = hb_splice_send,
    .owed = payloads_owed,
    .flushed = ktls_flushed,
    .splice = true,
};

static const struct hb_rec_ops path_ktls = {
    .read = ssl_read,
    .send = hb_splice_send,
    .owed = payloads_owed,
    .flushed = ktls_flushed,
    .splice = true,
};

static const struct hb_rec_ops path_libssl = {
    .read = ssl_read,
    .send = ssl_send,
    .owed = none_owed,
    .push = ssl_push,
    .flushed = ssl_flushed,
};

/* Records gather in a buffering BIO on top of the socket (after the handshake: OpenSSL buffers
 * its handshake flights itself, and a kTLS socket is written directly). */
static void buffer_records(struct hb_conn *c)
{
	BIO *sock = SSL_get_wbio(c->ssl), *buf = BIO_new(BIO_f_buffer());

	if (!buf || !BIO_set_write_buffer_size(buf, HB_TLS_WBATCH) || !BIO_up_ref(sock)) {
		BIO_free(buf);
		return; /* records are then written one by one: slower, not wrong */
	}
	SSL_set0_wbio(c->ssl, BIO_push(buf, sock));
}

void hb_tls_established(struct hb_conn *c)
{
	bool ktls_tx = BIO_get_ktls_send(SSL_get_wbio(c->ssl));
	/* skiffd's records: both ways, or only received ones where the kernel sends (OpenSSL 3.0
	 * offloads TLS 1.3 send only) */
	bool rec = hb_rec_start(c);

	c->alert = TLS_ALERT_CLOSE_NOTIFY; /* from now on every end is said (RFC 8446 §6.1) */
	/* the kernel seals from sequence 0 with this key: a seal here would reuse its nonces */
	if (ktls_tx && rec)
		tls_rec_drop_tx(c->rec);
	if (ktls_tx)
		c->ops = rec ? &path_ktls_records : &path_ktls;
	else
		c->ops = rec ? &path_records : &path_libssl;
	if (rec && !ktls_tx)
		return; /* libssl reads and writes no more records of this connection */
	if (!rec)
		SSL_set_read_ahead(c->ssl, 1);
	if (ktls_tx)
		c->p->stats.hbone_ktls_tx++;
	else
		buffer_records(c);
	if (BIO_get_ktls_recv(SSL_get_rbio(c->ssl)))
		c->p->stats.hbone_ktls_rx++;
}

/* An alert through kTLS: the kernel seals a record of the type the control message names. */
static void ktls_alert(int fd, int desc)
{
	unsigned char msg[2] = {desc == TLS_ALERT_CLOSE_NOTIFY ? 1 : 2, (unsigned char)desc};
	char cbuf[CMSG_SPACE(1)] = {0};
	struct iovec iov = {.iov_base = msg, .iov_len = sizeof(msg)};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_TLS;
	cm->cmsg_type = TLS_SET_RECORD_TYPE;
	cm->cmsg_len = CMSG_LEN(1);
	*CMSG_DATA(cm) = 21; /* alert */
	if (sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return; /* a full or broken socket: the close says the rest */
}

void hb_tls_goodbye(struct hb_conn *c)
{
	int desc = c->alert;

	c->alert = -1; /* once */
	if (c->handshaking || !c->ops)
		return;
	if (c->rec) { /* skiffd opens the records: it knows which alert is owed */
		if (desc < 0)
			return;
		if (c->ops->splice) /* the kernel seals: payloads queued in pipes are dropped */
			ktls_alert(c->ev.fd, desc);
		else
			hb_rec_alert(c, desc);
		return;
	}
	/* libssl opens them: a fatal alert it owed, it wrote itself; else this is close_notify,
	 * through the buffering BIO or the kernel */
	SSL_shutdown(c->ssl);
	if (!c->ops->splice)
		BIO_flush(SSL_get_wbio(c->ssl));
}

void hb_tls_ktls_sent(struct hb_conn *c, size_t len)
{
	/* a write of len bytes closes at most len / 16 KiB full records, the one left open
	 * before it, and its own last one */
	c->ktls_recs += len / TLS_REC_MAX_PLAIN + 2;
	/* GOAWAY was not enough (its streams went on): end it while a write (at most a pipe's or
	 * a batch's worth, some 70 records) and the closing alert still fit under 2^24 */
	if (c->ktls_recs >= TLS_REC_KTLS_END) {
		c->dead = true;
		return;
	}
	if (c->ktls_recs < TLS_REC_KTLS_RETIRE || c->retiring)
		return;
	c->retiring = true;
	nghttp2_submit_goaway(c->h2, NGHTTP2_FLAG_NONE,
			      nghttp2_session_get_last_proc_stream_id(c->h2), NGHTTP2_NO_ERROR,
			      NULL, 0);
}
