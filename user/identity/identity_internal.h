/* SPDX-License-Identifier: Apache-2.0 */
/* What the identity module's files share: error text, X.509 building blocks, PEM files. */
#ifndef SKIFF_IDENTITY_INTERNAL_H
#define SKIFF_IDENTITY_INTERNAL_H

#include <sys/types.h>

#include "identity/identity.h"

/* Fill err->msg (when err is not NULL) and return rc, so a failure is one `return` line. */
int id_fail(struct identity_err *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, with ": <OpenSSL's reason>" appended; empties OpenSSL's error queue. */
int id_fail_ssl(struct identity_err *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* One X.509v3 extension in OpenSSL's config syntax ("critical,CA:TRUE"). */
struct id_ext {
	int nid;
	const char *value;
};

/* A fresh ECDSA P-256 key, or NULL. */
EVP_PKEY *id_key_new(void);
/* A v3 certificate for `pub`: random 128-bit serial, validity [not_before, not_after]. */
X509 *id_x509_new(EVP_PKEY *pub, time_t not_before, time_t not_after);
/* Add `exts` to `x`, issued by `issuer` (x itself when self-signed): SKI and AKI read it. */
int id_x509_add_exts(X509 *x, X509 *issuer, const struct id_ext *exts, size_t n);
/* ASN1_TIME -> seconds since the epoch (0 when it cannot be read). */
time_t id_time(const ASN1_TIME *t);
/* OpenSSL's X509_V_ERR_* of a failed chain -> what to tell the caller. */
enum identity_verdict id_verdict_of_x509(int x509_err);

/* Write `cert` / `key` as PEM to `path` through a temporary file and rename(), so a reader
 * never sees half a file; the key file is created 0600, the certificate 0644. */
int id_write_cert(const char *path, X509 *cert, struct identity_err *err);
int id_write_key(const char *path, EVP_PKEY *key, struct identity_err *err);
/* mkdir DIR 0700 unless it exists (as a directory). */
int id_mkdir(const char *dir, struct identity_err *err);
/* "DIR/NAME" into buf; -ENAMETOOLONG (with err) when it does not fit. */
int id_path(char *buf, size_t len, const char *dir, const char *name, struct identity_err *err);

/* skiffctl's helpers (identity_cli_ca.c): "2026-11-26 22:27:20 UTC"; the root's details. */
const char *id_fmt_time(time_t t, char buf[32]);
void id_print_ca(FILE *out, const struct identity_ca *ca);

#endif
