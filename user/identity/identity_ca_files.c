// SPDX-License-Identifier: Apache-2.0
/*
 * The mesh root on disk: DIR/ca.crt and DIR/ca.key, PEM, the layout of a Kubernetes TLS-style
 * Secret mounted as a directory. Saving never replaces a root by accident: every certificate it
 * signed would stop verifying on the nodes that get the new one.
 */
#include <errno.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "identity/identity_internal.h"

int identity_ca_save(const struct identity_ca *ca, const char *dir, bool force,
		     struct identity_err *err)
{
	char crt[4096], key[4096];
	int rc;

	rc = id_path(crt, sizeof(crt), dir, IDENTITY_CA_CERT_FILE, err);
	if (!rc)
		rc = id_path(key, sizeof(key), dir, IDENTITY_CA_KEY_FILE, err);
	if (!rc)
		rc = id_mkdir(dir, err);
	if (rc)
		return rc;
	if (!force && (!access(crt, F_OK) || !access(key, F_OK)))
		return id_fail(err, -EEXIST,
			       "%s already holds a mesh CA (%s): replacing it invalidates every "
			       "workload certificate it signed; pass --force to do it anyway",
			       dir,
			       !access(crt, F_OK) ? IDENTITY_CA_CERT_FILE : IDENTITY_CA_KEY_FILE);
	/* the key first: a crash between the two leaves a new key beside the old certificate,
	 * which identity_ca_read() reports as a mismatch, never a silently wrong root */
	rc = id_write_key(key, ca->key, err);
	if (!rc)
		rc = id_write_cert(crt, ca->cert, err);
	return rc;
}

/* Open DIR/NAME for reading, with the error a person needs when it is not there. */
static FILE *open_ca_file(const char *dir, const char *name, int *rc, struct identity_err *err)
{
	char path[4096];
	FILE *f;

	*rc = id_path(path, sizeof(path), dir, name, err);
	if (*rc)
		return NULL;
	f = fopen(path, "re");
	if (!f && errno == ENOENT)
		*rc = id_fail(err, -ENOENT,
			      "%s: missing; create a mesh CA with `skiffctl ca init %s`, or point "
			      "--ca-dir at the directory that holds one",
			      path, dir);
	else if (!f)
		*rc = id_fail(err, -errno, "%s: cannot open: %s", path, strerror(errno));
	return f;
}

static int read_cert(const char *dir, X509 **out, struct identity_err *err)
{
	int rc;
	FILE *f = open_ca_file(dir, IDENTITY_CA_CERT_FILE, &rc, err);

	if (!f)
		return rc;
	*out = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!*out)
		return id_fail_ssl(err, -EBADMSG, "%s/%s: not a PEM certificate", dir,
				   IDENTITY_CA_CERT_FILE);
	return 0;
}

/* No passphrase: skiffd runs unattended, so an encrypted key is refused, not prompted for. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int read_key(const char *dir, EVP_PKEY **out, struct identity_err *err)
{
	int rc;
	FILE *f = open_ca_file(dir, IDENTITY_CA_KEY_FILE, &rc, err);

	if (!f)
		return rc;
	*out = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (!*out)
		return id_fail_ssl(err, -EBADMSG, "%s/%s: not an unencrypted PEM private key", dir,
				   IDENTITY_CA_KEY_FILE);
	return 0;
}

int identity_ca_read(const char *dir, struct identity_ca *out, struct identity_err *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = read_cert(dir, &out->cert, err);
	if (!rc)
		rc = read_key(dir, &out->key, err);
	if (!rc && X509_check_private_key(out->cert, out->key) != 1)
		rc = id_fail_ssl(err, -EKEYREJECTED,
				 "%s: %s does not belong to %s (a key from another CA?); restore "
				 "the matching pair",
				 dir, IDENTITY_CA_KEY_FILE, IDENTITY_CA_CERT_FILE);
	if (rc)
		identity_ca_free(out);
	return rc;
}
