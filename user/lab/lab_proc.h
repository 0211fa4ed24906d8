/* SPDX-License-Identifier: Apache-2.0 */
/* Processes of the lab: pod processes, skiffd, and `exec` — all placed in a cgroup first, then a
 * network namespace, then (pods) a private mount namespace with the pod's hosts file. */
#ifndef SKIFF_LAB_PROC_H
#define SKIFF_LAB_PROC_H

#include "lab/lab.h"

/* An argv with its own storage. */
struct lab_argv {
	char *v[256];
	int n;
	char buf[16384];
	size_t used;
};

void lab_argv_add(struct lab_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct lab_spawn {
	const char *cgroup; /* joined first (pid written to cgroup.procs) */
	const char *netns;  /* then setns */
	const char *hosts;  /* then a private mount ns with this file on /etc/hosts; NULL: none */
	const char *log;    /* stdout and stderr; the process also gets its own session */
	char **argv;
	const int *keep_fds; /* descriptors the process inherits (all others close on exec) */
	int nkeep_fds;
};

/* Start a detached process; its pid, or a negative errno (reported) when it could not exec. */
int lab_spawn(const struct lab_spawn *s);
/* Move the calling process into cgroup, netns and hosts mount (as lab_spawn does). */
int lab_enter(const char *cgroup, const char *netns, const char *hosts);

/* The pod's process: sets p->cmd, and fills `a` when not NULL. */
void lab_proc_pod_cmd(const struct lab *lab, const struct lab_deploy *d, struct lab_pod *p,
		      struct lab_argv *a);
int lab_proc_pod_start(struct lab *lab, const struct lab_deploy *d, struct lab_pod *p);
void lab_pod_hosts_path(char *out, const struct lab *lab, const struct lab_pod *p);

/* /proc/PID/cmdline into buf (its arguments NUL-separated, NUL-terminated): the bytes read, or
 * -1 when the process is gone. Used to tell a lab process from a recycled pid. */
long lab_proc_cmdline(int pid, char *buf, size_t len);

/* A TCP connect from inside `netns` to addr:port; 0 when it was accepted. */
int lab_tcp_probe(const char *netns, const char *addr, int port, int timeout_ms);
/* GET http://127.0.0.1:<port><path> inside `netns`; the status code, or a negative errno. */
int lab_http_get(const char *netns, int port, const char *path, int timeout_ms);

#endif
