// SPDX-License-Identifier: Apache-2.0
/*
 * The compiler: YAML -> model -> node view, checked field by field (services, backend slots with
 * their cumulative weights, enrolled pods) against what Istio users expect.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/strbuf.h"
#include "compile/compile.h"
#include "compile/compile_internal.h"
#include "compile/compile_l7.h"
#include "compile_test.h"
#include "model/model.h"

/* ---------- YAML builders ---------- */

static void y_ns(struct strbuf *b, const char *name, const char *label)
{
	sb_printf(b, "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", name);
	if (label)
		sb_printf(b, "  labels:\n    %s\n", label);
}

/* ips: "10.96.0.10" or "10.96.0.10,fd00::10" or "None"; ports: "name:port:target[:UDP]" joined by
 * spaces, name may be empty ("" -> unnamed), target may be empty (absent). */
static void y_svc(struct strbuf *b, const char *ns, const char *name, const char *ips,
		  const char *ports)
{
	char buf[512], *save = NULL, *tok;

	sb_printf(b,
		  "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n"
		  "  namespace: %s\nspec:\n  selector:\n    app: %s\n",
		  name, ns, name);
	snprintf(buf, sizeof(buf), "%s", ips);
	if (strchr(buf, ',')) {
		*strchr(buf, ',') = '\0';
		sb_printf(b,
			  "  clusterIP: %s\n  clusterIPs: [\"%s\", \"%s\"]\n"
			  "  ipFamilyPolicy: RequireDualStack\n",
			  buf, buf, buf + strlen(buf) + 1);
	} else {
		sb_printf(b, "  clusterIP: %s\n", buf);
	}
	sb_printf(b, "  ports:\n");
	snprintf(buf, sizeof(buf), "%s", ports);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char pname[64] = "", target[64] = "", proto[8] = "";
		unsigned port = 0;

		sscanf(tok, "%63[^:]:%u:%63[^:]:%7s", pname, &port, target, proto);
		if (tok[0] == ':') {
			pname[0] = '\0';
			sscanf(tok, ":%u:%63[^:]:%7s", &port, target, proto);
		}
		sb_printf(b, "  - port: %u\n", port);
		if (pname[0])
			sb_printf(b, "    name: %s\n", pname);
		if (target[0] && strcmp(target, "-"))
			sb_printf(b, "    targetPort: %s\n", target);
		if (proto[0])
			sb_printf(b, "    protocol: %s\n", proto);
	}
}

/* labels: "app=echo,version=v1"; ip may hold "v4,v6". */
static void y_pod(struct strbuf *b, const char *ns, const char *name, const char *node,
		  const char *ip, const char *labels)
{
	char buf[256], *save = NULL, *tok;

	sb_printf(b,
		  "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: %s\n"
		  "  uid: uid-%s-%s\n",
		  name, ns, ns, name);
	if (labels && labels[0]) {
		sb_printf(b, "  labels:\n");
		snprintf(buf, sizeof(buf), "%s", labels);
		for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(tok, '=');

			*eq = '\0';
			sb_printf(b, "    %s: \"%s\"\n", tok, eq + 1);
		}
	}
	sb_printf(b, "spec:\n  nodeName: %s\n  containers:\n  - name: c\n    image: skiff/echo\n",
		  node);
	if (ip) {
		snprintf(buf, sizeof(buf), "%s", ip);
		save = NULL;
		tok = strtok_r(buf, ",", &save);
		sb_printf(b, "status:\n  podIP: %s\n  podIPs:\n", tok);
		for (; tok; tok = strtok_r(NULL, ",", &save))
			sb_printf(b, "  - ip: %s\n", tok);
	}
}

/* ports: "name:port" joined by spaces ("" = no ports, ":8080" = unnamed);
 * endpoints: "addr/pod/ready" joined by spaces, pod "-" = no targetRef, ready 1/0/- (absent). */
static void y_slice(struct strbuf *b, const char *ns, const char *name, const char *svc, int family,
		    const char *ports, const char *endpoints)
{
	char buf[1024], *save = NULL, *tok;

	sb_printf(b,
		  "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n"
		  "  name: %s\n  namespace: %s\n  labels:\n    kubernetes.io/service-name: %s\n"
		  "addressType: IPv%d\n",
		  name, ns, svc, family);
	snprintf(buf, sizeof(buf), "%s", ports);
	if (buf[0])
		sb_printf(b, "ports:\n");
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *colon = strchr(tok, ':');

		*colon = '\0';
		sb_printf(b, "- port: %s\n  protocol: TCP\n", colon + 1);
		if (tok[0])
			sb_printf(b, "  name: %s\n", tok);
	}
	sb_printf(b, "endpoints:\n");
	snprintf(buf, sizeof(buf), "%s", endpoints);
	save = NULL;
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *pod = strchr(tok, '/'), *ready;

		*pod++ = '\0';
		ready = strchr(pod, '/');
		*ready++ = '\0';
		sb_printf(b, "- addresses: [\"%s\"]\n", tok);
		if (strcmp(ready, "-"))
			sb_printf(b, "  conditions:\n    ready: %s\n",
				  ready[0] == '1' ? "true" : "false");
		if (strcmp(pod, "-"))
			sb_printf(b,
				  "  targetRef:\n    kind: Pod\n    name: %s\n    namespace: %s\n",
				  pod, ns);
	}
}

static void y_dr(struct strbuf *b, const char *ns, const char *name, const char *host)
{
	sb_printf(b,
		  "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n"
		  "  name: %s\n  namespace: %s\nspec:\n  host: %s\n  subsets:\n"
		  "  - name: v1\n    labels:\n      version: v1\n"
		  "  - name: v2\n    labels:\n      version: v2\n",
		  name, ns, host);
}

/* A VS with one catch-all http route; dests: "host/subset/weight" joined by spaces (subset "-"
 * = none, weight "-" = unset). */
static void y_vs(struct strbuf *b, const char *ns, const char *name, const char *host,
		 const char *dests)
{
	char buf[512], *save = NULL, *tok;

	sb_printf(b,
		  "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n"
		  "  name: %s\n  namespace: %s\nspec:\n  hosts:\n  - %s\n  http:\n  - route:\n",
		  name, ns, host);
	snprintf(buf, sizeof(buf), "%s", dests);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *subset = strchr(tok, '/'), *weight;

		*subset++ = '\0';
		weight = strchr(subset, '/');
		*weight++ = '\0';
		sb_printf(b, "    - destination:\n        host: %s\n", tok);
		if (strcmp(subset, "-"))
			sb_printf(b, "        subset: %s\n", subset);
		if (strcmp(weight, "-"))
			sb_printf(b, "      weight: %s\n", weight);
	}
}

/*
 * The canary scene: namespace shop in the mesh, Service echo 10.96.0.10:80 -> 8080 (port http),
 * n1 pods version v1 at 198.18.1.x, n2 pods version v2 at 198.18.2.x, all ready, one slice,
 * DestinationRule echo with subsets v1 and v2.
 */
static void y_canary(struct strbuf *b, int n1, int n2)
{
	struct strbuf eps = {0};
	char name[64], ip[64];

	y_ns(b, "shop", "skiff.io/mesh: enabled");
	y_svc(b, "shop", "echo", "10.96.0.10", "http:80:8080");
	for (int v = 1; v <= 2; v++) {
		for (int i = 0; i < (v == 1 ? n1 : n2); i++) {
			snprintf(name, sizeof(name), "echo-v%d-%d", v, i);
			snprintf(ip, sizeof(ip), "198.18.%d.%d", v, 10 + i);
			y_pod(b, "shop", name, "node-a", ip,
			      v == 1 ? "app=echo,version=v1" : "app=echo,version=v2");
			sb_printf(&eps, "%s%s/%s/1", eps.len ? " " : "", ip, name);
		}
	}
	y_slice(b, "shop", "echo-abcde", "echo", 4, "http:8080", eps.len ? eps.s : "");
	y_dr(b, "shop", "echo", "echo");
	sb_free(&eps);
}

/* ---------- view accessors ---------- */

static const struct cv_service *svc_find(const struct node_view *v, const char *name, int family)
{
	for (size_t i = 0; i < v->nservices; i++)
		if (!strcmp(v->services[i].name, name) && v->services[i].key.family == family)
			return &v->services[i];
	fail_msg("no service %s family %d in the view", name, family);
	return NULL;
}

static const struct cv_backend *slots_of(const struct node_view *v, const struct cv_service *s)
{
	for (size_t i = 0; i < v->nbackends; i++)
		if (v->backends[i].key.svc_id == s->val.svc_id) {
			assert_true(i + s->val.count <= v->nbackends);
			for (size_t k = 0; k < s->val.count; k++) {
				assert_int_equal(v->backends[i + k].key.svc_id, s->val.svc_id);
				assert_int_equal(v->backends[i + k].key.slot, k);
				assert_int_equal(v->backends[i + k].key.gen, 0);
			}
			return &v->backends[i];
		}
	return NULL;
}

static uint32_t slot_weight(const struct cv_backend *b, size_t i)
{
	return b[i].val.weight_end - (i ? b[i - 1].val.weight_end : 0);
}

static void assert_v4(const union skiff_addr *a, const char *text)
{
	union skiff_addr want = {0};

	assert_int_equal(inet_pton(AF_INET, text, &want.v4), 1);
	assert_memory_equal(a, &want, sizeof(want));
}

static void assert_v6(const union skiff_addr *a, const char *text)
{
	union skiff_addr want = {0};

	assert_int_equal(inet_pton(AF_INET6, text, want.v6), 1);
	assert_memory_equal(a, &want, sizeof(want));
}

/* Check a service's slots: addresses (v4 text, or NULL for a family-0 slot), weights, and the
 * backend port (0: not checked). */
static void assert_slots(const struct node_view *v, const struct cv_service *s, size_t n,
			 const char *const *addrs, const uint32_t *weights, uint16_t port)
{
	const struct cv_backend *b;
	uint32_t total = 0;

	assert_int_equal(s->val.count, n);
	b = slots_of(v, s);
	assert_non_null(b);
	for (size_t i = 0; i < n; i++) {
		if (addrs[i]) {
			assert_int_equal(b[i].val.family, SKIFF_AF_INET);
			assert_v4(&b[i].val.addr, addrs[i]);
			if (port)
				assert_int_equal(ntohs(b[i].val.port), port);
		} else {
			assert_int_equal(b[i].val.family, 0);
		}
		assert_int_equal(slot_weight(b, i), weights[i]);
		total += weights[i];
		assert_int_equal(b[i].val.weight_end, total);
	}
	assert_int_equal(s->val.weight_total, total);
	/* an L7 port (SKIFF_SVC_F_L7) keeps its slots: they carry it while punting is off */
	assert_int_equal(s->val.flags & SKIFF_SVC_F_NO_BACKENDS, 0);
}

/* ---------- services and endpoints ---------- */

static void test_no_vs_equal_weights(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"198.18.1.10", "198.18.1.11", "198.18.2.10"};
	const uint32_t w[] = {1, 1, 1};
	const struct cv_service *s;

	y_canary(&f->y, 2, 1);
	fx_compile_ok(f);
	assert_int_equal(f->v.nservices, 1);
	s = svc_find(&f->v, "shop/echo:80/TCP", SKIFF_AF_INET);
	assert_v4(&s->key.addr, "10.96.0.10");
	assert_int_equal(ntohs(s->key.port), 80);
	assert_int_equal(s->key.proto, IPPROTO_TCP);
	assert_int_equal(s->key.gen, 0);
	assert_int_equal(s->val.svc_id, 0);
	assert_slots(&f->v, s, 3, addrs, w, 8080);
	assert_string_equal(f->v.backends[0].pod, "shop/echo-v1-0");
	assert_string_equal(f->v.backends[2].pod, "shop/echo-v2-0");
}

static void test_canary_90_10_one_each(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"198.18.1.10", "198.18.2.10"};
	const uint32_t w[] = {9, 1};

	y_canary(&f->y, 1, 1);
	y_vs(&f->y, "shop", "echo", "echo", "echo/v1/90 echo/v2/10");
	fx_compile_ok(f);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:80/TCP", 4), 2, addrs, w, 8080);
}

/* 90/10 over 2 + 3 pods: each v1 pod holds 45 %, each v2 pod 10/3 %. Exact integers: lcm 6 ->
 * 90*3=270 per v1 pod, 10*2=20 per v2 pod; gcd 10 -> 27 and 2; total 60, v1 share 54/60 = 0.9. */
static void test_canary_90_10_two_three(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"198.18.1.10", "198.18.1.11", "198.18.2.10", "198.18.2.11",
			       "198.18.2.12"};
	const uint32_t w[] = {27, 27, 2, 2, 2};
	const struct cv_service *s;
	const struct cv_backend *b;

	y_canary(&f->y, 2, 3);
	y_vs(&f->y, "shop", "echo", "echo", "echo/v1/90 echo/v2/10");
	fx_compile_ok(f);
	s = svc_find(&f->v, "shop/echo:80/TCP", 4);
	assert_slots(&f->v, s, 5, addrs, w, 8080);
	b = slots_of(&f->v, s);
	assert_int_equal(b[0].val.weight_end, 27);
	assert_int_equal(b[1].val.weight_end, 54);
	assert_int_equal(b[4].val.weight_end, 60);
	assert_int_equal(b[1].val.weight_end * 10, s->val.weight_total * 9);
}

static void test_weights_0_100(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"198.18.2.10", "198.18.2.11"};
	const uint32_t w[] = {1, 1};

	y_canary(&f->y, 2, 2);
	y_vs(&f->y, "shop", "echo", "echo", "echo/v1/0 echo/v2/100");
	fx_compile_ok(f);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:80/TCP", 4), 2, addrs, w, 8080);
}

static void test_weights_550_500(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"198.18.1.10", "198.18.2.10"};
	const uint32_t w[] = {11, 10};

	y_canary(&f->y, 1, 1);
	y_vs(&f->y, "shop", "echo", "echo", "echo/v1/550 echo/v2/500");
	fx_compile_ok(f);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:80/TCP", 4), 2, addrs, w, 8080);
}

static void test_weights_49_50(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"198.18.1.10", "198.18.2.10"};
	const uint32_t w[] = {49, 50};

	y_canary(&f->y, 1, 1);
	y_vs(&f->y, "shop", "echo", "echo", "echo/v1/49 echo/v2/50");
	fx_compile_ok(f);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:80/TCP", 4), 2, addrs, w, 8080);
}

static void test_single_destination_gets_all(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"198.18.2.10", "198.18.2.11"};
	const uint32_t w[] = {1, 1};

	y_canary(&f->y, 2, 2);
	y_vs(&f->y, "shop", "echo", "echo", "echo/v2/10");
	fx_compile_ok(f);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:80/TCP", 4), 2, addrs, w, 8080);
}

static void assert_view_empty(const struct node_view *v)
{
	assert_null(v->services);
	assert_null(v->backends);
	assert_null(v->pods);
	assert_int_equal(v->nservices + v->nbackends + v->npods + v->pods_pending, 0);
}

static void test_missing_subset(void **state)
{
	struct fx *f = *state;

	y_canary(&f->y, 1, 1);
	y_vs(&f->y, "shop", "echo", "echo", "echo/v1/90 echo/v3/10");
	assert_int_equal(fx_compile(f), -EINVAL);
	assert_view_empty(&f->v);
	assert_true(f->d.errors >= 1);
	assert_true(diag_contains(&f->d, "VirtualService shop/echo: route destination echo subset "
					 "v3 is not defined in any DestinationRule for "
					 "echo.shop.svc.cluster.local"));
	assert_true(diag_contains(&f->d, "test.yaml:"));
	/* Reported once, not once per port and family. */
	assert_int_equal(f->d.errors, 1);
}

/* A VirtualService the kernel does not use (shadowed by another for the same host) is still
 * checked: its missing subset refuses the snapshot. */
static void test_missing_subset_in_shadowed_vs(void **state)
{
	struct fx *f = *state;

	y_canary(&f->y, 1, 1);
	y_vs(&f->y, "shop", "echo", "echo", "echo/v1/90 echo/v2/10");
	y_vs(&f->y, "shop", "echo-z", "echo", "echo/v3/100");
	assert_int_equal(fx_compile(f), -EINVAL);
	assert_view_empty(&f->v);
	assert_true(diag_contains(&f->d, "VirtualService shop/echo-z: route destination echo "
					 "subset v3 is not defined"));
}

static void test_missing_destinationrule(void **state)
{
	struct fx *f = *state;

	y_ns(&f->y, "shop", "skiff.io/mesh: enabled");
	y_svc(&f->y, "shop", "echo", "10.96.0.10", "http:80:8080");
	y_pod(&f->y, "shop", "echo-0", "node-a", "198.18.1.10", "app=echo,version=v1");
	y_slice(&f->y, "shop", "echo-x", "echo", 4, "http:8080", "198.18.1.10/echo-0/1");
	y_vs(&f->y, "shop", "echo", "echo.shop.svc.cluster.local", "echo/v1/-");
	assert_int_equal(fx_compile(f), -EINVAL);
	assert_view_empty(&f->v);
	assert_true(diag_contains(&f->d, "route destination echo subset v1 is not defined in any "
					 "DestinationRule for echo.shop.svc.cluster.local"));
}

static void test_unresolvable_host(void **state)
{
	struct fx *f = *state;

	y_canary(&f->y, 1, 1);
	y_vs(&f->y, "shop", "echo", "echo", "echo/v1/50 nosuch/-/50");
	assert_int_equal(fx_compile(f), -EINVAL);
	assert_view_empty(&f->v);
	assert_true(diag_contains(&f->d, "route destination host nosuch is not a Service"));
}

static void test_unready_endpoints_excluded(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"198.18.1.12", "198.18.1.13"};
	const uint32_t w[] = {1, 1};

	y_ns(&f->y, "shop", "skiff.io/mesh: enabled");
	y_svc(&f->y, "shop", "echo", "10.96.0.10", "http:80:8080");
	y_slice(&f->y, "shop", "echo-x", "echo", 4, "http:8080",
		"198.18.1.10/-/0 198.18.1.12/-/1 198.18.1.11/-/0 198.18.1.13/-/-");
	y_svc(&f->y, "shop", "down", "10.96.0.11", "http:80:8080");
	y_slice(&f->y, "shop", "down-x", "down", 4, "http:8080", "198.18.3.10/-/0");
	fx_compile_ok(f);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:80/TCP", 4), 2, addrs, w, 8080);
	/* Only unready endpoints: nothing to connect to. */
	assert_int_equal(svc_find(&f->v, "shop/down:80/TCP", 4)->val.flags,
			 SKIFF_SVC_F_NO_BACKENDS);
}

/* v2 exists in the DR but none of its pods is ready: its 10 % fails, as Istio's 503 does. */
static void test_subset_without_ready_endpoints(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"198.18.1.10", "198.18.1.11", NULL};
	const uint32_t w[] = {9, 9, 2};

	y_canary(&f->y, 2, 0);
	y_pod(&f->y, "shop", "echo-v2-0", "node-a", "198.18.2.10", "app=echo,version=v2");
	y_slice(&f->y, "shop", "echo-fghij", "echo", 4, "http:8080", "198.18.2.10/echo-v2-0/0");
	y_vs(&f->y, "shop", "echo", "echo", "echo/v1/90 echo/v2/10");
	fx_compile_ok(f);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:80/TCP", 4), 3, addrs, w, 8080);
	assert_null(f->v.backends[2].pod);
}

static void test_no_endpoints_flag(void **state)
{
	struct fx *f = *state;
	const struct cv_service *s;

	y_ns(&f->y, "shop", "skiff.io/mesh: enabled");
	y_svc(&f->y, "shop", "echo", "10.96.0.10", "http:80:8080");
	fx_compile_ok(f);
	s = svc_find(&f->v, "shop/echo:80/TCP", 4);
	assert_int_equal(s->val.count, 0);
	assert_int_equal(s->val.weight_total, 0);
	assert_int_equal(s->val.flags, SKIFF_SVC_F_NO_BACKENDS);
	assert_int_equal(f->v.nbackends, 0);
}

static void test_dual_stack(void **state)
{
	struct fx *f = *state;
	const struct cv_service *s4, *s6;
	const struct cv_backend *b;

	y_ns(&f->y, "shop", "skiff.io/mesh: enabled");
	y_svc(&f->y, "shop", "echo", "10.96.0.10,fd00:10:96::10", "http:80:8080");
	y_pod(&f->y, "shop", "echo-0", "node-a", "198.18.1.10,2001:db8::10", "app=echo");
	y_pod(&f->y, "shop", "echo-1", "node-a", "198.18.1.11,2001:db8::11", "app=echo");
	y_slice(&f->y, "shop", "echo-v4", "echo", 4, "http:8080",
		"198.18.1.11/echo-1/1 198.18.1.10/echo-0/1");
	y_slice(&f->y, "shop", "echo-v6", "echo", 6, "http:8080",
		"2001:db8::11/echo-1/1 2001:db8::10/echo-0/1");
	fx_compile_ok(f);
	assert_int_equal(f->v.nservices, 2);
	s4 = svc_find(&f->v, "shop/echo:80/TCP", SKIFF_AF_INET);
	s6 = svc_find(&f->v, "shop/echo:80/TCP", SKIFF_AF_INET6);
	assert_v4(&s4->key.addr, "10.96.0.10");
	assert_v6(&s6->key.addr, "fd00:10:96::10");
	assert_true(s4->val.svc_id < s6->val.svc_id);
	assert_int_equal(s4->val.count, 2);
	assert_int_equal(s6->val.count, 2);
	b = slots_of(&f->v, s4);
	assert_v4(&b[0].val.addr, "198.18.1.10");
	assert_v4(&b[1].val.addr, "198.18.1.11");
	b = slots_of(&f->v, s6);
	assert_int_equal(b[0].val.family, SKIFF_AF_INET6);
	assert_v6(&b[0].val.addr, "2001:db8::10");
	assert_v6(&b[1].val.addr, "2001:db8::11");
	assert_int_equal(ntohs(b[1].val.port), 8080);
	assert_string_equal(b[0].pod, "shop/echo-0");
}

/* The VS for echo sends 25 % to a different Service (echo-next, in its own namespace). */
static void test_route_to_other_service(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"198.18.1.10", "198.18.5.10", "198.18.5.11"};
	const uint32_t w[] = {6, 1, 1};
	const struct cv_service *s;
	const struct cv_backend *b;

	y_canary(&f->y, 1, 0);
	y_ns(&f->y, "next", "skiff.io/mesh: enabled");
	y_svc(&f->y, "next", "echo-next", "10.96.0.20", "http:80:9090 admin:81:9091");
	y_slice(&f->y, "next", "echo-next-x", "echo-next", 4, "http:9090 admin:9091",
		"198.18.5.11/-/1 198.18.5.10/-/1");
	y_vs(&f->y, "shop", "echo", "echo", "echo/-/75 echo-next.next/-/25");
	fx_compile_ok(f);
	s = svc_find(&f->v, "shop/echo:80/TCP", 4);
	assert_slots(&f->v, s, 3, addrs, w, 0);
	/* echo's own endpoint on 8080, echo-next's on its port 80 -> 9090 */
	b = slots_of(&f->v, s);
	assert_int_equal(ntohs(b[0].val.port), 8080);
	assert_int_equal(ntohs(b[1].val.port), 9090);
	assert_int_equal(ntohs(b[2].val.port), 9090);
	assert_null(b[1].pod);
}

static void test_destination_port_explicit(void **state)
{
	struct fx *f = *state;
	const struct cv_service *s;
	const struct cv_backend *b;

	y_canary(&f->y, 1, 0);
	y_ns(&f->y, "next", NULL);
	y_svc(&f->y, "next", "echo-next", "10.96.0.20", "http:80:9090 admin:81:9091");
	y_slice(&f->y, "next", "echo-next-x", "echo-next", 4, "http:9090 admin:9091",
		"198.18.5.10/-/1");
	sb_printf(&f->y, "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
			 "metadata:\n  name: echo\n  namespace: shop\nspec:\n  hosts: [echo]\n"
			 "  http:\n  - route:\n    - destination:\n        host: echo-next.next\n"
			 "        port:\n          number: 81\n");
	fx_compile_ok(f);
	s = svc_find(&f->v, "shop/echo:80/TCP", 4);
	assert_int_equal(s->val.count, 1);
	b = slots_of(&f->v, s);
	assert_v4(&b[0].val.addr, "198.18.5.10");
	assert_int_equal(ntohs(b[0].val.port), 9091);
}

static void test_gateway_only_vs_ignored(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"198.18.1.10", "198.18.2.10"};
	const uint32_t w[] = {1, 1};

	y_canary(&f->y, 1, 1);
	sb_printf(&f->y,
		  "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
		  "metadata:\n  name: echo-ingress\n  namespace: shop\nspec:\n  hosts: [echo]\n"
		  "  gateways: [shop/ingress]\n  http:\n  - route:\n    - destination:\n"
		  "        host: echo\n        subset: v1\n");
	fx_compile_ok(f);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:80/TCP", 4), 2, addrs, w, 8080);
}

static void test_mesh_gateway_vs_used(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"198.18.1.10"};
	const uint32_t w[] = {1};

	y_canary(&f->y, 1, 1);
	sb_printf(&f->y,
		  "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
		  "metadata:\n  name: echo-both\n  namespace: shop\nspec:\n  hosts: [echo]\n"
		  "  gateways: [shop/ingress, mesh]\n  http:\n  - route:\n    - destination:\n"
		  "        host: echo\n        subset: v1\n");
	fx_compile_ok(f);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:80/TCP", 4), 1, addrs, w, 8080);
}

/* http[0] matches a header (L7: skiffd's router); http[1] is the catch-all the kernel's slots
 * carry when punting is off. */
static void test_matched_route_skipped(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"198.18.1.10"};
	const uint32_t w[] = {1};

	y_canary(&f->y, 1, 1);
	sb_printf(&f->y,
		  "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
		  "metadata:\n  name: echo\n  namespace: shop\nspec:\n  hosts: [echo]\n"
		  "  http:\n  - match:\n    - headers:\n        end-user:\n          exact: jason\n"
		  "    route:\n    - destination:\n        host: echo\n        subset: v2\n"
		  "  - route:\n    - destination:\n        host: echo\n        subset: v1\n");
	fx_compile_ok(f);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:80/TCP", 4), 1, addrs, w, 8080);
}

/* A header match makes the port L7: the kernel punts it to skiffd (SKIFF_SVC_F_L7), and the
 * router's table holds both routes in order, each destination with its subset's endpoints. */
static void test_l7_port_marked_and_tabled(void **state)
{
	struct fx *f = *state;
	const struct l7_svcport *sp;
	struct skiff_sock_origin vip = {0};
	struct l7_table t;

	y_canary(&f->y, 1, 2);
	sb_printf(&f->y,
		  "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
		  "metadata:\n  name: echo\n  namespace: shop\nspec:\n  hosts: [echo]\n"
		  "  http:\n  - match:\n    - headers:\n        end-user:\n          exact: jason\n"
		  "    route:\n    - destination:\n        host: echo\n        subset: v2\n"
		  "  - route:\n    - destination:\n        host: echo\n        subset: v1\n"
		  "      weight: 70\n    - destination:\n        host: echo\n        subset: v2\n"
		  "      weight: 30\n");
	fx_compile_ok(f);
	assert_int_equal(svc_find(&f->v, "shop/echo:80/TCP", 4)->val.flags, SKIFF_SVC_F_L7);
	assert_int_equal(compile_l7_table(&f->m, "node-a", &t, &f->d), 0);
	assert_int_equal(t.n, 1);
	inet_pton(AF_INET, "10.96.0.10", &vip.addr.v4);
	vip.port = htons(80);
	vip.family = SKIFF_AF_INET;
	sp = l7_table_find(&t, &vip);
	assert_non_null(sp);
	assert_int_equal(sp->nroutes, 2);
	assert_int_equal(sp->routes[0].ndests, 1);
	assert_int_equal(sp->routes[0].dests[0].neps, 2); /* v2: two pods */
	assert_true(sp->routes[0].dests[0].eps[0].local);
	assert_int_equal(ntohs(sp->routes[0].dests[0].eps[0].addr.port), 8080);
	assert_int_equal(sp->routes[1].ndests, 2);
	assert_int_equal(sp->routes[1].total, 100);
	assert_int_equal(sp->routes[1].dests[0].neps, 1);
	assert_string_equal(sp->routes[1].dests[0].dst->subset, "v1");
	vip.port = htons(81);
	assert_null(l7_table_find(&t, &vip));
	l7_table_free(&t);
}

/* Weights alone stay in the kernel; HTTP rules on a port named tcp-* are a warning and stay there
 * too. */
static void test_l7_not_for_weights_or_tcp(void **state)
{
	struct fx *f = *state;
	struct l7_table t;

	y_canary(&f->y, 1, 1);
	sb_printf(
	    &f->y,
	    "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
	    "metadata:\n  name: echo\n  namespace: shop\nspec:\n  hosts: [echo]\n"
	    "  http:\n  - route:\n    - destination:\n        host: echo\n        subset: v1\n"
	    "      weight: 90\n    - destination:\n        host: echo\n        subset: v2\n"
	    "      weight: 10\n");
	fx_compile_ok(f);
	assert_int_equal(svc_find(&f->v, "shop/echo:80/TCP", 4)->val.flags, 0);
	assert_int_equal(compile_l7_table(&f->m, "node-a", &t, &f->d), 0);
	assert_int_equal(t.n, 0);
	l7_table_free(&t);

	fx_reset(f);
	y_ns(&f->y, "shop", "skiff.io/mesh: enabled");
	y_svc(&f->y, "shop", "db", "10.96.0.11", "tcp-db:80:8080");
	sb_printf(&f->y, "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
			 "metadata:\n  name: db\n  namespace: shop\nspec:\n  hosts: [db]\n"
			 "  http:\n  - route:\n    - destination:\n        host: db\n"
			 "    timeout: 1s\n");
	fx_compile_ok(f);
	assert_int_equal(svc_find(&f->v, "shop/db:80/TCP", 4)->val.flags & SKIFF_SVC_F_L7, 0);
	assert_true(diag_contains(&f->d, "whose protocol (tcp-db) is not HTTP"));
}

static void test_port_protocols(void **state)
{
	struct m_service_port p = {0};

	(void)state;
	p.name = "http-web";
	assert_int_equal(compile_port_proto(&p), PORT_PROTO_HTTP);
	p.name = "grpc-web";
	assert_int_equal(compile_port_proto(&p), PORT_PROTO_HTTP2);
	p.name = "grpc";
	assert_int_equal(compile_port_proto(&p), PORT_PROTO_HTTP2);
	p.name = "tcp-x";
	assert_int_equal(compile_port_proto(&p), PORT_PROTO_OTHER);
	p.name = "web";
	assert_int_equal(compile_port_proto(&p), PORT_PROTO_UNSET);
	p.app_protocol = "kubernetes.io/h2c";
	assert_int_equal(compile_port_proto(&p), PORT_PROTO_HTTP2);
	p.name = "tcp";
	p.app_protocol = "http";
	assert_int_equal(compile_port_proto(&p), PORT_PROTO_HTTP); /* appProtocol first */
}

static void test_only_matched_routes_warns(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"198.18.1.10", "198.18.2.10"};
	const uint32_t w[] = {1, 1};

	y_canary(&f->y, 1, 1);
	sb_printf(&f->y,
		  "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
		  "metadata:\n  name: echo\n  namespace: shop\nspec:\n  hosts: [echo]\n"
		  "  http:\n  - match:\n    - uri:\n        prefix: /v2\n"
		  "    route:\n    - destination:\n        host: echo\n        subset: v2\n");
	fx_compile_ok(f);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:80/TCP", 4), 2, addrs, w, 8080);
	assert_true(diag_contains(&f->d, "VirtualService shop/echo: only matched routes"));
	assert_int_equal(f->d.errors, 0);
}

/*
 * A Service with an HTTP port and two TCP ports, v1 and v2 one pod each, as Istio's outbound
 * listeners would route it: `vs` is the VirtualService's route lists.
 */
static void y_tcp_scene(struct strbuf *b, const char *routes)
{
	y_ns(b, "shop", "skiff.io/mesh: enabled");
	y_svc(b, "shop", "echo", "10.96.0.10", "http:80:8080 tcp-a:9000:9000 tcp-b:9001:9001");
	y_pod(b, "shop", "echo-v1", "node-a", "198.18.1.10", "app=echo,version=v1");
	y_pod(b, "shop", "echo-v2", "node-a", "198.18.2.10", "app=echo,version=v2");
	y_slice(b, "shop", "echo-x", "echo", 4, "http:8080 tcp-a:9000 tcp-b:9001",
		"198.18.1.10/echo-v1/1 198.18.2.10/echo-v2/1");
	y_dr(b, "shop", "echo", "echo");
	sb_printf(b,
		  "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
		  "metadata:\n  name: echo\n  namespace: shop\nspec:\n  hosts: [echo]\n%s",
		  routes);
}

#define TCP_DEST(subset, w)                                                                        \
	"    - destination:\n        host: echo\n        subset: " subset "\n      weight: " w "\n"

/* tcp routes with match.port choose per port; the HTTP port ignores them (it is not opaque TCP). */
static void test_tcp_route(void **state)
{
	struct fx *f = *state;
	const char *both[] = {"198.18.1.10", "198.18.2.10"};
	const uint32_t w82[] = {4, 1}, w11[] = {1, 1};

	y_tcp_scene(&f->y,
		    "  tcp:\n  - match:\n    - port: 9001\n    route:\n" TCP_DEST(
			"v2", "100") "  - route:\n" TCP_DEST("v1", "80") TCP_DEST("v2", "20"));
	fx_compile_ok(f);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:9000/TCP", 4), 2, both, w82, 9000);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:9001/TCP", 4), 1, both + 1, w11, 9001);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:80/TCP", 4), 2, both, w11, 8080);
	assert_true(
	    diag_contains(&f->d, "its tcp routes do not apply to Service shop/echo port 80"));
	assert_int_equal(f->d.errors, 0);
}

/* http routes do not apply to a TCP port: its connections go to the Service's endpoints. */
static void test_http_route_not_on_tcp_port(void **state)
{
	struct fx *f = *state;
	const char *both[] = {"198.18.1.10", "198.18.2.10"};
	const uint32_t w[] = {1, 1}, one[] = {1};

	y_tcp_scene(&f->y, "  http:\n  - route:\n" TCP_DEST("v1", "100"));
	fx_compile_ok(f);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:80/TCP", 4), 1, both, one, 8080);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:9000/TCP", 4), 2, both, w, 9000);
	assert_true(diag_contains(&f->d, "its http routes do not apply to Service shop/echo port "
					 "9000 (tcp-a), which is not HTTP"));

	/* Both kinds: each port takes its own; an unmatched port of a tcp route list gets none. */
	fx_reset(f);
	diag_free(&f->d);
	y_tcp_scene(
	    &f->y,
	    "  http:\n  - route:\n" TCP_DEST(
		"v1", "100") "  tcp:\n  - match:\n    - port: 9000\n    route:\n" TCP_DEST("v2",
											   "100"));
	fx_compile_ok(f);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:80/TCP", 4), 1, both, one, 8080);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:9000/TCP", 4), 1, both + 1, one, 9000);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:9001/TCP", 4), 2, both, w, 9001);
}

/* Two mesh VSs for one host: the one in the Service's namespace wins, the other is named. */
static void test_two_virtualservices(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"198.18.2.10"};
	const uint32_t w[] = {1};

	y_canary(&f->y, 1, 1);
	y_ns(&f->y, "aaa", NULL);
	y_vs(&f->y, "aaa", "echo-a", "echo.shop.svc.cluster.local", "echo.shop/-/-");
	y_vs(&f->y, "shop", "echo-z", "echo", "echo/v2/-");
	fx_compile_ok(f);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:80/TCP", 4), 1, addrs, w, 8080);
	assert_true(diag_contains(&f->d, "VirtualService aaa/echo-a: ignored"));
}

/* No DR in the Service's or the VS's namespace: the root namespace's DR defines the subsets. */
static void test_destinationrule_root_namespace(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"198.18.2.10"};
	const uint32_t w[] = {1};

	y_ns(&f->y, "shop", "skiff.io/mesh: enabled");
	y_svc(&f->y, "shop", "echo", "10.96.0.10", "http:80:8080");
	y_pod(&f->y, "shop", "echo-v1", "node-a", "198.18.1.10", "app=echo,version=v1");
	y_pod(&f->y, "shop", "echo-v2", "node-a", "198.18.2.10", "app=echo,version=v2");
	y_slice(&f->y, "shop", "echo-x", "echo", 4, "http:8080",
		"198.18.1.10/echo-v1/1 198.18.2.10/echo-v2/1");
	y_dr(&f->y, "istio-system", "echo", "echo.shop.svc.cluster.local");
	y_vs(&f->y, "shop", "echo", "echo", "echo/v2/-");
	fx_compile_ok(f);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:80/TCP", 4), 1, addrs, w, 8080);
}

/* A DR in the Service's namespace shadows the root one: its missing subset is an error even
 * though the root DR defines it (Istio uses the most specific DR, it does not fall through). */
static void test_destinationrule_shadowing(void **state)
{
	struct fx *f = *state;

	y_ns(&f->y, "shop", "skiff.io/mesh: enabled");
	y_svc(&f->y, "shop", "echo", "10.96.0.10", "http:80:8080");
	y_slice(&f->y, "shop", "echo-x", "echo", 4, "http:8080", "198.18.1.10/-/1");
	y_dr(&f->y, "istio-system", "echo", "echo.shop.svc.cluster.local");
	sb_printf(&f->y, "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\n"
			 "metadata:\n  name: echo-local\n  namespace: shop\nspec:\n  host: echo\n"
			 "  subsets:\n  - name: canary\n    labels:\n      track: canary\n");
	y_vs(&f->y, "shop", "echo", "echo", "echo/v2/-");
	assert_int_equal(fx_compile(f), -EINVAL);
	assert_view_empty(&f->v);
	assert_true(diag_contains(&f->d, "route destination echo subset v2 is not defined"));
}

/* ---------- ports ---------- */

static void test_port_resolution_by_name(void **state)
{
	struct fx *f = *state;
	const struct cv_service *s;

	y_ns(&f->y, "shop", NULL);
	y_svc(&f->y, "shop", "echo", "10.96.0.10", "http:80:web metrics:9090:- dns:53:5353:UDP");
	/* The slice lists ports in another order than the Service. */
	y_slice(&f->y, "shop", "echo-x", "echo", 4, "dns:5353 metrics:9191 http:8080",
		"198.18.1.10/-/1");
	y_svc(&f->y, "shop", "single", "10.96.0.11", ":80:8080");
	y_slice(&f->y, "shop", "single-x", "single", 4, "other:7070", "198.18.1.20/-/1");
	fx_compile_ok(f);
	assert_int_equal(f->v.nservices, 4);
	s = svc_find(&f->v, "shop/echo:80/TCP", 4);
	assert_int_equal(ntohs(slots_of(&f->v, s)[0].val.port), 8080);
	s = svc_find(&f->v, "shop/echo:9090/TCP", 4);
	assert_int_equal(ntohs(slots_of(&f->v, s)[0].val.port), 9191);
	s = svc_find(&f->v, "shop/echo:53/UDP", 4);
	assert_int_equal(s->key.proto, IPPROTO_UDP);
	assert_int_equal(ntohs(slots_of(&f->v, s)[0].val.port), 5353);
	/* A single-port slice serves a single-port Service whatever the names. */
	s = svc_find(&f->v, "shop/single:80/TCP", 4);
	assert_int_equal(ntohs(slots_of(&f->v, s)[0].val.port), 7070);
}

static void test_target_port_without_slice_ports(void **state)
{
	struct fx *f = *state;
	const struct cv_service *s;

	y_ns(&f->y, "shop", NULL);
	y_svc(&f->y, "shop", "echo", "10.96.0.10", "http:80:8080");
	y_slice(&f->y, "shop", "echo-x", "echo", 4, "", "198.18.1.10/-/1");
	y_svc(&f->y, "shop", "named", "10.96.0.11", "http:80:web");
	y_slice(&f->y, "shop", "named-x", "named", 4, "", "198.18.1.11/-/1");
	fx_compile_ok(f);
	s = svc_find(&f->v, "shop/echo:80/TCP", 4);
	assert_int_equal(s->val.count, 1);
	assert_int_equal(ntohs(slots_of(&f->v, s)[0].val.port), 8080);
	/* A named targetPort with no slice port: nothing to dial. */
	s = svc_find(&f->v, "shop/named:80/TCP", 4);
	assert_int_equal(s->val.flags, SKIFF_SVC_F_NO_BACKENDS);
}

static void test_dedupe_across_slices(void **state)
{
	struct fx *f = *state;
	const char *addrs[] = {"198.18.1.10", "198.18.1.11"};
	const uint32_t w[] = {1, 1};

	y_ns(&f->y, "shop", NULL);
	y_svc(&f->y, "shop", "echo", "10.96.0.10", "http:80:8080");
	y_slice(&f->y, "shop", "echo-a", "echo", 4, "http:8080", "198.18.1.11/-/1 198.18.1.10/-/1");
	y_slice(&f->y, "shop", "echo-b", "echo", 4, "http:8080", "198.18.1.10/-/1");
	/* A slice of another Service, and one of the same name in another namespace. */
	y_slice(&f->y, "shop", "other-a", "other", 4, "http:8080", "198.18.1.50/-/1");
	y_ns(&f->y, "elsewhere", NULL);
	y_slice(&f->y, "elsewhere", "echo-c", "echo", 4, "http:8080", "198.18.1.60/-/1");
	fx_compile_ok(f);
	assert_slots(&f->v, svc_find(&f->v, "shop/echo:80/TCP", 4), 2, addrs, w, 8080);
}

static void test_headless_skipped(void **state)
{
	struct fx *f = *state;

	y_ns(&f->y, "shop", NULL);
	y_svc(&f->y, "shop", "db", "None", "pg:5432:5432");
	y_slice(&f->y, "shop", "db-x", "db", 4, "pg:5432", "198.18.1.10/-/1");
	sb_printf(&f->y,
		  "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: ext\n"
		  "  namespace: shop\nspec:\n  type: ExternalName\n  externalName: example.com\n");
	y_svc(&f->y, "shop", "web", "10.96.0.12", "http:80:8080");
	fx_compile_ok(f);
	assert_int_equal(f->v.nservices, 1);
	assert_string_equal(f->v.services[0].name, "shop/web:80/TCP");
}

/* svc_id follows (namespace, name, port, family), whatever the order of the documents. */
static void test_svc_id_order(void **state)
{
	struct fx *f = *state;
	static const char *const want[] = {"alpha/zeta:80/TCP", "alpha/zeta:443/TCP",
					   "beta/api:80/TCP", "beta/api:80/TCP",
					   "beta/web:8080/TCP"};

	y_ns(&f->y, "beta", NULL);
	y_ns(&f->y, "alpha", NULL);
	y_svc(&f->y, "beta", "web", "10.96.1.3", "http:8080:80");
	y_svc(&f->y, "beta", "api", "10.96.1.2,fd00::2", "http:80:80");
	y_svc(&f->y, "alpha", "zeta", "10.96.1.1", "https:443:443 http:80:80");
	y_slice(&f->y, "beta", "web-x", "web", 4, "http:80", "198.18.1.3/-/1");
	y_slice(&f->y, "alpha", "zeta-x", "zeta", 4, "http:80 https:443",
		"198.18.1.1/-/1 198.18.1.2/-/1");
	fx_compile_ok(f);
	assert_int_equal(f->v.nservices, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(f->v.services[i].name, want[i]);
		assert_int_equal(f->v.services[i].val.svc_id, i);
	}
	assert_int_equal(f->v.services[2].key.family, 4);
	assert_int_equal(f->v.services[3].key.family, 6);
	/* Backends come out sorted by (svc_id, slot). */
	assert_int_equal(f->v.nbackends, 5);
	for (size_t i = 1; i < f->v.nbackends; i++) {
		const struct skiff_backend_key *a = &f->v.backends[i - 1].key;
		const struct skiff_backend_key *b = &f->v.backends[i].key;

		assert_true(a->svc_id < b->svc_id || (a->svc_id == b->svc_id && a->slot < b->slot));
	}
}

/* ---------- enrolled pods ---------- */

static const struct cv_pod *pod_find(const struct node_view *v, const char *name)
{
	for (size_t i = 0; i < v->npods; i++)
		if (!strcmp(v->pods[i].name, name))
			return &v->pods[i];
	return NULL;
}

static void test_enrolled_pods_this_node(void **state)
{
	struct fx *f = *state;
	const struct cv_pod *p;

	y_ns(&f->y, "shop", "skiff.io/mesh: enabled");
	y_pod(&f->y, "shop", "web-1", "node-a", "198.18.1.11", "app=web");
	y_pod(&f->y, "shop", "web-0", "node-a", "198.18.1.10", "app=web");
	y_pod(&f->y, "shop", "web-2", "node-b", "198.18.1.12", "app=web");
	fx_compile_ok(f);
	assert_int_equal(f->v.npods, 2);
	assert_int_equal(f->v.pods_pending, 0);
	assert_string_equal(f->v.pods[0].name, "shop/web-0");
	assert_string_equal(f->v.pods[1].name, "shop/web-1");
	p = &f->v.pods[0];
	assert_int_equal(p->cgroup_id, fake_cgroup_id("shop", "web-0"));
	assert_int_equal(p->val.workload_id, 1);
	assert_int_equal(p->val.flags, SKIFF_POD_F_ENROLLED);
	assert_int_equal(f->v.pods[1].val.workload_id, 2);
	assert_null(pod_find(&f->v, "shop/web-2"));
}

/* Addresses of enrolled local pods, for same-node acceleration, with their pod's workload. */
static void test_enrolled_pod_addresses(void **state)
{
	struct fx *f = *state;
	const struct cv_pod_ip *ip;

	y_ns(&f->y, "shop", "skiff.io/mesh: enabled");
	y_pod(&f->y, "shop", "web-1", "node-a", "198.18.1.11", "app=web");
	y_pod(&f->y, "shop", "web-0", "node-a", "198.18.1.10", "app=web");
	y_pod(&f->y, "shop", "web-2", "node-b", "198.18.1.12", "app=web");
	y_pod(&f->y, "shop", "off", "node-a", "198.18.1.13", "skiff.io/mesh=disabled");
	fx_compile_ok(f);
	assert_int_equal(f->v.npod_ips, 2);
	ip = &f->v.pod_ips[0];
	assert_int_equal(ip->key.family, SKIFF_AF_INET);
	assert_int_equal(ip->key.addr.v4, inet_addr("198.18.1.10"));
	assert_int_equal(ip->key.addr.v6[1] | ip->key.addr.v6[2] | ip->key.addr.v6[3], 0);
	assert_memory_equal(&ip->val, &f->v.pods[0].val, sizeof(ip->val));
	assert_int_equal(f->v.pod_ips[1].key.addr.v4, inet_addr("198.18.1.11"));
	assert_int_equal(f->v.pod_ips[1].val.workload_id, f->v.pods[1].val.workload_id);
}

/* Mesh pods on other nodes, by address, numbered by node: TCP to them is punted to skiffd. */
static void test_remote_pods(void **state)
{
	struct fx *f = *state;
	const struct cv_remote_pod *r;
	bool warned = false;

	y_ns(&f->y, "shop", "skiff.io/mesh: enabled");
	y_pod(&f->y, "shop", "web-0", "node-a", "198.18.1.10", "app=web");
	y_pod(&f->y, "shop", "web-2", "node-c", "198.18.3.12,fd00::3:12", "app=web");
	y_pod(&f->y, "shop", "web-1", "node-b", "198.18.2.11", "app=web");
	y_pod(&f->y, "shop", "off", "node-b", "198.18.2.13", "skiff.io/mesh=disabled");
	y_pod(&f->y, "shop", "stale-a", "node-b", "198.18.2.20", "app=web");
	y_pod(&f->y, "shop", "stale-b", "node-c", "198.18.2.20", "app=web");
	fx_compile_ok(f);
	/* web-1, web-2 twice (dual stack); not web-0 (here), not off, not the shared address */
	assert_int_equal(f->v.nremote_pods, 3);
	r = f->v.remote_pods; /* sorted by key: family 4 before 6, then address */
	assert_int_equal(r[0].key.family, SKIFF_AF_INET);
	assert_v4(&r[0].key.addr, "198.18.2.11");
	assert_int_equal(r[0].val.node_id, 1); /* node-b */
	assert_v4(&r[1].key.addr, "198.18.3.12");
	assert_int_equal(r[1].val.node_id, 2); /* node-c */
	assert_int_equal(r[2].key.family, SKIFF_AF_INET6);
	assert_v6(&r[2].key.addr, "fd00::3:12");
	assert_int_equal(r[2].val.node_id, 2);
	for (size_t i = 0; i < f->d.n; i++)
		warned |= strstr(f->d.v[i].msg, "claim address 198.18.2.20") != NULL;
	assert_true(warned);
}

static void test_namespace_label_variants(void **state)
{
	struct fx *f = *state;

	y_ns(&f->y, "skiff", "skiff.io/mesh: enabled");
	y_ns(&f->y, "ambient", "istio.io/dataplane-mode: ambient");
	y_ns(&f->y, "plain", NULL);
	y_ns(&f->y, "sidecar", "istio-injection: enabled");
	y_ns(&f->y, "off", "skiff.io/mesh: disabled");
	y_pod(&f->y, "skiff", "a", "node-a", "198.18.1.1", "");
	y_pod(&f->y, "ambient", "b", "node-a", "198.18.1.2", "");
	y_pod(&f->y, "plain", "c", "node-a", "198.18.1.3", "");
	y_pod(&f->y, "sidecar", "d", "node-a", "198.18.1.4", "");
	y_pod(&f->y, "off", "e", "node-a", "198.18.1.5", "");
	fx_compile_ok(f);
	assert_int_equal(f->v.npods, 2);
	assert_non_null(pod_find(&f->v, "skiff/a"));
	assert_non_null(pod_find(&f->v, "ambient/b"));
	/* Sorted by namespace: ambient before skiff. */
	assert_string_equal(f->v.pods[0].name, "ambient/b");
}

static void test_pod_opt_out(void **state)
{
	struct fx *f = *state;

	y_ns(&f->y, "shop", "skiff.io/mesh: enabled");
	y_pod(&f->y, "shop", "in", "node-a", "198.18.1.1", "app=x");
	y_pod(&f->y, "shop", "out-skiff", "node-a", "198.18.1.2", "skiff.io/mesh=disabled");
	y_pod(&f->y, "shop", "out-istio", "node-a", "198.18.1.3", "istio.io/dataplane-mode=none");
	fx_compile_ok(f);
	assert_int_equal(f->v.npods, 1);
	assert_string_equal(f->v.pods[0].name, "shop/in");
}

static void test_pending_cgroup_counted(void **state)
{
	struct fx *f = *state;
	int calls = 0;

	y_ns(&f->y, "shop", "skiff.io/mesh: enabled");
	y_pod(&f->y, "shop", "pending-0", "node-a", NULL, "");
	y_pod(&f->y, "shop", "broken-0", "node-a", "198.18.1.2", "");
	y_pod(&f->y, "shop", "web-0", "node-a", "198.18.1.3", "");
	fx_load(f);
	assert_int_equal(compile_node_view(&f->m, "node-a", fake_cgroup_of, &calls, &f->v, &f->d),
			 0);
	assert_int_equal(calls, 3);
	assert_int_equal(f->v.pods_pending, 1);
	assert_int_equal(f->v.npods, 1);
	assert_string_equal(f->v.pods[0].name, "shop/web-0");
	/* ids go to enrolled pods only: the others hold none while no map names them */
	assert_int_equal(f->v.pods[0].val.workload_id, 1);
	assert_true(diag_contains(&f->d, "Pod shop/broken-0: cannot find its cgroup"));
	assert_int_equal(f->d.errors, 0);
}

/* ---------- weights arithmetic, directly ---------- */

static void test_weights_scale_down(void **state)
{
	struct cc_slot s[3] = {0};
	uint64_t total = 0;

	(void)state;
	/* 2^31-1 : 1 : 1 has no exact form under 2^24; the small ones must keep >= 1. */
	s[0] = (struct cc_slot){.num = 2147483647u, .den = 1};
	s[1] = (struct cc_slot){.num = 1, .den = 1};
	s[2] = (struct cc_slot){.num = 1, .den = 1};
	assert_int_equal(compile_weights_normalize(s, 3), 0);
	for (int i = 0; i < 3; i++)
		total += s[i].weight;
	assert_true(total <= SKIFF_WEIGHT_TOTAL_MAX);
	assert_true(s[1].weight >= 1 && s[2].weight >= 1);
	assert_int_equal(s[1].weight, s[2].weight);
	assert_true(s[0].weight > SKIFF_WEIGHT_TOTAL_MAX - 16);
}

static void test_weights_large_lcm(void **state)
{
	/* Counts whose lcm passes 2^40: 25 destinations with distinct prime endpoint counts. */
	static const uint32_t primes[] = {2,  3,  5,  7,  11, 13, 17, 19, 23, 29, 31, 37, 41,
					  43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97};
	struct cc_slot *s;
	size_t n = 0, k = 0;
	uint64_t total = 0;

	(void)state;
	for (size_t i = 0; i < 25; i++)
		n += primes[i];
	s = calloc(n, sizeof(*s));
	assert_non_null(s);
	for (size_t i = 0; i < 25; i++)
		for (uint32_t j = 0; j < primes[i]; j++)
			s[k++] = (struct cc_slot){.num = 100, .den = primes[i]};
	assert_int_equal(compile_weights_normalize(s, n), 0);
	for (size_t i = 0; i < n; i++) {
		assert_true(s[i].weight >= 1);
		total += s[i].weight;
	}
	assert_true(total <= SKIFF_WEIGHT_TOTAL_MAX);
	/* Each destination holds 1/25 of the total, to within rounding. */
	k = 0;
	for (size_t i = 0; i < 25; i++) {
		uint64_t sum = 0;

		for (uint32_t j = 0; j < primes[i]; j++)
			sum += s[k++].weight;
		assert_true(sum * 25 >= total - 25 * 100 && sum * 25 <= total + 25 * 100);
	}
	free(s);
}

static void test_weights_reject_bad_input(void **state)
{
	struct cc_slot s[1] = {{.num = 0, .den = 1}};

	(void)state;
	assert_int_equal(compile_weights_normalize(s, 0), -EINVAL);
	assert_int_equal(compile_weights_normalize(s, 1), -EINVAL);
	s[0] = (struct cc_slot){.num = 5, .den = 1};
	assert_int_equal(compile_weights_normalize(s, 1), 0);
	assert_int_equal(s[0].weight, 1);
}

/* ---------- a fixture file, as the lab writes it ---------- */

/* The product guide's canary over 2 v1 pods and 1 v2 pod: 90 % split over two pods, 10 % on one
 * -> 45/45/10 -> 9, 9, 2. Endpoints come out sorted by address, pods as "ns/pod". */
static void test_payments_canary_fixture(void **state)
{
	struct fx *f = *state;
	const char *path = "tests/unit/fixtures/compile/payments-canary.yaml";
	const char *addrs[] = {"198.18.0.11", "198.18.0.12", "198.18.0.13"};
	const uint32_t w[] = {9, 9, 2};
	const struct cv_service *s;
	const struct cv_backend *b;
	int err;

	err = model_load_files(&path, 1, &f->m, &f->d);
	if (err)
		diag_print(&f->d);
	assert_int_equal(err, 0);
	f->loaded = true;
	assert_int_equal(compile_node_view(&f->m, "node-a", fake_cgroup_of, NULL, &f->v, &f->d), 0);
	assert_int_equal(f->d.errors, 0);
	s = svc_find(&f->v, "payments/payments-api:80/TCP", SKIFF_AF_INET);
	assert_v4(&s->key.addr, "198.19.0.10");
	assert_slots(&f->v, s, 3, addrs, w, 8080);
	b = slots_of(&f->v, s);
	assert_string_equal(b[0].pod, "payments/payments-api-v1-7c9d-a");
	assert_string_equal(b[2].pod, "payments/payments-api-v2-5f4e-a");
	/* node-a runs v1-a, v2-a and the frontend; v1-b is on node-b */
	assert_int_equal(f->v.npods, 3);
	assert_string_equal(f->v.pods[0].name, "payments/frontend-6d8f-a");
	assert_null(pod_find(&f->v, "payments/payments-api-v1-7c9d-b"));
}

/* ---------- determinism ---------- */

static void test_compile_is_deterministic(void **state)
{
	struct fx *f = *state;
	struct node_view v2;
	int err;

	y_canary(&f->y, 3, 2);
	y_vs(&f->y, "shop", "echo", "echo", "echo/v1/70 echo/v2/30");
	fx_compile_ok(f);
	err = compile_node_view(&f->m, "node-a", fake_cgroup_of, NULL, &v2, &f->d);
	assert_int_equal(err, 0);
	assert_int_equal(v2.nservices, f->v.nservices);
	assert_int_equal(v2.nbackends, f->v.nbackends);
	assert_int_equal(v2.npods, f->v.npods);
	for (size_t i = 0; i < v2.nservices; i++) {
		assert_memory_equal(&v2.services[i].key, &f->v.services[i].key,
				    sizeof(v2.services[i].key));
		assert_memory_equal(&v2.services[i].val, &f->v.services[i].val,
				    sizeof(v2.services[i].val));
	}
	for (size_t i = 0; i < v2.nbackends; i++) {
		assert_memory_equal(&v2.backends[i].key, &f->v.backends[i].key,
				    sizeof(v2.backends[i].key));
		assert_memory_equal(&v2.backends[i].val, &f->v.backends[i].val,
				    sizeof(v2.backends[i].val));
	}
	node_view_free(&v2);
	assert_null(v2.services);
	assert_int_equal(v2.nbackends, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_no_vs_equal_weights),
	    T(test_canary_90_10_one_each),
	    T(test_canary_90_10_two_three),
	    T(test_weights_0_100),
	    T(test_weights_550_500),
	    T(test_weights_49_50),
	    T(test_single_destination_gets_all),
	    T(test_missing_subset),
	    T(test_missing_subset_in_shadowed_vs),
	    T(test_missing_destinationrule),
	    T(test_unresolvable_host),
	    T(test_unready_endpoints_excluded),
	    T(test_subset_without_ready_endpoints),
	    T(test_no_endpoints_flag),
	    T(test_dual_stack),
	    T(test_route_to_other_service),
	    T(test_destination_port_explicit),
	    T(test_gateway_only_vs_ignored),
	    T(test_mesh_gateway_vs_used),
	    T(test_matched_route_skipped),
	    T(test_l7_port_marked_and_tabled),
	    T(test_l7_not_for_weights_or_tcp),
	    cmocka_unit_test(test_port_protocols),
	    T(test_only_matched_routes_warns),
	    T(test_tcp_route),
	    T(test_http_route_not_on_tcp_port),
	    T(test_two_virtualservices),
	    T(test_destinationrule_root_namespace),
	    T(test_destinationrule_shadowing),
	    T(test_port_resolution_by_name),
	    T(test_target_port_without_slice_ports),
	    T(test_dedupe_across_slices),
	    T(test_headless_skipped),
	    T(test_svc_id_order),
	    T(test_enrolled_pods_this_node),
	    T(test_enrolled_pod_addresses),
	    T(test_remote_pods),
	    T(test_namespace_label_variants),
	    T(test_pod_opt_out),
	    T(test_pending_cgroup_counted),
	    T(test_weights_scale_down),
	    T(test_weights_large_lcm),
	    T(test_weights_reject_bad_input),
	    T(test_payments_canary_fixture),
	    T(test_compile_is_deterministic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
