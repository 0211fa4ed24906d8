// SPDX-License-Identifier: Apache-2.0
/*
 * Istio's own authorization cases on the evaluator: the policies are the real `.yaml.tmpl` files
 * of Istio's integration test, read from tests/conformance/istio and instantiated here by plain
 * substitution of their placeholders with the test's workloads:
 *
 *   Allowed = a in ns1 (10.1.0.1), Denied = a in ns2 (10.2.0.1), To = b in ns1 or ns2 (10.x.0.2),
 *   workload ports http 18080, http2 18085, grpc 17070, tcp 19090; trust domain cluster.local.
 *
 * Each case of that test (Istio's tests/integration/security/authz_test.go) becomes
 * request -> ALLOW/DENY pairs. Then Istio's builder test data (the Envoy filters it generates
 * for TCP) shows what HTTP-only fields do on TCP, rule by rule.
 */
#include "unit/authz_test.h"

#include "authz/authz_internal.h" /* rule-level checks of the builder data */

#define TMPL_DIR "tests/integration/security/testdata/authz/"
#define A_ID	 "spiffe://cluster.local/ns/ns1/sa/a"
#define D_ID	 "spiffe://cluster.local/ns/ns2/sa/a"

/* ---- instantiating Istio's templates ---- */

/* Where a template is applied: the To service, and the namespace for documents without one. */
struct ictx {
	const char *to_ns;
	const char *to_svc;
	const char *ns;
};

/* Placeholder (blanks removed, '"' read as '`') -> value, for the ones that do not depend on To. */
static const char *const fixed_values[][2] = {
    {".Allowed.SpiffeIdentity", "cluster.local/ns/ns1/sa/a"},
    {".Denied.SpiffeIdentity", "cluster.local/ns/ns2/sa/a"},
    {".Allowed.NamespacedName", "ns1/a"},
    {".Allowed.NamespaceName", "ns1"},
    {".Denied.NamespaceName", "ns2"},
    {".Allowed.MustWorkloads.Addresses|toJson", "[\"10.1.0.1\"]"},
    {".Denied.MustWorkloads.Addresses|toJson", "[\"10.2.0.1\"]"},
    {"(.To.PortForName`http`).WorkloadPort", "18080"},
    {"(.To.PortForName`http2`).WorkloadPort", "18085"},
    {"(.To.PortForName`grpc`).WorkloadPort", "17070"},
    {"(.To.PortForName`tcp`).WorkloadPort", "19090"},
    {"(.To.PortForName`http`).ServicePort", "80"},
    {".SystemNamespace.Name", "istio-system"},
    {".GatewayIstioLabel|default`ingressgateway`", "ingressgateway"},
    {".GatewayIstioLabel|default`istio-ingressgateway`", "istio-ingressgateway"},
    {".Provider.Name", "ext-authz"},
    {".JWTServer.JwksURI", "https://jwt.example/jwks"},
};

static char *placeholder(const struct ictx *c, const char *key)
{
	char *v = NULL;

	for (size_t i = 0; i < sizeof(fixed_values) / sizeof(fixed_values[0]); i++)
		if (!strcmp(key, fixed_values[i][0]))
			return strdup(fixed_values[i][1]);
	if (!strcmp(key, ".To.ServiceName"))
		return strdup(c->to_svc);
	if (!strcmp(key, ".To.NamespaceName") || !strcmp(key, ".To.Config.Namespace.Prefix"))
		return strdup(c->to_ns);
	if (!strcmp(key, ".Namespace.Prefix"))
		return strdup(c->ns);
	if (!strcmp(key, ".To.ClusterLocalFQDN") &&
	    asprintf(&v, "%s.%s.svc.cluster.local", c->to_svc, c->to_ns) < 0)
		v = NULL;
	if (!strcmp(key, ".To.MustWorkloads.Addresses|toJson") &&
	    asprintf(&v, "[\"10.%s.0.2\"]", !strcmp(c->to_ns, "ns1") ? "1" : "2") < 0)
		v = NULL;
	return v;
}

/* "{{ ( .To.PortForName "http" ).WorkloadPort }}" -> "(.To.PortForName`http`).WorkloadPort" */
static void placeholder_key(const char *s, size_t n, char *key, size_t cap)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < cap; i++)
		if (s[i] != ' ')
			key[k++] = s[i] == '"' ? '`' : s[i];
	key[k] = '\0';
}

/* Every {{ ... }} replaced; a placeholder this test does not know fails the test. */
static char *substitute(const char *name, const char *text, const struct ictx *c)
{
	char *out = NULL, key[256];
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	const char *p = text, *open, *close;

	while ((open = strstr(p, "{{")) && (close = strstr(open, "}}"))) {
		char *v;

		fwrite(p, 1, (size_t)(open - p), f);
		placeholder_key(open + 2, (size_t)(close - open - 2), key, sizeof(key));
		v = placeholder(c, key);
		if (!v)
			fail_msg("%s: no value for placeholder {{%s}}", name, key);
		fputs(v, f);
		free(v);
		p = close + 2;
	}
	fputs(p, f);
	fclose(f);
	return out;
}

/* What `kubectl apply -n NS` does: documents without metadata.namespace get NS. */
static char *with_namespace(const char *yaml, const char *ns)
{
	char *out = NULL, *copy = strdup(yaml);
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	for (char *doc = copy; doc;) {
		char *next = strstr(doc, "\n---");
		char *md;

		if (next)
			*next = '\0';
		md = strstr(doc, "\nmetadata:\n");
		if (md && !strstr(doc, "\n  namespace:")) {
			fwrite(doc, 1, (size_t)(md - doc) + 11, f);
			fprintf(f, "  namespace: %s\n%s", ns, md + 11);
		} else {
			fputs(doc, f);
		}
		fputs(next ? "\n---" : "", f);
		doc = next ? next + 4 : NULL;
	}
	free(copy);
	fclose(f);
	return out;
}

struct tmpl {
	const char *file; /* under TMPL_DIR, without .yaml.tmpl */
	struct ictx ctx;
};

/* Instantiate the templates and load them as one snapshot. */
static void load_templates(struct fx *f, const struct tmpl *t, size_t n)
{
	char *all = NULL, path[512];
	size_t len = 0;
	FILE *buf = open_memstream(&all, &len);

	for (size_t i = 0; i < n; i++) {
		char *text, *sub, *full;

		snprintf(path, sizeof(path), "%s/" TMPL_DIR "%s.yaml.tmpl", conformance_dir(),
			 t[i].file);
		text = read_text(path);
		if (!text)
			fail_msg("cannot read %s (not run from the repository root?)", path);
		sub = substitute(path, text, &t[i].ctx);
		full = with_namespace(sub, t[i].ctx.ns);
		fprintf(buf, "%s\n---\n", full);
		free(full);
		free(sub);
		free(text);
	}
	fclose(buf);
	fx_load(f, t[0].file, all);
	free(all);
}

#define IN_NS1                                                                                     \
	{                                                                                          \
		"ns1", "b", "ns1"                                                                  \
	}
#define IN_NS2                                                                                     \
	{                                                                                          \
		"ns2", "b", "ns2"                                                                  \
	}
#define IN_ROOT                                                                                    \
	{                                                                                          \
		"ns1", "b", "istio-system"                                                         \
	}

/* ---- requests as Istio's echo test sends them ---- */

enum src { FROM_A, FROM_D, FROM_D_PLAINTEXT };
enum kind { HTTP, HTTP2, GRPC, TCP };

struct xcase {
	enum src from;
	enum kind kind;
	const char *path;
	bool allow;
};

static struct authz_request request(enum src from, enum kind kind, const char *path,
				    const char *to_ns)
{
	static const uint16_t ports[] = {18080, 18085, 17070, 19090};
	struct authz_request r = {
	    .principal = from == FROM_A	  ? A_ID
			 : from == FROM_D ? D_ID
					  : NULL,
	    .source_ip = from == FROM_A ? "10.1.0.1" : "10.2.0.1",
	    .dest_ip = !strcmp(to_ns, "ns1") ? "10.1.0.2" : "10.2.0.2",
	    .dest_port = ports[kind],
	    .tcp = kind == TCP,
	    .method = kind == GRPC ? "POST" : "GET",
	    .path = kind == GRPC ? "/proto.EchoTestService/Echo" : path,
	};

	return r;
}

static void run_cases(const struct fx *f, const char *to_ns, const char *labels,
		      const struct xcase *c, size_t n, const char *policy)
{
	static const char *const kinds[] = {"http", "http2", "grpc", "tcp"};
	static const char *const srcs[] = {"A", "D", "D plaintext"};
	char what[256];
	struct tw t;

	tw(&t, to_ns, labels);
	for (size_t i = 0; i < n; i++) {
		struct authz_request r = request(c[i].from, c[i].kind, c[i].path, to_ns);

		snprintf(what, sizeof(what), "%s: from %s, %s %s", policy, srcs[c[i].from],
			 kinds[c[i].kind], c[i].kind == TCP || c[i].kind == GRPC ? "" : c[i].path);
		expect(f->set, &t.wl, &r, c[i].allow, what);
	}
}

#define RUN(f, ns, labels, cases, policy)                                                          \
	run_cases(f, ns, labels, cases, sizeof(cases) / sizeof(cases[0]), policy)

/* ---- the cases of Istio's authz_test.go ---- */

/* allow-principal and allow-serviceaccount: the same matrix. */
static const struct xcase allow_source_cases[] = {
    {FROM_A, TCP, NULL, ALLOW},
    {FROM_A, GRPC, NULL, ALLOW},
    {FROM_A, HTTP, "/allow", ALLOW},
    {FROM_A, HTTP2, "/allow", ALLOW},
    {FROM_A, HTTP, "/allow?param=value", ALLOW},
    {FROM_D, TCP, NULL, DENY},
    {FROM_D, GRPC, NULL, DENY},
    {FROM_D, HTTP, "/allow", DENY},
    {FROM_D, HTTP2, "/allow?param=value", DENY},
    {FROM_A, HTTP, "/deny", DENY},
    {FROM_A, HTTP2, "/deny?param=value", DENY},
    {FROM_D, HTTP, "/deny", DENY},
    {FROM_D, HTTP, "/deny?param=value", DENY},
};

static void test_allow_principal(void **state)
{
	const struct tmpl t[] = {{"allow-principal", IN_NS1}, {"mtls", IN_NS1}};
	struct fx f;

	(void)state;
	load_templates(&f, t, 2);
	RUN(&f, "ns1", "app=b", allow_source_cases, "allow-principal");
	fx_free(&f);
}

static void test_allow_serviceaccount(void **state)
{
	const struct tmpl t[] = {{"allow-serviceaccount", IN_NS1}, {"mtls", IN_NS1}};
	struct fx f;

	(void)state;
	load_templates(&f, t, 2);
	RUN(&f, "ns1", "app=b", allow_source_cases, "allow-serviceaccount");
	fx_free(&f);
}

/* allow-namespace, applied with the target in ns1 and in ns2: only ns1 sources get in. */
static void test_allow_namespace(void **state)
{
	static const struct xcase cases[] = {
	    {FROM_A, TCP, NULL, ALLOW},	     {FROM_A, GRPC, NULL, ALLOW},
	    {FROM_A, HTTP, "/allow", ALLOW}, {FROM_D, TCP, NULL, DENY},
	    {FROM_D, GRPC, NULL, DENY},	     {FROM_D, HTTP, "/allow", DENY},
	    {FROM_A, HTTP, "/deny", DENY},   {FROM_D, HTTP2, "/deny", DENY},
	};
	const struct tmpl t1[] = {{"allow-namespace", IN_NS1}, {"mtls", IN_NS1}};
	const struct tmpl t2[] = {{"allow-namespace", IN_NS2}, {"mtls", IN_NS2}};
	struct fx f;

	(void)state;
	load_templates(&f, t1, 2);
	RUN(&f, "ns1", "app=b", cases, "allow-namespace, target in ns1");
	fx_free(&f);
	load_templates(&f, t2, 2);
	RUN(&f, "ns2", "app=b", cases, "allow-namespace, target in ns2");
	fx_free(&f);
}

static void test_allow_trust_domain(void **state)
{
	static const struct xcase cases[] = {
	    {FROM_A, TCP, NULL, ALLOW},
	    {FROM_D, TCP, NULL, ALLOW},
	    {FROM_A, GRPC, NULL, ALLOW},
	    {FROM_D, GRPC, NULL, ALLOW},
	    {FROM_A, HTTP, "/allow", ALLOW},
	    {FROM_D, HTTP2, "/allow", ALLOW},
	    {FROM_A, HTTP, "/not-deny", ALLOW},
	    {FROM_D, HTTP, "/not-deny", ALLOW},
	    {FROM_A, HTTP, "/deny", DENY},
	    {FROM_D, HTTP2, "/deny", DENY},
	    {FROM_A, HTTP, "/not-trust-domain", DENY},
	    {FROM_D, HTTP, "/not-trust-domain", DENY},
	};
	const struct tmpl t[] = {{"allow-trust-domain", IN_NS1}, {"mtls", IN_NS1}};
	struct fx f;

	(void)state;
	load_templates(&f, t, 2);
	RUN(&f, "ns1", "app=b", cases, "allow-trust-domain");
	fx_free(&f);
}

/* deny-principal / deny-namespace, each with the mesh-wide deny-global in the root namespace. */
static const struct xcase deny_source_cases[] = {
    {FROM_D, TCP, NULL, DENY},
    {FROM_D, GRPC, NULL, DENY},
    {FROM_D, HTTP, "/deny", DENY},
    {FROM_D, HTTP2, "/deny?param=value", DENY},
    {FROM_A, TCP, NULL, ALLOW}, /* no ALLOW policy exists */
    {FROM_A, GRPC, NULL, ALLOW},
    {FROM_A, HTTP, "/deny", ALLOW},
    {FROM_A, HTTP2, "/deny?param=value", ALLOW},
    {FROM_A, HTTP, "/deny/allow", ALLOW},
    {FROM_D, HTTP, "/deny/allow", ALLOW},
    {FROM_A, HTTP, "/allow", ALLOW},
    {FROM_D, HTTP2, "/allow", ALLOW},
    {FROM_A, HTTP, "/global-deny", DENY},
    {FROM_D, HTTP2, "/global-deny?param=value", DENY},
    {FROM_A, HTTP, "/global-deny/allow", ALLOW},
    {FROM_D, HTTP, "/global-deny/allow", ALLOW},
};

static void test_deny_principal(void **state)
{
	const struct tmpl t[] = {
	    {"deny-principal", IN_NS1}, {"deny-global", IN_ROOT}, {"mtls", IN_NS1}};
	struct fx f;

	(void)state;
	load_templates(&f, t, 3);
	RUN(&f, "ns1", "app=b", deny_source_cases, "deny-principal + deny-global");
	fx_free(&f);
}

static void test_deny_namespace(void **state)
{
	const struct tmpl t[] = {
	    {"deny-namespace", IN_NS1}, {"deny-global", IN_ROOT}, {"mtls", IN_NS1}};
	struct fx f;

	(void)state;
	load_templates(&f, t, 3);
	RUN(&f, "ns1", "app=b", deny_source_cases, "deny-namespace + deny-global");
	fx_free(&f);
}

static void test_not_namespace(void **state)
{
	static const struct xcase cases[] = {
	    {FROM_A, HTTP, "/", ALLOW}, {FROM_A, HTTP2, "/", ALLOW}, {FROM_A, GRPC, NULL, ALLOW},
	    {FROM_A, TCP, NULL, ALLOW}, {FROM_D, HTTP, "/", DENY},   {FROM_D, HTTP2, "/", DENY},
	    {FROM_D, GRPC, NULL, DENY}, {FROM_D, TCP, NULL, DENY},
	};
	const struct tmpl t[] = {{"not-namespace", IN_NS1}, {"mtls", IN_NS1}};
	struct fx f;

	(void)state;
	load_templates(&f, t, 2);
	RUN(&f, "ns1", "app=b", cases, "not-namespace");
	fx_free(&f);
}

static void test_not_method_and_not_port(void **state)
{
	static const struct xcase ports[] = {
	    {FROM_A, HTTP, "/", ALLOW},
	    {FROM_A, HTTP2, "/", DENY},
	};
	const struct tmpl tm[] = {{"not-method", IN_NS1}};
	const struct tmpl tp[] = {{"not-port", IN_NS1}};
	struct authz_request r = request(FROM_A, HTTP, "/", "ns1");
	struct tw t;
	struct fx f;

	(void)state;
	load_templates(&f, tm, 1);
	expect(f.set, tw(&t, "ns1", "app=b"), &r, ALLOW, "not-method: GET");
	r.method = "PUT";
	expect(f.set, &t.wl, &r, DENY, "not-method: PUT");
	fx_free(&f);
	load_templates(&f, tp, 1);
	RUN(&f, "ns1", "app=b", ports, "not-port");
	fx_free(&f);
}

/* PERMISSIVE plus DENY notPrincipals: ["*"]: mTLS gets in, plaintext does not. */
static void test_plaintext(void **state)
{
	static const struct xcase cases[] = {
	    {FROM_A, HTTP, "/", ALLOW},		  {FROM_A, TCP, NULL, ALLOW},
	    {FROM_D_PLAINTEXT, HTTP, "/", DENY},  {FROM_D_PLAINTEXT, HTTP2, "/", DENY},
	    {FROM_D_PLAINTEXT, GRPC, NULL, DENY}, {FROM_D_PLAINTEXT, TCP, NULL, DENY},
	};
	const struct tmpl t[] = {{"plaintext", IN_NS1}};
	struct fx f;

	(void)state;
	load_templates(&f, t, 1);
	RUN(&f, "ns1", "app=b", cases, "plaintext");
	fx_free(&f);
}

static void test_path_precedence(void **state)
{
	static const struct xcase cases[] = {
	    {FROM_A, HTTP, "/allow/admin", DENY},
	    {FROM_A, HTTP, "/allow/admin?param=value", DENY},
	    {FROM_A, HTTP, "/allow", ALLOW},
	    {FROM_A, HTTP, "/allow?param=value", ALLOW},
	};
	const struct tmpl t[] = {{"path-precedence", IN_NS1}};
	struct fx f;

	(void)state;
	load_templates(&f, t, 1);
	RUN(&f, "ns1", "app=b", cases, "path-precedence");
	fx_free(&f);
}

static void test_path_templating(void **state)
{
	static const struct xcase cases[] = {
	    {FROM_A, HTTP, "/allow/admin/", ALLOW},
	    {FROM_A, HTTP, "/allow/admin/temp", ALLOW},
	    {FROM_A, HTTP, "/allow/admin/temp.txt", ALLOW},
	    {FROM_A, HTTP, "/allow/admin/foo/temp.txt", ALLOW},
	    {FROM_A, HTTP, "/foo/buzz/bar/bat.txt", ALLOW},
	    {FROM_A, HTTP, "/foo/buzz/bar/bat.temp.txt", ALLOW},
	    {FROM_A, HTTP, "/foo/buzz/bar/bat/fuzz.txt", ALLOW},
	    {FROM_A, HTTP, "/foo/buzz/bar/bat", ALLOW},
	    {FROM_A, HTTP, "/store//cart", ALLOW},
	    {FROM_A, HTTP, "/store/foo/cart", ALLOW},
	    {FROM_A, HTTP, "/store/foo/bar/cart", ALLOW},
	    {FROM_A, HTTP, "/allow/admin", DENY},
	    {FROM_A, HTTP, "/allow/user/", DENY},
	    {FROM_A, HTTP, "/allow/admin?param=value", DENY},
	    {FROM_A, HTTP, "/allow", DENY},
	    {FROM_A, HTTP, "/foo/bar/bat.txt", DENY},
	    {FROM_A, HTTP, "/foo//bar/bat.txt", DENY},
	    {FROM_A, HTTP, "/store/cart", DENY},
	};
	const struct tmpl t[] = {{"path-templating", IN_NS1}};
	struct fx f;

	(void)state;
	load_templates(&f, t, 1);
	RUN(&f, "ns1", "app=b", cases, "path-templating");
	fx_free(&f);
}

static void test_path_normalization(void **state)
{
	static const struct xcase cases[] = {
	    {FROM_A, HTTP, "/public", ALLOW},
	    {FROM_A, HTTP, "/public/../public", ALLOW},
	    {FROM_A, HTTP, "/private", DENY},
	    {FROM_A, HTTP, "/public/../private", DENY},
	    {FROM_A, HTTP, "/public/./../private", DENY},
	    {FROM_A, HTTP, "/public/.././private", DENY},
	    {FROM_A, HTTP, "/public/%2E%2E/private", DENY},
	    {FROM_A, HTTP, "/public/%2e%2e/private", DENY},
	    {FROM_A, HTTP, "/public/%2E/%2E%2E/private", DENY},
	    {FROM_A, HTTP, "/public/%2e/%2e%2e/private", DENY},
	    {FROM_A, HTTP, "/public/%2E%2E/%2E/private", DENY},
	    {FROM_A, HTTP, "/public/%2e%2e/%2e/private", DENY},
	};
	const struct tmpl t[] = {{"path-normalization", IN_NS1}};
	struct fx f;

	(void)state;
	load_templates(&f, t, 1);
	RUN(&f, "ns1", "app=b", cases, "path-normalization");
	fx_free(&f);
}

/* conditions: one policy per `when` key, each keyed by path. */
static void test_conditions(void **state)
{
	static const struct xcase by_source[] = {
	    {FROM_A, HTTP, "/source-ip", ALLOW},
	    {FROM_D, HTTP, "/source-ip", DENY},
	    {FROM_A, HTTP, "/source-ip-notValues", ALLOW},
	    {FROM_D, HTTP, "/source-ip-notValues", DENY},
	    {FROM_A, HTTP, "/source-namespace", ALLOW},
	    {FROM_D, HTTP, "/source-namespace", DENY},
	    {FROM_A, HTTP, "/source-namespace-notValues", ALLOW},
	    {FROM_D, HTTP, "/source-namespace-notValues", DENY},
	    {FROM_A, HTTP, "/source-principal", ALLOW},
	    {FROM_D, HTTP, "/source-principal", DENY},
	    {FROM_A, HTTP, "/source-principal-notValues", ALLOW},
	    {FROM_D, HTTP, "/source-principal-notValues", DENY},
	    {FROM_A, HTTP, "/source-trust-domain", ALLOW},
	    {FROM_D, HTTP, "/source-trust-domain", ALLOW},
	    {FROM_A, HTTP, "/source-trust-domain-notValues", ALLOW},
	    {FROM_D, HTTP, "/source-trust-domain-notValues", ALLOW},
	    {FROM_A, HTTP, "/destination-ip-good", ALLOW},
	    {FROM_A, HTTP, "/destination-ip-bad", DENY},
	    {FROM_A, HTTP, "/destination-ip-notValues", DENY},
	    {FROM_A, HTTP, "/destination-port-good", ALLOW},
	    {FROM_A, HTTP, "/destination-port-bad", DENY},
	    {FROM_A, HTTP, "/destination-port-notValues", DENY},
	    {FROM_A, HTTP, "/other", DENY},
	};
	static const struct {
		const char *path, *x_foo;
		bool allow;
	} headers[] = {
	    {"/request-headers", "foo", ALLOW},
	    {"/request-headers", "bar", DENY},
	    {"/request-headers", NULL, DENY},
	    {"/request-headers-notValues", "foo", ALLOW},
	    {"/request-headers-notValues", "bar", DENY},
	};
	const struct tmpl t[] = {{"conditions", IN_NS1}, {"mtls", IN_NS1}};
	struct tw w;
	struct fx f;

	(void)state;
	load_templates(&f, t, 2);
	RUN(&f, "ns1", "app=b", by_source, "conditions");
	tw(&w, "ns1", "app=b");
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		struct authz_header h = {"x-foo", headers[i].x_foo};
		struct authz_request r = request(FROM_A, HTTP, headers[i].path, "ns1");

		r.headers = &h;
		r.nheaders = headers[i].x_foo ? 1 : 0;
		expect(f.set, &w.wl, &r, headers[i].allow, headers[i].path);
	}
	{
		struct authz_request r = request(FROM_A, HTTP, "/connection-sni-good", "ns1");

		r.sni =
		    "outbound_.18080_._.b.ns1.svc.cluster.local"; /* what Istio's client sends */
		expect(f.set, &w.wl, &r, ALLOW, "/connection-sni-good");
		r.path = "/connection-sni-bad";
		expect(f.set, &w.wl, &r, DENY, r.path);
		r.path = "/connection-sni-notValues";
		expect(f.set, &w.wl, &r, DENY, r.path);
	}
	fx_free(&f);
}

/* workload, workload-bad (services b and c in ns1), workload-ns (ns1 and ns2), workload-system-ns
 * (root namespace). */
static void test_workload_selectors(void **state)
{
	const struct tmpl t[] = {
	    {"workload", {"ns1", "b", "ns1"}},
	    {"workload", {"ns1", "c", "ns1"}},
	    {"workload-bad", {"ns1", "b", "ns1"}},
	    {"workload-ns", {"ns1", "b", "ns1"}},
	    {"workload-ns", {"ns2", "b", "ns2"}},
	    {"workload-system-ns", {"ns1", "b", "istio-system"}},
	};
	static const struct {
		const char *ns, *labels, *path;
		bool allow;
	} cases[] = {
	    {"ns1", "app=b", "/policy-ns1-b", ALLOW},
	    {"ns1", "app=c", "/policy-ns1-b", DENY},
	    {"ns1", "app=c", "/policy-ns1-c", ALLOW},
	    {"ns1", "app=b", "/policy-ns1-all", ALLOW},
	    {"ns2", "app=b", "/policy-ns1-all", DENY},
	    {"ns2", "app=b", "/policy-ns2-all", ALLOW},
	    {"ns1", "app=b", "/policy-ns2-all", DENY},
	    {"ns1", "app=b", "/policy-system-b", ALLOW},
	    {"ns2", "app=b", "/policy-system-b", ALLOW},
	    {"ns1", "app=c", "/policy-system-b", DENY},
	    {"ns1", "app=b", "/policy-ns1-b-bad", DENY},
	    {"ns1", "app=b,foo=bla", "/policy-ns1-b-bad", ALLOW}, /* after the pod is labelled */
	};
	struct tw w;
	struct fx f;

	(void)state;
	load_templates(&f, t, 6);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct authz_request r = request(FROM_A, HTTP, cases[i].path, cases[i].ns);
		char what[128];

		snprintf(what, sizeof(what), "%s on %s/%s", cases[i].path, cases[i].ns,
			 cases[i].labels);
		expect(f.set, tw(&w, cases[i].ns, cases[i].labels), &r, cases[i].allow, what);
	}
	fx_free(&f);
}

static void test_not_host(void **state)
{
	const struct tmpl t[] = {{"not-host", IN_NS1}};
	struct authz_request r = request(FROM_A, HTTP, "/", "ns1");
	struct tw w;
	struct fx f;

	(void)state;
	load_templates(&f, t, 1);
	r.host = "allow.b.com";
	expect(f.set, tw(&w, "ns1", "app=b"), &r, ALLOW, "Host allow.b.com");
	r.host = "deny.b.com";
	expect(f.set, &w.wl, &r, DENY, "Host deny.b.com");
	fx_free(&f);
}

/* The root-namespace DENY on the ingress gateway: hosts in any case, paths, remote IPs. */
static void test_ingress_gateway(void **state)
{
	static const struct {
		const char *host, *path, *xff;
		bool allow;
	} cases[] = {
	    {"deny.b.com", "/", NULL, DENY},
	    {"DENY.B.COM", "/", NULL, DENY},
	    {"Deny.B.Com", "/", NULL, DENY},
	    {"www.suffix.b.com", "/", NULL, DENY},
	    {"WWW.SUFFIX.B.COM", "/", NULL, DENY},
	    {"prefix.b.org", "/", NULL, DENY},
	    {"PREFIX.B.ORG", "/", NULL, DENY},
	    {"internal.b.com", "/", NULL, DENY},
	    {"www.b.com", "/private", NULL, DENY},
	    {"www.b.com", "/", NULL, ALLOW},
	    {"www.b.com", "/public", NULL, ALLOW},
	    {"remoteipblocks.b.com", "/", "172.17.72.46", DENY},
	    {"remoteipblocks.b.com", "/", "192.168.5.233", DENY},
	    {"remoteipblocks.b.com", "/", "10.4.5.6", ALLOW},
	    {"notremoteipblocks.b.com", "/", "10.2.3.4", DENY},
	    {"notremoteipblocks.b.com", "/", "172.23.242.188", ALLOW},
	    {"remoteipattr.b.com", "/", "10.242.5.7", DENY},
	    {"remoteipattr.b.com", "/", "10.124.99.10", DENY},
	    {"remoteipattr.b.com", "/", "10.4.5.6", ALLOW},
	};
	const struct tmpl t[] = {{"ingress-gateway", IN_NS1}};
	struct tw w;
	struct fx f;

	(void)state;
	load_templates(&f, t, 1);
	tw(&w, "istio-system", "app=istio-ingressgateway,istio=ingressgateway");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct authz_request r = request(FROM_A, HTTP, cases[i].path, "ns1");

		r.host = cases[i].host;
		r.remote_ip = cases[i].xff;
		expect(f.set, &w.wl, &r, cases[i].allow, cases[i].host);
	}
	fx_free(&f);
}

/* jwt: skiff reads no RequestAuthentication, so every request is one without a token. The
 * token-carrying cases need JWT validation, which skiff does not have. */
static void test_jwt_without_token(void **state)
{
	static const struct xcase cases[] = {
	    {FROM_A, HTTP, "/token1", DENY},	  {FROM_A, HTTP, "/token2", DENY},
	    {FROM_A, HTTP, "/tokenAny", DENY},	  {FROM_A, HTTP, "/permission", DENY},
	    {FROM_A, HTTP, "/nested-key1", DENY}, {FROM_A, HTTP, "/valid-jwt", DENY},
	    {FROM_A, HTTP, "/x/presenter", DENY}, {FROM_A, HTTP, "/other", DENY},
	};
	const struct tmpl t[] = {{"jwt", IN_NS1}};
	struct fx f;

	(void)state;
	load_templates(&f, t, 1);
	RUN(&f, "ns1", "app=b", cases, "jwt, no token");
	fx_free(&f);
}

/* custom-provider: skiff has no ext-authz client, so what the CUSTOM rules match is denied
 * (Istio would ask the provider: /custom with x-ext-authz: allow passes there). */
static void test_custom_provider(void **state)
{
	static const struct xcase cases[] = {
	    {FROM_A, HTTP, "/custom", DENY},   {FROM_A, GRPC, NULL, DENY},
	    {FROM_A, TCP, NULL, DENY},	       {FROM_A, HTTP, "/health", ALLOW},
	    {FROM_D, HTTP2, "/health", ALLOW},
	};
	const struct tmpl t[] = {{"custom-provider", IN_NS1}};
	struct fx f;

	(void)state;
	load_templates(&f, t, 1);
	assert_true(diag_contains(&f.d, "CUSTOM: skiff has no ext-authz client"));
	RUN(&f, "ns1", "app=b", cases, "custom-provider");
	fx_free(&f);
}

/* ---- HTTP-only fields on TCP: Istio's builder test data (the TCP filters it generates) ---- */

static void load_builder(struct fx *f, const char *rel)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/pilot/pkg/security/authz/builder/testdata/%s",
		 conformance_dir(), rel);
	fx_load_file(f, path);
}

/* Which rules of the policy match the request, as a bit mask. */
static unsigned rules_matching(const struct fx *f, const struct authz_request *r)
{
	const struct az_policy *p = &f->set->v[0];
	struct az_attrs a;
	unsigned mask = 0;

	az_attrs_init(&a, r, AUTHZ_PATH_BASE);
	for (size_t i = 0; i < p->nrules; i++)
		if (az_rule_match(&p->rules[i], p->ap->action, &a))
			mask |= 1u << i;
	az_attrs_free(&a);
	return mask;
}

#define BIT(...) bits((int[]){__VA_ARGS__, -1})

static unsigned bits(const int *v)
{
	unsigned m = 0;

	for (; *v >= 0; v++)
		m |= 1u << *v;
	return m;
}

/* deny-both-http-tcp: on TCP rules 0, 1, 2, 8 deny everything, 3 denies ns-1, 4 port 80, 5 port
 * 8080, 6 port 8080 from ns-2; 7 and 9 are L4 already; 10 can never match (notPrincipals "*"). */
static void test_builder_tcp_deny(void **state)
{
	struct authz_request r = {.tcp = true, .dest_port = 1, .source_ip = "10.0.0.1"};
	struct fx f;

	(void)state;
	load_builder(&f, "tcp/deny-both-http-tcp-in.yaml");
	assert_int_equal(f.set->v[0].nrules, 11);
	for (int i = 0; i < 11; i++) { /* Istio's validation warns about the same four rules */
		char needle[64];

		snprintf(needle, sizeof(needle), "spec.rules[%d] uses only HTTP attributes", i);
		assert_int_equal(!!diag_contains(&f.d, needle), i <= 2 || i == 8);
	}
	assert_int_equal(rules_matching(&f, &r), BIT(0, 1, 2, 8));
	r.principal = "spiffe://cluster.local/ns/ns-1/sa/x";
	r.dest_port = 80;
	assert_int_equal(rules_matching(&f, &r), BIT(0, 1, 2, 3, 4, 7, 8, 9));
	r.principal = "spiffe://cluster.local/ns/ns-2/sa/x";
	r.dest_port = 8080;
	assert_int_equal(rules_matching(&f, &r), BIT(0, 1, 2, 5, 6, 8));
	/* The same rules on HTTP keep their L7 fields (no JWT: requestPrincipals never match). */
	r = (struct authz_request){.principal = "spiffe://cluster.local/ns/ns-1/sa/x",
				   .dest_port = 80,
				   .method = "GET",
				   .path = "/"};
	assert_int_equal(rules_matching(&f, &r), BIT(1, 3, 7, 8, 9));
	fx_free(&f);
}

/* allow-both-http-tcp: only rule 3 (ns-1, port 80) survives on TCP; allow-only-http denies all
 * TCP; custom-both-http-tcp (CUSTOM, denied in skiff) keeps its L4 fields like DENY. */
static void test_builder_tcp_allow_and_custom(void **state)
{
	struct authz_request r = {
	    .principal = "spiffe://cluster.local/ns/ns-1/sa/x", .tcp = true, .dest_port = 80};
	struct tw w;
	struct fx f;

	(void)state;
	load_builder(&f, "tcp/allow-both-http-tcp-in.yaml");
	assert_int_equal(rules_matching(&f, &r), BIT(3));
	expect(f.set, tw(&w, "foo", ""), &r, ALLOW, "allow-both-http-tcp: ns-1 port 80");
	r.dest_port = 8080;
	expect(f.set, &w.wl, &r, DENY, "allow-both-http-tcp: rule 1 (ns-1, 8080, GET) dropped");
	fx_free(&f);

	load_builder(&f, "tcp/allow-only-http-in.yaml");
	assert_int_equal(rules_matching(&f, &r), 0);
	expect(f.set, &w.wl, &r, DENY, "allow-only-http: no TCP rule left");
	fx_free(&f);

	load_builder(&f, "tcp/custom-both-http-tcp-in.yaml");
	r = (struct authz_request){.tcp = true, .dest_port = 80, .source_ip = "1.2.3.4"};
	assert_int_equal(rules_matching(&f, &r), BIT(0, 1, 2, 3, 4, 5));
	r.source_ip = "5.6.7.8";
	r.dest_port = 81;
	assert_int_equal(rules_matching(&f, &r), BIT(0, 3));
	expect(f.set, tw(&w, "foo", "app=httpbin,version=v1"), &r, DENY, "custom-both-http-tcp");
	fx_free(&f);
}

/* allow-nil-rule / allow-empty-rule / deny-empty-rule / deny-and-allow, as they are. */
static void test_builder_http_basics(void **state)
{
	struct authz_request r = {.principal = "spiffe://allow", .method = "GET", .path = "/"};
	struct tw w;
	struct fx f;

	(void)state;
	tw(&w, "foo", "app=httpbin,version=v1");
	load_builder(&f, "http/allow-nil-rule-in.yaml");
	expect(f.set, &w.wl, &r, DENY, "allow-nil-rule: matches nothing, denies all");
	fx_free(&f);
	load_builder(&f, "http/allow-empty-rule-in.yaml");
	expect(f.set, &w.wl, &r, ALLOW, "allow-empty-rule");
	fx_free(&f);
	load_builder(&f, "http/deny-empty-rule-in.yaml");
	expect(f.set, &w.wl, &r, DENY, "deny-empty-rule");
	fx_free(&f);
	load_builder(&f, "http/deny-and-allow-in.yaml");
	expect(f.set, &w.wl, &r, ALLOW, "deny-and-allow: principal allow");
	r.principal = "spiffe://deny";
	expect(f.set, &w.wl, &r, DENY, "deny-and-allow: principal deny");
	r.principal = "spiffe://other";
	expect(f.set, &w.wl, &r, DENY, "deny-and-allow: neither");
	fx_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_allow_principal),
	    cmocka_unit_test(test_allow_serviceaccount),
	    cmocka_unit_test(test_allow_namespace),
	    cmocka_unit_test(test_allow_trust_domain),
	    cmocka_unit_test(test_deny_principal),
	    cmocka_unit_test(test_deny_namespace),
	    cmocka_unit_test(test_not_namespace),
	    cmocka_unit_test(test_not_method_and_not_port),
	    cmocka_unit_test(test_plaintext),
	    cmocka_unit_test(test_path_precedence),
	    cmocka_unit_test(test_path_templating),
	    cmocka_unit_test(test_path_normalization),
	    cmocka_unit_test(test_conditions),
	    cmocka_unit_test(test_workload_selectors),
	    cmocka_unit_test(test_not_host),
	    cmocka_unit_test(test_ingress_gateway),
	    cmocka_unit_test(test_jwt_without_token),
	    cmocka_unit_test(test_custom_provider),
	    cmocka_unit_test(test_builder_tcp_deny),
	    cmocka_unit_test(test_builder_tcp_allow_and_custom),
	    cmocka_unit_test(test_builder_http_basics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
