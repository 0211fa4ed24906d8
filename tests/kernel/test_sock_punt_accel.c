// SPDX-License-Identifier: Apache-2.0
/*
 * The punt hops on the fast path (fdfd473, include/skiff/punt.h): the real dataplane attached at
 * a private pod cgroup root and, with dp_opts.agent_sockops, at the cgroup this process ("skiffd")
 * sits in when it opens the dataplane. One process plays every part: a socket belongs to the
 * cgroup of the task that created it (an accepted socket to its listener's), and connect4/6
 * judge the task that calls connect(), so the process moves into the right cgroup for each.
 *
 *   bpffs     /sys/fs/bpf/skpa-<pid>
 *   cgroups   /sys/fs/cgroup/unified/skpa-<pid>/
 *               kubepods/pod{a,b}  the pod cgroup root; A (workload 1), B (workload 2) enrolled
 *               agent              skiffd's own cgroup, beside the root: sockops attached
 *               other              beside the root too, nothing attached
 *   netns     skpa-<pid>: lo up with A 198.18.0.20 / 2001:db8::20, B 198.18.0.21 / 2001:db8::21
 *             and the node's 198.18.0.1 / 2001:db8::1, where skiffd listens on 15001 and which
 *             its dials leave from. R 198.18.1.30 / 2001:db8:1::30 is a pod on another node
 *             (workload 3, in skiff_remote_pods): no interface has it, connect4/6 send A's
 *             connections to it to skiffd's listener.
 *
 * The byte counts in skiff_l4_stats must come out exact whichever way each byte went (sk_msg
 * redirect or TCP): skiffd's ends add only what they redirected, the pod's end the rest.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "kernel/kernel_env.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "dataplane/dataplane.h"
#include "skiff/accel.h"
#include "skiff/guard.h"
#include "skiff/punt.h"

#define A4	  "198.18.0.20"
#define B4	  "198.18.0.21"
#define NODE4	  "198.18.0.1"
#define R4	  "198.18.1.30"
#define A6	  "2001:db8::20"
#define B6	  "2001:db8::21"
#define NODE6	  "2001:db8::1"
#define R6	  "2001:db8:1::30"
#define WL_A	  1
#define WL_B	  2
#define WL_R	  3
#define R_PORT	  8080 /* what A dials on R */
#define PUNT_PORT SKIFF_OUTBOUND_PORT

#define PAT_LEN	     1048573 /* prime: chunk sizes never line the pattern up with itself */
#define READ_WAIT_MS 10000   /* a reader that sees nothing for this long fails the case */

/* One direction of an exchange: a thread writing the pattern (xfer_main). */
struct xfer {
	int fd;
	size_t len, chunk;
	int err;
	size_t done; /* written so far; read by the other writer's thread (atomics) */
	pthread_t th;
	bool running; /* started and not joined yet */
	/* optional: keep the last chunk back until `other` has written more than `other_past`
	 * (20 s at most) */
	const struct xfer *other;
	size_t other_past;
};

struct topo {
	char netns[32];
	char bpffs[64];
	char cg_base[128];
	char cg_root[160];
	char cg_a[200], cg_b[200], cg_agent[200], cg_other[200];
	char cg_home[512]; /* where this process was, to go back before removing the cgroups */
	uint64_t id_a, id_b;
	int netns_fd, self_ns_fd;
	int sockhash_fd, stats_fd, addr_fd, sk_state_fd;
	int case_fds[4];     /* the sockets the running case opened (case_fd) */
	struct xfer xfer[2]; /* the running case's writers, one per direction */
	unsigned char *pat;
	struct dataplane *dp;
};

static struct topo T = {.netns_fd = -1,
			.self_ns_fd = -1,
			.sockhash_fd = -1,
			.stats_fd = -1,
			.addr_fd = -1,
			.sk_state_fd = -1,
			.case_fds = {-1, -1, -1, -1}};

/* ---------- addresses ---------- */

static struct skiff_sock_origin endpoint(const char *ip, int port)
{
	struct sockaddr_storage ss;
	struct skiff_sock_origin ep;

	sa_make(ip, port, &ss);
	sa_endpoint(&ss, &ep);
	return ep;
}

/* ---------- the sockhash, per-socket state and counters ---------- */

/* Socket `fd` as sockops keys it: its own end first (addresses network order, ports host). */
static void key_of(int fd, struct skiff_sock_key *k)
{
	struct sockaddr_storage l, r;
	socklen_t ll = sizeof(l), rl = sizeof(r);
	struct skiff_sock_origin le, re;

	assert_int_equal(getsockname(fd, (struct sockaddr *)&l, &ll), 0);
	assert_int_equal(getpeername(fd, (struct sockaddr *)&r, &rl), 0);
	sa_endpoint(&l, &le);
	sa_endpoint(&r, &re);
	memset(k, 0, sizeof(*k));
	k->local = le.addr;
	k->remote = re.addr;
	k->local_port = ntohs(le.port);
	k->remote_port = ntohs(re.port);
	k->family = le.family;
}

/* The same connection as seen from its other end. */
static struct skiff_sock_key key_swap(const struct skiff_sock_key *k)
{
	return (struct skiff_sock_key){.local = k->remote,
				       .remote = k->local,
				       .local_port = k->remote_port,
				       .remote_port = k->local_port,
				       .family = k->family};
}

/* Whether socket `fd` is in the sockhash under `k` (the value is its cookie), and in its BTF
 * twin skiff_sk_addr with the same cookie: both or neither. */
static bool in_sockhash_as(int fd, const struct skiff_sock_key *k)
{
	struct skiff_sock_ref ref = {};
	__u64 cookie = 0, mine = 0;
	socklen_t len = sizeof(mine);
	bool in_hash, in_twin;

	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_COOKIE, &mine, &len), 0);
	in_hash = !bpf_map_lookup_elem(T.sockhash_fd, k, &cookie) && cookie == mine;
	in_twin = !bpf_map_lookup_elem(T.addr_fd, k, &ref) && ref.cookie == mine && ref.kaddr;
	assert_int_equal(in_hash, in_twin);
	return in_hash;
}

static bool in_sockhash(int fd)
{
	struct skiff_sock_key k;

	key_of(fd, &k);
	return in_sockhash_as(fd, &k);
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

/* A socket's skiff_sk_state: an sk_storage map is looked up by the socket's fd. */
static struct skiff_sock_state sock_state(int fd)
{
	struct skiff_sock_state st = {};

	assert_int_equal(bpf_map_lookup_elem(T.sk_state_fd, &fd, &st), 0);
	return st;
}

/* Socket `fd`'s state says which end it is (`flags`, exactly) and the workload pair it counts
 * under. Read it before any FIN: the close callback, at TCP_CLOSE, clears it. */
static void assert_state(int fd, __u32 flags, __u32 src, __u32 dst)
{
	struct skiff_sock_state st = sock_state(fd);

	if (st.flags != flags)
		fail_msg("socket state flags 0x%x, want 0x%x", st.flags, flags);
	assert_int_equal(st.pair.src_workload, src);
	assert_int_equal(st.pair.dst_workload, dst);
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

/* Has the pair counted its connection, with the bytes wanted, and no fast-path socket left? */
static bool l4_settled(const struct skiff_l4_stats *b0, const struct skiff_l4_stats *b1,
		       size_t request, size_t response)
{
	return b1->conns_closed != b0->conns_closed &&
	       b1->bytes_received - b0->bytes_received == request &&
	       b1->bytes_sent - b0->bytes_sent == response && !key_count(T.addr_fd) &&
	       !key_count(T.sockhash_fd);
}

/*
 * After both ends of a connection closed: the pair (src, dst) gained exactly one connection,
 * `request` bytes from its client and `response` bytes back, since `b0`. The close callbacks run
 * a moment after close(), each end's in its own softirq or process: wait (5 s at most, for an
 * emulated guest on a busy host) until the counts are in and no fast-path socket is left.
 */
static void assert_l4_exact(__u32 src, __u32 dst, const struct skiff_l4_stats *b0, size_t request,
			    size_t response)
{
	struct skiff_l4_stats b1 = l4_read(src, dst);
	int waited = 0;

	for (; waited < 500 && !l4_settled(b0, &b1, request, response); waited++) {
		usleep(10000);
		b1 = l4_read(src, dst);
	}
	if (waited >= 100)
		printf("# counted only after %d ms\n", waited * 10);
	printf("# (%u, %u): +%llu opened, +%llu closed, +%llu request, +%llu response bytes\n", src,
	       dst, b1.conns_opened - b0->conns_opened, b1.conns_closed - b0->conns_closed,
	       b1.bytes_received - b0->bytes_received, b1.bytes_sent - b0->bytes_sent);
	assert_int_equal(key_count(T.addr_fd), 0);
	assert_int_equal(key_count(T.sockhash_fd), 0);
	assert_int_equal(b1.conns_opened - b0->conns_opened, 1);
	assert_int_equal(b1.conns_closed - b0->conns_closed, 1);
	assert_int_equal(b1.bytes_received - b0->bytes_received, request);
	assert_int_equal(b1.bytes_sent - b0->bytes_sent, response);
}

/* ---------- data ---------- */

/* The pattern is keyed by position, so loss, duplication and reordering all show. */

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

/* Does x wait for its other writer before this send (1 ms at a time)? Only its last chunk. */
static bool xfer_held(struct xfer *x, int *waited_ms)
{
	if (!x->other || x->len - x->done > x->chunk ||
	    __atomic_load_n(&x->other->done, __ATOMIC_ACQUIRE) > x->other_past ||
	    ++*waited_ms > 20000)
		return false;
	usleep(1000);
	return true;
}

/* Write the pattern's first x->len bytes, then shut the write side: the reader's EOF. */
static void *xfer_main(void *arg)
{
	struct xfer *x = arg;
	unsigned char *buf = malloc(x->chunk);
	int waited_ms = 0;

	x->err = buf ? 0 : -ENOMEM;
	while (!x->err && x->done < x->len) {
		size_t n = x->len - x->done < x->chunk ? x->len - x->done : x->chunk;
		ssize_t w;

		if (xfer_held(x, &waited_ms))
			continue;
		pat_copy(buf, x->done, n);
		w = send(x->fd, buf, n, MSG_NOSIGNAL); /* case_cleanup may shut the socket */
		/* a short write leaves the rest of the chunk for the next round */
		if (w <= 0)
			x->err = w < 0 ? -errno : -EIO;
		else
			__atomic_store_n(&x->done, x->done + w, __ATOMIC_RELEASE);
	}
	free(buf);
	shutdown(x->fd, SHUT_WR);
	return NULL;
}

/* Send pattern bytes [from, len) on `fd` from a thread; `gate`: its other and other_past. */
static void xfer_start_gated(struct xfer *x, int fd, size_t from, size_t len, size_t chunk,
			     const struct xfer *gate)
{
	memset(x, 0, sizeof(*x));
	if (gate) {
		x->other = gate->other;
		x->other_past = gate->other_past;
	}
	x->fd = fd;
	x->done = from;
	x->len = len;
	x->chunk = chunk;
	assert_int_equal(pthread_create(&x->th, NULL, xfer_main, x), 0);
	x->running = true;
}

static void xfer_start(struct xfer *x, int fd, size_t from, size_t len, size_t chunk)
{
	xfer_start_gated(x, fd, from, len, chunk, NULL);
}

static void xfer_join(struct xfer *x)
{
	pthread_join(x->th, NULL);
	x->running = false;
	assert_int_equal(x->err, 0);
	assert_int_equal(x->done, x->len);
}

/*
 * A blocking read() of a socket in a sockhash can return EAGAIN: tcp_bpf_recvmsg() answers
 * EAGAIN when its wait ends without data (a wakeup for another reason). The reader retries and
 * counts it (as test_sock_accel does); main() prints the count.
 */
static int spurious_eagain;

/* Read until EOF, checking every byte against the pattern at its offset; returns the count.
 * poll() first, so that bytes that never come fail the case instead of hanging it. */
static size_t recv_check(int fd, size_t chunk)
{
	unsigned char *buf = malloc(chunk);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t got = 0;
	ssize_t n;

	assert_non_null(buf);
	for (;;) {
		if (poll(&p, 1, READ_WAIT_MS) != 1) {
			free(buf);
			fail_msg("nothing to read for %d ms after %zu bytes", READ_WAIT_MS, got);
		}
		n = read(fd, buf, chunk);
		if (n < 0 && errno == EAGAIN && spurious_eagain < 1000) {
			spurious_eagain++;
			continue;
		}
		if (n <= 0)
			break;
		if (!pat_equal(buf, got, n)) {
			free(buf);
			fail_msg("data differs in the %zd bytes at offset %zu", n, got);
		}
		got += n;
	}
	free(buf);
	if (n < 0)
		fail_msg("read after %zu bytes: %s", got, strerror(errno));
	return got;
}

/* ---------- connections ---------- */

/*
 * Every socket a case opens is registered here and closed by case_cleanup() when the case ends,
 * so that a case failing half-way leaves no socket to the next one (an open fast-path socket
 * would stay in the sockhash and upset the next case's checks).
 */
static int case_fd(int fd)
{
	assert_true(fd >= 0);
	for (size_t i = 0; i < sizeof(T.case_fds) / sizeof(T.case_fds[0]); i++)
		if (T.case_fds[i] < 0) {
			T.case_fds[i] = fd;
			return fd;
		}
	fail_msg("a case opened more sockets than T.case_fds holds");
	return -1;
}

static void case_close(int fd)
{
	for (size_t i = 0; i < sizeof(T.case_fds) / sizeof(T.case_fds[0]); i++)
		if (T.case_fds[i] == fd)
			T.case_fds[i] = -1;
	close(fd);
}

static int case_cleanup(void **state)
{
	(void)state;
	/* a writer blocked on a socket wakes up when it is shut down, not when it is closed */
	for (size_t i = 0; i < sizeof(T.case_fds) / sizeof(T.case_fds[0]); i++)
		if (T.case_fds[i] >= 0)
			shutdown(T.case_fds[i], SHUT_RDWR);
	for (size_t i = 0; i < sizeof(T.xfer) / sizeof(T.xfer[0]); i++)
		if (T.xfer[i].running) {
			pthread_join(T.xfer[i].th, NULL);
			T.xfer[i].running = false;
		}
	for (size_t i = 0; i < sizeof(T.case_fds) / sizeof(T.case_fds[0]); i++)
		if (T.case_fds[i] >= 0)
			case_close(T.case_fds[i]);
	cg_move(T.cg_agent); /* where skiffd lives, whichever pod the case failed in */
	return 0;
}

struct conn {
	int cli; /* the end that connected */
	int srv; /* the end that was accepted */
};

static void conn_close(struct conn *c)
{
	case_close(c->cli);
	case_close(c->srv);
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

/*
 * The rest of `up` pattern bytes from the connecting end (it already wrote the first `sent`)
 * and `down` bytes back, both at once, every byte checked at its offset, each side ending with a
 * FIN. `down` stays below the redirect cap (tcp_rmem[2]) so the connecting end may leave it
 * unread while it sends. Returns the TCP segments the namespace sent meanwhile: a handful (FINs
 * and ACKs) when both ends redirect, at least one per 64 KiB over TCP on lo. The writers live
 * in T: a failed check leaves them to case_cleanup().
 */
/* `up_gate`: the client's writer keeps its last chunk back until the server's has written more
 * than other_past (NULL: neither waits). */
static long exchange_gated(const struct conn *c, size_t sent, size_t up, size_t down,
			   const struct xfer *up_gate)
{
	struct xfer *u = &T.xfer[0], *d = &T.xfer[1], gate;
	long segs = tcp_outsegs();

	/* the client's writer first, as a pod's request comes before the answer; the server's
	 * first on one CPU may fall back before the client's first message, leaving no race */
	memset(d, 0, sizeof(*d)); /* what the gate reads before the server's writer starts */
	if (up_gate) {
		gate = *up_gate;
		gate.other = d;
	}
	xfer_start_gated(u, c->cli, sent, up, 64 << 10, up_gate ? &gate : NULL);
	xfer_start(d, c->srv, 0, down, 16 << 10);
	assert_int_equal(recv_check(c->srv, 256 << 10), up);
	assert_int_equal(recv_check(c->cli, 256 << 10), down);
	xfer_join(u);
	xfer_join(d);
	segs = tcp_outsegs() - segs;
	printf("# %zu + %zu bytes with %ld TCP segments\n", up - sent, down, segs);
	return segs;
}

static long exchange_rest(const struct conn *c, size_t sent, size_t up, size_t down)
{
	return exchange_gated(c, sent, up, down, NULL);
}

static long exchange(const struct conn *c, size_t up, size_t down)
{
	return exchange_rest(c, 0, up, down);
}

/* What exchange() counted: only the FINs and their ACKs went as segments (with room to spare),
 * or the bytes did too (lo carries at most 64 KiB a segment). */
static bool redirected(long segs)
{
	return segs < 16;
}

static bool over_tcp(long segs, size_t up, size_t down)
{
	return segs >= (long)((up + down) >> 16);
}

/* The first `n` pattern bytes, in one write. */
static void send_head(int fd, size_t n)
{
	unsigned char *buf = malloc(n);

	assert_non_null(buf);
	pat_copy(buf, 0, n);
	assert_int_equal(write(fd, buf, n), n);
	free(buf);
}

/* A listener at ip:port (0: any port) whose sockets belong to cgroup `cg`. */
static int listener_open(const char *cg, const char *ip, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = sa_make(ip, port, &ss);
	int one = 1, fd;

	cg_enter(cg);
	fd = case_fd(socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 16))
		fail_msg("listen on %s port %d: %s", ip, port, strerror(errno));
	cg_enter(T.cg_agent);
	return fd;
}

static int listener_port(int lfd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct skiff_sock_origin ep;

	assert_int_equal(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);
	sa_endpoint(&ss, &ep);
	return ntohs(ep.port);
}

/* A TCP socket bound to `ip` (any port), so that sockops sees that address as its own. */
static int socket_at(const char *ip)
{
	struct sockaddr_storage ss;
	socklen_t len = sa_make(ip, 0, &ss);
	int fd = case_fd(socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));

	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	return fd;
}

static void connect_to(int fd, const char *ip, int port)
{
	struct sockaddr_storage ss;
	socklen_t len = sa_make(ip, port, &ss);

	if (connect(fd, (struct sockaddr *)&ss, len))
		fail_msg("connect to %s port %d: %s", ip, port, strerror(errno));
}

static int accept_within(int lfd, int ms)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};

	if (poll(&p, 1, ms) != 1)
		fail_msg("nothing reached the listener within %d ms", ms);
	return case_fd(accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
}

/* Pod A (at `a_ip`) dials R (`r_ip`); connect4/6 send it to skiffd's listener `lfd`. */
static struct conn punted_open(int lfd, const char *a_ip, const char *r_ip)
{
	struct skiff_sock_origin want = endpoint(r_ip, R_PORT), seen;
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	struct conn c;

	cg_enter(T.cg_a); /* connect4/6 judge the task that calls connect() */
	c.cli = socket_at(a_ip);
	connect_to(c.cli, r_ip, R_PORT);
	cg_enter(T.cg_agent);
	c.srv = accept_within(lfd, 1000);
	/* the client still sees what it dialled (lb_getpeername), not the listener */
	assert_int_equal(getpeername(c.cli, (struct sockaddr *)&peer, &len), 0);
	sa_endpoint(&peer, &seen);
	assert_memory_equal(&seen, &want, sizeof(want));
	return c;
}

/* The punted client's sockhash key: its getpeername() shows R, so take the accepted end's
 * tuple (the real one) and swap it. */
static bool punted_client_in_sockhash(const struct conn *c)
{
	struct skiff_sock_key k;

	key_of(c->srv, &k);
	k = key_swap(&k);
	return in_sockhash_as(c->cli, &k);
}

/* What skiffd does with an accepted punted connection: look up its destination under the
 * accepted socket's peer. Returns dp_punt_orig_take()'s answer (1: the client is fast). */
static int orig_take(const struct conn *c, const char *r_ip)
{
	struct skiff_sock_origin want = endpoint(r_ip, R_PORT), got, peer;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct skiff_punt_key k;
	int fast;

	assert_int_equal(getpeername(c->srv, (struct sockaddr *)&ss, &len), 0);
	sa_endpoint(&ss, &peer);
	memset(&k, 0, sizeof(k));
	k.addr = peer.addr;
	k.port = peer.port;
	k.family = peer.family;
	fast = dp_punt_orig_take(T.dp, &k, &got);
	if (fast < 0)
		fail_msg("nothing filed in skiff_punt_orig for the client: %s", strerror(-fast));
	assert_memory_equal(&got, &want, sizeof(want));
	return fast;
}

/* skiffd (a socket of the agent cgroup, at the node's address) dials pod B's listener `lfd`,
 * with SO_MARK SKIFF_MARK_AGENT when `marked`, as skiffd's HBONE server side and L7 relay do. */
/* `filed`: as skiffd files a dial for an HBONE stream (skiff_agent_dial) before connect() */
static struct conn dial_open_filed(int lfd, bool marked, bool filed)
{
	__u32 mark = SKIFF_MARK_AGENT;
	struct conn c;

	cg_enter(T.cg_agent);
	c.cli = socket_at(NODE4); /* lo would otherwise pick B's own address as the source */
	if (marked)
		assert_int_equal(setsockopt(c.cli, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)), 0);
	if (filed) {
		struct skiff_sock_origin pod = endpoint(B4, 0);
		struct sockaddr_in me;
		socklen_t len = sizeof(me);
		struct skiff_agent_dial_key k = {.pod = pod.addr, .family = pod.family};

		assert_int_equal(getsockname(c.cli, (struct sockaddr *)&me, &len), 0);
		k.pod_port = listener_port(lfd);
		k.agent_port = ntohs(me.sin_port);
		dp_agent_dial(T.dp, &k, true);
	}
	connect_to(c.cli, B4, listener_port(lfd));
	c.srv = accept_within(lfd, 1000);
	return c;
}

static struct conn dial_open(int lfd, bool marked)
{
	return dial_open_filed(lfd, marked, false);
}

/* ---------- the dataplane's configuration ---------- */

struct view_buf {
	struct node_view v;
	struct cv_pod p[2];
	struct cv_pod_ip ip[4];
	struct cv_remote_pod rp[2];
};

static void ip_entry(struct cv_pod_ip *e, const char *ip, __u32 wl)
{
	struct skiff_sock_origin ep = endpoint(ip, 0);

	memset(e, 0, sizeof(*e));
	e->key.addr = ep.addr;
	e->key.family = ep.family;
	e->val = (struct skiff_pod){.workload_id = wl, .flags = SKIFF_POD_F_ENROLLED};
}

/* R, on node 2, as compile_remote_pods() files a mesh pod of another node. */
static void remote_entry(struct cv_remote_pod *e, const char *ip)
{
	struct skiff_sock_origin ep = endpoint(ip, 0);

	memset(e, 0, sizeof(*e));
	e->key.addr = ep.addr;
	e->key.family = ep.family;
	e->val = (struct skiff_remote_pod){.node_id = 2, .workload_id = WL_R};
}

/* A and B enrolled here with both their addresses; R enrolled on another node. */
static void view_init(struct view_buf *vb)
{
	memset(vb, 0, sizeof(*vb));
	vb->p[0] = (struct cv_pod){.cgroup_id = T.id_a, .val = {WL_A, SKIFF_POD_F_ENROLLED}};
	vb->p[1] = (struct cv_pod){.cgroup_id = T.id_b, .val = {WL_B, SKIFF_POD_F_ENROLLED}};
	ip_entry(&vb->ip[0], A4, WL_A);
	ip_entry(&vb->ip[1], A6, WL_A);
	ip_entry(&vb->ip[2], B4, WL_B);
	ip_entry(&vb->ip[3], B6, WL_B);
	remote_entry(&vb->rp[0], R4);
	remote_entry(&vb->rp[1], R6);
	vb->v = (struct node_view){.pods = vb->p,
				   .npods = 2,
				   .pod_ips = vb->ip,
				   .npod_ips = 4,
				   .remote_pods = vb->rp,
				   .nremote_pods = 2};
}

/* skiffd's listener at the node's addresses, with `flags` (SKIFF_PUNT_F_*). */
static void punt_set(__u32 flags)
{
	struct skiff_punt_cfg c = {.port = htons(PUNT_PORT), .flags = flags};

	inet_pton(AF_INET, NODE4, &c.addr4);
	inet_pton(AF_INET6, NODE6, c.addr6);
	assert_int_equal(dp_punt_configure(T.dp, &c), 0);
}

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
	if (T.netns_fd < 0 || T.self_ns_fd < 0)
		return -1;
	/* the dataplane's route lookups then find the pods on this lo, never the machine's */
	return setns(T.netns_fd, CLONE_NEWNET);
}

static int cgroups_up(void)
{
	if (cg_home(T.cg_home, sizeof(T.cg_home)) || mkcg(T.cg_base, NULL) ||
	    mkcg(T.cg_root, NULL) || mkcg(T.cg_a, &T.id_a) || mkcg(T.cg_b, &T.id_b) ||
	    mkcg(T.cg_agent, NULL) || mkcg(T.cg_other, NULL)) {
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

/* skiffd's way: from its own cgroup (dp_attach_agent reads /proc/self/cgroup), with sockops
 * there too. Without that attachment no case here could pass: say so once. */
static int dp_up(void)
{
	struct dp_opts o = {.bpffs_dir = T.bpffs, .cgroup_root = T.cg_root, .agent_sockops = true};
	struct view_buf vb;

	if (cg_move(T.cg_agent) || dp_open(&o, &T.dp))
		return -1;
	if (!dp_punt_hops_fast(T.dp)) {
		fprintf(stderr, "test: sockops is not attached to %s (dp_punt_hops_fast)\n",
			T.cg_agent);
		return -1;
	}
	view_init(&vb);
	return dp_apply(T.dp, &vb.v) ? -1 : 0;
}

static int rm_pin(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int teardown(void **state)
{
	(void)state;
	if (T.cg_home[0])
		cg_move(T.cg_home); /* out of the agent cgroup, so that it can go */
	if (T.self_ns_fd >= 0)
		setns(T.self_ns_fd, CLONE_NEWNET);
	close_fd(&T.sockhash_fd);
	close_fd(&T.stats_fd);
	close_fd(&T.addr_fd);
	close_fd(&T.sk_state_fd);
	dp_close(T.dp, true);
	T.dp = NULL;
	nftw(T.bpffs, rm_pin, 8, FTW_DEPTH | FTW_PHYS); /* whatever a failed open left */
	rmcg(T.cg_a);
	rmcg(T.cg_b);
	rmcg(T.cg_root);
	rmcg(T.cg_agent);
	rmcg(T.cg_other);
	rmcg(T.cg_base);
	close_fd(&T.netns_fd);
	close_fd(&T.self_ns_fd);
	sh("ip netns del %s 2>/dev/null", T.netns);
	free(T.pat);
	T.pat = NULL;
	return 0;
}

static int setup(void **state)
{
	int pid = getpid();
	uint64_t s = 0x9e3779b97f4a7c15ull;

	snprintf(T.netns, sizeof(T.netns), "skpa-%d", pid);
	snprintf(T.bpffs, sizeof(T.bpffs), "/sys/fs/bpf/skpa-%d", pid);
	snprintf(T.cg_base, sizeof(T.cg_base), "/sys/fs/cgroup/unified/skpa-%d", pid);
	snprintf(T.cg_root, sizeof(T.cg_root), "%s/kubepods", T.cg_base);
	snprintf(T.cg_a, sizeof(T.cg_a), "%s/poda", T.cg_root);
	snprintf(T.cg_b, sizeof(T.cg_b), "%s/podb", T.cg_root);
	snprintf(T.cg_agent, sizeof(T.cg_agent), "%s/agent", T.cg_base);
	snprintf(T.cg_other, sizeof(T.cg_other), "%s/other", T.cg_base);
	if (geteuid() != 0) {
		fprintf(stderr, "test_sock_punt_accel: needs root (BPF, cgroups, netns)\n");
		return -1;
	}
	T.pat = malloc(PAT_LEN);
	if (!T.pat)
		return -1;
	for (size_t i = 0; i < PAT_LEN; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		T.pat[i] = (unsigned char)s;
	}
	if (cgroups_up() || netns_up() || dp_up())
		goto out_fail;
	T.sockhash_fd = open_pin(SKIFF_MAP_SOCKHASH);
	T.stats_fd = open_pin(SKIFF_MAP_L4_STATS);
	T.addr_fd = open_pin(SKIFF_MAP_SK_ADDR);
	T.sk_state_fd = open_pin(SKIFF_MAP_SK_STATE);
	if (T.sockhash_fd < 0 || T.stats_fd < 0 || T.addr_fd < 0 || T.sk_state_fd < 0)
		goto out_fail;
	return 0;

out_fail:
	teardown(state);
	return -1;
}

/* ---------- cases ---------- */

/*
 * A punted client bound for another node, with skiffd's sockets under sockops and
 * SKIFF_PUNT_F_ACCEL: both ends join the sockhash, skiffd learns the client is fast and where it
 * was going, megabytes move intact both ways, and (A, skiffd) counts them exactly once (the
 * scrape leaves that pair to skiffd, which reports the connection with both ends).
 */
static void check_punt_fast(const char *a_ip, const char *r_ip, const char *node_ip)
{
	const size_t up = 8 << 20, down = 3 << 20;
	struct skiff_l4_stats b0 = l4_read(WL_A, SKIFF_WL_AGENT);
	int lfd;
	struct conn c;

	punt_set(SKIFF_PUNT_F_ON | SKIFF_PUNT_F_ACCEL);
	lfd = listener_open(T.cg_agent, node_ip, PUNT_PORT);
	c = punted_open(lfd, a_ip, r_ip);
	case_close(lfd);
	assert_true(punted_client_in_sockhash(&c));
	assert_true(in_sockhash(c.srv));
	/* both count under (A, skiffd): the client as the pod's end, skiffd's as its redirected
	 * bytes */
	assert_state(c.cli, SKIFF_SOCK_F_CLIENT | SKIFF_SOCK_F_ACCEL, WL_A, SKIFF_WL_AGENT);
	assert_state(c.srv, SKIFF_SOCK_F_AGENT | SKIFF_SOCK_F_ACCEL, WL_A, SKIFF_WL_AGENT);
	assert_int_equal(orig_take(&c, r_ip), 1);
	assert_true(redirected(exchange(&c, up, down)));
	conn_close(&c);
	assert_l4_exact(WL_A, SKIFF_WL_AGENT, &b0, up, down);
}

static void test_punt_fast_ipv4(void **state)
{
	(void)state;
	check_punt_fast(A4, R4, NODE4);
}

static void test_punt_fast_ipv6(void **state)
{
	(void)state;
	check_punt_fast(A6, R6, NODE6);
}

/*
 * Both directions busy when the pair falls back: skiffd's end writes past the cap while the
 * pod's end sends four times the cap and reads only at the end. skiffd's end falls back at the
 * cap and marks itself; the pod's writer, redirecting all along, sees the mark at a later
 * message. Neither end may leave the sockhash while a redirect from the other is still on its
 * way (the kernel frees a message queued to a psock that is going): every byte arrives, in
 * order, counted exactly, and both ends leave. Several rounds: a redirect is on its way for
 * microseconds at a time. The pod's writer keeps its last chunk back until skiffd's end wrote
 * past the cap: without that, a busy machine that starves skiffd's writer lets the pod's finish
 * first, and nothing falls back (a round where that happens shows no race, but the rounds where
 * skiffd's end falls back first, the usual order, have the pod's writer at full speed).
 */
static void test_punt_fallback_both_busy(void **state)
{
	const size_t cap = (size_t)dp_accel_queue_cap(), up = 4 * cap, down = cap + (2 << 20);
	const struct xfer gate = {.other_past = cap};
	int lfd;

	(void)state;
	punt_set(SKIFF_PUNT_F_ON | SKIFF_PUNT_F_ACCEL);
	lfd = listener_open(T.cg_agent, NODE4, PUNT_PORT);
	for (int i = 0; i < 3; i++) {
		struct skiff_l4_stats b0 = l4_read(WL_A, SKIFF_WL_AGENT), b1;
		struct conn c = punted_open(lfd, A4, R4);

		assert_true(punted_client_in_sockhash(&c));
		assert_true(in_sockhash(c.srv));
		assert_int_equal(orig_take(&c, R4), 1);
		assert_false(redirected(exchange_gated(&c, 0, up, down, &gate)));
		conn_close(&c);
		assert_l4_exact(WL_A, SKIFF_WL_AGENT, &b0, up, down);
		b1 = l4_read(WL_A, SKIFF_WL_AGENT);
		assert_true(b1.tcp_fallbacks > b0.tcp_fallbacks);
	}
	case_close(lfd);
}

/* Without SKIFF_PUNT_F_ACCEL (skiffd relays by splice): both ends stay on TCP, the client is
 * filed as not fast, and the bytes and counters are the same. */
static void test_punt_without_accel_flag(void **state)
{
	const size_t up = 4 << 20, down = 1 << 20;
	struct skiff_l4_stats b0 = l4_read(WL_A, SKIFF_WL_AGENT);
	int lfd;
	struct conn c;

	(void)state;
	punt_set(SKIFF_PUNT_F_ON);
	lfd = listener_open(T.cg_agent, NODE4, PUNT_PORT);
	c = punted_open(lfd, A4, R4);
	case_close(lfd);
	assert_false(punted_client_in_sockhash(&c));
	assert_false(in_sockhash(c.srv));
	assert_state(c.cli, SKIFF_SOCK_F_CLIENT, WL_A, SKIFF_WL_AGENT); /* still counted */
	assert_int_equal(orig_take(&c, R4), 0);
	assert_true(over_tcp(exchange(&c, up, down), up, down));
	conn_close(&c);
	assert_l4_exact(WL_A, SKIFF_WL_AGENT, &b0, up, down);
}

/* skiffd dials a pod of this node with SKIFF_MARK_AGENT: its end joins, so the pod's accepted
 * end joins too; (0, B) counts the connection exactly once. */
static void test_agent_dial_fast(void **state)
{
	const size_t up = 5 << 20, down = 3 << 20;
	struct skiff_l4_stats b0 = l4_read(0, WL_B);
	int lfd;
	struct conn c;

	(void)state;
	punt_set(SKIFF_PUNT_F_ON | SKIFF_PUNT_F_ACCEL);
	lfd = listener_open(T.cg_b, B4, 0);
	c = dial_open(lfd, true);
	case_close(lfd);
	assert_true(in_sockhash(c.cli));
	assert_true(in_sockhash(c.srv));
	assert_state(c.cli, SKIFF_SOCK_F_AGENT | SKIFF_SOCK_F_CLIENT | SKIFF_SOCK_F_ACCEL, 0, WL_B);
	assert_state(c.srv, SKIFF_SOCK_F_ACCEL, 0, WL_B);
	assert_true(redirected(exchange(&c, up, down)));
	conn_close(&c);
	assert_l4_exact(0, WL_B, &b0, up, down);
}

/* A dial skiffd filed for an HBONE stream: both ends count under (skiffd, B), which the scrape
 * leaves to skiffd's report of the stream, and the pod's end took the entry. */
static void test_agent_dial_filed(void **state)
{
	const size_t up = 2 << 20, down = 1 << 20;
	struct skiff_l4_stats b0 = l4_read(SKIFF_WL_AGENT, WL_B), z0 = l4_read(0, WL_B), z1;
	int lfd;
	struct conn c;

	(void)state;
	punt_set(SKIFF_PUNT_F_ON | SKIFF_PUNT_F_ACCEL);
	lfd = listener_open(T.cg_b, B4, 0);
	c = dial_open_filed(lfd, true, true);
	case_close(lfd);
	assert_state(c.cli, SKIFF_SOCK_F_AGENT | SKIFF_SOCK_F_CLIENT | SKIFF_SOCK_F_ACCEL,
		     SKIFF_WL_AGENT, WL_B);
	assert_state(c.srv, SKIFF_SOCK_F_ACCEL, SKIFF_WL_AGENT, WL_B);
	assert_true(redirected(exchange(&c, up, down)));
	conn_close(&c);
	assert_l4_exact(SKIFF_WL_AGENT, WL_B, &b0, up, down);
	z1 = l4_read(0, WL_B); /* nothing of it under (0, B): it is not counted twice */
	assert_true(z1.conns_opened == z0.conns_opened && z1.bytes_received == z0.bytes_received &&
		    z1.bytes_sent == z0.bytes_sent);
}

/* Without the mark it is one of skiffd's other sockets: neither end joins; B still counts it. */
static void test_agent_dial_unmarked(void **state)
{
	const size_t up = 1 << 20, down = 1 << 20;
	struct skiff_l4_stats b0 = l4_read(0, WL_B);
	int lfd;
	struct conn c;

	(void)state;
	punt_set(SKIFF_PUNT_F_ON | SKIFF_PUNT_F_ACCEL);
	lfd = listener_open(T.cg_b, B4, 0);
	c = dial_open(lfd, false);
	case_close(lfd);
	assert_false(in_sockhash(c.cli));
	assert_false(in_sockhash(c.srv));
	assert_true(over_tcp(exchange(&c, up, down), up, down));
	conn_close(&c);
	assert_l4_exact(0, WL_B, &b0, up, down);
}

/*
 * The client joins but skiffd's end never does (its listener belongs to a cgroup without
 * sockops): the client's first send finds no peer and marks it SKIFF_SOCK_F_NO_PEER, so every
 * byte goes over TCP, in order, both ways; the counters are still exact.
 */
static void test_punt_agent_end_not_in(void **state)
{
	const size_t head = 64 << 10, up = 4 << 20, down = 2 << 20;
	struct skiff_l4_stats b0 = l4_read(WL_A, SKIFF_WL_AGENT);
	__u32 flags;
	int lfd;
	struct conn c;

	(void)state;
	punt_set(SKIFF_PUNT_F_ON | SKIFF_PUNT_F_ACCEL);
	lfd = listener_open(T.cg_other, NODE4, PUNT_PORT);
	c = punted_open(lfd, A4, R4);
	case_close(lfd);
	assert_true(punted_client_in_sockhash(&c));
	assert_false(in_sockhash(c.srv));
	/* the kernel filed it fast at established: skiffd's end had not been seen yet */
	assert_int_equal(orig_take(&c, R4), 1);
	send_head(c.cli, head);
	/* before any FIN (see assert_state) */
	flags = SKIFF_SOCK_F_CLIENT | SKIFF_SOCK_F_ACCEL | SKIFF_SOCK_F_NO_PEER;
	assert_state(c.cli, flags, WL_A, SKIFF_WL_AGENT);
	assert_int_equal(sock_state(c.cli).redirected, 0);
	/* the rest follows the head over TCP, in order */
	assert_true(over_tcp(exchange_rest(&c, head, up, down), up - head, down));
	conn_close(&c);
	assert_l4_exact(WL_A, SKIFF_WL_AGENT, &b0, up, down);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_punt_fast_ipv4, case_cleanup),
	    cmocka_unit_test_teardown(test_punt_fast_ipv6, case_cleanup),
	    cmocka_unit_test_teardown(test_punt_fallback_both_busy, case_cleanup),
	    cmocka_unit_test_teardown(test_punt_without_accel_flag, case_cleanup),
	    cmocka_unit_test_teardown(test_agent_dial_fast, case_cleanup),
	    cmocka_unit_test_teardown(test_agent_dial_filed, case_cleanup),
	    cmocka_unit_test_teardown(test_agent_dial_unmarked, case_cleanup),
	    cmocka_unit_test_teardown(test_punt_agent_end_not_in, case_cleanup),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);

	printf("# blocking reads that returned EAGAIN with no data: %d\n", spurious_eagain);
	return rc;
}
