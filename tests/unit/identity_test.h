/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the identity unit tests: a scratch directory, a CA and certificates made at
 * a chosen time, hand-built certificates for the shapes skiff never mints (no SAN, two URIs),
 * and running the real `openssl` command line on what skiff wrote.
 */
#ifndef SKIFF_TEST_IDENTITY_H
#define SKIFF_TEST_IDENTITY_H

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/x509v3.h>

#include "identity/identity.h"
#include "identity/identity_internal.h" /* id_x509_new & co: certificates skiff never mints */

#define DAY (24L * 3600)

/* A fixed "now" for everything that does not talk to real time (2026-11-26 00:00:00 UTC). */
#define T0 ((time_t)1795651200)

static inline int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

/* A fresh scratch directory "/tmp/skiff-test-id-XXXXXX" in buf. */
static inline void tmpdir_make(char buf[64])
{
	snprintf(buf, 64, "/tmp/skiff-test-id-XXXXXX");
	assert_non_null(mkdtemp(buf));
}

static inline void tmpdir_remove(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void ca_make_at(struct identity_ca *ca, time_t now, long ttl)
{
	struct identity_err err = {{0}};

	if (identity_ca_create(now, ttl, ca, &err))
		fail_msg("identity_ca_create: %s", err.msg);
}

static inline void ca_make(struct identity_ca *ca)
{
	ca_make_at(ca, time(NULL), IDENTITY_CA_TTL);
}

static inline void mint_at(const struct identity_ca *ca, const char *ns, const char *sa, time_t now,
			   long ttl, struct identity_cert *out)
{
	struct identity_err err = {{0}};
	struct spiffe_id id;

	if (identity_spiffe_make(NULL, ns, sa, &id, &err) ||
	    identity_mint(ca, &id, now, ttl, out, &err))
		fail_msg("mint %s/%s: %s", ns, sa, err.msg);
}

/* A leaf signed by `ca` with exactly the SAN entries given as "URI:..."/"DNS:..." config text
 * (NULL: no SAN extension at all), for the shapes identity_mint() refuses to make. */
static inline X509 *leaf_with_san(const struct identity_ca *ca, const char *san, EVP_PKEY **key)
{
	static const struct id_ext exts[] = {
	    {NID_basic_constraints, "critical,CA:FALSE"},
	    {NID_authority_key_identifier, "keyid:always"},
	};
	time_t now = time(NULL);
	X509 *x;

	*key = id_key_new();
	x = id_x509_new(*key, now - 60, now + DAY);
	assert_non_null(x);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(ca->cert)), 1);
	assert_int_equal(id_x509_add_exts(x, ca->cert, exts, 2), 0);
	if (san) {
		struct id_ext e = {NID_subject_alt_name, san};

		assert_int_equal(id_x509_add_exts(x, ca->cert, &e, 1), 0);
	}
	assert_int_not_equal(X509_sign(x, ca->key, EVP_sha256()), 0);
	return x;
}

/* Run a shell command; its stdout+stderr into out (NUL-terminated), its exit status back. */
static inline int run_cmd(char *out, size_t len, const char *fmt, ...)
{
	char cmd[2048];
	size_t n = 0;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (n + 1 < len && !feof(p)) {
		size_t r = fread(out + n, 1, len - 1 - n, p);

		if (!r)
			break;
		n += r;
	}
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline void file_mode_is(const char *path, mode_t mode)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	if ((st.st_mode & 07777) != mode)
		fail_msg("%s: mode %o, want %o", path, st.st_mode & 07777, mode);
}

#endif
