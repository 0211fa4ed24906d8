// SPDX-License-Identifier: Apache-2.0
/*
 * Real TLS handshakes between contexts from identity_tls_ctx(), over a socketpair, both ends
 * driven from this thread: mutual authentication between two workloads of one mesh (each side
 * sees the other's SPIFFE ID, TLS 1.3, an AES-GCM suite, ALPN), and refusal, with the reason on
 * the refusing side, of a peer from another CA, an expired peer, a peer without a certificate,
 * a TLS 1.2 peer and a peer that offers no AES-GCM suite. A connection made before a rotation
 * keeps working after the store has let go of the credentials it was made with.
 */
#include <fcntl.h>
#include <sys/socket.h>

#include <openssl/err.h>

#include "unit/identity_test.h"

static struct identity_ca ca, other;

static int setup(void **state)
{
	(void)state;
	ca_make_at(&ca, time(NULL) - 30 * DAY, IDENTITY_CA_TTL);
	ca_make_at(&other, time(NULL) - 30 * DAY, IDENTITY_CA_TTL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	identity_ca_free(&ca);
	identity_ca_free(&other);
	return 0;
}

struct tls_pair {
	SSL *c, *s;
	int fd[2];
	bool c_ok, s_ok; /* handshake completed */
};

/* One step of a handshake; true when this side is finished (done or failed). */
static bool step(SSL *ssl, bool *ok, bool *failed)
{
	int r;

	if (*ok || *failed)
		return true;
	r = SSL_do_handshake(ssl);
	if (r == 1)
		*ok = true;
	else if (SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ &&
		 SSL_get_error(ssl, r) != SSL_ERROR_WANT_WRITE)
		*failed = true;
	return *ok || *failed;
}

/* Connect a client on `cctx` to a server on `sctx`; afterwards c_ok/s_ok say who finished. */
static void pair_open(struct tls_pair *p, SSL_CTX *cctx, SSL_CTX *sctx)
{
	bool c_fail = false, s_fail = false;

	memset(p, 0, sizeof(*p));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p->fd), 0);
	p->c = SSL_new(cctx);
	p->s = SSL_new(sctx);
	assert_non_null(p->c);
	assert_non_null(p->s);
	SSL_set_fd(p->c, p->fd[0]);
	SSL_set_fd(p->s, p->fd[1]);
	SSL_set_connect_state(p->c);
	SSL_set_accept_state(p->s);
	for (int i = 0; i < 100; i++) {
		bool c_done = step(p->c, &p->c_ok, &c_fail);
		bool s_done = step(p->s, &p->s_ok, &s_fail);

		if (c_done && s_done)
			break;
	}
	ERR_clear_error();
}

static void pair_close(struct tls_pair *p)
{
	SSL_free(p->c);
	SSL_free(p->s);
	close(p->fd[0]);
	close(p->fd[1]);
}

/* Bytes both ways through the established connection. */
static void exchange(struct tls_pair *p, const char *msg)
{
	char buf[64];
	int n = (int)strlen(msg);

	assert_int_equal(SSL_write(p->c, msg, n), n);
	assert_int_equal(SSL_read(p->s, buf, sizeof(buf)), n);
	assert_memory_equal(buf, msg, n);
	assert_int_equal(SSL_write(p->s, msg, n), n);
	assert_int_equal(SSL_read(p->c, buf, sizeof(buf)), n);
	assert_memory_equal(buf, msg, n);
}

static SSL_CTX *ctx_for(const struct identity_ca *signer, const char *ns, const char *sa,
			time_t minted, long ttl, struct identity_cert *c)
{
	struct identity_err err = {{0}};
	SSL_CTX *ctx;

	mint_at(signer, ns, sa, minted, ttl, c);
	/* the trust anchor is always the mesh root; only the signer of the leaf varies */
	ctx = identity_tls_ctx(&ca, c, "h2", &err);
	if (!ctx)
		fail_msg("identity_tls_ctx: %s", err.msg);
	return ctx;
}

static void expect_peer(SSL *ssl, const char *ns, const char *sa)
{
	struct spiffe_id id;
	enum identity_verdict v = identity_tls_peer(ssl, &id);

	if (v != ID_VERIFY_OK)
		fail_msg("peer: %s", identity_verdict_str(v));
	assert_string_equal(id.trust_domain, "cluster.local");
	assert_string_equal(id.ns, ns);
	assert_string_equal(id.sa, sa);
}

static void test_mutual_auth(void **state)
{
	struct identity_cert cc, sc;
	SSL_CTX *cctx = ctx_for(&ca, "frontend", "web", time(NULL), DAY, &cc);
	SSL_CTX *sctx = ctx_for(&ca, "payments", "api", time(NULL), DAY, &sc);
	const unsigned char *alpn;
	unsigned int alpn_len;
	const char *suite;
	struct tls_pair p;

	(void)state;
	pair_open(&p, cctx, sctx);
	assert_true(p.c_ok);
	assert_true(p.s_ok);
	expect_peer(p.c, "payments", "api"); /* the client sees the server's identity */
	expect_peer(p.s, "frontend", "web"); /* and the server the client's */
	assert_int_equal(SSL_version(p.c), TLS1_3_VERSION);
	suite = SSL_CIPHER_get_name(SSL_get_current_cipher(p.c));
	assert_true(!strcmp(suite, "TLS_AES_128_GCM_SHA256") ||
		    !strcmp(suite, "TLS_AES_256_GCM_SHA384"));
	SSL_get0_alpn_selected(p.s, &alpn, &alpn_len);
	assert_int_equal(alpn_len, 2);
	assert_memory_equal(alpn, "h2", 2);
	/* only the leaf is sent: the peer has the root */
	assert_int_equal(sk_X509_num(SSL_get_peer_cert_chain(p.c)), 1);
	exchange(&p, "hello over mTLS");
	pair_close(&p);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	identity_cert_free(&cc);
	identity_cert_free(&sc);
}

static void expect_refused(SSL *ssl, bool finished, enum identity_verdict want)
{
	struct spiffe_id id;
	enum identity_verdict v = identity_tls_peer(ssl, &id);

	assert_false(finished);
	if (v != want)
		fail_msg("refused for \"%s\", want \"%s\"", identity_verdict_str(v),
			 identity_verdict_str(want));
}

/* A client whose certificate another CA signed: the server refuses it and says why. */
static void test_client_from_other_ca(void **state)
{
	struct identity_cert cc, sc;
	SSL_CTX *cctx = ctx_for(&other, "frontend", "web", time(NULL), DAY, &cc);
	SSL_CTX *sctx = ctx_for(&ca, "payments", "api", time(NULL), DAY, &sc);
	struct tls_pair p;
	char buf[8];

	(void)state;
	pair_open(&p, cctx, sctx);
	expect_refused(p.s, p.s_ok, ID_VERIFY_UNTRUSTED);
	/* TLS 1.3: the client finished first; the server's alert reaches its next read */
	assert_true(SSL_read(p.c, buf, sizeof(buf)) <= 0);
	pair_close(&p);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	identity_cert_free(&cc);
	identity_cert_free(&sc);
}

/* A server whose certificate another CA signed: the client refuses it. */
static void test_server_from_other_ca(void **state)
{
	struct identity_cert cc, sc;
	SSL_CTX *cctx = ctx_for(&ca, "frontend", "web", time(NULL), DAY, &cc);
	SSL_CTX *sctx = ctx_for(&other, "payments", "api", time(NULL), DAY, &sc);
	struct tls_pair p;

	(void)state;
	pair_open(&p, cctx, sctx);
	expect_refused(p.c, p.c_ok, ID_VERIFY_UNTRUSTED);
	assert_false(p.s_ok);
	pair_close(&p);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	identity_cert_free(&cc);
	identity_cert_free(&sc);
}

static void test_expired_client(void **state)
{
	struct identity_cert cc, sc;
	SSL_CTX *cctx = ctx_for(&ca, "frontend", "web", time(NULL) - 2 * DAY, DAY, &cc);
	SSL_CTX *sctx = ctx_for(&ca, "payments", "api", time(NULL), DAY, &sc);
	struct tls_pair p;

	(void)state;
	pair_open(&p, cctx, sctx);
	expect_refused(p.s, p.s_ok, ID_VERIFY_EXPIRED);
	pair_close(&p);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	identity_cert_free(&cc);
	identity_cert_free(&sc);
}

/* A client with a certificate the mesh root signed but with no SPIFFE ID. */
static void test_client_without_spiffe_id(void **state)
{
	struct identity_cert sc;
	SSL_CTX *sctx = ctx_for(&ca, "payments", "api", time(NULL), DAY, &sc);
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	EVP_PKEY *key;
	X509 *x = leaf_with_san(&ca, "DNS:frontend.example", &key);
	struct tls_pair p;

	(void)state;
	assert_int_equal(SSL_CTX_use_certificate(cctx, x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(cctx, key), 1);
	pair_open(&p, cctx, sctx);
	expect_refused(p.s, p.s_ok, ID_VERIFY_NO_URI_SAN);
	pair_close(&p);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	X509_free(x);
	EVP_PKEY_free(key);
	identity_cert_free(&sc);
}

/* Plain OpenSSL clients: no certificate; TLS 1.2 only; ChaCha20 only. All refused. */
static void test_plain_clients_refused(void **state)
{
	struct identity_cert sc;
	SSL_CTX *sctx = ctx_for(&ca, "payments", "api", time(NULL), DAY, &sc);
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	struct tls_pair p;

	(void)state;
	pair_open(&p, cctx, sctx);
	expect_refused(p.s, p.s_ok, ID_VERIFY_NO_CERT);
	pair_close(&p);

	assert_int_equal(SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION), 1);
	pair_open(&p, cctx, sctx);
	assert_false(p.s_ok);
	assert_false(p.c_ok);
	pair_close(&p);

	assert_int_equal(SSL_CTX_set_max_proto_version(cctx, TLS1_3_VERSION), 1);
	assert_int_equal(SSL_CTX_set_ciphersuites(cctx, "TLS_CHACHA20_POLY1305_SHA256"), 1);
	pair_open(&p, cctx, sctx);
	assert_false(p.s_ok);
	assert_false(p.c_ok);
	pair_close(&p);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	identity_cert_free(&sc);
}

/* Rotation does not touch established connections: the store replaces and then frees the
 * credentials a connection was made with, and the connection still carries bytes. Times: the
 * first generation is minted so that it is valid now and the second rotation falls 30 s from
 * now, inside the clock-skew margin, so the third generation is valid for a real handshake. */
static void test_connection_survives_rotation(void **state)
{
	const long ttl = 3600;
	const time_t now = time(NULL), t1 = now - ttl + 30;
	struct identity_store s;
	struct identity_store_opts o = {.ttl = ttl, .alpn = "h2"};
	const struct identity_workload *cw, *sw;
	struct tls_pair p, q;

	(void)state;
	assert_int_equal(identity_store_init(&s, &ca, &o, NULL), 0);
	cw = identity_store_get(&s, "frontend", "web", t1, NULL);
	sw = identity_store_get(&s, "payments", "api", t1, NULL);
	assert_non_null(cw);
	assert_non_null(sw);
	pair_open(&p, cw->cur.tls, sw->cur.tls);
	assert_true(p.c_ok && p.s_ok);
	/* two rotations: the first generation is replaced, then released by the store */
	assert_int_equal(identity_store_rotate(&s, t1 + ttl / 2, NULL), 2);
	assert_int_equal(identity_store_rotate(&s, t1 + ttl, NULL), 2);
	exchange(&p, "still here");
	expect_peer(p.s, "frontend", "web");
	/* and new connections use the newest generation */
	pair_open(&q, cw->cur.tls, sw->cur.tls);
	assert_true(q.c_ok && q.s_ok);
	exchange(&q, "new");
	assert_int_equal(X509_cmp(SSL_get0_peer_certificate(q.s), cw->cur.cert.cert), 0);
	assert_int_not_equal(X509_cmp(SSL_get0_peer_certificate(p.s), cw->cur.cert.cert), 0);
	pair_close(&q);
	pair_close(&p);
	identity_store_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mutual_auth),
	    cmocka_unit_test(test_client_from_other_ca),
	    cmocka_unit_test(test_server_from_other_ca),
	    cmocka_unit_test(test_expired_client),
	    cmocka_unit_test(test_client_without_spiffe_id),
	    cmocka_unit_test(test_plain_clients_refused),
	    cmocka_unit_test(test_connection_survives_rotation),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
