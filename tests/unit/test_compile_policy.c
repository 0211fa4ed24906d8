// SPDX-License-Identifier: Apache-2.0
/*
 * AuthorizationPolicy for the kernel (user/compile/compile_policy.c, compile_policy_plain.c):
 * which local pods are checked at connect() (SKIFF_POD_F_AUTHZ) or punted for HTTP
 * (SKIFF_POD_F_L7), the verdict of every (source pod, destination pod, port, family), and where
 * clients outside the mesh are kept out by the guard (skiff_mtls made STRICT). Everything goes
 * through the real model loader and compile_node_view().
 *
 * The mesh: namespace shop (web-0, web-1: sa web; api-0: sa api, label app=api) and namespace
 * bad (intruder-0, IPv4 only), all on node-a and in the mesh; far-0 on node-b.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "authz/authz.h"
#include "common/strbuf.h"
#include "compile/compile.h"
#include "compile_test.h"

#define NONE (-1) /* no entry in the view */

/* ---------- the model ---------- */

static void ns(struct fx *f, const char *name)
{
	sb_printf(&f->y,
		  "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: %s, labels: "
		  "{istio.io/dataplane-mode: ambient}}\n",
		  name);
}

/* A pod with its addresses (`ip6` may be NULL). */
static void pod(struct fx *f, const char *nsname, const char *name, const char *app, const char *sa,
		const char *node, const char *ip4, const char *ip6)
{
	sb_printf(&f->y,
		  "---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: %s, uid: u-%s, "
		  "labels: {app: %s}}\nspec: {nodeName: %s, serviceAccountName: %s, containers: "
		  "[{name: c, image: x}]}\nstatus:\n  podIPs:\n  - ip: \"%s\"\n",
		  name, nsname, name, app, node, sa, ip4);
	if (ip6)
		sb_printf(&f->y, "  - ip: \"%s\"\n", ip6);
}

static void mesh(struct fx *f)
{
	ns(f, "shop");
	ns(f, "bad");
	pod(f, "shop", "web-0", "web", "web", "node-a", "10.0.0.1", "fd00::1");
	pod(f, "shop", "web-1", "web", "web", "node-a", "10.0.0.4", "fd00::4");
	pod(f, "shop", "api-0", "api", "api", "node-a", "10.0.0.2", "fd00::2");
	pod(f, "bad", "intruder-0", "intruder", "default", "node-a", "10.0.0.3", NULL);
	pod(f, "shop", "far-0", "api", "api", "node-b", "10.0.1.2", "fd00:1::2");
}

/* An AuthorizationPolicy; `app` NULL for namespace-wide; `spec` is the rest of spec, indented. */
static void policy(struct fx *f, const char *nsname, const char *name, const char *app,
		   const char *spec)
{
	sb_printf(&f->y,
		  "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: "
		  "{name: %s, namespace: %s}\nspec:\n",
		  name, nsname);
	if (app)
		sb_printf(&f->y, "  selector: {matchLabels: {app: %s}}\n", app);
	sb_printf(&f->y, "%s", spec);
}

static int fx_compile_td(struct fx *f, const char *trust_domain)
{
	struct compile_opts o = {.trust_domain = trust_domain};

	return compile_node_view_opts(&f->m, "node-a", fake_cgroup_of, NULL, &o, &f->v, &f->d);
}

/* ---------- view accessors ---------- */

static const struct cv_pod *pod_of(const struct fx *f, const char *name)
{
	for (size_t i = 0; i < f->v.npods; i++)
		if (!strcmp(f->v.pods[i].name, name))
			return &f->v.pods[i];
	fail_msg("pod %s is not enrolled", name);
	return NULL;
}

/* The pod's flags, checked to be the same in skiff_enrolled and in every skiff_pod_ips entry. */
static __u32 flags_of(const struct fx *f, const char *name)
{
	const struct cv_pod *p = pod_of(f, name);
	int ips = 0;

	for (size_t i = 0; i < f->v.npod_ips; i++) {
		if (f->v.pod_ips[i].val.workload_id != p->val.workload_id)
			continue;
		assert_int_equal(f->v.pod_ips[i].val.flags, p->val.flags);
		ips++;
	}
	assert_true(ips > 0);
	return p->val.flags;
}

/* 1 ALLOW, 0 DENY, NONE without an entry. */
static int verdict(const struct fx *f, const char *src, const char *dst, uint16_t port, int family)
{
	struct skiff_policy_key k = {.src_workload = pod_of(f, src)->val.workload_id,
				     .dst_workload = pod_of(f, dst)->val.workload_id,
				     .port = htons(port),
				     .family = (__u8)family};
	int found = NONE;

	for (size_t i = 0; i < f->v.npolicy; i++) {
		if (memcmp(&f->v.policy[i].key, &k, sizeof(k)))
			continue;
		assert_int_equal(found, NONE); /* one entry per key */
		found = f->v.policy[i].val.verdict == SKIFF_POLICY_ALLOW;
	}
	return found;
}

/* Entries whose destination is `dst`. */
static size_t entries_to(const struct fx *f, const char *dst)
{
	__u32 wid = pod_of(f, dst)->val.workload_id;
	size_t n = 0;

	for (size_t i = 0; i < f->v.npolicy; i++)
		n += f->v.policy[i].key.dst_workload == wid;
	return n;
}

/* The guard's mode for `ip`:`port` as the kernel reads it: the port's entry, else port 0's. */
static __u32 guard_mode(const struct fx *f, const char *ip, uint16_t port)
{
	struct skiff_mtls_key k = {0};
	int hit0 = -1;

	k.family = (__u8)addr_parse(ip, &k.addr);
	for (size_t i = 0; i < f->v.nmtls; i++) {
		const struct cv_mtls *e = &f->v.mtls[i];

		if (e->key.family != k.family || memcmp(&e->key.addr, &k.addr, sizeof(k.addr)))
			continue;
		if (e->key.port == htons(port))
			return e->val.mode;
		if (!e->key.port)
			hit0 = (int)e->val.mode;
	}
	if (hit0 < 0)
		fail_msg("no skiff_mtls entry for %s", ip);
	return (__u32)hit0;
}

/* The flags of `ip`'s port-0 entry (SKIFF_MTLS_F_*). */
static __u16 guard_flags(const struct fx *f, const char *ip)
{
	struct skiff_mtls_key k = {0};

	k.family = (__u8)addr_parse(ip, &k.addr);
	for (size_t i = 0; i < f->v.nmtls; i++) {
		const struct cv_mtls *e = &f->v.mtls[i];

		if (e->key.family == k.family && !memcmp(&e->key.addr, &k.addr, sizeof(k.addr)) &&
		    !e->key.port)
			return e->val.flags;
	}
	fail_msg("no skiff_mtls port-0 entry for %s", ip);
	return 0;
}

/* ---------- cases ---------- */

static void test_no_policy_no_flag(void **state)
{
	struct fx *f = *state;

	mesh(f);
	fx_compile_ok(f);
	assert_int_equal(f->v.npods, 4);
	assert_int_equal(f->v.npolicy, 0);
	assert_int_equal(flags_of(f, "shop/api-0"), SKIFF_POD_F_ENROLLED);
	assert_int_equal(flags_of(f, "shop/web-0"), SKIFF_POD_F_ENROLLED);
	assert_int_equal(guard_mode(f, "10.0.0.2", 80), SKIFF_MTLS_PERMISSIVE);
}

/* Istio's allow-principal case, at L4: only web may connect to api. */
static void test_allow_principal(void **state)
{
	struct fx *f = *state;

	mesh(f);
	policy(f, "shop", "allow-web", "api",
	       "  action: ALLOW\n  rules:\n  - from:\n    - source:\n"
	       "        principals: [\"cluster.local/ns/shop/sa/web\"]\n");
	fx_compile_ok(f);
	assert_int_equal(flags_of(f, "shop/api-0"),
			 SKIFF_POD_F_ENROLLED | SKIFF_POD_F_AUTHZ | SKIFF_POD_F_STRICT);
	assert_int_equal(flags_of(f, "shop/web-0"), SKIFF_POD_F_ENROLLED);
	assert_int_equal(verdict(f, "shop/web-0", "shop/api-0", 0, SKIFF_AF_INET), 1);
	assert_int_equal(verdict(f, "shop/web-1", "shop/api-0", 0, SKIFF_AF_INET6), 1);
	assert_int_equal(verdict(f, "shop/web-0", "shop/api-0", 0, SKIFF_AF_INET6), 1);
	assert_int_equal(verdict(f, "shop/api-0", "shop/api-0", 0, SKIFF_AF_INET), 0);
	assert_int_equal(verdict(f, "bad/intruder-0", "shop/api-0", 0, SKIFF_AF_INET), 0);
	/* no port is named: one entry per source and family the two share (intruder: IPv4) */
	assert_int_equal(verdict(f, "bad/intruder-0", "shop/api-0", 0, SKIFF_AF_INET6), NONE);
	assert_int_equal(verdict(f, "shop/web-0", "shop/api-0", 80, SKIFF_AF_INET), NONE);
	assert_int_equal(entries_to(f, "shop/api-0"), 4 + 3);
	assert_int_equal(f->v.npolicy, 7); /* nobody else has a policy */
	/* a plaintext client has no principal: kept out of api by the guard, on every port */
	assert_int_equal(guard_mode(f, "10.0.0.2", 0), SKIFF_MTLS_STRICT);
	assert_int_equal(guard_mode(f, "fd00::2", 8080), SKIFF_MTLS_STRICT);
	assert_int_equal(guard_mode(f, "10.0.0.1", 80), SKIFF_MTLS_PERMISSIVE);
}

/* Principals carry the mesh's trust domain: with another one, the policy names nobody here. */
static void test_trust_domain(void **state)
{
	struct fx *f = *state;

	mesh(f);
	policy(f, "shop", "allow-web", "api",
	       "  rules:\n  - from:\n    - source:\n"
	       "        principals: [\"corp.example/ns/shop/sa/web\"]\n");
	fx_load(f);
	assert_int_equal(fx_compile_td(f, "corp.example"), 0);
	assert_int_equal(verdict(f, "shop/web-0", "shop/api-0", 0, SKIFF_AF_INET), 1);
	node_view_free(&f->v);
	assert_int_equal(fx_compile_td(f, NULL), 0); /* cluster.local */
	assert_int_equal(verdict(f, "shop/web-0", "shop/api-0", 0, SKIFF_AF_INET), 0);
}

/* Istio's deny-namespace case at L4: no ALLOW policy, so everyone else is allowed. */
static void test_deny_namespace(void **state)
{
	struct fx *f = *state;

	mesh(f);
	policy(
	    f, "shop", "deny-bad", NULL,
	    "  action: DENY\n  rules:\n  - from:\n    - source:\n        namespaces: [\"bad\"]\n");
	fx_compile_ok(f);
	assert_int_equal(flags_of(f, "shop/api-0"), SKIFF_POD_F_ENROLLED | SKIFF_POD_F_AUTHZ);
	assert_int_equal(flags_of(f, "shop/web-0"), SKIFF_POD_F_ENROLLED | SKIFF_POD_F_AUTHZ);
	assert_int_equal(flags_of(f, "bad/intruder-0"), SKIFF_POD_F_ENROLLED);
	assert_int_equal(verdict(f, "bad/intruder-0", "shop/api-0", 0, SKIFF_AF_INET), 0);
	assert_int_equal(verdict(f, "bad/intruder-0", "shop/web-1", 0, SKIFF_AF_INET), 0);
	assert_int_equal(verdict(f, "shop/web-0", "shop/api-0", 0, SKIFF_AF_INET), 1);
	assert_int_equal(verdict(f, "shop/api-0", "shop/web-0", 0, SKIFF_AF_INET6), 1);
	/* a plaintext client is in no namespace: the DENY does not match it */
	assert_int_equal(guard_mode(f, "10.0.0.2", 80), SKIFF_MTLS_PERMISSIVE);
}

/* ports and notPorts: a port-specific entry per named port, port 0 for every other port. */
static void test_ports_and_not_ports(void **state)
{
	struct fx *f = *state;

	mesh(f);
	policy(f, "shop", "api-8080", "api",
	       "  rules:\n  - from:\n    - source:\n        namespaces: [\"shop\"]\n"
	       "    to:\n    - operation:\n        ports: [\"8080\"]\n");
	policy(f, "shop", "web-not-9090", "web",
	       "  rules:\n  - to:\n    - operation:\n        notPorts: [\"9090\"]\n");
	fx_compile_ok(f);
	assert_int_equal(verdict(f, "shop/web-0", "shop/api-0", 8080, SKIFF_AF_INET), 1);
	assert_int_equal(verdict(f, "shop/web-0", "shop/api-0", 0, SKIFF_AF_INET), 0);
	assert_int_equal(verdict(f, "shop/web-0", "shop/api-0", 8080, SKIFF_AF_INET6), 1);
	assert_int_equal(verdict(f, "bad/intruder-0", "shop/api-0", 8080, SKIFF_AF_INET), 0);
	assert_int_equal(verdict(f, "shop/api-0", "shop/web-0", 9090, SKIFF_AF_INET), 0);
	assert_int_equal(verdict(f, "shop/api-0", "shop/web-0", 0, SKIFF_AF_INET), 1);
	assert_int_equal(verdict(f, "bad/intruder-0", "shop/web-1", 0, SKIFF_AF_INET), 1);
	assert_int_equal(entries_to(f, "shop/api-0"), 2 * (4 + 3));
	/* plaintext: api needs namespace shop, so STRICT everywhere; web lets it in but on 9090 */
	assert_int_equal(guard_mode(f, "10.0.0.2", 8080), SKIFF_MTLS_STRICT);
	assert_int_equal(guard_mode(f, "10.0.0.1", 80), SKIFF_MTLS_PERMISSIVE);
	assert_int_equal(guard_mode(f, "fd00::4", 9090), SKIFF_MTLS_STRICT);
	assert_int_equal(guard_mode(f, "fd00::4", 9091), SKIFF_MTLS_PERMISSIVE);
}

/* HTTP fields (on TCP dropped from ALLOW, widened in DENY, as in Istio) need skiffd. */
static void test_http_fields_make_l7(void **state)
{
	struct fx *f = *state;

	mesh(f);
	policy(f, "shop", "api-get", "api",
	       "  rules:\n  - from:\n    - source:\n        namespaces: [\"shop\"]\n"
	       "    to:\n    - operation:\n        methods: [\"GET\"]\n");
	policy(f, "shop", "web-deny-admin", "web",
	       "  action: DENY\n  rules:\n  - to:\n    - operation:\n"
	       "        paths: [\"/admin\"]\n        ports: [\"8080\"]\n");
	fx_compile_ok(f);
	assert_int_equal(flags_of(f, "shop/api-0"),
			 SKIFF_POD_F_ENROLLED | SKIFF_POD_F_L7 | SKIFF_POD_F_STRICT);
	assert_int_equal(flags_of(f, "shop/web-0"),
			 SKIFF_POD_F_ENROLLED | SKIFF_POD_F_L7 | SKIFF_POD_F_STRICT);
	assert_int_equal(flags_of(f, "bad/intruder-0"), SKIFF_POD_F_ENROLLED);
	assert_int_equal(f->v.npolicy, 0); /* skiffd decides per request: no kernel verdicts */
	/*
	 * A plaintext client bypasses skiffd, so it gets the L4 answer: the ALLOW rule with a
	 * method is dropped (api: denied everywhere); the DENY keeps its port (web: 8080 only).
	 */
	assert_int_equal(guard_mode(f, "10.0.0.2", 80), SKIFF_MTLS_STRICT);
	assert_int_equal(guard_mode(f, "10.0.0.1", 8080), SKIFF_MTLS_STRICT);
	assert_int_equal(guard_mode(f, "10.0.0.1", 80), SKIFF_MTLS_PERMISSIVE);
}

/* More ports than the evaluator lists: decided per connection by skiffd, STRICT for plaintext. */
static void test_ports_overflow_l7(void **state)
{
	struct fx *f = *state;
	struct strbuf ports = {0};

	for (int i = 0; i < AUTHZ_INFO_MAX_PORTS + 1; i++)
		sb_printf(&ports, "%s\"%d\"", i ? ", " : "", 9000 + i);
	mesh(f);
	sb_printf(&f->y,
		  "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: "
		  "{name: many, namespace: shop}\nspec:\n  selector: {matchLabels: {app: api}}\n"
		  "  rules:\n  - to:\n    - operation:\n        ports: [%s]\n",
		  ports.s);
	sb_free(&ports);
	fx_compile_ok(f);
	assert_int_equal(flags_of(f, "shop/api-0"),
			 SKIFF_POD_F_ENROLLED | SKIFF_POD_F_L7 | SKIFF_POD_F_STRICT);
	assert_int_equal(f->v.npolicy, 0);
	assert_int_equal(guard_mode(f, "10.0.0.2", 9000), SKIFF_MTLS_STRICT);
	assert_int_equal(guard_mode(f, "10.0.0.2", 1), SKIFF_MTLS_STRICT);
}

/*
 * Plaintext: STRICT exactly where the policies deny a client without a principal; elsewhere
 * PeerAuthentication's mode, its port overrides kept.
 */
static void test_plaintext_guard(void **state)
{
	struct fx *f = *state;

	mesh(f);
	policy(f, "shop", "api", "api",
	       "  rules:\n  - to:\n    - operation:\n        ports: [\"8080\"]\n"
	       "  - from:\n    - source:\n        principals: [\"*\"]\n");
	sb_printf(&f->y, "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
			 "metadata: {name: api, namespace: shop}\nspec:\n"
			 "  selector: {matchLabels: {app: api}}\n  mtls: {mode: PERMISSIVE}\n"
			 "  portLevelMtls:\n    9000: {mode: DISABLE}\n    8080: {mode: STRICT}\n");
	fx_compile_ok(f);
	assert_int_equal(guard_mode(f, "10.0.0.2", 80), SKIFF_MTLS_STRICT);
	assert_int_equal(guard_mode(f, "10.0.0.2", 9000), SKIFF_MTLS_STRICT);
	assert_int_equal(guard_mode(f, "10.0.0.2", 8080), SKIFF_MTLS_STRICT); /* the PA's */
	assert_int_equal(guard_mode(f, "fd00::2", 81), SKIFF_MTLS_STRICT);
	/* any mesh pod may connect anywhere */
	assert_int_equal(verdict(f, "bad/intruder-0", "shop/api-0", 0, SKIFF_AF_INET), 1);
	assert_int_equal(verdict(f, "bad/intruder-0", "shop/api-0", 8080, SKIFF_AF_INET), 1);
	fx_reset(f);

	/* without the PA: 8080 lets plaintext in (PERMISSIVE), the rest of api is STRICT */
	mesh(f);
	policy(f, "shop", "api", "api",
	       "  rules:\n  - to:\n    - operation:\n        ports: [\"8080\"]\n"
	       "  - from:\n    - source:\n        principals: [\"*\"]\n");
	fx_compile_ok(f);
	assert_int_equal(guard_mode(f, "10.0.0.2", 8080), SKIFF_MTLS_PERMISSIVE);
	assert_int_equal(guard_mode(f, "fd00::2", 8080), SKIFF_MTLS_PERMISSIVE);
	assert_int_equal(guard_mode(f, "10.0.0.2", 8081), SKIFF_MTLS_STRICT);
}

/* A pod STRICT on one port only is flagged STRICT_ANY on both addresses, so the guard drops what
 * it cannot place on a port (fragments, unwalkable headers); a PERMISSIVE pod is not. */
static void test_strict_any_flag(void **state)
{
	struct fx *f = *state;

	mesh(f);
	sb_printf(&f->y, "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
			 "metadata: {name: api, namespace: shop}\nspec:\n"
			 "  selector: {matchLabels: {app: api}}\n  mtls: {mode: PERMISSIVE}\n"
			 "  portLevelMtls:\n    8080: {mode: STRICT}\n");
	fx_compile_ok(f);
	assert_int_equal(guard_mode(f, "10.0.0.2", 80), SKIFF_MTLS_PERMISSIVE);
	assert_int_equal(guard_flags(f, "10.0.0.2"), SKIFF_MTLS_F_STRICT_ANY);
	assert_int_equal(guard_flags(f, "fd00::2"), SKIFF_MTLS_F_STRICT_ANY);
	assert_int_equal(guard_flags(f, "10.0.0.1"), 0);
	assert_int_equal(guard_flags(f, "fd00::1"), 0);
	/* and the pod, found by cgroup at its sockets */
	assert_int_equal(flags_of(f, "shop/api-0"), SKIFF_POD_F_ENROLLED | SKIFF_POD_F_STRICT);
	assert_int_equal(flags_of(f, "shop/web-0"), SKIFF_POD_F_ENROLLED);
	fx_reset(f);

	/* made STRICT by an AuthorizationPolicy that plaintext clients would fail */
	mesh(f);
	policy(f, "shop", "api", "api",
	       "  rules:\n  - from:\n    - source:\n        principals: [\"*\"]\n");
	fx_compile_ok(f);
	assert_int_equal(guard_flags(f, "10.0.0.2"), SKIFF_MTLS_F_STRICT_ANY);
	assert_int_equal(guard_flags(f, "10.0.0.1"), 0);
}

/* A policy on the source address: verdicts per source pod (same principal, other answers) and
 * the guard STRICT on every port (it cannot tell plaintext clients apart by address). */
static void test_source_ip(void **state)
{
	struct fx *f = *state;

	mesh(f);
	policy(f, "shop", "from-web-0", "api",
	       "  rules:\n  - from:\n    - source:\n        ipBlocks: [\"10.0.0.1/32\", "
	       "\"fd00::4/128\"]\n");
	fx_compile_ok(f);
	assert_int_equal(verdict(f, "shop/web-0", "shop/api-0", 0, SKIFF_AF_INET), 1);
	assert_int_equal(verdict(f, "shop/web-1", "shop/api-0", 0, SKIFF_AF_INET), 0);
	assert_int_equal(verdict(f, "shop/web-0", "shop/api-0", 0, SKIFF_AF_INET6), 0);
	assert_int_equal(verdict(f, "shop/web-1", "shop/api-0", 0, SKIFF_AF_INET6), 1);
	assert_int_equal(guard_mode(f, "10.0.0.2", 80), SKIFF_MTLS_STRICT);
	assert_int_equal(guard_mode(f, "fd00::2", 443), SKIFF_MTLS_STRICT);
}

/* Pods waiting for their cgroup and pods of other nodes are no kernel sources or destinations;
 * a waiting local pod is still guarded against plaintext. */
static void test_pending_and_remote(void **state)
{
	struct fx *f = *state;

	mesh(f);
	pod(f, "shop", "pending-api", "api", "api", "node-a", "10.0.0.9", NULL);
	policy(f, "shop", "deny-all", "api", "  rules: []\n");
	fx_compile_ok(f);
	assert_int_equal(f->v.npods, 4);
	assert_int_equal(f->v.pods_pending, 1);
	assert_int_equal(entries_to(f, "shop/api-0"), 4 + 3);
	assert_int_equal(f->v.npolicy, 7);
	assert_int_equal(verdict(f, "shop/web-0", "shop/api-0", 0, SKIFF_AF_INET), 0);
	assert_int_equal(guard_mode(f, "10.0.0.9", 80), SKIFF_MTLS_STRICT);
}

/* A policy the evaluator refuses fails the compile: the snapshot is rejected as a whole. */
static void test_bad_policy_fails_compile(void **state)
{
	struct fx *f = *state;
	const struct ynode *port;

	mesh(f);
	policy(f, "shop", "bad-port", "api",
	       "  rules:\n  - to:\n    - operation:\n        ports: [\"8080\"]\n");
	fx_load(f);
	/* the model rejects a bad port itself; make one it missed (still a valid string) */
	port = ynode_path(f->m.authorizationpolicies[0].rules->items[0], "to")->items[0];
	port = ynode_get(ynode_get(port, "operation"), "ports")->items[0];
	strcpy(((struct ynode *)port)->scalar, "0");
	assert_int_equal(fx_compile_td(f, NULL), -EINVAL);
	assert_true(diag_contains(&f->d, "AuthorizationPolicy shop/bad-port"));
	assert_true(diag_contains(&f->d, "is not a port"));
	assert_int_equal(f->v.npods, 0); /* nothing half-compiled is returned */
	assert_null(f->v.policy);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_no_policy_no_flag),
	    T(test_allow_principal),
	    T(test_trust_domain),
	    T(test_deny_namespace),
	    T(test_ports_and_not_ports),
	    T(test_http_fields_make_l7),
	    T(test_ports_overflow_l7),
	    T(test_plaintext_guard),
	    T(test_source_ip),
	    T(test_pending_and_remote),
	    T(test_bad_policy_fails_compile),
	    T(test_strict_any_flag),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
