// SPDX-License-Identifier: Apache-2.0
/*
 * Deployments → pods, as the ReplicaSet controller and kubelet would: names
 * <deploy>-<template hash>-<5 random>, placement round-robin (or pinned by nodeName / hostname
 * selector), a netns + veth + cgroup per pod, and a real process. A template change replaces the
 * pods (new ones first), a replica change adds or removes pods.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lab/lab.h"
#include "lab/lab_proc.h"

const struct lab_deploy *lab_pod_deploy(const struct lab *lab, const struct lab_pod *p)
{
	for (size_t i = 0; i < lab->ndeploy; i++)
		if (!strcmp(lab->deploy[i].ns, p->ns) && !strcmp(lab->deploy[i].name, p->deploy))
			return &lab->deploy[i];
	return NULL;
}

static bool pod_name_taken(const struct lab *lab, const char *name)
{
	for (size_t i = 0; i < lab->npod; i++)
		if (!strcmp(lab->pod[i].name, name))
			return true;
	return false;
}

static int pick_node(struct lab *lab, const struct lab_deploy *d)
{
	int k;

	if (!d->node[0])
		return (int)(lab->rr++ % (unsigned)lab->nodes) + 1;
	if (sscanf(d->node, "node-%d", &k) == 1 && k >= 1 && k <= lab->nodes)
		return k;
	fprintf(stderr,
		"skiff-lab: Deployment %s/%s asks for node '%s', which is not in this lab "
		"(nodes node-1..node-%d); fix nodeName/nodeSelector or `up --nodes`\n",
		d->ns, d->name, d->node, lab->nodes);
	return -EINVAL;
}

static int pick_host(const struct lab *lab, int node)
{
	for (int n = 2; n < 255; n++) {
		bool used = false;

		for (size_t i = 0; i < lab->npod && !used; i++)
			used = lab->pod[i].node == node && lab->pod[i].host == n;
		if (!used)
			return n;
	}
	fprintf(stderr, "skiff-lab: node-%d is full (253 pods)\n", node);
	return -ENOSPC;
}

static void pod_netns_name(char *out, size_t len, const char *pod)
{
	if (strlen(pod) <= 56)
		lab_fmt(out, len, "skl-%s", pod);
	else
		lab_fmt(out, len, "skl-%.46s-%08lx", pod, lab_hash(pod) & 0xffffffffUL);
}

/* Fill in a new pod's identity and addresses (nothing is created yet). */
static int pod_plan(struct lab *lab, const struct lab_deploy *d, struct lab_pod *p)
{
	char suffix[6];
	int node = pick_node(lab, d), host;

	if (node < 0)
		return node;
	host = pick_host(lab, node);
	if (host < 0)
		return host;
	do {
		lab_random_alnum(suffix, 5);
		lab_fmt(p->name, sizeof(p->name), "%s-%s-%s", d->name, d->hash, suffix);
	} while (pod_name_taken(lab, p->name));
	lab_fmt(p->ns, sizeof(p->ns), "%s", d->ns);
	lab_fmt(p->deploy, sizeof(p->deploy), "%s", d->name);
	lab_fmt(p->hash, sizeof(p->hash), "%s", d->hash);
	p->node = node;
	p->host = host;
	lab_uuid4(p->uid);
	lab_fmt(p->ip4, sizeof(p->ip4), "198.18.%d.%d", node, host);
	lab_fmt(p->ip6, sizeof(p->ip6), "2001:db8:%x::%x", node, host);
	pod_netns_name(p->netns, sizeof(p->netns), p->name);
	lab_fmt(p->cgroup, sizeof(p->cgroup), LAB_CGROUP_ROOT "/node-%d/kubepods/pod%s", node,
		p->uid);
	lab_fmt(p->veth, sizeof(p->veth), "skv%d", host);
	return 0;
}

static int pod_create(struct lab *lab, size_t di)
{
	struct lab_pod planned = {0}, *p;
	int err;

	err = pod_plan(lab, &lab->deploy[di], &planned);
	if (err)
		return err;
	p = lab_push(&lab->pod, &lab->npod, sizeof(*p));
	*p = planned;
	lab_proc_pod_cmd(lab, &lab->deploy[di], p, NULL);
	err = lab_state_save(lab);
	if (!err)
		err = lab_cgroup_create(p->cgroup);
	if (!err && lab_pod_net_up(lab, p))
		err = -EIO;
	if (!err)
		err = lab_hosts_write(lab);
	if (err) {
		fprintf(stderr, "skiff-lab: pod %s/%s could not be created\n", p->ns, p->name);
		return err;
	}
	err = lab_proc_pod_start(lab, &lab->deploy[di], p);
	if (!err)
		err = lab_state_save(lab);
	return err;
}

bool lab_pid_matches(int pid, const char *cmd)
{
	char buf[256];
	const char *base;

	if (!cmd || !*cmd || lab_proc_cmdline(pid, buf, sizeof(buf)) <= 0)
		return false;
	base = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
	return !strcmp(base, cmd);
}

int lab_pod_stop(struct lab *lab, struct lab_pod *p)
{
	char hosts[PATH_MAX];
	size_t i = (size_t)(p - lab->pod);

	if (lab_pid_matches(p->pid, p->cmd))
		kill(p->pid, SIGKILL);
	lab_cgroup_remove_tree(p->cgroup);
	if (lab_netns_exists(p->netns))
		lab_run("ip netns del %s", p->netns);
	lab_fmt(hosts, sizeof(hosts), "%s/hosts/%s", lab->state_dir, p->name);
	unlink(hosts);
	lab_remove_at(lab->pod, &lab->npod, sizeof(*p), i);
	return lab_state_save(lab);
}

static size_t count_pods(const struct lab *lab, const struct lab_deploy *d, bool current)
{
	size_t n = 0;

	for (size_t i = 0; i < lab->npod; i++) {
		const struct lab_pod *p = &lab->pod[i];

		if (!strcmp(p->ns, d->ns) && !strcmp(p->deploy, d->name) &&
		    !strcmp(p->hash, d->hash) == current)
			n++;
	}
	return n;
}

/* The last pod (by position) of deployment d whose template is current or not. */
static struct lab_pod *find_pod(struct lab *lab, const struct lab_deploy *d, bool current)
{
	for (size_t i = lab->npod; i-- > 0;) {
		struct lab_pod *p = &lab->pod[i];

		if (!strcmp(p->ns, d->ns) && !strcmp(p->deploy, d->name) &&
		    !strcmp(p->hash, d->hash) == current)
			return p;
	}
	return NULL;
}

static int reconcile_deploy(struct lab *lab, size_t di)
{
	const struct lab_deploy *d = &lab->deploy[di];
	struct lab_pod *p;
	int err;

	while (count_pods(lab, d, true) < (size_t)d->replicas) {
		err = pod_create(lab, di);
		if (err)
			return err;
		d = &lab->deploy[di];
	}
	while (count_pods(lab, d, true) > (size_t)d->replicas && (p = find_pod(lab, d, true)))
		lab_pod_stop(lab, p);
	while ((p = find_pod(lab, d, false)))
		lab_pod_stop(lab, p);
	return 0;
}

int lab_pods_reconcile(struct lab *lab)
{
	int err;

	for (size_t i = 0; i < lab->npod;) {
		if (!lab_pod_deploy(lab, &lab->pod[i]))
			lab_pod_stop(lab, &lab->pod[i]);
		else
			i++;
	}
	for (size_t i = 0; i < lab->ndeploy; i++) {
		err = reconcile_deploy(lab, i);
		if (err)
			return err;
	}
	return 0;
}
