// SPDX-License-Identifier: Apache-2.0
/*
 * An HBONE server connection (hbone_conn.c, driven through hbone_conn_event as the proxy's loop
 * drives it) against a libssl client on a socketpair, both with mesh contexts from
 * identity_tls_ctx(): what the connection does with TLS once the handshake is done.
 *
 * - skiffd's own record layer takes the records, and the SSL (with libssl's copies of the
 *   handshake's secrets) is freed once the peer is verified.
 * - An end that is skiffd's choice (here: bytes that are no HTTP/2 preface) is said with
 *   close_notify: the client sees an orderly TLS end, not a cut connection.
 * - 40 KeyUpdates in a row from the client: the 33rd is refused and the client reads the
 *   unexpected_message alert skiffd sent.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <openssl/err.h>

#include "hbone/hbone_internal.h"
#include "unit/identity_test.h"

static struct identity_ca ca;
static struct identity_cert server_cert, client_cert;
static SSL_CTX *server_ctx, *client_ctx;

static SSL_CTX *ctx_of(const char *ns, const char *sa, struct identity_cert *c)
{
	struct identity_err err = {{0}};
	SSL_CTX *ctx;

	mint_at(&ca, ns, sa, time(NULL), DAY, c);
	ctx = identity_tls_ctx(&ca, c, "h2", &err);
	if (!ctx)
		fail_msg("identity_tls_ctx: %s", err.msg);
	return ctx;
}

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN); /* libssl answers a cut connection with an alert: no death */
	ca_make_at(&ca, time(NULL) - DAY, IDENTITY_CA_TTL);
	server_ctx = ctx_of(IDENTITY_AGENT_NS, IDENTITY_AGENT_SA, &server_cert);
	client_ctx = ctx_of("frontend", "web", &client_cert);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	SSL_CTX_free(server_ctx);
	SSL_CTX_free(client_ctx);
	identity_cert_free(&server_cert);
	identity_cert_free(&client_cert);
	identity_ca_free(&ca);
	return 0;
}

struct pair {
	struct proxy p;
	struct hb_conn *c; /* skiffd's side */
	SSL *client;
	int cfd;
};

/* A handshake between an HBONE server connection and a libssl client. */
static void pair_open(struct pair *t)
{
	int fd[2];
	bool client_done = false;

	memset(t, 0, sizeof(*t));
	t->p.epfd = -1; /* no loop: events are handed in below */
	t->p.o.hbone_ktls_off = true;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd), 0);
	t->cfd = fd[0];
	t->c = hb_conn_new(&t->p, fd[1], true, server_ctx);
	assert_non_null(t->c);
	t->client = SSL_new(client_ctx);
	SSL_set_fd(t->client, t->cfd);
	SSL_set_connect_state(t->client);
	for (int i = 0; i < 20 && (t->c->handshaking || !client_done); i++) {
		int r = SSL_do_handshake(t->client);

		if (r == 1)
			client_done = true;
		else
			assert_int_equal(SSL_get_error(t->client, r), SSL_ERROR_WANT_READ);
		hbone_conn_event(t->c, EPOLLIN | EPOLLOUT);
		assert_false(t->c->gone);
	}
	assert_true(client_done);
	assert_false(t->c->handshaking);
}

static void pair_close(struct pair *t)
{
	if (!t->c->gone)
		hbone_conn_close(t->c);
	for (size_t i = 0; i < t->p.ngrave; i++)
		free(t->p.graveyard[i]);
	free(t->p.graveyard);
	SSL_free(t->client);
	close(t->cfd);
}

/* The client reads until TLS says something other than data; SSL_get_error's verdict. */
static int client_read_to_end(struct pair *t)
{
	unsigned char buf[4096];

	for (int i = 0; i < 100; i++) {
		int n = SSL_read(t->client, buf, sizeof(buf));

		if (n <= 0)
			return SSL_get_error(t->client, n);
	}
	return -1;
}

static void test_records_taken_ssl_freed(void **state)
{
	struct pair t;

	(void)state;
	pair_open(&t);
	assert_non_null(t.c->rec);
	assert_null(t.c->ssl); /* and with it libssl's copies of the secrets */
	assert_int_equal(t.p.stats.hbone_records, 1);
	assert_string_equal(t.c->peer_id, "spiffe://cluster.local/ns/frontend/sa/web");
	pair_close(&t);
}

static void test_close_notify_on_close(void **state)
{
	struct pair t;

	(void)state;
	pair_open(&t);
	assert_int_equal(SSL_write(t.client, "GET / HTTP/1.1\r\n\r\n", 18), 18);
	hbone_conn_event(t.c, EPOLLIN);
	assert_true(t.c->gone); /* not HTTP/2: skiffd ended it */
	assert_int_equal(client_read_to_end(&t), SSL_ERROR_ZERO_RETURN);
	pair_close(&t);
}

static void test_key_update_flood_alert(void **state)
{
	struct pair t;

	(void)state;
	pair_open(&t);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(SSL_key_update(t.client, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
		assert_int_equal(SSL_do_handshake(t.client), 1);
	}
	hbone_conn_event(t.c, EPOLLIN);
	assert_true(t.c->gone);
	ERR_clear_error();
	assert_int_equal(client_read_to_end(&t), SSL_ERROR_SSL);
	assert_int_equal(ERR_GET_REASON(ERR_peek_error()),
			 SSL_AD_REASON_OFFSET + TLS_ALERT_UNEXPECTED_MESSAGE);
	ERR_clear_error();
	pair_close(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_records_taken_ssl_freed),
	    cmocka_unit_test(test_close_notify_on_close),
	    cmocka_unit_test(test_key_update_flood_alert),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
