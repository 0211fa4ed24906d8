// SPDX-License-Identifier: Apache-2.0
/*
 * The socket load balancer on the running kernel: real programs attached at a private cgroup
 * root, a private network namespace with backends on lo, and client processes that join a pod
 * cgroup and then the namespace, exactly as a pod's processes are placed.
 *
 *   bpffs       /sys/fs/bpf/skt-<pid>
 *   cgroups     /sys/fs/cgroup/unified/skt-<pid>/kubepods/pod<uid>  (enrolled)
 *               /sys/fs/cgroup/unified/skt-<pid>/kubepods/pod<uid2> (not enrolled)
 *   netns       skt-<pid>: lo up, backends 198.18.0.10..12 and 2001:db8::10..12,
 *               TCP :8080 and UDP :5353 on each; every backend answers with its index byte.
 *   VIPs        198.19.0.1 and 2001:db8:1::1 (no route: only a rewrite can reach a backend)
 *   clients     198.18.1.0/24 on lo: a client binds one of them to be a distinct source
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernel/kernel_env.h"

#include <bpf/bpf.h>

#include "dataplane/dataplane.h"
#include "l7/upstream.h"
#include "skiff/lb.h"

#define NBACKENDS 3
#define TCP_PORT  8080
#define UDP_PORT  5353
#define POD_UID	  "5a1e0000-0000-4000-8000-00000000000a"
#define OTHER_UID "5a1e0000-0000-4000-8000-00000000000b"

#define VIP4	  "198.19.0.1"
#define VIP4_NOBE "198.19.0.2"
#define VIP4_HOLE "198.19.0.3"
#define VIP6	  "2001:db8:1::1"
#define NSOURCES  120		 /* clients 198.18.1.1 .. 198.18.1.120 */
#define POD_SRC	  "198.18.1.200" /* the pod's own address, for unbound sockets */

/* ---------- topology ---------- */

struct topo {
	char netns[32];
	char bpffs[64];
	char cg_base[128];
	char cg_root[160];
	char cg_pod[256];
	char cg_other[256];
	uint64_t pod_id;
	int netns_fd;
	int self_ns_fd;
	int srv_fds[4 * NBACKENDS]; /* tcp4, tcp6, udp4, udp6 per backend */
	int nsrv;
	int stop[2];
	pthread_t srv;
	bool srv_running;
	struct dataplane *dp;
};

static struct topo T = {.netns_fd = -1, .self_ns_fd = -1, .stop = {-1, -1}};

static const char *backend_ip(int family, int i)
{
	static const char *v4[NBACKENDS] = {"198.18.0.10", "198.18.0.11", "198.18.0.12"};
	static const char *v6[NBACKENDS] = {"2001:db8::10", "2001:db8::11", "2001:db8::12"};

	return family == AF_INET ? v4[i] : v6[i];
}

/* ---------- addresses ---------- */

struct ep {
	int family;
	char ip[INET6_ADDRSTRLEN];
	int port;
};

static socklen_t ep_sockaddr(const struct ep *e, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (e->family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(e->port);
		inet_pton(AF_INET, e->ip, &s->sin_addr);
		return sizeof(*s);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(e->port);
	inet_pton(AF_INET6, e->ip, &s6->sin6_addr);
	return sizeof(*s6);
}

static void ep_from_sockaddr(const struct sockaddr_storage *ss, struct ep *e)
{
	memset(e, 0, sizeof(*e));
	e->family = ss->ss_family;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &s->sin_addr, e->ip, sizeof(e->ip));
		e->port = ntohs(s->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, e->ip, sizeof(e->ip));
		e->port = ntohs(s6->sin6_port);
	}
}

static struct ep EP(int family, const char *ip, int port) {
	struct ep e = {.family = family, .port = port};

	snprintf(e.ip, sizeof(e.ip), "%s", ip);
	return e;
}

/* ---------- backends: every listener answers with its backend index ---------- */

static int
srv_socket(const struct ep *e, int type)
{
	struct sockaddr_storage ss;
	socklen_t len = ep_sockaddr(e, &ss);
	int one = 1, fd = socket(e->family, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || (type == SOCK_STREAM && listen(fd, 512))) {
		fprintf(stderr, "test: cannot listen on %s:%d: %s\n", e->ip, e->port,
			strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Sockets are created inside the test netns and stay there; the thread serving them does not
 * need to be in it. */
static int servers_open(void)
{
	static const int fams[2] = {AF_INET, AF_INET6};

	if (setns(T.netns_fd, CLONE_NEWNET))
		return -1;
	for (int f = 0; f < 2; f++) {
		for (int i = 0; i < NBACKENDS; i++) {
			struct ep t = EP(fams[f], backend_ip(fams[f], i), TCP_PORT);
			struct ep u = EP(fams[f], backend_ip(fams[f], i), UDP_PORT);

			T.srv_fds[T.nsrv++] = srv_socket(&t, SOCK_STREAM);
			T.srv_fds[T.nsrv++] = srv_socket(&u, SOCK_DGRAM);
		}
	}
	if (setns(T.self_ns_fd, CLONE_NEWNET))
		return -1;
	for (int i = 0; i < T.nsrv; i++)
		if (T.srv_fds[i] < 0)
			return -1;
	return 0;
}

static void serve_one(int fd, char idx)
{
	struct sockaddr_storage from;
	socklen_t len = sizeof(from);
	char buf[64];
	int type = 0;
	socklen_t tl = sizeof(type);

	getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl);
	if (type == SOCK_STREAM) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c >= 0) {
			if (write(c, &idx, 1) != 1)
				perror("test: backend write");
			close(c);
		}
		return;
	}
	if (recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len) >= 0)
		sendto(fd, &idx, 1, 0, (struct sockaddr *)&from, len);
}

static void *server_main(void *arg)
{
	struct pollfd p[4 * NBACKENDS + 1];

	(void)arg;
	for (int i = 0; i < T.nsrv; i++)
		p[i] = (struct pollfd){.fd = T.srv_fds[i], .events = POLLIN};
	p[T.nsrv] = (struct pollfd){.fd = T.stop[0], .events = POLLIN};
	for (;;) {
		if (poll(p, T.nsrv + 1, -1) < 0 && errno != EINTR)
			return NULL;
		if (p[T.nsrv].revents)
			return NULL;
		for (int i = 0; i < T.nsrv; i++)
			if (p[i].revents & POLLIN)
				serve_one(p[i].fd, (char)((i / 2) % NBACKENDS));
	}
}

/* ---------- node views ---------- */

#define VIEW_MAX 16

struct view_buf {
	struct node_view v;
	struct cv_service s[VIEW_MAX];
	struct cv_backend b[VIEW_MAX];
	struct cv_pod p[2];
};

static void addr_of(const struct ep *e, union skiff_addr *a, __u8 *family)
{
	memset(a, 0, sizeof(*a));
	*family = e->family == AF_INET ? SKIFF_AF_INET : SKIFF_AF_INET6;
	inet_pton(e->family, e->ip, a);
}

static void view_init(struct view_buf *vb, bool enroll)
{
	memset(vb, 0, sizeof(*vb));
	vb->v.services = vb->s;
	vb->v.backends = vb->b;
	vb->v.pods = vb->p;
	if (enroll) {
		vb->p[0] =
		    (struct cv_pod){.cgroup_id = T.pod_id,
				    .val = {.workload_id = 7, .flags = SKIFF_POD_F_ENROLLED}};
		vb->v.npods = 1;
	}
}

/* A service port; returns its svc_id for view_backend(). */
static __u32 view_service(struct view_buf *vb, struct ep vip, int proto, __u32 flags)
{
	struct cv_service *s = &vb->s[vb->v.nservices];

	assert_true(vb->v.nservices < VIEW_MAX);
	addr_of(&vip, &s->key.addr, &s->key.family);
	s->key.port = htons(vip.port);
	s->key.proto = proto;
	s->val.svc_id = 100 + vb->v.nservices;
	s->val.flags = flags;
	vb->v.nservices++;
	return s->val.svc_id;
}

/* Append a backend slot (family 0 when `be` is NULL: the "no healthy upstream" share). */
static void view_backend(struct view_buf *vb, __u32 svc_id, const struct ep *be, __u32 weight)
{
	struct cv_backend *b = &vb->b[vb->v.nbackends];
	struct cv_service *s = NULL;

	for (size_t i = 0; i < vb->v.nservices; i++)
		if (vb->s[i].val.svc_id == svc_id)
			s = &vb->s[i];
	assert_non_null(s);
	assert_true(vb->v.nbackends < VIEW_MAX);
	b->key.svc_id = svc_id;
	b->key.slot = s->val.count++;
	if (be) {
		addr_of(be, &b->val.addr, &b->val.family);
		b->val.port = htons(be->port);
	}
	s->val.weight_total += weight;
	b->val.weight_end = s->val.weight_total;
	vb->v.nbackends++;
}

/* VIP:port/proto over backends `first`..`last` of family `fam`, equal weights. */
static void view_spread(struct view_buf *vb, int fam, const char *vip, int vport, int proto,
			int bport, int first, int last)
{
	__u32 id = view_service(vb, EP(fam, vip, vport), proto, 0);

	for (int i = first; i <= last; i++) {
		struct ep be = EP(fam, backend_ip(fam, i), bport);

		view_backend(vb, id, &be, 1);
	}
}

/* Every service the tests use, spread over all backends. */
static void view_full(struct view_buf *vb)
{
	view_init(vb, true);
	view_spread(vb, AF_INET, VIP4, 80, IPPROTO_TCP, TCP_PORT, 0, NBACKENDS - 1);
	view_spread(vb, AF_INET, VIP4, 53, IPPROTO_UDP, UDP_PORT, 0, NBACKENDS - 1);
	view_spread(vb, AF_INET6, VIP6, 80, IPPROTO_TCP, TCP_PORT, 0, NBACKENDS - 1);
	view_spread(vb, AF_INET6, VIP6, 53, IPPROTO_UDP, UDP_PORT, 0, NBACKENDS - 1);
	view_service(vb, EP(AF_INET, VIP4_NOBE, 80), IPPROTO_TCP, SKIFF_SVC_F_NO_BACKENDS);
	view_service(vb, EP(AF_INET, VIP4_NOBE, 53), IPPROTO_UDP, SKIFF_SVC_F_NO_BACKENDS);
	view_backend(vb, view_service(vb, EP(AF_INET, VIP4_HOLE, 80), IPPROTO_TCP, 0), NULL, 5);
}

/* ---------- clients: run in a pod's cgroup and netns, in a child process ---------- */

enum job_kind { JOB_TCP, JOB_UDP, JOB_UDP_CONNECTED, JOB_TCP_SOURCES };

struct job {
	enum job_kind kind;
	struct ep dst;
	int n;
};

/* Shared with the child through a MAP_SHARED page. */
struct result {
	int err;	      /* first failure, negative errno */
	int done;	      /* operations that completed */
	int hits[NBACKENDS];  /* which backend answered */
	struct ep peer;	      /* getpeername() or recvfrom() source of the last operation */
	int src_be[NSOURCES]; /* JOB_TCP_SOURCES: the backend each source reached, -1: several */
};

static void timeouts(int fd)
{
	struct timeval tv = {.tv_sec = 2};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int answer(int fd, struct result *r)
{
	char idx;

	if (read(fd, &idx, 1) != 1)
		return errno ? -errno : -EPIPE;
	if (idx < 0 || idx >= NBACKENDS)
		return -EPROTO;
	r->hits[(int)idx]++;
	return 0;
}

static int peer_of(int fd, struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len))
		return -errno;
	ep_from_sockaddr(&ss, &r->peer);
	return 0;
}

static int tcp_once(const struct job *j, struct result *r)
{
	struct sockaddr_storage ss;
	socklen_t len = ep_sockaddr(&j->dst, &ss);
	int fd = socket(j->dst.family, SOCK_STREAM | SOCK_CLOEXEC, 0), err;

	if (fd < 0)
		return -errno;
	timeouts(fd);
	err = connect(fd, (struct sockaddr *)&ss, len) ? -errno : 0;
	if (!err)
		err = peer_of(fd, r);
	if (!err)
		err = answer(fd, r);
	close(fd);
	return err;
}

static void source_ip(int i, char *buf, size_t n)
{
	snprintf(buf, n, "198.18.1.%d", i + 1);
}

/* One connect from source address `src` (bound first): the backend index that answered. */
static int tcp_from(const struct job *j, const char *src, struct result *r)
{
	struct sockaddr_storage ss, local;
	socklen_t len = ep_sockaddr(&j->dst, &ss);
	struct ep from = EP(AF_INET, src, 0);
	socklen_t llen = ep_sockaddr(&from, &local);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), err, before[NBACKENDS];

	if (fd < 0)
		return -errno;
	timeouts(fd);
	memcpy(before, r->hits, sizeof(before));
	err = bind(fd, (struct sockaddr *)&local, llen) ? -errno : 0;
	if (!err)
		err = connect(fd, (struct sockaddr *)&ss, len) ? -errno : 0;
	if (!err)
		err = answer(fd, r);
	close(fd);
	for (int b = 0; !err && b < NBACKENDS; b++)
		if (r->hits[b] != before[b])
			return b;
	return err;
}

/* j->n connects from each of NSOURCES source addresses. */
static int tcp_sources(const struct job *j, struct result *r)
{
	for (int s = 0; s < NSOURCES; s++) {
		char src[32];

		source_ip(s, src, sizeof(src));
		r->src_be[s] = -2;
		for (int k = 0; k < j->n; k++) {
			int b = tcp_from(j, src, r);

			if (b < 0)
				return b;
			r->src_be[s] = r->src_be[s] == -2 || r->src_be[s] == b ? b : -1;
			r->done++;
		}
	}
	return 0;
}

static int udp_exchange(int fd, const struct job *j, struct result *r, bool connected)
{
	struct sockaddr_storage ss, from;
	socklen_t len = ep_sockaddr(&j->dst, &ss), flen = sizeof(from);
	char idx;
	ssize_t n;

	n = connected ? send(fd, "q", 1, 0) : sendto(fd, "q", 1, 0, (struct sockaddr *)&ss, len);
	if (n < 0)
		return -errno;
	n = recvfrom(fd, &idx, 1, 0, (struct sockaddr *)&from, &flen);
	if (n != 1)
		return n < 0 ? -errno : -EPROTO;
	if (idx < 0 || idx >= NBACKENDS)
		return -EPROTO;
	r->hits[(int)idx]++;
	ep_from_sockaddr(&from, &r->peer);
	return 0;
}

/* UDP: one socket for all n datagrams, so stickiness shows as a single backend. */
static int udp_run(const struct job *j, struct result *r)
{
	bool connected = j->kind == JOB_UDP_CONNECTED;
	struct sockaddr_storage ss;
	socklen_t len = ep_sockaddr(&j->dst, &ss);
	int fd = socket(j->dst.family, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	timeouts(fd);
	if (connected && connect(fd, (struct sockaddr *)&ss, len))
		err = -errno;
	for (int i = 0; !err && i < j->n; i++) {
		err = udp_exchange(fd, j, r, connected);
		if (!err)
			r->done++;
	}
	if (!err && connected) {
		struct ep from = r->peer;

		err = peer_of(fd, r); /* getpeername() must show the VIP too */
		if (!err && (strcmp(from.ip, r->peer.ip) || from.port != r->peer.port))
			err = -EADDRNOTAVAIL;
	}
	close(fd);
	return err;
}

static void job_child(const char *cg, const struct job *j, struct result *r)
{
	char procs[300];
	int err;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	/* cgroup first: once in the netns the hidden /sys paths are no concern, but the order
	 * matches how a pod's process is placed */
	err = write_file(procs, "0");
	if (!err && setns(T.netns_fd, CLONE_NEWNET))
		err = -errno;
	if (!err && j->kind == JOB_TCP_SOURCES) {
		err = tcp_sources(j, r);
	} else if (!err && j->kind != JOB_TCP) {
		err = udp_run(j, r);
	} else {
		for (int i = 0; !err && i < j->n; i++) {
			err = tcp_once(j, r);
			if (!err)
				r->done++;
		}
	}
	r->err = err;
	_exit(0);
}

/* Run `j` from a process in cgroup `cg` (pod cgroup + test netns); fills *out. */
static void run_job(const char *cg, const struct job *j, struct result *out)
{
	struct result *r =
	    mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int status = 0;
	pid_t pid;

	assert_true(r != MAP_FAILED);
	memset(r, 0, sizeof(*r));
	r->err = -ECHILD;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		job_child(cg, j, r);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	*out = *r;
	munmap(r, sizeof(*r));
	assert_true(WIFEXITED(status));
}

static struct result pod_job(enum job_kind kind, struct ep dst, int n)
{
	struct job j = {.kind = kind, .dst = dst, .n = n};
	struct result r;

	run_job(T.cg_pod, &j, &r);
	return r;
}

static void apply(const struct view_buf *vb)
{
	unsigned int before = dp_generation(T.dp);

	assert_int_equal(dp_apply(T.dp, &vb->v), 0);
	assert_int_not_equal(dp_generation(T.dp), before);
}

static void assert_peer(const struct result *r, const char *ip, int port)
{
	if (strcmp(r->peer.ip, ip) || r->peer.port != port)
		fail_msg("peer is %s port %d, want %s port %d", r->peer.ip, r->peer.port, ip, port);
}

/* ---------- setup and teardown ---------- */

static int netns_up(void)
{
	char path[64];

	if (sh("ip netns add %s", T.netns) || sh("ip -n %s link set lo up", T.netns))
		return -1;
	for (int i = 0; i < NBACKENDS; i++)
		if (sh("ip -n %s addr add %s/32 dev lo", T.netns, backend_ip(AF_INET, i)) ||
		    sh("ip -n %s addr add %s/128 dev lo nodad", T.netns, backend_ip(AF_INET6, i)))
			return -1;
	/* on lo a prefix is local as a whole: every client address can be bound */
	if (sh("ip -n %s addr add 198.18.1.1/24 dev lo", T.netns))
		return -1;
	snprintf(path, sizeof(path), "/run/netns/%s", T.netns);
	T.netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	T.self_ns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	return T.netns_fd >= 0 && T.self_ns_fd >= 0 ? 0 : -1;
}

static int cgroups_up(void)
{
	if (mkcg(T.cg_base, NULL) || mkcg(T.cg_root, NULL) || mkcg(T.cg_pod, &T.pod_id) ||
	    mkcg(T.cg_other, NULL)) {
		fprintf(stderr, "test: cannot create cgroups under %s: %s\n", T.cg_base,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int dp_up(void)
{
	struct dp_opts o = {.bpffs_dir = T.bpffs, .cgroup_root = T.cg_root};

	return dp_open(&o, &T.dp) ? -1 : 0;
}

static int rm_pin(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static int teardown(void **state)
{
	(void)state;
	if (T.srv_running) {
		if (write(T.stop[1], "x", 1) != 1)
			perror("test: stop server");
		pthread_join(T.srv, NULL);
	}
	for (int i = 0; i < T.nsrv; i++)
		if (T.srv_fds[i] >= 0)
			close(T.srv_fds[i]);
	dp_close(T.dp, true);
	T.dp = NULL;
	nftw(T.bpffs, rm_pin, 8, FTW_DEPTH | FTW_PHYS); /* whatever a failed open left */
	rmcg_kill(T.cg_pod);
	rmcg_kill(T.cg_other);
	rmcg_kill(T.cg_root);
	rmcg_kill(T.cg_base);
	if (T.netns_fd >= 0)
		close(T.netns_fd);
	if (T.self_ns_fd >= 0)
		close(T.self_ns_fd);
	sh("ip netns del %s 2>/dev/null", T.netns);
	for (int i = 0; i < 2; i++)
		if (T.stop[i] >= 0)
			close(T.stop[i]);
	return 0;
}

static int setup(void **state)
{
	int pid = getpid();

	snprintf(T.netns, sizeof(T.netns), "skt-%d", pid);
	snprintf(T.bpffs, sizeof(T.bpffs), "/sys/fs/bpf/skt-%d", pid);
	snprintf(T.cg_base, sizeof(T.cg_base), "/sys/fs/cgroup/unified/skt-%d", pid);
	snprintf(T.cg_root, sizeof(T.cg_root), "%s/kubepods", T.cg_base);
	snprintf(T.cg_pod, sizeof(T.cg_pod), "%s/pod%s", T.cg_root, POD_UID);
	snprintf(T.cg_other, sizeof(T.cg_other), "%s/pod%s", T.cg_root, OTHER_UID);
	if (geteuid() != 0) {
		fprintf(stderr, "test_sock_lb: needs root (BPF, cgroups, netns)\n");
		return -1;
	}
	if (cgroups_up() || netns_up() || servers_open() || pipe2(T.stop, O_CLOEXEC) || dp_up())
		goto out_fail;
	if (pthread_create(&T.srv, NULL, server_main, NULL))
		goto out_fail;
	T.srv_running = true;
	return 0;

out_fail:
	teardown(state);
	return -1;
}

/* ---------- cases ---------- */

static void test_tcp_rewrite(void **state)
{
	struct view_buf vb;
	struct result r;

	(void)state;
	view_full(&vb);
	apply(&vb);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), 30);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.done, 30);
	/* 30 picks over 3 equal backends: each is hit (P(miss one) = 3 * (2/3)^30 < 2e-5) */
	for (int i = 0; i < NBACKENDS; i++)
		assert_true(r.hits[i] > 0);
}

static void test_weighted_split(void **state)
{
	struct ep b0 = EP(AF_INET, backend_ip(AF_INET, 0), TCP_PORT);
	struct ep b1 = EP(AF_INET, backend_ip(AF_INET, 1), TCP_PORT);
	const int n = 1000;
	struct view_buf vb;
	struct result r;
	double bound;
	__u32 id;

	(void)state;
	view_init(&vb, true);
	id = view_service(&vb, EP(AF_INET, VIP4, 80), IPPROTO_TCP, 0);
	view_backend(&vb, id, &b0, 90);
	view_backend(&vb, id, &b1, 10);
	apply(&vb);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), n);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.done, n);
	/* 99.9% two-sided binomial bound around 900 */
	bound = 3.29 * sqrt(n * 0.9 * 0.1);
	printf("# weighted 90/10 over %d connects: %d / %d / %d (bound +-%.1f)\n", n, r.hits[0],
	       r.hits[1], r.hits[2], bound);
	assert_true(fabs(r.hits[0] - 900.0) <= bound);
	assert_int_equal(r.hits[0] + r.hits[1], n);
	assert_int_equal(r.hits[2], 0);
}

static void test_getpeername_shows_vip(void **state)
{
	struct view_buf vb;
	struct result r;

	(void)state;
	view_full(&vb);
	apply(&vb);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), 5);
	assert_int_equal(r.err, 0);
	assert_peer(&r, VIP4, 80);
}

static void test_unenrolled_untouched(void **state)
{
	struct job j = {.kind = JOB_TCP, .dst = EP(AF_INET, VIP4, 80), .n = 1};
	struct view_buf vb;
	struct result r;

	(void)state;
	view_full(&vb);
	apply(&vb);
	/* a pod under the same root whose cgroup is not enrolled: no route to the VIP */
	run_job(T.cg_other, &j, &r);
	assert_int_equal(r.err, -ENETUNREACH);
	/* and it can still reach a backend directly */
	j.dst = EP(AF_INET, backend_ip(AF_INET, 2), TCP_PORT);
	run_job(T.cg_other, &j, &r);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.hits[2], 1);
}

static void test_non_service_untouched(void **state)
{
	struct view_buf vb;
	struct result r;

	(void)state;
	view_full(&vb);
	apply(&vb);
	r = pod_job(JOB_TCP, EP(AF_INET, backend_ip(AF_INET, 1), TCP_PORT), 5);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.hits[1], 5);
	assert_peer(&r, backend_ip(AF_INET, 1), TCP_PORT);
	/* the VIP on a port that is no service port is left alone */
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 81), 1);
	assert_int_equal(r.err, -ENETUNREACH);
	/* UDP to the TCP-only VIP port: protocol is part of the service key */
	r = pod_job(JOB_UDP, EP(AF_INET, VIP4, 80), 1);
	assert_int_equal(r.err, -ENETUNREACH);
}

static void test_ipv6_vip(void **state)
{
	struct view_buf vb;
	struct result r;

	(void)state;
	view_full(&vb);
	apply(&vb);
	r = pod_job(JOB_TCP, EP(AF_INET6, VIP6, 80), 30);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.done, 30);
	for (int i = 0; i < NBACKENDS; i++)
		assert_true(r.hits[i] > 0);
	assert_peer(&r, VIP6, 80);
}

static void check_udp(int family, const char *vip, enum job_kind kind)
{
	struct result r = pod_job(kind, EP(family, vip, 53), 20);
	int used = 0;

	assert_int_equal(r.err, 0);
	assert_int_equal(r.done, 20);
	for (int i = 0; i < NBACKENDS; i++)
		used += r.hits[i] > 0;
	assert_int_equal(used, 1); /* one socket, one flow, one backend */
	assert_peer(&r, vip, 53);
}

static void test_udp_unconnected(void **state)
{
	struct view_buf vb;

	(void)state;
	view_full(&vb);
	apply(&vb);
	check_udp(AF_INET, VIP4, JOB_UDP);
	check_udp(AF_INET6, VIP6, JOB_UDP);
}

static void test_udp_connected(void **state)
{
	struct view_buf vb;

	(void)state;
	view_full(&vb);
	apply(&vb);
	check_udp(AF_INET, VIP4, JOB_UDP_CONNECTED);
	check_udp(AF_INET6, VIP6, JOB_UDP_CONNECTED);
}

static void test_no_backends_refused(void **state)
{
	struct view_buf vb;
	struct result r;

	(void)state;
	view_full(&vb);
	apply(&vb);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4_NOBE, 80), 1);
	assert_int_equal(r.err, -ECONNREFUSED);
	r = pod_job(JOB_UDP, EP(AF_INET, VIP4_NOBE, 53), 1);
	assert_int_equal(r.err, -ECONNREFUSED);
	/* the share of a subset without ready endpoints (a family-0 slot) */
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4_HOLE, 80), 3);
	assert_int_equal(r.err, -ECONNREFUSED);
}

/* Count the keys of a pinned generational map, and those of generation `gen`. */
static void count_keys(const char *map, size_t key_size, size_t gen_off, unsigned int gen,
		       int *total, int *in_gen)
{
	char path[128], cur[32], next[32];
	bool first = true;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", T.bpffs, map);
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	*total = *in_gen = 0;
	while (!bpf_map_get_next_key(fd, first ? NULL : cur, next)) {
		__u32 g;

		memcpy(&g, next + gen_off, sizeof(g));
		(*total)++;
		*in_gen += g == gen;
		memcpy(cur, next, key_size);
		first = false;
	}
	close(fd);
}

static void test_generation_swap(void **state)
{
	struct view_buf a, b;
	struct result r;
	int total, in_gen;

	(void)state;
	view_init(&a, true);
	view_spread(&a, AF_INET, VIP4, 80, IPPROTO_TCP, TCP_PORT, 0, 0);
	view_spread(&a, AF_INET, VIP4, 53, IPPROTO_UDP, UDP_PORT, 0, 0);
	apply(&a);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), 10);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.hits[0], 10);

	view_init(&b, true);
	view_spread(&b, AF_INET, VIP4, 80, IPPROTO_TCP, TCP_PORT, 2, 2);
	apply(&b);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), 10);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.hits[2], 10);
	/* B has no UDP service: the VIP:53 of A is gone */
	r = pod_job(JOB_UDP, EP(AF_INET, VIP4, 53), 1);
	assert_int_equal(r.err, -ENETUNREACH);

	count_keys(SKIFF_MAP_SERVICES, sizeof(struct skiff_svc_key),
		   offsetof(struct skiff_svc_key, gen), dp_generation(T.dp), &total, &in_gen);
	assert_int_equal(total, 1);
	assert_int_equal(in_gen, 1);
	count_keys(SKIFF_MAP_BACKENDS, sizeof(struct skiff_backend_key),
		   offsetof(struct skiff_backend_key, gen), dp_generation(T.dp), &total, &in_gen);
	assert_int_equal(total, 1);
	assert_int_equal(in_gen, 1);
}

static void test_unenroll_by_apply(void **state)
{
	struct view_buf vb;
	struct result r;

	(void)state;
	view_full(&vb);
	vb.v.npods = 0; /* the pod leaves the mesh: its entry goes, nothing else changes */
	apply(&vb);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), 1);
	assert_int_equal(r.err, -ENETUNREACH);
	view_full(&vb);
	apply(&vb);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), 1);
	assert_int_equal(r.err, 0);
}

static int count_links(void)
{
	char path[128];
	int n = 0;

	for (int i = 0; i < 8; i++) {
		static const char *names[8] = {"sock_connect4", "sock_connect6", "sock_sendmsg4",
					       "sock_sendmsg6", "sock_recvmsg4", "sock_recvmsg6",
					       "sock_getpeer4", "sock_getpeer6"};
		struct stat st;

		snprintf(path, sizeof(path), "%s/links/%s", T.bpffs, names[i]);
		n += stat(path, &st) == 0;
	}
	return n;
}

static void test_reopen_adopts(void **state)
{
	struct view_buf vb;
	struct result r;
	unsigned int gen;

	(void)state;
	view_init(&vb, true);
	view_spread(&vb, AF_INET, VIP4, 80, IPPROTO_TCP, TCP_PORT, 1, 1);
	apply(&vb);
	gen = dp_generation(T.dp);
	assert_int_equal(count_links(), 8);

	/* the agent stops: pins keep programs attached and maps filled */
	dp_close(T.dp, false);
	T.dp = NULL;
	assert_int_equal(count_links(), 8);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), 5);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.hits[1], 5);

	/* the agent starts again: it adopts the generation, the maps and the links */
	assert_int_equal(dp_up(), 0);
	assert_int_equal(dp_generation(T.dp), gen);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), 5);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.hits[1], 5);
	view_init(&vb, true);
	view_spread(&vb, AF_INET, VIP4, 80, IPPROTO_TCP, TCP_PORT, 0, 0);
	apply(&vb);
	assert_int_equal(dp_generation(T.dp), gen + 1);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), 5);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.hits[0], 5);
}

/* ---------- consistentHash.useSourceIp (Maglev) and outlier ejection ---------- */

struct maglev_view {
	struct node_view v;
	struct cv_service s;
	struct cv_backend *b;
	struct cv_pod p;
	uint32_t table[SKIFF_MAGLEV_SIZE]; /* entry -> backend index */
	uint32_t size;			   /* entries in use: maglev.tableSize */
};

static union skiff_addr v4addr(const char *ip)
{
	union skiff_addr a;

	memset(&a, 0, sizeof(a));
	inet_pton(AF_INET, ip, &a.v4);
	return a;
}

/* VIP4:80 as a Maglev port of mv->size entries over the backends in `use` (bit i: backend i),
 * built as the compiler builds it (user/compile/compile_maglev.c): endpoints in address order,
 * up_maglev_build. */
static void maglev_view(struct maglev_view *mv, unsigned int use)
{
	uint64_t keys[NBACKENDS];
	int idx[NBACKENDS], n = 0;
	uint32_t size = mv->size;

	memset(&mv->v, 0, sizeof(mv->v));
	memset(&mv->s, 0, sizeof(mv->s));
	memset(&mv->p, 0, sizeof(mv->p));
	for (int i = 0; i < NBACKENDS; i++) {
		struct up_addr a = {.addr = v4addr(backend_ip(AF_INET, i)),
				    .port = TCP_PORT,
				    .family = SKIFF_AF_INET};

		if (use & (1u << i)) {
			idx[n] = i;
			keys[n++] = up_endpoint_key(&a);
		}
	}
	assert_int_equal(up_maglev_build(keys, (size_t)n, size, mv->table), 0);
	mv->s.key.addr = v4addr(VIP4);
	mv->s.key.port = htons(80);
	mv->s.key.proto = IPPROTO_TCP;
	mv->s.key.family = SKIFF_AF_INET;
	mv->s.val = (struct skiff_svc){
	    .svc_id = 100, .count = size, .weight_total = size, .flags = SKIFF_SVC_F_MAGLEV};
	for (uint32_t e = 0; e < size; e++) {
		struct cv_backend *b = &mv->b[e];

		mv->table[e] = (uint32_t)idx[mv->table[e]];
		memset(b, 0, sizeof(*b));
		b->key = (struct skiff_backend_key){.svc_id = 100, .slot = e};
		b->val.addr = v4addr(backend_ip(AF_INET, (int)mv->table[e]));
		b->val.port = htons(TCP_PORT);
		b->val.family = SKIFF_AF_INET;
		b->val.weight_end = e + 1;
	}
	mv->p = (struct cv_pod){.cgroup_id = T.pod_id,
				.val = {.workload_id = 7, .flags = SKIFF_POD_F_ENROLLED}};
	mv->p.src.v4 = v4addr(POD_SRC);
	mv->p.src.has4 = 1;
	mv->v.services = &mv->s;
	mv->v.nservices = 1;
	mv->v.backends = mv->b;
	mv->v.nbackends = size;
	mv->v.pods = &mv->p;
	mv->v.npods = 1;
}

static struct maglev_view *maglev_sized(unsigned int use, uint32_t size)
{
	struct maglev_view *mv = calloc(1, sizeof(*mv));

	assert_non_null(mv);
	mv->size = size;
	mv->b = calloc(SKIFF_MAGLEV_SIZE, sizeof(*mv->b));
	assert_non_null(mv->b);
	maglev_view(mv, use);
	return mv;
}

static struct maglev_view *maglev_new(unsigned int use)
{
	return maglev_sized(use, SKIFF_MAGLEV_SIZE);
}

static void maglev_free(struct maglev_view *mv)
{
	free(mv->b);
	free(mv);
}

/* The backend the table gives client address `ip`: what BPF must pick. */
static int predicted(const struct maglev_view *mv, const char *ip)
{
	union skiff_addr a = v4addr(ip);

	return (int)mv->table[skiff_hash_addr(&a, SKIFF_AF_INET) % mv->size];
}

/* Every source reached its predicted backend on every connect; returns the run. */
static struct result sources_on(const struct maglev_view *mv)
{
	struct result r = pod_job(JOB_TCP_SOURCES, EP(AF_INET, VIP4, 80), 3);

	assert_int_equal(r.err, 0);
	assert_int_equal(r.done, 3 * NSOURCES);
	for (int s = 0; s < NSOURCES; s++) {
		char ip[32];

		source_ip(s, ip, sizeof(ip));
		if (r.src_be[s] != predicted(mv, ip))
			fail_msg("source %s reached backend %d, the table says %d", ip, r.src_be[s],
				 predicted(mv, ip));
	}
	return r;
}

static void test_maglev_source_sticky(void **state)
{
	struct maglev_view *all = maglev_new(7), *less = maglev_new(5);
	struct result before, after;
	int moved = 0, others = 0;
	struct result r;

	(void)state;
	assert_int_equal(dp_apply(T.dp, &all->v), 0);
	before = sources_on(all);
	for (int b = 0; b < NBACKENDS; b++)
		assert_true(before.hits[b] >= 3 * NSOURCES / NBACKENDS / 2);
	/* an unbound socket hashes its pod's address (skiff_pod_addr) */
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), 10);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.hits[predicted(all, POD_SRC)], 10);
	/* backend 1 leaves: its clients move, nearly everyone else stays */
	assert_int_equal(dp_apply(T.dp, &less->v), 0);
	after = sources_on(less);
	assert_int_equal(after.hits[1], 0);
	for (int s = 0; s < NSOURCES; s++) {
		if (before.src_be[s] == 1)
			continue;
		others++;
		moved += after.src_be[s] != before.src_be[s];
	}
	printf("# maglev: backend 1 leaves, %d of %d other clients moved\n", moved, others);
	assert_true(moved * 20 <= others);
	maglev_free(all);
	maglev_free(less);
}

static struct skiff_sock_origin backend_ep(int i)
{
	struct skiff_sock_origin ep;

	memset(&ep, 0, sizeof(ep));
	ep.addr = v4addr(backend_ip(AF_INET, i));
	ep.port = htons(TCP_PORT);
	ep.family = SKIFF_AF_INET;
	return ep;
}

static void test_eject_weighted(void **state)
{
	struct skiff_sock_origin b1 = backend_ep(1), b[NBACKENDS];
	struct skiff_svc_key key;
	struct view_buf vb;
	struct result r;

	(void)state;
	view_full(&vb);
	apply(&vb);
	key = vb.s[0].key;
	assert_int_equal(dp_backend_eject(T.dp, &key, &b1, true), 0);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), 60);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.hits[1], 0);
	assert_true(r.hits[0] > 0 && r.hits[2] > 0);
	/* a new config does not bring it back while the ejection lasts */
	view_full(&vb);
	apply(&vb);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), 60);
	assert_int_equal(r.hits[1], 0);
	/* the ejection ends: new connections reach it again (P(miss) = (2/3)^60) */
	assert_int_equal(dp_backend_eject(T.dp, &key, &b1, false), 0);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), 60);
	assert_int_equal(r.err, 0);
	assert_true(r.hits[1] > 0);
	/* everything out: refused, as Envoy answers 503 UH; one back: it takes everything */
	for (int i = 0; i < NBACKENDS; i++) {
		b[i] = backend_ep(i);
		assert_int_equal(dp_backend_eject(T.dp, &key, &b[i], true), 0);
	}
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), 1);
	assert_int_equal(r.err, -ECONNREFUSED);
	assert_int_equal(dp_backend_eject(T.dp, &key, &b[2], false), 0);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), 10);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.hits[2], 10);
	assert_int_equal(dp_backend_eject(T.dp, &key, &b[0], false), 0);
	assert_int_equal(dp_backend_eject(T.dp, &key, &b[1], false), 0);
	/* not a backend of the port */
	b1.port = htons(9999);
	assert_int_equal(dp_backend_eject(T.dp, &key, &b1, true), -ENOENT);
}

/* A 90/10 split whose v1 has two endpoints (45 each, group 0) and v2 one (group 1): ejecting a
 * v1 endpoint gives its share to the other v1 endpoint, not to v2; ejecting v2's only endpoint
 * refuses its 10 % (Envoy: 503 for a cluster with no healthy host); returns restore 45/45/10. */
static void split_view(struct view_buf *vb)
{
	struct ep b[NBACKENDS];
	__u32 id;

	view_init(vb, true);
	id = view_service(vb, EP(AF_INET, VIP4, 80), IPPROTO_TCP, 0);
	for (int i = 0; i < NBACKENDS; i++) {
		b[i] = EP(AF_INET, backend_ip(AF_INET, i), TCP_PORT);
		view_backend(vb, id, &b[i], i < 2 ? 9 : 2);
		vb->b[vb->v.nbackends - 1].val.group = i < 2 ? 0 : 1;
	}
}

static void assert_share(const struct result *r, int n, int i, double p)
{
	double bound = 3.29 * sqrt(n * p * (1 - p)) + 0.5;

	if (fabs(r->hits[i] - n * p) > bound)
		fail_msg("backend %d: %d of %d, want %.0f +- %.1f", i, r->hits[i], n, n * p, bound);
}

static void test_eject_keeps_route_weights(void **state)
{
	struct skiff_sock_origin b0 = backend_ep(0), b2 = backend_ep(2);
	const int n = 1000;
	struct view_buf vb;
	struct result r;

	(void)state;
	split_view(&vb);
	apply(&vb);
	assert_int_equal(dp_backend_eject(T.dp, &vb.s[0].key, &b0, true), 0);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), n);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.hits[0], 0);
	assert_share(&r, n, 1, 0.9);
	assert_share(&r, n, 2, 0.1);
	assert_int_equal(dp_backend_eject(T.dp, &vb.s[0].key, &b2, true), 0);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), 200); /* stops at the first refusal */
	assert_int_equal(r.err, -ECONNREFUSED);
	assert_int_equal(r.hits[0] + r.hits[2], 0);
	assert_int_equal(dp_backend_eject(T.dp, &vb.s[0].key, &b2, false), 0);
	assert_int_equal(dp_backend_eject(T.dp, &vb.s[0].key, &b0, false), 0);
	r = pod_job(JOB_TCP, EP(AF_INET, VIP4, 80), n);
	assert_int_equal(r.err, 0);
	assert_share(&r, n, 0, 0.45);
	assert_share(&r, n, 1, 0.45);
	assert_share(&r, n, 2, 0.1);
}

/* A Maglev port: the ejected backend's clients move as if it had left, and come back. */
static void test_eject_maglev(void **state)
{
	struct maglev_view *all = maglev_new(7), *without0 = maglev_new(6);
	struct skiff_sock_origin b0 = backend_ep(0);
	struct result r;

	(void)state;
	assert_int_equal(dp_apply(T.dp, &all->v), 0);
	sources_on(all);
	assert_int_equal(dp_backend_eject(T.dp, &all->s.key, &b0, true), 0);
	r = sources_on(without0);
	assert_int_equal(r.hits[0], 0);
	assert_int_equal(dp_backend_eject(T.dp, &all->s.key, &b0, false), 0);
	r = sources_on(all);
	assert_true(r.hits[0] > 0);
	maglev_free(all);
	maglev_free(without0);
}

/* maglev.tableSize 1021: BPF takes the entry modulo the port's count, and an ejection rebuilds
 * the table at the port's own size, so clients land where a 1021-entry table says throughout. */
static void test_eject_maglev_sized(void **state)
{
	struct maglev_view *all = maglev_sized(7, 1021), *without0 = maglev_sized(6, 1021);
	struct skiff_sock_origin b0 = backend_ep(0);
	struct result r;

	(void)state;
	assert_int_equal(dp_apply(T.dp, &all->v), 0);
	sources_on(all);
	assert_int_equal(dp_backend_eject(T.dp, &all->s.key, &b0, true), 0);
	r = sources_on(without0);
	assert_int_equal(r.hits[0], 0);
	assert_int_equal(dp_backend_eject(T.dp, &all->s.key, &b0, false), 0);
	sources_on(all);
	maglev_free(all);
	maglev_free(without0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tcp_rewrite),
	    cmocka_unit_test(test_weighted_split),
	    cmocka_unit_test(test_getpeername_shows_vip),
	    cmocka_unit_test(test_unenrolled_untouched),
	    cmocka_unit_test(test_non_service_untouched),
	    cmocka_unit_test(test_ipv6_vip),
	    cmocka_unit_test(test_udp_unconnected),
	    cmocka_unit_test(test_udp_connected),
	    cmocka_unit_test(test_no_backends_refused),
	    cmocka_unit_test(test_generation_swap),
	    cmocka_unit_test(test_unenroll_by_apply),
	    cmocka_unit_test(test_reopen_adopts),
	    cmocka_unit_test(test_maglev_source_sticky),
	    cmocka_unit_test(test_eject_weighted),
	    cmocka_unit_test(test_eject_keeps_route_weights),
	    cmocka_unit_test(test_eject_maglev),
	    cmocka_unit_test(test_eject_maglev_sized),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
