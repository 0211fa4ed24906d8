// SPDX-License-Identifier: Apache-2.0
/*
 * `up --api`: the lab's objects live in tests/kube/fake_apiserver.py, and every node's skiffd
 * reads them with --kubeconfig, the production path.
 *
 * skiffd runs in its node's netns, kubectl and the lab in the root netns. Rather than route
 * between them (no root-netns addresses or routes may be added), the lab binds a listening socket
 * on 127.0.0.1:PORT in the root netns and the same port in every node netns, and hands all of
 * them to the server, which accepts on each. So one kubeconfig (https://127.0.0.1:PORT, the
 * server's CA, a token) works wherever it is read, and the server certificate for 127.0.0.1 is
 * valid in every namespace.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/strbuf.h"
#include "lab/lab_proc.h"

#define PYTHON	      "/usr/bin/python3"
#define SERVER_SCRIPT "fake_apiserver.py"
/* The server makes its certificates with seven openssl runs before it listens: seconds on a
 * starved emulated guest. The bound only matters when it never starts; a dead one ends the wait. */
#define READY_MS 90000

void lab_api_kubeconfig_path(char *out, const struct lab *lab)
{
	lab_path(out, lab, "kubeconfig");
}

/* $SKIFF_LAB_APISERVER, else tests/kube/ of the tree the binary was built in (bin/ is
 * <tree>/build/bin), else of the working directory. */
static int find_server(const struct lab *lab, char *out, size_t len)
{
	const char *env = getenv("SKIFF_LAB_APISERVER");

	if (env && *env) {
		if (lab_fmt(out, len, "%s", env) == 0 && access(out, R_OK) == 0)
			return 0;
		fprintf(stderr, "skiff-lab: --api: SKIFF_LAB_APISERVER=%s is not a readable file\n",
			env);
		return -ENOENT;
	}
	lab_fmt(out, len, "%s/../../tests/kube/" SERVER_SCRIPT, lab->bin_dir);
	if (access(out, R_OK) == 0)
		return 0;
	lab_fmt(out, len, "tests/kube/" SERVER_SCRIPT);
	if (access(out, R_OK) == 0)
		return 0;
	fprintf(stderr,
		"skiff-lab: --api: tests/kube/" SERVER_SCRIPT " not found next to %s or in the "
		"working directory; set SKIFF_LAB_APISERVER to its path\n",
		lab->bin_dir);
	return -ENOENT;
}

static int listen_on(int fd, int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(*port)};
	socklen_t alen = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0)
		return -errno;
	*port = ntohs(a.sin_port);
	return 0;
}

/* fds[0]: root netns on a free port; fds[k]: node-k's netns on the same port. */
static int open_listeners(const struct lab *lab, int *fds, int *port)
{
	char netns[32];
	int err;

	*port = 0;
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[0] < 0)
		return -errno;
	err = listen_on(fds[0], port);
	for (int k = 1; !err && k <= lab->nodes; k++) {
		lab_node_netns(netns, sizeof(netns), k);
		fds[k] = lab_netns_socket(netns, AF_INET, SOCK_STREAM);
		err = fds[k] < 0 ? fds[k] : listen_on(fds[k], port);
		if (err)
			fprintf(stderr,
				"skiff-lab: --api: cannot listen on 127.0.0.1:%d in %s: %s\n",
				*port, netns, strerror(-err));
	}
	return err;
}

static bool log_has_ready(const char *log)
{
	char line[1024];
	bool ready = false;
	FILE *f = fopen(log, "re");

	while (f && !ready && fgets(line, sizeof(line), f))
		ready = !strncmp(line, "READY port=", 11);
	if (f)
		fclose(f);
	return ready;
}

static int write_kubeconfig(const struct lab *lab)
{
	char path[PATH_MAX], ca[PATH_MAX];
	struct strbuf b = {0};
	int err;

	lab_path(ca, lab, "api/ca.crt");
	sb_printf(&b,
		  "# Written by skiff-lab: the lab's API server (skiff-lab up --api).\n"
		  "apiVersion: v1\nkind: Config\nclusters:\n- name: skiff-lab\n  cluster:\n"
		  "    server: https://127.0.0.1:%d\n    certificate-authority: %s\n"
		  "users:\n- name: skiff-lab-admin\n  user:\n    token: %s\n"
		  "contexts:\n- name: skiff-lab\n  context:\n    cluster: skiff-lab\n"
		  "    user: skiff-lab-admin\n    namespace: default\n"
		  "current-context: skiff-lab\n",
		  lab->api.port, ca, lab->api.token);
	lab_api_kubeconfig_path(path, lab);
	err = lab_write_atomic(path, b.s, b.len);
	sb_free(&b);
	return err;
}

static int spawn_server(struct lab *lab, const char *script, const int *fds)
{
	char log[PATH_MAX], certs[PATH_MAX];
	struct lab_spawn s = {
	    .cgroup = LAB_API_CGROUP, .log = log, .keep_fds = fds, .nkeep_fds = lab->nodes + 1};
	struct lab_argv *a = calloc(1, sizeof(*a));
	int pid;

	if (!a)
		return -ENOMEM;
	lab_path(log, lab, "logs/apiserver.log");
	lab_path(certs, lab, "api");
	lab_argv_add(a, PYTHON);
	lab_argv_add(a, "%s", script);
	lab_argv_add(a, "--daemon");
	lab_argv_add(a, "--cert-dir");
	lab_argv_add(a, "%s", certs);
	lab_argv_add(a, "--token");
	lab_argv_add(a, "%s", lab->api.token);
	for (int k = 0; k <= lab->nodes; k++) {
		lab_argv_add(a, "--listen-fd");
		lab_argv_add(a, "%d", fds[k]);
	}
	s.argv = a->v;
	pid = lab_spawn(&s);
	free(a);
	return pid;
}

int lab_api_start(struct lab *lab)
{
	char script[PATH_MAX], log[PATH_MAX];
	int *fds = calloc(lab->nodes + 1, sizeof(int)), err, pid;

	if (!fds)
		return -ENOMEM;
	for (int k = 0; k <= lab->nodes; k++)
		fds[k] = -1;
	err = find_server(lab, script, sizeof(script));
	err = err ?: lab_cgroup_create(LAB_API_CGROUP);
	err = err ?: open_listeners(lab, fds, &lab->api.port);
	if (!err) {
		lab_random_alnum(lab->api.token, 32);
		pid = spawn_server(lab, script, fds);
		err = pid < 0 ? pid : 0;
		lab->api.pid = pid < 0 ? 0 : pid;
	}
	for (int k = 0; k <= lab->nodes; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	free(fds);
	err = err ?: lab_state_save(lab);
	lab_path(log, lab, "logs/apiserver.log");
	for (int t = 0; !err && !log_has_ready(log); t += 50) {
		if (t >= READY_MS || kill(lab->api.pid, 0) < 0) {
			fprintf(stderr, "skiff-lab: the API server did not start (see %s)\n", log);
			err = -ETIMEDOUT;
		}
		usleep(50000);
	}
	err = err ?: write_kubeconfig(lab);
	return err;
}

/* The server's command line names its script: a recycled pid running something else does not. */
static bool is_server(int pid)
{
	char buf[4096];
	long n = lab_proc_cmdline(pid, buf, sizeof(buf));

	for (long i = 0; i < n; i += (long)strlen(buf + i) + 1) {
		if (strstr(buf + i, SERVER_SCRIPT))
			return true;
	}
	return false;
}

void lab_api_stop(const struct lab *lab)
{
	if (is_server(lab->api.pid))
		kill(lab->api.pid, SIGTERM);
}

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
	sb_printf(arg, "%.*s", (int)(size * n), data);
	return size * n;
}

char *lab_api_control(const struct lab *lab, const char *json)
{
	char url[64], ca[PATH_MAX], err_buf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	struct strbuf b = {0};
	CURL *c = curl_easy_init();
	long code = 0;
	CURLcode rc;

	if (!c || !h)
		abort();
	lab_fmt(url, sizeof(url), "https://127.0.0.1:%d/_control", lab->api.port);
	lab_path(ca, lab, "api/ca.crt");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err_buf);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	if (rc == CURLE_OK && code == 200)
		return b.s ? b.s : strdup("");
	fprintf(stderr, "skiff-lab: API server at 127.0.0.1:%d: %s (see %s/logs/apiserver.log)\n",
		lab->api.port,
		rc != CURLE_OK ? err_buf
		: b.s	       ? b.s
			       : "no answer",
		lab->state_dir);
	sb_free(&b);
	return NULL;
}
