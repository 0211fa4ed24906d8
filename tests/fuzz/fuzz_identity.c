// SPDX-License-Identifier: Apache-2.0
/*
 * Certificates and keys skiffd reads (user/identity/): a peer's certificate (DER, as TLS hands it
 * over, or PEM) checked against the mesh root and read for its SPIFFE ID; a SPIFFE ID as text;
 * and the CA directory skiffd loads with --ca-dir (ca.crt and ca.key, PEM), here both files
 * holding the input, each read for its own kind of block.
 *
 * The mesh root is the one that signed the identity seeds (fuzz_identity_ca.h, written with
 * them by make_seeds.py), and the time one within their life: mutations start from certificates
 * that verify. Checked beyond not crashing: a certificate accepted as an identity has an ID that
 * formats and parses back to itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fuzz/fuzz_identity_ca.h"
#include "fuzz/fuzz_util.h"
#include "identity/identity.h"

#define NOW FZ_ID_NOW

static struct identity_ca ca;
static char dir[] = "/tmp/skiff-fuzz-identity.XXXXXX";

static void cleanup(void)
{
	char path[sizeof(dir) + 16];

	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	BIO *crt = BIO_new_mem_buf(FZ_ID_CA_CRT, -1), *key = BIO_new_mem_buf(FZ_ID_CA_KEY, -1);

	(void)argc, (void)argv;
	if (!crt || !key)
		abort();
	ca.cert = PEM_read_bio_X509(crt, NULL, NULL, NULL);
	ca.key = PEM_read_bio_PrivateKey(key, NULL, NULL, NULL);
	BIO_free(crt);
	BIO_free(key);
	if (!ca.cert || !ca.key || !mkdtemp(dir))
		abort();
	atexit(cleanup);
	return 0;
}

static void write_file(const char *name, const uint8_t *data, size_t size)
{
	char path[sizeof(dir) + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd))
		abort();
}

static void check_identity(X509 *x)
{
	struct spiffe_id id, back;
	char text[512];
	enum identity_verdict v = identity_verify(&ca, x, NULL, NOW, &id);

	(void)identity_verdict_str(v);
	if (identity_spiffe_of_cert(x, &id) != ID_VERIFY_OK)
		return;
	if (identity_spiffe_format(&id, text, sizeof(text)) < 0 ||
	    identity_spiffe_parse(text, strlen(text), &back, NULL) ||
	    strcmp(id.trust_domain, back.trust_domain) || strcmp(id.ns, back.ns) ||
	    strcmp(id.sa, back.sa)) {
		fprintf(stderr, "SPIFFE ID of the certificate does not read back: %s\n", text);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	struct identity_ca loaded = {0};
	struct identity_err err = {0};
	struct spiffe_id id;
	X509 *x;
	BIO *bio;

	(void)identity_spiffe_parse((const char *)data, size, &id, &err);
	x = d2i_X509(NULL, &p, (long)size);
	if (x) {
		check_identity(x);
		X509_free(x);
	}
	bio = BIO_new_mem_buf(data, (int)size);
	if (!bio)
		abort();
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (x) {
		check_identity(x);
		X509_free(x);
	}
	if (size > 10 && !memcmp(data, "-----BEGIN", 10)) {
		write_file("ca.crt", data, size);
		write_file("ca.key", data, size);
		if (!identity_ca_load(dir, NOW, &loaded, &err))
			identity_ca_free(&loaded);
	}
	return 0;
}
