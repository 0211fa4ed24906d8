// SPDX-License-Identifier: Apache-2.0
/*
 * `skiffctl ca init DIR [--force]` makes the mesh root (DIR/ca.crt, DIR/ca.key) that every
 * skiffd is given with --ca-dir; `skiffctl ca show DIR` prints what a person checks before
 * trusting one: subject, SHA-256 fingerprint (compare it across nodes), validity.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "identity/identity_internal.h"

static void ca_usage(FILE *f)
{
	fprintf(f,
		"usage: skiffctl ca init DIR [--force]   create the mesh root CA in DIR\n"
		"       skiffctl ca show DIR             subject, fingerprint and validity\n"
		"  init refuses to replace an existing CA (every certificate it signed would stop\n"
		"  verifying) unless --force. Exit 0 done, 1 failed, 2 usage.\n");
}

const char *id_fmt_time(time_t t, char buf[32])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, 32, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, 32, "@%lld", (long long)t);
	return buf;
}

void id_print_ca(FILE *out, const struct identity_ca *ca)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char t[32];

	fputs("subject:     ", out);
	X509_NAME_print_ex_fp(out, X509_get_subject_name(ca->cert), 0,
			      XN_FLAG_ONELINE & ~XN_FLAG_SPC_EQ);
	fputs("\nsha256:      ", out);
	X509_digest(ca->cert, EVP_sha256(), md, &n);
	for (unsigned int i = 0; i < n; i++)
		fprintf(out, "%02X%s", md[i], i + 1 < n ? ":" : "\n");
	fprintf(out, "not before:  %s\n", id_fmt_time(id_time(X509_get0_notBefore(ca->cert)), t));
	fprintf(out, "not after:   %s\n", id_fmt_time(id_time(X509_get0_notAfter(ca->cert)), t));
}

static int ca_init(const char *dir, bool force, FILE *out, FILE *errf)
{
	struct identity_ca ca;
	struct identity_err err;
	int rc = identity_ca_create(time(NULL), IDENTITY_CA_TTL, &ca, &err);

	if (!rc)
		rc = identity_ca_save(&ca, dir, force, &err);
	if (rc) {
		fprintf(errf, "skiffctl ca init: %s\n", err.msg);
		identity_ca_free(&ca);
		return 1;
	}
	fprintf(out,
		"%s: new mesh root CA (%s, and %s, the mesh's secret: give it to skiffd "
		"only)\n",
		dir, IDENTITY_CA_CERT_FILE, IDENTITY_CA_KEY_FILE);
	id_print_ca(out, &ca);
	identity_ca_free(&ca);
	return 0;
}

static int ca_show(const char *dir, FILE *out, FILE *errf)
{
	struct identity_ca ca;
	struct identity_err err;
	int rc = identity_ca_read(dir, &ca, &err);

	if (rc) {
		fprintf(errf, "skiffctl ca show: %s\n", err.msg);
		return 1;
	}
	id_print_ca(out, &ca);
	/* shown even when unusable: an expired root is exactly what a person comes here to see */
	rc = identity_ca_check(&ca, time(NULL), &err);
	fprintf(out, "status:      %s\n", rc ? err.msg : "valid: skiffd can sign with it");
	identity_ca_free(&ca);
	return rc ? 1 : 0;
}

int identity_cli_ca(int argc, char **argv, FILE *out, FILE *err)
{
	const char *dir = NULL;
	bool force = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--force"))
			force = true;
		else if (argv[i][0] != '-' && !dir)
			dir = argv[i];
		else {
			fprintf(err, "skiffctl ca: unexpected argument '%s'\n", argv[i]);
			ca_usage(err);
			return 2;
		}
	}
	if (argc >= 1 && dir && !strcmp(argv[0], "init"))
		return ca_init(dir, force, out, err);
	if (argc >= 1 && dir && !force && !strcmp(argv[0], "show"))
		return ca_show(dir, out, err);
	ca_usage(err);
	return 2;
}
