// SPDX-License-Identifier: Apache-2.0
/*
 * `skiffctl cert mint`: a workload certificate and key as files, named as Istio's agent names
 * them (cert-chain.pem, key.pem, root-cert.pem), for tests and tools such as
 * `openssl s_client -cert cert-chain.pem -key key.pem -CAfile root-cert.pem`. skiffd never does
 * this: its workload keys stay in memory. --backdate mints as if it were that many seconds ago,
 * which is how a test gets an expired certificate.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "identity/identity_internal.h"

struct mint_args {
	const char *ca, *ns, *sa, *td, *out;
	long ttl, backdate;
};

static void cert_usage(FILE *f)
{
	fprintf(f,
		"usage: skiffctl cert mint --ca DIR --ns NS --sa SA [--trust-domain TD]\n"
		"           [--ttl SECONDS] [--backdate SECONDS] --out DIR\n"
		"  writes DIR/cert-chain.pem, DIR/key.pem (0600) and DIR/root-cert.pem for\n"
		"  spiffe://TD/ns/NS/sa/SA (TD default %s, TTL default %d s); --backdate mints\n"
		"  as if it were SECONDS ago. A test tool: skiffd keeps workload keys in memory.\n"
		"  Exit 0 done, 1 failed, 2 usage.\n",
		IDENTITY_TRUST_DOMAIN_DEFAULT, IDENTITY_TTL_DEFAULT);
}

static bool parse_seconds(const char *s, long min, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min)
		return false;
	*out = v;
	return true;
}

static int parse_mint_args(int argc, char **argv, struct mint_args *a, FILE *err)
{
	*a = (struct mint_args){.ttl = IDENTITY_TTL_DEFAULT};
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = val != NULL;

		if (ok && !strcmp(opt, "--ca"))
			a->ca = val;
		else if (ok && !strcmp(opt, "--ns"))
			a->ns = val;
		else if (ok && !strcmp(opt, "--sa"))
			a->sa = val;
		else if (ok && !strcmp(opt, "--trust-domain"))
			a->td = val;
		else if (ok && !strcmp(opt, "--out"))
			a->out = val;
		else if (ok && !strcmp(opt, "--ttl"))
			ok = parse_seconds(val, 1, &a->ttl);
		else if (ok && !strcmp(opt, "--backdate"))
			ok = parse_seconds(val, 0, &a->backdate);
		else
			ok = false;
		if (!ok) {
			fprintf(err, "skiffctl cert mint: bad option '%s'%s%s\n", opt,
				val ? " " : "", val ? val : "");
			return -EINVAL;
		}
		i++;
	}
	if (argc < 1 || strcmp(argv[0], "mint") || !a->ca || !a->ns || !a->sa || !a->out)
		return -EINVAL;
	return 0;
}

static int write_files(const char *dir, const struct identity_cert *c, const struct identity_ca *ca,
		       struct identity_err *err)
{
	char path[4096];
	int rc = id_mkdir(dir, err);

	if (!rc)
		rc = id_path(path, sizeof(path), dir, "key.pem", err);
	if (!rc)
		rc = id_write_key(path, c->key, err);
	if (!rc)
		rc = id_path(path, sizeof(path), dir, "cert-chain.pem", err);
	if (!rc)
		rc = id_write_cert(path, c->cert, err);
	if (!rc)
		rc = id_path(path, sizeof(path), dir, "root-cert.pem", err);
	if (!rc)
		rc = id_write_cert(path, ca->cert, err);
	return rc;
}

static int mint(const struct mint_args *a, FILE *out, FILE *errf)
{
	struct identity_ca ca = {0};
	struct identity_cert c = {0};
	struct identity_err err;
	struct spiffe_id id;
	time_t now = time(NULL);
	char uri[sizeof(id) + 32], t1[32], t2[32];
	int rc = identity_spiffe_make(a->td, a->ns, a->sa, &id, &err);

	if (!rc)
		rc = identity_ca_load(a->ca, now, &ca, &err);
	if (!rc)
		rc = identity_mint(&ca, &id, now - a->backdate, a->ttl, &c, &err);
	if (!rc)
		rc = write_files(a->out, &c, &ca, &err);
	if (rc) {
		fprintf(errf, "skiffctl cert mint: %s\n", err.msg);
	} else {
		identity_spiffe_format(&id, uri, sizeof(uri));
		fprintf(out,
			"%s: %s/cert-chain.pem, %s/key.pem, %s/root-cert.pem; valid %s to %s\n",
			uri, a->out, a->out, a->out, id_fmt_time(c.not_before, t1),
			id_fmt_time(c.not_after, t2));
	}
	identity_cert_free(&c);
	identity_ca_free(&ca);
	return rc ? 1 : 0;
}

int identity_cli_cert(int argc, char **argv, FILE *out, FILE *err)
{
	struct mint_args a;

	if (parse_mint_args(argc, argv, &a, err)) {
		cert_usage(err);
		return 2;
	}
	return mint(&a, out, err);
}
