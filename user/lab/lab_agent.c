// SPDX-License-Identifier: Apache-2.0
/* One skiffd per node: in the node's netns, in its own cgroup next to the node's kubepods. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "identity/identity.h"
#include "lab/lab_proc.h"

#define BPF_FS_MAGIC_NUMBER 0xcafe4a11

static struct lab_agent *agent_of(struct lab *lab, int node)
{
	struct lab_agent *a;

	for (size_t i = 0; i < lab->nagent; i++)
		if (lab->agent[i].node == node)
			return &lab->agent[i];
	a = lab_push(&lab->agent, &lab->nagent, sizeof(*a));
	a->node = node;
	return a;
}

/* Extra skiffd flags from $SKIFF_LAB_AGENT_ARGS (space separated), e.g. "--no-accel" for a
 * baseline run: tests and benchmarks pick the agent's mode without a lab flag of their own. */
static void agent_env_args(struct lab_argv *a)
{
	const char *env = getenv("SKIFF_LAB_AGENT_ARGS");
	char *copy, *tok, *save = NULL;

	if (!env || !*env || !(copy = strdup(env)))
		return;
	for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
		lab_argv_add(a, "%s", tok);
	free(copy);
}

/* The lab's mesh root, made once per lab (as `skiffctl ca init` would) and shared by every
 * node's skiffd, like a Secret mounted into the DaemonSet. */
static int lab_ca(const struct lab *lab, char *dir, size_t len)
{
	struct identity_err err = {{0}};
	struct identity_ca ca = {0};
	int rc;

	lab_fmt(dir, len, "%s/ca", lab->state_dir);
	if (access(dir, F_OK) == 0)
		return 0;
	rc = identity_ca_create(time(NULL), IDENTITY_CA_TTL, &ca, &err);
	if (!rc)
		rc = identity_ca_save(&ca, dir, false, &err);
	identity_ca_free(&ca);
	if (rc)
		fprintf(stderr, "skiff-lab: cannot make the mesh CA in %s: %s\n", dir, err.msg);
	return rc;
}

void lab_agent_run_dir(char *out, size_t len, const struct lab *lab, int node)
{
	lab_fmt(out, len, "%s/run/node-%d", lab->state_dir, node);
}

/*
 * bpffs on /sys/fs/bpf with the lab's root in it: mounted here when the machine has none (a fresh
 * boot), as a node's DaemonSet finds it mounted by the host. Every skiffd start comes through
 * here, `up --no-agent` followed by `restart-agent` included.
 */
static int bpffs_ready(void)
{
	struct statfs st;
	int err;

	if ((statfs("/sys/fs/bpf", &st) < 0 || st.f_type != BPF_FS_MAGIC_NUMBER) &&
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0) {
		fprintf(stderr, "skiff-lab: cannot mount bpffs on /sys/fs/bpf: %s\n",
			strerror(errno));
		return -errno;
	}
	err = lab_mkdir_p(LAB_BPFFS_ROOT);
	if (err)
		fprintf(stderr, "skiff-lab: cannot create %s: %s\n", LAB_BPFFS_ROOT,
			strerror(-err));
	return err;
}

/* `takeover`: the node's running skiffd hands its listeners over to the new one (--takeover). */
static int agent_spawn(struct lab *lab, int node, bool takeover)
{
	char ca[PATH_MAX], run[PATH_MAX];
	char bin[PATH_MAX], cg[PATH_MAX], log[PATH_MAX], netns[32];
	struct lab_spawn s = {.cgroup = cg, .netns = netns, .log = log};
	struct lab_argv *a = calloc(1, sizeof(*a));
	struct lab_agent *ag;
	int pid, err;

	if (!a)
		return -ENOMEM;
	lab_fmt(bin, sizeof(bin), "%s/skiffd", lab->bin_dir);
	if (access(bin, X_OK) < 0) {
		fprintf(stderr,
			"skiff-lab: skiffd not found at %s: build it (make) or run "
			"`skiff-lab up --no-agent`\n",
			bin);
		free(a);
		return -ENOENT;
	}
	lab_fmt(cg, sizeof(cg), LAB_CGROUP_ROOT "/node-%d/skiffd", node);
	lab_fmt(log, sizeof(log), "%s/logs/skiffd-node-%d.log", lab->state_dir, node);
	lab_node_netns(netns, sizeof(netns), node);
	lab_argv_add(a, "%s", bin);
	lab_argv_add(a, "--node");
	lab_argv_add(a, "node-%d", node);
	if (lab->api.port) {
		lab_argv_add(a, "--kubeconfig");
		lab_argv_add(a, "%s/kubeconfig", lab->state_dir);
	} else {
		lab_argv_add(a, "--config-dir");
		lab_argv_add(a, "%s/config", lab->state_dir);
	}
	lab_argv_add(a, "--bpffs");
	lab_argv_add(a, LAB_BPFFS_ROOT "/node-%d", node);
	lab_argv_add(a, "--cgroup-root");
	lab_argv_add(a, LAB_CGROUP_ROOT "/node-%d/kubepods", node);
	/* the node's addresses on the fabric (lab_topology.c), as a DaemonSet passes status.hostIPs;
	 * $SKIFF_LAB_AGENT_ARGS comes after, so --no-punt there wins. No --uplink: XDP on a veth
	 * turns off its peer's GSO (a quarter of the throughput), so tests that want it ask for it */
	lab_argv_add(a, "--outbound-addr");
	lab_argv_add(a, "198.18.0.%d,2001:db8::%x", node, node);
	lab_argv_add(a, "--kubelet-cgroup");
	lab_argv_add(a, LAB_KUBELET_CGROUP);
	if (lab_ca(lab, ca, sizeof(ca)) == 0) {
		lab_argv_add(a, "--ca-dir");
		lab_argv_add(a, "%s", ca);
	}
	lab_argv_add(a, "--run-dir");
	lab_agent_run_dir(run, sizeof(run), lab, node);
	lab_argv_add(a, "%s", run);
	if (takeover)
		lab_argv_add(a, "--takeover");
	agent_env_args(a);
	s.argv = a->v;
	err = lab_cgroup_create(LAB_KUBELET_CGROUP);
	if (!err)
		err = lab_cgroup_create(cg);
	if (!err)
		err = bpffs_ready();
	if (!err && (err = lab_mkdir_p(a->v[6])))
		fprintf(stderr, "skiff-lab: cannot create %s: %s\n", a->v[6], strerror(-err));
	if (!err) {
		ag = agent_of(lab, node);
		pid = lab_spawn(&s);
		err = pid < 0 ? pid : 0;
		ag->pid = pid < 0 ? 0 : pid;
		if (!err)
			err = lab_state_save(lab);
	}
	free(a);
	return err;
}

int lab_agent_start(struct lab *lab, int node)
{
	return agent_spawn(lab, node, false);
}

int lab_agent_takeover(struct lab *lab, int node)
{
	return agent_spawn(lab, node, true);
}

int lab_agents_start(struct lab *lab)
{
	for (int k = 1; k <= lab->nodes; k++) {
		int err = lab_agent_start(lab, k);

		if (err)
			return err;
	}
	return 0;
}
