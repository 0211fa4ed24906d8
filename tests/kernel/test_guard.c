// SPDX-License-Identifier: Apache-2.0
/*
 * The STRICT guard (bpf/guard.bpf.c) packet by packet: frames built by hand (pkt_build.h) run
 * with BPF_PROG_TEST_RUN through both programs, guard_pod (TC, on a pod's veth) and
 * guard_uplink (XDP, on the node's uplink), against maps filled as skiffd fills them. Each case
 * checks the verdict, the one per-CPU counter that must move (summed over CPUs; no other may),
 * and that the frame comes out as it went in.
 *
 * skiff_mtls (SKIFF_MTLS_F_STRICT_ANY set by compile_mtls_mark_strict_any, as for skiffd):
 *   S 198.18.1.10, 2001:db8:1::10   STRICT, port 15021 PERMISSIVE
 *   P 198.18.1.20, 2001:db8:1::20   PERMISSIVE
 *   Q 198.18.1.30, 2001:db8:1::30   PERMISSIVE, port 8080 STRICT
 *   D 198.18.1.40                   DISABLE
 *   U 198.18.1.99, 2001:db8:1::99   not in the map
 * skiff_auth_flows: 198.18.2.7:41000 -> S:80, [2001:db8:2::7]:41000 -> S:80,
 *   [fe80::7]:42000 -> [fe80::10]:80 (S's link-local address)
 * skiff_guard_ifaces: veths in a network namespace of this process's own, gone when it exits
 *   however it exits: gd-s -> S (by 198.18.1.10), gd-p -> P (by 198.18.1.20),
 *   gd-q -> Q (by 2001:db8:1::30), gd-u not listed
 *
 * Nothing is pinned: the skeleton's maps are loaded with pinning off.
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "compile/compile_internal.h"
#include "kernel/kernel_env.h"
#include "kernel/pkt_build.h"
#include "skiff/events.h"
#include "skiff/guard.h"

#include "guard.skel.h"

#define S4  "198.18.1.10"
#define S6  "2001:db8:1::10"
#define P4  "198.18.1.20"
#define P6  "2001:db8:1::20"
#define Q4  "198.18.1.30"
#define Q6  "2001:db8:1::30"
#define D4  "198.18.1.40"
#define U4  "198.18.1.99"
#define U6  "2001:db8:1::99"
#define C4  "198.18.2.7" /* a client, on this node or off it */
#define C6  "2001:db8:2::7"
#define LL  "fe80::10" /* S's link-local address */
#define CLL "fe80::7"  /* the node side's link-local address */

#define HEALTH_PORT  15021 /* S: PERMISSIVE on this port */
#define STRICT_PORT  8080  /* Q: STRICT on this port only */
#define SPORT	     40000 /* a client's source port, in no flow */
#define FLOW_SPORT   41000 /* the source port of the same-node flows in skiff_auth_flows */
#define LL_FLOW_PORT 42000 /* ... of the link-local one */

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

/* The veth a TC case's packet leaves on; XDP cases decide by address alone. */
enum via { VIA_LO, VIA_S, VIA_P, VIA_Q, VIA_UNLISTED, VIA_N };

static const char *const via_names[VIA_N] = {"lo", "gd-s", "gd-p", "gd-q", "gd-u"};

static struct {
	struct guard *skel;
	int mtls_fd, flows_fd, cfg_fd, stats_fd, ifaces_fd;
	int ifindex[VIA_N]; /* VIA_LO stays 0: the namespace's lo */
	int ncpu;
	uint64_t *percpu;
} G;

/* ---------- cases ---------- */

enum act { ACT_UNSET, ACT_PASS, ACT_DROP };

/* What one program must do with a frame: an action, and the verdict counter that moves
 * (stored plus 1; 0: none). One int, so that a case table reads `.tc = DROPPED(DROP_TC)`. */
#define EXPECT(act, counter) ((act) << 8 | (counter))
#define QUIET		     EXPECT(ACT_PASS, 0)
#define PASSED(v)	     EXPECT(ACT_PASS, SKIFF_GUARD_##v + 1)
#define DROPPED(v)	     EXPECT(ACT_DROP, SKIFF_GUARD_##v + 1)

static enum act expect_act(int e)
{
	return (enum act)(e >> 8);
}

/* The verdict whose counter moves, or -1. */
static int expect_verdict(int e)
{
	return (e & 0xff) - 1;
}

struct gcase {
	const char *name;
	struct pkt pkt; /* src: the client of dst's family when NULL; sport: SPORT when 0 */
	uint32_t mark;	/* TC: skb->mark */
	enum via via;	/* TC: skb->ifindex */
	int may_refuse; /* REFUSE_*: a frame the kernel may refuse to run at all (EINVAL) */
	int tc, xdp;	/* EXPECT() */
};

#define REFUSE_TC  1
#define REFUSE_XDP 2

#define TCP(dst_, port_, flags_)                                                                   \
	.dst = (dst_), .proto = IPPROTO_TCP, .dport = (port_), .tcp_flags = (flags_)
#define SYN(dst_, port_) TCP(dst_, port_, PKT_B_SYN)

static const char *const verdict_names[SKIFF_GUARD_VERDICTS] = {
    [SKIFF_GUARD_PASS_MODE] = "PASS_MODE",
    [SKIFF_GUARD_PASS_AGENT] = "PASS_AGENT",
    [SKIFF_GUARD_PASS_FLOW] = "PASS_FLOW",
    [SKIFF_GUARD_PASS_PROBE] = "PASS_PROBE",
    [SKIFF_GUARD_DROP_TC] = "DROP_TC",
    [SKIFF_GUARD_DROP_XDP] = "DROP_XDP",
    [SKIFF_GUARD_DROP_TC_FRAG] = "DROP_TC_FRAG",
    [SKIFF_GUARD_DROP_XDP_FRAG] = "DROP_XDP_FRAG",
    [SKIFF_GUARD_DROP_TC_UNPARSED] = "DROP_TC_UNPARSED",
    [SKIFF_GUARD_DROP_XDP_UNPARSED] = "DROP_XDP_UNPARSED",
};

/* ---------- running a frame ---------- */

/* Each verdict's count, summed over the CPUs. */
static int stats_sum(uint64_t sum[SKIFF_GUARD_VERDICTS])
{
	for (uint32_t k = 0; k < SKIFF_GUARD_VERDICTS; k++) {
		if (bpf_map_lookup_elem(G.stats_fd, &k, G.percpu))
			return -errno;
		sum[k] = 0;
		for (int c = 0; c < G.ncpu; c++)
			sum[k] += G.percpu[c];
	}
	return 0;
}

struct run {
	int err; /* -errno of BPF_PROG_TEST_RUN */
	uint32_t retval;
	uint64_t delta[SKIFF_GUARD_VERDICTS];
	bool untouched; /* the frame came out as it went in */
};

static void prog_run(int prog_fd, bool tc, const uint8_t *frame, size_t len, uint32_t mark,
		     int ifindex, struct run *r)
{
	struct __sk_buff skb = {.mark = mark, .ifindex = (uint32_t)ifindex};
	uint8_t out[PKT_B_MAX];
	uint64_t before[SKIFF_GUARD_VERDICTS], after[SKIFF_GUARD_VERDICTS];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (uint32_t)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	memset(r, 0, sizeof(*r));
	if (tc) {
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
	}
	r->err = stats_sum(before);
	if (r->err)
		return;
	if (bpf_prog_test_run_opts(prog_fd, &o))
		r->err = -errno;
	if (stats_sum(after) && !r->err)
		r->err = -errno;
	for (int k = 0; k < SKIFF_GUARD_VERDICTS; k++)
		r->delta[k] = after[k] - before[k];
	r->retval = o.retval;
	r->untouched = o.data_size_out == len && !memcmp(out, frame, len);
}

static const char *act_name(enum act a)
{
	return a == ACT_PASS ? "pass" : a == ACT_DROP ? "drop" : "?";
}

static const char *verdict_name(int v)
{
	return v >= 0 ? verdict_names[v] : "no counter";
}

/* Does run r meet `want`? Says what differs, for the case named `name`, when it does not. */
static bool run_check(const char *name, const char *hook, bool may_refuse, const struct run *r,
		      uint32_t pass_ret, uint32_t drop_ret, int want)
{
	uint32_t ret = expect_act(want) == ACT_DROP ? drop_ret : pass_ret;
	int verdict = expect_verdict(want);
	bool ok = true;

	if (expect_act(want) == ACT_UNSET) {
		printf("# FAIL %s: %s: the case says nothing of this program\n", name, hook);
		return false;
	}
	if (r->err == -EINVAL && may_refuse) {
		for (int k = 0; k < SKIFF_GUARD_VERDICTS; k++)
			ok &= !r->delta[k];
		return ok;
	}
	if (r->err) {
		printf("# FAIL %s: %s: BPF_PROG_TEST_RUN: %s\n", name, hook, strerror(-r->err));
		return false;
	}
	if (r->retval != ret) {
		printf("# FAIL %s: %s returned %u, want %u (%s)\n", name, hook, r->retval, ret,
		       act_name(expect_act(want)));
		ok = false;
	}
	for (int k = 0; k < SKIFF_GUARD_VERDICTS; k++) {
		uint64_t want_n = verdict == k;

		if (r->delta[k] != want_n) {
			printf("# FAIL %s: %s: %s moved by %llu, want %llu (expected: %s)\n", name,
			       hook, verdict_names[k], (unsigned long long)r->delta[k],
			       (unsigned long long)want_n, verdict_name(verdict));
			ok = false;
		}
	}
	if (!r->untouched) {
		printf("# FAIL %s: %s changed the frame\n", name, hook);
		ok = false;
	}
	return ok;
}

static const char *client_of(const char *dst)
{
	if (!strncmp(dst, "fe80:", 5))
		return CLL;
	return pkt_b_family(dst) == AF_INET6 ? C6 : C4;
}

/* What a program did, for the case list: the expectation it met, or that it did not run. */
static void outcome(char *buf, size_t size, const struct run *r, int e)
{
	if (r->err)
		snprintf(buf, size, "refused by the kernel");
	else
		snprintf(buf, size, "%s (%s)", act_name(expect_act(e)),
			 verdict_name(expect_verdict(e)));
}

/* One case through both programs; false (and why, printed) when either does otherwise. */
static bool case_run(const struct gcase *c)
{
	struct pkt p = c->pkt;
	uint8_t frame[PKT_B_MAX];
	char tc_out[64], xdp_out[64];
	struct run tc, xdp;
	size_t len;
	bool ok;

	if (p.dst && !p.src)
		p.src = client_of(p.dst);
	if ((p.proto == IPPROTO_TCP || p.proto == IPPROTO_UDP) && !p.sport)
		p.sport = SPORT;
	len = pkt_build(&p, frame);
	prog_run(bpf_program__fd(G.skel->progs.guard_pod), true, frame, len, c->mark,
		 G.ifindex[c->via], &tc);
	prog_run(bpf_program__fd(G.skel->progs.guard_uplink), false, frame, len, 0, 0, &xdp);
	ok =
	    run_check(c->name, "tc", c->may_refuse & REFUSE_TC, &tc, TC_ACT_OK, TC_ACT_SHOT, c->tc);
	ok &=
	    run_check(c->name, "xdp", c->may_refuse & REFUSE_XDP, &xdp, XDP_PASS, XDP_DROP, c->xdp);
	if (ok) {
		outcome(tc_out, sizeof(tc_out), &tc, c->tc);
		outcome(xdp_out, sizeof(xdp_out), &xdp, c->xdp);
		printf("#   %-70s tc on %s: %s; xdp: %s\n", c->name, via_names[c->via], tc_out,
		       xdp_out);
	}
	return ok;
}

#define CASES_RUN(table)                                                                           \
	do {                                                                                       \
		int failed_ = 0;                                                                   \
		for (size_t i_ = 0; i_ < sizeof(table) / sizeof(table[0]); i_++)                   \
			failed_ += !case_run(&(table)[i_]);                                        \
		fflush(stdout); /* the case lines before cmocka's verdict */                       \
		if (failed_)                                                                       \
			fail_msg("%d of %zu cases failed (FAIL lines above)", failed_,             \
				 sizeof(table) / sizeof(table[0]));                                \
	} while (0)

/* ---------- IPv4 ---------- */

static const struct gcase ipv4_syn[] = {
    {"v4 SYN to a STRICT pod", {SYN(S4, 80)}, .tc = DROPPED(DROP_TC), .xdp = DROPPED(DROP_XDP)},
    {"v4 SYN to a PERMISSIVE pod", {SYN(P4, 80)}, .tc = PASSED(PASS_MODE), .xdp = QUIET},
    {"v4 SYN to a DISABLE pod", {SYN(D4, 80)}, .tc = PASSED(PASS_MODE), .xdp = QUIET},
    {"v4 SYN to an address not in skiff_mtls",
     {SYN(U4, 80)},
     .tc = PASSED(PASS_MODE),
     .xdp = QUIET},
    {"v4 SYN to a STRICT pod's PERMISSIVE port",
     {SYN(S4, HEALTH_PORT)},
     .tc = PASSED(PASS_MODE),
     .xdp = QUIET},
    {"v4 SYN to the STRICT port of a pod PERMISSIVE by default",
     {SYN(Q4, STRICT_PORT)},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    {"v4 SYN to another port of that pod", {SYN(Q4, 80)}, .tc = PASSED(PASS_MODE), .xdp = QUIET},
    {"v4 SYN+ACK to a STRICT pod", {TCP(S4, 80, PKT_B_SYN | PKT_B_ACK)}, .tc = QUIET, .xdp = QUIET},
    {"v4 ACK to a STRICT pod", {TCP(S4, 80, PKT_B_ACK)}, .tc = QUIET, .xdp = QUIET},
    {"v4 PSH+ACK to a STRICT pod", {TCP(S4, 80, PKT_B_PSH | PKT_B_ACK)}, .tc = QUIET, .xdp = QUIET},
    {"v4 RST to a STRICT pod", {TCP(S4, 80, PKT_B_RST)}, .tc = QUIET, .xdp = QUIET},
    {"v4 FIN+ACK to a STRICT pod", {TCP(S4, 80, PKT_B_FIN | PKT_B_ACK)}, .tc = QUIET, .xdp = QUIET},
    /* the ECN bits sit in the same byte: a SYN asking for ECN is still a SYN */
    {"v4 SYN+ECE+CWR to a STRICT pod",
     {TCP(S4, 80, PKT_B_SYN | PKT_B_ECE | PKT_B_CWR)},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    /* skiffd's own connections never cross the uplink: XDP does not look at marks */
    {"v4 SYN with skiffd's mark to a STRICT pod",
     {SYN(S4, 80)},
     .mark = SKIFF_MARK_AGENT,
     .tc = PASSED(PASS_AGENT),
     .xdp = DROPPED(DROP_XDP)},
    {"v4 SYN with another mark to a STRICT pod",
     {SYN(S4, 80)},
     .mark = SKIFF_MARK_AGENT + 1,
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    /* same-node flows never cross the uplink either */
    {"v4 SYN of a same-node mesh flow (skiff_auth_flows)",
     {SYN(S4, 80), .sport = FLOW_SPORT},
     .tc = PASSED(PASS_FLOW),
     .xdp = DROPPED(DROP_XDP)},
    {"v4 SYN of that flow's client from another port",
     {SYN(S4, 80), .sport = FLOW_SPORT + 1},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    {"v4 SYN of that flow's client and port to another port",
     {SYN(S4, 81), .sport = FLOW_SPORT},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    {"v4 SYN of that flow from another client",
     {SYN(S4, 80), .src = U4, .sport = FLOW_SPORT},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
};

static void test_ipv4_syn(void **state)
{
	(void)state;
	CASES_RUN(ipv4_syn);
}

#define NOP4  "\x01\x01\x01\x01"
#define NOP40 NOP4 NOP4 NOP4 NOP4 NOP4 NOP4 NOP4 NOP4 NOP4 NOP4
/* timestamp option (68), 12 bytes: pointer 5, two empty slots */
#define TS12	 "\x44\x0c\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00"
#define OPTS(s)	 .opts = (s), .optlen = sizeof(s) - 1
#define L4_AT(n) (14 + (n)) /* frame offset of what follows an IP header of n bytes */

static const struct gcase ipv4_header[] = {
    {"v4 SYN with 4 NOP options (ihl 6) to a STRICT pod",
     {SYN(S4, 80), OPTS(NOP4)},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    {"v4 SYN with a timestamp option (ihl 8) to a STRICT pod",
     {SYN(S4, 80), OPTS(TS12)},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    {"v4 SYN with 40 bytes of options (ihl 15) to a STRICT pod",
     {SYN(S4, 80), OPTS(NOP40)},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    {"v4 SYN with options to a PERMISSIVE pod",
     {SYN(P4, 80), OPTS(TS12)},
     .tc = PASSED(PASS_MODE),
     .xdp = QUIET},
    {"v4 SYN+ACK with options to a STRICT pod",
     {TCP(S4, 80, PKT_B_SYN | PKT_B_ACK), OPTS(TS12)},
     .tc = QUIET,
     .xdp = QUIET},
    {"v4 ihl 15, frame ends inside the TCP header, STRICT pod",
     {SYN(S4, 80), OPTS(NOP40), .len = L4_AT(60) + 12},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v4 SYN cut short after 12 bytes of TCP, STRICT pod",
     {SYN(S4, 80), .l4len = 12},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v4 SYN cut short after 12 bytes of TCP, PERMISSIVE pod",
     {SYN(P4, 80), .l4len = 12},
     .tc = QUIET,
     .xdp = QUIET},
    {"v4 ihl 4 to a STRICT pod",
     {SYN(S4, 80), .ihl = 4},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v4 ihl 0 to a STRICT pod",
     {SYN(S4, 80), .ihl = PKT_B_IHL0},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v4 ihl 4 to a PERMISSIVE pod", {SYN(P4, 80), .ihl = 4}, .tc = QUIET, .xdp = QUIET},
    {"v4 ihl 4 to the pod STRICT on one port",
     {SYN(Q4, 80), .ihl = 4},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"version 6 in an IPv4 ethertype, to a STRICT pod",
     {SYN(S4, 80), .version = 6},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v4 GRE (47) to a STRICT pod",
     {.dst = S4, .proto = 47},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v4 IP-in-IP (4) to a STRICT pod",
     {.dst = S4, .proto = 4},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v4 ESP (50) to a STRICT pod",
     {.dst = S4, .proto = 50},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v4 AH (51) to a STRICT pod",
     {.dst = S4, .proto = 51},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v4 SCTP (132) to a STRICT pod",
     {.dst = S4, .proto = 132},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v4 GRE to the pod STRICT on one port",
     {.dst = Q4, .proto = 47},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v4 GRE to a PERMISSIVE pod", {.dst = P4, .proto = 47}, .tc = QUIET, .xdp = QUIET},
    {"v4 GRE to an address not in skiff_mtls", {.dst = U4, .proto = 47}, .tc = QUIET, .xdp = QUIET},
    {"v4 UDP to a STRICT pod",
     {.dst = S4, .proto = IPPROTO_UDP, .dport = 53},
     .tc = QUIET,
     .xdp = QUIET},
    {"v4 ICMP echo to a STRICT pod",
     {.dst = S4, .proto = IPPROTO_ICMP, .icmp_type = 8},
     .tc = QUIET,
     .xdp = QUIET},
    {"v4 IGMP to a STRICT pod", {.dst = S4, .proto = IPPROTO_IGMP}, .tc = QUIET, .xdp = QUIET},
};

static void test_ipv4_header(void **state)
{
	(void)state;
	CASES_RUN(ipv4_header);
}

/* frag_off values: MF, and offsets in 8-byte units */
#define FIRST  PKT_B_IP_MF
#define MIDDLE (PKT_B_IP_MF | 1)
#define LAST   2

static const struct gcase ipv4_fragments[] = {
    {"v4 first fragment holding a whole SYN, STRICT pod",
     {SYN(S4, 80), .frag_off = FIRST},
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = DROPPED(DROP_XDP_FRAG)},
    {"v4 first fragment with 8 bytes of TCP, STRICT pod",
     {SYN(S4, 80), .frag_off = FIRST, .l4len = 8},
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = DROPPED(DROP_XDP_FRAG)},
    {"v4 middle TCP fragment, STRICT pod",
     {.dst = S4, .proto = IPPROTO_TCP, .frag_off = MIDDLE, .raw = 8},
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = DROPPED(DROP_XDP_FRAG)},
    {"v4 last TCP fragment, STRICT pod",
     {.dst = S4, .proto = IPPROTO_TCP, .frag_off = LAST, .raw = 8},
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = DROPPED(DROP_XDP_FRAG)},
    {"v4 first fragment holding a whole SYN, pod STRICT on one port",
     {SYN(Q4, 80), .frag_off = FIRST},
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = DROPPED(DROP_XDP_FRAG)},
    {"v4 first fragment with 8 bytes of TCP, pod STRICT on one port",
     {SYN(Q4, 80), .frag_off = FIRST, .l4len = 8},
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = DROPPED(DROP_XDP_FRAG)},
    {"v4 middle TCP fragment, pod STRICT on one port",
     {.dst = Q4, .proto = IPPROTO_TCP, .frag_off = MIDDLE, .raw = 8},
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = DROPPED(DROP_XDP_FRAG)},
    {"v4 last TCP fragment, pod STRICT on one port",
     {.dst = Q4, .proto = IPPROTO_TCP, .frag_off = LAST, .raw = 8},
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = DROPPED(DROP_XDP_FRAG)},
    {"v4 first fragment holding a whole SYN, PERMISSIVE pod",
     {SYN(P4, 80), .frag_off = FIRST},
     .tc = QUIET,
     .xdp = QUIET},
    {"v4 first fragment with 8 bytes of TCP, PERMISSIVE pod",
     {SYN(P4, 80), .frag_off = FIRST, .l4len = 8},
     .tc = QUIET,
     .xdp = QUIET},
    {"v4 middle TCP fragment, PERMISSIVE pod",
     {.dst = P4, .proto = IPPROTO_TCP, .frag_off = MIDDLE, .raw = 8},
     .tc = QUIET,
     .xdp = QUIET},
    {"v4 last TCP fragment, PERMISSIVE pod",
     {.dst = P4, .proto = IPPROTO_TCP, .frag_off = LAST, .raw = 8},
     .tc = QUIET,
     .xdp = QUIET},
    {"v4 TCP fragment to an address not in skiff_mtls",
     {SYN(U4, 80), .frag_off = FIRST},
     .tc = QUIET,
     .xdp = QUIET},
    /* the protocol is part of the IPv4 reassembly key: UDP fragments stay UDP */
    {"v4 UDP first fragment, STRICT pod",
     {.dst = S4, .proto = IPPROTO_UDP, .dport = 53, .frag_off = FIRST},
     .tc = QUIET,
     .xdp = QUIET},
    {"v4 UDP non-first fragment, STRICT pod",
     {.dst = S4, .proto = IPPROTO_UDP, .frag_off = LAST, .raw = 8},
     .tc = QUIET,
     .xdp = QUIET},
};

static void test_ipv4_fragments(void **state)
{
	(void)state;
	CASES_RUN(ipv4_fragments);
}

/* ---------- IPv6 ---------- */

#define HBH PKT_HBH
#define DST PKT_DST
#define RT  PKT_RT
#define AH  PKT_AH
#define CHAIN8                                                                                     \
	{HBH}, {DST}, {DST}, {DST}, {DST}, {DST}, {DST},                                           \
	{                                                                                          \
		DST                                                                                \
	}
#define L4_AT6(n) (14 + 40 + (n)) /* frame offset after n bytes of extension headers */

static const struct gcase ipv6_chain[] = {
    {"v6 SYN to a STRICT pod", {SYN(S6, 80)}, .tc = DROPPED(DROP_TC), .xdp = DROPPED(DROP_XDP)},
    {"v6 SYN to a PERMISSIVE pod", {SYN(P6, 80)}, .tc = PASSED(PASS_MODE), .xdp = QUIET},
    {"v6 SYN to an address not in skiff_mtls",
     {SYN(U6, 80)},
     .tc = PASSED(PASS_MODE),
     .xdp = QUIET},
    {"v6 SYN to a STRICT pod's PERMISSIVE port",
     {SYN(S6, HEALTH_PORT)},
     .tc = PASSED(PASS_MODE),
     .xdp = QUIET},
    {"v6 SYN to the STRICT port of a pod PERMISSIVE by default",
     {SYN(Q6, STRICT_PORT)},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    {"v6 SYN+ACK to a STRICT pod", {TCP(S6, 80, PKT_B_SYN | PKT_B_ACK)}, .tc = QUIET, .xdp = QUIET},
    {"v6 RST to a STRICT pod", {TCP(S6, 80, PKT_B_RST)}, .tc = QUIET, .xdp = QUIET},
    {"v6 SYN with skiffd's mark to a STRICT pod",
     {SYN(S6, 80)},
     .mark = SKIFF_MARK_AGENT,
     .tc = PASSED(PASS_AGENT),
     .xdp = DROPPED(DROP_XDP)},
    {"v6 SYN of a same-node mesh flow (skiff_auth_flows)",
     {SYN(S6, 80), .sport = FLOW_SPORT},
     .tc = PASSED(PASS_FLOW),
     .xdp = DROPPED(DROP_XDP)},
    {"v6 SYN behind hop-by-hop, STRICT pod",
     {SYN(S6, 80), .ext = {{HBH}}},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    {"v6 SYN behind destination options, STRICT pod",
     {SYN(S6, 80), .ext = {{DST}}},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    {"v6 SYN behind a routing header, STRICT pod",
     {SYN(S6, 80), .ext = {{RT}}},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    {"v6 SYN behind AH (24 bytes), STRICT pod",
     {SYN(S6, 80), .ext = {{AH}}},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    {"v6 SYN behind an atomic fragment header, STRICT pod",
     {SYN(S6, 80), .ext = {{PKT_FRAG(0, 0)}}},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    {"v6 SYN behind HBH, DSTOPTS, ROUTING, DSTOPTS, STRICT pod",
     {SYN(S6, 80), .ext = {{HBH}, {DST}, {RT}, {DST}}},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    {"v6 SYN behind a 40-byte DSTOPTS, STRICT pod",
     {SYN(S6, 80), .ext = {{PKT_DST_N(4)}}},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    {"v6 SYN behind HBH to the STRICT port of the pod STRICT on one port",
     {SYN(Q6, STRICT_PORT), .ext = {{HBH}}},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    {"v6 SYN behind DSTOPTS to a PERMISSIVE pod",
     {SYN(P6, 80), .ext = {{DST}}},
     .tc = PASSED(PASS_MODE),
     .xdp = QUIET},
    {"v6 SYN+ACK behind DSTOPTS to a STRICT pod",
     {TCP(S6, 80, PKT_B_SYN | PKT_B_ACK), .ext = {{DST}}},
     .tc = QUIET,
     .xdp = QUIET},
    {"v6 SYN of a same-node flow behind DSTOPTS",
     {SYN(S6, 80), .sport = FLOW_SPORT, .ext = {{DST}}},
     .tc = PASSED(PASS_FLOW),
     .xdp = DROPPED(DROP_XDP)},
    /* PKT_MAX_EXT, the longest chain walked */
    {"v6 SYN behind 8 extension headers, STRICT pod",
     {SYN(S6, 80), .ext = {CHAIN8}},
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    {"v6 SYN behind 8 extension headers, PERMISSIVE pod",
     {SYN(P6, 80), .ext = {CHAIN8}},
     .tc = PASSED(PASS_MODE),
     .xdp = QUIET},
    {"v6 SYN behind 9 extension headers, STRICT pod",
     {SYN(S6, 80), .ext = {CHAIN8, {DST}}},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v6 SYN behind 12 extension headers, STRICT pod",
     {SYN(S6, 80), .ext = {CHAIN8, {DST}, {DST}, {DST}, {DST}}},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v6 SYN behind 9 extension headers, pod STRICT on one port",
     {SYN(Q6, 80), .ext = {CHAIN8, {DST}}},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v6 SYN behind 9 extension headers, PERMISSIVE pod",
     {SYN(P6, 80), .ext = {CHAIN8, {DST}}},
     .tc = QUIET,
     .xdp = QUIET},
    {"v6 DSTOPTS whose length runs past the frame, STRICT pod",
     {SYN(S6, 80), .ext = {{PKT_DST_N(40)}}, .len = L4_AT6(24)},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v6 chain cut inside its second header, STRICT pod",
     {SYN(S6, 80), .ext = {{HBH}, {DST}}, .len = L4_AT6(8 + 4)},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v6 chain cut inside its first header, STRICT pod",
     {SYN(S6, 80), .ext = {{HBH}}, .len = L4_AT6(4)},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v6 SYN cut short after 10 bytes of TCP behind HBH, STRICT pod",
     {SYN(S6, 80), .ext = {{HBH}}, .l4len = 10},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v6 chain cut inside its first header, PERMISSIVE pod",
     {SYN(P6, 80), .ext = {{HBH}}, .len = L4_AT6(4)},
     .tc = QUIET,
     .xdp = QUIET},
    {"v6 ESP (50) to a STRICT pod",
     {.dst = S6, .proto = 50},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v6 ESP behind DSTOPTS to a STRICT pod",
     {.dst = S6, .proto = 50, .ext = {{DST}}},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v6 mobility header (135) to a STRICT pod",
     {.dst = S6, .proto = 135},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v6 ESP to the pod STRICT on one port",
     {.dst = Q6, .proto = 50},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v6 ESP to a PERMISSIVE pod", {.dst = P6, .proto = 50}, .tc = QUIET, .xdp = QUIET},
    {"version 4 in an IPv6 ethertype, to a STRICT pod",
     {SYN(S6, 80), .version = 4},
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = DROPPED(DROP_XDP_UNPARSED)},
    {"v6 ICMPv6 neighbour solicitation to a STRICT pod",
     {.dst = S6, .proto = IPPROTO_ICMPV6, .icmp_type = 135},
     .tc = QUIET,
     .xdp = QUIET},
    {"v6 MLDv2 report behind HBH (router alert) to a STRICT pod",
     {.dst = S6, .proto = IPPROTO_ICMPV6, .icmp_type = 143, .ext = {{PKT_HBH_RA}}},
     .tc = QUIET,
     .xdp = QUIET},
    {"v6 UDP to a STRICT pod",
     {.dst = S6, .proto = IPPROTO_UDP, .dport = 53},
     .tc = QUIET,
     .xdp = QUIET},
    {"v6 UDP behind DSTOPTS to a STRICT pod",
     {.dst = S6, .proto = IPPROTO_UDP, .dport = 53, .ext = {{DST}}},
     .tc = QUIET,
     .xdp = QUIET},
    {"v6 no next header (59) to a STRICT pod", {.dst = S6, .proto = 59}, .tc = QUIET, .xdp = QUIET},
};

static void test_ipv6_chain(void **state)
{
	(void)state;
	CASES_RUN(ipv6_chain);
}

/* fragment header values: offset (bytes, a multiple of 8) | M */
#define FRAG_FIRST  PKT_FRAG(0, 1)
#define FRAG_MIDDLE PKT_FRAG(8, 1)
#define FRAG_LAST   PKT_FRAG(16, 0)

static const struct gcase ipv6_fragments[] = {
    {"v6 first fragment holding a whole SYN, STRICT pod",
     {SYN(S6, 80), .ext = {{FRAG_FIRST}}},
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = DROPPED(DROP_XDP_FRAG)},
    {"v6 first fragment with 8 bytes of TCP, STRICT pod",
     {SYN(S6, 80), .ext = {{FRAG_FIRST}}, .l4len = 8},
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = DROPPED(DROP_XDP_FRAG)},
    {"v6 first fragment behind HBH, STRICT pod",
     {SYN(S6, 80), .ext = {{HBH}, {FRAG_FIRST}}},
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = DROPPED(DROP_XDP_FRAG)},
    {"v6 first fragment with DSTOPTS after it, STRICT pod",
     {SYN(S6, 80), .ext = {{FRAG_FIRST}, {DST}}},
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = DROPPED(DROP_XDP_FRAG)},
    {"v6 first fragment whose chain runs past the frame, STRICT pod",
     {SYN(S6, 80), .ext = {{FRAG_FIRST}, {PKT_DST_N(40)}}, .len = L4_AT6(8 + 16)},
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = DROPPED(DROP_XDP_FRAG)},
    {"v6 middle fragment naming TCP, STRICT pod",
     {.dst = S6, .proto = IPPROTO_TCP, .ext = {{FRAG_MIDDLE}}, .raw = 8},
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = DROPPED(DROP_XDP_FRAG)},
    /* only the first fragment's next header counts in reassembly: a later one's says nothing */
    {"v6 last fragment naming UDP, STRICT pod",
     {.dst = S6, .proto = IPPROTO_UDP, .ext = {{FRAG_LAST}}, .raw = 8},
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = DROPPED(DROP_XDP_FRAG)},
    {"v6 first fragment holding a whole SYN, pod STRICT on one port",
     {SYN(Q6, 80), .ext = {{FRAG_FIRST}}},
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = DROPPED(DROP_XDP_FRAG)},
    {"v6 last fragment naming UDP, pod STRICT on one port",
     {.dst = Q6, .proto = IPPROTO_UDP, .ext = {{FRAG_LAST}}, .raw = 8},
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = DROPPED(DROP_XDP_FRAG)},
    {"v6 first fragment holding a whole SYN, PERMISSIVE pod",
     {SYN(P6, 80), .ext = {{FRAG_FIRST}}},
     .tc = QUIET,
     .xdp = QUIET},
    {"v6 middle fragment naming TCP, PERMISSIVE pod",
     {.dst = P6, .proto = IPPROTO_TCP, .ext = {{FRAG_MIDDLE}}, .raw = 8},
     .tc = QUIET,
     .xdp = QUIET},
    {"v6 last fragment naming UDP, address not in skiff_mtls",
     {.dst = U6, .proto = IPPROTO_UDP, .ext = {{FRAG_LAST}}, .raw = 8},
     .tc = QUIET,
     .xdp = QUIET},
    /* the first fragment names the reassembled packet's protocol: this one is UDP */
    {"v6 first fragment of a UDP datagram, STRICT pod",
     {.dst = S6, .proto = IPPROTO_UDP, .dport = 53, .ext = {{FRAG_FIRST}}},
     .tc = QUIET,
     .xdp = QUIET},
};

static void test_ipv6_fragments(void **state)
{
	(void)state;
	CASES_RUN(ipv6_fragments);
}

/* ---------- not IP ---------- */

static const struct gcase not_ip[] = {
    {"ARP", {.ethertype = 0x0806, .raw = 28}, .tc = QUIET, .xdp = QUIET},
    {"ARP on the STRICT pod's veth",
     {.ethertype = 0x0806, .raw = 28},
     .via = VIA_S,
     .tc = QUIET,
     .xdp = QUIET},
    {"ethertype 0x88b5 on the STRICT pod's veth",
     {.ethertype = 0x88b5, .raw = 46},
     .via = VIA_S,
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = QUIET},
    {"ethertype 0x88b5 on the veth of the pod STRICT on one port",
     {.ethertype = 0x88b5, .raw = 46},
     .via = VIA_Q,
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = QUIET},
    {"ethertype 0x88b5 on the PERMISSIVE pod's veth",
     {.ethertype = 0x88b5, .raw = 46},
     .via = VIA_P,
     .tc = QUIET,
     .xdp = QUIET},
    {"ethertype 0x88b5 on an unlisted veth",
     {.ethertype = 0x88b5, .raw = 46},
     .via = VIA_UNLISTED,
     .tc = QUIET,
     .xdp = QUIET},
    {"ethertype 0x88b5, on lo (no veth)",
     {.ethertype = 0x88b5, .raw = 46},
     .tc = QUIET,
     .xdp = QUIET},
    /* the receiving kernel takes the tag off a VLAN 0 frame and reads on: the SYN is in */
    {"802.1Q VLAN 0 tagged SYN on the STRICT pod's veth",
     {SYN(S4, 80), .vlan = true},
     .via = VIA_S,
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = QUIET},
    {"802.1Q VLAN 0 tagged SYN on the veth of the pod STRICT on one port",
     {SYN(LL, STRICT_PORT), .vlan = true},
     .via = VIA_Q,
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = QUIET},
    {"802.1Q VLAN 0 tagged SYN on the PERMISSIVE pod's veth",
     {SYN(P4, 80), .vlan = true},
     .via = VIA_P,
     .tc = QUIET,
     .xdp = QUIET},
    /* BPF_PROG_TEST_RUN refuses a frame shorter than an Ethernet header, and newer kernels
     * (6.18, not 6.1) an skb whose IP header is cut short: where one runs, the guard must
     * still decide as below */
    {"IPv4 ethertype, Ethernet header alone, on the STRICT pod's veth",
     {.ethertype = 0x0800},
     .via = VIA_S,
     .may_refuse = REFUSE_TC,
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = QUIET},
    {"IPv4 header cut at 16 bytes, on the STRICT pod's veth",
     {SYN(S4, 80), .len = 14 + 16},
     .via = VIA_S,
     .may_refuse = REFUSE_TC,
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = QUIET},
    {"IPv4 header cut at 16 bytes, on an unlisted veth",
     {SYN(S4, 80), .len = 14 + 16},
     .via = VIA_UNLISTED,
     .may_refuse = REFUSE_TC,
     .tc = QUIET,
     .xdp = QUIET},
    {"IPv6 header cut at 30 bytes, on the STRICT pod's veth",
     {SYN(S6, 80), .len = 14 + 30},
     .via = VIA_S,
     .may_refuse = REFUSE_TC,
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = QUIET},
    {"IPv6 header cut at 30 bytes, on an unlisted veth",
     {SYN(S6, 80), .len = 14 + 30},
     .via = VIA_UNLISTED,
     .may_refuse = REFUSE_TC,
     .tc = QUIET,
     .xdp = QUIET},
    {"frame of 10 bytes, on the STRICT pod's veth",
     {.ethertype = 0x0800, .len = 10},
     .via = VIA_S,
     .may_refuse = REFUSE_TC | REFUSE_XDP,
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = QUIET},
};

static void test_not_ip(void **state)
{
	(void)state;
	CASES_RUN(not_ip);
}

/* ---------- the TC guard decides by the veth ---------- */

static const struct gcase by_iface[] = {
    {"link-local SYN on the STRICT pod's veth",
     {SYN(LL, 80)},
     .via = VIA_S,
     .tc = DROPPED(DROP_TC),
     .xdp = QUIET},
    {"link-local SYN on an unlisted veth",
     {SYN(LL, 80)},
     .via = VIA_UNLISTED,
     .tc = PASSED(PASS_MODE),
     .xdp = QUIET},
    {"link-local SYN, on lo (no veth)", {SYN(LL, 80)}, .tc = PASSED(PASS_MODE), .xdp = QUIET},
    {"link-local SYN on the PERMISSIVE pod's veth",
     {SYN(LL, 80)},
     .via = VIA_P,
     .tc = PASSED(PASS_MODE),
     .xdp = QUIET},
    {"link-local SYN to port 8080 on the veth of the pod STRICT on it (listed by IPv6)",
     {SYN(LL, STRICT_PORT)},
     .via = VIA_Q,
     .tc = DROPPED(DROP_TC),
     .xdp = QUIET},
    {"link-local SYN to another port on that veth",
     {SYN(LL, 80)},
     .via = VIA_Q,
     .tc = PASSED(PASS_MODE),
     .xdp = QUIET},
    {"link-local SYN to the STRICT pod's PERMISSIVE port on its veth",
     {SYN(LL, HEALTH_PORT)},
     .via = VIA_S,
     .tc = PASSED(PASS_MODE),
     .xdp = QUIET},
    {"link-local SYN behind DSTOPTS on the STRICT pod's veth",
     {SYN(LL, 80), .ext = {{DST}}},
     .via = VIA_S,
     .tc = DROPPED(DROP_TC),
     .xdp = QUIET},
    {"link-local SYN+ACK on the STRICT pod's veth",
     {TCP(LL, 80, PKT_B_SYN | PKT_B_ACK)},
     .via = VIA_S,
     .tc = QUIET,
     .xdp = QUIET},
    {"link-local SYN with skiffd's mark on the STRICT pod's veth",
     {SYN(LL, 80)},
     .mark = SKIFF_MARK_AGENT,
     .via = VIA_S,
     .tc = PASSED(PASS_AGENT),
     .xdp = QUIET},
    {"link-local SYN of a same-node flow on the STRICT pod's veth",
     {SYN(LL, 80), .sport = LL_FLOW_PORT},
     .via = VIA_S,
     .tc = PASSED(PASS_FLOW),
     .xdp = QUIET},
    /* the flow lookup takes the packet's own tuple, not the pod's listed address */
    {"link-local SYN with the ports of the pod's IPv4 flow, on its veth",
     {SYN(LL, 80), .sport = FLOW_SPORT},
     .via = VIA_S,
     .tc = DROPPED(DROP_TC),
     .xdp = QUIET},
    {"link-local SYN of the flow from another source, on the STRICT pod's veth",
     {SYN(LL, 80), .src = "fe80::8", .sport = LL_FLOW_PORT},
     .via = VIA_S,
     .tc = DROPPED(DROP_TC),
     .xdp = QUIET},
    {"link-local first fragment on the STRICT pod's veth",
     {SYN(LL, 80), .ext = {{FRAG_FIRST}}},
     .via = VIA_S,
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = QUIET},
    {"link-local last fragment on the veth of the pod STRICT on one port",
     {.dst = LL, .proto = IPPROTO_UDP, .ext = {{FRAG_LAST}}, .raw = 8},
     .via = VIA_Q,
     .tc = DROPPED(DROP_TC_FRAG),
     .xdp = QUIET},
    {"link-local ESP on the STRICT pod's veth",
     {.dst = LL, .proto = 50},
     .via = VIA_S,
     .tc = DROPPED(DROP_TC_UNPARSED),
     .xdp = QUIET},
    {"link-local neighbour solicitation on the STRICT pod's veth",
     {.dst = LL, .proto = IPPROTO_ICMPV6, .icmp_type = 135},
     .via = VIA_S,
     .tc = QUIET,
     .xdp = QUIET},
    {"v4 SYN to a PERMISSIVE pod's address, on the STRICT pod's veth",
     {SYN(P4, 80)},
     .via = VIA_S,
     .tc = DROPPED(DROP_TC),
     .xdp = QUIET},
    {"v4 SYN to a STRICT pod's address, on the PERMISSIVE pod's veth",
     {SYN(S4, 80)},
     .via = VIA_P,
     .tc = PASSED(PASS_MODE),
     .xdp = DROPPED(DROP_XDP)},
    {"v4 SYN to a STRICT pod's address, on an unlisted veth (decided by address)",
     {SYN(S4, 80)},
     .via = VIA_UNLISTED,
     .tc = DROPPED(DROP_TC),
     .xdp = DROPPED(DROP_XDP)},
    {"v6 SYN to an address not in skiff_mtls, on the STRICT pod's veth",
     {SYN(U6, 80)},
     .via = VIA_S,
     .tc = DROPPED(DROP_TC),
     .xdp = QUIET},
};

static void test_by_iface(void **state)
{
	(void)state;
	CASES_RUN(by_iface);
}

/* ---------- kubelet's probes ---------- */

/* ---------- flow events (include/skiff/events.h) ---------- */

#define EV_MAX 4096

static struct {
	struct skiff_event ev[EV_MAX];
	size_t n;
} E;

static int ev_collect(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size >= sizeof(struct skiff_event) && E.n < EV_MAX)
		memcpy(&E.ev[E.n++], data, sizeof(struct skiff_event));
	return 0;
}

/* Everything the guard wrote into its ring since the last drain, into E. */
static void ev_drain(void)
{
	struct ring_buffer *rb =
	    ring_buffer__new(bpf_map__fd(G.skel->maps.skiff_events), ev_collect, NULL, NULL);

	assert_non_null(rb);
	E.n = 0;
	assert_true(ring_buffer__consume(rb) >= 0);
	ring_buffer__free(rb);
}

static uint64_t ev_stat(uint32_t k)
{
	uint64_t sum = 0;

	assert_int_equal(
	    bpf_map_lookup_elem(bpf_map__fd(G.skel->maps.skiff_ev_stats), &k, G.percpu), 0);
	for (int c = 0; c < G.ncpu; c++)
		sum += G.percpu[c];
	return sum;
}

/* A SYN from C4:SPORT to `dst`:`port` through one program (TC: on veth `via`); what it did. */
static uint32_t syn_run(bool tc, enum via via, const char *dst, uint16_t port, uint32_t repeat)
{
	struct pkt p = {SYN(dst, port), .src = C4, .sport = SPORT};
	struct __sk_buff skb = {.ifindex = (uint32_t)G.ifindex[via]};
	uint8_t frame[PKT_B_MAX];
	size_t len = pkt_build(&p, frame);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (uint32_t)len,
		    .repeat = repeat);

	if (tc) {
		o.ctx_in = &skb;
		o.ctx_size_in = sizeof(skb);
	}
	assert_int_equal(
	    bpf_prog_test_run_opts(
		bpf_program__fd(tc ? G.skel->progs.guard_pod : G.skel->progs.guard_uplink), &o),
	    0);
	return o.retval;
}

/* The bucket refills at SKIFF_EV_DROP_RATE a second: after this long it is full again. */
static void ev_bucket_refill(void)
{
	usleep(1000000 / SKIFF_EV_DROP_RATE * SKIFF_EV_DROP_BURST + 50000);
}

static struct skiff_sock_origin endpoint_of(const char *ip, int port)
{
	struct sockaddr_storage ss;
	struct skiff_sock_origin ep;

	sa_make(ip, port, &ss);
	sa_endpoint(&ss, &ep);
	return ep;
}

static void assert_drop_event(const struct skiff_event *e, uint8_t verdict)
{
	struct skiff_sock_origin c = endpoint_of(C4, SPORT), s = endpoint_of(S4, 80);

	assert_int_equal(e->kind, SKIFF_EV_DROPPED);
	assert_int_equal(e->reason, verdict);
	assert_int_equal(e->family, SKIFF_AF_INET);
	assert_memory_equal(&e->saddr, &c.addr, sizeof(c.addr));
	assert_memory_equal(&e->daddr, &s.addr, sizeof(s.addr));
	assert_int_equal(e->sport, c.port);
	assert_int_equal(e->dport, s.port);
	assert_true(e->ts_ns > 0);
}

/* One event per drop, with the guard's verdict as its reason; a packet let through writes none. */
static void test_drop_events(void **state)
{
	(void)state;
	ev_bucket_refill();
	ev_drain();
	assert_int_equal(syn_run(true, VIA_S, S4, 80, 1), TC_ACT_SHOT);
	assert_int_equal(syn_run(false, VIA_LO, S4, 80, 1), XDP_DROP);
	assert_int_equal(syn_run(true, VIA_P, P4, 80, 1), TC_ACT_OK);
	assert_int_equal(syn_run(false, VIA_LO, P4, 80, 1), XDP_PASS);
	ev_drain();
	assert_int_equal(E.n, 2);
	assert_drop_event(&E.ev[0], SKIFF_GUARD_DROP_TC);
	assert_drop_event(&E.ev[1], SKIFF_GUARD_DROP_XDP);
}

/* A flood of drops writes at most a burst of events (plus what the rate adds meanwhile); the
 * rest are counted as suppressed, and every drop is still counted by the guard. */
static void test_drop_flood_rate_limited(void **state)
{
	const uint32_t flood = 20000;
	uint64_t sup0, sup1, lost0, lost1;
	struct timespec t0, t1;
	double ms;

	(void)state;
	ev_bucket_refill();
	ev_drain();
	sup0 = ev_stat(SKIFF_EV_STAT_SUPPRESSED);
	lost0 = ev_stat(SKIFF_EV_STAT_LOST);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(syn_run(true, VIA_S, S4, 80, flood), TC_ACT_SHOT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ev_drain();
	sup1 = ev_stat(SKIFF_EV_STAT_SUPPRESSED);
	lost1 = ev_stat(SKIFF_EV_STAT_LOST);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	printf("#   %u drops in %.1f ms: %zu events, %llu suppressed, %llu lost\n", flood, ms, E.n,
	       (unsigned long long)(sup1 - sup0), (unsigned long long)(lost1 - lost0));
	assert_true(E.n >= SKIFF_EV_DROP_BURST);
	assert_true(E.n <= SKIFF_EV_DROP_BURST + (size_t)(ms * SKIFF_EV_DROP_RATE / 1000) + 1);
	assert_int_equal(E.n + (sup1 - sup0) + (lost1 - lost0), flood);
	for (size_t i = 0; i < E.n; i++)
		assert_int_equal(E.ev[i].reason, SKIFF_GUARD_DROP_TC);
}

static int kubelet_cgroup_set(uint64_t id)
{
	struct skiff_guard_cfg cfg = {.kubelet_cgroup = id};
	uint32_t zero = 0;

	return bpf_map_update_elem(G.cfg_fd, &zero, &cfg, BPF_ANY) ? -errno : 0;
}

/*
 * BPF_PROG_TEST_RUN gives its skb a socket made for the run, in the caller's cgroup: with this
 * process's cgroup as kubelet's, its SYN is kubelet's.
 */
static void test_kubelet_probe(void **state)
{
	static const struct gcase with_kubelet[] = {
	    {"v4 SYN from kubelet's cgroup to a STRICT pod",
	     {SYN(S4, 80)},
	     .tc = PASSED(PASS_PROBE),
	     .xdp = DROPPED(DROP_XDP)},
	    {"v6 SYN from kubelet's cgroup to a STRICT pod",
	     {SYN(S6, 80)},
	     .tc = PASSED(PASS_PROBE),
	     .xdp = DROPPED(DROP_XDP)},
	    {"link-local SYN from kubelet's cgroup on the STRICT pod's veth",
	     {SYN(LL, 80)},
	     .via = VIA_S,
	     .tc = PASSED(PASS_PROBE),
	     .xdp = QUIET},
	    {"v4 SYN with skiffd's mark from kubelet's cgroup",
	     {SYN(S4, 80)},
	     .mark = SKIFF_MARK_AGENT,
	     .tc = PASSED(PASS_AGENT),
	     .xdp = DROPPED(DROP_XDP)},
	    {"v4 SYN from kubelet's cgroup to a PERMISSIVE pod",
	     {SYN(P4, 80)},
	     .tc = PASSED(PASS_MODE),
	     .xdp = QUIET},
	};
	static const struct gcase other_kubelet[] = {
	    {"v4 SYN from outside kubelet's cgroup to a STRICT pod",
	     {SYN(S4, 80)},
	     .tc = DROPPED(DROP_TC),
	     .xdp = DROPPED(DROP_XDP)},
	};
	char home[256];
	struct stat st;
	int failed = 0;

	(void)state;
	assert_int_equal(cg_home(home, sizeof(home)), 0);
	assert_int_equal(stat(home, &st), 0);
	assert_int_equal(kubelet_cgroup_set(st.st_ino), 0);
	for (size_t i = 0; i < sizeof(with_kubelet) / sizeof(with_kubelet[0]); i++)
		failed += !case_run(&with_kubelet[i]);
	/* an id that is not this process's cgroup */
	assert_int_equal(kubelet_cgroup_set(st.st_ino + 1), 0);
	failed += !case_run(&other_kubelet[0]);
	assert_int_equal(kubelet_cgroup_set(0), 0);
	fflush(stdout);
	if (failed)
		fail_msg("%d kubelet cases failed (FAIL lines above)", failed);
}

/* ---------- setup: the maps as skiffd fills them ---------- */

static struct cv_mtls mtls_entry(const char *ip, uint16_t port, uint16_t mode)
{
	struct cv_mtls e = {.val.mode = mode};

	e.key.family = pkt_b_family(ip) == AF_INET6 ? SKIFF_AF_INET6 : SKIFF_AF_INET;
	inet_pton(pkt_b_family(ip), ip, &e.key.addr);
	e.key.port = htons(port);
	return e;
}

/* An address's entries adjacent, its port-0 entry first, as compile_mtls_view lays them out. */
static int mtls_fill(void)
{
	struct cv_mtls e[] = {
	    mtls_entry(S4, 0, SKIFF_MTLS_STRICT),
	    mtls_entry(S4, HEALTH_PORT, SKIFF_MTLS_PERMISSIVE),
	    mtls_entry(S6, 0, SKIFF_MTLS_STRICT),
	    mtls_entry(S6, HEALTH_PORT, SKIFF_MTLS_PERMISSIVE),
	    mtls_entry(P4, 0, SKIFF_MTLS_PERMISSIVE),
	    mtls_entry(P6, 0, SKIFF_MTLS_PERMISSIVE),
	    mtls_entry(Q4, 0, SKIFF_MTLS_PERMISSIVE),
	    mtls_entry(Q4, STRICT_PORT, SKIFF_MTLS_STRICT),
	    mtls_entry(Q6, 0, SKIFF_MTLS_PERMISSIVE),
	    mtls_entry(Q6, STRICT_PORT, SKIFF_MTLS_STRICT),
	    mtls_entry(D4, 0, SKIFF_MTLS_DISABLE),
	};
	struct node_view v = {.mtls = e, .nmtls = sizeof(e) / sizeof(e[0])};

	compile_mtls_mark_strict_any(&v);
	/* what the cases rest on: S and Q flagged, P and D not */
	if (!(e[0].val.flags & SKIFF_MTLS_F_STRICT_ANY) ||
	    !(e[6].val.flags & SKIFF_MTLS_F_STRICT_ANY) || e[4].val.flags || e[10].val.flags) {
		fprintf(stderr, "test_guard: compile_mtls_mark_strict_any flagged other entries\n");
		return -1;
	}
	for (size_t i = 0; i < v.nmtls; i++)
		if (bpf_map_update_elem(G.mtls_fd, &e[i].key, &e[i].val, BPF_NOEXIST))
			return -errno;
	return 0;
}

static int flow_add(const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	struct skiff_flow_key k = {.sport = htons(sport), .dport = htons(dport)};
	uint64_t cookie = 1;
	int fam = pkt_b_family(dst);

	k.family = fam == AF_INET6 ? SKIFF_AF_INET6 : SKIFF_AF_INET;
	inet_pton(fam, src, &k.saddr);
	inet_pton(fam, dst, &k.daddr);
	return bpf_map_update_elem(G.flows_fd, &k, &cookie, BPF_NOEXIST) ? -errno : 0;
}

static int iface_add(enum via via, const char *pod_ip)
{
	struct skiff_guard_iface pod = {0};
	uint32_t ifindex = (uint32_t)G.ifindex[via];
	int fam = pkt_b_family(pod_ip);

	pod.family = fam == AF_INET6 ? SKIFF_AF_INET6 : SKIFF_AF_INET;
	inet_pton(fam, pod_ip, &pod.addr);
	return bpf_map_update_elem(G.ifaces_fd, &ifindex, &pod, BPF_NOEXIST) ? -errno : 0;
}

/*
 * Two veth pairs in this process's own network namespace: BPF_PROG_TEST_RUN takes an skb's
 * ifindex only for a device that exists there.
 */
static int veths_up(void)
{
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "test_guard: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	if (sh("ip link add gd-s type veth peer name gd-u") ||
	    sh("ip link add gd-p type veth peer name gd-q"))
		return -1;
	for (int v = VIA_S; v < VIA_N; v++) {
		G.ifindex[v] = (int)if_nametoindex(via_names[v]);
		if (G.ifindex[v] <= 1)
			return -1;
	}
	return 0;
}

static int maps_fill(void)
{
	int err;

	G.mtls_fd = bpf_map__fd(G.skel->maps.skiff_mtls);
	G.flows_fd = bpf_map__fd(G.skel->maps.skiff_auth_flows);
	G.cfg_fd = bpf_map__fd(G.skel->maps.skiff_guard_cfg);
	G.stats_fd = bpf_map__fd(G.skel->maps.skiff_guard_stats);
	G.ifaces_fd = bpf_map__fd(G.skel->maps.skiff_guard_ifaces);
	err = mtls_fill();
	err = err ?: flow_add(C4, FLOW_SPORT, S4, 80);
	err = err ?: flow_add(C6, FLOW_SPORT, S6, 80);
	err = err ?: flow_add(CLL, LL_FLOW_PORT, LL, 80);
	/* skiffd lists a veth by the first of its pod's addresses that routes there */
	err = err ?: iface_add(VIA_S, S4);
	err = err ?: iface_add(VIA_P, P4);
	err = err ?: iface_add(VIA_Q, Q6);
	err = err ?: kubelet_cgroup_set(0);
	return err;
}

static int teardown(void **state)
{
	(void)state;
	guard__destroy(G.skel);
	G.skel = NULL;
	free(G.percpu);
	G.percpu = NULL;
	return 0;
}

static int setup(void **state)
{
	struct bpf_map *map;
	int err;

	if (geteuid() != 0) {
		fprintf(stderr, "test_guard: needs root (BPF, a network namespace)\n");
		return -1;
	}
	if (veths_up())
		return -1;
	G.ncpu = libbpf_num_possible_cpus();
	if (G.ncpu <= 0)
		return -1;
	G.percpu = calloc((size_t)G.ncpu, sizeof(*G.percpu));
	G.skel = guard__open();
	if (!G.percpu || !G.skel)
		goto out_fail;
	bpf_object__for_each_map(map, G.skel->obj)
	    bpf_map__set_pin_path(map, NULL); /* no pinning under /sys/fs/bpf */
	err = guard__load(G.skel);
	if (err) {
		fprintf(stderr, "test_guard: cannot load the guard: %s\n", strerror(-err));
		goto out_fail;
	}
	err = maps_fill();
	if (err) {
		fprintf(stderr, "test_guard: cannot fill the maps: %s\n", strerror(-err));
		goto out_fail;
	}
	return 0;

out_fail:
	teardown(state);
	return -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4_syn),	   cmocka_unit_test(test_ipv4_header),
	    cmocka_unit_test(test_ipv4_fragments), cmocka_unit_test(test_ipv6_chain),
	    cmocka_unit_test(test_ipv6_fragments), cmocka_unit_test(test_not_ip),
	    cmocka_unit_test(test_by_iface),	   cmocka_unit_test(test_kubelet_probe),
	    cmocka_unit_test(test_drop_events),	   cmocka_unit_test(test_drop_flood_rate_limited),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
