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
#include "ctl/ctl.h"
#include "flows/flows.h"
#include "identity/identity.h"
#include "inspect/inspect.h"
#include "model/model.h"
#include "skiff/accel.h"
#include "skiff/guard.h"
#include "skiff/lb.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: skiffctl COMMAND [options]\n"
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
	    "  status [--json] [--node-addr HOST[:PORT],...]... [--lab]\n"
	    "                                every node's skiffd: SYNCED, STALE or ERROR (with\n"
	    "                                the reason), programs attached, map fill levels,\n"
	    "                                pods in and out of the mesh (default: this node,\n"
	    "                                127.0.0.1:15000; exit 1 unless all are SYNCED)\n"
	    "  config dump [--json] [--admin H:P]\n"
	    "                                skiffd's applied view: services with backends and\n"
	    "                                shares, enrolled pods, counters\n"
	    "  maps [services|backends|enrolled|policy|mtls|stats] [--json] [--pin-dir DIR]\n"
	    "        [--admin H:P] [--raw]   the pinned maps decoded, named by skiffd (default\n"
	    "                                /sys/fs/bpf/skiff); --raw: bpftool map dump\n"
	    "  sockets [--bpffs DIR]         the same-node connections on the fast path, decoded\n"
	    "                                from skiff_sockhash (bpftool can only show hex)\n"
	    "  --version                     print skiffctl's version\n");
}

static int cmd_maps(const char *bpffs)
{
	static const char *const maps[] = {
	    SKIFF_MAP_CONFIG,  SKIFF_MAP_SERVICES,     SKIFF_MAP_BACKENDS,    SKIFF_MAP_ENROLLED,
	    SKIFF_MAP_POD_IPS, SKIFF_MAP_SOCKHASH,     SKIFF_MAP_L4_STATS,    SKIFF_MAP_JOIN_HIST,
	    SKIFF_MAP_MTLS,    SKIFF_MAP_GUARD_IFACES, SKIFF_MAP_GUARD_STATS, NULL};
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

static int run_config_dump(int argc, char **argv)
{
	return ctl_config_dump(argc, argv, stdout, stderr);
}

static int run_status(int argc, char **argv)
{
	return ctl_status(argc, argv, stdout, stderr);
}

/* Decoded by default; --raw keeps bpftool's dump of every map (named fields from BTF). */
static int run_maps(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--raw"))
			return cmd_maps(
			    opt_value(argc, argv, "--pin-dir",
				      opt_value(argc, argv, "--bpffs", "/sys/fs/bpf/skiff")));
	return ctl_maps(argc, argv, stdout, stderr);
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
