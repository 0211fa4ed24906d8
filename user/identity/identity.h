/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Workload identity: the mesh root CA, SPIFFE certificates for workloads, checking a peer's
 * certificate, rotation, and the TLS context HBONE uses.
 *
 * A workload's identity is its SPIFFE ID, spiffe://<trust-domain>/ns/<namespace>/sa/<account>,
 * carried as the only identity of an X.509 leaf (a critical URI SAN, an empty subject: what
 * Istio's CA issues). skiffd mints one ECDSA P-256 key and certificate per local workload, signed
 * by the mesh root, and keeps both in memory: the workload path never writes a key to disk. Only
 * the CA's own files (`skiffctl ca init`) and the test tool `skiffctl cert mint` touch the disk.
 *
 * Time is always passed in ("now", seconds since the epoch), so expiry and rotation are tested
 * without waiting. Errors return -errno and, when `err` is not NULL, fill err->msg with what went
 * wrong, on which object, and what to do about it. Nothing here is thread-safe by itself: an
 * identity_store belongs to one thread (or its caller's lock).
 */
#ifndef SKIFF_IDENTITY_H
#define SKIFF_IDENTITY_H

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#define IDENTITY_TRUST_DOMAIN_DEFAULT "cluster.local"
#define IDENTITY_TTL_DEFAULT	      (24 * 3600)	  /* workload certificates, as Istio */
#define IDENTITY_CA_TTL		      (3652L * 24 * 3600) /* the root: ten years */
#define IDENTITY_CLOCK_SKEW	      60 /* notBefore is backdated this much: peers' clocks differ */
#define IDENTITY_CA_CERT_FILE	      "ca.crt"
#define IDENTITY_CA_KEY_FILE	      "ca.key"
/* skiffd's own identity (what inbound HBONE presents, and what outbound HBONE expects of the
 * destination node): spiffe://<trust-domain>/ns/skiff-system/sa/skiffd */
#define IDENTITY_AGENT_NS "skiff-system"
#define IDENTITY_AGENT_SA "skiffd"

struct identity_err {
	char msg[512];
};

/* A parsed SPIFFE ID. Sizes: SPIFFE's 255-byte trust domain, a DNS-1123 label (namespace),
 * a DNS-1123 subdomain (service account, as Kubernetes allows). */
struct spiffe_id {
	char trust_domain[256];
	char ns[64];
	char sa[254];
};

/* ---- identity_spiffe.c: names and IDs ---- */

/* Check a trust domain (SPIFFE: lowercase letters, digits, '.', '-', '_'; at most 255 bytes),
 * a namespace (DNS-1123 label) and a service account (DNS-1123 subdomain); fill *out. */
int identity_spiffe_make(const char *trust_domain, const char *ns, const char *sa,
			 struct spiffe_id *out, struct identity_err *err);
/* "spiffe://td/ns/NS/sa/SA" -> *out, with the checks of identity_spiffe_make(). */
int identity_spiffe_parse(const char *uri, size_t len, struct spiffe_id *out,
			  struct identity_err *err);
/* The URI form into buf; returns its length, or -ENOSPC. */
int identity_spiffe_format(const struct spiffe_id *id, char *buf, size_t len);

/* ---- identity_ca.c, identity_ca_files.c: the mesh root ---- */

struct identity_ca {
	X509 *cert;
	EVP_PKEY *key;
};

/* A new root in memory: P-256 key, self-signed, O=skiff, CN=skiff mesh root CA, valid from
 * now - IDENTITY_CLOCK_SKEW for `ttl` seconds, a random 128-bit serial, SKI and AKI. */
int identity_ca_create(time_t now, long ttl, struct identity_ca *out, struct identity_err *err);
/* Write DIR/ca.crt (0644) and DIR/ca.key (0600), creating DIR (0700) when it is missing.
 * Refuses (-EEXIST) when either file exists, unless `force`: then both are replaced. */
int identity_ca_save(const struct identity_ca *ca, const char *dir, bool force,
		     struct identity_err *err);
/* Read DIR/ca.crt and DIR/ca.key and check the key belongs to the certificate.
 * -ENOENT: a file is missing; -EBADMSG: not PEM of a certificate / key; -EKEYREJECTED:
 * the key does not match the certificate. */
int identity_ca_read(const char *dir, struct identity_ca *out, struct identity_err *err);
/* Can it sign workload certificates at `now`? -ENOTSUP: not a CA (basicConstraints CA:TRUE
 * and keyCertSign) or not self-signed (skiff trusts exactly this certificate);
 * -EKEYEXPIRED: expired, or not valid yet. */
int identity_ca_check(const struct identity_ca *ca, time_t now, struct identity_err *err);
/* identity_ca_read() then identity_ca_check(): what skiffd does with --ca-dir. */
int identity_ca_load(const char *dir, time_t now, struct identity_ca *out,
		     struct identity_err *err);
void identity_ca_free(struct identity_ca *ca);

/* ---- identity_mint.c: workload certificates ---- */

/* A workload's credentials, held in memory only. */
struct identity_cert {
	struct spiffe_id id;
	EVP_PKEY *key;
	X509 *cert;
	time_t issued;	   /* the "now" it was minted at */
	time_t not_before; /* issued - IDENTITY_CLOCK_SKEW */
	time_t not_after;  /* issued + ttl, but never past the CA's own notAfter */
};

/* Mint a fresh P-256 key and a leaf for `id`, signed by `ca`: empty subject, the SPIFFE ID as
 * the only (critical) URI SAN, keyUsage digitalSignature+keyEncipherment (critical),
 * extendedKeyUsage serverAuth+clientAuth, CA:FALSE, AKI. `ttl` > 0 seconds. */
int identity_mint(const struct identity_ca *ca, const struct spiffe_id *id, time_t now, long ttl,
		  struct identity_cert *out, struct identity_err *err);
/* When the certificate is half way through its life (from issue to notAfter): rotate then. */
time_t identity_cert_refresh_at(const struct identity_cert *c);
void identity_cert_free(struct identity_cert *c);

/* ---- identity_verify.c: a peer's certificate ---- */

/* Why a peer's certificate is or is not a mesh identity: each a different thing to report. */
enum identity_verdict {
	ID_VERIFY_OK = 0,
	ID_VERIFY_NO_CERT,	     /* the peer presented no certificate */
	ID_VERIFY_UNTRUSTED,	     /* not issued by the mesh root (another CA, self-signed) */
	ID_VERIFY_EXPIRED,	     /* past notAfter (the leaf or the root) */
	ID_VERIFY_NOT_YET_VALID,     /* before notBefore */
	ID_VERIFY_BAD_CHAIN,	     /* any other chain failure: signature, encoding, constraints */
	ID_VERIFY_CA_AS_LEAF,	     /* a CA certificate presented as a workload identity */
	ID_VERIFY_NO_URI_SAN,	     /* no URI subjectAltName at all */
	ID_VERIFY_MULTIPLE_URI_SANS, /* more than one URI: SPIFFE allows exactly one */
	ID_VERIFY_NOT_SPIFFE,	     /* the URI is not spiffe:// */
	ID_VERIFY_BAD_SPIFFE_ID,     /* spiffe:// but not spiffe://td/ns/NS/sa/SA */
	ID_VERIFY_OTHER_TRUST_DOMAIN, /* a SPIFFE ID of another trust domain than ours */
	ID_VERIFY_KEY_USAGE,	      /* keyUsage without digitalSignature, or extendedKeyUsage
				       * without the peer's role (serverAuth / clientAuth) */
	ID_VERIFY_WRONG_PEER, /* a valid identity, but not the one this connection expects */
};
#define ID_VERIFY_LAST ID_VERIFY_WRONG_PEER

/* A short phrase for logs and errors: "certificate expired", "not issued by the mesh root". */
const char *identity_verdict_str(enum identity_verdict v);
/* Verify `leaf` (with the peer's `untrusted` intermediates, may be NULL) against the mesh root at
 * `now`, then read its SPIFFE ID into *out. */
enum identity_verdict identity_verify(const struct identity_ca *ca, X509 *leaf,
				      STACK_OF(X509) * untrusted, time_t now,
				      struct spiffe_id *out);
/* Only the SPIFFE part: exactly one URI SAN, spiffe://td/ns/NS/sa/SA, and not a CA. */
enum identity_verdict identity_spiffe_of_cert(X509 *cert, struct spiffe_id *out);
/* What a TLS 1.3 peer's leaf may be used for: keyUsage present with digitalSignature (it signs
 * the handshake), extendedKeyUsage present with serverAuth (`server`) or clientAuth. */
enum identity_verdict identity_check_usage(X509 *cert, bool server);

/* ---- identity_tls.c: TLS contexts ---- */

/* An SSL_CTX for either role that presents `c` and trusts only the mesh root: TLS 1.3 only (so
 * no renegotiation), no session tickets, TLS_AES_128_GCM_SHA256 and TLS_AES_256_GCM_SHA384, peer
 * certificate required and checked like identity_verify(), plus: the peer's SPIFFE ID is of c's
 * trust domain, and its key usage fits its role (identity_check_usage). A peer that fails any of
 * it fails the handshake. `alpn` (e.g. "h2"
 * for HBONE) is what clients offer and the only protocol servers accept (a client offering no
 * ALPN at all is not refused: check SSL_get0_alpn_selected()); NULL for none. */
SSL_CTX *identity_tls_ctx(const struct identity_ca *ca, const struct identity_cert *c,
			  const char *alpn, struct identity_err *err);
/* Pin the peer of `ssl` (a client's, before its handshake) to spiffe://<td>/ns/NS/sa/SA, td the
 * trust domain of its context's identity: any other peer fails the handshake with
 * ID_VERIFY_WRONG_PEER. 0, or -ENOMEM / -EINVAL (not a context from identity_tls_ctx). */
int identity_tls_pin(SSL *ssl, const char *ns, const char *sa);
/* After a handshake on an SSL from identity_tls_ctx(): the peer's SPIFFE ID, or why not. After
 * a failed handshake: why the peer's certificate was refused (ID_VERIFY_NO_CERT when none came,
 * also when the handshake failed before it). */
enum identity_verdict identity_tls_peer(const SSL *ssl, struct spiffe_id *out);

/* ---- identity_store.c: the local workloads' credentials and their rotation ---- */

/* One credential generation: a certificate and the TLS context that presents it. */
struct identity_cred {
	struct identity_cert cert;
	SSL_CTX *tls; /* NULL in an empty slot */
};

/* One workload (namespace, service account). `prev` is the generation `cur` replaced: still
 * valid (it had half its life left) and still referenced by the connections made with it
 * (OpenSSL counts references), released at the next rotation or when it expires. */
struct identity_workload {
	struct identity_cred cur, prev;
};

struct identity_store_opts {
	const char *trust_domain; /* NULL: IDENTITY_TRUST_DOMAIN_DEFAULT */
	long ttl;		  /* 0: IDENTITY_TTL_DEFAULT */
	const char *alpn;	  /* passed to identity_tls_ctx() */
};

struct identity_store {
	const struct identity_ca *ca; /* borrowed: outlives the store */
	char trust_domain[256];
	long ttl;
	char alpn[32];
	struct identity_workload **v; /* each allocated once: pointers to it stay valid */
	size_t n, cap;
};

int identity_store_init(struct identity_store *s, const struct identity_ca *ca,
			const struct identity_store_opts *o, struct identity_err *err);
/* The workload's credentials, minted on first use; NULL with *err on a bad name or failure.
 * The pointer stays valid until the workload is removed; read ->cur at each use (SSL_new). */
const struct identity_workload *identity_store_get(struct identity_store *s, const char *ns,
						   const char *sa, time_t now,
						   struct identity_err *err);
/* Forget a workload that left the node (connections already made keep their references). */
void identity_store_remove(struct identity_store *s, const char *ns, const char *sa);
/* Re-mint every certificate at or past half its life and drop expired previous generations.
 * Returns how many were rotated, or -errno for the first failure (a workload that failed keeps
 * its current certificate and is tried again next call; the others are still rotated). */
int identity_store_rotate(struct identity_store *s, time_t now, struct identity_err *err);
/* The earliest refresh time over all workloads (when to call rotate next), 0 when empty. */
time_t identity_store_next_refresh(const struct identity_store *s);
void identity_store_free(struct identity_store *s);

/* ---- identity_cli_ca.c, identity_cli_cert.c: skiffctl ---- */

/* `skiffctl ca init DIR [--force]`, `skiffctl ca show DIR`; argv[0] is "init" or "show".
 * Exit status: 0 done, 1 failed, 2 usage. */
int identity_cli_ca(int argc, char **argv, FILE *out, FILE *err);
/* `skiffctl cert mint --ca DIR --ns NS --sa SA [--trust-domain TD] [--ttl S] [--backdate S]
 * --out DIR`: a workload certificate and key as PEM files, for tests and tools. */
int identity_cli_cert(int argc, char **argv, FILE *out, FILE *err);

#endif
