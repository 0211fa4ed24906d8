// SPDX-License-Identifier: Apache-2.0
/*
 * Same-node AuthorizationPolicy at connect() on the running kernel (include/skiff/policy.h):
 * the real programs attached at a private cgroup root, pods as cgroups, their addresses on the
 * lo of a private network namespace, clients in child processes that join a pod's cgroup and
 * then the namespace, as a pod's processes are placed.
 *
 *   bpffs     /sys/fs/bpf/skp-<pid>
 *   cgroups   /sys/fs/cgroup/unified/skp-<pid>/kubepods/pod{a,b,c}
 *             A (workload 1) and B (workload 2) are enrolled; C is not in the mesh
 *   netns     skp-<pid>: lo up with A 198.18.0.20 / 2001:db8::20, B 198.18.0.21 / 2001:db8::21,
 *             and the node's 198.18.0.1 / 2001:db8::1, where "skiffd" (this test) listens on
 *             15001 for punted connections; B listens on 8080 and 9090 and answers one byte
 *   service   198.19.0.1:80 -> B:8080 (a backend chosen before the verdict), or to skiffd with
 *             the VIP as destination when flagged SKIFF_SVC_F_L7
 *
 * The flow events the same programs write (include/skiff/events.h) are read from the pinned
 * ring as skiffd reads them: a denial with its policy's id, a punt, and an allowed connection's
 * opened and closed events with the bytes it carried.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernel/kernel_env.h"

#include <bpf/bpf.h>

#include "dataplane/dataplane.h"
#include <bpf/libbpf.h>

#include "skiff/events.h"
#include "skiff/policy.h"
#include "skiff/punt.h"

#define A4	  "198.18.0.20"
#define B4	  "198.18.0.21"
#define A6	  "2001:db8::20"
#define B6	  "2001:db8::21"
#define NODE4	  "198.18.0.1"
#define NODE6	  "2001:db8::1"
#define VIP4	  "198.19.0.1"
#define WL_A	  1
#define WL_B	  2
#define PUNT_PORT 15001
#define NSERVE	  4 /* B4:8080, B4:9090, B6:8080, B6:9090 */

/* ---------- topology ---------- */

struct topo {
	char netns[32];
	char bpffs[64];
	char cg_base[128];
	char cg_root[160];
	char cg_a[200], cg_b[200], cg_c[200];
	uint64_t id_a, id_b;
	int netns_fd, self_ns_fd;
	int srv_fds[NSERVE];
	int punt_fds[2]; /* skiffd's outbound listener, IPv4 and IPv6 */
	int stop[2];
	pthread_t srv;
	bool srv_running;
	int *accepted; /* connections B's servers accepted (shared with the server thread) */
	struct dataplane *dp;
};

static struct topo T = {.netns_fd = -1,
			.self_ns_fd = -1,
			.stop = {-1, -1},
			.srv_fds = {-1, -1, -1, -1},
			.punt_fds = {-1, -1}};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------- addresses ---------- */

static struct skiff_sock_origin endpoint(const char *ip, int port)
{
	struct sockaddr_storage ss;
	struct skiff_sock_origin ep;

	sa_make(ip, port, &ss);
	sa_endpoint(&ss, &ep);
	return ep;
}

/* ---------- B's servers: accept, answer one byte, close ---------- */

static int listen_on(const char *ip, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = sa_make(ip, port, &ss);
	int one = 1, fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64)) {
		fprintf(stderr, "test: cannot listen on %s:%d: %s\n", ip, port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void *server_main(void *arg)
{
	struct pollfd p[NSERVE + 1];

	(void)arg;
	for (int i = 0; i < NSERVE; i++)
		p[i] = (struct pollfd){.fd = T.srv_fds[i], .events = POLLIN};
	p[NSERVE] = (struct pollfd){.fd = T.stop[0], .events = POLLIN};
	for (;;) {
		if (poll(p, NSERVE + 1, -1) < 0 && errno != EINTR)
			return NULL;
		if (p[NSERVE].revents)
			return NULL;
		for (int i = 0; i < NSERVE; i++) {
			int c;

			if (!(p[i].revents & POLLIN))
				continue;
			c = accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			__atomic_add_fetch(T.accepted, 1, __ATOMIC_SEQ_CST);
			if (write(c, "b", 1) != 1)
				perror("test: server write");
			close(c);
		}
	}
}

/* In the test netns, where this process stays: the dataplane's route lookups (the guard's veth
 * search) then find the pods on its lo, never an interface of the machine. */
static int servers_open(void)
{
	static const char *ips[2] = {B4, B6};
	int n = 0;

	if (setns(T.netns_fd, CLONE_NEWNET))
		return -1;
	for (int i = 0; i < 2; i++) {
		T.srv_fds[n++] = listen_on(ips[i], 8080);
		T.srv_fds[n++] = listen_on(ips[i], 9090);
	}
	T.punt_fds[0] = listen_on(NODE4, PUNT_PORT);
	T.punt_fds[1] = listen_on(NODE6, PUNT_PORT);
	for (int i = 0; i < NSERVE; i++)
		if (T.srv_fds[i] < 0)
			return -1;
	return T.punt_fds[0] < 0 || T.punt_fds[1] < 0 ? -1 : 0;
}

/* ---------- node views ---------- */

struct view_buf {
	struct node_view v;
	struct cv_pod p[2];
	struct cv_pod_ip ip[4];
	struct cv_policy pol[16];
	struct cv_service s[1];
	struct cv_backend b[1];
};

static void ip_entry(struct cv_pod_ip *e, const char *ip, __u32 wl, __u32 flags)
{
	struct skiff_sock_origin ep = endpoint(ip, 0);

	memset(e, 0, sizeof(*e));
	e->key.addr = ep.addr;
	e->key.family = ep.family;
	e->val = (struct skiff_pod){.workload_id = wl, .flags = flags};
}

/* A and B enrolled with both addresses; B's flags are `b_flags`; VIP4:80 -> B4:8080. */
static void view_init(struct view_buf *vb, __u32 b_flags)
{
	__u32 bf = SKIFF_POD_F_ENROLLED | b_flags;
	struct skiff_sock_origin be = endpoint(B4, 8080), vip = endpoint(VIP4, 80);

	memset(vb, 0, sizeof(*vb));
	vb->p[0] = (struct cv_pod){.cgroup_id = T.id_a, .val = {WL_A, SKIFF_POD_F_ENROLLED}};
	vb->p[1] = (struct cv_pod){.cgroup_id = T.id_b, .val = {WL_B, bf}};
	ip_entry(&vb->ip[0], A4, WL_A, SKIFF_POD_F_ENROLLED);
	ip_entry(&vb->ip[1], A6, WL_A, SKIFF_POD_F_ENROLLED);
	ip_entry(&vb->ip[2], B4, WL_B, bf);
	ip_entry(&vb->ip[3], B6, WL_B, bf);
	vb->s[0].key = (struct skiff_svc_key){
	    .addr = vip.addr, .port = vip.port, .proto = IPPROTO_TCP, .family = SKIFF_AF_INET};
	vb->s[0].val = (struct skiff_svc){.svc_id = 1, .count = 1, .weight_total = 1};
	vb->b[0].key = (struct skiff_backend_key){.svc_id = 1, .slot = 0};
	vb->b[0].val = (struct skiff_backend){
	    .addr = be.addr, .port = be.port, .family = SKIFF_AF_INET, .weight_end = 1};
	vb->v = (struct node_view){.pods = vb->p,
				   .npods = 2,
				   .pod_ips = vb->ip,
				   .npod_ips = 4,
				   .policy = vb->pol,
				   .services = vb->s,
				   .nservices = 1,
				   .backends = vb->b,
				   .nbackends = 1};
}

/* A verdict for A -> B on `port` (0: ports no rule names), for `family` (0: both). */
static void view_verdict(struct view_buf *vb, int port, int family, bool allow)
{
	for (int f = SKIFF_AF_INET; f <= SKIFF_AF_INET6; f += 2) {
		struct cv_policy *e = &vb->pol[vb->v.npolicy];

		if (family && family != f)
			continue;
		assert_true(vb->v.npolicy < 16);
		memset(e, 0, sizeof(*e));
		e->key = (struct skiff_policy_key){
		    .src_workload = WL_A, .dst_workload = WL_B, .port = htons(port), .family = f};
		e->val.verdict = allow ? SKIFF_POLICY_ALLOW : SKIFF_POLICY_DENY;
		vb->v.npolicy++;
	}
}

static void apply(const struct view_buf *vb)
{
	assert_int_equal(dp_apply(T.dp, &vb->v), 0);
}

static void punt(bool on)
{
	struct skiff_punt_cfg c = {.port = htons(PUNT_PORT), .flags = on ? SKIFF_PUNT_F_ON : 0};

	inet_pton(AF_INET, NODE4, &c.addr4);
	inet_pton(AF_INET6, NODE6, c.addr6);
	assert_int_equal(dp_punt_configure(T.dp, &c), 0);
}

/* ---------- clients: one connect from a pod's cgroup and netns, in a child process ---------- */

struct result {
	int err;			     /* connect(): 0 or negative errno; then the answer */
	double secs;			     /* how long connect() took */
	char answer;			     /* the byte B answered, 0 when none was read */
	struct sockaddr_storage local, peer; /* getsockname(), getpeername() */
};

/* The address clients bind before connect(), or NULL: the kernel picks one (on this lo, the
 * destination's own address, which makes the client look like B to sockops). */
static const char *client_bind;

static void client_child(const char *cg, const char *ip, int port, bool read_answer,
			 struct result *r)
{
	struct timeval tv = {.tv_sec = 2};
	struct sockaddr_storage ss;
	socklen_t len = sa_make(ip, port, &ss), sl = sizeof(r->local), pl = sizeof(r->peer);
	char procs[300];
	double t0;
	int fd;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	if (write_file(procs, "0") || setns(T.netns_fd, CLONE_NEWNET))
		_exit(1);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (client_bind) {
		struct sockaddr_storage src;
		socklen_t sl = sa_make(client_bind, 0, &src);

		if (bind(fd, (struct sockaddr *)&src, sl))
			_exit(1);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	t0 = now_s();
	r->err = connect(fd, (struct sockaddr *)&ss, len) ? -errno : 0;
	r->secs = now_s() - t0;
	if (!r->err) {
		getsockname(fd, (struct sockaddr *)&r->local, &sl);
		getpeername(fd, (struct sockaddr *)&r->peer, &pl);
		if (read_answer && read(fd, &r->answer, 1) != 1)
			r->err = errno ? -errno : -EPIPE;
	}
	close(fd);
	_exit(0);
}

static struct result connect_from(const char *cg, const char *ip, int port, bool read_answer)
{
	struct result *r =
	    mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct result out;
	int status = 0;
	pid_t pid;

	assert_true(r != MAP_FAILED);
	memset(r, 0, sizeof(*r));
	r->err = -ECHILD;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		client_child(cg, ip, port, read_answer, r);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	out = *r;
	munmap(r, sizeof(*r));
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return out;
}

static int accepted(void)
{
	return __atomic_load_n(T.accepted, __ATOMIC_SEQ_CST);
}

/* A connects to ip:port and gets B's answer. */
static void assert_allowed(const char *ip, int port)
{
	struct result r = connect_from(T.cg_a, ip, port, true);

	if (r.err)
		fail_msg("A -> %s port %d: %s, want it allowed", ip, port, strerror(-r.err));
	assert_int_equal(r.answer, 'b');
}

/* A's connect to ip:port fails with EPERM at once, and nothing reaches B. */
static void assert_denied(const char *ip, int port)
{
	int before = accepted();
	struct result r = connect_from(T.cg_a, ip, port, false);

	if (r.err != -EPERM)
		fail_msg("A -> %s port %d: %s, want EPERM", ip, port,
			 r.err ? strerror(-r.err) : "connected");
	if (r.secs > 0.1)
		fail_msg("A -> %s port %d: refused after %.3f s, want at once", ip, port, r.secs);
	usleep(20000);
	assert_int_equal(accepted(), before);
}

/* Flow events read back from the ring (the cases at the end). */
#define EV_MAX 256

static struct {
	struct skiff_event ev[EV_MAX];
	size_t n;
	struct ring_buffer *rb;
} E;

/* ---------- setup and teardown ---------- */

static int netns_up(void)
{
	static const char *v4[] = {A4, B4, NODE4}, *v6[] = {A6, B6, NODE6};
	char path[64];

	if (sh("ip netns add %s", T.netns) || sh("ip -n %s link set lo up", T.netns))
		return -1;
	for (int i = 0; i < 3; i++)
		if (sh("ip -n %s addr add %s/32 dev lo", T.netns, v4[i]) ||
		    sh("ip -n %s addr add %s/128 dev lo nodad", T.netns, v6[i]))
			return -1;
	snprintf(path, sizeof(path), "/run/netns/%s", T.netns);
	T.netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	T.self_ns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	return T.netns_fd >= 0 && T.self_ns_fd >= 0 ? 0 : -1;
}

static int cgroups_up(void)
{
	if (mkcg(T.cg_base, NULL) || mkcg(T.cg_root, NULL) || mkcg(T.cg_a, &T.id_a) ||
	    mkcg(T.cg_b, &T.id_b) || mkcg(T.cg_c, NULL)) {
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
	ring_buffer__free(E.rb);
	E.rb = NULL;
	if (T.srv_running) {
		if (write(T.stop[1], "x", 1) != 1)
			perror("test: stop server");
		pthread_join(T.srv, NULL);
	}
	for (int i = 0; i < NSERVE; i++)
		if (T.srv_fds[i] >= 0)
			close(T.srv_fds[i]);
	for (int i = 0; i < 2; i++)
		if (T.punt_fds[i] >= 0)
			close(T.punt_fds[i]);
	dp_close(T.dp, true);
	T.dp = NULL;
	if (T.self_ns_fd >= 0)
		setns(T.self_ns_fd, CLONE_NEWNET);
	nftw(T.bpffs, rm_pin, 8, FTW_DEPTH | FTW_PHYS); /* whatever a failed open left */
	rmcg_kill(T.cg_a);
	rmcg_kill(T.cg_b);
	rmcg_kill(T.cg_c);
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
	if (T.accepted)
		munmap(T.accepted, sizeof(*T.accepted));
	return 0;
}

static int setup(void **state)
{
	int pid = getpid();

	snprintf(T.netns, sizeof(T.netns), "skp-%d", pid);
	snprintf(T.bpffs, sizeof(T.bpffs), "/sys/fs/bpf/skp-%d", pid);
	snprintf(T.cg_base, sizeof(T.cg_base), "/sys/fs/cgroup/unified/skp-%d", pid);
	snprintf(T.cg_root, sizeof(T.cg_root), "%s/kubepods", T.cg_base);
	snprintf(T.cg_a, sizeof(T.cg_a), "%s/poda", T.cg_root);
	snprintf(T.cg_b, sizeof(T.cg_b), "%s/podb", T.cg_root);
	snprintf(T.cg_c, sizeof(T.cg_c), "%s/podc", T.cg_root);
	if (geteuid() != 0) {
		fprintf(stderr, "test_sock_policy: needs root (BPF, cgroups, netns)\n");
		return -1;
	}
	T.accepted = mmap(NULL, sizeof(*T.accepted), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (T.accepted == MAP_FAILED) {
		T.accepted = NULL;
		return -1;
	}
	*T.accepted = 0;
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

static void test_allowed(void **state)
{
	struct view_buf vb;

	(void)state;
	view_init(&vb, SKIFF_POD_F_AUTHZ);
	view_verdict(&vb, 0, 0, true);
	apply(&vb);
	assert_allowed(B4, 8080);
	assert_allowed(B6, 9090);
}

static void test_denied_at_once(void **state)
{
	struct view_buf vb;

	(void)state;
	view_init(&vb, SKIFF_POD_F_AUTHZ);
	view_verdict(&vb, 0, 0, false);
	apply(&vb);
	assert_denied(B4, 8080);
	assert_denied(B6, 8080);
	/* the verdict is for the backend the load balancer chose, not the VIP dialled */
	assert_denied(VIP4, 80);
}

/* A port's own entry wins over port 0, in both directions. */
static void test_port_entry_over_port0(void **state)
{
	struct view_buf vb;

	(void)state;
	view_init(&vb, SKIFF_POD_F_AUTHZ);
	view_verdict(&vb, 8080, 0, true);
	view_verdict(&vb, 0, 0, false);
	apply(&vb);
	assert_allowed(B4, 8080);
	assert_allowed(B6, 8080);
	assert_allowed(VIP4, 80);
	assert_denied(B4, 9090);
	assert_denied(B6, 9090);

	view_init(&vb, SKIFF_POD_F_AUTHZ);
	view_verdict(&vb, 8080, 0, false);
	view_verdict(&vb, 0, 0, true);
	apply(&vb);
	assert_denied(B4, 8080);
	assert_denied(B6, 8080);
	assert_allowed(B4, 9090);
	assert_allowed(B6, 9090);
}

/* Fail closed: a checked destination without an entry for this source, port or family. */
static void test_missing_entry_denied(void **state)
{
	struct view_buf vb;

	(void)state;
	view_init(&vb, SKIFF_POD_F_AUTHZ);
	apply(&vb);
	assert_denied(B4, 8080);
	assert_denied(B6, 9090);

	view_init(&vb, SKIFF_POD_F_AUTHZ);
	view_verdict(&vb, 0, SKIFF_AF_INET, true); /* IPv4 only */
	view_verdict(&vb, 9090, SKIFF_AF_INET6, true);
	apply(&vb);
	assert_allowed(B4, 8080);
	assert_denied(B6, 8080);
	assert_allowed(B6, 9090);
}

/* Only SKIFF_POD_F_AUTHZ destinations are checked; unenrolled sources are the guard's. */
static void test_unchecked(void **state)
{
	struct view_buf vb;
	struct result r;

	(void)state;
	view_init(&vb, 0);
	view_verdict(&vb, 0, 0, false);
	apply(&vb);
	assert_allowed(B4, 8080);
	assert_allowed(B6, 8080);

	view_init(&vb, SKIFF_POD_F_AUTHZ);
	apply(&vb);
	r = connect_from(T.cg_c, B4, 8080, true);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.answer, 'b');
}

/* A connection waiting on `lfd`, or -1 when none comes within `ms`. */
static int accept_within(int lfd, int ms)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};

	if (poll(&p, 1, ms) != 1)
		return -1;
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

/* skiffd accepts a punted connection and finds where it was going. */
static void check_punted(const char *ip, int port, int listener)
{
	struct skiff_sock_origin want = endpoint(ip, port), got, peer, local;
	struct result r = connect_from(T.cg_a, ip, port, false);
	struct skiff_punt_key k;
	int fd;

	if (r.err)
		fail_msg("A -> %s port %d (L7): %s, want it punted", ip, port, strerror(-r.err));
	/* the client sees what it dialled; the connection is skiffd's */
	sa_endpoint(&r.peer, &peer);
	assert_memory_equal(&peer, &want, sizeof(want));
	fd = accept_within(T.punt_fds[listener], 1000);
	if (fd < 0)
		fail_msg("A -> %s port %d (L7): nothing reached skiffd's listener", ip, port);
	close(fd);
	sa_endpoint(&r.local, &local);
	memset(&k, 0, sizeof(k));
	k.addr = local.addr;
	k.port = local.port;
	k.family = local.family;
	assert_int_equal(dp_punt_orig_take(T.dp, &k, &got), 0);
	assert_memory_equal(&got, &want, sizeof(want));
}

static void test_l7_punted(void **state)
{
	struct view_buf vb;
	int before = accepted();

	(void)state;
	view_init(&vb, SKIFF_POD_F_L7);
	view_verdict(&vb, 0, 0, false); /* an L7 destination is skiffd's to decide */
	apply(&vb);
	punt(true);
	check_punted(B4, 8080, 0);
	check_punted(B6, 9090, 1);
	punt(false);
	assert_int_equal(accepted(), before);
}

/* Never fail open: with no listener to punt to, L7 destinations are refused. */
static void test_l7_without_punting_refused(void **state)
{
	struct view_buf vb;

	(void)state;
	view_init(&vb, SKIFF_POD_F_L7);
	view_verdict(&vb, 0, 0, true);
	apply(&vb);
	punt(false);
	assert_denied(B4, 8080);
	assert_denied(B6, 8080);
	assert_denied(VIP4, 80);
}

/*
 * A service port with HTTP rules (SKIFF_SVC_F_L7): the connection goes to skiffd's listener with
 * the VIP itself as its destination (the router picks an endpoint per request), B sees nothing,
 * and the client's getpeername shows the VIP.
 */
static void test_l7_service_punted_with_vip(void **state)
{
	struct view_buf vb;
	int before = accepted();

	(void)state;
	view_init(&vb, 0);
	vb.s[0].val.flags = SKIFF_SVC_F_L7;
	apply(&vb);
	punt(true);
	check_punted(VIP4, 80, 0);
	punt(false);
	usleep(20000);
	assert_int_equal(accepted(), before);
}

/* Without the flag the same service stays in the kernel even with punting on; with the flag and
 * punting off, the kernel's weighted pick carries the connection instead of refusing it. */
static void test_l7_service_kernel_paths(void **state)
{
	struct view_buf vb;

	(void)state;
	view_init(&vb, 0);
	apply(&vb);
	punt(true);
	assert_allowed(VIP4, 80);
	punt(false);
	vb.s[0].val.flags = SKIFF_SVC_F_L7;
	apply(&vb);
	assert_allowed(VIP4, 80);
}

/* The verdicts follow the view: a policy that goes away leaves no entry and no check behind. */
static void test_policy_removed(void **state)
{
	struct view_buf vb;
	struct skiff_policy_key next;
	char path[128];
	int fd;

	(void)state;
	view_init(&vb, SKIFF_POD_F_AUTHZ);
	view_verdict(&vb, 0, 0, false);
	apply(&vb);
	assert_denied(B4, 8080);
	view_init(&vb, 0);
	apply(&vb);
	assert_allowed(B4, 8080);
	snprintf(path, sizeof(path), "%s/%s", T.bpffs, SKIFF_MAP_POLICY);
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	assert_true(bpf_map_get_next_key(fd, NULL, &next) < 0 && errno == ENOENT); /* empty */
	close(fd);
}

/* ---------- flow events ---------- */

static int ev_collect(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size >= sizeof(struct skiff_event) && E.n < EV_MAX)
		memcpy(&E.ev[E.n++], data, sizeof(struct skiff_event));
	return 0;
}

/* Forget what the ring holds: the next events are this case's. */
static void ev_reset(void)
{
	if (!E.rb)
		E.rb = ring_buffer__new(dp_events_fd(T.dp), ev_collect, NULL, NULL);
	assert_non_null(E.rb);
	ring_buffer__consume(E.rb);
	E.n = 0;
}

/* The first event of `kind` to `dst`, waiting up to a second for it. */
static const struct skiff_event *ev_find(__u8 kind, const struct skiff_sock_origin *dst, __u8 flags)
{
	for (int tries = 0; tries < 100; tries++) {
		ring_buffer__consume(E.rb);
		for (size_t i = 0; i < E.n; i++) {
			const struct skiff_event *e = &E.ev[i];

			if (e->kind == kind && e->family == dst->family && e->dport == dst->port &&
			    !memcmp(&e->daddr, &dst->addr, sizeof(dst->addr)) &&
			    (e->flags & flags) == flags)
				return e;
		}
		usleep(10000);
	}
	fail_msg("no event of kind %u to port %u", kind, ntohs(dst->port));
	return NULL;
}

/* A refused connect writes DENIED with the deciding policy's id and both workloads. */
static void test_events_denied(void **state)
{
	struct skiff_sock_origin b = endpoint(B4, 8080);
	const struct skiff_event *e;
	struct view_buf vb;

	(void)state;
	view_init(&vb, SKIFF_POD_F_AUTHZ);
	view_verdict(&vb, 0, 0, false);
	for (size_t i = 0; i < vb.v.npolicy; i++)
		vb.pol[i].val.policy_id = 7;
	apply(&vb);
	ev_reset();
	assert_denied(B4, 8080);
	e = ev_find(SKIFF_EV_DENIED, &b, 0);
	assert_int_equal(e->reason, SKIFF_EV_DENY_POLICY);
	assert_int_equal(e->policy_id, 7);
	assert_int_equal(e->src_workload, WL_A);
	assert_int_equal(e->dst_workload, WL_B);
	assert_int_equal(e->cgroup_id, T.id_a);
	assert_int_equal(e->sport, 0); /* connect() has not bound a port yet */

	view_init(&vb, SKIFF_POD_F_L7); /* HTTP rules with punting off: refused, said why */
	apply(&vb);
	punt(false);
	ev_reset();
	assert_denied(B4, 8080);
	e = ev_find(SKIFF_EV_DENIED, &b, 0);
	assert_int_equal(e->reason, SKIFF_EV_DENY_L7);
	assert_int_equal(e->policy_id, 0);
}

/* A connect sent to skiffd writes PUNTED with where it was going. */
static void test_events_punted(void **state)
{
	struct skiff_sock_origin b = endpoint(B4, 8080);
	const struct skiff_event *e;
	struct view_buf vb;

	(void)state;
	view_init(&vb, SKIFF_POD_F_L7);
	apply(&vb);
	punt(true);
	ev_reset();
	check_punted(B4, 8080, 0);
	e = ev_find(SKIFF_EV_PUNTED, &b, 0);
	assert_int_equal(e->src_workload, WL_A);
	assert_int_equal(e->dst_workload, WL_B);
	assert_int_equal(e->cgroup_id, T.id_a);
	punt(false);
}

/* B as a pod runs it: a process in B's cgroup (so sockops sees its end too) that accepts one
 * connection on B4:`port`, answers one byte and closes. Returns its pid once it listens. */
static pid_t pod_b_server(int port)
{
	int ready[2], fd, c;
	char x;
	pid_t pid;

	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char procs[300];

		snprintf(procs, sizeof(procs), "%s/cgroup.procs", T.cg_b);
		if (write_file(procs, "0") || setns(T.netns_fd, CLONE_NEWNET))
			_exit(1);
		fd = listen_on(B4, port);
		if (fd < 0 || write(ready[1], "r", 1) != 1)
			_exit(1);
		c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0 || write(c, "b", 1) != 1)
			_exit(1);
		close(c);
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &x, 1), 1);
	close(ready[0]);
	return pid;
}

/* An allowed connection between two pods: OPENED by its client with the 4-tuple, then CLOSED
 * parts that add up to what it carried (B answers one byte; A sends none), one the primary. */
static void test_events_opened_closed(void **state)
{
	struct skiff_sock_origin b = endpoint(B4, 9191), a;
	const struct skiff_event *e, *primary;
	__u64 sent = 0, received = 0;
	struct view_buf vb;
	struct result r;
	int status;
	pid_t srv;

	(void)state;
	view_init(&vb, SKIFF_POD_F_AUTHZ);
	view_verdict(&vb, 0, 0, true);
	apply(&vb);
	ev_reset();
	srv = pod_b_server(9191);
	client_bind = A4; /* A's own address, as in a pod */
	r = connect_from(T.cg_a, B4, 9191, true);
	client_bind = NULL;
	assert_int_equal(waitpid(srv, &status, 0), srv);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.answer, 'b');
	sa_endpoint(&r.local, &a);
	e = ev_find(SKIFF_EV_OPENED, &b, 0);
	assert_memory_equal(&e->saddr, &a.addr, sizeof(a.addr));
	assert_int_equal(e->sport, a.port);
	assert_int_equal(e->src_workload, WL_A);
	assert_int_equal(e->dst_workload, WL_B);
	primary = ev_find(SKIFF_EV_CLOSED, &b, SKIFF_EV_F_PRIMARY);
	assert_int_equal(primary->sport, a.port);
	assert_true(primary->duration_ns > 0);
	if (primary->flags & SKIFF_EV_F_PARTNER)
		usleep(100000); /* the server end's part */
	ring_buffer__consume(E.rb);
	for (size_t i = 0; i < E.n; i++) {
		if (E.ev[i].kind != SKIFF_EV_CLOSED || E.ev[i].sport != a.port)
			continue;
		sent += E.ev[i].bytes_sent;
		received += E.ev[i].bytes_received;
		printf("#   closed part: flags %#x, sent %llu, received %llu\n", E.ev[i].flags,
		       (unsigned long long)E.ev[i].bytes_sent,
		       (unsigned long long)E.ev[i].bytes_received);
	}
	assert_int_equal(sent, 1);
	assert_int_equal(received, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_allowed),
	    cmocka_unit_test(test_denied_at_once),
	    cmocka_unit_test(test_port_entry_over_port0),
	    cmocka_unit_test(test_missing_entry_denied),
	    cmocka_unit_test(test_unchecked),
	    cmocka_unit_test(test_l7_punted),
	    cmocka_unit_test(test_l7_without_punting_refused),
	    cmocka_unit_test(test_l7_service_punted_with_vip),
	    cmocka_unit_test(test_l7_service_kernel_paths),
	    cmocka_unit_test(test_policy_removed),
	    cmocka_unit_test(test_events_denied),
	    cmocka_unit_test(test_events_punted),
	    cmocka_unit_test(test_events_opened_closed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
