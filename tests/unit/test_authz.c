// SPDX-License-Identifier: Apache-2.0
/*
 * The AuthorizationPolicy evaluator against the rules of conformance SOURCE.md §3.1 (which
 * policies apply, CUSTOM -> DENY -> ALLOW, empty rules, OR/AND, every notX, string forms,
 * identity fields, IPs, hosts, ports, paths, `when` keys) and §3.2 (HTTP-only fields on TCP),
 * plus what skiff does where it cannot do what Istio does (CUSTOM, JWT attributes) and bad input.
 * Every policy goes through the real model loader and authz_compile(): the YAML is in
 * tests/unit/fixtures/authz/, short single policies inline (their line numbers are checked).
 */
#include <time.h>

#include "unit/authz_test.h"

#include "authz/authz_internal.h" /* the path normaliser and template matcher */

#define AP(name, ns)                                                                               \
	"apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: " name    \
	"\n  namespace: " ns "\nspec:\n" /* spec fields start on line 7 */

#define SPIFFE(ns, sa) "spiffe://cluster.local/ns/" ns "/sa/" sa
#define FRONTEND       SPIFFE("frontend", "frontend-sa")
#define PROM	       SPIFFE("monitoring", "prometheus")

static struct authz_request http(const char *from, const char *method, const char *path)
{
	return (struct authz_request){.principal = from,
				      .source_ip = "10.0.0.1",
				      .dest_ip = "10.0.0.2",
				      .dest_port = 8080,
				      .method = method,
				      .path = path};
}

static struct authz_request tcp(const char *from, uint16_t port)
{
	return (struct authz_request){.principal = from,
				      .source_ip = "10.0.0.1",
				      .dest_ip = "10.0.0.2",
				      .dest_port = port,
				      .tcp = true};
}

/* ---- §3.1 which policies apply, and the order ---- */

static void test_no_policy_allows(void **state)
{
	struct authz_request r = http(NULL, "DELETE", "/anything");
	struct authz_decision dec;
	struct tw t;
	struct fx f;

	(void)state;
	fx_load(&f, "t.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: payments\n");
	authz_evaluate(f.set, tw(&t, "payments", "app=x"), &r, &dec);
	assert_true(dec.allow);
	assert_int_equal(dec.reason, AUTHZ_DEFAULT_ALLOW);
	assert_null(dec.policy);
	fx_free(&f);
}

/* ALLOW without rules: matches nothing and still counts, so it denies all it selects. */
static void test_allow_without_rules_denies_all(void **state)
{
	struct authz_request r = http(FRONTEND, "GET", "/");
	struct authz_request c = tcp(FRONTEND, 80);
	struct tw t;
	struct fx f;

	(void)state;
	fx_load_file(&f, FIXTURES "without-rules.yaml");
	expect(f.set, tw(&t, "payments", "app=api"), &r, DENY, "selector-only ALLOW");
	expect(f.set, tw(&t, "payments", "app=api"), &c, DENY, "selector-only ALLOW, TCP");
	expect(f.set, tw(&t, "payments", "app=other"), &r, ALLOW, "not selected");
	expect(f.set, tw(&t, "shop", "app=any"), &r, DENY, "rules: []");
	expect(f.set, tw(&t, "empty", "app=any"), &r, DENY, "spec: {}");
	fx_free(&f);
}

/* rules: [{}] matches every request, HTTP or TCP, with or without identity. */
static void test_empty_rule_matches_all(void **state)
{
	struct authz_request r = http(NULL, "PATCH", "/x");
	struct authz_request c = tcp(NULL, 9);
	struct authz_decision dec;
	struct tw t;
	struct fx f;

	(void)state;
	fx_load_file(&f, FIXTURES "empty-rule.yaml");
	expect(f.set, tw(&t, "a", ""), &r, ALLOW, "ALLOW [{}] HTTP");
	expect(f.set, tw(&t, "a", ""), &c, ALLOW, "ALLOW [{}] TCP");
	expect(f.set, tw(&t, "d", ""), &r, DENY, "DENY [{}] HTTP");
	expect(f.set, tw(&t, "d", ""), &c, DENY, "DENY [{}] TCP");
	authz_evaluate(f.set, tw(&t, "d", ""), &r, &dec);
	assert_int_equal(dec.reason, AUTHZ_DENY_RULE);
	assert_string_equal(dec.policy->meta.name, "deny-all");
	assert_int_equal(dec.rule, 0);
	assert_int_equal(dec.rule_line, 19);
	fx_free(&f);
}

/* DENY beats ALLOW; CUSTOM is evaluated before DENY; AUDIT never changes the decision. */
static void test_precedence(void **state)
{
	struct authz_request r = http(FRONTEND, "GET", "/api/x");
	struct authz_decision dec;
	struct tw t;
	struct fx f;

	(void)state;
	fx_load_file(&f, FIXTURES "precedence.yaml");
	tw(&t, "ns", "app=x");
	authz_evaluate(f.set, &t.wl, &r, &dec);
	assert_true(dec.allow);
	assert_int_equal(dec.reason, AUTHZ_ALLOW_RULE);
	assert_string_equal(dec.audit->meta.name, "audit"); /* reported, no effect */
	r.path = "/api/admin";
	authz_evaluate(f.set, &t.wl, &r, &dec);
	assert_false(dec.allow);
	assert_int_equal(dec.reason, AUTHZ_DENY_RULE); /* DENY and ALLOW both match */
	assert_string_equal(dec.policy->meta.name, "deny-admin");
	r.path = "/api/ext";
	authz_evaluate(f.set, &t.wl, &r, &dec);
	assert_false(dec.allow);
	assert_int_equal(dec.reason, AUTHZ_CUSTOM_UNSUPPORTED); /* CUSTOM comes before DENY */
	r.path = "/other";
	authz_evaluate(f.set, &t.wl, &r, &dec);
	assert_false(dec.allow);
	assert_int_equal(dec.reason, AUTHZ_NO_ALLOW_MATCH); /* an ALLOW exists, none matched */
	assert_int_equal(dec.nallow, 1);
	fx_free(&f);
}

static void test_audit_alone_changes_nothing(void **state)
{
	struct authz_request r = http(NULL, "GET", "/");
	struct authz_decision dec;
	struct tw t;
	struct fx f;

	(void)state;
	fx_load(&f, "t.yaml", AP("audit", "ns") "  action: AUDIT\n  rules:\n  - {}\n");
	assert_true(diag_contains(&f.d, "t.yaml:2: AuthorizationPolicy ns/audit: action AUDIT"));
	authz_evaluate(f.set, tw(&t, "ns", ""), &r, &dec);
	assert_true(dec.allow);
	assert_int_equal(dec.reason, AUTHZ_DEFAULT_ALLOW);
	assert_non_null(dec.audit);
	fx_free(&f);
}

/* CUSTOM: requests its rules match are denied (no ext-authz in skiff); others untouched. */
static void test_custom_denies_what_it_matches(void **state)
{
	static const char yaml[] = AP("ext", "ns") "  action: CUSTOM\n  provider:\n    name: opa\n"
						   "  rules:\n  - to:\n    - operation:\n"
						   "        paths: [\"/custom\"]\n";
	struct authz_request r = http(FRONTEND, "GET", "/custom");
	struct authz_decision dec;
	char buf[512];
	struct tw t;
	struct fx f;

	(void)state;
	fx_load(&f, "t.yaml", yaml);
	assert_true(diag_contains(&f.d, "t.yaml:2: AuthorizationPolicy ns/ext: action CUSTOM: "
					"skiff has no ext-authz client for provider \"opa\""));
	authz_evaluate(f.set, tw(&t, "ns", ""), &r, &dec);
	assert_false(dec.allow);
	authz_decision_format(&dec, buf, sizeof(buf));
	assert_string_equal(buf, "DENY: AuthorizationPolicy ns/ext rules[0] (t.yaml:11): CUSTOM "
				 "provider \"opa\" not supported");
	r.path = "/health";
	expect(f.set, &t.wl, &r, ALLOW, "not matched by the CUSTOM rule");
	fx_free(&f);
}

/* Root namespace: mesh-wide without selector, by selector in every namespace. Others: own
 * namespace only, selector by labels, empty selector = namespace-wide. */
static void test_scope_and_selectors(void **state)
{
	struct authz_request r = http(FRONTEND, "GET", "/");
	struct tw t;
	struct fx f;

	(void)state;
	fx_load_file(&f, FIXTURES "scope.yaml");
	r.path = "/mesh-deny";
	expect(f.set, tw(&t, "shop", "app=cart"), &r, DENY, "root ns, no selector: shop");
	expect(f.set, tw(&t, "other", ""), &r, DENY, "root ns, no selector: other");
	expect(f.set, tw(&t, "istio-system", ""), &r, DENY, "root ns, no selector: root");
	r.path = "/db-deny";
	expect(f.set, tw(&t, "bank", "app=db"), &r, DENY, "root selector, any namespace");
	expect(f.set, tw(&t, "bank", "app=web"), &r, ALLOW, "root selector, other labels");
	r.path = "/shop-deny";
	expect(f.set, tw(&t, "shop", "app=web"), &r, DENY, "namespace policy");
	expect(f.set, tw(&t, "bank", "app=web"), &r, ALLOW, "namespace policy, other namespace");
	r.path = "/cart-deny";
	expect(f.set, tw(&t, "shop", "app=cart,version=v2,x=y"), &r, DENY, "selector subset");
	expect(f.set, tw(&t, "shop", "app=cart,version=v1"), &r, ALLOW, "selector mismatch");
	expect(f.set, tw(&t, "bank", "app=cart,version=v2"), &r, ALLOW, "selector other ns");
	r.path = "/bank-deny";
	expect(f.set, tw(&t, "bank", "app=anything"), &r, DENY, "selector: {}");
	fx_free(&f);
}

/* ---- §3.1 structure of a match ---- */

static void test_or_and(void **state)
{
	struct authz_header both[] = {{"x-a", "1"}, {"X-B", "2"}}, one[] = {{"x-a", "1"}};
	struct authz_request r = http(FRONTEND, "HEAD", "/a");
	struct tw t;
	struct fx f;

	(void)state;
	fx_load_file(&f, FIXTURES "or-and.yaml");
	tw(&t, "ns", "");
	r.headers = both;
	r.nheaders = 2;
	expect(f.set, &t.wl, &r, ALLOW, "source[0] fields AND, methods OR, when AND");
	r.source_ip = "10.0.1.1";
	expect(f.set, &t.wl, &r, DENY, "source[0]: namespace matches, ipBlocks does not");
	r.principal = PROM;
	expect(f.set, &t.wl, &r, ALLOW, "source[1] (OR across sources)");
	r.method = "POST";
	expect(f.set, &t.wl, &r, DENY, "operation[0] method fails, port 8080 not 9090");
	r.dest_port = 9090;
	expect(f.set, &t.wl, &r, ALLOW, "operation[1] (OR across operations)");
	r.nheaders = 1;
	r.headers = one;
	expect(f.set, &t.wl, &r, DENY, "when: every condition must hold");
	r.principal = NULL;
	r.path = "/public";
	expect(f.set, &t.wl, &r, ALLOW, "OR across rules");
	fx_free(&f);
}

/* Every notX, and positive + negative in one entry (both must hold). */
static void test_not_fields(void **state)
{
	struct authz_request r = http(SPIFFE("ok", "a"), "GET", "/y");
	struct tw t;
	struct fx f;

	(void)state;
	fx_load_file(&f, FIXTURES "not-fields.yaml");
	tw(&t, "ns", "");
	r.host = "www.OK.com";
	expect(f.set, &t.wl, &r, ALLOW, "nothing denied");
	r.principal = SPIFFE("bad", "a");
	expect(f.set, &t.wl, &r, DENY, "notPrincipals");
	r.principal = SPIFFE("ok", "a");
	r.source_ip = "11.0.0.1";
	expect(f.set, &t.wl, &r, DENY, "notIpBlocks v4");
	r.source_ip = "fd12::1";
	expect(f.set, &t.wl, &r, ALLOW, "notIpBlocks v6 inside");
	r.method = "PUT";
	expect(f.set, &t.wl, &r, DENY, "notMethods");
	r.method = "POST";
	r.dest_port = 80;
	expect(f.set, &t.wl, &r, DENY, "notPorts");
	r.dest_port = 9090;
	r.path = "/x/ok";
	expect(f.set, &t.wl, &r, ALLOW, "paths + notPaths: excluded");
	r.path = "/x/no";
	expect(f.set, &t.wl, &r, DENY, "paths + notPaths: included");
	r.path = "/";
	r.host = "evil.com";
	expect(f.set, &t.wl, &r, DENY, "notHosts");
	r.host = "ok.com";
	r.principal = "spiffe://other.td/ns/x/sa/y";
	expect(f.set, &t.wl, &r, DENY, "notServiceAccounts + notTrustDomains");
	fx_free(&f);
}

/* ---- §3.1 identity fields ---- */

static void test_identity_fields(void **state)
{
	static const struct {
		const char *from, *path;
		bool allow;
	} cases[] = {
	    {SPIFFE("a", "exact"), "/principals", ALLOW},
	    {SPIFFE("a", "exact2"), "/principals", DENY},
	    {SPIFFE("prefix", "x"), "/principals", ALLOW},
	    {SPIFFE("b", "suffix"), "/principals", ALLOW},
	    {"spiffe://other/ns/a/sa/exact", "/principals", DENY},
	    {SPIFFE("z", "z"), "/any-identity", ALLOW},
	    {NULL, "/any-identity", DENY}, /* plaintext: no principal to be present */
	    {"", "/any-identity", DENY},
	    {SPIFFE("ns1", "x"), "/namespaces", ALLOW},
	    {SPIFFE("ns10", "x"), "/namespaces", DENY},
	    {SPIFFE("team-blue", "x"), "/namespaces", ALLOW},
	    {SPIFFE("web-prod", "x"), "/namespaces", ALLOW},
	    {NULL, "/namespaces", DENY},
	    {SPIFFE("shop", "cart"), "/sa", ALLOW}, /* "cart" is shop/cart: the policy's ns */
	    {SPIFFE("other", "cart"), "/sa", DENY},
	    {SPIFFE("bank", "teller"), "/sa", ALLOW},
	    {"spiffe://another.td/ns/bank/sa/teller", "/sa", ALLOW}, /* any trust domain */
	    {SPIFFE("x", "y"), "/td", ALLOW},
	    {"spiffe://corp.example/ns/x/sa/y", "/td", ALLOW},
	    {"spiffe://bad.example/ns/x/sa/y", "/td", DENY},
	    {NULL, "/td", DENY},
	};
	struct tw t;
	struct fx f;

	(void)state;
	fx_load_file(&f, FIXTURES "identity.yaml");
	tw(&t, "shop", "");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct authz_request r = http(cases[i].from, "GET", cases[i].path);

		expect(f.set, &t.wl, &r, cases[i].allow, cases[i].path);
	}
	fx_free(&f);
}

/* ipBlocks (peer) and remoteIpBlocks (XFF / proxy protocol), IPv4 and IPv6. */
static void test_ip_blocks(void **state)
{
	static const struct {
		const char *src, *remote, *path;
		bool allow;
	} cases[] = {
	    {"10.1.255.1", NULL, "/ip", ALLOW},
	    {"10.2.0.1", NULL, "/ip", ALLOW}, /* 10.200.3.4/8: host bits ignored */
	    {"11.0.0.1", NULL, "/ip", DENY},
	    {"192.168.1.7", NULL, "/ip", ALLOW},
	    {"192.168.1.8", NULL, "/ip", DENY},
	    {"::ffff:10.1.2.3", NULL, "/ip", ALLOW}, /* IPv4-mapped peer */
	    {"2001:db8:1:ffff::1", NULL, "/ip", ALLOW},
	    {"2001:db8:2::1", NULL, "/ip", DENY},
	    {NULL, NULL, "/ip", DENY},
	    {"not-an-ip", NULL, "/ip", DENY},
	    {"10.0.0.1", "172.20.0.1", "/remote", ALLOW},
	    {"172.20.0.1", "10.0.0.1", "/remote", DENY}, /* remote wins over the peer */
	    {"172.20.0.1", NULL, "/remote", ALLOW},	 /* no XFF: the peer is the client */
	    {"10.0.0.1", "2001:db8::1", "/remote", ALLOW},
	};
	struct tw t;
	struct fx f;

	(void)state;
	fx_load_file(&f, FIXTURES "ip-blocks.yaml");
	tw(&t, "ns", "");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct authz_request r = http(NULL, "GET", cases[i].path);

		r.source_ip = cases[i].src;
		r.remote_ip = cases[i].remote;
		expect(f.set, &t.wl, &r, cases[i].allow, cases[i].src ? cases[i].src : "no source");
	}
	fx_free(&f);
}

/* hosts: case-insensitive, prefix/suffix/presence; methods case-sensitive; ports numeric. */
static void test_hosts_methods_ports(void **state)
{
	static const struct {
		const char *host, *method;
		uint16_t port;
		bool allow;
	} cases[] = {
	    {"api.example.com", "GET", 80, ALLOW},
	    {"API.Example.COM", "GET", 80, ALLOW},
	    {"api.example.com:8080", "GET", 80, DENY}, /* Host as sent, port included */
	    {"cart.SVC.local", "GET", 80, ALLOW},
	    {"svc.local", "GET", 80, DENY},
	    {"ADMIN.corp", "GET", 80, ALLOW},
	    {NULL, "GET", 80, DENY},
	    {NULL, "PUT", 9000, ALLOW},
	    {NULL, "put", 9000, DENY},
	    {NULL, "PUT", 9001, DENY},
	};
	struct tw t;
	struct fx f;

	(void)state;
	fx_load_file(&f, FIXTURES "hosts-methods-ports.yaml");
	tw(&t, "ns", "");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct authz_request r = http(NULL, cases[i].method, "/");

		r.host = cases[i].host;
		r.dest_port = cases[i].port;
		expect(f.set, &t.wl, &r, cases[i].allow, cases[i].host ? cases[i].host : "no host");
	}
	fx_free(&f);
}

/* ---- paths: forms, query string, templates, normalisation ---- */

static void test_path_forms(void **state)
{
	static const struct {
		const char *path;
		bool allow;
	} cases[] = {
	    {"/exact", ALLOW},	     {"/exact?x=1", ALLOW}, {"/exact#frag", ALLOW},
	    {"/exact/", DENY},	     {"/exactly", DENY},    {"/pre/", ALLOW},
	    {"/pre/a/b", ALLOW},     {"/pre", DENY},	    {"/a/b.json", ALLOW},
	    {"/a/b.json?x", ALLOW},  {"/a/b.jsonx", DENY},  {"/pre/../exact", ALLOW},
	    {"/pre/%2E%2E/x", DENY}, {"/pre/%2e/y", ALLOW},
	};
	struct tw t;
	struct fx f;

	(void)state;
	fx_load_file(&f, FIXTURES "paths.yaml");
	tw(&t, "ns", "");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct authz_request r = http(NULL, "GET", cases[i].path);

		expect(f.set, &t.wl, &r, cases[i].allow, cases[i].path);
	}
	{
		struct authz_request r = http(NULL, "GET", "/whatever");

		expect(f.set, tw(&t, "any", ""), &r, ALLOW, "paths: [\"*\"]");
	}
	fx_free(&f);
}

/* The normaliser itself: what each raw path becomes. */
static void test_path_normalize(void **state)
{
	static const struct {
		const char *raw, *base, *merged;
	} cases[] = {
	    {"/", "/", "/"},
	    {"", "/", "/"},
	    {"/a?b=c", "/a", "/a"},
	    {"/a/./b", "/a/b", "/a/b"},
	    {"/a/../b", "/b", "/b"},
	    {"/a/b/..", "/a/", "/a/"},
	    {"/a/b/.", "/a/b/", "/a/b/"},
	    {"/../../a", "/a", "/a"},
	    {"/public/%2E%2E/private", "/private", "/private"},
	    {"/public/%2e/%2e%2e/private", "/private", "/private"},
	    {"/%41%62%7e%2D", "/Ab~-", "/Ab~-"},
	    {"/a%2fb%3f", "/a%2Fb%3F", "/a%2Fb%3F"}, /* reserved: stays escaped, hex upper-cased */
	    {"/a%zz%4", "/a%zz%4", "/a%zz%4"},
	    {"/store//cart", "/store//cart", "/store/cart"},
	    {"//a///b//", "//a///b//", "/a/b/"},
	    {"/a/.hidden/..x", "/a/.hidden/..x", "/a/.hidden/..x"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *b = az_path_normalize(cases[i].raw, AUTHZ_PATH_BASE);
		char *m = az_path_normalize(cases[i].raw, AUTHZ_PATH_MERGE_SLASHES);

		if (strcmp(b, cases[i].base) || strcmp(m, cases[i].merged))
			fail_msg(
			    "\"%s\": BASE \"%s\" (want \"%s\"), MERGE_SLASHES \"%s\" (want \"%s\")",
			    cases[i].raw, b, cases[i].base, m, cases[i].merged);
		free(b);
		free(m);
	}
}

/* MERGE_SLASHES (Istio's meshConfig option) through the evaluator. */
static void test_path_merge_slashes_option(void **state)
{
	struct authz_options opt = {.path_norm = AUTHZ_PATH_MERGE_SLASHES};
	struct authz_request r = http(NULL, "GET", "//admin//x");
	struct authz_set *merged;
	struct tw t;
	struct fx f;

	(void)state;
	fx_load(&f, "t.yaml",
		AP("p", "ns") "  action: DENY\n  rules:\n"
			      "  - to:\n    - operation:\n        paths: [\"/admin/*\"]\n");
	assert_int_equal(authz_compile(&f.m, &opt, &merged, &f.d), 0);
	tw(&t, "ns", "");
	expect(f.set, &t.wl, &r, ALLOW, "BASE keeps //admin//x");
	expect(merged, &t.wl, &r, DENY, "MERGE_SLASHES makes it /admin/x");
	authz_set_free(merged);
	fx_free(&f);
}

static void test_path_template_matcher(void **state)
{
	static const struct {
		const char *tmpl, *path;
		bool match;
	} cases[] = {
	    {"/a/{*}", "/a/b", true},	       {"/a/{*}", "/a/", false},
	    {"/a/{*}", "/a/b/c", false},       {"/a/{*}/c", "/a/b/c", true},
	    {"/a/{**}", "/a/", true},	       {"/a/{**}", "/a", false},
	    {"/a/{**}", "/a/b/c/d.txt", true}, {"/{**}/t", "//t", true},
	    {"/{**}/t", "/x/y/t", true},       {"/{**}/t", "/t", false},
	    {"/a/{*}/{*}", "/a/b/c", true},    {"/a/{*}", "/a/b c", false}, /* not a pchar */
	    {"/a/{*}.txt", "/a/b.txt", false}, {"/{*}/{**}", "/x/y/z", true},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (az_path_template_match(cases[i].tmpl, cases[i].path) != cases[i].match)
			fail_msg("template %s on %s: want %s", cases[i].tmpl, cases[i].path,
				 cases[i].match ? "match" : "no match");
}

/* ---- §3.1 `when` ---- */

static void test_when_keys(void **state)
{
	static const struct {
		const char *path, *hdr;
		bool allow;
	} cases[] = {
	    {"/hdr", "foo", ALLOW},	  {"/hdr", "pre-x", ALLOW},
	    {"/hdr", "bar", DENY},	  {"/hdr", NULL, DENY},
	    {"/hdr-not", "foo", ALLOW},	  {"/hdr-not", "bar", DENY},
	    {"/hdr-not", NULL, ALLOW},	  {"/hdr-present", "", ALLOW},
	    {"/hdr-present", NULL, DENY}, {"/hdr-method", NULL, ALLOW},
	    {"/src-ip", NULL, ALLOW},	  {"/remote-ip", NULL, DENY},
	    {"/src-ns", NULL, ALLOW},	  {"/src-principal", NULL, ALLOW},
	    {"/src-sa", NULL, ALLOW},	  {"/src-td", NULL, ALLOW},
	    {"/dst-ip", NULL, ALLOW},	  {"/dst-port", NULL, ALLOW},
	    {"/sni", NULL, ALLOW},	  {"/both", NULL, DENY},
	};
	struct tw t;
	struct fx f;

	(void)state;
	fx_load_file(&f, FIXTURES "when.yaml");
	tw(&t, "ns", "");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct authz_header h = {"X-FOO", cases[i].hdr};
		struct authz_request r = http(FRONTEND, "GET", cases[i].path);

		r.headers = &h;
		r.nheaders = cases[i].hdr ? 1 : 0;
		r.sni = "outbound_.8080_._.api.ns.svc.cluster.local";
		expect(f.set, &t.wl, &r, cases[i].allow, cases[i].path);
	}
	fx_free(&f);
}

/* Several headers of one name are seen joined with ',' (Envoy). */
static void test_when_header_joined(void **state)
{
	struct authz_header h[] = {{"x-id", "a"}, {"other", "z"}, {"X-Id", "b"}};
	struct authz_request r = http(NULL, "GET", "/");
	struct tw t;
	struct fx f;

	(void)state;
	fx_load(&f, "t.yaml",
		AP("p", "ns") "  rules:\n  - when:\n    - key: request.headers[x-id]\n"
			      "      values: [\"a,b\"]\n");
	r.headers = h;
	r.nheaders = 3;
	expect(f.set, tw(&t, "ns", ""), &r, ALLOW, "x-id: a, x-id: b");
	r.nheaders = 1;
	expect(f.set, &t.wl, &r, DENY, "x-id: a");
	fx_free(&f);
}

/* ---- §3.2 HTTP-only fields on TCP ---- */

static void test_tcp_allow_drops_http_rules(void **state)
{
	struct authz_request c = tcp(FRONTEND, 80);
	struct authz_request r = http(FRONTEND, "GET", "/");
	struct tw t;
	struct fx f;

	(void)state;
	fx_load_file(&f, FIXTURES "tcp-allow.yaml");
	tw(&t, "ns", "");
	expect(f.set, &t.wl, &c, ALLOW, "L4 rule survives on TCP");
	c.dest_port = 9000;
	expect(f.set, &t.wl, &c, DENY, "ALLOW rule with remoteIpBlocks dropped on TCP");
	c.dest_port = 9001;
	expect(f.set, &t.wl, &c, DENY, "ALLOW rule with request.headers dropped on TCP");
	r.dest_port = 9000;
	expect(f.set, &t.wl, &r, ALLOW, "the same rule on HTTP");
	r.dest_port = 9001;
	expect(f.set, &t.wl, &r, ALLOW, "the same rule on HTTP (no header x)");
	fx_free(&f);
}

static void test_tcp_deny_removes_http_fields(void **state)
{
	struct authz_request c = tcp(SPIFFE("bad", "x"), 80);
	struct authz_request r = http(SPIFFE("bad", "x"), "GET", "/");
	struct tw t;
	struct fx f;

	(void)state;
	fx_load_file(&f, FIXTURES "tcp-deny.yaml");
	tw(&t, "ns", "");
	expect(f.set, &t.wl, &c, DENY, "methods removed: deny ns bad on port 80");
	c.principal = SPIFFE("good", "x");
	expect(f.set, &t.wl, &c, ALLOW, "other namespace");
	c.dest_port = 9000;
	expect(f.set, &t.wl, &c, DENY, "when with only L7 removed: deny port 9000");
	r.dest_port = 80;
	expect(f.set, &t.wl, &r, ALLOW, "HTTP GET is not DELETE");
	r.method = "DELETE";
	expect(f.set, &t.wl, &r, DENY, "HTTP DELETE");
	r.dest_port = 9000;
	r.method = "GET";
	expect(f.set, &t.wl, &r, ALLOW, "HTTP: no JWT claim, rule does not match");
	fx_free(&f);
}

/* A DENY rule with only HTTP attributes refuses all TCP: allowed, but warned about (as Istio). */
static void test_tcp_deny_http_only_warns(void **state)
{
	struct authz_request c = tcp(FRONTEND, 5432);
	struct authz_request r = http(FRONTEND, "GET", "/ok");
	struct tw t;
	struct fx f;

	(void)state;
	fx_load(&f, "t.yaml",
		AP("p", "ns") "  action: DENY\n  rules:\n  - to:\n    - operation:\n"
			      "        paths: [\"/admin*\"]\n");
	assert_true(diag_contains(&f.d, "t.yaml:9: AuthorizationPolicy ns/p: spec.rules[0] uses "
					"only HTTP attributes"));
	expect(f.set, tw(&t, "ns", ""), &c, DENY, "TCP: the DENY rule lost its only field");
	expect(f.set, &t.wl, &r, ALLOW, "HTTP /ok");
	fx_free(&f);
}

/* ---- what skiff cannot know ---- */

/* No RequestAuthentication: request credentials are absent, exactly as Istio sees a request
 * without a token. requestPrincipals never match; notRequestPrincipals: ["*"] (the usual
 * "require a JWT" DENY) denies every HTTP request. */
static void test_request_auth_absent(void **state)
{
	struct authz_request r = http(FRONTEND, "GET", "/");
	struct authz_header bearer = {"authorization", "Bearer x.y.z"};
	struct tw t;
	struct fx f;

	(void)state;
	fx_load_file(&f, FIXTURES "request-auth.yaml");
	assert_true(diag_contains(&f.d,
				  FIXTURES "request-auth.yaml:11: AuthorizationPolicy ns/allow: "
					   "spec.rules[0].from[0].source.requestPrincipals: skiff "
					   "validates no JWT"));
	r.headers = &bearer;
	r.nheaders = 1;
	expect(f.set, tw(&t, "ns", ""), &r, DENY, "requestPrincipals: [*] never matches");
	r.path = "/token3";
	expect(f.set, &t.wl, &r, ALLOW, "notRequestPrincipals: absent principal is not listed");
	expect(f.set, tw(&t, "jwt", ""), &r, DENY, "DENY notRequestPrincipals: [*]");
	fx_free(&f);
}

/* experimental.envoy.filters.*: ALLOW rule dropped, DENY condition removed (fail closed). */
static void test_unknowable_metadata(void **state)
{
	struct authz_request r = http(NULL, "GET", "/");
	struct tw t;
	struct fx f;

	(void)state;
	fx_load_file(&f, FIXTURES "envoy-metadata.yaml");
	assert_true(diag_contains(&f.d, FIXTURES
				  "envoy-metadata.yaml:10: AuthorizationPolicy a/allow: "
				  "spec.rules[0].when[0] (experimental.envoy.filters.x.y[z]): "
				  "skiff has no Envoy filter metadata"));
	expect(f.set, tw(&t, "a", ""), &r, DENY, "ALLOW rule with metadata never matches");
	r.dest_port = 80;
	expect(f.set, tw(&t, "d", ""), &r, DENY, "DENY condition removed: port 80 denied");
	r.dest_port = 81;
	expect(f.set, &t.wl, &r, ALLOW, "DENY on another port");
	fx_free(&f);
}

/* ---- bad input: rejected by the model with file:line, never evaluated ---- */

static void expect_rejected(const char *yaml, const char *where, const char *text)
{
	struct diag d = {0};
	struct model m;
	int rc = model_load_string("t.yaml", yaml, &m, &d);

	if (rc != -EINVAL || !diag_contains(&d, where) || !diag_contains(&d, text)) {
		diag_print(&d);
		if (rc == 0)
			model_free(&m);
		fail_msg("want an error at %s containing \"%s\" (rc %d)", where, text, rc);
	}
	diag_free(&d);
}

static void test_bad_input(void **state)
{
	(void)state;
	expect_rejected(AP("p", "ns") "  rules:\n  - to:\n    - operation:\n"
				      "        paths: [\"/a/{**}/b/{*}\"]\n",
			"t.yaml:10:", "{**} must be the last operator");
	expect_rejected(AP("p", "ns") "  rules:\n  - to:\n    - operation:\n"
				      "        paths: [\"/a/b{*}\"]\n",
			"t.yaml:10:", "outside a whole {*} or {**} segment");
	expect_rejected(AP("p", "ns") "  rules:\n  - to:\n    - operation:\n"
				      "        notPaths: [\"/a/{***}\"]\n",
			"t.yaml:10:", "notPaths[0]");
	expect_rejected(AP("p", "ns") "  rules:\n  - when:\n    - key: request.cookie\n"
				      "      values: [\"x\"]\n",
			"t.yaml:9:", "unknown attribute \"request.cookie\"");
	expect_rejected(AP("p", "ns") "  action: DENY\n",
			"t.yaml:7:", "action DENY without rules never triggers");
	expect_rejected(AP("p", "ns") "  action: DENY\n  rules: []\n",
			"t.yaml:8:", "action DENY without rules");
	expect_rejected(AP("p", "ns") "  rules:\n  - from:\n    - source:\n"
				      "        ipBlocks: [\"10.0.0.0/33\"]\n",
			"t.yaml:10:", "is not an IP address or CIDR");
	expect_rejected(AP("p", "ns") "  rules:\n  - to:\n    - operation:\n"
				      "        ports: [\"http\"]\n",
			"t.yaml:10:", "is not a port number");
	expect_rejected(AP("p", "ns") "  rules:\n  - when:\n    - key: destination.port\n"
				      "      values: [\"x\"]\n",
			"t.yaml:10:", "is not a port number");
}

/* What the compile step adds: principals written with spiffe:// never match in Istio. */
static void test_compile_warns_spiffe_principal(void **state)
{
	struct authz_request r = http(FRONTEND, "GET", "/");
	struct tw t;
	struct fx f;

	(void)state;
	fx_load(&f, "t.yaml",
		AP("p", "ns") "  rules:\n  - from:\n    - source:\n"
			      "        principals: [\"" FRONTEND "\"]\n");
	assert_true(diag_contains(&f.d, "t.yaml:10: AuthorizationPolicy ns/p: "
					"spec.rules[0].from[0].source.principals: \"" FRONTEND
					"\" never matches"));
	expect(f.set, tw(&t, "ns", ""), &r, DENY, "as Istio: spiffe://spiffe://... never matches");
	fx_free(&f);
}

static void test_decision_format(void **state)
{
	struct authz_request r = http(NULL, "GET", "/");
	struct authz_decision dec;
	char buf[256];
	struct tw t;
	struct fx f;

	(void)state;
	fx_load(&f, "p.yaml",
		AP("a", "ns") "  rules:\n  - to:\n    - operation:\n"
			      "        paths: [\"/ok\"]\n"
			      "---\n" AP("b", "ns") "  selector:\n    matchLabels:\n"
						    "      app: x\n");
	authz_evaluate(f.set, tw(&t, "ns", "app=x"), &r, &dec);
	authz_decision_format(&dec, buf, sizeof(buf));
	assert_string_equal(buf, "DENY: no ALLOW policy matched (2 ALLOW policies apply)");
	r.path = "/ok";
	authz_evaluate(f.set, &t.wl, &r, &dec);
	authz_decision_format(&dec, buf, sizeof(buf));
	assert_string_equal(buf, "ALLOW: AuthorizationPolicy ns/a rules[0] (p.yaml:8)");
	authz_evaluate(f.set, tw(&t, "other", ""), &r, &dec);
	authz_decision_format(&dec, buf, sizeof(buf));
	assert_string_equal(buf, "ALLOW: no ALLOW policy applies to the workload (default allow)");
	fx_free(&f);
}

/* Many copies of one header are joined in time linear in their number: 60000 one-byte copies,
 * matched against two values, take milliseconds (a join that copied itself once per copy took
 * seconds). */
static void test_header_join_linear(void **state)
{
	size_t n = 60000, i;
	struct authz_header *h = calloc(n, sizeof(*h));
	struct authz_request r = http(NULL, "GET", "/");
	struct timespec t0, t1;
	struct tw t;
	struct fx f;

	(void)state;
	assert_non_null(h);
	for (i = 0; i < n; i++)
		h[i] = (struct authz_header){"x-id", "a"};
	fx_load(&f, "t.yaml",
		AP("p", "ns") "  rules:\n  - when:\n    - key: request.headers[x-id]\n"
			      "      values: [\"b*\", \"a,a,*\"]\n");
	r.headers = h;
	r.nheaders = n;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	expect(f.set, tw(&t, "ns", ""), &r, ALLOW, "60000 copies of x-id: a");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 500);
	fx_free(&f);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_policy_allows),
	    cmocka_unit_test(test_allow_without_rules_denies_all),
	    cmocka_unit_test(test_empty_rule_matches_all),
	    cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_audit_alone_changes_nothing),
	    cmocka_unit_test(test_custom_denies_what_it_matches),
	    cmocka_unit_test(test_scope_and_selectors),
	    cmocka_unit_test(test_or_and),
	    cmocka_unit_test(test_not_fields),
	    cmocka_unit_test(test_identity_fields),
	    cmocka_unit_test(test_ip_blocks),
	    cmocka_unit_test(test_hosts_methods_ports),
	    cmocka_unit_test(test_path_forms),
	    cmocka_unit_test(test_path_normalize),
	    cmocka_unit_test(test_path_merge_slashes_option),
	    cmocka_unit_test(test_path_template_matcher),
	    cmocka_unit_test(test_when_keys),
	    cmocka_unit_test(test_when_header_joined),
	    cmocka_unit_test(test_tcp_allow_drops_http_rules),
	    cmocka_unit_test(test_tcp_deny_removes_http_fields),
	    cmocka_unit_test(test_tcp_deny_http_only_warns),
	    cmocka_unit_test(test_request_auth_absent),
	    cmocka_unit_test(test_unknowable_metadata),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_compile_warns_spiffe_principal),
	    cmocka_unit_test(test_decision_format),
	    cmocka_unit_test(test_header_join_linear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
