// SPDX-License-Identifier: Apache-2.0
/* Readiness, as kubelet probes it: a TCP connect to each port of an echo pod from its node, and
 * skiffd's GET /healthz/ready on 15021 inside the node's netns. Bounded waits. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lab/lab_proc.h"

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* A socket in `netns`, connected to addr:port within timeout_ms. */
static int connect_in(const char *netns, const char *addr, int port, int timeout_ms)
{
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(port)};
	bool v6 = strchr(addr, ':');
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, err = 0;

	if (v6 ? inet_pton(AF_INET6, addr, &s6.sin6_addr) != 1
	       : inet_pton(AF_INET, addr, &s4.sin_addr) != 1)
		return -EINVAL;
	fd = lab_netns_socket(netns, v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
	if (fd < 0)
		return fd;
	if (connect(fd, v6 ? (struct sockaddr *)&s6 : (struct sockaddr *)&s4,
		    v6 ? sizeof(s6) : sizeof(s4)) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		err = -errno;
		goto fail;
	}
	pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
	if (poll(&pfd, 1, timeout_ms) != 1) {
		err = -ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		err = err ? -err : -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return err;
}

int lab_tcp_probe(const char *netns, const char *addr, int port, int timeout_ms)
{
	int fd = connect_in(netns, addr, port, timeout_ms);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

int lab_http_get(const char *netns, int port, const char *path, int timeout_ms)
{
	char req[256], resp[64] = "";
	struct pollfd pfd;
	int fd = connect_in(netns, "127.0.0.1", port, timeout_ms), code = -EPROTO;
	ssize_t n;

	if (fd < 0)
		return fd;
	lab_fmt(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
		path);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		goto out;
	pfd = (struct pollfd){.fd = fd, .events = POLLIN};
	if (poll(&pfd, 1, timeout_ms) != 1) {
		code = -ETIMEDOUT;
		goto out;
	}
	n = read(fd, resp, sizeof(resp) - 1);
	if (n > 0) {
		resp[n] = 0;
		if (sscanf(resp, "HTTP/1.%*d %d", &code) != 1)
			code = -EPROTO;
	}
out:
	close(fd);
	return code;
}

static int pod_ports_open(const struct lab *lab, const struct lab_pod *p, const char **why,
			  int *port)
{
	const struct lab_deploy *d = lab_pod_deploy(lab, p);
	char node[32];
	int err;

	lab_node_netns(node, sizeof(node), p->node);
	for (size_t i = 0; d && i < d->nports; i++) {
		if (!strcmp(d->ports[i].proto, "UDP"))
			continue;
		*port = d->ports[i].port;
		err = lab_tcp_probe(node, p->ip4, *port, 200);
		if (!err)
			err = lab_tcp_probe(node, p->ip6, *port, 200);
		if (err) {
			*why = strerror(-err);
			return err;
		}
	}
	return 0;
}

int lab_pods_wait_ready(const struct lab *lab, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	/* probe as kubelet does, from its cgroup, so that STRICT pods let the probes in; this
	 * short-lived command stays there until it exits */
	if (!lab_cgroup_create(LAB_KUBELET_CGROUP))
		lab_cgroup_join(LAB_KUBELET_CGROUP, 0);

	for (size_t i = 0; i < lab->npod; i++) {
		const struct lab_pod *p = &lab->pod[i];
		const char *why = "";
		int port = 0;

		if (strcmp(p->cmd, "skiff-echo"))
			continue;
		while (pod_ports_open(lab, p, &why, &port)) {
			if (now_ms() > deadline || !lab_pid_matches(p->pid, p->cmd)) {
				fprintf(stderr,
					"skiff-lab: pod %s/%s (%s) does not answer on port "
					"%d: %s%s; see %s/logs/%s.log\n",
					p->ns, p->name, p->ip4, port, why,
					lab_pid_matches(p->pid, p->cmd) ? "" : " (process exited)",
					lab->state_dir, p->name);
				return -ETIMEDOUT;
			}
			usleep(20000);
		}
	}
	return 0;
}

static int agent_wait(const struct lab *lab, const struct lab_agent *a, long deadline,
		      int timeout_ms)
{
	char node[32];
	int code;

	lab_node_netns(node, sizeof(node), a->node);
	while ((code = lab_http_get(node, 15021, "/healthz/ready", 500)) != 200) {
		if (!lab_pid_matches(a->pid, "skiffd")) {
			fprintf(stderr,
				"skiff-lab: skiffd on node-%d exited before it was ready; "
				"see %s/logs/skiffd-node-%d.log\n",
				a->node, lab->state_dir, a->node);
			return -ESRCH;
		}
		if (now_ms() > deadline) {
			fprintf(stderr,
				"skiff-lab: skiffd on node-%d is not ready after %d s "
				"(GET 127.0.0.1:15021/healthz/ready: %s); see "
				"%s/logs/skiffd-node-%d.log\n",
				a->node, timeout_ms / 1000, code > 0 ? "not 200" : strerror(-code),
				lab->state_dir, a->node);
			return -ETIMEDOUT;
		}
		usleep(50000);
	}
	return 0;
}

int lab_agents_wait_ready(const struct lab *lab, int node, int timeout_ms)
{
	long deadline = now_ms() + timeout_ms;

	for (size_t i = 0; i < lab->nagent; i++) {
		int err;

		if (node && lab->agent[i].node != node)
			continue;
		err = agent_wait(lab, &lab->agent[i], deadline, timeout_ms);
		if (err)
			return err;
	}
	return 0;
}
