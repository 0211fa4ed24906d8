// SPDX-License-Identifier: Apache-2.0
/*
 * The Kubernetes API source against tests/kube/fake_apiserver.py, started here as a child on
 * 127.0.0.1 (a free port, TLS with a CA it makes at start, bearer tokens): list then watch,
 * every event type, a watch cut mid-stream and resumed, 410 and the re-list, a CRD that is 404
 * and then installed, a token that rotates, a certificate that does not verify, an invalid
 * object named in the error, and the same node view from the file source and the API.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "compile/compile.h"
#include "compile_test.h"
#include "config/yaml_tree.h"
#include "kube/kube_config.h"
#include "kube/kube_json.h"
#include "kube/kube_source.h"
#include "model/model.h"

struct fake_api {
	pid_t pid;
	int stdin_fd; /* closing it stops the server */
	int port;
	char ca[PATH_MAX], other_ca[PATH_MAX];
	char client_cert[PATH_MAX], client_key[PATH_MAX];
	char dir[64]; /* kubeconfig, token file, service account dir */
	char kubeconfig[128];
};

static char repo[PATH_MAX]; /* where tests/kube lives */

/* What a test has running, so that the teardown stops it when an assertion ends the test
 * early: the server (a copy: the test's own struct is gone with its stack) and the source. */
static struct fake_api live_fa;
static bool live_fa_running;
static struct kube_source *live_ks;

/* The repository: the working directory when run from it (tests/run.sh), else found upwards
 * from the binary (build/tests/unit/ or build/san/tests/unit/). */
static void find_repo(void)
{
	char exe[PATH_MAX], probe[PATH_MAX + 64];
	ssize_t n;

	if (!access("tests/kube/fake_apiserver.py", R_OK)) {
		snprintf(repo, sizeof(repo), ".");
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	for (int i = 0; i < 6; i++) {
		snprintf(exe, sizeof(exe), "%s", dirname(exe));
		snprintf(probe, sizeof(probe), "%s/tests/kube/fake_apiserver.py", exe);
		if (!access(probe, R_OK)) {
			snprintf(repo, sizeof(repo), "%s", exe);
			return;
		}
	}
	fail_msg("tests/kube/fake_apiserver.py not found from the working directory or the binary");
}

static void fake_start(struct fake_api *fa, bool mesh)
{
	int in[2], out[2];
	char line[2 * PATH_MAX + 64], script[PATH_MAX + 64], objs[PATH_MAX + 64];
	FILE *f;

	memset(fa, 0, sizeof(*fa));
	snprintf(fa->dir, sizeof(fa->dir), "/tmp/skiff-test-kube-XXXXXX");
	assert_non_null(mkdtemp(fa->dir));
	snprintf(script, sizeof(script), "%s/tests/kube/fake_apiserver.py", repo);
	snprintf(objs, sizeof(objs), "%s/tests/kube/objects", repo);
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	fa->pid = fork();
	assert_true(fa->pid >= 0);
	if (fa->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		if (mesh)
			execlp("python3", "python3", script, "--objects", objs, NULL);
		else
			execlp("python3", "python3", script, NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	fa->stdin_fd = in[1];
	live_fa = *fa;
	live_fa_running = true;
	f = fdopen(out[0], "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_int_equal(sscanf(line,
				"READY port=%d ca=%4095s other_ca=%4095s client_cert=%4095s "
				"client_key=%4095s",
				&fa->port, fa->ca, fa->other_ca, fa->client_cert, fa->client_key),
			 5);
	live_fa = *fa;
}

static void fake_stop(struct fake_api *fa)
{
	char cmd[128];
	int status;

	close(fa->stdin_fd);
	for (int i = 0; i < 50 && waitpid(fa->pid, &status, WNOHANG) == 0; i++)
		usleep(20000);
	if (waitpid(fa->pid, &status, WNOHANG) == 0) {
		kill(fa->pid, SIGKILL);
		waitpid(fa->pid, &status, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fa->dir);
	(void)!system(cmd);
	live_fa_running = false;
}

static void source_close(struct kube_source *ks)
{
	kube_source_close(ks);
	live_ks = NULL;
}

static int kt_teardown(void **state)
{
	(void)state;
	if (live_ks)
		source_close(live_ks);
	if (live_fa_running)
		fake_stop(&live_fa);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	return 0;
}

static size_t keep_body(char *p, size_t size, size_t n, void *ctx)
{
	struct strbuf *b = ctx;

	sb_printf(b, "%.*s", (int)(size * n), p);
	return size * n;
}

/* One control operation; the answer's body (caller frees). */
static char *fake_control(struct fake_api *fa, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *fake_control(struct fake_api *fa, const char *fmt, ...)
{
	struct strbuf body = {0};
	char url[64], *req;
	va_list ap;
	CURL *h = curl_easy_init();

	va_start(ap, fmt);
	assert_true(vasprintf(&req, fmt, ap) >= 0);
	va_end(ap);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/_control", fa->port);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CAINFO, fa->ca);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, req);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	curl_easy_cleanup(h);
	free(req);
	return body.s;
}

static void control(struct fake_api *fa, const char *json)
{
	free(fake_control(fa, "%s", json));
}

enum auth { AUTH_TOKEN, AUTH_TOKEN_FILE, AUTH_CERT };

/* "KEY: <base64 of FILE>" into `f`, as kubectl writes *-data fields. */
static void write_pem_data(FILE *f, const char *key, const char *file)
{
	unsigned char pem[8192], b64[12000];
	FILE *c = fopen(file, "r");
	size_t n;

	assert_non_null(c);
	n = fread(pem, 1, sizeof(pem), c);
	fclose(c);
	EVP_EncodeBlock(b64, pem, (int)n);
	fprintf(f, "%s: %s\n", key, b64);
}

/* A kubeconfig as kubectl writes it; ca_data: the CA inline (certificate-authority-data). */
static void write_kubeconfig(struct fake_api *fa, const char *ca, bool ca_data, enum auth auth,
			     const char *token)
{
	char tokfile[128];
	FILE *f;

	snprintf(fa->kubeconfig, sizeof(fa->kubeconfig), "%s/kubeconfig", fa->dir);
	snprintf(tokfile, sizeof(tokfile), "%s/token", fa->dir);
	f = fopen(fa->kubeconfig, "w");
	assert_non_null(f);
	fprintf(f,
		"apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: fake\n"
		"  cluster:\n    server: https://127.0.0.1:%d/\n",
		fa->port);
	if (ca_data) {
		write_pem_data(f, "    certificate-authority-data", ca);
	} else {
		fprintf(f, "    certificate-authority: %s\n", ca);
	}
	fprintf(f, "users:\n- name: skiffd\n  user:\n");
	if (auth == AUTH_TOKEN)
		fprintf(f, "    token: %s\n", token);
	else if (auth == AUTH_CERT) {
		write_pem_data(f, "    client-certificate-data", fa->client_cert);
		write_pem_data(f, "    client-key-data", fa->client_key);
	} else
		fprintf(f, "    tokenFile: token\n"); /* relative: to the kubeconfig's directory */
	fprintf(f, "contexts:\n- name: test\n  context:\n    cluster: fake\n    user: skiffd\n");
	fclose(f);
	if (auth == AUTH_TOKEN_FILE) {
		f = fopen(tokfile, "w");
		fprintf(f, "%s\n", token);
		fclose(f);
	}
}

static struct kube_source *source_open(struct fake_api *fa)
{
	struct kube_source_opts o = {.kubeconfig = fa->kubeconfig,
				     .backoff_min_ms = 50,
				     .backoff_max_ms = 200,
				     .missing_retry_ms = 200,
				     .quiet = true};
	struct kube_source *ks;
	struct diag d = {0};

	if (kube_source_open(&o, &ks, &d)) {
		diag_print(&d);
		fail_msg("kube_source_open failed");
	}
	diag_free(&d);
	live_ks = ks;
	return ks;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef bool (*until_fn)(struct kube_source *ks, const struct kube_source_stats *st,
			 const void *arg);

/* Poll the source's fd (as the agent loop does) until `fn` says yes; false after 10 s. */
/* 10 s; a minute in a vmtest guest, where the fake API server (Python) and libcurl run on an
 * emulated CPU that other work shares: a loaded guest took longer than 10 s to list and sync. */
static long wait_limit_ms(void)
{
	return getenv("SKIFF_VMTEST") ? 60000 : 10000;
}

static bool wait_until(struct kube_source *ks, until_fn fn, const void *arg)
{
	struct kube_source_stats st;
	long deadline = now_ms() + wait_limit_ms();

	do {
		struct pollfd p = {.fd = kube_source_fd(ks), .events = POLLIN};

		poll(&p, 1, 20);
		kube_source_stats(ks, &st);
		if (fn(ks, &st, arg))
			return true;
	} while (now_ms() < deadline);
	return false;
}

static bool is_synced(struct kube_source *ks, const struct kube_source_stats *st, const void *a)
{
	(void)st, (void)a;
	return kube_source_synced(ks);
}

static bool events_at_least(struct kube_source *ks, const struct kube_source_stats *st,
			    const void *a)
{
	(void)ks;
	return st->events >= *(const unsigned long *)a;
}

static bool bookmarks_seen(struct kube_source *ks, const struct kube_source_stats *st,
			   const void *a)
{
	(void)ks, (void)a;
	return st->bookmarks > 0;
}

static bool relists_at_least(struct kube_source *ks, const struct kube_source_stats *st,
			     const void *a)
{
	(void)ks;
	return st->relists >= *(const unsigned long *)a;
}

static bool failed_once(struct kube_source *ks, const struct kube_source_stats *st, const void *a)
{
	(void)ks, (void)a;
	return st->failures > 0;
}

static bool none_missing(struct kube_source *ks, const struct kube_source_stats *st, const void *a)
{
	(void)a;
	return st->missing == 0 && kube_source_synced(ks);
}

static bool has_ledger(struct kube_source *ks, const struct kube_source_stats *st, const void *a)
{
	struct diag d = {0};
	struct model m;
	bool found;

	(void)st, (void)a;
	if (kube_source_snapshot(ks, &m, &d)) {
		diag_free(&d);
		return false;
	}
	found = model_service(&m, "payments", "ledger");
	model_free(&m);
	diag_free(&d);
	return found;
}

static void wait_events(struct kube_source *ks, unsigned long n)
{
	assert_true(wait_until(ks, events_at_least, &n));
}

static void snapshot_ok(struct kube_source *ks, struct model *m)
{
	struct diag d = {0};
	int rc = kube_source_snapshot(ks, m, &d);

	if (rc)
		diag_print(&d);
	assert_int_equal(rc, 0);
	diag_free(&d);
}

static void apply_service(struct fake_api *fa, const char *name, const char *ip)
{
	free(
	    fake_control(fa,
			 "{\"op\":\"apply\",\"object\":{\"apiVersion\":\"v1\",\"kind\":\"Service\","
			 "\"metadata\":{\"name\":\"%s\",\"namespace\":\"payments\"},\"spec\":{"
			 "\"clusterIP\":\"%s\",\"selector\":{\"app\":\"%s\"},\"ports\":[{"
			 "\"name\":\"http\",\"port\":80,\"targetPort\":8080}]}}}",
			 name, ip, name));
}

static const struct m_service *svc(const struct model *m, const char *name)
{
	return model_service(m, "payments", name);
}

/* First list, then each event type over the watch; nothing before every kind is listed. */
static void test_list_then_watch(void **state)
{
	struct fake_api fa;
	struct kube_source *ks;
	struct kube_source_stats st;
	struct model m;

	(void)state;
	fake_start(&fa, true);
	write_kubeconfig(&fa, fa.ca, true, AUTH_TOKEN, "test-token");
	ks = source_open(&fa);
	assert_true(wait_until(ks, is_synced, NULL));
	assert_true(kube_source_drain(ks));
	snapshot_ok(ks, &m);
	assert_int_equal(m.nnamespaces, 2);
	assert_int_equal(m.npods, 3);
	assert_int_equal(m.nvirtualservices, 1);
	assert_int_equal(m.nauthorizationpolicies, 1);
	assert_string_equal(k8s_pod_uid(&m.pods[0]), "0b6c1e8e-0001-4000-8000-000000000003");
	model_free(&m);
	kube_source_stats(ks, &st);
	assert_int_equal(st.lists, 10) /* one per watched kind */;
	assert_int_equal(st.events, 0);

	apply_service(&fa, "ledger", "10.96.0.30"); /* ADDED */
	wait_events(ks, 1);
	assert_true(kube_source_drain(ks));
	snapshot_ok(ks, &m);
	assert_non_null(svc(&m, "ledger"));
	assert_string_equal(svc(&m, "ledger")->cluster_ips[0], "10.96.0.30");
	model_free(&m);

	apply_service(&fa, "ledger", "10.96.0.31"); /* MODIFIED */
	wait_events(ks, 2);
	snapshot_ok(ks, &m);
	assert_string_equal(svc(&m, "ledger")->cluster_ips[0], "10.96.0.31");
	model_free(&m);

	control(&fa, "{\"op\":\"delete\",\"kind\":\"Service\",\"namespace\":\"payments\","
		     "\"name\":\"ledger\"}"); /* DELETED */
	wait_events(ks, 3);
	snapshot_ok(ks, &m);
	assert_null(svc(&m, "ledger"));
	assert_non_null(svc(&m, "payments-api"));
	model_free(&m);

	control(&fa, "{\"op\":\"bookmark\"}");
	assert_true(wait_until(ks, bookmarks_seen, NULL));
	kube_source_stats(ks, &st);
	assert_int_equal(st.events, 3);
	assert_int_equal(st.duplicates, 0);
	assert_int_equal(st.lists, 10);
	source_close(ks);
	fake_stop(&fa);
}

/* A watch cut after 2 of 5 events resumes at the 2nd's resourceVersion: all 5, once each. */
static void test_watch_dropped_resumes(void **state)
{
	struct fake_api fa;
	struct kube_source *ks;
	struct kube_source_stats st;
	struct model m;
	char name[32], ip[32], *stats;

	(void)state;
	fake_start(&fa, true);
	write_kubeconfig(&fa, fa.ca, false, AUTH_TOKEN, "test-token");
	control(&fa, "{\"op\":\"fault\",\"close_after\":{\"services\":2}}");
	ks = source_open(&fa);
	assert_true(wait_until(ks, is_synced, NULL));
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "svc-%d", i);
		snprintf(ip, sizeof(ip), "10.96.1.%d", i + 1);
		apply_service(&fa, name, ip);
	}
	wait_events(ks, 5);
	usleep(200000); /* anything replayed would show up now */
	kube_source_stats(ks, &st);
	assert_int_equal(st.events, 5);
	assert_int_equal(st.duplicates, 0);
	assert_int_equal(st.relists, 0);
	assert_int_equal(st.lists, 10);
	assert_true(st.failures >= 1); /* the cut */
	snapshot_ok(ks, &m);
	assert_int_equal(m.nservices, 6);
	model_free(&m);
	/* the resume asked for the 2nd event's version: the list was at 111 (mesh.json has 11
	 * objects from 101), the services at 112..116 */
	stats = fake_control(&fa, "{\"op\":\"stats\"}");
	assert_non_null(strstr(stats, "[\"services\", \"111\"]"));
	assert_non_null(strstr(stats, "[\"services\", \"113\"]"));
	free(stats);
	source_close(ks);
	fake_stop(&fa);
}

/* 410 as an HTTP status and as an ERROR event: the kind is listed again, and an object deleted
 * while no watch could say so is gone after the re-list. */
static void test_gone_relists(void **state)
{
	struct fake_api fa;
	struct kube_source *ks;
	struct kube_source_stats st;
	struct model m;
	unsigned long two = 2;

	(void)state;
	fake_start(&fa, true);
	write_kubeconfig(&fa, fa.ca, false, AUTH_TOKEN, "test-token");
	ks = source_open(&fa);
	assert_true(wait_until(ks, is_synced, NULL));
	control(&fa, "{\"op\":\"fault\",\"gone_http\":[\"services\"],\"gone_event\":[\"pods\"]}");
	control(&fa, "{\"op\":\"drop\"}");
	assert_true(wait_until(ks, relists_at_least, &two));
	kube_source_stats(ks, &st);
	assert_int_equal(st.relists, 2);
	assert_int_equal(st.lists, 12);
	snapshot_ok(ks, &m);
	assert_int_equal(m.npods, 3);
	model_free(&m);

	/* compaction: every resume from before it is too old; the watches see it after a drop.
	 * The Service added meanwhile arrives by its event if the services watch saw it before
	 * the drop (then that kind resumes after the compaction), or by the re-list. */
	control(&fa, "{\"op\":\"compact\"}");
	apply_service(&fa, "ledger", "10.96.0.30");
	control(&fa, "{\"op\":\"drop\"}");
	two = 2 + 7;
	assert_true(wait_until(ks, relists_at_least, &two));
	assert_true(wait_until(ks, has_ledger, NULL));
	source_close(ks);
	fake_stop(&fa);
}

/* A kind whose CRD is not installed (404) does not hold the rest back; once installed it is
 * listed on the next try. A kind served only at an older version is read there. */
static void test_crd_missing_then_installed(void **state)
{
	struct fake_api fa;
	struct kube_source *ks;
	struct kube_source_stats st;
	struct model m;

	(void)state;
	fake_start(&fa, true);
	write_kubeconfig(&fa, fa.ca, false, AUTH_TOKEN, "test-token");
	control(&fa,
		"{\"op\":\"fault\",\"missing\":[\"virtualservices\",\"peerauthentications@v1\"]}");
	ks = source_open(&fa);
	assert_true(wait_until(ks, is_synced, NULL));
	kube_source_stats(ks, &st);
	assert_int_equal(st.missing, 1);
	snapshot_ok(ks, &m);
	assert_int_equal(m.nvirtualservices, 0);
	assert_int_equal(m.npeerauthentications, 1); /* from security.istio.io/v1beta1 */
	model_free(&m);

	control(&fa, "{\"op\":\"fault\",\"found\":[\"virtualservices\"]}");
	assert_true(wait_until(ks, none_missing, NULL));
	snapshot_ok(ks, &m);
	assert_int_equal(m.nvirtualservices, 1);
	model_free(&m);
	source_close(ks);
	fake_stop(&fa);
}

/* The token file is read for every request: a rotated token is used from the next one. This
 * runs the in-cluster configuration (service account directory and environment). */
/* "auth_failures": N from the fake server's stats */
static long auth_failures(const char *stats)
{
	const char *p = strstr(stats, "\"auth_failures\": ");

	assert_non_null(p);
	return strtol(p + strlen("\"auth_failures\": "), NULL, 10);
}

static void test_token_rotates(void **state)
{
	struct kube_source_opts o = {.backoff_min_ms = 50, .backoff_max_ms = 200, .quiet = true};
	struct fake_api fa;
	struct kube_source *ks;
	struct diag d = {0};
	struct model m;
	char sa[128], path[160], cmd[2 * PATH_MAX], port[16], *stats;
	long failures;
	FILE *f;

	(void)state;
	fake_start(&fa, true);
	control(&fa, "{\"op\":\"token\",\"token\":\"tok-1\"}");
	snprintf(sa, sizeof(sa), "%s/sa", fa.dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s %s/ca.crt && echo tok-1 > %s/token", sa,
		 fa.ca, sa, sa);
	assert_int_equal(system(cmd), 0);
	snprintf(port, sizeof(port), "%d", fa.port);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	o.sa_dir = sa;
	assert_int_equal(kube_source_open(&o, &ks, &d), 0);
	live_ks = ks;
	assert_true(wait_until(ks, is_synced, NULL));

	/* kubelet writes the new token beside the old and renames it into place; the old one
	 * stays valid for a while, as a projected token does until it expires */
	control(&fa, "{\"op\":\"token\",\"tokens\":[\"tok-1\",\"tok-2\"]}");
	snprintf(path, sizeof(path), "%s/.token.new", sa);
	f = fopen(path, "w");
	fputs("tok-2\n", f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/token", sa);
	assert_int_equal(rename(path, cmd), 0);
	/* then only the new one is valid: the watches come back with it */
	control(&fa, "{\"op\":\"token\",\"token\":\"tok-2\"}");
	control(&fa, "{\"op\":\"drop\"}");
	apply_service(&fa, "ledger", "10.96.0.30");
	wait_events(ks, 1);
	snapshot_ok(ks, &m);
	assert_non_null(svc(&m, "ledger"));
	model_free(&m);
	/* A request whose token was read just before the rename may meet the switch (a real
	 * server would still take it); from here on, no request may fail its auth. */
	stats = fake_control(&fa, "{\"op\":\"stats\"}");
	failures = auth_failures(stats);
	free(stats);
	control(&fa, "{\"op\":\"drop\"}");
	apply_service(&fa, "journal", "10.96.0.31");
	wait_events(ks, 2);
	snapshot_ok(ks, &m);
	assert_non_null(svc(&m, "journal"));
	model_free(&m);
	stats = fake_control(&fa, "{\"op\":\"stats\"}");
	assert_int_equal(auth_failures(stats), failures);
	free(stats);
	source_close(ks);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	diag_free(&d);
	fake_stop(&fa);
}

/* A server whose certificate the cluster CA did not sign is never trusted; a wrong token is
 * refused by the server: neither gets to a snapshot. */
static void test_bad_certificate_refused(void **state)
{
	struct fake_api fa;
	struct kube_source *ks;
	struct model m;
	struct diag d = {0};
	char *stats;

	(void)state;
	fake_start(&fa, true);
	write_kubeconfig(&fa, fa.other_ca, false, AUTH_TOKEN, "test-token");
	ks = source_open(&fa);
	assert_true(wait_until(ks, failed_once, NULL));
	assert_false(kube_source_synced(ks));
	assert_int_equal(kube_source_snapshot(ks, &m, &d), -EAGAIN);
	source_close(ks);
	stats = fake_control(&fa, "{\"op\":\"stats\"}");
	assert_non_null(strstr(stats, "\"lists\": {}")); /* no request got through TLS */
	free(stats);

	write_kubeconfig(&fa, fa.ca, false, AUTH_TOKEN, "wrong-token");
	ks = source_open(&fa);
	assert_true(wait_until(ks, failed_once, NULL));
	assert_false(kube_source_synced(ks));
	source_close(ks);
	stats = fake_control(&fa, "{\"op\":\"stats\"}");
	assert_null(strstr(stats, "\"auth_failures\": 0"));
	free(stats);
	diag_free(&d);
	fake_stop(&fa);
}

/* A client certificate user (kubeconfig *-data fields) and no token. */
static void test_client_certificate(void **state)
{
	struct fake_api fa;
	struct kube_source *ks;
	struct model m;
	char *stats;

	(void)state;
	fake_start(&fa, true);
	write_kubeconfig(&fa, fa.ca, true, AUTH_CERT, NULL);
	ks = source_open(&fa);
	assert_true(wait_until(ks, is_synced, NULL));
	snapshot_ok(ks, &m);
	assert_int_equal(m.npods, 3);
	model_free(&m);
	source_close(ks);
	stats = fake_control(&fa, "{\"op\":\"stats\"}");
	assert_non_null(strstr(stats, "\"auth_failures\": 0"));
	assert_non_null(strstr(stats, "\"cert_users\""));
	free(stats);
	fake_stop(&fa);
}

/* A kubeconfig is refused, naming the file and the field, when it cannot be used safely. */
static void test_kubeconfig_errors(void **state)
{
	struct kube_conn c;
	struct diag d = {0};
	char dir[] = "/tmp/skiff-test-kubeconfig-XXXXXX", path[64], cmd[128];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/config", dir);
	f = fopen(path, "w");
	fputs("current-context: c\nclusters:\n- name: k\n  cluster:\n    server: "
	      "https://10.0.0.1:6443\n"
	      "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
	      "users:\n- name: u\n  user: {tokenFile: sa/token}\n",
	      f);
	fclose(f);
	assert_int_equal(kube_config_load(path, &c, &d), -EINVAL);
	assert_true(diag_contains(&d, "no certificate-authority(-data)"));
	assert_true(diag_contains(&d, path));
	diag_free(&d);
	memset(&d, 0, sizeof(d));

	f = fopen(path, "w");
	fputs("current-context: c\nclusters:\n- name: k\n  cluster:\n    server: "
	      "https://10.0.0.1:6443\n"
	      "    certificate-authority: ca.crt\n"
	      "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
	      "users:\n- name: u\n  user: {tokenFile: sa/token}\n",
	      f);
	fclose(f);
	assert_int_equal(kube_config_load(path, &c, &d), 0);
	assert_string_equal(c.server, "https://10.0.0.1:6443");
	snprintf(cmd, sizeof(cmd), "%s/ca.crt", dir); /* relative to the kubeconfig's directory */
	assert_string_equal(c.ca.file, cmd);
	snprintf(cmd, sizeof(cmd), "%s/sa/token", dir);
	assert_string_equal(c.token_file, cmd);
	kube_conn_free(&c);

	f = fopen(path, "w");
	fputs("current-context: elsewhere\ncontexts: []\n", f);
	fclose(f);
	assert_int_equal(kube_config_load(path, &c, &d), -EINVAL);
	assert_true(diag_contains(&d, "current-context elsewhere not found"));
	diag_free(&d);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

/* An object Istio's rules refuse makes the snapshot fail, named "api: Kind ns/name: field";
 * taking it out makes the next snapshot good again. */
static void test_invalid_object_named(void **state)
{
	struct fake_api fa;
	struct kube_source *ks;
	struct model m;
	struct diag d = {0};

	(void)state;
	fake_start(&fa, true);
	write_kubeconfig(&fa, fa.ca, false, AUTH_TOKEN, "test-token");
	ks = source_open(&fa);
	assert_true(wait_until(ks, is_synced, NULL));
	control(&fa, "{\"op\":\"apply\",\"object\":{\"apiVersion\":\"networking.istio.io/v1\","
		     "\"kind\":\"VirtualService\",\"metadata\":{\"name\":\"reviews\",\"namespace\":"
		     "\"payments\"},\"spec\":{\"hosts\":[\"payments-api\"],\"http\":[{\"route\":[{"
		     "\"destination\":{\"host\":\"payments-api\"},\"weight\":-5}]}]}}}");
	wait_events(ks, 1);
	assert_int_equal(kube_source_snapshot(ks, &m, &d), -EINVAL);
	if (!diag_contains(&d, "api: VirtualService payments/reviews: spec.http[0]")) {
		diag_print(&d);
		fail_msg("the error does not name the object and field");
	}
	diag_free(&d);
	control(&fa, "{\"op\":\"delete\",\"kind\":\"VirtualService\",\"namespace\":\"payments\","
		     "\"name\":\"reviews\"}");
	wait_events(ks, 2);
	snapshot_ok(ks, &m);
	model_free(&m);
	source_close(ks);
	fake_stop(&fa);
}

/* Pages of 2 (limit/continue) and a slow server still give the whole list. */
static void test_paged_slow_list(void **state)
{
	struct fake_api fa;
	struct kube_source *ks;
	struct model m;
	char *stats;

	(void)state;
	fake_start(&fa, true);
	write_kubeconfig(&fa, fa.ca, false, AUTH_TOKEN, "test-token");
	control(&fa, "{\"op\":\"fault\",\"page_size\":2,\"slow_ms\":50}");
	ks = source_open(&fa);
	assert_true(wait_until(ks, is_synced, NULL));
	snapshot_ok(ks, &m);
	assert_int_equal(m.npods, 3);
	assert_int_equal(m.nnamespaces, 2);
	model_free(&m);
	stats = fake_control(&fa, "{\"op\":\"stats\"}");
	assert_non_null(strstr(stats, "\"pods\": 2")); /* two pages */
	free(stats);
	source_close(ks);
	fake_stop(&fa);
}

static size_t elem_size; /* for cmp_elem: qsort passes no context */

static int cmp_elem(const void *a, const void *b)
{
	return memcmp(a, b, elem_size);
}

static int cmp_pod(const void *a, const void *b)
{
	return strcmp(((const struct cv_pod *)a)->name, ((const struct cv_pod *)b)->name);
}

/* Two arrays of map entries hold the same entries: the kernel's maps are hashes, so the order
 * the compiler emits them in (which follows the model's order: files by name, API objects by
 * namespace/name) is not part of the view. */
static void assert_same_entries(const void *x, const void *y, size_t n, size_t size)
{
	void *sx = malloc(n * size + 1), *sy = malloc(n * size + 1);

	memcpy(sx, x, n * size);
	memcpy(sy, y, n * size);
	elem_size = size;
	qsort(sx, n, size, cmp_elem);
	qsort(sy, n, size, cmp_elem);
	assert_memory_equal(sx, sy, n * size);
	free(sx);
	free(sy);
}

static void assert_same_view(struct node_view *x, struct node_view *y)
{
	assert_int_equal(x->nservices, y->nservices);
	assert_int_equal(x->nbackends, y->nbackends);
	assert_int_equal(x->npods, y->npods);
	assert_int_equal(x->pods_pending, y->pods_pending);
	assert_int_equal(x->npod_ips, y->npod_ips);
	assert_int_equal(x->nremote_pods, y->nremote_pods);
	assert_int_equal(x->nmtls, y->nmtls);
	assert_int_equal(x->npolicy, y->npolicy);
	for (size_t i = 0; i < x->nservices; i++) {
		assert_memory_equal(&x->services[i].key, &y->services[i].key,
				    sizeof(x->services[i].key));
		assert_memory_equal(&x->services[i].val, &y->services[i].val,
				    sizeof(x->services[i].val));
		assert_string_equal(x->services[i].name, y->services[i].name);
	}
	for (size_t i = 0; i < x->nbackends; i++) {
		assert_memory_equal(&x->backends[i].key, &y->backends[i].key,
				    sizeof(x->backends[i].key));
		assert_memory_equal(&x->backends[i].val, &y->backends[i].val,
				    sizeof(x->backends[i].val));
		assert_string_equal(x->backends[i].pod ? x->backends[i].pod : "-",
				    y->backends[i].pod ? y->backends[i].pod : "-");
	}
	qsort(x->pods, x->npods, sizeof(*x->pods), cmp_pod);
	qsort(y->pods, y->npods, sizeof(*y->pods), cmp_pod);
	for (size_t i = 0; i < x->npods; i++) {
		assert_string_equal(x->pods[i].name, y->pods[i].name);
		assert_int_equal(x->pods[i].cgroup_id, y->pods[i].cgroup_id);
		assert_memory_equal(&x->pods[i].val, &y->pods[i].val, sizeof(x->pods[i].val));
	}
	assert_same_entries(x->pod_ips, y->pod_ips, x->npod_ips, sizeof(*x->pod_ips));
	assert_same_entries(x->remote_pods, y->remote_pods, x->nremote_pods,
			    sizeof(*x->remote_pods));
	assert_same_entries(x->mtls, y->mtls, x->nmtls, sizeof(*x->mtls));
	assert_same_entries(x->policy, y->policy, x->npolicy, sizeof(*x->policy));
}

static void compile_for(const struct model *m, const char *node, struct node_view *v)
{
	struct diag d = {0};
	int rc = compile_node_view(m, node, fake_cgroup_of, NULL, v, &d);

	if (rc)
		diag_print(&d);
	assert_int_equal(rc, 0);
	diag_free(&d);
}

/* The same objects as YAML in a config directory and from the API give the same node view. */
static void test_same_view_from_file_and_api(void **state)
{
	const char *nodes[] = {"node-a", "node-b"};
	struct fake_api fa;
	struct kube_source *ks;
	struct model mf, mk;
	struct diag d = {0};
	char cmd[2 * PATH_MAX], dir[160];

	(void)state;
	fake_start(&fa, true);
	snprintf(dir, sizeof(dir), "%s/config", fa.dir);
	snprintf(cmd, sizeof(cmd), "mkdir %s && cp %s/tests/kube/mesh.yaml %s/", dir, repo, dir);
	assert_int_equal(system(cmd), 0);
	if (model_load_dir(dir, &mf, &d)) {
		diag_print(&d);
		fail_msg("the file source refused mesh.yaml");
	}
	write_kubeconfig(&fa, fa.ca, false, AUTH_TOKEN, "test-token");
	ks = source_open(&fa);
	assert_true(wait_until(ks, is_synced, NULL));
	snapshot_ok(ks, &mk);
	for (size_t i = 0; i < 2; i++) {
		struct node_view vf = {0}, vk = {0};

		compile_for(&mf, nodes[i], &vf);
		compile_for(&mk, nodes[i], &vk);
		assert_true(vf.nservices > 0 && vf.nbackends > 0 && vf.nremote_pods > 0);
		assert_same_view(&vf, &vk);
		node_view_free(&vf);
		node_view_free(&vk);
	}
	model_free(&mf);
	model_free(&mk);
	diag_free(&d);
	source_close(ks);
	fake_stop(&fa);
}

static void slice_apply(struct fake_api *fa, const char *name, const char *ip)
{
	free(fake_control(
	    fa,
	    "{\"op\":\"apply\",\"object\":{\"apiVersion\":\"discovery.k8s.io/v1\","
	    "\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"payments\","
	    "\"labels\":{\"kubernetes.io/"
	    "service-name\":\"payments-api\"}},\"addressType\":\"IPv4\","
	    "\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}],"
	    "\"endpoints\":[{\"addresses\":[\"%s\"],\"conditions\":{\"ready\":true}}]}}",
	    name, ip));
}

static void slice_delete(struct fake_api *fa, const char *name)
{
	free(
	    fake_control(fa,
			 "{\"op\":\"delete\",\"kind\":\"EndpointSlice\",\"namespace\":\"payments\","
			 "\"name\":\"%s\"}",
			 name));
}

/* The delta since the last look: how many slices are present, and the gone keys (sorted). */
static size_t slice_delta(struct kube_source *ks, char ***gone, size_t *ngone)
{
	struct ydoc_set present = {0};
	size_t n;

	assert_true(kube_source_drain(ks));
	assert_int_equal(kube_source_slice_delta(ks, &present, gone, ngone), 0);
	n = present.n;
	ydoc_set_free(&present);
	return n;
}

/* Two EndpointSlices of one Service deleted between two looks: both are named gone, and a whole
 * snapshot after still loads. (The repeat check of the delta once compared each key with the
 * previous slot, which the first deleted key had left NULL: skiffd crashed on the second.) */
static void test_two_slices_deleted_in_one_batch(void **state)
{
	struct fake_api fa;
	struct kube_source *ks;
	struct model m;
	char **gone;
	size_t ngone;

	(void)state;
	fake_start(&fa, true);
	write_kubeconfig(&fa, fa.ca, true, AUTH_TOKEN, "test-token");
	ks = source_open(&fa);
	assert_true(wait_until(ks, is_synced, NULL));
	assert_true(kube_source_drain(ks));
	snapshot_ok(ks, &m);
	model_free(&m);

	slice_apply(&fa, "payments-api-extra1", "10.1.0.21");
	slice_apply(&fa, "payments-api-extra2", "10.1.0.22");
	wait_events(ks, 2);
	assert_int_equal(slice_delta(ks, &gone, &ngone), 2);
	assert_int_equal(ngone, 0);
	free(gone);

	slice_delete(&fa, "payments-api-extra1");
	slice_delete(&fa, "payments-api-extra2");
	wait_events(ks, 4);
	assert_int_equal(slice_delta(ks, &gone, &ngone), 0);
	assert_int_equal(ngone, 2);
	assert_string_equal(gone[0], "payments/payments-api-extra1");
	assert_string_equal(gone[1], "payments/payments-api-extra2");
	free(gone[0]);
	free(gone[1]);
	free(gone);

	snapshot_ok(ks, &m);
	model_free(&m);
	source_close(ks);
	fake_stop(&fa);
}

/* JSON scalars become what YAML makes of the same text: strings quoted, the rest plain. */
static void test_json_scalars(void **state)
{
	struct json_object *o = json_tokener_parse(
	    "{\"s\":\"80\",\"n\":80,\"b\":true,\"z\":null,\"f\":0.5,\"l\":[\"a\",{\"k\":1}]}");
	struct ydoc_set set = {0};
	const struct ynode *doc;

	(void)state;
	kube_json_add_doc(&set, o);
	json_object_put(o);
	doc = set.docs[0];
	assert_false(ynode_get(doc, "s")->plain);
	assert_string_equal(ynode_str(ynode_get(doc, "s")), "80");
	assert_true(ynode_get(doc, "n")->plain);
	assert_string_equal(ynode_str(ynode_get(doc, "n")), "80");
	assert_string_equal(ynode_str(ynode_get(doc, "b")), "true");
	assert_string_equal(ynode_str(ynode_get(doc, "z")), "null");
	assert_string_equal(ynode_str(ynode_get(doc, "f")), "0.5");
	assert_int_equal(ynode_get(doc, "l")->kind, YNODE_SEQ);
	assert_string_equal(ynode_str(ynode_get(ynode_get(doc, "l")->items[1], "k")), "1");
	assert_string_equal(doc->file, "api");
	ydoc_set_free(&set);
}

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	find_repo();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_json_scalars, kt_teardown),
	    cmocka_unit_test_teardown(test_list_then_watch, kt_teardown),
	    cmocka_unit_test_teardown(test_watch_dropped_resumes, kt_teardown),
	    cmocka_unit_test_teardown(test_gone_relists, kt_teardown),
	    cmocka_unit_test_teardown(test_crd_missing_then_installed, kt_teardown),
	    cmocka_unit_test_teardown(test_token_rotates, kt_teardown),
	    cmocka_unit_test_teardown(test_bad_certificate_refused, kt_teardown),
	    cmocka_unit_test_teardown(test_client_certificate, kt_teardown),
	    cmocka_unit_test_teardown(test_kubeconfig_errors, kt_teardown),
	    cmocka_unit_test_teardown(test_invalid_object_named, kt_teardown),
	    cmocka_unit_test_teardown(test_paged_slow_list, kt_teardown),
	    cmocka_unit_test_teardown(test_same_view_from_file_and_api, kt_teardown),
	    cmocka_unit_test_teardown(test_two_slices_deleted_in_one_batch, kt_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
