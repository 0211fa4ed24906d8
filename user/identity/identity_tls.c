// SPDX-License-Identifier: Apache-2.0
/*
 * TLS contexts for mesh connections (HBONE): TLS 1.3 only, AES-GCM only (what ztunnel offers
 * and what CPUs with AES-NI and kTLS do fastest), a workload certificate on both sides, and the
 * mesh root as the only trust anchor. One context serves either role; the SSL decides.
 *
 * The verify callback applies identity_verify()'s rules inside the handshake, so a peer without
 * a proper SPIFFE leaf is refused there, and records why on the SSL: identity_tls_peer() can
 * then say "certificate expired" for a connection that failed as well as the peer's ID for one
 * that succeeded.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "identity/identity_internal.h"

#define ID_TLS_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"
#define ID_TLS_GROUPS "X25519:P-256"

/* ex_data slots: on each SSL the verdict on its peer's certificate (stored as verdict + 1, so
 * 0 means none yet) and the identity its peer must have, if pinned; on each SSL_CTX the ALPN
 * protocol in wire format (for the server side) and its own identity (the trust domain every
 * peer must share). */
static int verdict_slot = -1, alpn_slot = -1, pin_slot = -1, self_slot = -1;
static pthread_once_t slots_once = PTHREAD_ONCE_INIT;

static void alpn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	OPENSSL_free(ptr);
}

static void slots_init(void)
{
	verdict_slot = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	pin_slot = SSL_get_ex_new_index(0, NULL, NULL, NULL, alpn_free);
	alpn_slot = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, alpn_free);
	self_slot = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, alpn_free);
}

static bool same_id(const struct spiffe_id *a, const struct spiffe_id *b)
{
	return !strcmp(a->trust_domain, b->trust_domain) && !strcmp(a->ns, b->ns) &&
	       !strcmp(a->sa, b->sa);
}

/* The peer's leaf, past the chain checks: a SPIFFE ID of our trust domain, a key usage that fits
 * its role, and the pinned identity if there is one. */
static enum identity_verdict check_leaf(SSL *ssl, X509 *leaf)
{
	const struct spiffe_id *self = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), self_slot);
	const struct spiffe_id *pin = SSL_get_ex_data(ssl, pin_slot);
	struct spiffe_id id;
	enum identity_verdict v = identity_spiffe_of_cert(leaf, &id);

	if (v == ID_VERIFY_OK && self && strcmp(id.trust_domain, self->trust_domain))
		v = ID_VERIFY_OTHER_TRUST_DOMAIN;
	if (v == ID_VERIFY_OK)
		v = identity_check_usage(leaf, !SSL_is_server(ssl)); /* the peer's role */
	if (v == ID_VERIFY_OK && pin && !same_id(&id, pin))
		v = ID_VERIFY_WRONG_PEER;
	return v;
}

static int verify_cb(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	enum identity_verdict v = ID_VERIFY_OK;

	if (!ok)
		v = id_verdict_of_x509(X509_STORE_CTX_get_error(xs));
	else if (X509_STORE_CTX_get_error_depth(xs) == 0)
		v = ssl ? check_leaf(ssl, X509_STORE_CTX_get_current_cert(xs)) : ID_VERIFY_NO_CERT;
	if (v == ID_VERIFY_OK)
		return 1;
	/* the first reason is the one to report: later calls only see its consequences */
	if (ssl && !SSL_get_ex_data(ssl, verdict_slot))
		SSL_set_ex_data(ssl, verdict_slot, (void *)(intptr_t)(v + 1));
	if (ok)
		X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
	return 0;
}

/* Server side of ALPN: the one protocol this context speaks, or no connection. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	const unsigned char *want = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), alpn_slot);

	(void)arg;
	if (!want || SSL_select_next_proto((unsigned char **)out, outlen, want, want[0] + 1, in,
					   inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	return SSL_TLSEXT_ERR_OK;
}

static int set_alpn(SSL_CTX *ctx, const char *alpn)
{
	size_t n = strlen(alpn);
	unsigned char *wire;

	if (n == 0 || n > 255 || !(wire = OPENSSL_malloc(n + 1)))
		return -1;
	wire[0] = (unsigned char)n; /* wire format: a length byte, then the name */
	memcpy(wire + 1, alpn, n);
	if (!SSL_CTX_set_ex_data(ctx, alpn_slot, wire)) {
		OPENSSL_free(wire);
		return -1;
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	return SSL_CTX_set_alpn_protos(ctx, wire, n + 1) ? -1 : 0; /* 0 is success here */
}

/* Protocol, suites, groups: the parts of the context that do not depend on the identity. */
static int set_protocol(SSL_CTX *ctx)
{
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, ID_TLS_SUITES) ||
	    !SSL_CTX_set1_groups_list(ctx, ID_TLS_GROUPS))
		return -1;
	/* the peer has the root already: send the leaf alone, not a chain built from the store */
	SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN);
	/* TLS 1.3 has no renegotiation; the option keeps it so should the version range widen.
	 * Nothing resumes a mesh session: no tickets, so no resumption secret handed out */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	return SSL_CTX_set_num_tickets(ctx, 0) ? 0 : -1;
}

/* Our certificate and key, the mesh root as the only anchor, and the peer required. */
static int set_identity(SSL_CTX *ctx, const struct identity_ca *ca, const struct identity_cert *c)
{
	struct spiffe_id *self = OPENSSL_memdup(&c->id, sizeof(c->id));

	if (!self || !SSL_CTX_set_ex_data(ctx, self_slot, self)) {
		OPENSSL_free(self);
		return -1;
	}
	/* SSL_CTX_new() loads no default CA paths; the store starts empty and gets the root only */
	if (!SSL_CTX_use_certificate(ctx, c->cert) || !SSL_CTX_use_PrivateKey(ctx, c->key) ||
	    !SSL_CTX_check_private_key(ctx) ||
	    !X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca->cert))
		return -1;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify_cb);
	return 0;
}

SSL_CTX *identity_tls_ctx(const struct identity_ca *ca, const struct identity_cert *c,
			  const char *alpn, struct identity_err *err)
{
	SSL_CTX *ctx;
	char uri[sizeof(c->id) + 32];

	pthread_once(&slots_once, slots_init);
	identity_spiffe_format(&c->id, uri, sizeof(uri));
	if (verdict_slot < 0 || alpn_slot < 0 || pin_slot < 0 || self_slot < 0) {
		id_fail_ssl(err, -ENOMEM, "%s: no OpenSSL ex_data slot", uri);
		return NULL;
	}
	ctx = SSL_CTX_new(TLS_method());
	if (!ctx || set_protocol(ctx) || set_identity(ctx, ca, c) ||
	    (alpn && set_alpn(ctx, alpn))) {
		id_fail_ssl(err, -EINVAL, "%s: cannot build its TLS context", uri);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int identity_tls_pin(SSL *ssl, const char *ns, const char *sa)
{
	const struct spiffe_id *self =
	    self_slot < 0 ? NULL : SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), self_slot);
	struct spiffe_id want, *pin;

	if (!self || identity_spiffe_make(self->trust_domain, ns, sa, &want, NULL))
		return -EINVAL;
	pin = OPENSSL_memdup(&want, sizeof(want));
	if (!pin || !SSL_set_ex_data(ssl, pin_slot, pin)) {
		OPENSSL_free(pin);
		return -ENOMEM;
	}
	return 0;
}

enum identity_verdict identity_tls_peer(const SSL *ssl, struct spiffe_id *out)
{
	intptr_t v = verdict_slot < 0 ? 0 : (intptr_t)SSL_get_ex_data(ssl, verdict_slot);
	X509 *peer;

	if (v)
		return (enum identity_verdict)(v - 1);
	peer = SSL_get0_peer_certificate(ssl);
	if (!peer)
		return ID_VERIFY_NO_CERT;
	if (SSL_get_verify_result(ssl) != X509_V_OK)
		return id_verdict_of_x509(SSL_get_verify_result(ssl));
	return identity_spiffe_of_cert(peer, out);
}
