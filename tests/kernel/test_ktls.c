// SPDX-License-Identifier: Apache-2.0
/*
 * kTLS on the running kernel, through OpenSSL 3 as skiff's mTLS path will use it: a TLS 1.3 and
 * a TLS 1.2 session over TCP on 127.0.0.1 in a private network namespace, with a self-signed
 * ECDSA P-256 certificate made in-process (no files), SSL_OP_ENABLE_KTLS on both ends.
 *
 *   - TLS 1.3 (TLS_AES_128_GCM_SHA256): the kernel encrypts what both ends send (OpenSSL 3.0
 *     offloads TLS 1.3 send only; receive is printed, not asserted).
 *   - TLS 1.2 (ECDHE-ECDSA-AES128-GCM-SHA256): the kernel encrypts and decrypts, both ends.
 *   - 4 MiB each way, compared by SHA-256, and the kernel's own counters (/proc/net/tls_stat of
 *     the namespace) must show the offloaded sessions.
 *   - A kTLS socket cannot join a sockhash (EINVAL), while a plain one can; and a socket in a
 *     sockhash cannot be given kTLS keys (EINVAL): why the mTLS fast path splices to the kTLS
 *     socket instead of redirecting with sk_msg.
 *
 * Needs kTLS (the "tls" ULP): without it every case skips with the reason (tests/feature_probe.h),
 * or fails when SKIFF_EXPECT_FEATURES lists ktls (vmtests/guest.sh does, for Debian's 6.1).
 */
#include <errno.h>
#include <linux/tls.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "feature_probe.h"
#include "tls_test_cert.h"

#define PAYLOAD	   (4u << 20)
#define CHUNK	   (64u << 10)
#define SERVER_DNS TLS_TEST_DNS /* the shared certificate's name (tls_test_cert.h) */

/* ---------- one session: two ends on a loopback TCP pair ---------- */

struct end {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	bool server;
	bool ok;
	bool ktls_send, ktls_recv;
	unsigned char digest[EVP_MAX_MD_SIZE]; /* of what it received */
	unsigned int digest_len;
};

struct session {
	struct end client, server;
	int version;
};

static SSL_CTX *ctx_new(bool server, int version)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, version);
	SSL_CTX_set_max_proto_version(ctx, version);
	SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (version == TLS1_2_VERSION)
		SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256");
	else
		SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256");
	if (server) {
		if (SSL_CTX_use_certificate(ctx, tls_test_cert) != 1 ||
		    SSL_CTX_use_PrivateKey(ctx, tls_test_key) != 1)
			goto fail;
	} else {
		/* The client trusts exactly this certificate and checks the name in it. */
		if (X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), tls_test_cert) != 1)
			goto fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static void *handshake(void *arg)
{
	struct end *e = arg;
	int r = e->server ? SSL_accept(e->ssl) : SSL_connect(e->ssl);

	e->ok = r == 1;
	if (!e->ok) {
		fprintf(stderr, "%s handshake failed\n", e->server ? "server" : "client");
		ERR_print_errors_fp(stderr);
		return NULL;
	}
	e->ktls_send = BIO_get_ktls_send(SSL_get_wbio(e->ssl));
	e->ktls_recv = BIO_get_ktls_recv(SSL_get_rbio(e->ssl));
	return NULL;
}

static void end_close(struct end *e)
{
	SSL_free(e->ssl);
	SSL_CTX_free(e->ctx);
	if (e->fd >= 0)
		close(e->fd);
	e->ssl = NULL;
	e->ctx = NULL;
	e->fd = -1;
}

static void session_close(struct session *s)
{
	end_close(&s->client);
	end_close(&s->server);
}

/* Both ends handshaken (the server in a thread), or false. */
static bool session_open(struct session *s, int version)
{
	int fds[2];
	pthread_t t;

	memset(s, 0, sizeof(*s));
	s->version = version;
	s->client.fd = s->server.fd = -1;
	s->server.server = true;
	if (feature_tcp_pair(fds))
		return false;
	s->client.fd = fds[0];
	s->server.fd = fds[1];
	s->client.ctx = ctx_new(false, version);
	s->server.ctx = ctx_new(true, version);
	if (!s->client.ctx || !s->server.ctx)
		goto fail;
	s->client.ssl = SSL_new(s->client.ctx);
	s->server.ssl = SSL_new(s->server.ctx);
	if (!s->client.ssl || !s->server.ssl || !SSL_set_fd(s->client.ssl, s->client.fd) ||
	    !SSL_set_fd(s->server.ssl, s->server.fd) || !SSL_set1_host(s->client.ssl, SERVER_DNS))
		goto fail;
	if (pthread_create(&t, NULL, handshake, &s->server))
		goto fail;
	handshake(&s->client);
	pthread_join(t, NULL);
	if (!s->client.ok || !s->server.ok)
		goto fail;
	return true;
fail:
	ERR_print_errors_fp(stderr);
	session_close(s);
	return false;
}

/* ---------- moving bytes ---------- */

/* PAYLOAD pseudo-random bytes, different per seed. */
static unsigned char *payload(uint64_t seed)
{
	unsigned char *p = malloc(PAYLOAD);
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; p && i < PAYLOAD; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
	return p;
}

static bool send_all(SSL *ssl, const unsigned char *p, size_t len)
{
	size_t done = 0, n;

	while (done < len) {
		if (!SSL_write_ex(ssl, p + done, len - done < CHUNK ? len - done : CHUNK, &n))
			return false;
		done += n;
	}
	return true;
}

/* Reads exactly len bytes, hashing them into e->digest. */
static bool recv_all(struct end *e, size_t len)
{
	static __thread unsigned char buf[CHUNK];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t done = 0, n;
	bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);

	while (ok && done < len) {
		ok = SSL_read_ex(e->ssl, buf, len - done < CHUNK ? len - done : CHUNK, &n) &&
		     EVP_DigestUpdate(md, buf, n);
		done += n;
	}
	ok = ok && EVP_DigestFinal_ex(md, e->digest, &e->digest_len);
	EVP_MD_CTX_free(md);
	return ok;
}

struct server_job {
	struct end *e;
	const unsigned char *reply;
	bool ok;
};

/* The server: reads the client's payload, then sends its own. */
static void *serve(void *arg)
{
	struct server_job *j = arg;

	j->ok = recv_all(j->e, PAYLOAD) && send_all(j->e->ssl, j->reply, PAYLOAD);
	return NULL;
}

static void sha256(const unsigned char *p, size_t len, unsigned char *out, unsigned int *out_len)
{
	assert_true(EVP_Digest(p, len, out, out_len, EVP_sha256(), NULL));
}

/* PAYLOAD bytes each way, one direction after the other; each side's SHA-256 must match. */
static void exchange_and_compare(struct session *s)
{
	unsigned char *up = payload(1), *down = payload(2);
	unsigned char want[EVP_MAX_MD_SIZE];
	struct server_job job = {.e = &s->server, .reply = down};
	unsigned int want_len;
	pthread_t t;
	bool sent;

	assert_non_null(up);
	assert_non_null(down);
	assert_int_equal(pthread_create(&t, NULL, serve, &job), 0);
	sent = send_all(s->client.ssl, up, PAYLOAD) && recv_all(&s->client, PAYLOAD);
	pthread_join(t, NULL);
	if (!sent || !job.ok)
		ERR_print_errors_fp(stderr);
	assert_true(sent);
	assert_true(job.ok);
	sha256(up, PAYLOAD, want, &want_len);
	assert_int_equal(s->server.digest_len, want_len);
	assert_memory_equal(s->server.digest, want, want_len);
	sha256(down, PAYLOAD, want, &want_len);
	assert_int_equal(s->client.digest_len, want_len);
	assert_memory_equal(s->client.digest, want, want_len);
	printf("# %u MiB each way, SHA-256 equal on both ends\n", PAYLOAD >> 20);
	free(up);
	free(down);
}

/* ---------- the kernel's side ---------- */

/* A counter of this network namespace's /proc/net/tls_stat (e.g. TlsTxSw), or -1. */
static long tls_stat(const char *name)
{
	char line[128], key[64];
	long v, found = -1;
	FILE *f = fopen("/proc/self/net/tls_stat", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %ld", key, &v) == 2 && !strcmp(key, name))
			found = v;
	if (f)
		fclose(f);
	return found;
}

static bool ulp_is_tls(int fd)
{
	char ulp[16] = "";
	socklen_t len = sizeof(ulp);

	return !getsockopt(fd, SOL_TCP, TCP_ULP, ulp, &len) && !strcmp(ulp, "tls");
}

/* ---------- cases ---------- */

static void test_ktls_tls13(void **state)
{
	struct session s;
	long tx0, tx1;

	(void)state;
	FEATURE_REQUIRE("ktls", feature_probe_ktls);
	tx0 = tls_stat("TlsTxSw");
	assert_true(session_open(&s, TLS1_3_VERSION));
	tx1 = tls_stat("TlsTxSw");
	printf("# TLS 1.3: kTLS send client %d server %d, receive client %d server %d "
	       "(OpenSSL 3.0 offloads TLS 1.3 send only)\n",
	       s.client.ktls_send, s.server.ktls_send, s.client.ktls_recv, s.server.ktls_recv);
	printf("# TlsTxSw %ld -> %ld\n", tx0, tx1);
	assert_true(s.client.ktls_send);
	assert_true(s.server.ktls_send);
	assert_true(ulp_is_tls(s.client.fd));
	assert_true(ulp_is_tls(s.server.fd));
	/* The kernel counts the two transmit offloads in this namespace. */
	assert_true(tx0 >= 0);
	assert_int_equal(tx1 - tx0, 2);
	exchange_and_compare(&s);
	session_close(&s);
}

static void test_ktls_tls12(void **state)
{
	struct session s;
	long tx0, rx0, tx1, rx1;

	(void)state;
	FEATURE_REQUIRE("ktls", feature_probe_ktls);
	tx0 = tls_stat("TlsTxSw");
	rx0 = tls_stat("TlsRxSw");
	assert_true(session_open(&s, TLS1_2_VERSION));
	tx1 = tls_stat("TlsTxSw");
	rx1 = tls_stat("TlsRxSw");
	printf("# TLS 1.2: kTLS send client %d server %d, receive client %d server %d\n",
	       s.client.ktls_send, s.server.ktls_send, s.client.ktls_recv, s.server.ktls_recv);
	printf("# TlsTxSw %ld -> %ld, TlsRxSw %ld -> %ld\n", tx0, tx1, rx0, rx1);
	assert_true(s.client.ktls_send);
	assert_true(s.server.ktls_send);
	assert_true(s.client.ktls_recv);
	assert_true(s.server.ktls_recv);
	assert_true(tx0 >= 0 && rx0 >= 0);
	assert_int_equal(tx1 - tx0, 2);
	assert_int_equal(rx1 - rx0, 2);
	exchange_and_compare(&s);
	session_close(&s);
}

/*
 * Kernel TLS for TLS 1.2 AES-GCM-128 transmit on fd, with an all-zero key (the kernel does not
 * judge keys; nothing is sent with it): 0 or an errno. fd must have the tls ULP.
 */
static int ktls_tx_keys(int fd)
{
	struct tls12_crypto_info_aes_gcm_128 ci = {
	    .info = {.version = TLS_1_2_VERSION, .cipher_type = TLS_CIPHER_AES_GCM_128},
	};

	return setsockopt(fd, SOL_TLS, TLS_TX, &ci, sizeof(ci)) ? errno : 0;
}

/*
 * A socket cannot be kTLS and in a sockhash at once (current stable kernels), either way round:
 *   - adding a kTLS socket to a sockhash gives EINVAL; a plain established socket goes into the
 *     same map, so the map is not the reason;
 *   - a socket in a sockhash cannot be given kTLS keys: on 6.1 the tls ULP attaches, and TLS_TX
 *     gives EINVAL (a kernel that refuses the ULP itself with EINVAL passes too); a socket
 *     outside the map takes the same keys.
 */
static void test_ktls_socket_not_in_sockhash(void **state)
{
	struct session s;
	__u32 k_plain = 1, k_tls = 2;
	int map, fds[2], out[2], err, ulp;

	(void)state;
	FEATURE_REQUIRE("ktls", feature_probe_ktls);
	map =
	    bpf_map_create(BPF_MAP_TYPE_SOCKHASH, "ktls_test", sizeof(__u32), sizeof(int), 8, NULL);
	assert_true(map >= 0);
	assert_int_equal(feature_tcp_pair(fds), 0);
	assert_int_equal(bpf_map_update_elem(map, &k_plain, &fds[0], BPF_ANY), 0);

	assert_true(session_open(&s, TLS1_2_VERSION));
	assert_true(s.client.ktls_send && s.client.ktls_recv);
	err = bpf_map_update_elem(map, &k_tls, &s.client.fd, BPF_ANY) ? errno : 0;
	printf("# plain socket into a sockhash: ok; kTLS socket: %s\n",
	       err ? strerror(err) : "accepted");
	assert_int_equal(err, EINVAL);
	session_close(&s);

	/* The other way round: fds[0] is in the map. */
	ulp = setsockopt(fds[0], SOL_TCP, TCP_ULP, "tls", sizeof("tls")) ? errno : 0;
	err = ulp ? ulp : ktls_tx_keys(fds[0]);
	printf("# socket in a sockhash: tls ULP %s, kTLS keys %s\n",
	       ulp ? strerror(ulp) : "attached",
	       ulp ? "not tried" : (err ? strerror(err) : "accepted"));
	assert_int_equal(err, EINVAL);
	/* ... while a socket outside any map takes the same keys. */
	assert_int_equal(feature_tcp_pair(out), 0);
	assert_int_equal(setsockopt(out[0], SOL_TCP, TCP_ULP, "tls", sizeof("tls")), 0);
	assert_int_equal(ktls_tx_keys(out[0]), 0);
	close(out[0]);
	close(out[1]);
	close(fds[0]);
	close(fds[1]);
	close(map);
}

/* ---------- setup ---------- */

/* A private network namespace with lo up: nothing this test does is seen outside it. */
static int netns_private(void)
{
	struct ifreq ifr = {.ifr_name = "lo"};
	int fd, err;

	if (unshare(CLONE_NEWNET))
		return -1;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	err = ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	err = err ?: ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	return err;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ktls_tls13),
	    cmocka_unit_test(test_ktls_tls12),
	    cmocka_unit_test(test_ktls_socket_not_in_sockhash),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_ktls: needs root (a private network namespace, BPF maps)\n");
		return 1;
	}
	if (netns_private()) {
		fprintf(stderr, "test_ktls: cannot make a private network namespace: %s\n",
			strerror(errno));
		return 1;
	}
	return cmocka_run_group_tests(tests, tls_test_cert_setup, tls_test_cert_teardown);
}
