// SPDX-License-Identifier: Apache-2.0
/*
 * `skiffctl authz check` on the guide's payments-api-policy, exactly as the guide writes it
 * (examples/payments/istio/authorization-policy.yaml, with the example's other manifests and the
 * Pods skiff-lab would write): frontend-sa may GET/POST /api/payments/..., prometheus may GET
 * /metrics, everything else is denied. The command runs as a function (output captured) for every
 * case, and once more as the real binary for its exit codes: 0 ALLOW, 1 DENY, 2 usage or config.
 */
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit/authz_test.h"

#define FRONTEND "spiffe://cluster.local/ns/frontend/sa/frontend-sa"
#define PROM	 "spiffe://cluster.local/ns/monitoring/sa/prometheus"

extern char **environ;

static const char *const config_files[] = {
    "examples/payments/00-namespaces.yaml",
    "examples/payments/10-payments-api.yaml",
    "examples/payments/20-frontend.yaml",
    "examples/payments/30-monitoring.yaml",
    "examples/payments/istio/authorization-policy.yaml",
    FIXTURES "payments-pods.yaml",
};
#define NFILES (sizeof(config_files) / sizeof(config_files[0]))

static char config_dir[] = "/tmp/skiff-authz-cli.XXXXXX";

/* The config dir skiffd would watch: links to the repository's files, nothing copied. */
static int setup(void **state)
{
	char cwd[PATH_MAX], target[PATH_MAX * 2], link[PATH_MAX];

	(void)state;
	if (!getcwd(cwd, sizeof(cwd)) || !mkdtemp(config_dir))
		return -1;
	for (size_t i = 0; i < NFILES; i++) {
		snprintf(target, sizeof(target), "%s/%s", cwd, config_files[i]);
		snprintf(link, sizeof(link), "%s/%zu-%s", config_dir, i,
			 strrchr(config_files[i], '/') + 1);
		if (symlink(target, link) < 0)
			return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	char link[PATH_MAX];

	(void)state;
	for (size_t i = 0; i < NFILES; i++) {
		snprintf(link, sizeof(link), "%s/%zu-%s", config_dir, i,
			 strrchr(config_files[i], '/') + 1);
		unlink(link);
	}
	return rmdir(config_dir);
}

struct run {
	int rc;
	char *out, *err;
};

/* authz_cli_check(DIR, args...) with stdout and stderr captured. */
static struct run check(const char *dir, const char *const *args)
{
	char *argv[32] = {(char *)dir};
	size_t outlen = 0, errlen = 0;
	struct run r = {0};
	FILE *out = open_memstream(&r.out, &outlen), *err = open_memstream(&r.err, &errlen);
	int argc = 1;

	while (args[argc - 1])
		argv[argc] = (char *)args[argc - 1], argc++;
	r.rc = authz_cli_check(argc, argv, out, err);
	fclose(out);
	fclose(err);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Exit code and a line of the output (NULL: not checked). */
static void expect_run(const char *const *args, int rc, const char *says)
{
	struct run r = check(config_dir, args);
	char cmd[1024] = "";

	if (r.rc == rc && (!says || strstr(r.out, says))) {
		run_free(&r);
		return;
	}
	for (size_t i = 0; args[i]; i++)
		snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " %s", args[i]);
	fail_msg("authz check DIR%s: exit %d (want %d), want \"%s\" in:\n%s%s", cmd, r.rc, rc,
		 says ? says : "", r.out, r.err);
}

#define POLICY "AuthorizationPolicy payments/payments-api-policy"

/* The guide's matrix, with the caller named by SPIFFE ID and the target by Service. */
static void test_guide_by_identity(void **state)
{
	(void)state;
	expect_run(
	    ARGS("--to", "payments/payments-api", "--from", FRONTEND, "--path", "/api/payments/x"),
	    0, "ALLOW: " POLICY " rules[0]");
	expect_run(ARGS("--to", "payments/payments-api", "--from", FRONTEND, "--method", "POST",
			"--path", "/api/payments/x"),
		   0, "ALLOW: " POLICY " rules[0]");
	expect_run(ARGS("--to", "payments/payments-api", "--from", FRONTEND, "--method", "DELETE",
			"--path", "/api/payments/x"),
		   1, "DENY: no ALLOW policy matched (1 ALLOW policy applies)");
	expect_run(ARGS("--to", "payments/payments-api", "--from", FRONTEND, "--path", "/admin"), 1,
		   "DENY: no ALLOW policy matched");
	expect_run(ARGS("--to", "payments/payments-api", "--from", PROM, "--path", "/metrics"), 0,
		   "ALLOW: " POLICY " rules[1]");
	expect_run(ARGS("--to", "payments/payments-api", "--from", PROM, "--method", "POST",
			"--path", "/metrics"),
		   1, "DENY");
	expect_run(ARGS("--to", "payments/payments-api", "--from",
			"spiffe://cluster.local/ns/payments/sa/payments-api", "--path", "/metrics"),
		   1, "DENY");
	expect_run(ARGS("--to", "payments/payments-api", "--path", "/api/payments/x"), 1,
		   "request: plaintext (no peer identity)");
}

/* The same with Pods on both ends: identity from the Pod's service account, port from its spec. */
static void test_guide_by_pod(void **state)
{
	(void)state;
	expect_run(
	    ARGS("--to", "payments/payments-api-v1-0", "--from-pod", "frontend/frontend-0",
		 "--path", "/api/payments/x"),
	    0, "request: " FRONTEND " (198.18.0.20) -> pod payments/payments-api-v1-0 port 8080");
	expect_run(ARGS("--to", "payments/payments-api-v1-0", "--from-pod", "frontend/frontend-0",
			"--method", "DELETE", "--path", "/api/payments/x"),
		   1, "DENY");
	expect_run(ARGS("--to", "payments/payments-api-v1-0", "--from-pod",
			"monitoring/prometheus-0", "--path", "/metrics"),
		   0, "ALLOW: " POLICY " rules[1]");
	expect_run(ARGS("--to", "payments/payments-api-v1-0", "--from-pod",
			"monitoring/prometheus-0", "--method", "POST", "--path", "/metrics"),
		   1, "DENY");
	expect_run(ARGS("--to", "payments/payments-api-v1-0", "--from-pod", "frontend/intruder",
			"--path", "/api/payments/x"),
		   1, "spiffe://cluster.local/ns/frontend/sa/default");
	/* The Service resolves to its Pod and its named targetPort. */
	expect_run(ARGS("--to", "payments/payments-api", "--from-pod", "frontend/frontend-0",
			"--path", "/api/payments/x"),
		   0, "workload: pod payments/payments-api-v1-0 (selected by the service)");
	/* Plain TCP: every ALLOW rule has HTTP fields, so nothing is left to allow it. */
	expect_run(ARGS("--to", "payments/payments-api-v1-0", "--from-pod", "frontend/frontend-0",
			"--tcp"),
		   1, "port 8080: TCP");
}

static void test_usage_and_config_errors(void **state)
{
	struct run r;

	(void)state;
	expect_run(ARGS("--from", FRONTEND), 2, NULL);
	expect_run(ARGS("--to", "payments"), 2, NULL);
	expect_run(ARGS("--to", "payments/payments-api", "--bogus", "x"), 2, NULL);
	expect_run(ARGS("--to", "payments/payments-api", "--tcp", "--path", "/x"), 2, NULL);
	expect_run(ARGS("--to", "payments/payments-api", "--from", "cluster.local/ns/a/sa/b"), 2,
		   NULL);
	expect_run(ARGS("--to", "payments/payments-api", "--port", "70000"), 2, NULL);
	expect_run(ARGS("--to", "payments/nothing"), 2, NULL);
	expect_run(ARGS("--to", "payments/payments-api", "--from-pod", "frontend/ghost"), 2, NULL);
	r = check("/nonexistent-dir", ARGS("--to", "payments/payments-api"));
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "cannot read config directory"));
	run_free(&r);
}

/* A policy the model rejects: exit 2 with its file:line, no decision printed. */
static void test_invalid_policy_dir(void **state)
{
	char dir[] = "/tmp/skiff-authz-bad.XXXXXX", file[PATH_MAX];
	FILE *f;
	struct run r;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/ap.yaml", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n"
	      "  name: p\n  namespace: payments\nspec:\n  action: DENY\n",
	      f);
	fclose(f);
	r = check(dir, ARGS("--to", "payments/x"));
	unlink(file);
	rmdir(dir);
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "ap.yaml:7: AuthorizationPolicy payments/p: spec.rules: "
				      "action DENY without rules"));
	assert_string_equal(r.out, "");
	run_free(&r);
}

/* build/tests/unit/test_authz_cli -> build/bin/skiffctl */
static void skiffctl_path(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	char *cut;

	assert_true(n > 0);
	buf[n] = '\0';
	cut = strstr(buf, "/tests/unit/");
	assert_non_null(cut);
	snprintf(cut, len - (size_t)(cut - buf), "/bin/skiffctl");
}

static int spawn_quiet(const char *bin, const char *const *args)
{
	posix_spawn_file_actions_t fa;
	char *argv[32] = {(char *)bin, "authz", "check", config_dir};
	int argc = 4, st;
	pid_t pid;

	while (args[argc - 4])
		argv[argc] = (char *)args[argc - 4], argc++;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	assert_int_equal(posix_spawn(&pid, bin, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void test_skiffctl_binary(void **state)
{
	char bin[PATH_MAX];

	(void)state;
	skiffctl_path(bin, sizeof(bin));
	if (access(bin, X_OK))
		fail_msg("%s not built (make builds it with the tests)", bin);
	assert_int_equal(spawn_quiet(bin, ARGS("--to", "payments/payments-api", "--from", FRONTEND,
					       "--path", "/api/payments/x")),
			 0);
	assert_int_equal(spawn_quiet(bin, ARGS("--to", "payments/payments-api", "--from", FRONTEND,
					       "--method", "DELETE", "--path", "/api/payments/x")),
			 1);
	assert_int_equal(spawn_quiet(bin, ARGS("--to", "payments/payments-api", "--oops")), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_guide_by_identity),
	    cmocka_unit_test(test_guide_by_pod),
	    cmocka_unit_test(test_usage_and_config_errors),
	    cmocka_unit_test(test_invalid_policy_dir),
	    cmocka_unit_test(test_skiffctl_binary),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
