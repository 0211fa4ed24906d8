// SPDX-License-Identifier: Apache-2.0
/*
 * tls_records.c against real OpenSSL, no mocks. Each connection is a TLS 1.3 handshake over a
 * socketpair, both ends driven from this thread; then the "skiff side" (client or server, both
 * AES-GCM suites) leaves libssl and carries its records with tls_rec_* on the raw fd, keyed from
 * the traffic secrets its keylog callback saw, while the peer keeps using libssl.
 *
 * Cases: data each way (0, 1, 16384, 16385, 100000 bytes; exact seal sizes; a record fed one byte
 * at a time), 2000 records each way, the peer's KeyUpdate (requested or not) and ours in answer,
 * our own KeyUpdate at the per-key record limit, NewSessionTicket, close_notify, tampered and
 * malformed records, inner plaintexts libssl never sends (forged by a small independent record
 * layer written here, itself checked against libssl), unsupported suites and double free.
 * Limits and alerts: 200 KeyUpdates in a row refused after 32, 100 empty records refused after
 * 32, a NewSessionTicket sent to a server refused with an unexpected_message alert that libssl
 * reads off the wire, close_notify sealed on close, a dropped send key sealing nothing.
 *
 * What it proves: bytes sealed by tls_rec are read by OpenSSL exactly, and bytes OpenSSL writes
 * are opened by tls_rec exactly, across record splits, sequence numbers and KeyUpdates in both
 * directions. Records that are forged, truncated, oversized or of a type a finished TLS 1.3
 * connection must not carry are refused, and nothing is read past the bytes given.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "hbone/tls_records.h"
#include "tls_test_cert.h"

#define AES128	    "TLS_AES_128_GCM_SHA256"
#define AES256	    "TLS_AES_256_GCM_SHA384"
#define KEY_LIMIT   (1ULL << 24)	 /* records one send key may seal (tls_records.h) */
#define KU_WIRE	    (5 + 4 + 1 + 1 + 16) /* a KeyUpdate record: header, message, type, tag */
#define GOT_MAX	    (256 * 1024)
#define BIG_PAYLOAD 100000

/* A recognisable pattern: where a byte lands tells which byte it was, `seed` which message. */
static void pattern(unsigned char *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(i * 7 + (i >> 8) + seed * 31);
}

static size_t records_for(size_t len)
{
	return (len + TLS_REC_MAX_PLAIN - 1) / TLS_REC_MAX_PLAIN;
}

/* ---- an independent record layer: forges what libssl never sends, reads what tls_rec sealed */

/*
 * RFC 8446 §5.2 and §7.1-7.3 written again without the product's code paths: HKDF-Expand-Label
 * as one HMAC (every output here fits in the first HKDF block) and one-shot AES-GCM per record.
 * test_reference_agrees_with_openssl checks it against libssl both ways.
 */
struct ref {
	const EVP_MD *md;
	const EVP_CIPHER *aead;
	size_t slen, klen;
	unsigned char secret[TLS_REC_SECRET_MAX], key[32], iv[12];
	uint64_t seq;
};

static void ref_expand(const struct ref *k, const char *label, unsigned char *out, size_t len)
{
	unsigned char info[64], t[EVP_MAX_MD_SIZE];
	size_t ll = strlen(label), n = 0;
	unsigned int tl = 0;

	info[n++] = 0;
	info[n++] = (unsigned char)len;
	info[n++] = (unsigned char)(6 + ll);
	memcpy(info + n, "tls13 ", 6);
	memcpy(info + n + 6, label, ll);
	n += 6 + ll;
	info[n++] = 0; /* empty context */
	info[n++] = 1; /* T(1) = HMAC(PRK, info | 0x01) */
	assert_non_null(HMAC(k->md, k->secret, (int)k->slen, info, n, t, &tl));
	assert_true(len <= tl);
	memcpy(out, t, len);
}

static void ref_keys(struct ref *k)
{
	ref_expand(k, "key", k->key, k->klen);
	ref_expand(k, "iv", k->iv, sizeof(k->iv));
	k->seq = 0;
}

static void ref_init(struct ref *k, const char *suite, const unsigned char *secret)
{
	bool big = !strcmp(suite, AES256);

	memset(k, 0, sizeof(*k));
	k->md = big ? EVP_sha384() : EVP_sha256();
	k->aead = big ? EVP_aes_256_gcm() : EVP_aes_128_gcm();
	k->slen = big ? 48 : 32;
	k->klen = big ? 32 : 16;
	memcpy(k->secret, secret, k->slen);
	ref_keys(k);
}

/* KeyUpdate (§7.2): the next secret, its keys, sequence 0. */
static void ref_update(struct ref *k)
{
	unsigned char next[TLS_REC_SECRET_MAX];

	ref_expand(k, "traffic upd", next, k->slen);
	memcpy(k->secret, next, k->slen);
	ref_keys(k);
}

static EVP_CIPHER_CTX *ref_ctx(const struct ref *k, bool enc, const unsigned char *hdr)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	unsigned char nonce[12];
	int n;

	memcpy(nonce, k->iv, 12);
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (unsigned char)(k->seq >> (8 * i));
	assert_non_null(ctx);
	assert_int_equal(EVP_CipherInit_ex(ctx, k->aead, NULL, k->key, nonce, enc), 1);
	assert_int_equal(EVP_CipherUpdate(ctx, NULL, &n, hdr, 5), 1); /* the header is the AAD */
	return ctx;
}

/* One record around `inner` (content, type byte, padding: laid out by the caller). */
static size_t ref_seal(struct ref *k, const unsigned char *inner, size_t len, unsigned char *out)
{
	size_t clen = len + 16;
	EVP_CIPHER_CTX *ctx;
	int n;

	out[0] = 23;
	out[1] = out[2] = 3;
	out[3] = (unsigned char)(clen >> 8);
	out[4] = (unsigned char)clen;
	ctx = ref_ctx(k, true, out);
	assert_int_equal(EVP_EncryptUpdate(ctx, out + 5, &n, inner, (int)len), 1);
	assert_int_equal(EVP_EncryptFinal_ex(ctx, out + 5 + len, &n), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, out + 5 + len), 1);
	EVP_CIPHER_CTX_free(ctx);
	k->seq++;
	return 5 + clen;
}

/* Open the record at rec (its header says how long): the inner plaintext's length into inner. */
static size_t ref_open(struct ref *k, const unsigned char *rec, unsigned char *inner)
{
	size_t len = ((size_t)rec[3] << 8 | rec[4]) - 16;
	EVP_CIPHER_CTX *ctx = ref_ctx(k, false, rec);
	unsigned char tag[16];
	int n;

	assert_int_equal(rec[0], 23);
	memcpy(tag, rec + 5 + len, 16);
	assert_int_equal(EVP_DecryptUpdate(ctx, inner, &n, rec + 5, (int)len), 1);
	assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag), 1);
	if (EVP_DecryptFinal_ex(ctx, inner + len, &n) != 1)
		fail_msg("reference: record at sequence %llu does not open",
			 (unsigned long long)k->seq);
	EVP_CIPHER_CTX_free(ctx);
	k->seq++;
	return len;
}

/* ---- a connection: the skiff side on tls_rec, the peer on libssl ---- */

/* What tls_rec_open returned on the skiff side, in order. */
struct got {
	unsigned char *data; /* DATA plaintext, concatenated */
	size_t len;
	char trail[80]; /* the first results: D(ata) S(kip) C(lose) E(rror) */
	size_t n;	/* results in all */
};

struct conn {
	SSL_CTX *cctx, *sctx;
	SSL *skiff_ssl, *peer; /* skiff's own SSL object only does the handshake */
	int skiff_fd, peer_fd;
	const char *suite;
	bool skiff_client;
	unsigned char tx[TLS_REC_SECRET_MAX], rx[TLS_REC_SECRET_MAX];
	unsigned char log_c[TLS_REC_SECRET_MAX], log_s[TLS_REC_SECRET_MAX]; /* keylog's finds */
	size_t slen, log_c_len, log_s_len;
	struct tls_rec r;
	unsigned char in[2 * TLS_REC_MAX_WIRE]; /* ciphertext read, not yet opened */
	size_t in_len;
	unsigned char *out; /* ciphertext sealed, not yet written */
	size_t out_len, out_off;
	struct got got;
};

static int unhex(const char *hex, unsigned char *out, size_t max)
{
	size_t n = strlen(hex) / 2;

	if (n > max)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (sscanf(hex + 2 * i, "%2hhx", &out[i]) != 1)
			return -1;
	return (int)n;
}

/* Keylog lines are "LABEL <client random> <secret>"; only the application secrets matter. */
static void keylog(const SSL *ssl, const char *line)
{
	struct conn *c = SSL_get_app_data(ssl);
	char label[64], rnd[80], hex[2 * TLS_REC_SECRET_MAX + 2];
	int n;

	if (!c || sscanf(line, "%63s %79s %97s", label, rnd, hex) != 3)
		return;
	if (!strcmp(label, "CLIENT_TRAFFIC_SECRET_0") &&
	    (n = unhex(hex, c->log_c, sizeof(c->log_c))) > 0)
		c->log_c_len = (size_t)n;
	if (!strcmp(label, "SERVER_TRAFFIC_SECRET_0") &&
	    (n = unhex(hex, c->log_s, sizeof(c->log_s))) > 0)
		c->log_s_len = (size_t)n;
}

static SSL_CTX *ctx_new(bool server, const char *suite, bool skiff)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION), 1);
	assert_int_equal(SSL_CTX_set_ciphersuites(ctx, suite), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (server) {
		assert_int_equal(SSL_CTX_use_certificate(ctx, tls_test_cert), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey(ctx, tls_test_key), 1);
	}
	if (skiff)
		SSL_CTX_set_keylog_callback(ctx, keylog);
	return ctx;
}

/* One step of a handshake; true once this side is done. */
static bool step(SSL *ssl, bool *ok)
{
	int r;

	if (*ok)
		return true;
	r = SSL_do_handshake(ssl);
	if (r == 1)
		return *ok = true;
	r = SSL_get_error(ssl, r);
	if (r != SSL_ERROR_WANT_READ && r != SSL_ERROR_WANT_WRITE)
		fail_msg("handshake: SSL error %d", r);
	return false;
}

static void handshake(struct conn *c)
{
	SSL *cl = c->skiff_client ? c->skiff_ssl : c->peer;
	SSL *sv = c->skiff_client ? c->peer : c->skiff_ssl;
	bool c_ok = false, s_ok = false;

	SSL_set_connect_state(cl);
	SSL_set_accept_state(sv);
	for (int i = 0; i < 100; i++) {
		bool c_done = step(cl, &c_ok);
		bool s_done = step(sv, &s_ok);

		if (c_done && s_done)
			break;
	}
	/* the server is done only once it has read the client's Finished */
	assert_true(c_ok && s_ok);
	assert_string_equal(SSL_CIPHER_get_name(SSL_get_current_cipher(c->skiff_ssl)), c->suite);
	/* read_ahead off: libssl holds none of the bytes that now belong to tls_rec */
	assert_int_equal(SSL_has_pending(c->skiff_ssl), 0);
}

/* Key tls_rec from the secrets keylog saw: the client sends under the client's secret. */
static void rec_reset(struct conn *c)
{
	tls_rec_free(&c->r);
	assert_int_equal(tls_rec_init(&c->r, c->suite, c->tx, c->rx, c->slen), 0);
	tls_rec_set_server(&c->r, !c->skiff_client);
}

static void got_reset(struct got *g)
{
	g->len = g->n = 0;
	memset(g->trail, 0, sizeof(g->trail));
}

static void skiff_drain(struct conn *c);

/*
 * A connected pair. The server sends no tickets when skiff is the server: libssl would write them
 * after the handover, under record numbers tls_rec does not know. When libssl is the server its
 * two default tickets wait on the wire, and the skiff client skips them here.
 */
static struct conn *conn_open(const char *suite, bool skiff_client)
{
	struct conn *c = calloc(1, sizeof(*c));
	int fd[2];

	assert_non_null(c);
	c->got.data = malloc(GOT_MAX);
	assert_non_null(c->got.data);
	c->suite = suite;
	c->skiff_client = skiff_client;
	c->cctx = ctx_new(false, suite, skiff_client);
	c->sctx = ctx_new(true, suite, !skiff_client);
	if (!skiff_client)
		assert_int_equal(SSL_CTX_set_num_tickets(c->sctx, 0), 1);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd), 0);
	c->skiff_fd = skiff_client ? fd[0] : fd[1];
	c->peer_fd = skiff_client ? fd[1] : fd[0];
	c->skiff_ssl = SSL_new(skiff_client ? c->cctx : c->sctx);
	c->peer = SSL_new(skiff_client ? c->sctx : c->cctx);
	assert_non_null(c->skiff_ssl);
	assert_non_null(c->peer);
	SSL_set_fd(c->skiff_ssl, c->skiff_fd);
	SSL_set_fd(c->peer, c->peer_fd);
	SSL_set_read_ahead(c->skiff_ssl, 0);
	SSL_set_app_data(c->skiff_ssl, c);
	handshake(c);

	c->slen = !strcmp(suite, AES256) ? 48 : 32;
	assert_int_equal(c->log_c_len, c->slen);
	assert_int_equal(c->log_s_len, c->slen);
	memcpy(c->tx, skiff_client ? c->log_c : c->log_s, c->slen);
	memcpy(c->rx, skiff_client ? c->log_s : c->log_c, c->slen);
	rec_reset(c);
	if (skiff_client) {
		skiff_drain(c);
		assert_string_equal(c->got.trail, "SS");
		got_reset(&c->got);
	}
	return c;
}

static void conn_close(struct conn *c)
{
	tls_rec_free(&c->r);
	SSL_free(c->skiff_ssl);
	SSL_free(c->peer);
	SSL_CTX_free(c->cctx);
	SSL_CTX_free(c->sctx);
	close(c->skiff_fd);
	close(c->peer_fd);
	free(c->out);
	free(c->got.data);
	free(c);
}

/* The four pairs every interop case runs: each suite, skiff as client and as server. */
static const struct {
	const char *suite;
	bool skiff_client;
} cfgs[] = {{AES128, true}, {AES128, false}, {AES256, true}, {AES256, false}};

#define N_CFGS (sizeof(cfgs) / sizeof(cfgs[0]))

static struct conn *conn_cfg(size_t i)
{
	return conn_open(cfgs[i].suite, cfgs[i].skiff_client);
}

/* ---- the skiff side: seal into a queue, write it; read the fd, open ---- */

static void got_log(struct got *g, enum tls_rec_result res, const unsigned char *p, size_t len)
{
	static const char letter[] = {'E', '?', 'D', 'S', 'C'};

	if (g->n < sizeof(g->trail) - 1)
		g->trail[g->n] = letter[res + 1];
	g->n++;
	if (res != TLS_REC_DATA)
		return;
	assert_true(g->len + len <= GOT_MAX);
	memcpy(g->data + g->len, p, len);
	g->len += len;
}

/* More ciphertext from the fd; false when there is none now. */
static bool fill(struct conn *c)
{
	ssize_t n;

	/* a full buffer and still MORE would mean a record over TLS_REC_MAX_WIRE was waited for */
	assert_true(c->in_len < sizeof(c->in));
	n = read(c->skiff_fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
	if (n < 0)
		assert_int_equal(errno, EAGAIN);
	if (n <= 0)
		return false;
	c->in_len += (size_t)n;
	return true;
}

/* Open every whole record the peer has sent so far; stops at an error (the end of a conn). */
static void skiff_drain(struct conn *c)
{
	for (;;) {
		size_t used = 0, off = 0, plen = 0;
		enum tls_rec_result res = tls_rec_open(&c->r, c->in, c->in_len, &used, &off, &plen);

		if (res == TLS_REC_MORE) {
			if (!fill(c))
				return;
			continue;
		}
		if (res == TLS_REC_ERR) {
			got_log(&c->got, res, NULL, 0);
			return;
		}
		assert_true(used >= 5 + 17 && used <= c->in_len);
		if (res == TLS_REC_DATA)
			assert_true(off >= 5 && off + plen <= used);
		got_log(&c->got, res, c->in + off, plen);
		memmove(c->in, c->in + used, c->in_len - used);
		c->in_len -= used;
	}
}

/*
 * Seal into the send queue and return what seal wrote. The queue grows by exactly
 * tls_rec_seal_bound(len) first, so writing past the bound is a heap overflow ASan reports.
 */
static ssize_t skiff_seal(struct conn *c, const void *in, size_t len)
{
	size_t bound = tls_rec_seal_bound(len);
	ssize_t n;

	c->out = realloc(c->out, c->out_len + bound);
	assert_non_null(c->out);
	n = tls_rec_seal(&c->r, in, len, c->out + c->out_len);
	assert_true(n >= 0 && (size_t)n <= bound);
	c->out_len += (size_t)n;
	return n;
}

/* Seal an alert into the send queue; what seal wrote. */
static ssize_t skiff_seal_alert(struct conn *c, int desc)
{
	ssize_t n;

	c->out = realloc(c->out, c->out_len + TLS_REC_ALERT_WIRE);
	assert_non_null(c->out);
	n = tls_rec_seal_alert(&c->r, (enum tls_alert)desc, c->out + c->out_len);
	assert_true(n > 0);
	c->out_len += (size_t)n;
	return n;
}

static void pump_out(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = write(c->skiff_fd, c->out + c->out_off, c->out_len - c->out_off);

		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			return;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
}

/* ---- the peer: libssl ---- */

/* SSL_read until exactly `want` bytes came, feeding it what skiff sealed as it goes. */
static void peer_recv(struct conn *c, unsigned char *buf, size_t want)
{
	size_t got = 0;

	while (got < want) {
		int n;

		pump_out(c);
		n = SSL_read(c->peer, buf + got, (int)(want - got));
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		assert_int_equal(SSL_get_error(c->peer, n), SSL_ERROR_WANT_READ);
		if (c->out_off == c->out_len)
			fail_msg("peer: %zu bytes short and skiff sent all it sealed", want - got);
	}
}

/* The peer read exactly what skiff sealed: nothing queued, nothing more to read. */
static void peer_idle(struct conn *c)
{
	unsigned char b;
	int n;

	pump_out(c);
	assert_int_equal(c->out_len, 0);
	n = SSL_read(c->peer, &b, 1);
	assert_true(n <= 0);
	assert_int_equal(SSL_get_error(c->peer, n), SSL_ERROR_WANT_READ);
}

/* SSL_write all of it, letting skiff open what fills the socket. */
static void peer_send(struct conn *c, const void *buf, size_t len)
{
	for (;;) {
		int n = SSL_write(c->peer, buf, (int)len);

		if (n > 0) {
			assert_int_equal(n, len);
			break;
		}
		assert_int_equal(SSL_get_error(c->peer, n), SSL_ERROR_WANT_WRITE);
		skiff_drain(c);
	}
	skiff_drain(c);
}

/* skiff seals `len` bytes of the pattern; the peer must read exactly them. */
static void skiff_to_peer(struct conn *c, size_t len, unsigned seed)
{
	unsigned char *want = malloc(len + 1), *got = malloc(len + 1);
	ssize_t n;

	assert_true(want && got);
	pattern(want, len, seed);
	n = skiff_seal(c, want, len);
	/* records as full as they go: 16384 bytes each, 22 bytes of overhead each */
	assert_int_equal(n, len + records_for(len) * TLS_REC_OVERHEAD);
	peer_recv(c, got, len);
	assert_memory_equal(got, want, len);
	peer_idle(c);
	free(want);
	free(got);
}

/* ---- the cases ---- */

static const size_t sizes[] = {1, 16384, 16385, BIG_PAYLOAD};

/* 1. skiff -> OpenSSL. */
static void test_skiff_to_openssl(void **state)
{
	unsigned char one = 'x';

	(void)state;
	for (size_t i = 0; i < N_CFGS; i++) {
		struct conn *c = conn_cfg(i);

		/* nothing to say and no KeyUpdate owed: no record at all */
		assert_int_equal(skiff_seal(c, &one, 0), 0);
		assert_int_equal(c->r.tx.seq, 0);
		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
			skiff_to_peer(c, sizes[k], (unsigned)k);
		/* 1 + 1 + 2 + 7 records */
		assert_int_equal(c->r.tx.seq, 11);
		conn_close(c);
	}
}

/* The seal size of a single record is exact: header, plaintext, type byte, tag. */
static void test_seal_sizes(void **state)
{
	static unsigned char buf[TLS_REC_MAX_PLAIN];
	static const size_t lens[] = {1, 2, 100, 16383, 16384};
	struct conn *c = conn_open(AES128, false);

	(void)state;
	pattern(buf, sizeof(buf), 9);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		assert_int_equal(skiff_seal(c, buf, lens[i]), 5 + lens[i] + 17);
		assert_true(tls_rec_seal_bound(lens[i]) >= 5 + lens[i] + 17);
	}
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		unsigned char got[TLS_REC_MAX_PLAIN];

		peer_recv(c, got, lens[i]);
		assert_memory_equal(got, buf, lens[i]);
	}
	peer_idle(c);
	conn_close(c);
}

/* The peer writes `len` bytes of the pattern; skiff must open exactly them, in `recs` records. */
static void peer_to_skiff(struct conn *c, size_t len, unsigned seed)
{
	unsigned char *want = malloc(len);
	uint64_t seq = c->r.rx.seq;

	assert_non_null(want);
	pattern(want, len, seed);
	got_reset(&c->got);
	peer_send(c, want, len);
	assert_int_equal(c->got.len, len);
	assert_memory_equal(c->got.data, want, len);
	/* libssl fills its records too: one DATA per 16384 bytes and nothing else */
	assert_int_equal(c->got.n, records_for(len));
	assert_int_equal(c->r.rx.seq, seq + records_for(len));
	assert_null(strchr(c->got.trail, 'S'));
	assert_int_equal(c->in_len, 0);
	free(want);
}

/* 2. OpenSSL -> skiff. (SSL_write cannot send 0 bytes, so there is no empty case this way.) */
static void test_openssl_to_skiff(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_CFGS; i++) {
		struct conn *c = conn_cfg(i);

		for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
			peer_to_skiff(c, sizes[k], (unsigned)k + 5);
		conn_close(c);
	}
}

/* Read exactly `len` raw ciphertext bytes from the skiff side's fd, bypassing tls_rec. */
static void raw_read(struct conn *c, unsigned char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(c->skiff_fd, buf + got, len - got);

		if (n <= 0)
			fail_msg("raw read: %zu of %zu bytes", got, len);
		got += (size_t)n;
	}
}

/* Open `len` bytes given in a heap copy of exactly that size (ASan sees any read past it). */
static enum tls_rec_result open_copy(struct tls_rec *r, const unsigned char *bytes, size_t len,
				     unsigned char *plain, size_t *plen, size_t *used)
{
	unsigned char *b = malloc(len ? len : 1);
	size_t off = 0;
	enum tls_rec_result res;

	assert_non_null(b);
	memcpy(b, bytes, len);
	*plen = *used = 0;
	res = tls_rec_open(r, b, len, used, &off, plen);
	if (res == TLS_REC_MORE)
		assert_memory_equal(b, bytes, len); /* waiting touches nothing */
	if (res == TLS_REC_DATA && plain)
		memcpy(plain, b + off, *plen);
	free(b);
	return res;
}

/*
 * Feed the record at the front of wire[0..len) one byte more each time: MORE until it is whole,
 * then DATA with `want`, taking only the record however much follows it.
 */
static void feed_bytewise(struct conn *c, const unsigned char *wire, size_t len, size_t rec,
			  const unsigned char *want, size_t want_len)
{
	unsigned char plain[TLS_REC_MAX_PLAIN];
	uint64_t seq = c->r.rx.seq;
	size_t plen, used;

	for (size_t k = 0; k < rec; k++)
		assert_int_equal(open_copy(&c->r, wire, k, NULL, &plen, &used), TLS_REC_MORE);
	assert_int_equal(c->r.rx.seq, seq);
	assert_int_equal(open_copy(&c->r, wire, len, plain, &plen, &used), TLS_REC_DATA);
	assert_int_equal(used, rec);
	assert_int_equal(plen, want_len);
	assert_memory_equal(plain, want, want_len);
	assert_int_equal(c->r.rx.seq, seq + 1);
}

/* 2b. Records fed one byte at a time. */
static void test_one_byte_at_a_time(void **state)
{
	unsigned char msg1[100], msg2[40], wire[2 * 5 + 140 + 2 * 17];
	const size_t rec1 = 5 + sizeof(msg1) + 17;

	(void)state;
	pattern(msg1, sizeof(msg1), 1);
	pattern(msg2, sizeof(msg2), 2);
	for (size_t i = 0; i < N_CFGS; i++) {
		struct conn *c = conn_cfg(i);

		assert_int_equal(SSL_write(c->peer, msg1, sizeof(msg1)), sizeof(msg1));
		assert_int_equal(SSL_write(c->peer, msg2, sizeof(msg2)), sizeof(msg2));
		raw_read(c, wire, sizeof(wire));
		/* the first record with 3 bytes of the next behind it, then the second alone */
		feed_bytewise(c, wire, rec1 + 3, rec1, msg1, sizeof(msg1));
		feed_bytewise(c, wire + rec1, sizeof(wire) - rec1, sizeof(wire) - rec1, msg2,
			      sizeof(msg2));
		conn_close(c);
	}
}

/* 3. 2000 records each way, each its own nonce. */
static void test_many_records(void **state)
{
	enum { N = 2000 };
	unsigned char msg[64], *want = malloc(N * sizeof(msg)), *got = malloc(N * sizeof(msg));

	(void)state;
	assert_true(want && got);
	for (size_t i = 0; i < N_CFGS; i++) {
		struct conn *c = conn_cfg(i);
		uint64_t seq = c->r.rx.seq; /* 2 on a client: the tickets */
		size_t total = 0;

		for (unsigned k = 0; k < N; k++) {
			size_t len = 1 + k % sizeof(msg);

			pattern(want + total, len, k);
			assert_int_equal(skiff_seal(c, want + total, len), len + 22);
			total += len;
			if (k % 100 == 99)
				pump_out(c);
		}
		peer_recv(c, got, total);
		assert_memory_equal(got, want, total);
		peer_idle(c);
		assert_int_equal(c->r.tx.seq, N);

		total = 0;
		for (unsigned k = 0; k < N; k++) {
			size_t len = 1 + (k * 13) % sizeof(msg);

			pattern(msg, len, k + 1);
			memcpy(want + total, msg, len);
			total += len;
			assert_int_equal(SSL_write(c->peer, msg, (int)len), len);
			if (k % 50 == 49)
				skiff_drain(c); /* before the socket fills */
		}
		skiff_drain(c);
		assert_int_equal(c->got.n, N);
		assert_int_equal(c->got.len, total);
		assert_memory_equal(c->got.data, want, total);
		assert_int_equal(c->r.rx.seq, seq + N);
		conn_close(c);
	}
	free(want);
	free(got);
}

/* skiff seals `msg` and the peer reads it: skiff's send key and libssl's read key agree. */
static void round_trip_out(struct conn *c, const char *msg, size_t expect_sealed)
{
	unsigned char buf[64];
	size_t len = strlen(msg);

	assert_int_equal(skiff_seal(c, msg, len), expect_sealed);
	peer_recv(c, buf, len);
	assert_memory_equal(buf, msg, len);
	peer_idle(c);
}

/* The peer writes `msg`; skiff must see exactly `trail` and then have `msg`. */
static void round_trip_in(struct conn *c, const char *msg, const char *trail)
{
	got_reset(&c->got);
	peer_send(c, msg, strlen(msg));
	assert_string_equal(c->got.trail, trail);
	assert_int_equal(c->got.len, strlen(msg));
	assert_memory_equal(c->got.data, msg, strlen(msg));
}

/* 4. The peer's KeyUpdate, asking for ours: skiff follows, owes one, and libssl reads it. */
static void test_peer_key_update_requested(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_CFGS; i++) {
		struct conn *c = conn_cfg(i);

		round_trip_in(c, "before", "D");
		assert_int_equal(SSL_key_update(c->peer, SSL_KEY_UPDATE_REQUESTED), 1);
		round_trip_in(c, "after the update", "SD");
		assert_int_equal(c->r.rx.seq, 1); /* the new key has opened one record */
		assert_true(tls_rec_pending(&c->r));
		/* a flush with nothing to say: exactly our KeyUpdate, under the old key */
		assert_int_equal(skiff_seal(c, NULL, 0), KU_WIRE);
		assert_false(tls_rec_pending(&c->r));
		assert_int_equal(c->r.tx.seq, 0);
		round_trip_out(c, "reply under the new key", 5 + 23 + 17);
		/* we answered "not requested": libssl sends no KeyUpdate back */
		round_trip_in(c, "no update back", "D");

		/* again, this time data straight away: the KeyUpdate goes in front of it */
		assert_int_equal(SSL_key_update(c->peer, SSL_KEY_UPDATE_REQUESTED), 1);
		round_trip_in(c, "second", "SD");
		assert_true(tls_rec_pending(&c->r));
		round_trip_out(c, "data first", KU_WIRE + 5 + 10 + 17);
		assert_false(tls_rec_pending(&c->r));
		assert_int_equal(c->r.tx.seq, 1);
		round_trip_in(c, "still fine", "D");
		conn_close(c);
	}
}

/* 4b. The peer's KeyUpdate without a request: skiff follows, owes nothing. Several in a row. */
static void test_peer_key_update_not_requested(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_CFGS; i++) {
		struct conn *c = conn_cfg(i);

		for (int k = 0; k < 3; k++) {
			assert_int_equal(SSL_key_update(c->peer, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
			round_trip_in(c, "updated", "SD");
			assert_false(tls_rec_pending(&c->r));
			assert_int_equal(skiff_seal(c, NULL, 0), 0);
			round_trip_out(c, "old send key", 5 + 12 + 17);
		}
		assert_int_equal(c->r.tx.seq, 3);
		conn_close(c);
	}
}

/*
 * 5. Our own KeyUpdate at the per-key limit. libssl cannot take part (its record numbers would
 * not match a sequence number jumped forward), so the reference layer reads what was sealed;
 * the KeyUpdate itself reaching libssl is case 4. tls_records.h: the send key is updated
 * "before a key has sealed 2^24 records", the KeyUpdate itself being one of them.
 */
static void key_update_at_limit(const char *suite)
{
	unsigned char tx[TLS_REC_SECRET_MAX], rx[TLS_REC_SECRET_MAX], inner[64];
	unsigned char out[3 * (5 + 1 + 17) + KU_WIRE + 64], data[8];
	size_t slen = !strcmp(suite, AES256) ? 48 : 32, w = 0, nd = 0, updates = 0;
	struct tls_rec r;
	struct ref ref;

	assert_int_equal(RAND_bytes(tx, sizeof(tx)), 1);
	assert_int_equal(RAND_bytes(rx, sizeof(rx)), 1);
	assert_int_equal(tls_rec_init(&r, suite, tx, rx, slen), 0);
	ref_init(&ref, suite, tx);
	r.tx.seq = ref.seq = KEY_LIMIT - 2;
	for (int k = 0; k < 3; k++) {
		ssize_t n = tls_rec_seal(&r, "abc" + k, 1, out + w);

		assert_true(n > 0 && (size_t)n <= tls_rec_seal_bound(1));
		w += (size_t)n;
	}
	assert_int_equal(w, 3 * (5 + 1 + 17) + KU_WIRE); /* three data records, one KeyUpdate */
	for (size_t p = 0; p < w; p += 5 + ((size_t)out[p + 3] << 8 | out[p + 4])) {
		size_t n;

		if (ref.seq >= KEY_LIMIT)
			fail_msg("%s: record sealed at sequence %llu, the key's %lluth", suite,
				 (unsigned long long)ref.seq, (unsigned long long)ref.seq + 1);
		n = ref_open(&ref, out + p, inner);
		if (inner[n - 1] == 22) {
			static const unsigned char ku[] = {24, 0, 0, 1, 0, 22}; /* not requested */

			assert_int_equal(n, sizeof(ku));
			assert_memory_equal(inner, ku, sizeof(ku));
			ref_update(&ref);
			updates++;
			continue;
		}
		assert_int_equal(n, 2);
		assert_int_equal(inner[1], 23);
		data[nd++] = inner[0];
	}
	assert_int_equal(updates, 1);
	assert_int_equal(nd, 3);
	assert_memory_equal(data, "abc", 3);
	assert_int_equal(r.tx.seq, ref.seq); /* and counting again from 0 */
	assert_true(r.tx.seq <= 2);
	tls_rec_free(&r);
}

static void test_own_key_update_at_limit(void **state)
{
	(void)state;
	key_update_at_limit(AES128);
	key_update_at_limit(AES256);
}

/* 6. NewSessionTicket: libssl's server sends two; the skiff client skips both, nothing else. */
static void test_session_tickets_skipped(void **state)
{
	const char *suites[] = {AES128, AES256};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct conn *c = conn_open(suites[i], true);

		/* conn_open saw "SS"; here only what follows: the tickets were records 0 and 1 */
		assert_int_equal(c->r.rx.seq, 2);
		assert_int_equal(c->in_len, 0);
		skiff_drain(c);
		assert_int_equal(c->got.n, 0); /* nothing more on the wire */
		round_trip_in(c, "after the tickets", "D");
		assert_int_equal(c->r.rx.seq, 3);
		round_trip_out(c, "and back", 5 + 8 + 17);
		conn_close(c);
	}
}

/* 7. close_notify is the end of the stream, after the data that came before it. */
static void test_close_notify(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_CFGS; i++) {
		struct conn *c = conn_cfg(i);

		assert_int_equal(SSL_write(c->peer, "last words", 10), 10);
		assert_int_equal(SSL_shutdown(c->peer), 0); /* sent ours, not yet seen theirs */
		got_reset(&c->got);
		skiff_drain(c);
		assert_string_equal(c->got.trail, "DC");
		assert_int_equal(c->got.len, 10);
		assert_memory_equal(c->got.data, "last words", 10);
		assert_int_equal(c->in_len, 0);
		conn_close(c);
	}
}

static void expect_open(struct conn *c, const unsigned char *bytes, size_t len,
			enum tls_rec_result want, const char *what)
{
	size_t plen, used;
	enum tls_rec_result res;

	rec_reset(c); /* a fresh receive side, at sequence 0, for every variant */
	res = open_copy(&c->r, bytes, len, NULL, &plen, &used);
	if (res != want)
		fail_msg("%s: tls_rec_open says %d, want %d", what, res, want);
}

/* A tampered copy of rec: byte `at` XOR `x`, `extra` bytes of zeros after it. */
static void expect_tampered(struct conn *c, const unsigned char *rec, size_t len, size_t at,
			    unsigned char x, size_t extra, enum tls_rec_result want,
			    const char *what)
{
	unsigned char b[64] = {0};

	assert_true(len + extra <= sizeof(b));
	memcpy(b, rec, len);
	b[at] ^= x;
	expect_open(c, b, len + extra, want, what);
}

/* 8. Records libssl sent, tampered with on the wire: refused (or waited for, if cut short). */
static void test_tampered_records(void **state)
{
	unsigned char rec[5 + 5 + 17], own[64];
	struct conn *c = conn_open(AES128, false); /* no tickets: "hello" is record 0 */
	size_t n = sizeof(rec), plen, used;

	(void)state;
	assert_int_equal(SSL_write(c->peer, "hello", 5), 5);
	raw_read(c, rec, n);
	expect_open(c, rec, n, TLS_REC_DATA, "the record as sent");
	expect_tampered(c, rec, n, 7, 0x10, 0, TLS_REC_ERR, "a ciphertext bit flipped");
	expect_tampered(c, rec, n, n - 1, 0x01, 0, TLS_REC_ERR, "a tag bit flipped");
	assert_int_equal(tls_rec_alert(&c->r), TLS_ALERT_BAD_RECORD_MAC);
	/* the header says 22 bytes follow; 21 makes the tag check fail, 23 waits for one more */
	expect_tampered(c, rec, n, 4, 22 ^ 21, 0, TLS_REC_ERR, "length 21, 22 bytes there");
	expect_tampered(c, rec, n, 4, 22 ^ 23, 0, TLS_REC_MORE, "length 23, 22 bytes there");
	expect_tampered(c, rec, n, 4, 22 ^ 23, 1, TLS_REC_ERR, "length 23, 23 bytes there");
	expect_tampered(c, rec, n, 0, 23 ^ 22, 0, TLS_REC_ERR, "outer type handshake");
	assert_int_equal(tls_rec_alert(&c->r), TLS_ALERT_UNEXPECTED_MESSAGE);
	expect_tampered(c, rec, n, 0, 23 ^ 21, 0, TLS_REC_ERR, "outer type alert");
	expect_tampered(c, rec, n, 0, 23 ^ 20, 0, TLS_REC_ERR, "outer type change_cipher_spec");
	expect_tampered(c, rec, n, 2, 3 ^ 1, 0, TLS_REC_ERR, "legacy version 0x0301");
	/* a replay: the same record twice on one receive side */
	rec_reset(c);
	assert_int_equal(open_copy(&c->r, rec, n, NULL, &plen, &used), TLS_REC_DATA);
	assert_int_equal(open_copy(&c->r, rec, n, NULL, &plen, &used), TLS_REC_ERR);
	/* a reflection: our own record, sealed under the other direction's key */
	assert_int_equal(tls_rec_seal(&c->r, "hello", 5, own), n);
	expect_open(c, own, n, TLS_REC_ERR, "our own record reflected");
	conn_close(c);
}

static void expect_raw(const unsigned char *bytes, size_t len, enum tls_rec_result want,
		       const char *what)
{
	unsigned char s[32];
	struct tls_rec r;
	size_t plen, used;
	enum tls_rec_result res;

	assert_int_equal(RAND_bytes(s, sizeof(s)), 1);
	assert_int_equal(tls_rec_init(&r, AES128, s, s, sizeof(s)), 0);
	res = open_copy(&r, bytes, len, NULL, &plen, &used);
	tls_rec_free(&r);
	if (res != want)
		fail_msg("%s: tls_rec_open says %d, want %d", what, res, want);
}

/* 8b. Headers no peer may send: too long is refused from the header alone, not waited for. */
static void test_malformed_headers(void **state)
{
	static const unsigned char too_long[] = {23, 3, 3, 0x41, 0x01}; /* 16384 + 256 + 1 */
	static const unsigned char longest[] = {23, 3, 3, 0x41, 0x00};	/* 16384 + 256 */
	static const unsigned char huge[] = {23, 3, 3, 0xff, 0xff};
	unsigned char short_rec[5 + 17] = {23, 3, 3, 0, 16};

	(void)state;
	expect_raw(too_long, sizeof(too_long), TLS_REC_ERR, "16641 bytes of ciphertext");
	expect_raw(huge, sizeof(huge), TLS_REC_ERR, "65535 bytes of ciphertext");
	expect_raw(longest, sizeof(longest), TLS_REC_MORE, "16640 bytes: the largest legal");
	/* shorter than a tag and a type byte, though whole */
	expect_raw(short_rec, sizeof(short_rec) - 1, TLS_REC_ERR, "16 bytes of ciphertext");
	short_rec[4] = 0;
	expect_raw(short_rec, 5, TLS_REC_ERR, "no ciphertext at all");
	short_rec[4] = 17;
	expect_raw(short_rec, sizeof(short_rec), TLS_REC_ERR, "17 bytes of zeros, forged");
}

/* One forged record from the peer's send secret, at sequence 0 of a fresh receive side. */
static enum tls_rec_result forged(struct conn *c, const void *inner, size_t len,
				  unsigned char *plain, size_t *plen)
{
	unsigned char *rec = malloc(len + 5 + 16);
	enum tls_rec_result res;
	struct ref ref;
	size_t used, n;

	assert_non_null(rec);
	ref_init(&ref, c->suite, c->rx);
	n = ref_seal(&ref, inner, len, rec);
	rec_reset(c);
	res = open_copy(&c->r, rec, n, plain, plen, &used);
	if (res != TLS_REC_MORE && res != TLS_REC_ERR)
		assert_int_equal(used, n);
	free(rec);
	return res;
}

static void expect_forged(struct conn *c, const void *inner, size_t len, enum tls_rec_result want,
			  const char *what)
{
	size_t plen;
	enum tls_rec_result res = forged(c, inner, len, NULL, &plen);

	if (res != want)
		fail_msg("%s: tls_rec_open says %d, want %d", what, res, want);
}

/* The reference layer and libssl agree both ways, so what it forges is what a peer could send. */
static void test_reference_agrees_with_openssl(void **state)
{
	unsigned char rec[64], inner[64], buf[16];

	(void)state;
	for (size_t i = 0; i < N_CFGS; i++) {
		struct conn *c = conn_cfg(i);
		uint64_t seq = c->skiff_client ? 2 : 0; /* after the tickets */
		struct ref in, out;
		size_t n;

		ref_init(&out, c->suite, c->tx);
		n = ref_seal(&out, (const unsigned char *)"reference\x17", 10, rec);
		assert_int_equal(write(c->skiff_fd, rec, n), n);
		peer_recv(c, buf, 9);
		assert_memory_equal(buf, "reference", 9);

		ref_init(&in, c->suite, c->rx);
		in.seq = seq;
		assert_int_equal(SSL_write(c->peer, "from libssl", 11), 11);
		raw_read(c, rec, 5 + 11 + 17);
		assert_int_equal(ref_open(&in, rec, inner), 12);
		assert_memory_equal(inner, "from libssl\x17", 12);
		conn_close(c);
	}
}

/* 8c. Inner plaintexts libssl never sends: padding, an empty record, the size limit. */
static void test_forged_data(void **state)
{
	static unsigned char inner[TLS_REC_MAX_PLAIN + 2];
	unsigned char plain[TLS_REC_MAX_PLAIN];
	struct conn *c = conn_open(AES256, true);
	size_t plen;

	(void)state;
	assert_int_equal(forged(c, "hi\x17\0\0\0\0\0\0\0\0\0\0", 13, plain, &plen), TLS_REC_DATA);
	assert_int_equal(plen, 2); /* the padding and the type byte are not data */
	assert_memory_equal(plain, "hi", 2);
	assert_int_equal(forged(c, "\x17", 1, plain, &plen), TLS_REC_DATA);
	assert_int_equal(plen, 0);
	pattern(inner, TLS_REC_MAX_PLAIN, 3);
	inner[TLS_REC_MAX_PLAIN] = 23;
	assert_int_equal(forged(c, inner, TLS_REC_MAX_PLAIN + 1, plain, &plen), TLS_REC_DATA);
	assert_int_equal(plen, TLS_REC_MAX_PLAIN);
	assert_memory_equal(plain, inner, TLS_REC_MAX_PLAIN);
	inner[TLS_REC_MAX_PLAIN] = 1;
	inner[TLS_REC_MAX_PLAIN + 1] = 23;
	expect_forged(c, inner, TLS_REC_MAX_PLAIN + 2, TLS_REC_ERR, "16385 bytes of data");
	memset(inner, 0, 40);
	expect_forged(c, inner, 40, TLS_REC_ERR, "all padding, no content type");
	conn_close(c);
}

/* 8d. Alerts and post-handshake messages: only close_notify, user_canceled, tickets, KeyUpdate. */
static void test_forged_messages(void **state)
{
	struct conn *c = conn_open(AES128, true);

	(void)state;
	expect_forged(c, "\x01\x00\x15", 3, TLS_REC_CLOSE, "close_notify");
	expect_forged(c, "\x01\x5a\x15", 3, TLS_REC_SKIP, "user_canceled");
	expect_forged(c, "\x02\x28\x15", 3, TLS_REC_ERR, "a fatal alert");
	assert_int_equal(tls_rec_alert(&c->r), -1); /* a fatal alert is not answered */
	expect_forged(c, "\x01\x00\x00\x15", 4, TLS_REC_ERR, "a 3-byte alert");
	expect_forged(c, "\x01\x14", 2, TLS_REC_ERR, "inner type change_cipher_spec");
	expect_forged(c, "\x01\x18", 2, TLS_REC_ERR, "inner type 24");
	expect_forged(c, "\x04\x00\x00\x01\x00\x16", 6, TLS_REC_SKIP, "a (tiny) ticket");
	expect_forged(c, "\x0d\x00\x00\x00\x16", 5, TLS_REC_ERR, "a CertificateRequest");
	expect_forged(c, "\x04\x00\x00\x64\x00\x16", 6, TLS_REC_ERR, "a ticket split in two");
	expect_forged(c, "\x04\x00\x00\x16", 4, TLS_REC_ERR, "a cut handshake header");
	expect_forged(c, "\x18\x00\x00\x01\x02\x16", 6, TLS_REC_ERR, "KeyUpdate, request 2");
	assert_int_equal(tls_rec_alert(&c->r), TLS_ALERT_ILLEGAL_PARAMETER);
	expect_forged(c, "\x18\x00\x00\x02\x00\x00\x16", 7, TLS_REC_ERR, "KeyUpdate, 2 bytes");
	expect_forged(c, "\x18\x00\x00\x01\x00\x04\x00\x00\x00\x16", 10, TLS_REC_ERR,
		      "a ticket after a KeyUpdate in its record");
	conn_close(c);
}

/* 8e. A ticket and a KeyUpdate coalesced in one record (to a client): both honoured, the key
 * moves on. */
static void test_forged_coalesced(void **state)
{
	static const unsigned char two[] = {4, 0, 0, 2, 0xaa, 0xbb, 24, 0, 0, 1, 1, 22};
	unsigned char rec[64], plain[16];
	struct conn *c = conn_open(AES128, true);
	size_t n, plen, used;
	struct ref ref;

	(void)state;
	rec_reset(c); /* sequence 0 again: the reference starts there */
	ref_init(&ref, c->suite, c->rx);
	n = ref_seal(&ref, two, sizeof(two), rec);
	assert_int_equal(open_copy(&c->r, rec, n, NULL, &plen, &used), TLS_REC_SKIP);
	assert_true(tls_rec_pending(&c->r)); /* it asked for ours */
	ref_update(&ref);
	n = ref_seal(&ref, (const unsigned char *)"new\x17", 4, rec);
	assert_int_equal(open_copy(&c->r, rec, n, plain, &plen, &used), TLS_REC_DATA);
	assert_int_equal(plen, 3);
	assert_memory_equal(plain, "new", 3);
	conn_close(c);
}

/* The peer's libssl reads one alert skiff sealed: SSL_read fails with `reason` (an alert received:
 * SSL_AD_REASON_OFFSET + its description), or returns 0 for close_notify. */
static void peer_reads_alert(struct conn *c, int desc)
{
	unsigned char b[16];
	int n;

	pump_out(c);
	ERR_clear_error();
	n = SSL_read(c->peer, b, sizeof(b));
	assert_true(n <= 0);
	if (desc == TLS_ALERT_CLOSE_NOTIFY) {
		assert_int_equal(SSL_get_error(c->peer, n), SSL_ERROR_ZERO_RETURN);
		return;
	}
	assert_int_equal(SSL_get_error(c->peer, n), SSL_ERROR_SSL);
	assert_int_equal(ERR_GET_REASON(ERR_peek_error()), SSL_AD_REASON_OFFSET + desc);
	ERR_clear_error();
}

/* 10. KeyUpdates in a row: 32 are honoured, the 33rd is refused with unexpected_message (libssl's
 * limit); data in between starts the count again. */
static void test_key_update_flood(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_CFGS; i++) {
		struct conn *c = conn_cfg(i);
		char want[80];

		round_trip_in(c, "first", "D"); /* a client has skipped two tickets: count from 0 */
		for (int round = 0; round < 2; round++) {
			for (int k = 0; k < TLS_REC_NODATA_MAX - 1; k++) {
				assert_int_equal(
				    SSL_key_update(c->peer, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
				assert_int_equal(SSL_do_handshake(c->peer), 1);
			}
			memset(want, 'S', TLS_REC_NODATA_MAX - 1);
			strcpy(want + TLS_REC_NODATA_MAX - 1, "D");
			round_trip_in(c, "data between", want);
		}
		got_reset(&c->got);
		for (int k = 0; k < 200; k++) {
			assert_int_equal(SSL_key_update(c->peer, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
			assert_int_equal(SSL_do_handshake(c->peer), 1);
		}
		skiff_drain(c); /* 200 records of 27 bytes: all in the socket's buffer */
		memset(want, 'S', TLS_REC_NODATA_MAX);
		strcpy(want + TLS_REC_NODATA_MAX, "E");
		assert_string_equal(c->got.trail, want); /* the first error ends the drain */
		assert_int_equal(tls_rec_alert(&c->r), TLS_ALERT_UNEXPECTED_MESSAGE);
		assert_int_equal(skiff_seal_alert(c, tls_rec_alert(&c->r)), TLS_REC_ALERT_WIRE);
		peer_reads_alert(c, TLS_ALERT_UNEXPECTED_MESSAGE);
		conn_close(c);
	}
}

/* 11. 100 empty records (forged: libssl never sends one): 32 pass as empty data, then refused. */
static void test_empty_record_flood(void **state)
{
	unsigned char rec[64];
	struct conn *c = conn_open(AES128, false);
	struct ref ref;
	size_t k, n, plen, used;

	(void)state;
	rec_reset(c);
	ref_init(&ref, c->suite, c->rx);
	for (k = 0; k < 100; k++) {
		enum tls_rec_result res;

		n = ref_seal(&ref, (const unsigned char *)"\x17", 1, rec);
		assert_int_equal(n, 5 + 1 + 16);
		res = open_copy(&c->r, rec, n, NULL, &plen, &used);
		if (res != TLS_REC_DATA)
			break;
		assert_int_equal(plen, 0);
	}
	assert_int_equal(k, TLS_REC_NODATA_MAX);
	assert_int_equal(tls_rec_alert(&c->r), TLS_ALERT_UNEXPECTED_MESSAGE);
	/* a byte of data in between starts the count again */
	rec_reset(c);
	ref_init(&ref, c->suite, c->rx);
	for (k = 0; k < 100; k++) {
		bool data = k % TLS_REC_NODATA_MAX == TLS_REC_NODATA_MAX - 1;

		n = ref_seal(&ref, (const unsigned char *)(data ? "x\x17" : "\x17"), data ? 2 : 1,
			     rec);
		assert_int_equal(open_copy(&c->r, rec, n, NULL, &plen, &used), TLS_REC_DATA);
		assert_int_equal(plen, data ? 1 : 0);
	}
	conn_close(c);
}

/* 12. A NewSessionTicket sent to a server: refused, and the unexpected_message alert skiff seals
 * for it is on the wire, read by the reference layer and by the peer's libssl. */
static void test_ticket_to_server(void **state)
{
	static const unsigned char ticket[] = {4, 0, 0, 1, 0, 22};
	unsigned char rec[64], inner[64];
	struct conn *c = conn_open(AES256, false);
	struct ref out;
	size_t n;

	(void)state;
	expect_forged(c, ticket, sizeof(ticket), TLS_REC_ERR, "a ticket to the server");
	assert_int_equal(tls_rec_alert(&c->r), TLS_ALERT_UNEXPECTED_MESSAGE);
	assert_int_equal(tls_rec_seal_alert(&c->r, TLS_ALERT_UNEXPECTED_MESSAGE, rec),
			 TLS_REC_ALERT_WIRE);
	ref_init(&out, c->suite, c->tx);
	n = ref_open(&out, rec, inner);
	assert_int_equal(n, 3);
	assert_memory_equal(inner, "\x02\x0a\x15", 3); /* fatal, unexpected_message, alert */
	/* and the same bytes reach libssl, which reports the alert */
	assert_int_equal(write(c->skiff_fd, rec, TLS_REC_ALERT_WIRE), TLS_REC_ALERT_WIRE);
	peer_reads_alert(c, TLS_ALERT_UNEXPECTED_MESSAGE);
	conn_close(c);
}

/* 13. close_notify sealed by skiff: libssl sees the orderly end (SSL_ERROR_ZERO_RETURN). */
static void test_close_notify_sent(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_CFGS; i++) {
		struct conn *c = conn_cfg(i);

		round_trip_out(c, "bye", 5 + 4 + 16);
		assert_int_equal(skiff_seal_alert(c, TLS_ALERT_CLOSE_NOTIFY), TLS_REC_ALERT_WIRE);
		peer_reads_alert(c, TLS_ALERT_CLOSE_NOTIFY);
		conn_close(c);
	}
}

/* 14. The send key dropped (the kernel sends): nothing more is sealed, the secret is gone, and
 * the receive side still works. */
static void test_drop_tx(void **state)
{
	static const unsigned char zero[TLS_REC_SECRET_MAX];
	unsigned char out[256];
	struct conn *c = conn_open(AES128, false);

	(void)state;
	tls_rec_drop_tx(&c->r);
	assert_null(c->r.tx.ctx);
	assert_memory_equal(c->r.tx.secret, zero, sizeof(zero));
	assert_int_equal(tls_rec_seal(&c->r, "x", 1, out), -1);
	assert_int_equal(tls_rec_seal(&c->r, NULL, 0, out), -1);
	assert_int_equal(tls_rec_seal_alert(&c->r, TLS_ALERT_CLOSE_NOTIFY, out), -1);
	round_trip_in(c, "still received", "D");
	/* a peer asking for our KeyUpdate: noted, though nothing here can send it */
	assert_int_equal(SSL_key_update(c->peer, SSL_KEY_UPDATE_REQUESTED), 1);
	round_trip_in(c, "after", "SD");
	conn_close(c);
}

/* 9. Only the AES-GCM suites; secrets of the wrong size; free is idempotent and wipes. */
static void test_init_and_free(void **state)
{
	static const unsigned char zero[sizeof(struct tls_rec)];
	unsigned char s[64] = {1};
	struct tls_rec r;

	(void)state;
	memset(&r, 0, sizeof(r));
	tls_rec_free(&r); /* zeroed: safe */
	assert_int_equal(tls_rec_init(&r, "TLS_CHACHA20_POLY1305_SHA256", s, s, 32), -EOPNOTSUPP);
	tls_rec_free(&r);
	assert_int_equal(tls_rec_init(&r, "TLS_AES_128_CCM_SHA256", s, s, 32), -EOPNOTSUPP);
	tls_rec_free(&r);
	assert_true(tls_rec_init(&r, AES128, s, s, 48) < 0);
	tls_rec_free(&r);
	assert_true(tls_rec_init(&r, AES256, s, s, 64) < 0);
	tls_rec_free(&r);
	assert_int_equal(tls_rec_init(&r, AES256, s, s, 48), 0);
	assert_non_null(r.tx.ctx);
	tls_rec_free(&r);
	assert_memory_equal(&r, zero, sizeof(r)); /* secrets, IVs, pointers: all gone */
	tls_rec_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reference_agrees_with_openssl),
	    cmocka_unit_test(test_skiff_to_openssl),
	    cmocka_unit_test(test_seal_sizes),
	    cmocka_unit_test(test_openssl_to_skiff),
	    cmocka_unit_test(test_one_byte_at_a_time),
	    cmocka_unit_test(test_many_records),
	    cmocka_unit_test(test_peer_key_update_requested),
	    cmocka_unit_test(test_peer_key_update_not_requested),
	    cmocka_unit_test(test_own_key_update_at_limit),
	    cmocka_unit_test(test_session_tickets_skipped),
	    cmocka_unit_test(test_close_notify),
	    cmocka_unit_test(test_tampered_records),
	    cmocka_unit_test(test_malformed_headers),
	    cmocka_unit_test(test_forged_data),
	    cmocka_unit_test(test_forged_messages),
	    cmocka_unit_test(test_forged_coalesced),
	    cmocka_unit_test(test_init_and_free),
	    cmocka_unit_test(test_key_update_flood),
	    cmocka_unit_test(test_empty_record_flood),
	    cmocka_unit_test(test_ticket_to_server),
	    cmocka_unit_test(test_close_notify_sent),
	    cmocka_unit_test(test_drop_tx),
	};

	return cmocka_run_group_tests(tests, tls_test_cert_setup, tls_test_cert_teardown);
}
