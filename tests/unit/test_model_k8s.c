// SPDX-License-Identifier: Apache-2.0
/* Model loading and the Kubernetes kinds: parsing, errors with locations, lookups, membership. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/model_pool.h"
#include "model/parse.h"

static const char cluster_yaml[] = "apiVersion: v1\n"
				   "kind: Namespace\n"
				   "metadata:\n"
				   "  name: payments\n"
				   "  labels:\n"
				   "    skiff.io/mesh: enabled\n"
				   "---\n"
				   "apiVersion: v1\n"
				   "kind: ServiceAccount\n"
				   "metadata: {name: payments-api, namespace: payments}\n"
				   "---\n"
				   "apiVersion: v1\n"
				   "kind: Pod\n"
				   "metadata:\n"
				   "  name: api-v1-0\n"
				   "  namespace: payments\n"
				   "  uid: 1111-2222\n"
				   "  labels: {app: payments-api, version: v1}\n"
				   "spec:\n"
				   "  nodeName: node-a\n"
				   "  serviceAccountName: payments-api\n"
				   "  containers:\n"
				   "  - name: app\n"
				   "    image: skiff/echo\n"
				   "    args: [--port, \"8080\"]\n"
				   "    resources: {limits: {cpu: 100m}}\n"
				   "    ports:\n"
				   "    - containerPort: 8080\n"
				   "      name: http\n"
				   "    - containerPort: 5353\n"
				   "      protocol: UDP\n"
				   "status:\n"
				   "  phase: Running\n"
				   "  hostIP: 198.18.0.1\n"
				   "  hostIPs: [{ip: 198.18.0.1}, {ip: \"2001:db8::1\"}]\n"
				   "  podIP: 198.18.0.10\n"
				   "  podIPs:\n"
				   "  - ip: 198.18.0.10\n"
				   "  - ip: 2001:db8::10\n"
				   "  conditions:\n"
				   "  - type: Initialized\n"
				   "    status: \"True\"\n"
				   "  - type: Ready\n"
				   "    status: \"False\"\n"
				   "---\n"
				   "apiVersion: v1\n"
				   "kind: Pod\n"
				   "metadata: {name: legacy, namespace: payments}\n"
				   "spec:\n"
				   "  serviceAccount: old-sa\n"
				   "  containers: [{name: c, image: x}]\n"
				   "---\n"
				   "apiVersion: v1\n"
				   "kind: Pod\n"
				   "metadata: {name: bare}\n"
				   "---\n"
				   "apiVersion: v1\n"
				   "kind: Service\n"
				   "metadata: {name: payments-api, namespace: payments}\n"
				   "spec:\n"
				   "  type: ClusterIP\n"
				   "  clusterIP: 198.19.0.10\n"
				   "  clusterIPs: [198.19.0.10, \"2001:db8:1::10\"]\n"
				   "  ipFamilyPolicy: PreferDualStack\n"
				   "  selector: {app: payments-api}\n"
				   "  ports:\n"
				   "  - name: http\n"
				   "    port: 80\n"
				   "    targetPort: 8080\n"
				   "  - name: grpc\n"
				   "    port: 9090\n"
				   "    targetPort: grpc-port\n"
				   "    protocol: TCP\n"
				   "---\n"
				   "apiVersion: v1\n"
				   "kind: Service\n"
				   "metadata: {name: headless, namespace: payments}\n"
				   "spec:\n"
				   "  clusterIP: None\n"
				   "  ports: [{port: 53, protocol: UDP}]\n"
				   "---\n"
				   "apiVersion: discovery.k8s.io/v1\n"
				   "kind: EndpointSlice\n"
				   "metadata:\n"
				   "  name: payments-api-abcde\n"
				   "  namespace: payments\n"
				   "  labels: {kubernetes.io/service-name: payments-api}\n"
				   "addressType: IPv4\n"
				   "endpoints:\n"
				   "- addresses: [198.18.0.10]\n"
				   "  nodeName: node-a\n"
				   "  targetRef: {kind: Pod, name: api-v1-0, namespace: payments}\n"
				   "- addresses: [198.18.0.11]\n"
				   "  conditions: {ready: false, serving: true}\n"
				   "ports:\n"
				   "- name: http\n"
				   "  port: 8080\n"
				   "  protocol: TCP\n";

static void expect_load_ok(const char *yaml, struct model *m, struct diag *d)
{
	int rc = model_load_string("c.yaml", yaml, m, d);

	if (rc)
		diag_print(d);
	assert_int_equal(rc, 0);
}

/* The load failed, left no model behind, and said `msg`. */
static void expect_load_error(const char *yaml, const char *msg)
{
	struct model m, zero;
	struct diag d = {0};

	memset(&m, 0x5a, sizeof(m));
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(model_load_string("bad.yaml", yaml, &m, &d), -EINVAL);
	assert_memory_equal(&m, &zero, sizeof(m));
	if (!diag_contains(&d, msg)) {
		diag_print(&d);
		fail_msg("expected a diagnostic containing: %s", msg);
	}
	diag_free(&d);
}

static void test_cluster_kinds(void **state)
{
	const struct m_service *s;
	const struct m_pod *p;
	const struct m_endpointslice *e;
	struct diag d = {0};
	struct model m;

	(void)state;
	expect_load_ok(cluster_yaml, &m, &d);
	assert_int_equal(d.n, 0); /* image, args, resources, phase...: no warnings */
	assert_string_equal(m.root_namespace, "istio-system");
	assert_int_equal(m.nnamespaces, 1);
	assert_string_equal(m.namespaces[0].meta.ns, "");
	assert_string_equal(labels_get(&m.namespaces[0].meta.labels, "skiff.io/mesh"), "enabled");
	assert_int_equal(m.nserviceaccounts, 1);
	assert_int_equal(m.npods, 3);

	p = model_pod(&m, "payments", "api-v1-0");
	assert_non_null(p);
	assert_string_equal(k8s_pod_uid(p), "1111-2222");
	assert_string_equal(p->meta.file, "c.yaml");
	assert_int_equal(p->meta.line, 13);
	assert_string_equal(p->node_name, "node-a");
	assert_string_equal(p->service_account, "payments-api");
	assert_int_equal(p->nips, 2);
	assert_string_equal(p->ips[0], "198.18.0.10");
	assert_string_equal(p->ips[1], "2001:db8::10");
	assert_int_equal(p->nhost_ips, 2);
	assert_string_equal(p->host_ips[0], "198.18.0.1");
	assert_string_equal(p->host_ips[1], "2001:db8::1");
	assert_false(p->ready);
	assert_int_equal(p->nports, 2);
	assert_int_equal(p->ports[0].port, 8080);
	assert_string_equal(p->ports[0].name, "http");
	assert_int_equal(p->ports[0].proto, IPPROTO_TCP);
	assert_int_equal(p->ports[1].proto, IPPROTO_UDP);
	assert_null(p->ports[1].name);

	p = model_pod(&m, "payments", "legacy");
	assert_string_equal(p->service_account, "old-sa");
	assert_true(p->ready);
	assert_int_equal(p->nips, 0);
	p = model_pod(&m, "default", "bare");
	assert_non_null(p);
	assert_string_equal(p->service_account, "default");
	assert_null(model_pod(&m, "payments", "bare"));

	s = model_service(&m, "payments", "payments-api");
	assert_non_null(s);
	assert_int_equal(s->nips, 2);
	assert_string_equal(s->cluster_ips[1], "2001:db8:1::10");
	assert_string_equal(labels_get(&s->selector, "app"), "payments-api");
	assert_int_equal(s->nports, 2);
	assert_int_equal(s->ports[0].port, 80);
	assert_string_equal(s->ports[0].target_port, "8080");
	assert_string_equal(s->ports[1].target_port, "grpc-port");
	s = model_service(&m, "payments", "headless");
	assert_int_equal(s->nips, 0);
	assert_int_equal(s->ports[0].proto, IPPROTO_UDP);
	assert_null(s->ports[0].target_port);
	assert_null(s->ports[0].name);

	assert_int_equal(m.nendpointslices, 1);
	e = &m.endpointslices[0];
	assert_string_equal(e->service_name, "payments-api");
	assert_int_equal(e->family, 4);
	assert_int_equal(e->nendpoints, 2);
	assert_true(e->endpoints[0].ready);
	assert_string_equal(e->endpoints[0].pod_name, "api-v1-0");
	assert_string_equal(e->endpoints[0].node_name, "node-a");
	assert_string_equal(e->endpoints[0].addresses[0], "198.18.0.10");
	assert_false(e->endpoints[1].ready);
	assert_null(e->endpoints[1].pod_name);
	assert_int_equal(e->nports, 1);
	assert_int_equal(e->ports[0].port, 8080);
	assert_string_equal(e->ports[0].name, "http");
	model_free(&m);
	diag_free(&d);
}

static void test_list_and_skipped_kinds(void **state)
{
	struct diag d = {0};
	struct model m;

	(void)state;
	expect_load_ok("apiVersion: v1\n"
		       "kind: List\n"
		       "items:\n"
		       "- apiVersion: v1\n"
		       "  kind: Namespace\n"
		       "  metadata: {name: a}\n"
		       "- apiVersion: apps/v1\n"
		       "  kind: Deployment\n"
		       "  metadata: {name: web}\n"
		       "  spec: {replicas: 2, template: {spec: {containers: []}}}\n"
		       "- apiVersion: v1\n"
		       "  kind: ServiceAccount\n"
		       "  metadata: {name: sa, namespace: a}\n"
		       "---\n"
		       "apiVersion: v1\n"
		       "kind: ConfigMap\n"
		       "metadata: {name: cm}\n"
		       "data: {x: y}\n"
		       "---\n"
		       "apiVersion: discovery.k8s.io/v1\n"
		       "kind: EndpointSlice\n"
		       "metadata:\n"
		       "  name: ext\n"
		       "  labels: {kubernetes.io/service-name: ext}\n"
		       "addressType: FQDN\n"
		       "endpoints: [{addresses: [example.com]}]\n"
		       "---\n"
		       "apiVersion: v1\n"
		       "kind: Service\n"
		       "metadata: {name: ext}\n"
		       "spec: {type: ExternalName, externalName: example.com}\n",
		       &m, &d);
	assert_int_equal(m.nnamespaces, 1);
	assert_int_equal(m.nserviceaccounts, 1);
	assert_int_equal(m.nendpointslices, 0);
	assert_int_equal(m.nservices, 1);
	assert_int_equal(m.services[0].nips, 0);
	assert_int_equal(d.errors, 0);
	assert_int_equal(d.n, 4);
	assert_string_equal(d.v[0].msg,
			    "c.yaml:8: kind Deployment (apps/v1) is not used by skiffd, "
			    "skipped");
	assert_string_equal(d.v[1].msg, "c.yaml:16: kind ConfigMap (v1) is not used by skiffd, "
					"skipped");
	assert_true(diag_contains(&d, "c.yaml:25: EndpointSlice default/ext: addressType FQDN"));
	assert_true(diag_contains(&d, "c.yaml:31: Service default/ext: spec.type ExternalName"));
	model_free(&m);
	diag_free(&d);
}

static void test_unknown_fields_warn(void **state)
{
	struct diag d = {0};
	struct model m;

	(void)state;
	expect_load_ok("apiVersion: v1\n"
		       "kind: Pod\n"
		       "metadata: {name: p, namespace: x, annotations: {a: b}}\n"
		       "spec:\n"
		       "  serviceAcountName: typo\n"
		       "  restartPolicy: Always\n"
		       "status: {hostIP: 10.0.0.1, qosClass: BestEffort}\n",
		       &m, &d);
	assert_int_equal(d.n, 1);
	assert_string_equal(d.v[0].msg,
			    "c.yaml:5: Pod x/p: spec.serviceAcountName: unknown field, ignored");
	assert_int_equal(d.v[0].level, DIAG_WARN);
	assert_string_equal(m.pods[0].service_account, "default");
	model_free(&m);
	diag_free(&d);
}

static void test_wrong_types(void **state)
{
	(void)state;
	expect_load_error("apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: p}\n"
			  "spec:\n  ports:\n    port: 80\n",
			  "bad.yaml:6: Service p/s: spec.ports must be a sequence, not a mapping");
	expect_load_error("apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: p}\n"
			  "spec:\n  ports:\n  - port: \"80\"\n",
			  "bad.yaml:6: Service p/s: spec.ports[0].port must be an integer, not the "
			  "string \"80\"");
	expect_load_error(
	    "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
	    "spec:\n  ports:\n  - port: 70000\n",
	    "bad.yaml:6: Service default/s: spec.ports[0].port 70000 must be <= 65535");
	expect_load_error("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
			  "spec:\n  ports:\n  - {name: a, port: 1}\n  - {port: 2}\n",
			  "bad.yaml:7: Service default/s: spec.ports[1].name is required");
	expect_load_error(
	    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n"
	    "  labels: [a, b]\n",
	    "bad.yaml:5: Namespace n: metadata.labels must be a mapping, not a sequence");
	expect_load_error("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n"
			  "  labels: {version: 2}\n",
			  "bad.yaml:5: Namespace n: metadata.labels.version must be a string");
	expect_load_error(
	    "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
	    "metadata: {name: e, labels: {kubernetes.io/service-name: s}}\n"
	    "addressType: IPv4\nendpoints:\n- addresses: [1.2.3.4]\n"
	    "  conditions: {ready: \"yes\"}\n",
	    "bad.yaml:7: EndpointSlice default/e: endpoints[0].conditions.ready must be "
	    "true or false");
	expect_load_error("- just\n- a list\n", "bad.yaml:1: document is a sequence");
}

static void test_missing_names_and_kinds(void **state)
{
	(void)state;
	expect_load_error("apiVersion: v1\nkind: Service\nmetadata: {namespace: p}\nspec: {}\n",
			  "bad.yaml:3: Service p/<unnamed>: metadata.name is required");
	expect_load_error("apiVersion: v1\nkind: Pod\nspec: {}\n",
			  "bad.yaml:1: Pod default/<unnamed>: metadata is required");
	expect_load_error("apiVersion: v1\nkind: Namespace\nmetadata: {name: Payments}\n",
			  "bad.yaml:3: Namespace Payments: metadata.name \"Payments\" must be a "
			  "lowercase RFC 1123 label");
	expect_load_error("apiVersion: v1\nmetadata: {name: x}\n",
			  "bad.yaml:1: document has no kind");
	expect_load_error("kind: Pod\nmetadata: {name: x}\n",
			  "bad.yaml:1: document has no apiVersion");
	expect_load_error(
	    "apiVersion: v2\nkind: Pod\nmetadata: {name: x}\n",
	    "bad.yaml:1: Pod default/x: apiVersion v2 is not served for Pod (use v1)");
	expect_load_error("apiVersion: networking.istio.io/v2\nkind: VirtualService\n"
			  "metadata: {name: x, namespace: y}\n",
			  "VirtualService y/x: apiVersion networking.istio.io/v2 is not served");
	expect_load_error("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
			  "metadata: {name: e}\naddressType: IPv4\n",
			  "bad.yaml:3: EndpointSlice default/e: metadata.labels: "
			  "kubernetes.io/service-name is required");
}

static void test_bad_ips(void **state)
{
	(void)state;
	expect_load_error(
	    "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
	    "status: {podIP: 10.0.0.300}\n",
	    "bad.yaml:4: Pod default/p: status.podIP \"10.0.0.300\" is not an IP address");
	expect_load_error(
	    "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
	    "status:\n  podIPs:\n  - ip: 10.0.0.1\n  - ip: 10.0.0.2\n",
	    "bad.yaml:7: Pod default/p: status.podIPs[1].ip 10.0.0.2: a pod has at most "
	    "one IPv4 address");
	expect_load_error(
	    "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
	    "status:\n  hostIPs:\n  - ip: 10.0.0.1\n  - ip: 10.0.0.2\n",
	    "bad.yaml:7: Pod default/p: status.hostIPs[1].ip 10.0.0.2: its node has at most "
	    "one IPv4 address");
	expect_load_error(
	    "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
	    "spec: {clusterIP: abc}\n",
	    "bad.yaml:4: Service default/s: spec.clusterIP \"abc\" is not an IP address");
	expect_load_error("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
			  "metadata: {name: e, labels: {kubernetes.io/service-name: s}}\n"
			  "addressType: IPv4\nendpoints:\n- addresses: [\"2001:db8::1\"]\n",
			  "bad.yaml:6: EndpointSlice default/e: endpoints[0].addresses[0] "
			  "\"2001:db8::1\" is not an IPv4 address");
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void rm_dir(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static const char ns_a[] = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n";

static void test_load_dir_and_duplicates(void **state)
{
	char dir[] = "/tmp/skiff-test-model-XXXXXX", sub[600];
	struct diag d = {0};
	struct model m, zero;

	(void)state;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "10-ns.yaml", ns_a);
	write_file(dir, "20-sa.yml",
		   "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x, "
		   "namespace: a}\n");
	write_file(dir, "30-ns.json",
		   "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\",\n"
		   " \"metadata\": {\"name\": \"b\"}}\n");
	write_file(dir, ".hidden.yaml", "this: [is not read\n");
	write_file(dir, "10-ns.yaml~", "neither: [is this\n");
	write_file(dir, "notes.txt", "nor: [this\n");
	snprintf(sub, sizeof(sub), "%s/sub.yaml", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(model_load_dir(dir, &m, &d), 0);
	assert_int_equal(d.n, 0);
	assert_int_equal(m.nnamespaces, 2);
	assert_string_equal(m.namespaces[0].meta.name, "a"); /* sorted by file name */
	assert_string_equal(m.namespaces[1].meta.name, "b");
	assert_int_equal(m.nserviceaccounts, 1);
	model_free(&m);

	write_file(dir, "40-dup.yaml",
		   "# again\n---\napiVersion: v1\nkind: Namespace\n"
		   "metadata: {name: a}\n");
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(model_load_dir(dir, &m, &d), -EINVAL);
	assert_memory_equal(&m, &zero, sizeof(m));
	assert_int_equal(d.errors, 1);
	assert_true(diag_contains(&d, "40-dup.yaml:4: Namespace a: defined twice, here and at "));
	assert_true(diag_contains(&d, "10-ns.yaml:2 "));
	diag_free(&d);

	/* a namespaced duplicate: same name in another namespace is fine, same namespace is not */
	unlink(strcat(strcpy(sub, dir), "/40-dup.yaml"));
	write_file(dir, "50-sa.yaml",
		   "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x, "
		   "namespace: b}\n---\napiVersion: v1\nkind: ServiceAccount\n"
		   "metadata: {name: x, namespace: a}\n");
	assert_int_equal(model_load_dir(dir, &m, &d), -EINVAL);
	assert_int_equal(d.errors, 1);
	assert_true(diag_contains(&d, "50-sa.yaml:6: ServiceAccount a/x: defined twice"));
	assert_true(diag_contains(&d, "20-sa.yml:2 "));
	diag_free(&d);

	/* a syntax error in one file rejects the whole snapshot */
	unlink(strcat(strcpy(sub, dir), "/50-sa.yaml"));
	write_file(dir, "60-bad.yaml", "a: b\n  c: d\n");
	assert_int_equal(model_load_dir(dir, &m, &d), -EINVAL);
	assert_memory_equal(&m, &zero, sizeof(m));
	assert_true(diag_contains(&d, "60-bad.yaml:2: YAML syntax:"));
	diag_free(&d);

	rm_dir(dir);
	assert_int_equal(model_load_dir(dir, &m, &d), -ENOENT);
	assert_memory_equal(&m, &zero, sizeof(m));
	diag_free(&d);
}

static void test_load_files(void **state)
{
	char dir[] = "/tmp/skiff-test-model-XXXXXX", p1[600], p2[600];
	const char *paths[2] = {p1, p2};
	struct diag d = {0};
	struct model m;

	(void)state;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "one.yaml", ns_a);
	write_file(dir, "two.yaml", ns_a);
	snprintf(p1, sizeof(p1), "%s/one.yaml", dir);
	snprintf(p2, sizeof(p2), "%s/two.yaml", dir);
	assert_int_equal(model_load_files(paths, 1, &m, &d), 0);
	model_free(&m);
	assert_int_equal(model_load_files(paths, 2, &m, &d), -EINVAL);
	assert_true(diag_contains(&d, "two.yaml:2: Namespace a: defined twice, here and at "));
	assert_true(diag_contains(&d, "one.yaml:2 "));
	diag_free(&d);
	rm_dir(dir);
}

static void test_resolve_host(void **state)
{
	const struct m_service *api;
	struct diag d = {0};
	struct model m;

	(void)state;
	expect_load_ok(cluster_yaml, &m, &d);
	api = model_service(&m, "payments", "payments-api");
	assert_non_null(api);
	assert_ptr_equal(model_resolve_host(&m, "payments", "payments-api"), api);
	assert_ptr_equal(model_resolve_host(&m, "other", "payments-api.payments"), api);
	assert_ptr_equal(model_resolve_host(&m, "other", "payments-api.payments.svc"), api);
	assert_ptr_equal(model_resolve_host(&m, "other", "payments-api.payments.svc.cluster.local"),
			 api);
	assert_null(model_resolve_host(&m, "other", "payments-api"));
	assert_null(model_resolve_host(&m, "payments", "payments-api.other"));
	assert_null(model_resolve_host(&m, "payments", "payments-api.payments.svc.example.org"));
	assert_null(model_resolve_host(&m, "payments", "payments-api.payments.cluster.local"));
	assert_null(model_resolve_host(&m, "payments", "example.com"));
	assert_null(model_resolve_host(&m, "payments", ".payments"));
	assert_null(model_resolve_host(&m, "payments", "*.payments.svc.cluster.local"));
	model_free(&m);
	diag_free(&d);
}

static void test_labels_match(void **state)
{
	struct kv lv[] = {{"app", "web"}, {"version", "v1"}};
	struct kv s1[] = {{"app", "web"}};
	struct kv s2[] = {{"app", "web"}, {"version", "v2"}};
	struct kv s3[] = {{"tier", "front"}};
	struct labels l = {lv, 2}, empty = {NULL, 0};
	struct labels sel1 = {s1, 1}, sel2 = {s2, 2}, sel3 = {s3, 1};

	(void)state;
	assert_true(labels_match(&sel1, &l));
	assert_true(labels_match(&l, &l));
	assert_false(labels_match(&sel2, &l));
	assert_false(labels_match(&sel3, &l));
	assert_true(labels_match(&empty, &l));
	assert_true(labels_match(&empty, &empty));
	assert_false(labels_match(&sel1, &empty));
	assert_string_equal(labels_get(&l, "version"), "v1");
	assert_null(labels_get(&l, "nope"));
}

static const char mesh_yaml[] =
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: skiff, labels: {skiff.io/mesh: enabled}}\n"
    "---\n"
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: amb\n"
    "  labels: {istio.io/dataplane-mode: ambient}\n"
    "---\n"
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: plain, labels: {other: x}}\n"
    "---\n"
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p1, namespace: skiff}\n"
    "---\n"
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p2, namespace: amb}\n"
    "---\n"
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p3\n  namespace: skiff\n"
    "  labels: {skiff.io/mesh: disabled}\n"
    "---\n"
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p4\n  namespace: amb\n"
    "  labels: {istio.io/dataplane-mode: none}\n"
    "---\n"
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p5, namespace: plain}\n"
    "---\n"
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p6, namespace: ghost}\n"
    "---\n"
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p7, namespace: amb}\n"
    "spec: {hostNetwork: true, containers: [{name: c, image: i}]}\n";

static void test_pod_in_mesh(void **state)
{
	struct diag d = {0};
	struct model m;

	(void)state;
	expect_load_ok(mesh_yaml, &m, &d);
	assert_true(model_pod_in_mesh(&m, model_pod(&m, "skiff", "p1")));
	assert_true(model_pod_in_mesh(&m, model_pod(&m, "amb", "p2")));
	assert_false(model_pod_in_mesh(&m, model_pod(&m, "skiff", "p3")));
	assert_false(model_pod_in_mesh(&m, model_pod(&m, "amb", "p4")));
	assert_false(model_pod_in_mesh(&m, model_pod(&m, "plain", "p5")));
	assert_false(model_pod_in_mesh(&m, model_pod(&m, "ghost", "p6")));
	/* the node's own sockets: never enrolled, whatever its namespace says */
	assert_true(model_pod(&m, "amb", "p7")->host_network);
	assert_false(model_pod_in_mesh(&m, model_pod(&m, "amb", "p7")));
	/* why each pod of an enrolled namespace is out; none for the others */
	assert_string_equal(model_pod_opt_out(&m, model_pod(&m, "amb", "p7")), "host network");
	assert_string_equal(model_pod_opt_out(&m, model_pod(&m, "skiff", "p3")),
			    "opted out by label skiff.io/mesh=disabled");
	assert_string_equal(model_pod_opt_out(&m, model_pod(&m, "amb", "p4")),
			    "opted out by label istio.io/dataplane-mode=none");
	assert_null(model_pod_opt_out(&m, model_pod(&m, "skiff", "p1")));
	assert_null(model_pod_opt_out(&m, model_pod(&m, "plain", "p5")));
	assert_true(model_namespace_enrolled(&m, "skiff"));
	assert_false(model_namespace_enrolled(&m, "plain"));
	assert_false(model_namespace_enrolled(&m, "ghost"));
	assert_non_null(model_namespace(&m, "amb"));
	assert_null(model_namespace(&m, "ghost"));
	model_free(&m);
	diag_free(&d);
}

/* Many objects: the name index must find each one and nothing else. */
static void test_many_lookups(void **state)
{
	size_t cap = 1 << 20, off = 0;
	char *text = malloc(cap), name[32], ns[16];
	struct diag d = {0};
	struct model m;

	(void)state;
	assert_non_null(text);
	for (int i = 0; i < 600; i++) {
		int k = (i * 7919) % 600; /* not in sorted order */

		off += snprintf(text + off, cap - off,
				"---\napiVersion: v1\nkind: Service\nmetadata: {name: s%d, "
				"namespace: n%d}\nspec: {ports: [{port: 80}]}\n"
				"---\napiVersion: v1\nkind: Pod\nmetadata: {name: p%d, namespace: "
				"n%d}\n",
				k, k % 3, k, k % 5);
	}
	expect_load_ok(text, &m, &d);
	assert_int_equal(m.nservices, 600);
	for (int k = 0; k < 600; k++) {
		snprintf(name, sizeof(name), "s%d", k);
		snprintf(ns, sizeof(ns), "n%d", k % 3);
		assert_non_null(model_service(&m, ns, name));
		assert_string_equal(model_service(&m, ns, name)->meta.name, name);
		snprintf(ns, sizeof(ns), "n%d", (k + 1) % 3);
		assert_null(model_service(&m, ns, name));
		snprintf(name, sizeof(name), "p%d", k);
		snprintf(ns, sizeof(ns), "n%d", k % 5);
		assert_string_equal(model_pod(&m, ns, name)->meta.name, name);
		assert_null(model_pod(&m, "n9", name));
	}
	assert_null(model_service(&m, "n0", "s600"));
	model_free(&m);
	diag_free(&d);
	free(text);
}

/* Replicas repeat their namespace, node, service account, labels and ports: the model holds
 * one copy of each, which every pod points at, and the values still read as written. */
static void test_pooled_values(void **state)
{
	size_t cap = 1 << 18, off = 0, bytes;
	char *text = malloc(cap);
	const struct m_pod *a, *b, *c;
	struct diag d = {0};
	struct model m;

	(void)state;
	assert_non_null(text);
	for (int i = 0; i < 200; i++)
		off +=
		    snprintf(text + off, cap - off,
			     "---\napiVersion: v1\nkind: Pod\nmetadata: {name: w%d-%d, namespace: "
			     "shop, labels: {app: w%d, version: v1}}\nspec: {nodeName: node-%d, "
			     "serviceAccountName: w%d, containers: [{name: c, ports: "
			     "[{name: http, containerPort: 8080}]}]}\nstatus: {podIP: 10.0.%d.%d, "
			     "hostIP: 192.168.0.%d}\n",
			     i % 2, i, i % 2, i % 3, i % 2, i / 200, i % 200 + 1, i % 3 + 1);
	expect_load_ok(text, &m, &d);
	assert_int_equal(m.npods, 200);
	a = model_pod(&m, "shop", "w0-0");
	b = model_pod(&m, "shop", "w0-6");
	c = model_pod(&m, "shop", "w1-1");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_ptr_equal(a->meta.ns, c->meta.ns);
	assert_ptr_equal(a->node_name, b->node_name);
	assert_ptr_equal(a->service_account, b->service_account);
	assert_ptr_equal(a->meta.labels.v, b->meta.labels.v);
	assert_ptr_equal(a->ports, b->ports);
	assert_ptr_equal(a->ports, c->ports);
	assert_ptr_equal(a->host_ips[0], b->host_ips[0]);
	assert_ptr_equal(a->host_ips, b->host_ips);
	/* what differs stays apart */
	assert_ptr_not_equal(a->meta.labels.v, c->meta.labels.v);
	assert_ptr_not_equal(a->meta.name, b->meta.name);
	assert_string_equal(labels_get(&c->meta.labels, "app"), "w1");
	assert_string_equal(c->service_account, "w1");
	assert_string_equal(b->node_name, "node-0");
	assert_string_equal(a->ports[0].name, "http");
	assert_int_equal(a->ports[0].port, 8080);
	assert_string_equal(a->ips[0], "10.0.0.1");
	/* "shop", 3 nodes, "w0" and "w1" (accounts and label values alike), 3 host IPs, "app",
	 * "version", "v1", "http"; 2 label sets, one port list and 3 host address arrays */
	assert_int_equal(model_pool_count(&m, &bytes), 1 + 3 + 2 + 3 + 4 + 2 + 1 + 3);
	model_free(&m);
	diag_free(&d);
	free(text);
}

static void test_parse_helpers(void **state)
{
	static const char *const known[] = {"a", "d1", NULL};
	const char *yaml = "a: 2s\nd1: 150ms\nd2: 1.5s\nd3: 1m\nd4: 1h\nd5: 1m30s\n"
			   "bad1: 0.5ms\nbad2: 1.0005s\nbad3: abc\nbad4: 5\n"
			   "n: -5\nq: \"7\"\nb: true\nl: [x, y]\nlbad: [x, {y: z}]\n";
	struct ydoc_set set = {0};
	struct diag d = {0};
	struct pctx c = {
	    .d = &d, .kind = "VirtualService", .ns = "payments", .name = "payments-api"};
	int64_t v = 0;
	bool b = false;
	char **l;
	size_t nl;

	(void)state;
	assert_int_equal(yaml_parse_string(&set, "p.yaml", yaml, strlen(yaml), &d), 0);
	c.doc = set.docs[0];
	assert_int_equal(pduration(&c, c.doc, "a", &v, NULL), 1);
	assert_int_equal(v, 2000);
	assert_int_equal(pduration(&c, c.doc, "d1", &v, NULL), 1);
	assert_int_equal(v, 150);
	assert_int_equal(pduration(&c, c.doc, "d2", &v, NULL), 1);
	assert_int_equal(v, 1500);
	assert_int_equal(pduration(&c, c.doc, "d3", &v, NULL), 1);
	assert_int_equal(v, 60000);
	assert_int_equal(pduration(&c, c.doc, "d4", &v, NULL), 1);
	assert_int_equal(v, 3600000);
	assert_int_equal(pduration(&c, c.doc, "d5", &v, NULL), 1);
	assert_int_equal(v, 90000);
	assert_int_equal(pduration(&c, c.doc, "none", &v, NULL), 0);
	assert_int_equal(c.errors, 0);
	assert_int_equal(pduration(&c, c.doc, "bad1", &v, "spec.http[0].timeout"), -1);
	assert_true(diag_contains(&d, "p.yaml:7: VirtualService payments/payments-api: "
				      "spec.http[0].timeout 0.5ms must be at least 1ms"));
	assert_int_equal(pduration(&c, c.doc, "bad2", &v, NULL), -1);
	assert_true(diag_contains(&d, "bad2 1.0005s must be a whole number of milliseconds"));
	assert_int_equal(pduration(&c, c.doc, "bad3", &v, NULL), -1);
	assert_int_equal(pduration(&c, c.doc, "bad4", &v, NULL), -1);
	assert_int_equal(c.errors, 4);

	assert_int_equal(pint(&c, c.doc, "n", 0, 100, &v, "spec.http[0].route[1].weight"), -1);
	assert_true(diag_contains(&d, "p.yaml:11: VirtualService payments/payments-api: "
				      "spec.http[0].route[1].weight -5 must be >= 0"));
	assert_int_equal(pint(&c, c.doc, "q", 0, 100, &v, NULL), -1);
	assert_int_equal(pint(&c, c.doc, "n", -10, 0, &v, NULL), 1);
	assert_int_equal(v, -5);
	assert_int_equal(pbool(&c, c.doc, "b", &b, NULL), 1);
	assert_true(b);
	assert_int_equal(pbool(&c, c.doc, "n", &b, NULL), -1);
	assert_int_equal(pstrlist(&c, c.doc, "l", &l, &nl, NULL), 0);
	assert_int_equal(nl, 2);
	assert_string_equal(l[1], "y");
	free(l[0]);
	free(l[1]);
	free(l);
	assert_int_equal(pstrlist(&c, c.doc, "lbad", &l, &nl, "spec.hosts"), -1);
	assert_true(diag_contains(&d, "spec.hosts[1] must be a string, not a mapping"));
	assert_null(l); /* all or nothing: no half list to free */
	assert_int_equal(nl, 0);
	assert_null(pget(&c, c.doc, "l", YNODE_MAP, false, "spec.l"));
	assert_true(diag_contains(&d, "spec.l must be a mapping, not a sequence"));

	diag_free(&d);
	punknown(&c, c.doc, known, "spec");
	assert_true(diag_contains(&d, "p.yaml:3: VirtualService payments/payments-api: spec.d2: "
				      "unknown field, ignored"));
	assert_false(diag_contains(&d, "spec.a:"));
	assert_int_equal(d.errors, 0);

	assert_true(dns1123_label("a-1"));
	assert_false(dns1123_label("-a"));
	assert_false(dns1123_label("A"));
	assert_false(dns1123_label("a.b"));
	assert_true(dns1123_subdomain("a.b-c.d"));
	assert_false(dns1123_subdomain("a..b"));
	assert_false(dns1123_subdomain("a."));
	ydoc_set_free(&set);
	diag_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cluster_kinds),
	    cmocka_unit_test(test_list_and_skipped_kinds),
	    cmocka_unit_test(test_unknown_fields_warn),
	    cmocka_unit_test(test_wrong_types),
	    cmocka_unit_test(test_missing_names_and_kinds),
	    cmocka_unit_test(test_bad_ips),
	    cmocka_unit_test(test_load_dir_and_duplicates),
	    cmocka_unit_test(test_load_files),
	    cmocka_unit_test(test_resolve_host),
	    cmocka_unit_test(test_labels_match),
	    cmocka_unit_test(test_pod_in_mesh),
	    cmocka_unit_test(test_many_lookups),
	    cmocka_unit_test(test_pooled_values),
	    cmocka_unit_test(test_parse_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
