// SPDX-License-Identifier: Apache-2.0
/* status, label, exec, restart-agent. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/lab_proc.h"

static int load_existing(struct lab *lab)
{
	int err = lab_state_load(lab);

	if (err == -ENOENT)
		fprintf(stderr, "skiff-lab: no lab in %s; run `skiff-lab up` first\n",
			lab->state_dir);
	return err;
}

int lab_cmd_kubeconfig(struct lab *lab)
{
	char path[PATH_MAX];
	int err = load_existing(lab);

	if (err)
		return err;
	if (!lab->api.port) {
		fprintf(stderr,
			"skiff-lab: the lab in %s has no API server (it was made without "
			"`up --api`)\n",
			lab->state_dir);
		return -ENOENT;
	}
	lab_api_kubeconfig_path(path, lab);
	printf("%s\n", path);
	return 0;
}

static void status_services(const struct lab *lab)
{
	printf("\nSERVICE\tCLUSTER-IPS\tPORTS\n");
	for (size_t i = 0; i < lab->nsvc; i++) {
		const struct lab_service *s = &lab->svc[i];

		printf("%s/%s\t%s%s%s\t", s->ns, s->name, s->headless ? "None" : s->ip4,
		       s->ip4[0] && s->ip6[0] ? "," : "", s->ip6);
		for (size_t j = 0; j < s->nports; j++)
			printf("%s%d/%s->%s", j ? "," : "", s->ports[j].port, s->ports[j].proto,
			       s->ports[j].target[0] ? s->ports[j].target : "=");
		printf("\n");
	}
}

int lab_cmd_status(struct lab *lab)
{
	int err = load_existing(lab);

	if (err)
		return err;
	printf("NODE\tADDRESS\tAGENT\n");
	for (int k = 1; k <= lab->nodes; k++) {
		int pid = 0;

		for (size_t i = 0; i < lab->nagent; i++)
			if (lab->agent[i].node == k)
				pid = lab->agent[i].pid;
		printf("node-%d\t198.18.0.%d,2001:db8::%x\t", k, k, k);
		if (pid)
			printf("skiffd pid %d %s\n", pid,
			       lab_pid_matches(pid, "skiffd") ? "alive" : "dead");
		else
			printf("%s\n", lab->no_agent ? "none (--no-agent)" : "not started");
	}
	if (lab->api.port)
		printf("\nAPI\thttps://127.0.0.1:%d (root and node netns), pid %d %s\n",
		       lab->api.port, lab->api.pid,
		       lab->api.pid > 0 && kill(lab->api.pid, 0) == 0 ? "alive" : "dead");
	printf("\nPOD\tNODE\tIP\tIPv6\tPID\tALIVE\n");
	for (size_t i = 0; i < lab->npod; i++) {
		const struct lab_pod *p = &lab->pod[i];

		printf("%s/%s\tnode-%d\t%s\t%s\t%d\t%s\n", p->ns, p->name, p->node, p->ip4, p->ip6,
		       p->pid, lab_pid_matches(p->pid, p->cmd) ? "alive" : "dead");
	}
	status_services(lab);
	return 0;
}

int lab_cmd_label(struct lab *lab, const char *ns, const char *change)
{
	size_t len = strlen(change);
	char key[LAB_LABEL];
	const char *eq = strchr(change, '=');
	int err = load_existing(lab);

	if (!err && lab->api.port)
		err = lab_api_pull_namespaces(lab);
	if (err)
		return err;
	if (!eq && len > 1 && change[len - 1] == '-') {
		lab_fmt(key, sizeof(key), "%.*s", (int)(len - 1), change);
		lab_label_del(&lab_ns_ensure(lab, ns)->labels, key);
	} else if (eq && eq > change) {
		lab_fmt(key, sizeof(key), "%.*s", (int)(eq - change), change);
		lab_label_set(&lab_ns_ensure(lab, ns)->labels, key, eq + 1);
	} else {
		fprintf(stderr, "skiff-lab: label: expected key=value or key-, got '%s'\n", change);
		return -EINVAL;
	}
	err = lab_state_save(lab);
	return err ?: lab_config_write(lab);
}

static const struct lab_pod *find_target(const struct lab *lab, const char *ns, const char *target)
{
	const struct lab_pod *best = NULL;
	bool deploy = !strncmp(target, "deploy/", 7) || !strncmp(target, "deployment/", 11);
	const char *name = deploy ? strchr(target, '/') + 1 : target;

	if (!strncmp(target, "pod/", 4))
		name = target + 4;
	for (size_t i = 0; i < lab->npod; i++) {
		const struct lab_pod *p = &lab->pod[i];

		if (strcmp(p->ns, ns) || strcmp(deploy ? p->deploy : p->name, name))
			continue;
		if (!best || strcmp(p->name, best->name) < 0)
			best = p;
	}
	if (!best)
		fprintf(stderr,
			"skiff-lab: exec: no pod for %s in namespace %s (see `skiff-lab "
			"status`)\n",
			target, ns);
	return best;
}

int lab_cmd_exec_pod(struct lab *lab, const char *ns, const char *target, char **argv)
{
	const struct lab_pod *p;
	char hosts[PATH_MAX];
	int err = load_existing(lab);

	if (err)
		return err;
	p = find_target(lab, ns, target);
	if (!p)
		return -ENOENT;
	lab_pod_hosts_path(hosts, lab, p);
	err = lab_enter(p->cgroup, p->netns, hosts);
	if (err)
		return err;
	execvp(argv[0], argv);
	fprintf(stderr, "skiff-lab: exec %s: %s\n", argv[0], strerror(errno));
	exit(127);
}

int lab_cmd_exec_node(struct lab *lab, const char *node, char **argv)
{
	char netns[32];
	int err = load_existing(lab), k;

	if (err)
		return err;
	if (sscanf(node, "node-%d", &k) != 1 || k < 1 || k > lab->nodes) {
		fprintf(stderr, "skiff-lab: exec: no node %s (nodes node-1..node-%d)\n", node,
			lab->nodes);
		return -ENOENT;
	}
	lab_node_netns(netns, sizeof(netns), k);
	err = lab_enter(NULL, netns, NULL);
	if (err)
		return err;
	execvp(argv[0], argv);
	fprintf(stderr, "skiff-lab: exec %s: %s\n", argv[0], strerror(errno));
	exit(127);
}

/* The pid <run-dir>/skiffd.pid names, 0 when none. */
static int serving_pid(const struct lab *lab, int node)
{
	char path[PATH_MAX];
	int pid = 0;
	FILE *f;

	lab_agent_run_dir(path, sizeof(path), lab, node);
	lab_fmt(path + strlen(path), sizeof(path) - strlen(path), "/skiffd.pid");
	f = fopen(path, "re");
	if (f && fscanf(f, "%d", &pid) != 1)
		pid = 0;
	if (f)
		fclose(f);
	return pid;
}

/* How long a new skiffd may take to load, take the listeners over and write its pid: about a
 * second on the host; in an emulated 6.1 guest beside other work, more than 30 s was seen. */
#define TAKEOVER_MS 120000

/*
 * Replace this node's skiffd as a DaemonSet rollout does: the new one takes the running one's
 * listeners (no SYN refused) and the old one drains, keeping its open connections. With no
 * skiffd alive (killed), a new one starts from the pins alone.
 */
int lab_cmd_restart_agent(struct lab *lab, const char *node)
{
	int err = load_existing(lab), k, old = 0, pid = 0;

	if (err)
		return err;
	if (sscanf(node, "node-%d", &k) != 1 || k < 1 || k > lab->nodes) {
		fprintf(stderr, "skiff-lab: restart-agent: no node %s\n", node);
		return -ENOENT;
	}
	for (size_t i = 0; i < lab->nagent; i++)
		if (lab->agent[i].node == k && lab_pid_matches(lab->agent[i].pid, "skiffd"))
			old = lab->agent[i].pid;
	err = old ? lab_agent_takeover(lab, k) : lab_agent_start(lab, k);
	if (err || !old)
		return err ?: lab_agents_wait_ready(lab, k, 30000);
	/* served by the new one once it writes its pid: the old one accepts nothing then */
	for (size_t i = 0; i < lab->nagent; i++)
		if (lab->agent[i].node == k)
			pid = lab->agent[i].pid;
	for (int t = 0; t < TAKEOVER_MS / 10 && serving_pid(lab, k) != pid; t++) {
		if (!lab_pid_matches(pid, "skiffd")) {
			fprintf(stderr,
				"skiff-lab: restart-agent: the new skiffd on %s exited (see "
				"%s/logs/skiffd-%s.log); the old one (%d) keeps serving\n",
				node, lab->state_dir, node, old);
			return -ESRCH;
		}
		usleep(10000);
	}
	if (serving_pid(lab, k) != pid) {
		fprintf(stderr,
			"skiff-lab: restart-agent: skiffd %d on %s did not take over in "
			"%d s\n",
			pid, node, TAKEOVER_MS / 1000);
		return -ETIMEDOUT;
	}
	printf("%s: skiffd %d took over from %d, which drains\n", node, pid, old);
	return lab_agents_wait_ready(lab, k, 30000);
}
