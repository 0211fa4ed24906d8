// SPDX-License-Identifier: Apache-2.0
/*
 * skiffd's mesh TLS against real `openssl s_server` and `openssl s_client` peers on loopback,
 * with certificates made here for every way a peer can be wrong. skiffd's side is an SSL from
 * identity_tls_ctx(), as HBONE uses it: as a client it presents a workload identity and pins the
 * server to skiffd's own (spiffe://cluster.local/ns/skiff-system/sa/skiffd); as a server it
 * presents skiffd's identity and accepts any workload of the mesh.
 *
 * Refused, each with its own verdict on skiffd's side: expired, not yet valid, signed by another
 * CA, self-signed, a CA:TRUE leaf, a keyUsage without digitalSignature, an extendedKeyUsage
 * without the peer's role, no keyUsage at all, another trust domain, two URI SANs, a valid
 * workload where skiffd was expected (the pin), no certificate, and TLS 1.2 (so no
 * renegotiation either). Accepted: the right identities, both ways.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "unit/identity_test.h"

#define SKIFFD_URI   "URI:spiffe://cluster.local/ns/skiff-system/sa/skiffd"
#define WORKLOAD_URI "URI:spiffe://cluster.local/ns/frontend/sa/web"
#define GOOD_BC	     "critical,CA:FALSE"
#define GOOD_KU	     "critical,digitalSignature,keyEncipherment"
#define GOOD_EKU     "serverAuth,clientAuth"

static char dir[64];
static struct identity_ca ca, other;
static struct identity_cert skiffd, workload;
static SSL_CTX *server_ctx, *client_ctx;

/* A peer's certificate: who signs it (NULL: itself), its validity and its extensions (NULL:
 * absent). Written as DIR/<name>.crt and DIR/<name>.key for openssl to present. */
struct leaf {
	const char *name;
	const struct identity_ca *signer;
	long nb, na; /* notBefore, notAfter: seconds from now */
	const char *bc, *ku, *eku, *san;
};

static void write_pem(const char *name, const char *ext, X509 *x, EVP_PKEY *key)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(
	    x ? PEM_write_X509(f, x) : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
}

static void leaf_write(const struct leaf *l)
{
	struct id_ext exts[5];
	size_t n = 0;
	time_t now = time(NULL);
	EVP_PKEY *key = id_key_new();
	X509 *x = id_x509_new(key, now + l->nb, now + l->na), *issuer;

	assert_non_null(x);
	if (l->signer) {
		issuer = l->signer->cert;
		assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(issuer)), 1);
	} else { /* self-signed: its own subject and issuer */
		X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
					   (const unsigned char *)l->name, -1, -1, 0);
		assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
		issuer = x;
	}
	if (l->bc)
		exts[n++] = (struct id_ext){NID_basic_constraints, l->bc};
	if (l->ku)
		exts[n++] = (struct id_ext){NID_key_usage, l->ku};
	if (l->eku)
		exts[n++] = (struct id_ext){NID_ext_key_usage, l->eku};
	if (l->san)
		exts[n++] = (struct id_ext){NID_subject_alt_name, l->san};
	if (l->signer)
		exts[n++] = (struct id_ext){NID_authority_key_identifier, "keyid:always"};
	assert_int_equal(id_x509_add_exts(x, issuer, exts, n), 0);
	assert_int_not_equal(X509_sign(x, l->signer ? l->signer->key : key, EVP_sha256()), 0);
	write_pem(l->name, "crt", x, NULL);
	write_pem(l->name, "key", NULL, key);
	X509_free(x);
	EVP_PKEY_free(key);
}

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
	signal(SIGPIPE, SIG_IGN);
	tmpdir_make(dir);
	ca_make_at(&ca, time(NULL) - 30 * DAY, IDENTITY_CA_TTL);
	ca_make_at(&other, time(NULL) - 30 * DAY, IDENTITY_CA_TTL);
	assert_int_equal(identity_ca_save(&ca, dir, false, NULL), 0);
	server_ctx = ctx_of(IDENTITY_AGENT_NS, IDENTITY_AGENT_SA, &skiffd);
	client_ctx = ctx_of("frontend", "web", &workload);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	SSL_CTX_free(server_ctx);
	SSL_CTX_free(client_ctx);
	identity_cert_free(&skiffd);
	identity_cert_free(&workload);
	identity_ca_free(&ca);
	identity_ca_free(&other);
	tmpdir_remove(dir);
	return 0;
}

/* ---- the openssl peer: a child process, its output collected ---- */

struct peer {
	pid_t pid;
	int out; /* its stdout and stderr */
	int in;	 /* its stdin, held open: s_server ends at EOF there */
	char text[16384];
	size_t len;
};

static void peer_start(struct peer *p, const char *cmd)
{
	int fd[2], in[2];

	memset(p, 0, sizeof(*p));
	assert_int_equal(pipe2(fd, O_CLOEXEC), 0);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (!p->pid) {
		dup2(in[0], 0);
		dup2(fd[1], 1);
		dup2(fd[1], 2);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	close(in[0]);
	p->out = fd[0];
	p->in = in[1];
}

/* Read its output for up to `ms`; true once `want` appeared in it. */
static bool peer_wait_for(struct peer *p, const char *want, int ms)
{
	struct pollfd pfd = {.fd = p->out, .events = POLLIN};

	while (!strstr(p->text, want)) {
		ssize_t n;

		if (poll(&pfd, 1, ms) <= 0)
			return false;
		n = read(p->out, p->text + p->len, sizeof(p->text) - 1 - p->len);
		if (n <= 0)
			return false;
		p->len += (size_t)n;
		p->text[p->len] = '\0';
	}
	return true;
}

static void peer_end(struct peer *p)
{
	close(p->in); /* s_server: EOF, the end */
	p->in = -1;
	peer_wait_for(p, "\x01 never printed", 2000); /* the rest of its output, until it exits */
	kill(p->pid, SIGTERM);
	waitpid(p->pid, NULL, 0);
	close(p->out);
}

static int listen_any(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void timeouts(int fd)
{
	struct timeval tv = {.tv_sec = 5};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* ---- skiffd as the client, `openssl s_server` presenting `leaf` ---- */

struct result {
	bool ok;		 /* skiffd's handshake completed */
	enum identity_verdict v; /* skiffd's verdict on the peer */
	struct spiffe_id id;
	struct peer peer;
};

static void against_server(const char *leaf, const char *version, struct result *r)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	char cmd[1024];
	int lfd, fd, port;
	SSL *ssl;

	/* a port that was free a moment ago: the server binds it again (SO_REUSEADDR) */
	lfd = listen_any(&port);
	close(lfd);
	snprintf(cmd, sizeof(cmd),
		 "exec openssl s_server -accept 127.0.0.1:%d -naccept 1 %s -alpn h2 "
		 "-cert %s/%s.crt -key %s/%s.key -CAfile %s/ca.crt -verify 1",
		 port, version, dir, leaf, dir, leaf, dir);
	peer_start(&r->peer, cmd);
	if (!peer_wait_for(&r->peer, "ACCEPT", 5000))
		fail_msg("s_server did not start: %s", r->peer.text);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_port = htons(port);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	timeouts(fd);
	ssl = SSL_new(client_ctx);
	assert_non_null(ssl);
	assert_int_equal(identity_tls_pin(ssl, IDENTITY_AGENT_NS, IDENTITY_AGENT_SA), 0);
	SSL_set_fd(ssl, fd);
	r->ok = SSL_connect(ssl) == 1;
	r->v = identity_tls_peer(ssl, &r->id);
	if (r->ok)
		SSL_shutdown(ssl);
	ERR_clear_error();
	SSL_free(ssl);
	close(fd);
	peer_end(&r->peer);
}

/* ---- skiffd as the server, `openssl s_client` presenting `leaf` (NULL: none) ---- */

static void against_client(const char *leaf, const char *version, struct result *r)
{
	char cmd[1024], cert[256] = "";
	struct pollfd pfd;
	int lfd, fd, port;
	SSL *ssl;

	lfd = listen_any(&port);
	if (leaf)
		snprintf(cert, sizeof(cert), "-cert %s/%s.crt -key %s/%s.key", dir, leaf, dir,
			 leaf);
	snprintf(cmd, sizeof(cmd),
		 "exec openssl s_client -connect 127.0.0.1:%d %s -alpn h2 %s -CAfile %s/ca.crt "
		 "</dev/null",
		 port, version, cert, dir);
	peer_start(&r->peer, cmd);
	pfd = (struct pollfd){.fd = lfd, .events = POLLIN};
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(fd >= 0);
	close(lfd);
	timeouts(fd);
	ssl = SSL_new(server_ctx);
	assert_non_null(ssl);
	SSL_set_fd(ssl, fd);
	r->ok = SSL_accept(ssl) == 1;
	/* TLS 1.3: the client's certificate and Finished were read before SSL_accept returned */
	r->v = identity_tls_peer(ssl, &r->id);
	ERR_clear_error();
	SSL_free(ssl);
	close(fd);
	peer_end(&r->peer);
}

static void expect(const struct result *r, bool ok, enum identity_verdict v, const char *what)
{
	if (r->ok != ok || r->v != v)
		fail_msg(
		    "%s: handshake %s, verdict \"%s\"; want %s, \"%s\"\nopenssl said:\n%.2000s",
		    what, r->ok ? "done" : "failed", identity_verdict_str(r->v),
		    ok ? "done" : "failed", identity_verdict_str(v), r->peer.text);
}

/* The certificates of the cases below (valid for a day from a minute ago unless stated). */
static const struct leaf leaves[] = {
    {"skiffd", &ca, -60, DAY, GOOD_BC, GOOD_KU, GOOD_EKU, SKIFFD_URI},
    {"workload", &ca, -60, DAY, GOOD_BC, GOOD_KU, GOOD_EKU, WORKLOAD_URI},
    {"expired", &ca, -2 * DAY, -DAY, GOOD_BC, GOOD_KU, GOOD_EKU, SKIFFD_URI},
    {"future", &ca, DAY, 2 * DAY, GOOD_BC, GOOD_KU, GOOD_EKU, SKIFFD_URI},
    {"other-ca", &other, -60, DAY, GOOD_BC, GOOD_KU, GOOD_EKU, SKIFFD_URI},
    {"self-signed", NULL, -60, DAY, GOOD_BC, GOOD_KU, GOOD_EKU, SKIFFD_URI},
    {"ca-leaf", &ca, -60, DAY, "critical,CA:TRUE", "critical,digitalSignature,keyCertSign",
     GOOD_EKU, SKIFFD_URI},
    {"ku-no-sign", &ca, -60, DAY, GOOD_BC, "critical,keyEncipherment", GOOD_EKU, SKIFFD_URI},
    {"ku-none", &ca, -60, DAY, GOOD_BC, NULL, GOOD_EKU, SKIFFD_URI},
    {"eku-client", &ca, -60, DAY, GOOD_BC, GOOD_KU, "clientAuth", SKIFFD_URI},
    {"eku-server", &ca, -60, DAY, GOOD_BC, GOOD_KU, "serverAuth", WORKLOAD_URI},
    {"other-td", &ca, -60, DAY, GOOD_BC, GOOD_KU, GOOD_EKU,
     "URI:spiffe://evil.example/ns/skiff-system/sa/skiffd"},
    {"two-uris", &ca, -60, DAY, GOOD_BC, GOOD_KU, GOOD_EKU, SKIFFD_URI "," WORKLOAD_URI},
};

static void test_make_leaves(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++)
		leaf_write(&leaves[i]);
}

/* skiffd connects to a peer node: only skiffd's identity, whole and valid, will do. */
static void test_client_accepts_skiffd(void **state)
{
	struct result r;

	(void)state;
	against_server("skiffd", "-tls1_3", &r);
	expect(&r, true, ID_VERIFY_OK, "skiffd's certificate");
	assert_string_equal(r.id.ns, IDENTITY_AGENT_NS);
	assert_string_equal(r.id.sa, IDENTITY_AGENT_SA);
}

static void test_client_refuses_bad_servers(void **state)
{
	static const struct {
		const char *leaf;
		enum identity_verdict v;
	} cases[] = {
	    {"expired", ID_VERIFY_EXPIRED},
	    {"future", ID_VERIFY_NOT_YET_VALID},
	    {"other-ca", ID_VERIFY_UNTRUSTED},
	    {"self-signed", ID_VERIFY_UNTRUSTED},
	    {"ca-leaf", ID_VERIFY_CA_AS_LEAF},
	    {"ku-no-sign", ID_VERIFY_KEY_USAGE},
	    {"ku-none", ID_VERIFY_KEY_USAGE},
	    {"eku-client", ID_VERIFY_KEY_USAGE},
	    {"other-td", ID_VERIFY_OTHER_TRUST_DOMAIN},
	    {"two-uris", ID_VERIFY_MULTIPLE_URI_SANS},
	    {"workload", ID_VERIFY_WRONG_PEER}, /* valid, of the mesh, but not a node */
	};
	struct result r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		against_server(cases[i].leaf, "-tls1_3", &r);
		expect(&r, false, cases[i].v, cases[i].leaf);
	}
}

/* TLS 1.2 (where renegotiation lives) is refused both ways, whatever the certificate. */
static void test_tls12_refused(void **state)
{
	struct result r;

	(void)state;
	against_server("skiffd", "-tls1_2", &r);
	expect(&r, false, ID_VERIFY_NO_CERT, "a TLS 1.2 server");
	assert_non_null(strstr(r.peer.text, "unsupported protocol")); /* it saw our 1.3 only */
	against_client("workload", "-tls1_2", &r);
	expect(&r, false, ID_VERIFY_NO_CERT, "a TLS 1.2 client");
	assert_non_null(strstr(r.peer.text, "alert protocol version"));
	assert_true(SSL_CTX_get_options(server_ctx) & SSL_OP_NO_RENEGOTIATION);
	assert_int_equal(SSL_CTX_get_min_proto_version(server_ctx), TLS1_3_VERSION);
}

/* skiffd accepts a node's connection: any workload of the mesh, whole and valid. */
static void test_server_accepts_workload(void **state)
{
	struct result r;

	(void)state;
	against_client("workload", "-tls1_3", &r);
	expect(&r, true, ID_VERIFY_OK, "a workload's certificate");
	assert_string_equal(r.id.ns, "frontend");
	assert_string_equal(r.id.sa, "web");
}

static void test_server_refuses_bad_clients(void **state)
{
	static const struct {
		const char *leaf;
		enum identity_verdict v;
	} cases[] = {
	    {"expired", ID_VERIFY_EXPIRED},
	    {"future", ID_VERIFY_NOT_YET_VALID},
	    {"other-ca", ID_VERIFY_UNTRUSTED},
	    {"self-signed", ID_VERIFY_UNTRUSTED},
	    {"ca-leaf", ID_VERIFY_CA_AS_LEAF},
	    {"ku-no-sign", ID_VERIFY_KEY_USAGE},
	    {"eku-server", ID_VERIFY_KEY_USAGE},
	    {"other-td", ID_VERIFY_OTHER_TRUST_DOMAIN},
	    {"two-uris", ID_VERIFY_MULTIPLE_URI_SANS},
	    {NULL, ID_VERIFY_NO_CERT},
	};
	struct result r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		against_client(cases[i].leaf, "-tls1_3", &r);
		expect(&r, false, cases[i].v, cases[i].leaf ? cases[i].leaf : "no certificate");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_make_leaves),
	    cmocka_unit_test(test_client_accepts_skiffd),
	    cmocka_unit_test(test_client_refuses_bad_servers),
	    cmocka_unit_test(test_tls12_refused),
	    cmocka_unit_test(test_server_accepts_workload),
	    cmocka_unit_test(test_server_refuses_bad_clients),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
