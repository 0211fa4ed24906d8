// SPDX-License-Identifier: Apache-2.0
/*
 * The same-node accelerator on the running kernel: the real dataplane (sock_lb + sock_accel)
 * attached at a private cgroup root, a private network namespace whose lo carries three pod
 * addresses, and sockets created by this process while it sits in a pod's cgroup (a socket
 * belongs to the cgroup of the task that created it), so every case runs in one process with
 * threads for the two ends.
 *
 *   bpffs       /sys/fs/bpf/skta-<pid>
 *   cgroups     /sys/fs/cgroup/unified/skta-<pid>/kubepods/pod{a,b,c}
 *   netns       skta-<pid>: lo up with
 *               pod A 198.18.0.20, 2001:db8::20   enrolled, workload 1
 *               pod B 198.18.0.21, 2001:db8::21   enrolled, workload 2
 *               pod C 198.18.0.22                 not in the mesh
 *
 * "Redirected" is proven twice: both sockets are in the sockhash under their own 4-tuple (the
 * value a userspace lookup returns is the socket's cookie), and the namespace's TCP OutSegs
 * counter hardly moves while megabytes flow.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernel/kernel_env.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dataplane.h"
#include "flows/flows.h"
#include "skiff/accel.h"
#include "skiff/lb.h"

#define POD_A4 "198.18.0.20"
#define POD_B4 "198.18.0.21"
#define POD_C4 "198.18.0.22"
#define POD_A6 "2001:db8::20"
#define POD_B6 "2001:db8::21"
#define VIP4   "10.96.0.10" /* a service of view_ab_vip: no route needed, connect4 rewrites it */
#define WL_A   1
#define WL_B   2

#define PAT_LEN 1048573 /* prime: chunk sizes never line the pattern up with itself */

struct topo {
	char netns[32];
	char bpffs[64];
	char cg_base[128];
	char cg_root[160];
	char cg_a[200], cg_b[200], cg_c[200];
	char cg_home[512]; /* where this process was, to go back before removing the cgroups */
	uint64_t id_a, id_b, id_c;
	int netns_fd, self_ns_fd;
	int sockhash_fd, stats_fd, addr_fd, sk_state_fd, join_fd;
	unsigned char *pat;
	struct dataplane *dp;
};

static struct topo T = {.netns_fd = -1,
			.self_ns_fd = -1,
			.sockhash_fd = -1,
			.stats_fd = -1,
			.addr_fd = -1,
			.sk_state_fd = -1,
			.join_fd = -1};

/* ---------- small helpers ---------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------- sockets ---------- */

struct pair {
	int cli, srv;
};

/* A connection from pod cgroup `ccg` at `cip` to a listener of pod cgroup `scg` at `sip`. */
static struct pair pair_open(int family, const char *ccg, const char *cip, const char *scg,
			     const char *sip)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct pair p;
	int one = 1, lfd;

	cg_enter(scg);
	lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(lfd, (struct sockaddr *)&ss, sa_make(sip, 0, &ss)), 0);
	assert_int_equal(listen(lfd, 16), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);

	cg_enter(ccg);
	p.cli = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(p.cli >= 0);
	{
		struct sockaddr_storage cs;

		assert_int_equal(bind(p.cli, (struct sockaddr *)&cs, sa_make(cip, 0, &cs)), 0);
	}
	assert_int_equal(connect(p.cli, (struct sockaddr *)&ss, len), 0);
	p.srv = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(p.srv >= 0);
	close(lfd);
	cg_enter(T.cg_home);
	return p;
}

static void pair_close(struct pair *p)
{
	close(p->cli);
	close(p->srv);
}

/* ---------- maps ---------- */

static void key_of(int fd, struct skiff_sock_key *k)
{
	struct sockaddr_storage l, r;
	socklen_t ll = sizeof(l), rl = sizeof(r);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&l, &ll), 0);
	assert_int_equal(getpeername(fd, (struct sockaddr *)&r, &rl), 0);
	memset(k, 0, sizeof(*k));
	if (l.ss_family == AF_INET) {
		k->family = SKIFF_AF_INET;
		k->local.v4 = ((struct sockaddr_in *)&l)->sin_addr.s_addr;
		k->remote.v4 = ((struct sockaddr_in *)&r)->sin_addr.s_addr;
		k->local_port = ntohs(((struct sockaddr_in *)&l)->sin_port);
		k->remote_port = ntohs(((struct sockaddr_in *)&r)->sin_port);
	} else {
		k->family = SKIFF_AF_INET6;
		memcpy(&k->local, &((struct sockaddr_in6 *)&l)->sin6_addr, 16);
		memcpy(&k->remote, &((struct sockaddr_in6 *)&r)->sin6_addr, 16);
		k->local_port = ntohs(((struct sockaddr_in6 *)&l)->sin6_port);
		k->remote_port = ntohs(((struct sockaddr_in6 *)&r)->sin6_port);
	}
}

/* skiff_sk_addr's entry of socket `fd` (with its own cookie): 0 when absent, else its kaddr. */
static __u64 sk_addr_of(int fd)
{
	struct skiff_sock_ref ref = {};
	struct skiff_sock_key k;
	__u64 mine = 0;
	socklen_t len = sizeof(mine);

	key_of(fd, &k);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_COOKIE, &mine, &len), 0);
	return !bpf_map_lookup_elem(T.addr_fd, &k, &ref) && ref.cookie == mine ? ref.kaddr : 0;
}

static bool in_sk_addr(int fd)
{
	return sk_addr_of(fd) != 0;
}

/* Whether socket `fd` is in the sockhash under its own 4-tuple (the value is its cookie), and
 * in its BTF twin skiff_sk_addr with the same cookie: both or neither (a socket that leaves
 * goes from the sockhash a moment before the twin). */
static bool in_sockhash(int fd)
{
	struct skiff_sock_ref ref = {};
	struct skiff_sock_key k;
	__u64 cookie = 0, mine = 0;
	socklen_t len = sizeof(mine);
	bool in_hash, in_twin;

	key_of(fd, &k);
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_COOKIE, &mine, &len), 0);
	in_hash = !bpf_map_lookup_elem(T.sockhash_fd, &k, &cookie) && cookie == mine;
	in_twin = !bpf_map_lookup_elem(T.addr_fd, &k, &ref) && ref.cookie == mine && ref.kaddr;
	if (in_twin && !in_hash)
		fail_msg("a socket in skiff_sk_addr is not in the sockhash");
	return in_hash;
}

/* Entries of a map keyed by struct skiff_sock_key (the sockhash, the socket addresses). */
static int key_count(int map_fd)
{
	struct skiff_sock_key cur, next;
	bool first = true;
	int n = 0;

	while (!bpf_map_get_next_key(map_fd, first ? NULL : &cur, &next)) {
		n++;
		cur = next;
		first = false;
	}
	return n;
}

static int sockhash_count(void)
{
	return key_count(T.sockhash_fd);
}

/* Entries go when the sockets close (the server side may close a moment after the client):
 * both the sockhash's and skiff_sk_addr's. Returns what is left of both. */
static int sockhash_settle(void)
{
	int n = sockhash_count() + key_count(T.addr_fd);

	for (int i = 0; n && i < 100; i++) {
		usleep(10000);
		n = sockhash_count() + key_count(T.addr_fd);
	}
	return n;
}

/* skiff_l4_stats[src, dst] summed over CPUs; zeros when absent. */
static struct skiff_l4_stats l4_read(__u32 src, __u32 dst)
{
	struct skiff_l4_key k = {.src_workload = src, .dst_workload = dst};
	int ncpu = libbpf_num_possible_cpus();
	struct skiff_l4_stats sum = {0}, *v = calloc(ncpu, sizeof(*v));

	assert_non_null(v);
	if (!bpf_map_lookup_elem(T.stats_fd, &k, v)) {
		for (int i = 0; i < ncpu; i++) {
			sum.conns_opened += v[i].conns_opened;
			sum.conns_closed += v[i].conns_closed;
			sum.bytes_received += v[i].bytes_received;
			sum.bytes_sent += v[i].bytes_sent;
			sum.duration_ns += v[i].duration_ns;
			sum.tcp_fallbacks += v[i].tcp_fallbacks;
		}
	}
	free(v);
	return sum;
}

/* TCP segments sent in the test namespace (this process is in it). */
static long tcp_outsegs(void)
{
	char hdr[1024], val[1024];
	FILE *f = fopen("/proc/self/net/snmp", "re");
	long out = -1;

	assert_non_null(f);
	while (fgets(hdr, sizeof(hdr), f)) {
		if (strncmp(hdr, "Tcp:", 4) || !fgets(val, sizeof(val), f))
			continue;
		char *hs, *vs, *h = strtok_r(hdr, " \n", &hs), *v = strtok_r(val, " \n", &vs);

		for (; h && v; h = strtok_r(NULL, " \n", &hs), v = strtok_r(NULL, " \n", &vs))
			if (!strcmp(h, "OutSegs"))
				out = atol(v);
		break;
	}
	fclose(f);
	return out;
}

/* ---------- data: a position-keyed pattern, so loss, duplication and reordering all show ---------- */

enum xfer_how { XF_WRITE, XF_SENDFILE, XF_SPLICE };

struct xfer {
	int fd;
	size_t len, chunk;
	enum xfer_how how;
	bool shut_wr; /* shutdown(SHUT_WR) when done */
	int err;
	size_t done;
	pthread_t th;
};

static void pat_copy(unsigned char *dst, size_t off, size_t n)
{
	while (n) {
		size_t at = off % PAT_LEN, k = PAT_LEN - at < n ? PAT_LEN - at : n;

		memcpy(dst, T.pat + at, k);
		dst += k;
		off += k;
		n -= k;
	}
}

static bool pat_equal(const unsigned char *src, size_t off, size_t n)
{
	while (n) {
		size_t at = off % PAT_LEN, k = PAT_LEN - at < n ? PAT_LEN - at : n;

		if (memcmp(src, T.pat + at, k))
			return false;
		src += k;
		off += k;
		n -= k;
	}
	return true;
}

static int send_write(struct xfer *x)
{
	unsigned char *buf = malloc(x->chunk);

	if (!buf)
		return -ENOMEM;
	while (x->done < x->len) {
		size_t n = x->len - x->done < x->chunk ? x->len - x->done : x->chunk;
		ssize_t w;

		pat_copy(buf, x->done, n);
		w = write(x->fd, buf, n);
		if (w <= 0) {
			free(buf);
			return w < 0 ? -errno : -EIO;
		}
		x->done += w;
		/* a short write leaves the rest of this chunk for the next round */
	}
	free(buf);
	return 0;
}

/* The pattern in a memfd, from which sendfile() reads. */
static int pat_file(size_t len)
{
	unsigned char *buf = malloc(1 << 20);
	int fd = memfd_create("skta", MFD_CLOEXEC);

	assert_true(fd >= 0 && buf);
	for (size_t off = 0; off < len; off += 1 << 20) {
		size_t n = len - off < (1u << 20) ? len - off : 1 << 20;

		pat_copy(buf, off, n);
		assert_int_equal(pwrite(fd, buf, n, off), (ssize_t)n);
	}
	free(buf);
	return fd;
}

static int send_sendfile(struct xfer *x)
{
	int fd = pat_file(x->len);
	off_t off = 0;

	while (x->done < x->len) {
		ssize_t w = sendfile(x->fd, fd, &off, x->len - x->done);

		if (w <= 0) {
			close(fd);
			return w < 0 ? -errno : -EIO;
		}
		x->done += w;
	}
	close(fd);
	return 0;
}

/* vmsplice the pattern into a pipe, splice the pipe into the socket. */
static int send_splice(struct xfer *x)
{
	unsigned char *buf = malloc(x->chunk);
	int p[2], err = 0;

	if (!buf || pipe2(p, O_CLOEXEC)) {
		free(buf);
		return -ENOMEM;
	}
	while (!err && x->done < x->len) {
		size_t n = x->len - x->done < x->chunk ? x->len - x->done : x->chunk;
		ssize_t in, out;

		pat_copy(buf, x->done, n);
		in = write(p[1], buf, n);
		if (in <= 0) {
			err = -errno;
			break;
		}
		for (ssize_t left = in; left > 0; left -= out) {
			out = splice(p[0], NULL, x->fd, NULL, left, SPLICE_F_MOVE);
			if (out <= 0) {
				err = out < 0 ? -errno : -EIO;
				break;
			}
			x->done += out;
		}
	}
	close(p[0]);
	close(p[1]);
	free(buf);
	return err;
}

static void *xfer_main(void *arg)
{
	struct xfer *x = arg;

	x->err = x->how == XF_SENDFILE ? send_sendfile(x)
		 : x->how == XF_SPLICE ? send_splice(x)
				       : send_write(x);
	if (x->shut_wr)
		shutdown(x->fd, SHUT_WR);
	return NULL;
}

/* Send pattern bytes [from, len) of the pattern on `fd` from a thread. */
static void xfer_start_from(struct xfer *x, int fd, size_t from, size_t len, size_t chunk,
			    enum xfer_how how)
{
	memset(x, 0, sizeof(*x));
	x->fd = fd;
	x->done = from;
	x->len = len;
	x->chunk = chunk;
	x->how = how;
	x->shut_wr = true;
	assert_int_equal(pthread_create(&x->th, NULL, xfer_main, x), 0);
}

static void xfer_start(struct xfer *x, int fd, size_t len, size_t chunk, enum xfer_how how)
{
	xfer_start_from(x, fd, 0, len, chunk, how);
}

static void xfer_join(struct xfer *x)
{
	pthread_join(x->th, NULL);
	assert_int_equal(x->err, 0);
	assert_int_equal(x->done, x->len);
}

/*
 * A blocking read() of a socket in a sockhash can return EAGAIN: tcp_bpf_recvmsg() answers
 * EAGAIN when its wait ends without data (a wakeup for another reason), on 6.1 and 6.18 alike.
 * The readers here retry and count it; main() prints the count, as it is visible to applications.
 */
static int spurious_eagain;

/* Read until EOF, checking every byte against the pattern; returns the byte count. */
static size_t recv_check(int fd, size_t chunk)
{
	unsigned char *buf = malloc(chunk);
	size_t got = 0;
	ssize_t n;

	assert_non_null(buf);
	for (;;) {
		n = read(fd, buf, chunk);
		if (n < 0 && errno == EAGAIN && spurious_eagain < 1000) {
			spurious_eagain++; /* see the comment at spurious_eagain */
			continue;
		}
		if (n <= 0)
			break;
		if (!pat_equal(buf, got, n))
			fail_msg("data differs in the %zd bytes at offset %zu", n, got);
		got += n;
	}
	free(buf);
	if (n < 0)
		fail_msg("read after %zu bytes: %s", got, strerror(errno));
	return got;
}

static void timeouts(int fd, int sec)
{
	struct timeval tv = {.tv_sec = sec};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* ---------- setup and teardown ---------- */

struct view_buf {
	struct node_view v;
	struct cv_pod p[2];
	struct cv_pod_ip ip[4];
	struct cv_service s[1];
	struct cv_backend b[1];
};

static void ip_entry(struct cv_pod_ip *e, int family, const char *ip, __u32 wl)
{
	memset(e, 0, sizeof(*e));
	e->key.family = family == AF_INET ? SKIFF_AF_INET : SKIFF_AF_INET6;
	inet_pton(family, ip, &e->key.addr);
	e->val.workload_id = wl;
	e->val.flags = SKIFF_POD_F_ENROLLED;
}

/* Pods A and B enrolled with both their addresses; C is not in the mesh. */
static void view_ab(struct view_buf *vb)
{
	memset(vb, 0, sizeof(*vb));
	vb->p[0] = (struct cv_pod){.cgroup_id = T.id_a, .val = {WL_A, SKIFF_POD_F_ENROLLED}};
	vb->p[1] = (struct cv_pod){.cgroup_id = T.id_b, .val = {WL_B, SKIFF_POD_F_ENROLLED}};
	ip_entry(&vb->ip[0], AF_INET, POD_A4, WL_A);
	ip_entry(&vb->ip[1], AF_INET6, POD_A6, WL_A);
	ip_entry(&vb->ip[2], AF_INET, POD_B4, WL_B);
	ip_entry(&vb->ip[3], AF_INET6, POD_B6, WL_B);
	vb->v.pods = vb->p;
	vb->v.npods = 2;
	vb->v.pod_ips = vb->ip;
	vb->v.npod_ips = 4;
}

/* view_ab and the service VIP4:80/TCP, whose one backend is pod B's `port`. */
static void view_ab_vip(struct view_buf *vb, int port)
{
	view_ab(vb);
	vb->s[0].key.family = SKIFF_AF_INET;
	inet_pton(AF_INET, VIP4, &vb->s[0].key.addr);
	vb->s[0].key.port = htons(80);
	vb->s[0].key.proto = IPPROTO_TCP;
	vb->s[0].val = (struct skiff_svc){.svc_id = 100, .count = 1, .weight_total = 1};
	vb->b[0].key = (struct skiff_backend_key){.svc_id = 100, .slot = 0};
	vb->b[0].val.family = SKIFF_AF_INET;
	inet_pton(AF_INET, POD_B4, &vb->b[0].val.addr);
	vb->b[0].val.port = htons(port);
	vb->b[0].val.weight_end = 1;
	vb->v.services = vb->s;
	vb->v.nservices = 1;
	vb->v.backends = vb->b;
	vb->v.nbackends = 1;
}

static int netns_up(void)
{
	char path[64];

	if (sh("ip netns add %s", T.netns) || sh("ip -n %s link set lo up", T.netns) ||
	    sh("ip -n %s addr add %s/32 dev lo", T.netns, POD_A4) ||
	    sh("ip -n %s addr add %s/32 dev lo", T.netns, POD_B4) ||
	    sh("ip -n %s addr add %s/32 dev lo", T.netns, POD_C4) ||
	    sh("ip -n %s addr add %s/128 dev lo nodad", T.netns, POD_A6) ||
	    sh("ip -n %s addr add %s/128 dev lo nodad", T.netns, POD_B6))
		return -1;
	snprintf(path, sizeof(path), "/run/netns/%s", T.netns);
	T.netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	T.self_ns_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (T.netns_fd < 0 || T.self_ns_fd < 0)
		return -1;
	return setns(T.netns_fd, CLONE_NEWNET);
}

static int cgroups_up(void)
{
	if (cg_home(T.cg_home, sizeof(T.cg_home)) || mkcg(T.cg_base, NULL) ||
	    mkcg(T.cg_root, NULL) || mkcg(T.cg_a, &T.id_a) || mkcg(T.cg_b, &T.id_b) ||
	    mkcg(T.cg_c, &T.id_c)) {
		fprintf(stderr, "test: cannot create cgroups under %s: %s\n", T.cg_base,
			strerror(errno));
		return -1;
	}
	return 0;
}

static int open_pin(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", T.bpffs, name);
	return bpf_obj_get(path);
}

/* `join_all`: skiffd --accel-join=always (every same-node pair joins, no history kept). */
static int dp_up(bool no_accel, bool join_all)
{
	struct dp_opts o = {.bpffs_dir = T.bpffs,
			    .cgroup_root = T.cg_root,
			    .no_accel = no_accel,
			    .accel_join_all = join_all};
	struct view_buf vb;

	if (dp_open(&o, &T.dp))
		return -1;
	view_ab(&vb);
	return dp_apply(T.dp, &vb.v) ? -1 : 0;
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
	if (T.cg_home[0]) {
		char procs[600];

		snprintf(procs, sizeof(procs), "%s/cgroup.procs", T.cg_home);
		write_file(procs, "0");
	}
	if (T.self_ns_fd >= 0)
		setns(T.self_ns_fd, CLONE_NEWNET);
	if (T.sockhash_fd >= 0)
		close(T.sockhash_fd);
	if (T.stats_fd >= 0)
		close(T.stats_fd);
	if (T.addr_fd >= 0)
		close(T.addr_fd);
	if (T.sk_state_fd >= 0)
		close(T.sk_state_fd);
	if (T.join_fd >= 0)
		close(T.join_fd);
	dp_close(T.dp, true);
	T.dp = NULL;
	nftw(T.bpffs, rm_pin, 8, FTW_DEPTH | FTW_PHYS);
	rmcg(T.cg_a);
	rmcg(T.cg_b);
	rmcg(T.cg_c);
	rmcg(T.cg_root);
	rmcg(T.cg_base);
	if (T.netns_fd >= 0)
		close(T.netns_fd);
	if (T.self_ns_fd >= 0)
		close(T.self_ns_fd);
	sh("ip netns del %s 2>/dev/null", T.netns);
	free(T.pat);
	return 0;
}

static int setup(void **state)
{
	int pid = getpid();
	uint64_t s = 0x9e3779b97f4a7c15ull;

	snprintf(T.netns, sizeof(T.netns), "skta-%d", pid);
	snprintf(T.bpffs, sizeof(T.bpffs), "/sys/fs/bpf/skta-%d", pid);
	snprintf(T.cg_base, sizeof(T.cg_base), "/sys/fs/cgroup/unified/skta-%d", pid);
	snprintf(T.cg_root, sizeof(T.cg_root), "%s/kubepods", T.cg_base);
	snprintf(T.cg_a, sizeof(T.cg_a), "%s/poda", T.cg_root);
	snprintf(T.cg_b, sizeof(T.cg_b), "%s/podb", T.cg_root);
	snprintf(T.cg_c, sizeof(T.cg_c), "%s/podc", T.cg_root);
	if (geteuid() != 0) {
		fprintf(stderr, "test_sock_accel: needs root (BPF, cgroups, netns)\n");
		return -1;
	}
	T.pat = malloc(PAT_LEN);
	if (!T.pat)
		return -1;
	for (size_t i = 0; i < PAT_LEN; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		T.pat[i] = (unsigned char)s;
	}
	if (cgroups_up() || netns_up() || dp_up(false, false))
		goto out_fail;
	T.sockhash_fd = open_pin(SKIFF_MAP_SOCKHASH);
	T.stats_fd = open_pin(SKIFF_MAP_L4_STATS);
	T.addr_fd = open_pin(SKIFF_MAP_SK_ADDR);
	T.sk_state_fd = open_pin(SKIFF_MAP_SK_STATE);
	T.join_fd = open_pin(SKIFF_MAP_JOIN_HIST);
	if (T.sockhash_fd < 0 || T.stats_fd < 0 || T.addr_fd < 0 || T.sk_state_fd < 0 ||
	    T.join_fd < 0)
		goto out_fail;
	return 0;

out_fail:
	teardown(state);
	return -1;
}

/* ---------- cases ---------- */

/* Both ends enrolled: both sockets in the sockhash, bytes move without TCP segments. */
static void test_redirect_both_enrolled(void **state)
{
	const size_t len = 32 << 20;
	struct pair p = pair_open(AF_INET, T.cg_a, POD_A4, T.cg_b, POD_B4);
	struct xfer x;
	long segs;

	(void)state;
	assert_true(in_sockhash(p.cli));
	assert_true(in_sockhash(p.srv));
	segs = tcp_outsegs();
	xfer_start(&x, p.cli, len, 64 << 10, XF_WRITE);
	assert_int_equal(recv_check(p.srv, 64 << 10), len);
	xfer_join(&x);
	segs = tcp_outsegs() - segs;
	printf("# 32 MiB redirected with %ld TCP segments (FIN and its ACK)\n", segs);
	/* over TCP, 32 MiB is at least 512 segments of 64 KiB on lo */
	assert_true(segs < 16);
	pair_close(&p);
	assert_int_equal(sockhash_settle(), 0);
}

static void test_ipv6_redirect(void **state)
{
	struct pair p = pair_open(AF_INET6, T.cg_a, POD_A6, T.cg_b, POD_B6);
	struct xfer x;

	(void)state;
	assert_true(in_sockhash(p.cli));
	assert_true(in_sockhash(p.srv));
	xfer_start(&x, p.srv, 1 << 20, 4096, XF_WRITE);
	assert_int_equal(recv_check(p.cli, 8192), 1 << 20);
	xfer_join(&x);
	pair_close(&p);
	assert_int_equal(sockhash_settle(), 0);
}

/* 256 MiB each way at once, every byte checked against the pattern at its offset. */
static void test_large_transfer(void **state)
{
	const size_t len = 256 << 20;
	struct pair p = pair_open(AF_INET, T.cg_a, POD_A4, T.cg_b, POD_B4);
	struct xfer up, down;
	double t = now_s();

	(void)state;
	assert_true(in_sockhash(p.cli));
	xfer_start(&up, p.cli, len, 128 << 10, XF_WRITE);
	xfer_start(&down, p.srv, len / 4, 16 << 10, XF_WRITE);
	assert_int_equal(recv_check(p.srv, 256 << 10), len);
	assert_int_equal(recv_check(p.cli, 256 << 10), len / 4);
	xfer_join(&up);
	xfer_join(&down);
	printf("# 256 MiB + 64 MiB checked in %.2f s\n", now_s() - t);
	pair_close(&p);
}

/* The client stops sending; the server reads the rest, then answers, then closes. */
static void test_half_close(void **state)
{
	struct pair p = pair_open(AF_INET, T.cg_a, POD_A4, T.cg_b, POD_B4);
	struct xfer x;
	char c;

	(void)state;
	timeouts(p.cli, 5);
	timeouts(p.srv, 5);
	xfer_start(&x, p.cli, 3 << 20, 100000, XF_WRITE); /* ends with shutdown(SHUT_WR) */
	assert_int_equal(recv_check(p.srv, 65536), 3 << 20);
	xfer_join(&x);
	/* the client's write side is closed; its read side and the socket are still fine */
	assert_true(in_sockhash(p.srv));
	xfer_start(&x, p.srv, 1 << 20, 65536, XF_WRITE);
	assert_int_equal(recv_check(p.cli, 4096), 1 << 20);
	xfer_join(&x);
	assert_int_equal(read(p.srv, &c, 1), 0); /* EOF stays EOF */
	pair_close(&p);
}

/* One write() far larger than both socket buffers. */
static void test_message_larger_than_buffers(void **state)
{
	const size_t len = 16 << 20;
	int small = 16384;
	struct pair p = pair_open(AF_INET, T.cg_a, POD_A4, T.cg_b, POD_B4);
	struct xfer x;

	(void)state;
	setsockopt(p.cli, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(p.srv, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	xfer_start(&x, p.cli, len, len, XF_WRITE);
	assert_int_equal(recv_check(p.srv, 1 << 20), len);
	xfer_join(&x);
	pair_close(&p);
}

static void test_msg_peek(void **state)
{
	struct pair p = pair_open(AF_INET, T.cg_a, POD_A4, T.cg_b, POD_B4);
	char buf[16] = {0};

	(void)state;
	timeouts(p.srv, 5);
	assert_true(in_sockhash(p.srv));
	assert_int_equal(write(p.cli, "abcdef", 6), 6);
	assert_int_equal(recv(p.srv, buf, 3, MSG_PEEK), 3);
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(recv(p.srv, buf, 3, MSG_PEEK), 3); /* peeking twice sees the same */
	assert_memory_equal(buf, "abc", 3);
	assert_int_equal(recv(p.srv, buf, sizeof(buf), 0), 6);
	assert_memory_equal(buf, "abcdef", 6);
	pair_close(&p);
}

/*
 * MSG_PEEK while the peer keeps writing (redirected messages landing between the peeks): each
 * peek shows the next unread bytes of the pattern, a second peek the same ones again, and the
 * read after it exactly what was peeked; nothing is lost, repeated or reordered to EOF.
 */
static void test_msg_peek_while_writing(void **state)
{
	struct pair p = pair_open(AF_INET, T.cg_a, POD_A4, T.cg_b, POD_B4);
	const size_t len = 8 << 20;
	unsigned char *peek = malloc(65536), *again = malloc(65536), *rd = malloc(65536);
	size_t got = 0, peeks = 0;
	ssize_t n, m;
	struct xfer x;

	(void)state;
	assert_true(peek && again && rd);
	timeouts(p.srv, 10);
	assert_true(in_sockhash(p.srv));
	xfer_start(&x, p.cli, len, 1000, XF_WRITE); /* small writes: many messages to peek across */
	for (;;) {
		/* sizes that never line up with the writer's 1000-byte messages */
		size_t want = 1 + (peeks * 7919) % 65535;

		n = recv(p.srv, peek, want, MSG_PEEK);

		if (n < 0 && errno == EAGAIN && spurious_eagain < 1000) {
			spurious_eagain++; /* see the comment at spurious_eagain */
			continue;
		}
		if (n <= 0)
			break;
		peeks++;
		if (!pat_equal(peek, got, n))
			fail_msg("peek %zu: the %zd bytes at offset %zu differ", peeks, n, got);
		/* a second peek starts at the same byte; the writer may have added more behind */
		m = recv(p.srv, again, n, MSG_PEEK);
		assert_true(m > 0 && m <= n);
		assert_memory_equal(again, peek, m);
		/* consume at most what was peeked: the read returns those same bytes */
		m = recv(p.srv, rd, (size_t)n, 0);
		assert_true(m > 0 && m <= n);
		assert_memory_equal(rd, peek, m);
		got += m;
	}
	if (n < 0)
		fail_msg("recv after %zu bytes: %s", got, strerror(errno));
	xfer_join(&x);
	assert_int_equal(got, len);
	assert_true(peeks > 100);
	free(peek);
	free(again);
	free(rd);
	pair_close(&p);
}

/*
 * The reader stops: the writer is redirected up to the cap, then falls back to TCP, whose window
 * stops it (EAGAIN) a few buffers later. A blocking writer then sleeps instead of spinning. The
 * reader resumes and gets every byte in order: the redirected ones first, then TCP's.
 */
static void test_backpressure(void **state)
{
	const size_t cap = (size_t)dp_accel_queue_cap(), limit = cap + (32 << 20), more = 4 << 20;
	struct skiff_l4_stats b0 = l4_read(WL_A, WL_B), b1;
	struct pair p = pair_open(AF_INET, T.cg_a, POD_A4, T.cg_b, POD_B4);
	unsigned char *buf = malloc(65536);
	struct skiff_sock_state st = {};
	size_t sent = 0;
	bool stopped = false;
	double cpu;
	struct xfer x;

	(void)state;
	assert_non_null(buf);
	assert_true(in_sockhash(p.cli));
	fcntl(p.cli, F_SETFL, O_NONBLOCK);
	while (sent < limit) {
		ssize_t w;

		pat_copy(buf, sent, 65536);
		w = write(p.cli, buf, 65536);
		if (w < 0 && errno == EAGAIN) {
			stopped = true;
			break;
		}
		assert_true(w > 0);
		sent += w;
	}
	free(buf);
	/* the writer's per-socket state: an sk_storage map is looked up by the socket's fd */
	assert_int_equal(bpf_map_lookup_elem(T.sk_state_fd, &p.cli, &st), 0);
	printf("# writer stopped after %zu KiB unread: %llu KiB redirected (cap %zu KiB), the rest "
	       "over TCP\n",
	       sent >> 10, (unsigned long long)st.redirected >> 10, cap >> 10);
	assert_true(stopped);
	assert_true(st.flags & SKIFF_SOCK_F_TCP);
	assert_true(st.redirected <= cap &&
		    st.redirected + (1 << 20) > cap); /* the cap, not chance */

	/* a blocking writer on top: it must sleep, never spin */
	fcntl(p.cli, F_SETFL, 0);
	cpu = cpu_s();
	xfer_start_from(&x, p.cli, sent, sent + more, 65536, XF_WRITE);
	usleep(300000);
	cpu = cpu_s() - cpu;
	printf("# writer used %.1f ms of CPU in 300 ms while the reader was away\n", cpu * 1e3);
	assert_true(cpu < 0.1);
	assert_int_equal(recv_check(p.srv, 65536), sent + more);
	xfer_join(&x);
	pair_close(&p);
	assert_int_equal(sockhash_settle(), 0);
	/* the fall-back is counted for operators, once, for the socket that fell back */
	b1 = l4_read(WL_A, WL_B);
	assert_int_equal(b1.tcp_fallbacks - b0.tcp_fallbacks, 1);
}

/* Wait up to `ms` for both sockets of `p` to be out of the sockhash and skiff_sk_addr. */
static bool pair_left(const struct pair *p, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (!in_sockhash(p->cli) && !in_sockhash(p->srv) && !in_sk_addr(p->cli) &&
		    !in_sk_addr(p->srv))
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * A pair that fell back leaves the fast path, both ends: the reader stops, the writer falls back
 * at the cap and is marked in skiff_sk_addr at once (nothing more is redirected to it), the reader
 * keeps its sockhash entry while redirected bytes wait in its queue. The reader writes too (over
 * TCP: its peer takes no redirects any more), then reads every byte in order while the writer
 * sends 16 MiB more and half-closes. Both sockets are out of the sockhash before they close, the
 * reader never redirected a byte, and the reader's answer after the half-close arrives whole.
 */
static void test_fallback_leaves(void **state)
{
	const size_t cap = (size_t)dp_accel_queue_cap(), limit = cap + (32 << 20), more = 16 << 20;
	const size_t early = 65536, back = 4 << 20;
	struct skiff_l4_stats b0 = l4_read(WL_A, WL_B), b1;
	struct pair p = pair_open(AF_INET, T.cg_a, POD_A4, T.cg_b, POD_B4);
	unsigned char *buf = malloc(65536);
	struct skiff_sock_state cst = {}, sst = {};
	size_t sent = 0;
	struct xfer x, y;
	__u64 mark;

	(void)state;
	assert_non_null(buf);
	timeouts(p.cli, 20);
	timeouts(p.srv, 20);
	assert_true(in_sockhash(p.cli) && in_sockhash(p.srv));
	fcntl(p.cli, F_SETFL, O_NONBLOCK);
	while (sent < limit) {
		ssize_t w;

		pat_copy(buf, sent, 65536);
		w = write(p.cli, buf, 65536);
		if (w < 0 && errno == EAGAIN)
			break;
		assert_true(w > 0);
		sent += w;
	}
	assert_true(sent < limit);
	fcntl(p.cli, F_SETFL, 0);
	assert_int_equal(bpf_map_lookup_elem(T.sk_state_fd, &p.cli, &cst), 0);
	assert_true(cst.flags & SKIFF_SOCK_F_TCP);
	/* marked at once, so its peer's next message goes over TCP; or already out, its own queue
	 * being empty at the ACKs of its first TCP bytes */
	mark = sk_addr_of(p.cli);
	if (mark ? !(mark & SKIFF_SOCK_REF_TCP) : in_sockhash(p.cli))
		fail_msg("the writer fell back but still takes redirects (%#llx)",
			 (unsigned long long)mark);
	/* the reader's redirected bytes are still queued: it must keep its psock */
	assert_true(in_sockhash(p.srv));

	/* the reader answers before it reads: over TCP, whole, and after the half-close too */
	pat_copy(buf, 0, early);
	assert_int_equal(write(p.srv, buf, early), (ssize_t)early);
	xfer_start_from(&x, p.cli, sent, sent + more, 65536, XF_WRITE);
	assert_int_equal(recv_check(p.srv, 65536), sent + more);
	xfer_join(&x);
	free(buf);
	if (!pair_left(&p, 3000))
		fail_msg("after the fall-back: writer in sockhash %d, reader in sockhash %d",
			 in_sockhash(p.cli), in_sockhash(p.srv));
	printf(
	    "# fell back after %zu KiB redirected; both ends left the sockhash, %zu MiB in order\n",
	    (size_t)(cst.redirected >> 10), (sent + more) >> 20);
	/* (read before the reader's FIN: a socket's state goes when it closes) */
	assert_int_equal(bpf_map_lookup_elem(T.sk_state_fd, &p.srv, &sst), 0);
	assert_int_equal(sst.redirected, 0);
	assert_true(sst.flags & SKIFF_SOCK_F_ACCEL);
	assert_int_equal(bpf_map_lookup_elem(T.sk_state_fd, &p.cli, &cst), 0);
	assert_true(cst.redirected <= cap);
	xfer_start_from(&y, p.srv, early, back, 65536, XF_WRITE);
	assert_int_equal(recv_check(p.cli, 65536), back);
	xfer_join(&y);
	pair_close(&p);
	assert_int_equal(sockhash_settle(), 0);
	b1 = l4_read(WL_A, WL_B);
	assert_int_equal(b1.tcp_fallbacks - b0.tcp_fallbacks, 1);
	/* every byte counted once: the writer's both ways (its peer reports its own), the reader's */
	assert_int_equal(b1.bytes_received - b0.bytes_received, sent + more);
	assert_int_equal(b1.bytes_sent - b0.bytes_sent, back);
}

/* Pod C is not in the mesh: no socket of its connection enters the sockhash; it still works. */
static void test_unenrolled_not_redirected(void **state)
{
	struct pair p = pair_open(AF_INET, T.cg_c, POD_C4, T.cg_b, POD_B4);
	struct xfer x;

	(void)state;
	assert_false(in_sockhash(p.cli));
	assert_false(in_sockhash(p.srv));
	assert_int_equal(sockhash_count(), 0);
	xfer_start(&x, p.cli, 4 << 20, 65536, XF_WRITE);
	assert_int_equal(recv_check(p.srv, 65536), 4 << 20);
	xfer_join(&x);
	pair_close(&p);
}

/*
 * Zero-length writes on redirected sockets, both ways and by every call that can make one
 * (send, write, sendmsg with no iovec and with an empty one): each returns 0, nothing arrives (in
 * particular no end of stream), and the bytes after them arrive in order. The sockets stay in
 * the sockhash.
 */
static void test_zero_length_writes(void **state)
{
	struct pair p = pair_open(AF_INET, T.cg_a, POD_A4, T.cg_b, POD_B4);
	struct iovec iov = {.iov_base = "x", .iov_len = 0};
	char buf[16];

	(void)state;
	timeouts(p.cli, 5);
	timeouts(p.srv, 5);
	assert_true(in_sockhash(p.cli));
	assert_true(in_sockhash(p.srv));
	for (int d = 0; d < 2; d++) {
		int w = d ? p.srv : p.cli, r = d ? p.cli : p.srv;
		struct msghdr none = {0}, empty = {.msg_iov = &iov, .msg_iovlen = 1};

		assert_int_equal(send(w, "", 0, MSG_NOSIGNAL), 0);
		assert_int_equal(write(w, "", 0), 0);
		assert_int_equal(sendmsg(w, &none, MSG_NOSIGNAL), 0);
		assert_int_equal(sendmsg(w, &empty, MSG_NOSIGNAL), 0);
		assert_int_equal(recv(r, buf, sizeof(buf), MSG_DONTWAIT), -1);
		assert_int_equal(errno, EAGAIN);
		assert_int_equal(send(w, "abc", 3, MSG_NOSIGNAL), 3);
		assert_int_equal(send(w, "", 0, MSG_NOSIGNAL), 0);
		assert_int_equal(send(w, "de", 2, MSG_NOSIGNAL), 2);
		assert_int_equal(recv(r, buf, 3, MSG_WAITALL), 3);
		assert_int_equal(recv(r, buf + 3, 2, MSG_WAITALL), 2);
		assert_memory_equal(buf, "abcde", 5);
	}
	assert_true(in_sockhash(p.cli));
	assert_true(in_sockhash(p.srv));
	pair_close(&p);
	assert_int_equal(sockhash_settle(), 0);
}

/*
 * The reader closes while the writer is redirecting into it, with unread bytes queued (the
 * kernel then resets), and once more with SO_LINGER 0: the writer's next writes fail with EPIPE
 * or ECONNRESET within seconds instead of hanging or redirecting into a closed socket, its reads
 * see the end, and no sockhash entry is left once it closes too.
 */
static void test_peer_closes_mid_redirect(void **state)
{
	static unsigned char chunk[65536];
	struct linger rst = {.l_onoff = 1, .l_linger = 0};

	(void)state;
	for (int hard = 0; hard < 2; hard++) {
		struct pair p = pair_open(AF_INET, T.cg_a, POD_A4, T.cg_b, POD_B4);
		struct pollfd pfd = {.fd = p.cli, .events = POLLOUT};
		ssize_t n = 0;
		int i;

		assert_true(in_sockhash(p.cli));
		assert_int_equal(fcntl(p.cli, F_SETFL, O_NONBLOCK), 0);
		for (i = 0; i < 64 && send(p.cli, chunk, sizeof(chunk), MSG_NOSIGNAL) > 0; i++)
			;
		assert_true(recv(p.srv, chunk, 4096, 0) > 0); /* some read, more left unread */
		if (hard)
			setsockopt(p.srv, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
		close(p.srv);
		for (i = 0; i < 1000; i++) {
			if (poll(&pfd, 1, 5000) != 1)
				fail_msg("the writer hangs after its peer closed");
			n = send(p.cli, chunk, sizeof(chunk), MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN)
				break;
		}
		assert_true(n < 0);
		if (errno != EPIPE && errno != ECONNRESET)
			fail_msg("the writer failed with %s, not EPIPE or ECONNRESET",
				 strerror(errno));
		n = recv(p.cli, chunk, sizeof(chunk), 0);
		assert_true(n <= 0);
		close(p.cli);
		assert_int_equal(sockhash_settle(), 0);
	}
}

/* One UDP exchange between a socket of pod cgroup `ccg` at `cip` and one of `scg` at `sip`, by
 * connect() + send() and by sendto(): every address each side sees (getpeername, recvfrom) is
 * the other's own: nothing rewrites datagrams between pods that are not service addresses. */
static void udp_untouched(int family, const char *ccg, const char *cip, const char *scg,
			  const char *sip)
{
	struct sockaddr_storage sa, ca, from, peer;
	struct skiff_sock_origin want, got;
	socklen_t slen = sizeof(sa), clen = sizeof(ca), flen, plen = sizeof(peer);
	char buf[8];
	int s, c;

	cg_enter(scg);
	s = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sa_make(sip, 0, &sa)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &slen), 0);
	cg_enter(ccg);
	c = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(c, (struct sockaddr *)&ca, sa_make(cip, 0, &ca)), 0);
	assert_int_equal(getsockname(c, (struct sockaddr *)&ca, &clen), 0);
	cg_enter(T.cg_home);
	timeouts(s, 5);
	timeouts(c, 5);

	assert_int_equal(sendto(c, "to", 2, 0, (struct sockaddr *)&sa, slen), 2);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, slen), 0);
	assert_int_equal(getpeername(c, (struct sockaddr *)&peer, &plen), 0);
	sa_endpoint(&sa, &want);
	sa_endpoint(&peer, &got);
	assert_memory_equal(&got, &want, sizeof(got));
	assert_int_equal(send(c, "cn", 2, 0), 2);
	sa_endpoint(&ca, &want);
	for (int i = 0; i < 2; i++) {
		flen = sizeof(from);
		assert_int_equal(recvfrom(s, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen),
				 2);
		assert_memory_equal(buf, i ? "cn" : "to", 2);
		sa_endpoint(&from, &got);
		assert_memory_equal(&got, &want, sizeof(got));
	}
	assert_int_equal(sendto(s, "bk", 2, 0, (struct sockaddr *)&ca, clen), 2);
	flen = sizeof(from);
	assert_int_equal(recvfrom(c, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen), 2);
	sa_endpoint(&sa, &want);
	sa_endpoint(&from, &got);
	assert_memory_equal(&got, &want, sizeof(got));
	close(s);
	close(c);
}

/*
 * What the socket programs must pass untouched, from an enrolled pod's cgroup with every program
 * attached: UDP over IPv4 and IPv6 between pods (connect, sendmsg, recvmsg and getpeername
 * hooks), unix stream and datagram sockets; none of them joins the sockhash.
 */
static void test_other_families_untouched(void **state)
{
	char buf[8];
	int sp[2];

	(void)state;
	assert_int_equal(sockhash_count(), 0);
	udp_untouched(AF_INET, T.cg_a, POD_A4, T.cg_b, POD_B4);
	udp_untouched(AF_INET6, T.cg_a, POD_A6, T.cg_b, POD_B6);
	for (int type = 0; type < 2; type++) {
		cg_enter(T.cg_a);
		assert_int_equal(
		    socketpair(AF_UNIX, (type ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0, sp),
		    0);
		cg_enter(T.cg_home);
		assert_int_equal(write(sp[0], "unix", 4), 4);
		assert_int_equal(read(sp[1], buf, sizeof(buf)), 4);
		assert_memory_equal(buf, "unix", 4);
		assert_int_equal(write(sp[1], "", 0), 0);
		assert_int_equal(write(sp[1], "back", 4), 4);
		assert_int_equal(read(sp[0], buf, sizeof(buf)),
				 type ? 0 : 4); /* a dgram may be empty */
		close(sp[0]);
		close(sp[1]);
	}
	assert_int_equal(sockhash_count(), 0);
}

static void test_sendfile_and_splice(void **state)
{
	const size_t len = 24 << 20;
	struct pair p = pair_open(AF_INET, T.cg_a, POD_A4, T.cg_b, POD_B4);
	struct xfer x;

	(void)state;
	assert_true(in_sockhash(p.cli));
	assert_true(in_sockhash(p.srv));
	xfer_start(&x, p.cli, len, 0, XF_SENDFILE);
	assert_int_equal(recv_check(p.srv, 65536), len);
	xfer_join(&x);
	xfer_start(&x, p.srv, len, 65536, XF_SPLICE);
	assert_int_equal(recv_check(p.cli, 65536), len);
	xfer_join(&x);
	pair_close(&p);
}

/* ---------- which connections join (bpf/lib/accel_join.h) ---------- */

/* A listener of pod B at POD_B4 on a port of its own (so a history of its own); its address in
 * `ss`/`len`. */
static int listen_b(struct sockaddr_storage *ss, socklen_t *len)
{
	int one = 1, lfd;

	*len = sizeof(*ss);
	cg_enter(T.cg_b);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(lfd, (struct sockaddr *)ss, sa_make(POD_B4, 0, ss)), 0);
	assert_int_equal(listen(lfd, 64), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)ss, len), 0);
	return lfd;
}

/* Does socket `fd` have the accelerator's per-socket state (set at established, until close)? */
static bool has_sk_state(int fd)
{
	struct skiff_sock_state st;

	return !bpf_map_lookup_elem(T.sk_state_fd, &fd, &st) && st.start_ns;
}

enum conn_seen { CONN_TCP, CONN_JOINED }; /* both ends out of the sockhash, or both in */

/*
 * One connection from pod A to the listener: `rounds` requests of 64 bytes, each answered, every
 * byte checked (`seed` numbers the pattern), then the client closes first. Returns whether both
 * ends joined; fails on a pair that is half in. A server end that stayed on TCP keeps no state.
 */
static enum conn_seen conn_rounds(int lfd, const struct sockaddr_storage *ss, socklen_t len,
				  int rounds, size_t seed)
{
	struct sockaddr_storage cs;
	int one = 1, c, s;
	bool cin, sin;

	cg_enter(T.cg_a);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	/* the port is picked at connect(): bind(ip, 0) scans every port in TIME_WAIT */
	setsockopt(c, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	assert_int_equal(bind(c, (struct sockaddr *)&cs, sa_make(POD_A4, 0, &cs)), 0);
	assert_int_equal(connect(c, (const struct sockaddr *)ss, len), 0);
	s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(s >= 0);
	cin = in_sockhash(c);
	sin = in_sockhash(s);
	assert_int_equal(cin, sin);
	assert_true(has_sk_state(c));
	assert_int_equal(has_sk_state(s), sin);
	for (int r = 0; r < rounds; r++) {
		char q[64], a[64];

		pat_copy((unsigned char *)q, seed + r, sizeof(q));
		assert_int_equal(write(c, q, sizeof(q)), sizeof(q));
		assert_int_equal(read(s, a, sizeof(a)), sizeof(a));
		assert_memory_equal(q, a, sizeof(q));
		assert_int_equal(write(s, a, sizeof(a)), sizeof(a));
		assert_int_equal(read(c, q, sizeof(q)), sizeof(q));
		assert_true(pat_equal((unsigned char *)q, seed + r, sizeof(q)));
	}
	close(c);
	close(s);
	return cin ? CONN_JOINED : CONN_TCP;
}

/* skiff_join_hist of pod B's port in `ss`; zeros when absent. */
static struct skiff_join_hist join_hist(const struct sockaddr_storage *ss)
{
	struct skiff_join_key k = {
	    .workload = WL_B,
	    .port = ntohs(((const struct sockaddr_in *)ss)->sin_port),
	};
	struct skiff_join_hist h = {0};

	bpf_map_lookup_elem(T.join_fd, &k, &h);
	return h;
}

/*
 * 10,000 short connections (connect, request, answer, close): the first SKIFF_JOIN_MIN_CONNS
 * join the sockhash (no history yet), the rest stay on TCP, with no per-socket state on the
 * server end. Every byte arrives, the L4 counters count every connection and its bytes both ways
 * once (the client's end alone), and nothing is left in the sockhash.
 */
static void test_many_short_connections(void **state)
{
	const int n = 10000;
	struct skiff_l4_stats b0 = l4_read(WL_A, WL_B), b1;
	struct sockaddr_storage ss;
	struct skiff_join_hist h;
	int lfd, joined = 0, joined_late = 0;
	socklen_t len;
	double t = now_s();

	(void)state;
	lfd = listen_b(&ss, &len);
	for (int i = 0; i < n; i++) {
		bool in = conn_rounds(lfd, &ss, len, 1, i) == CONN_JOINED;

		joined += in;
		joined_late += in && i >= SKIFF_JOIN_MIN_CONNS;
	}
	cg_enter(T.cg_home);
	close(lfd);
	h = join_hist(&ss);
	printf("# %d connections in %.2f s, %d joined; history: %u connections, %u messages\n", n,
	       now_s() - t, joined, h.conns, h.msgs);
	assert_int_equal(joined, SKIFF_JOIN_MIN_CONNS);
	assert_int_equal(joined_late, 0);
	assert_true(h.conns >= SKIFF_JOIN_MIN_CONNS && h.conns <= SKIFF_JOIN_WINDOW);
	assert_true(h.msgs < h.conns * SKIFF_JOIN_MIN_MSGS);
	assert_int_equal(sockhash_settle(), 0);
	usleep(50000); /* the last state change of the last client */
	b1 = l4_read(WL_A, WL_B);
	assert_int_equal(b1.conns_opened - b0.conns_opened, n);
	assert_int_equal(b1.conns_closed - b0.conns_closed, n);
	assert_int_equal(b1.bytes_received - b0.bytes_received, 64ull * n);
	assert_int_equal(b1.bytes_sent - b0.bytes_sent, 64ull * n);
}

/* Connections that exchange several messages keep joining, and their history says why. */
static void test_join_long_connections(void **state)
{
	const int n = 40, rounds = 6;
	struct sockaddr_storage ss;
	struct skiff_join_hist h;
	socklen_t len;
	int lfd;

	(void)state;
	lfd = listen_b(&ss, &len);
	for (int i = 0; i < n; i++)
		assert_int_equal(conn_rounds(lfd, &ss, len, rounds, i * rounds), CONN_JOINED);
	cg_enter(T.cg_home);
	close(lfd);
	assert_int_equal(sockhash_settle(), 0);
	h = join_hist(&ss);
	printf("# history of %d connections of %d round trips: %u connections, %u messages\n", n,
	       rounds, h.conns, h.msgs);
	/* every message was redirected: each end counts what it sent */
	assert_int_equal(h.conns, n);
	assert_int_equal(h.msgs, n * 2 * rounds);
}

/* A destination learnt short that starts to carry long connections joins again: the
 * connections kept on TCP still count their messages (TCP data segments). */
static void test_join_relearns(void **state)
{
	const int rounds = 16;
	struct sockaddr_storage ss;
	socklen_t len;
	int lfd, i;

	(void)state;
	lfd = listen_b(&ss, &len);
	for (i = 0; i < 3 * SKIFF_JOIN_MIN_CONNS; i++)
		conn_rounds(lfd, &ss, len, 1, i);
	assert_int_equal(conn_rounds(lfd, &ss, len, 1, i), CONN_TCP);
	for (i = 0; i < 8; i++)
		if (conn_rounds(lfd, &ss, len, rounds, i * rounds) == CONN_JOINED)
			break;
	cg_enter(T.cg_home);
	close(lfd);
	printf("# joined again after %d long connections on TCP\n", i);
	assert_true(i >= 1 && i < 8);
	assert_int_equal(sockhash_settle(), 0);
}

/* --accel-join=always: every same-node pair joins, whatever the history says. */
static void test_join_always(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int lfd;

	(void)state;
	lfd = listen_b(&ss, &len);
	for (int i = 0; i < 3 * SKIFF_JOIN_MIN_CONNS; i++)
		conn_rounds(lfd, &ss, len, 1, i);
	assert_int_equal(conn_rounds(lfd, &ss, len, 1, 0), CONN_TCP);
	cg_enter(T.cg_home);
	dp_close(T.dp, false);
	T.dp = NULL;
	assert_int_equal(dp_up(false, true), 0);
	for (int i = 0; i < 3 * SKIFF_JOIN_MIN_CONNS; i++)
		assert_int_equal(conn_rounds(lfd, &ss, len, 1, i), CONN_JOINED);
	cg_enter(T.cg_home);
	close(lfd);
	dp_close(T.dp, false);
	T.dp = NULL;
	assert_int_equal(dp_up(false, false), 0);
	assert_int_equal(sockhash_settle(), 0);
}

/* Bytes both ways, the connection and its lifetime, counted once per workload pair. */
static void test_l4_stats(void **state)
{
	struct skiff_l4_stats b0 = l4_read(WL_A, WL_B), b1, c0 = l4_read(0, WL_B), c1;
	struct pair p = pair_open(AF_INET, T.cg_a, POD_A4, T.cg_b, POD_B4);
	struct xfer x;

	(void)state;
	xfer_start(&x, p.cli, 3000000, 65536, XF_WRITE);
	assert_int_equal(recv_check(p.srv, 65536), 3000000);
	xfer_join(&x);
	xfer_start(&x, p.srv, 70000, 65536, XF_WRITE);
	assert_int_equal(recv_check(p.cli, 65536), 70000);
	xfer_join(&x);
	pair_close(&p);
	/* a pod outside the mesh: only B's socket reports, its TCP counters both ways */
	p = pair_open(AF_INET, T.cg_c, POD_C4, T.cg_b, POD_B4);
	xfer_start(&x, p.cli, 500000, 65536, XF_WRITE);
	assert_int_equal(recv_check(p.srv, 65536), 500000);
	xfer_join(&x);
	xfer_start(&x, p.srv, 1234, 65536, XF_WRITE);
	assert_int_equal(recv_check(p.cli, 65536), 1234);
	xfer_join(&x);
	pair_close(&p);
	usleep(50000); /* the last state change of the passive side */

	b1 = l4_read(WL_A, WL_B);
	c1 = l4_read(0, WL_B);
	printf("# A->B: +%llu opened, +%llu closed, +%llu B received, +%llu B sent, %.1f ms\n",
	       b1.conns_opened - b0.conns_opened, b1.conns_closed - b0.conns_closed,
	       b1.bytes_received - b0.bytes_received, b1.bytes_sent - b0.bytes_sent,
	       (b1.duration_ns - b0.duration_ns) / 1e6);
	assert_int_equal(b1.conns_opened - b0.conns_opened, 1);
	assert_int_equal(b1.conns_closed - b0.conns_closed, 1);
	assert_int_equal(b1.bytes_received - b0.bytes_received, 3000000);
	assert_int_equal(b1.bytes_sent - b0.bytes_sent, 70000);
	/* both ends shut down their write side after sending: that is the connection's end */
	assert_true(b1.duration_ns > b0.duration_ns);
	assert_int_equal(c1.conns_opened - c0.conns_opened, 1);
	assert_int_equal(c1.conns_closed - c0.conns_closed, 1);
	assert_int_equal(c1.bytes_received - c0.bytes_received, 500000);
	assert_int_equal(c1.bytes_sent - c0.bytes_sent, 1234);
}

/* The netns's net.ipv4.tcp_max_tw_buckets (this process is in the test's netns): the old value. */
static long tw_buckets_set(long v)
{
	const char *path = "/proc/sys/net/ipv4/tcp_max_tw_buckets";
	FILE *f = fopen(path, "r");
	long old = -1;

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &old), 1);
	fclose(f);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%ld\n", v);
	assert_int_equal(fclose(f), 0);
	return old;
}

/*
 * One connection whose TCP byte counts one socket reports alone (its peer is no mesh pod): the
 * server sends `sizeof(buf)` bytes, the client reads them and closes first, then the server.
 */
static void close_client_first(const char *ccg, const char *cip, const char *scg, const char *sip)
{
	struct pair p = pair_open(AF_INET, ccg, cip, scg, sip);
	char buf[1234] = {0}, c;
	size_t got = 0;
	ssize_t n;

	assert_int_equal(write(p.srv, buf, sizeof(buf)), sizeof(buf));
	while (got < sizeof(buf) && (n = read(p.cli, buf, sizeof(buf) - got)) > 0)
		got += (size_t)n;
	assert_int_equal(got, sizeof(buf));
	close(p.cli); /* an orphan in FIN_WAIT2 at the server's ACK: closed, before its FIN */
	usleep(50000);
	assert_int_equal(read(p.srv, &c, 1), 0); /* the client's FIN: CLOSE_WAIT */
	close(p.srv);				 /* LAST_ACK */
	usleep(50000);
}

/*
 * One connection as above, the client sending `sizeof(buf)` bytes and its FIN; the server reads
 * them (CLOSE_WAIT), then the client aborts (SO_LINGER 0: a RST), which closes the server with
 * the client's FIN received and its own never sent.
 */
static void reset_in_close_wait(const char *ccg, const char *cip, const char *scg, const char *sip)
{
	struct pair p = pair_open(AF_INET, ccg, cip, scg, sip);
	struct linger abort_close = {.l_onoff = 1, .l_linger = 0};
	char buf[1234] = {0};
	size_t got = 0;
	ssize_t n;

	assert_int_equal(write(p.cli, buf, sizeof(buf)), sizeof(buf));
	shutdown(p.cli, SHUT_WR);
	while ((n = read(p.srv, buf, sizeof(buf))) > 0)
		got += (size_t)n;
	assert_int_equal(got, sizeof(buf)); /* and the FIN: CLOSE_WAIT */
	assert_int_equal(
	    setsockopt(p.cli, SOL_SOCKET, SO_LINGER, &abort_close, sizeof(abort_close)), 0);
	close(p.cli);
	usleep(50000);
	close(p.srv);
}

/*
 * TCP's counts hold a FIN as one byte only once it came (received) or was acknowledged (sent):
 * exact counts either way. A client that closes first counts the server's bytes before the
 * server's FIN; a server whose FIN meets a RST (the client kept no TIME_WAIT: no bucket allowed
 * in this netns, as on a node whose TIME_WAIT table is full) closes with that FIN unacknowledged;
 * a server reset in CLOSE_WAIT closes with the client's FIN received.
 */
static void test_l4_stats_fin_counted_once(void **state)
{
	struct skiff_l4_stats a0 = l4_read(WL_A, 0), a1, b0 = l4_read(0, WL_B), b1;
	long old;

	(void)state;
	/* A, in the mesh, to C outside it: A counts both ways */
	close_client_first(T.cg_a, POD_A4, T.cg_c, POD_C4);
	a1 = l4_read(WL_A, 0);
	printf("# A->C: +%llu closed, A received +%llu\n", a1.conns_closed - a0.conns_closed,
	       a1.bytes_sent - a0.bytes_sent);
	assert_int_equal(a1.conns_closed - a0.conns_closed, 1);
	assert_int_equal(a1.bytes_sent - a0.bytes_sent, 1234);
	/* C, outside, to B: B counts both ways; its FIN is reset */
	old = tw_buckets_set(0);
	close_client_first(T.cg_c, POD_C4, T.cg_b, POD_B4);
	tw_buckets_set(old);
	b1 = l4_read(0, WL_B);
	printf("# C->B: +%llu closed, B sent +%llu\n", b1.conns_closed - b0.conns_closed,
	       b1.bytes_sent - b0.bytes_sent);
	assert_int_equal(b1.conns_closed - b0.conns_closed, 1);
	assert_int_equal(b1.bytes_sent - b0.bytes_sent, 1234);
	/* C to B again: B reset in CLOSE_WAIT, its received bytes without the FIN */
	reset_in_close_wait(T.cg_c, POD_C4, T.cg_b, POD_B4);
	b0 = b1;
	b1 = l4_read(0, WL_B);
	printf("# C->B reset: +%llu closed, B received +%llu\n", b1.conns_closed - b0.conns_closed,
	       b1.bytes_received - b0.bytes_received);
	assert_int_equal(b1.conns_closed - b0.conns_closed, 1);
	assert_int_equal(b1.bytes_received - b0.bytes_received, 1234);
}

/* One short A->B connection that carries `n` bytes, counted at close. */
static void one_conn(const char *ccg, const char *cip, size_t n)
{
	struct pair p = pair_open(AF_INET, ccg, cip, T.cg_b, POD_B4);
	struct xfer x;

	xfer_start(&x, p.cli, n, 65536, XF_WRITE);
	assert_int_equal(recv_check(p.srv, 65536), n);
	xfer_join(&x);
	pair_close(&p);
	usleep(50000); /* the last state change of the passive side */
}

/*
 * A's workload id given to another pod (C, here newly enrolled) after A left: what the maps
 * keyed by workload held of A (its counters towards B, the fast-path history of its own
 * listeners) is gone before C's entries go in, so C's counters start at zero. B, which kept
 * its id, keeps its history.
 */
static void test_reused_id_counters_reset(void **state)
{
	struct skiff_join_key ja = {.workload = WL_A, .port = 4242};
	struct skiff_join_hist jh = {.conns = 3};
	struct view_buf vb;
	struct skiff_l4_stats s;

	(void)state;
	one_conn(T.cg_a, POD_A4, 4000);
	assert_true(l4_read(WL_A, WL_B).conns_closed >= 1);
	/* A as a server once: its listeners' history, as sockops files it */
	assert_int_equal(bpf_map_update_elem(T.join_fd, &ja, &jh, BPF_ANY), 0);

	/* A leaves */
	view_ab(&vb);
	vb.v.pods = &vb.p[1];
	vb.v.npods = 1;
	vb.v.pod_ips = &vb.ip[2];
	vb.v.npod_ips = 2;
	assert_int_equal(dp_apply(T.dp, &vb.v), 0);
	assert_true(l4_read(WL_A, WL_B).conns_closed >= 1); /* an id at rest is not touched */

	/* C joins with A's old id, given fresh */
	view_ab(&vb);
	vb.p[0] = (struct cv_pod){
	    .cgroup_id = T.id_c, .val = {WL_A, SKIFF_POD_F_ENROLLED}, .id_fresh = true};
	ip_entry(&vb.ip[0], AF_INET, POD_C4, WL_A);
	vb.ip[1] = vb.ip[2]; /* C has no IPv6 address: B's two follow */
	vb.ip[2] = vb.ip[3];
	vb.v.npod_ips = 3;
	assert_int_equal(dp_apply(T.dp, &vb.v), 0);
	s = l4_read(WL_A, WL_B);
	assert_int_equal(s.conns_opened + s.conns_closed + s.bytes_received, 0);
	assert_int_not_equal(bpf_map_lookup_elem(T.join_fd, &ja, &jh), 0);

	one_conn(T.cg_c, POD_C4, 777);
	s = l4_read(WL_A, WL_B);
	printf("# C with A's old id: %llu opened, %llu closed, %llu bytes to B\n",
	       (unsigned long long)s.conns_opened, (unsigned long long)s.conns_closed,
	       (unsigned long long)s.bytes_received);
	assert_int_equal(s.conns_opened, 1);
	assert_int_equal(s.conns_closed, 1);
	assert_int_equal(s.bytes_received, 777);

	/* A back for the cases that follow, its id fresh again (C's counters go) */
	view_ab(&vb);
	vb.p[0].id_fresh = true;
	assert_int_equal(dp_apply(T.dp, &vb.v), 0);
	s = l4_read(WL_A, WL_B);
	assert_int_equal(s.conns_opened, 0);
}

/* An IPv4 socket's peer as "ip:port". */
static void peer_str(int fd, char *buf, size_t size)
{
	struct sockaddr_in sin = {0};
	socklen_t len = sizeof(sin);
	char ip[INET_ADDRSTRLEN] = "?";

	assert_int_equal(getpeername(fd, (struct sockaddr *)&sin, &len), 0);
	inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof(ip));
	snprintf(buf, size, "%s:%d", ip, ntohs(sin.sin_port));
}

/* Pod A's socket `c` connects to `ip`:`port`; returns the listener's accepted end. */
static int connect_a(int c, int lfd, const char *ip, int port)
{
	struct sockaddr_storage ss;
	int s;

	cg_enter(T.cg_a);
	assert_int_equal(connect(c, (struct sockaddr *)&ss, sa_make(ip, port, &ss)), 0);
	cg_enter(T.cg_home);
	s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(s >= 0);
	return s;
}

/*
 * A client that dialled a service keeps one per-socket state for all of skiff: the VIP that
 * getpeername shows next to the fast path's and the counters' state, while the pair is on the
 * fast path. The same socket disconnected (connect AF_UNSPEC) and connected again straight to
 * the pod shows the pod, not the old VIP, under a fresh start; each connection is counted once.
 */
static void test_vip_client_one_state(void **state)
{
	struct skiff_l4_stats b0 = l4_read(WL_A, WL_B), b1;
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	struct skiff_sock_state st = {};
	struct sockaddr_storage ss;
	struct view_buf vb;
	socklen_t len;
	int lfd, c, s1, s2, port;
	char peer[64], want[64], buf[4];
	__u64 start;

	(void)state;
	lfd = listen_b(&ss, &len);
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	view_ab_vip(&vb, port);
	assert_int_equal(dp_apply(T.dp, &vb.v), 0);
	cg_enter(T.cg_a);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	assert_int_equal(bind(c, (struct sockaddr *)&ss, sa_make(POD_A4, 0, &ss)), 0);
	s1 = connect_a(c, lfd, VIP4, 80);
	peer_str(c, peer, sizeof(peer));
	assert_string_equal(peer, VIP4 ":80");
	/* the client's key is under the backend it reached, not the VIP getpeername shows: its
	 * state says it is in, and the server end follows only a client that is */
	assert_true(in_sockhash(s1));
	assert_int_equal(bpf_map_lookup_elem(T.sk_state_fd, &c, &st), 0);
	assert_int_equal(st.vip.family, SKIFF_AF_INET);
	assert_int_equal(st.vip.port, htons(80));
	assert_int_equal(st.punt.family, 0);
	assert_true(st.start_ns != 0);
	assert_int_equal(st.flags & (SKIFF_SOCK_F_CLIENT | SKIFF_SOCK_F_ACCEL),
			 SKIFF_SOCK_F_CLIENT | SKIFF_SOCK_F_ACCEL);
	start = st.start_ns;
	assert_int_equal(write(c, "ping", 4), 4);
	assert_int_equal(read(s1, buf, 4), 4);
	assert_memory_equal(buf, "ping", 4);

	/* the same socket again, straight to pod B: its first connection counted at TCP_CLOSE */
	assert_int_equal(connect(c, &unspec, sizeof(unspec)), 0);
	s2 = connect_a(c, lfd, POD_B4, port);
	peer_str(c, peer, sizeof(peer));
	snprintf(want, sizeof(want), "%s:%d", POD_B4, port);
	assert_string_equal(peer, want);
	assert_int_equal(bpf_map_lookup_elem(T.sk_state_fd, &c, &st), 0);
	printf("# one socket: VIP then pod, state restarted %.3f ms later\n",
	       (st.start_ns - start) / 1e6);
	assert_int_equal(st.vip.family, 0);
	assert_true(st.start_ns > start);
	assert_true(st.flags & SKIFF_SOCK_F_CLIENT);
	assert_int_equal(write(c, "pong", 4), 4);
	assert_int_equal(read(s2, buf, 4), 4);
	assert_memory_equal(buf, "pong", 4);
	close(c);
	close(s1);
	close(s2);
	close(lfd);
	usleep(50000); /* the last state change of the passive side */
	b1 = l4_read(WL_A, WL_B);
	assert_int_equal(b1.conns_opened - b0.conns_opened, 2);
	assert_int_equal(b1.conns_closed - b0.conns_closed, 2);
	assert_int_equal(b1.bytes_received - b0.bytes_received, 8);
	view_ab(&vb);
	assert_int_equal(dp_apply(T.dp, &vb.v), 0);
}

/* A connection's lifetime runs from established until the last FIN (here: the close). */
static void test_l4_duration(void **state)
{
	struct skiff_l4_stats b0 = l4_read(WL_A, WL_B), b1;
	struct pair p = pair_open(AF_INET, T.cg_a, POD_A4, T.cg_b, POD_B4);
	double t = now_s(), ms;

	(void)state;
	usleep(60000);
	pair_close(&p);
	t = now_s() - t;
	usleep(20000);
	b1 = l4_read(WL_A, WL_B);
	ms = (b1.duration_ns - b0.duration_ns) / 1e6;
	printf("# idle connection lived %.1f ms (%.1f ms between open and close)\n", ms, t * 1e3);
	assert_int_equal(b1.conns_opened - b0.conns_opened, 1);
	assert_int_equal(b1.conns_closed - b0.conns_closed, 1);
	assert_int_equal(b1.bytes_received - b0.bytes_received, 0);
	assert_int_equal(b1.bytes_sent - b0.bytes_sent, 0);
	assert_true(ms >= 60.0 && ms <= t * 1e3 + 50.0);
}


/* ---------- flow events through skiffd's reader (user/flows) ---------- */

/* The first bytes read_until read: the response's head, which the buffer may since have dropped
 * (the history holds every connection of the tests before, more than the buffer keeps). */
static char first_read[32];

/* Read `fd` until `want` (and `want2`, when given) both appear in one line each, EOF, or
 * `ms` milliseconds; true when found. The text read is kept in `buf` (NUL-terminated), the
 * newest half of it when there was more. */
static bool read_until(int fd, char *buf, size_t size, const char *want, const char *want2, int ms)
{
	size_t len = 0;
	double end = now_s() + ms / 1000.0;

	buf[0] = '\0';
	first_read[0] = '\0';
	while (now_s() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (strstr(buf, want) && (!want2 || strstr(buf, want2)))
			return true;
		if (poll(&p, 1, 50) <= 0)
			continue;
		if (len + 1 >= size) { /* keep the newest half: the lines wanted come last */
			memmove(buf, buf + size / 2, len - size / 2 + 1);
			len -= size / 2;
		}
		n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		if (!first_read[0])
			snprintf(first_read, sizeof(first_read), "%.*s", (int)n, buf + len);
		len += (size_t)n;
		buf[len] = '\0';
	}
	return strstr(buf, want) && (!want2 || strstr(buf, want2));
}

/* The events of one connection, as a /flows client reads them: from the history (their JSON
 * lines written only then) and as a follower (written as they arrive). Real kernel events. */
static void test_flow_events_read(void **state)
{
	static char buf[1 << 20];
	char opened[160], closed[200];
	struct sockaddr_storage ss;
	struct flows *f = NULL;
	socklen_t len;
	int lfd, sp[2];

	(void)state;
	assert_int_equal(dp_events_enable(T.dp, true), 0);
	assert_int_equal(flows_open(dp_events_fd(T.dp), "node-t", &f), 0);
	lfd = listen_b(&ss, &len);
	snprintf(opened, sizeof(opened),
		 "\"ip\":\"" POD_B4 "\",\"port\":%u},\"reason\":null,\"policy\":null}\n",
		 ntohs(((struct sockaddr_in *)&ss)->sin_port));
	snprintf(closed, sizeof(closed),
		 "\"ip\":\"" POD_B4 "\",\"port\":%u},\"reason\":null,\"policy\":null,"
		 "\"bytes_received\":64,\"bytes_sent\":64,",
		 ntohs(((struct sockaddr_in *)&ss)->sin_port));

	/* the history: nobody read these events before */
	conn_rounds(lfd, &ss, len, 1, 1);
	cg_enter(T.cg_home);
	usleep(1200000); /* the reader's tick, and a part's wait for its partner */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	flows_serve(f, sp[0], "since=5");
	assert_true(read_until(sp[1], buf, sizeof(buf), closed, opened, 5000));
	assert_true(!strncmp(first_read, "HTTP/1.1 200 OK", 15));
	assert_non_null(strstr(buf, "\"node\":\"node-t\""));
	close(sp[1]);

	/* a follower: the next connection's lines as they are read from the ring */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	flows_serve(f, sp[0], "follow=1&since=0");
	usleep(200000); /* taken in by the reader before the connection */
	assert_true(read_until(sp[1], buf, sizeof(buf), "HTTP/1.1 200 OK", NULL, 2000));
	assert_null(strstr(buf, closed)); /* since=0: none of the history */
	conn_rounds(lfd, &ss, len, 1, 2);
	cg_enter(T.cg_home);
	assert_true(read_until(sp[1], buf, sizeof(buf), closed, opened, 5000));
	close(sp[1]);
	close(lfd);
	flows_close(f);
}

/* --no-accel after a run with it: counters stay, nothing enters the sockhash; restart adopts. */
static void test_no_accel_restart(void **state)
{
	struct pair p;

	(void)state;
	dp_close(T.dp, false);
	T.dp = NULL;
	assert_int_equal(dp_up(true, false), 0);
	p = pair_open(AF_INET, T.cg_a, POD_A4, T.cg_b, POD_B4);
	assert_false(in_sockhash(p.cli));
	assert_false(in_sockhash(p.srv));
	assert_int_equal(write(p.cli, "x", 1), 1);
	pair_close(&p);

	dp_close(T.dp, false);
	T.dp = NULL;
	assert_int_equal(dp_up(false, false), 0);
	p = pair_open(AF_INET, T.cg_a, POD_A4, T.cg_b, POD_B4);
	assert_true(in_sockhash(p.cli));
	assert_true(in_sockhash(p.srv));
	assert_int_equal(write(p.cli, "y", 1), 1);
	{
		char c = 0;

		timeouts(p.srv, 5);
		assert_int_equal(read(p.srv, &c, 1), 1);
		assert_int_equal(c, 'y');
	}
	pair_close(&p);
	assert_int_equal(sockhash_settle(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_redirect_both_enrolled),
	    cmocka_unit_test(test_ipv6_redirect),
	    cmocka_unit_test(test_large_transfer),
	    cmocka_unit_test(test_half_close),
	    cmocka_unit_test(test_message_larger_than_buffers),
	    cmocka_unit_test(test_msg_peek),
	    cmocka_unit_test(test_msg_peek_while_writing),
	    cmocka_unit_test(test_backpressure),
	    cmocka_unit_test(test_fallback_leaves),
	    cmocka_unit_test(test_unenrolled_not_redirected),
	    cmocka_unit_test(test_zero_length_writes),
	    cmocka_unit_test(test_peer_closes_mid_redirect),
	    cmocka_unit_test(test_other_families_untouched),
	    cmocka_unit_test(test_sendfile_and_splice),
	    cmocka_unit_test(test_many_short_connections),
	    cmocka_unit_test(test_join_long_connections),
	    cmocka_unit_test(test_join_relearns),
	    cmocka_unit_test(test_join_always),
	    cmocka_unit_test(test_l4_stats),
	    cmocka_unit_test(test_l4_stats_fin_counted_once),
	    cmocka_unit_test(test_l4_duration),
	    cmocka_unit_test(test_vip_client_one_state),
	    cmocka_unit_test(test_flow_events_read),
	    cmocka_unit_test(test_reused_id_counters_reset),
	    cmocka_unit_test(test_no_accel_restart),
	};

	int rc = cmocka_run_group_tests(tests, setup, teardown);

	printf("# blocking reads that returned EAGAIN with no data: %d\n", spurious_eagain);
	return rc;
}
