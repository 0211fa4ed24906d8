// SPDX-License-Identifier: Apache-2.0
/* skiff-lab: a Kubernetes cluster on one machine out of network namespaces (see user/lab/lab.h). */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/lab.h"

static const char usage[] =
    "usage: skiff-lab [--state DIR] COMMAND ...\n"
    "  up [--nodes N] [--no-agent] [--api] FILE...\n"
    "                                           build the lab from Kubernetes/Istio YAML;\n"
    "                                           --api: objects in an API server, skiffd and\n"
    "                                           kubectl read it (see `kubeconfig`)\n"
    "  kubeconfig                               print the path of the --api lab's kubeconfig\n"
    "  apply FILE...                            add or change objects\n"
    "  delete FILE...                           remove the objects the files name\n"
    "  label namespace NAME key=value|key-      set or remove a namespace label\n"
    "  exec [-n NS] deploy/NAME|POD -- CMD...   run CMD in a pod (cgroup, netns, /etc/hosts)\n"
    "  exec --node node-K -- CMD...             run CMD in a node's netns\n"
    "  restart-agent node-K                     replace that node's skiffd: the new one takes\n"
    "                                           the listeners, the old one drains\n"
    "  status                                   nodes, pods, services\n"
    "  down                                     remove everything the lab made\n"
    "State dir: --state, else $SKIFF_LAB_STATE, else /run/skiff-lab.\n";

static int bad_usage(const char *why)
{
	fprintf(stderr, "skiff-lab: %s\n%s", why, usage);
	return 2;
}

static void find_bin_dir(struct lab *lab)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0) {
		lab_fmt(lab->bin_dir, sizeof(lab->bin_dir), ".");
		return;
	}
	exe[n] = 0;
	lab_fmt(lab->bin_dir, sizeof(lab->bin_dir), "%s", dirname(exe));
}

static int cmd_up(struct lab *lab, int argc, char **argv)
{
	int nodes = 1, i = 1;
	bool no_agent = false, api = false;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--nodes") && i + 1 < argc)
			nodes = atoi(argv[++i]);
		else if (!strncmp(argv[i], "--nodes=", 8))
			nodes = atoi(argv[i] + 8);
		else if (!strcmp(argv[i], "--no-agent"))
			no_agent = true;
		else if (!strcmp(argv[i], "--api"))
			api = true;
		else
			return bad_usage("up: unknown option");
	}
	if (i >= argc)
		return bad_usage("up: no files");
	return lab_cmd_up(lab, nodes, no_agent, api, argv + i, argc - i) ? 1 : 0;
}

static int cmd_exec(struct lab *lab, int argc, char **argv)
{
	const char *ns = "default", *node = NULL, *target = NULL;
	int i = 1;

	for (; i < argc && strcmp(argv[i], "--"); i++) {
		if ((!strcmp(argv[i], "-n") || !strcmp(argv[i], "--namespace")) && i + 1 < argc)
			ns = argv[++i];
		else if (!strcmp(argv[i], "--node") && i + 1 < argc)
			node = argv[++i];
		else if (argv[i][0] != '-' && !target)
			target = argv[i];
		else
			return bad_usage("exec: unexpected argument");
	}
	if (i + 1 >= argc || (!node && !target))
		return bad_usage("exec: expected a target and `-- CMD...`");
	if (node)
		return lab_cmd_exec_node(lab, node, argv + i + 1) ? 125 : 0;
	return lab_cmd_exec_pod(lab, ns, target, argv + i + 1) ? 125 : 0;
}

static int dispatch(struct lab *lab, int argc, char **argv)
{
	const char *cmd = argv[0];

	if (!strcmp(cmd, "up"))
		return cmd_up(lab, argc, argv);
	if (!strcmp(cmd, "apply") || !strcmp(cmd, "delete")) {
		if (argc < 2)
			return bad_usage("no files");
		if (!strcmp(cmd, "apply"))
			return lab_cmd_apply(lab, argv + 1, argc - 1) ? 1 : 0;
		return lab_cmd_delete(lab, argv + 1, argc - 1) ? 1 : 0;
	}
	if (!strcmp(cmd, "label")) {
		if (argc != 4 || (strcmp(argv[1], "namespace") && strcmp(argv[1], "ns")))
			return bad_usage("label: expected `label namespace NAME key=value|key-`");
		return lab_cmd_label(lab, argv[2], argv[3]) ? 1 : 0;
	}
	if (!strcmp(cmd, "exec"))
		return cmd_exec(lab, argc, argv);
	if (!strcmp(cmd, "restart-agent") && argc == 2)
		return lab_cmd_restart_agent(lab, argv[1]) ? 1 : 0;
	if (!strcmp(cmd, "kubeconfig") && argc == 1)
		return lab_cmd_kubeconfig(lab) ? 1 : 0;
	if (!strcmp(cmd, "status"))
		return lab_cmd_status(lab) ? 1 : 0;
	if (!strcmp(cmd, "down"))
		return lab_cmd_down(lab) ? 1 : 0;
	return bad_usage("unknown command");
}

int main(int argc, char **argv)
{
	struct lab lab = {0};
	const char *state = getenv("SKIFF_LAB_STATE");
	int i = 1, rc;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--state") && i + 1 < argc)
			state = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return 0;
		} else
			return bad_usage("unknown option");
	}
	if (i >= argc)
		return bad_usage("no command");
	if (lab_fmt(lab.state_dir, sizeof(lab.state_dir), "%s",
		    state && *state ? state : "/run/skiff-lab"))
		return bad_usage("state dir name too long");
	find_bin_dir(&lab);
	rc = dispatch(&lab, argc - i, argv + i);
	lab_free(&lab);
	return rc;
}
