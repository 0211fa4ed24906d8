// SPDX-License-Identifier: Apache-2.0
/*
 * The mesh root CA: one self-signed ECDSA P-256 certificate that every skiffd trusts and signs
 * workload certificates with. It is the only trust anchor (no intermediates), so a node that has
 * ca.crt and ca.key can verify and mint every identity of the mesh: guard ca.key like Istio's
 * cacerts Secret.
 */
#include <errno.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "identity/identity_internal.h"

static const struct id_ext ca_exts[] = {
    {NID_basic_constraints, "critical,CA:TRUE"},
    {NID_key_usage, "critical,keyCertSign,cRLSign"},
    {NID_subject_key_identifier, "hash"},
    /* after the SKI: for a self-signed certificate the AKI copies it */
    {NID_authority_key_identifier, "keyid:always"},
};

static int set_ca_name(X509 *x)
{
	X509_NAME *n = X509_get_subject_name(x);

	if (!X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"skiff", -1,
					-1, 0) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
					(const unsigned char *)"skiff mesh root CA", -1, -1, 0))
		return -1;
	return X509_set_issuer_name(x, n) ? 0 : -1;
}

int identity_ca_create(time_t now, long ttl, struct identity_ca *out, struct identity_err *err)
{
	EVP_PKEY *key = id_key_new();
	X509 *x = NULL;

	memset(out, 0, sizeof(*out));
	if (ttl <= 0)
		return id_fail(err, -EINVAL, "CA lifetime %ld s must be positive", ttl);
	if (key)
		x = id_x509_new(key, now - IDENTITY_CLOCK_SKEW, now + ttl);
	if (!x || set_ca_name(x) ||
	    id_x509_add_exts(x, x, ca_exts, sizeof(ca_exts) / sizeof(ca_exts[0])) ||
	    !X509_sign(x, key, EVP_sha256())) {
		X509_free(x);
		EVP_PKEY_free(key);
		return id_fail_ssl(err, -ENOMEM, "cannot create the mesh root CA");
	}
	out->cert = x;
	out->key = key;
	return 0;
}

int identity_ca_check(const struct identity_ca *ca, time_t now, struct identity_err *err)
{
	const uint32_t ku = X509_get_key_usage(ca->cert); /* UINT32_MAX: no keyUsage */
	time_t nb = id_time(X509_get0_notBefore(ca->cert));
	time_t na = id_time(X509_get0_notAfter(ca->cert));

	if (!(X509_get_extension_flags(ca->cert) & EXFLAG_CA) || !(ku & KU_KEY_CERT_SIGN))
		return id_fail(err, -ENOTSUP,
			       "the certificate is not a CA (it needs basicConstraints CA:TRUE and "
			       "keyUsage keyCertSign): point skiff at the mesh root, or make one "
			       "with `skiffctl ca init DIR`");
	if (!(X509_get_extension_flags(ca->cert) & EXFLAG_SS))
		return id_fail(err, -ENOTSUP,
			       "the CA certificate is not self-signed: skiff trusts exactly this "
			       "certificate, so it must be the root (intermediate CAs are not "
			       "supported)");
	if (now >= na)
		return id_fail(err, -EKEYEXPIRED,
			       "the mesh root CA expired %ld s ago: make a new one with `skiffctl "
			       "ca init DIR --force` (every workload is re-issued from it)",
			       (long)(now - na));
	if (now < nb)
		return id_fail(err, -EKEYEXPIRED,
			       "the mesh root CA is not valid for another %ld s: is this node's "
			       "clock behind?",
			       (long)(nb - now));
	return 0;
}

int identity_ca_load(const char *dir, time_t now, struct identity_ca *out, struct identity_err *err)
{
	int rc = identity_ca_read(dir, out, err);

	if (rc)
		return rc;
	rc = identity_ca_check(out, now, err);
	if (rc && err) {
		/* the check speaks of "the certificate": name the file */
		char why[sizeof(err->msg)];

		memcpy(why, err->msg, sizeof(why));
		id_fail(err, rc, "%s/%s: %.400s", dir, IDENTITY_CA_CERT_FILE, why);
	}
	if (rc)
		identity_ca_free(out);
	return rc;
}

void identity_ca_free(struct identity_ca *ca)
{
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	ca->cert = NULL;
	ca->key = NULL;
}
