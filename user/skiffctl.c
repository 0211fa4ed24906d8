// SPDX-License-Identifier: Apache-2.0
/* skiffctl: the operator's CLI. Thin: each command is a few calls into the modules. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "analyze/analyze.h"
#include "authz/authz.h"
#include "compile/compile.h"
#include "flows/flows.h"
#include "identity/identity.h"
#include "inspect/inspect.h"
#include "model/model.h"
#include "skiff/accel.h"
#include "skiff/guard.h"
#include "skiff/lb.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: skiffctl COMMAND [options]\n"
		   "  analyze [-n NS|-A] [-f FILE|DIR]... [DIR] [--live [ADDR]] [-o text|json|yaml]\n"
		   "        [--output-threshold L] [--failure-threshold L] [--node NAME]\n"
		   "                                istioctl analyze for skiff: Istio's IST codes and\n"
		   "                                skiff's SKF codes, file:line and a fix for each\n"
		   "                                (exit 79 when an Error is found, else 0); --live:\n"
		   "                                what the running skiffd holds, files on top\n"
		   "  authz check DIR --to NS/POD|NS/SVC [--from spiffe://...|--from-pod NS/POD]\n"
		   "        [--port N] [--method M] [--path P] [--header K=V]... [--tcp]\n"
		   "                                would this request be allowed? (exit 0 ALLOW,\n"
		   "                                1 DENY, 2 usage or config error)\n"
		   "  ca init DIR [--force]         create the mesh root CA (DIR/ca.crt, DIR/ca.key)\n"
		   "  ca show DIR                   the CA's subject, SHA-256 fingerprint, validity\n"
		   "  cert mint --ca DIR --ns NS --sa SA [--trust-domain TD] [--ttl S] --out DIR\n"
		   "                                a workload certificate and key as PEM (tests)\n"
		   "  observe [-n NS] [--pod [NS/]POD] [--verdict forwarded|denied|dropped]\n"
		   "        [--since 5m] [--json] [--follow] [--admin HOST:PORT]\n"
		   "                                the node's flow events, like hubble observe:\n"
		   "                                opened, closed, denied, dropped, punted\n"
		   "  status [--admin HOST:PORT]    readiness and generation of a running skiffd\n"
		   "  config dump [--admin H:P]     skiffd's applied view as JSON (default 127.0.0.1:15000)\n"
		   "  maps [--bpffs DIR]            bpftool map dump of every skiff map (default\n"
		   "                                /sys/fs/bpf/skiff)\n"
		   "  sockets [--bpffs DIR]         the same-node connections on the fast path, decoded\n"
		   "                                from skiff_sockhash (bpftool can only show hex)\n"
		   "  --version                     print skiffctl's version\n");
}

/* GET http://host:port/path; prints the body to stdout. Returns the HTTP status or -errno. */
static int http_get(const char *hostport, const char *path, int print)
{
	char host[64], buf[8192];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	const char *colon = strrchr(hostport, ':');
	int fd, status = -EPROTO, hdr_done = 0;
	ssize_t r;

	if (!colon || (size_t)(colon - hostport) >= sizeof(host))
		return -EINVAL;
	memcpy(host, hostport, colon - hostport);
	host[colon - hostport] = '\0';
	sin.sin_port = htons(atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
		int err = -errno;

		if (fd >= 0)
			close(fd);
		return err;
	}
	r = snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, hostport);
	if (write(fd, buf, r) != r) {
		close(fd);
		return -EIO;
	}
	while ((r = read(fd, buf, sizeof(buf) - 1)) > 0) {
		char *body = buf;

		buf[r] = '\0';
		if (!hdr_done) {
			sscanf(buf, "HTTP/1.%*d %d", &status);
			body = strstr(buf, "\r\n\r\n");
			if (!body)
				continue;
			body += 4;
			hdr_done = 1;
		}
		if (print)
			fputs(body, stdout);
	}
	close(fd);
	return status;
}

static int cmd_http(const char *admin, const char *path, const char *what)
{
	int st = http_get(admin, path, 1);

	if (st < 0) {
		fprintf(stderr, "skiffctl: cannot reach skiffd at %s: %s (is skiffd running on this "
				"node? pass --admin HOST:PORT)\n", admin, strerror(-st));
		return 1;
	}
	if (st != 200)
		fprintf(stderr, "skiffctl: %s: skiffd answered %d\n", what, st);
	return st == 200 ? 0 : 1;
}

static int cmd_maps(const char *bpffs)
{
	static const char *const maps[] = { SKIFF_MAP_CONFIG,	SKIFF_MAP_SERVICES,
					    SKIFF_MAP_BACKENDS, SKIFF_MAP_ENROLLED,
					    SKIFF_MAP_POD_IPS,	SKIFF_MAP_SOCKHASH,
					    SKIFF_MAP_L4_STATS, SKIFF_MAP_JOIN_HIST,
					    SKIFF_MAP_MTLS,
					    SKIFF_MAP_GUARD_IFACES, SKIFF_MAP_GUARD_STATS,
					    NULL };
	int rc = 0;

	for (int i = 0; maps[i]; i++) {
		char path[512];
		pid_t pid;
		int st;

		snprintf(path, sizeof(path), "%s/%s", bpffs, maps[i]);
		printf("== %s\n", path);
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			execlp("bpftool", "bpftool", "map", "dump", "pinned", path, (char *)NULL);
			fprintf(stderr, "skiffctl: bpftool not found: %s (run make deps)\n",
				strerror(errno));
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			rc = 1;
	}
	return rc;
}

static const char *opt_value(int argc, char **argv, const char *name, const char *def)
{
	for (int i = 0; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return argv[i + 1];
	return def;
}

/* Each command gets argv from the word after its own name(s). */
static int run_analyze(int argc, char **argv)
{
	return analyze_cli(argc, argv, stdout, stderr);
}

static int run_authz_check(int argc, char **argv)
{
	return authz_cli_check(argc, argv, stdout, stderr);
}

static int run_ca(int argc, char **argv)
{
	return identity_cli_ca(argc, argv, stdout, stderr);
}

static int run_cert(int argc, char **argv)
{
	return identity_cli_cert(argc, argv, stdout, stderr);
}

static const char *admin_of(int argc, char **argv)
{
	return opt_value(argc, argv, "--admin", "127.0.0.1:15000");
}

static int run_config_dump(int argc, char **argv)
{
	return cmd_http(admin_of(argc, argv), "/config_dump", "config dump");
}

/* Readiness on the admin host's 15021, then the config dump. */
static int run_status(int argc, char **argv)
{
	const char *admin = admin_of(argc, argv), *colon = strrchr(admin, ':');
	char ready[64];

	snprintf(ready, sizeof(ready), "%.*s:15021", colon ? (int)(colon - admin) : 9,
		 colon ? admin : "127.0.0.1");
	if (cmd_http(ready, "/healthz/ready", "readiness"))
		return 1;
	return cmd_http(admin, "/config_dump", "config dump");
}

static int run_maps(int argc, char **argv)
{
	return cmd_maps(opt_value(argc, argv, "--bpffs", "/sys/fs/bpf/skiff"));
}

static int run_sockets(int argc, char **argv)
{
	return inspect_sockets(stdout, opt_value(argc, argv, "--bpffs", "/sys/fs/bpf/skiff")) < 0;
}

static int run_observe(int argc, char **argv)
{
	return flows_cli_observe(argc, argv, stdout, stderr);
}

static int run_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

static int run_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("skiffctl %s\n", SKIFF_VERSION);
	return 0;
}

static const struct command {
	const char *name, *sub; /* sub: a second word the command needs ("authz check") */
	int (*run)(int argc, char **argv); /* -1: usage error */
} commands[] = {
	{"analyze", NULL, run_analyze},
	{"authz", "check", run_authz_check},
	{"ca", NULL, run_ca},
	{"cert", NULL, run_cert},
	{"config", "dump", run_config_dump},
	{"status", NULL, run_status},
	{"maps", NULL, run_maps},
	{"observe", NULL, run_observe},
	{"sockets", NULL, run_sockets},
	{"-h", NULL, run_help},
	{"--help", NULL, run_help},
	{"--version", NULL, run_version},
};

int main(int argc, char **argv)
{
	for (size_t i = 0; argc >= 2 && i < sizeof(commands) / sizeof(commands[0]); i++) {
		const struct command *c = &commands[i];
		int skip = c->sub ? 3 : 2, rc;

		if (strcmp(argv[1], c->name) || (c->sub && (argc < 3 || strcmp(argv[2], c->sub))))
			continue;
		rc = c->run(argc - skip, argv + skip);
		if (rc >= 0)
			return rc;
		break;
	}
	if (argc >= 2)
		fprintf(stderr, "skiffctl: unknown command or missing arguments: '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
