// SPDX-License-Identifier: Apache-2.0
/*
 * Starting processes the way kubelet places containers: the cgroup first (so that the process is
 * in the pod's cgroup before it can open a socket), then the pod's network namespace, then a
 * private mount namespace where the pod's hosts file covers /etc/hosts.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/mount.h>
#include <unistd.h>

#include "lab/lab_proc.h"

void lab_argv_add(struct lab_argv *a, const char *fmt, ...)
{
	size_t room = sizeof(a->buf) - a->used;
	va_list ap;
	int n;

	if (a->n >= (int)(sizeof(a->v) / sizeof(a->v[0])) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(a->buf + a->used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return;
	a->v[a->n++] = a->buf + a->used;
	a->v[a->n] = NULL;
	a->used += n + 1;
}

int lab_enter(const char *cgroup, const char *netns, const char *hosts)
{
	int err;

	if (cgroup && (err = lab_cgroup_join(cgroup, 0))) {
		fprintf(stderr, "skiff-lab: cannot join cgroup %s: %s\n", cgroup, strerror(-err));
		return err;
	}
	if (netns && (err = lab_netns_enter(netns))) {
		fprintf(stderr, "skiff-lab: cannot enter netns %s: %s\n", netns, strerror(-err));
		return err;
	}
	if (!hosts)
		return 0;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL) < 0) {
		err = -errno;
		fprintf(stderr, "skiff-lab: cannot bind %s on /etc/hosts: %s\n", hosts,
			strerror(errno));
		return err;
	}
	return 0;
}

static void child(const struct lab_spawn *s, int report)
{
	int fd = open("/dev/null", O_RDONLY), err;

	if (fd >= 0)
		dup2(fd, 0);
	fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	setsid();
	/* Pods and skiffd outlive this command: they must not keep the caller's descriptors open
	 * (a test's lock file, a pipe someone waits on for EOF). */
	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	for (int i = 0; i < s->nkeep_fds; i++)
		fcntl(s->keep_fds[i], F_SETFD, 0);
	err = lab_enter(s->cgroup, s->netns, s->hosts);
	if (!err) {
		execv(s->argv[0], s->argv);
		err = -errno;
		fprintf(stderr, "skiff-lab: cannot run %s: %s\n", s->argv[0], strerror(errno));
	}
	if (write(report, &err, sizeof(err)) < 0)
		_exit(126);
	_exit(127);
}

int lab_spawn(const struct lab_spawn *s)
{
	int pipefd[2], err = 0;
	pid_t pid;
	ssize_t n;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid == 0) {
		close(pipefd[0]);
		child(s, pipefd[1]);
	}
	close(pipefd[1]);
	if (pid < 0) {
		err = -errno;
		close(pipefd[0]);
		return err;
	}
	/* EOF: exec succeeded (the pipe is close-on-exec); an int: why it failed. */
	n = read(pipefd[0], &err, sizeof(err));
	close(pipefd[0]);
	if (n == sizeof(err) && err) {
		fprintf(stderr, "skiff-lab: %s did not start: %s (see %s)\n", s->argv[0],
			strerror(-err), s->log);
		return err;
	}
	return pid;
}

long lab_proc_cmdline(int pid, char *buf, size_t len)
{
	char path[64];
	size_t n;
	FILE *f;

	if (pid <= 0 || len == 0)
		return -1;
	lab_fmt(path, sizeof(path), "/proc/%d/cmdline", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = 0;
	return (long)n;
}

void lab_pod_hosts_path(char *out, const struct lab *lab, const struct lab_pod *p)
{
	lab_fmt(out, PATH_MAX, "%s/hosts/%s", lab->state_dir, p->name);
}

static bool image_is(const char *image, const char *name)
{
	size_t n = strlen(name);

	if (!strncmp(image, "docker.io/", 10))
		image += 10;
	return !strncmp(image, name, n) && (image[n] == 0 || image[n] == ':' || image[n] == '@');
}

static void echo_args(const struct lab *lab, const struct lab_deploy *d, const struct lab_pod *p,
		      struct lab_argv *a)
{
	lab_argv_add(a, "%s/skiff-echo", lab->bin_dir);
	lab_argv_add(a, "--pod");
	lab_argv_add(a, "%s", p->name);
	lab_argv_add(a, "--namespace");
	lab_argv_add(a, "%s", p->ns);
	for (size_t i = 0; i < d->labels.n; i++) {
		lab_argv_add(a, "--label");
		lab_argv_add(a, "%s=%s", d->labels.v[i].key, d->labels.v[i].val);
	}
	lab_argv_add(a, "--label");
	lab_argv_add(a, "pod-template-hash=%s", d->hash);
	for (size_t i = 0; i < d->nports; i++) {
		const struct lab_cport *c = &d->ports[i];

		if (!strcmp(c->proto, "UDP"))
			lab_argv_add(a, "--udp");
		else if (!strncmp(c->name, "tcp-", 4))
			lab_argv_add(a, "--tcp");
		else
			lab_argv_add(a, "--http");
		lab_argv_add(a, "%d", c->port);
	}
}

void lab_proc_pod_cmd(const struct lab *lab, const struct lab_deploy *d, struct lab_pod *p,
		      struct lab_argv *a)
{
	bool echo = false, client = false;

	for (size_t i = 0; i < d->ncontainers; i++) {
		echo |= image_is(d->containers[i].image, "skiff/echo");
		client |= image_is(d->containers[i].image, "skiff/client");
	}
	if (echo) {
		lab_fmt(p->cmd, sizeof(p->cmd), "skiff-echo");
		if (a)
			echo_args(lab, d, p, a);
		return;
	}
	if (!client && a)
		fprintf(stderr,
			"skiff-lab: warning: Deployment %s/%s: image %s is not skiff/echo "
			"or skiff/client; its pods idle\n",
			d->ns, d->name, d->ncontainers ? d->containers[0].image : "(none)");
	lab_fmt(p->cmd, sizeof(p->cmd), "sleep");
	if (a) {
		lab_argv_add(a, "/bin/sleep");
		lab_argv_add(a, "infinity");
	}
}

int lab_proc_pod_start(struct lab *lab, const struct lab_deploy *d, struct lab_pod *p)
{
	struct lab_argv *a = calloc(1, sizeof(*a));
	char hosts[PATH_MAX], log[PATH_MAX];
	struct lab_spawn s = {.cgroup = p->cgroup, .netns = p->netns, .hosts = hosts, .log = log};
	int pid;

	if (!a)
		return -ENOMEM;
	lab_proc_pod_cmd(lab, d, p, a);
	lab_pod_hosts_path(hosts, lab, p);
	lab_fmt(log, sizeof(log), "%s/logs/%s.log", lab->state_dir, p->name);
	s.argv = a->v;
	pid = lab_spawn(&s);
	free(a);
	if (pid < 0)
		return pid;
	p->pid = pid;
	return 0;
}
