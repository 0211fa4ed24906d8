// SPDX-License-Identifier: Apache-2.0
/*
 * PEM files on disk: only the CA's (skiffctl ca init) and the test tool's (skiffctl cert mint).
 * A file is written whole to a temporary name, flushed and renamed over the target, so a reader
 * (skiffd starting, a Secret being built) sees the old file or the new one, never half of one;
 * key files are created 0600 from the start, never readable by others even for a moment.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "identity/identity_internal.h"

int id_path(char *buf, size_t len, const char *dir, const char *name, struct identity_err *err)
{
	int n = snprintf(buf, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len)
		return id_fail(err, -ENAMETOOLONG, "%s: path too long", dir);
	return 0;
}

int id_mkdir(const char *dir, struct identity_err *err)
{
	struct stat st;

	if (!mkdir(dir, 0700))
		return 0;
	if (errno == EEXIST && !stat(dir, &st) && S_ISDIR(st.st_mode))
		return 0;
	if (errno == EEXIST)
		return id_fail(err, -ENOTDIR, "%s exists and is not a directory", dir);
	return id_fail(err, -errno, "cannot create directory %s: %s (does its parent exist?)", dir,
		       strerror(errno));
}

/* Write the PEM in `mem` to `path` via "path.tmp.PID" + fsync + rename. */
static int write_atomically(const char *path, mode_t mode, BIO *mem, struct identity_err *err)
{
	char tmp[4096];
	char *data;
	long len = BIO_get_mem_data(mem, &data);
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return id_fail(err, -ENAMETOOLONG, "%s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return id_fail(err, -errno, "cannot write %s: %s", path, strerror(errno));
	if (fchmod(fd, mode) || write(fd, data, len) != len || fsync(fd))
		rc = id_fail(err, errno ? -errno : -EIO, "cannot write %s: %s", path,
			     strerror(errno ? errno : EIO));
	if (close(fd) && !rc)
		rc = id_fail(err, -errno, "cannot write %s: %s", path, strerror(errno));
	if (!rc && rename(tmp, path))
		rc = id_fail(err, -errno, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
	if (rc)
		unlink(tmp);
	return rc;
}

int id_write_cert(const char *path, X509 *cert, struct identity_err *err)
{
	BIO *mem = BIO_new(BIO_s_mem());
	int rc;

	if (!mem || !PEM_write_bio_X509(mem, cert)) {
		BIO_free(mem);
		return id_fail_ssl(err, -ENOMEM, "%s: cannot encode the certificate", path);
	}
	rc = write_atomically(path, 0644, mem, err);
	BIO_free(mem);
	return rc;
}

int id_write_key(const char *path, EVP_PKEY *key, struct identity_err *err)
{
	/* secmem: the buffer that holds the key in the clear is wiped when it is freed */
	BIO *mem = BIO_new(BIO_s_secmem());
	int rc;

	/* PKCS#8, unencrypted: what Kubernetes Secrets and `openssl s_client -key` expect */
	if (!mem || !PEM_write_bio_PrivateKey(mem, key, NULL, NULL, 0, NULL, NULL)) {
		BIO_free(mem);
		return id_fail_ssl(err, -ENOMEM, "%s: cannot encode the key", path);
	}
	rc = write_atomically(path, 0600, mem, err);
	BIO_free(mem);
	return rc;
}
