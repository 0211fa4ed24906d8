// SPDX-License-Identifier: Apache-2.0
/*
 * `skiffctl ca init|show` and `skiffctl cert mint`: run in-process through the same entry points
 * skiffctl calls (output captured), and once through the real skiffctl binary. init refuses to
 * replace a CA without --force; show's fingerprint is the one `openssl x509 -fingerprint`
 * computes; mint writes files `openssl verify` accepts, an expired one with --backdate, and
 * every bad argument is a usage error.
 */
#include "unit/identity_test.h"

static char dir[64];
static const char *argv0;

static int setup(void **state)
{
	(void)state;
	tmpdir_make(dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tmpdir_remove(dir);
	return 0;
}

struct cli_run {
	int rc;
	char out[4096], err[4096];
};

static void slurp(FILE *f, char *buf, size_t len)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* Call fn with the words of `line` (space-separated, DIR replaced by the scratch dir). */
static void cli(struct cli_run *r, int (*fn)(int, char **, FILE *, FILE *), const char *line)
{
	char buf[1024], *argv[32], *save = NULL;
	int argc = 0;
	FILE *out = tmpfile(), *err = tmpfile();

	assert_non_null(out);
	assert_non_null(err);
	snprintf(buf, sizeof(buf), "%s", line);
	for (char *w = strtok_r(buf, " ", &save); w && argc < 31; w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	r->rc = fn(argc, argv, out, err);
	slurp(out, r->out, sizeof(r->out));
	slurp(err, r->err, sizeof(r->err));
}

static void test_ca_init_refuses_overwrite(void **state)
{
	struct cli_run r;
	char line[256], p[128], before[4096], after[4096];

	(void)state;
	snprintf(line, sizeof(line), "init %s/ca", dir);
	cli(&r, identity_cli_ca, line);
	if (r.rc != 0)
		fail_msg("ca init: %d %s", r.rc, r.err);
	assert_non_null(strstr(r.out, "new mesh root CA"));
	assert_non_null(strstr(r.out, "subject:     O=skiff, CN=skiff mesh root CA"));
	snprintf(p, sizeof(p), "%s/ca/ca.key", dir);
	file_mode_is(p, 0600);
	assert_int_equal(run_cmd(before, sizeof(before), "cat %s/ca/ca.crt %s/ca/ca.key", dir, dir),
			 0);

	cli(&r, identity_cli_ca, line);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "already holds a mesh CA"));
	assert_non_null(strstr(r.err, "--force"));
	assert_int_equal(run_cmd(after, sizeof(after), "cat %s/ca/ca.crt %s/ca/ca.key", dir, dir),
			 0);
	assert_string_equal(before, after); /* not a byte changed */

	snprintf(line, sizeof(line), "init %s/ca --force", dir);
	cli(&r, identity_cli_ca, line);
	assert_int_equal(r.rc, 0);
	assert_int_equal(run_cmd(after, sizeof(after), "cat %s/ca/ca.crt %s/ca/ca.key", dir, dir),
			 0);
	assert_string_not_equal(before, after);
}

/* The fingerprint people compare across nodes is the one openssl computes. */
static void test_ca_show(void **state)
{
	struct cli_run r;
	char line[256], ossl[512];
	const char *fp;

	(void)state;
	snprintf(line, sizeof(line), "init %s", dir);
	cli(&r, identity_cli_ca, line);
	assert_int_equal(r.rc, 0);
	snprintf(line, sizeof(line), "show %s", dir);
	cli(&r, identity_cli_ca, line);
	assert_int_equal(r.rc, 0);
	assert_int_equal(run_cmd(ossl, sizeof(ossl),
				 "openssl x509 -in %s/ca.crt -noout "
				 "-fingerprint -sha256",
				 dir),
			 0);
	fp = strchr(ossl, '=');
	assert_non_null(fp);
	assert_int_equal(strlen(fp + 1), 32 * 3); /* 32 bytes "AB:" ..., and the newline */
	assert_non_null(strstr(r.out, fp + 1));
	assert_non_null(strstr(r.out, "not before:  "));
	assert_non_null(strstr(r.out, "not after:   "));
	assert_non_null(strstr(r.out, "status:      valid"));
}

/* An expired root is shown (that is what a person came to see) and the exit status says 1. */
static void test_ca_show_expired(void **state)
{
	struct identity_ca ca;
	struct cli_run r;
	char line[256];

	(void)state;
	ca_make_at(&ca, time(NULL) - 2 * DAY, DAY);
	assert_int_equal(identity_ca_save(&ca, dir, false, NULL), 0);
	snprintf(line, sizeof(line), "show %s", dir);
	cli(&r, identity_cli_ca, line);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.out, "sha256:"));
	assert_non_null(strstr(r.out, "status:      the mesh root CA expired"));
	snprintf(line, sizeof(line), "show %s/none", dir);
	cli(&r, identity_cli_ca, line);
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "missing; create a mesh CA"));
	identity_ca_free(&ca);
}

static void test_cert_mint(void **state)
{
	struct cli_run r;
	char line[512], p[128], out[4096];
	int rc;

	(void)state;
	snprintf(line, sizeof(line), "init %s/ca", dir);
	cli(&r, identity_cli_ca, line);
	snprintf(line, sizeof(line),
		 "mint --ca %s/ca --ns payments --sa api --trust-domain "
		 "mesh.example --ttl 600 --out %s/w",
		 dir, dir);
	cli(&r, identity_cli_cert, line);
	if (r.rc != 0)
		fail_msg("cert mint: %d %s", r.rc, r.err);
	assert_non_null(strstr(r.out, "spiffe://mesh.example/ns/payments/sa/api: "));
	snprintf(p, sizeof(p), "%s/w/key.pem", dir);
	file_mode_is(p, 0600);
	rc = run_cmd(out, sizeof(out),
		     "openssl verify -CAfile %s/w/root-cert.pem "
		     "%s/w/cert-chain.pem",
		     dir, dir);
	if (rc || !strstr(out, "cert-chain.pem: OK"))
		fail_msg("openssl verify: %s", out);
	/* the key belongs to the certificate: same public key */
	rc = run_cmd(out, sizeof(out),
		     "test \"$(openssl pkey -in %s/w/key.pem -pubout)\" = "
		     "\"$(openssl x509 -in %s/w/cert-chain.pem -noout -pubkey)\"",
		     dir, dir);
	assert_int_equal(rc, 0);
	rc = run_cmd(out, sizeof(out),
		     "openssl x509 -in %s/w/cert-chain.pem -noout -ext "
		     "subjectAltName",
		     dir);
	assert_non_null(strstr(out, "URI:spiffe://mesh.example/ns/payments/sa/api"));

	/* --backdate: a certificate that expired an hour ago, for refusal tests */
	snprintf(line, sizeof(line),
		 "mint --ca %s/ca --ns payments --sa api --ttl 3600 "
		 "--backdate 7200 --out %s/old",
		 dir, dir);
	cli(&r, identity_cli_cert, line);
	assert_int_equal(r.rc, 0);
	rc = run_cmd(out, sizeof(out),
		     "openssl verify -CAfile %s/old/root-cert.pem "
		     "%s/old/cert-chain.pem",
		     dir, dir);
	if (rc == 0 || !strstr(out, "certificate has expired"))
		fail_msg("openssl verify of the backdated certificate: %s", out);
}

static void test_usage_errors(void **state)
{
	static const char *const ca_bad[] = {
	    "", "init", "show", "frob x", "init a b", "show a --force", "init a --bogus"};
	static const char *const cert_bad[] = {"",
					       "mint",
					       "mint --ca a --ns b --sa c",
					       "mint --ca a --ns b --sa c --out",
					       "mint --ca a --ns b --sa c --out d --ttl 0",
					       "mint --ca a --ns b --sa c --out d "
					       "--ttl 5x",
					       "mint --ca a --ns b --sa c --out d --backdate -1",
					       "mint --ca a --ns b --sa c --out d --what x",
					       "sign --ca a --ns b --sa c --out d"};
	struct cli_run r;

	(void)state;
	for (size_t i = 0; i < sizeof(ca_bad) / sizeof(ca_bad[0]); i++) {
		cli(&r, identity_cli_ca, ca_bad[i]);
		if (r.rc != 2 || !strstr(r.err, "usage: skiffctl ca"))
			fail_msg("ca \"%s\": exit %d, %s", ca_bad[i], r.rc, r.err);
	}
	for (size_t i = 0; i < sizeof(cert_bad) / sizeof(cert_bad[0]); i++) {
		cli(&r, identity_cli_cert, cert_bad[i]);
		if (r.rc != 2 || !strstr(r.err, "usage: skiffctl cert mint"))
			fail_msg("cert \"%s\": exit %d, %s", cert_bad[i], r.rc, r.err);
	}
	/* well-formed, but a bad name: an error naming it, not a usage message */
	cli(&r, identity_cli_cert, "mint --ca /nonexistent --ns Bad --sa c --out /tmp/x");
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "namespace \"Bad\""));
}

/* The real binary, next to this test's build directory (BUILD/tests/unit -> BUILD/bin). */
static void test_skiffctl_binary(void **state)
{
	char bin[1024], out[4096];
	const char *slash = strrchr(argv0, '/');
	int rc;

	(void)state;
	snprintf(bin, sizeof(bin), "%.*s/../../bin/skiffctl", slash ? (int)(slash - argv0) : 1,
		 slash ? argv0 : ".");
	if (access(bin, X_OK))
		skip(); /* a partial build (make build/tests/...) made only the tests */
	rc = run_cmd(out, sizeof(out), "%s ca init %s/ca", bin, dir);
	assert_int_equal(rc, 0);
	rc = run_cmd(out, sizeof(out), "%s ca init %s/ca", bin, dir);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(out, "--force"));
	rc = run_cmd(out, sizeof(out), "%s cert mint --ca %s/ca --ns a --sa b --out %s/w", bin, dir,
		     dir);
	assert_int_equal(rc, 0);
	rc = run_cmd(out, sizeof(out), "%s ca show %s/ca", bin, dir);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "sha256:"));
}

int main(int argc, char **argv)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_ca_init_refuses_overwrite),
	    T(test_ca_show),
	    T(test_ca_show_expired),
	    T(test_cert_mint),
	    T(test_usage_errors),
	    T(test_skiffctl_binary),
	};

	(void)argc;
	argv0 = argv[0];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
