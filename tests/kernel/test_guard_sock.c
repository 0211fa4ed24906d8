// SPDX-License-Identifier: Apache-2.0
/*
 * The STRICT guard's socket check (guard_sock, cgroup skb ingress) on real sockets: it runs where
 * a pod's kernel hands a packet to a socket, after reassembly, and must see a real listener,
 * which BPF_PROG_TEST_RUN cannot give it (its socket is never one). test_guard runs the TC and
 * XDP programs frame by frame; this runs the third one as the kernel does.
 *
 *   this process's own network namespace (anonymous): sg-a 198.18.9.1/24, lo up
 *   skgd-<pid> (named, removed at the end): sg-b 198.18.9.2/24, the veth's other end
 *   cgroups /sys/fs/cgroup/unified/skgd-<pid>/pod: the pod, with guard_sock attached above it
 *
 * The pod's listener is made while this process sits in the pod's cgroup (a socket belongs to
 * the cgroup of the task that created it); the clients connect from the other namespace, so
 * their SYNs arrive on the veth, or from this one, over lo. Cases:
 *   - pod STRICT, SYN over the veth that the TC guard never filed: dropped, counted DROP_SOCK,
 *     the client's connect() does not complete;
 *   - the same SYN filed in skiff_guard_seen (as the TC guard files one it lets through): the
 *     connection opens, bytes flow both ways, the entry is taken out;
 *   - filed longer ago than SKIFF_GUARD_SEEN_NS: dropped, and the stale entry taken out;
 *   - over lo (the pod's own loopback): opens without an entry;
 *   - the pod enrolled without SKIFF_POD_F_STRICT, or not enrolled: opens;
 *   - a connection that is open keeps flowing (its segments are not SYNs; the listener is not
 *     their socket).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kernel/kernel_env.h"
#include "skiff/guard.h"
#include "skiff/lb.h"

#include "guard.skel.h"

#define POD_IP	 "198.18.9.1"
#define PEER_IP	 "198.18.9.2"
#define POD_PORT 9090
#define CLI_PORT 43000 /* the client's source port where the case files its 4-tuple */

static struct {
	struct guard *skel;
	struct bpf_link *link;
	char ns[32], cg_base[128], cg_pod[160], home[512];
	int self_ns, peer_ns, enrolled_fd, seen_fd, stats_fd, ncpu;
	uint64_t cgid;
	uint64_t *percpu;
} S = {.self_ns = -1, .peer_ns = -1};

/* ---------- maps and sockets ---------- */

static uint64_t drops(void)
{
	uint32_t k = SKIFF_GUARD_DROP_SOCK;
	uint64_t sum = 0;

	assert_int_equal(bpf_map_lookup_elem(S.stats_fd, &k, S.percpu), 0);
	for (int c = 0; c < S.ncpu; c++)
		sum += S.percpu[c];
	return sum;
}

static void pod_enroll(bool enrolled, uint32_t flags)
{
	struct skiff_pod pod = {.workload_id = 1, .flags = flags};

	if (enrolled)
		assert_int_equal(bpf_map_update_elem(S.enrolled_fd, &S.cgid, &pod, BPF_ANY), 0);
	else
		bpf_map_delete_elem(S.enrolled_fd, &S.cgid);
}

static struct skiff_flow_key flow_key(uint16_t sport)
{
	struct skiff_flow_key k = {
	    .family = SKIFF_AF_INET, .sport = htons(sport), .dport = htons(POD_PORT)};

	inet_pton(AF_INET, PEER_IP, &k.saddr);
	inet_pton(AF_INET, POD_IP, &k.daddr);
	return k;
}

/* The pod's listener, made in the pod's cgroup. */
static int pod_listen(void)
{
	struct sockaddr_storage ss;
	int one = 1, fd;

	cg_enter(S.cg_pod);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cg_enter(S.home);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, sa_make(POD_IP, POD_PORT, &ss)), 0);
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}

/* A non-blocking client socket in the peer namespace (or this one, for lo), bound to `sport`
 * (0: any), its connect() to the pod started. */
static int client_start(bool peer, uint16_t sport)
{
	struct sockaddr_storage ss;
	int one = 1, fd;

	if (peer)
		assert_int_equal(setns(S.peer_ns, CLONE_NEWNET), 0);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (peer)
		assert_int_equal(setns(S.self_ns, CLONE_NEWNET), 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(
	    bind(fd, (struct sockaddr *)&ss, sa_make(peer ? PEER_IP : POD_IP, sport, &ss)), 0);
	assert_true(connect(fd, (struct sockaddr *)&ss, sa_make(POD_IP, POD_PORT, &ss)) == 0 ||
		    errno == EINPROGRESS);
	return fd;
}

/* Did the connect() complete within `ms`? */
static bool connected_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	socklen_t len = sizeof(int);
	int err = 0;

	if (poll(&p, 1, ms) != 1)
		return false;
	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
	return err == 0;
}

/* Bytes both ways over an opened connection: the segments after the SYN pass. */
static void exchange(int lfd, int cfd)
{
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	struct timeval tv = {.tv_sec = 5};
	char buf[8];
	int sfd;

	assert_int_equal(poll(&p, 1, 5000), 1);
	sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(sfd >= 0);
	assert_int_equal(fcntl(cfd, F_SETFL, 0), 0);
	setsockopt(sfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(send(cfd, "ping", 4, 0), 4);
	assert_int_equal(recv(sfd, buf, sizeof(buf), MSG_WAITALL), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(send(sfd, "pong", 4, 0), 4);
	assert_int_equal(recv(cfd, buf, 4, MSG_WAITALL), 4);
	assert_memory_equal(buf, "pong", 4);
	close(sfd);
}

/* ---------- cases ---------- */

static void test_strict_unfiled_syn_dropped(void **state)
{
	uint64_t d0 = drops();
	int lfd, cfd;

	(void)state;
	pod_enroll(true, SKIFF_POD_F_STRICT);
	lfd = pod_listen();
	cfd = client_start(true, 0);
	assert_false(connected_within(cfd, 1500));
	assert_true(drops() > d0);
	close(cfd);
	close(lfd);
}

/* bpf_ktime_get_ns()'s clock, as the TC guard stamps its entries */
static uint64_t ktime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void test_strict_filed_syn_opens(void **state)
{
	struct skiff_flow_key k = flow_key(CLI_PORT);
	uint64_t now = ktime_ns(), v, d0 = drops();
	int lfd, cfd;

	(void)state;
	pod_enroll(true, SKIFF_POD_F_STRICT);
	assert_int_equal(bpf_map_update_elem(S.seen_fd, &k, &now, BPF_ANY), 0);
	lfd = pod_listen();
	cfd = client_start(true, CLI_PORT);
	assert_true(connected_within(cfd, 5000));
	exchange(lfd, cfd);
	assert_int_equal(drops(), d0);
	/* taken out: the same 4-tuple's next SYN is not let in by this one */
	assert_int_not_equal(bpf_map_lookup_elem(S.seen_fd, &k, &v), 0);
	close(cfd);
	close(lfd);
}

/* An entry older than SKIFF_GUARD_SEEN_NS is one whose SYN never reached the socket check (the
 * pod's stack dropped it): it lets no later SYN of the same 4-tuple in, and goes. */
static void test_strict_stale_filing_dropped(void **state)
{
	struct skiff_flow_key k = flow_key(CLI_PORT + 1);
	uint64_t then = ktime_ns() - SKIFF_GUARD_SEEN_NS - 1000000000ULL, v, d0 = drops();
	int lfd, cfd;

	(void)state;
	pod_enroll(true, SKIFF_POD_F_STRICT);
	assert_int_equal(bpf_map_update_elem(S.seen_fd, &k, &then, BPF_ANY), 0);
	lfd = pod_listen();
	cfd = client_start(true, CLI_PORT + 1);
	assert_false(connected_within(cfd, 1500));
	assert_true(drops() > d0);
	assert_int_not_equal(bpf_map_lookup_elem(S.seen_fd, &k, &v), 0);
	close(cfd);
	close(lfd);
}

static void test_strict_over_loopback(void **state)
{
	uint64_t d0 = drops();
	int lfd, cfd;

	(void)state;
	pod_enroll(true, SKIFF_POD_F_STRICT);
	lfd = pod_listen();
	cfd = client_start(false, 0);
	assert_true(connected_within(cfd, 5000));
	exchange(lfd, cfd);
	assert_int_equal(drops(), d0);
	close(cfd);
	close(lfd);
}

static void test_not_strict_opens(void **state)
{
	uint64_t d0 = drops();

	(void)state;
	for (int enrolled = 0; enrolled < 2; enrolled++) {
		int lfd, cfd;

		pod_enroll(enrolled, 0);
		lfd = pod_listen();
		cfd = client_start(true, 0);
		assert_true(connected_within(cfd, 5000));
		exchange(lfd, cfd);
		close(cfd);
		close(lfd);
	}
	assert_int_equal(drops(), d0);
}

/* ---------- setup ---------- */

static int net_up(void)
{
	char path[64];

	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "test_guard_sock: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	S.self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	snprintf(S.ns, sizeof(S.ns), "skgd-%d", getpid());
	if (S.self_ns < 0 || sh("ip netns add %s", S.ns))
		return -1;
	snprintf(path, sizeof(path), "/var/run/netns/%s", S.ns);
	S.peer_ns = open(path, O_RDONLY | O_CLOEXEC);
	if (S.peer_ns < 0 || sh("ip link add sg-a type veth peer name sg-b") ||
	    sh("ip link set sg-b netns %s", S.ns) || sh("ip link set lo up") ||
	    sh("ip addr add %s/24 dev sg-a && ip link set sg-a up", POD_IP) ||
	    sh("ip -n %s addr add %s/24 dev sg-b && ip -n %s link set sg-b up", S.ns, PEER_IP,
	       S.ns) ||
	    sh("ip -n %s link set lo up", S.ns))
		return -1;
	return 0;
}

static int cgroups_up(void)
{
	int fd;

	snprintf(S.cg_base, sizeof(S.cg_base), "/sys/fs/cgroup/unified/skgd-%d", getpid());
	snprintf(S.cg_pod, sizeof(S.cg_pod), "%s/pod", S.cg_base);
	if (cg_home(S.home, sizeof(S.home)) || mkcg(S.cg_base, NULL) || mkcg(S.cg_pod, &S.cgid))
		return -1;
	fd = open(S.cg_base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	S.link = bpf_program__attach_cgroup(S.skel->progs.guard_sock, fd);
	close(fd);
	if (!S.link) {
		fprintf(stderr, "test_guard_sock: cannot attach guard_sock: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	bpf_link__destroy(S.link);
	S.link = NULL;
	if (S.cg_base[0]) {
		cg_move(S.home);
		rmcg_kill(S.cg_pod);
		rmcg(S.cg_base);
	}
	guard__destroy(S.skel);
	S.skel = NULL;
	if (S.ns[0])
		sh("ip netns del %s 2>/dev/null", S.ns);
	if (S.peer_ns >= 0)
		close(S.peer_ns);
	if (S.self_ns >= 0)
		close(S.self_ns);
	free(S.percpu);
	return 0;
}

static int setup(void **state)
{
	struct bpf_map *map;

	if (geteuid() != 0) {
		fprintf(stderr, "test_guard_sock: needs root (BPF, cgroups, network namespaces)\n");
		return -1;
	}
	S.ncpu = libbpf_num_possible_cpus();
	S.percpu = calloc(S.ncpu > 0 ? (size_t)S.ncpu : 1, sizeof(*S.percpu));
	S.skel = guard__open();
	if (S.ncpu <= 0 || !S.percpu || !S.skel)
		goto fail;
	bpf_object__for_each_map(map, S.skel->obj)
	    bpf_map__set_pin_path(map, NULL); /* no pinning under /sys/fs/bpf */
	if (guard__load(S.skel)) {
		fprintf(stderr, "test_guard_sock: cannot load the guard\n");
		goto fail;
	}
	S.enrolled_fd = bpf_map__fd(S.skel->maps.skiff_enrolled);
	S.seen_fd = bpf_map__fd(S.skel->maps.skiff_guard_seen);
	S.stats_fd = bpf_map__fd(S.skel->maps.skiff_guard_stats);
	if (net_up() || cgroups_up())
		goto fail;
	return 0;
fail:
	teardown(state);
	return -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strict_unfiled_syn_dropped),
	    cmocka_unit_test(test_strict_filed_syn_opens),
	    cmocka_unit_test(test_strict_stale_filing_dropped),
	    cmocka_unit_test(test_strict_over_loopback),
	    cmocka_unit_test(test_not_strict_opens),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
