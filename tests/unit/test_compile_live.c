// SPDX-License-Identifier: Apache-2.0
/*
 * compile_live: EndpointSlice changes compiled into the view incrementally must give exactly the
 * view a full compile of the same model gives. Checked on seeded random sequences of changes
 * (endpoints added, removed, made ready or not, slices deleted, re-created, moved to another
 * Service) over Services with and without VirtualServices, one routing to another Service, two
 * ports, subsets, and a dual-stack one. After every change: the incremental view equals the full
 * one entry for entry, and every service port whose entry or slots changed is in the list the
 * dataplane rewrites, and the L7 router's table built from the live tables equals the one a full
 * compile builds (endpoints, their pods, which are local).
 * And the limit a whole view must stay within: SKIFF_MAX_BACKENDS slots.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "compile_test.h"
#include "compile/compile_internal.h" /* compile_backends_check */
#include "compile/compile_l7.h"
#include "compile/compile_live.h"

#define NSVC  10
#define NPOD  6 /* pods per Service */
#define NSL   2 /* slices per Service at most */
#define STEPS 300

struct slice_state {
	bool present;
	int svc;      /* the Service it is labelled with */
	bool v6;      /* an IPv6 slice (service 9 is dual-stack) */
	int ep[NPOD]; /* per pod: 0 absent, 1 ready, 2 not ready */
};

struct world {
	struct slice_state sl[NSVC][NSL];
	unsigned seed;
};

static unsigned rnd(struct world *w, unsigned n)
{
	w->seed = w->seed * 1103515245u + 12345u;
	return (w->seed >> 16) % n;
}

static const char *ns_of(int s)
{
	return s % 2 ? "b" : "a";
}

static void static_yaml(struct strbuf *b)
{
	sb_printf(b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels:\n"
		     "    istio.io/dataplane-mode: ambient\n");
	sb_printf(b, "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n");
	for (int s = 0; s < NSVC; s++) {
		sb_printf(b,
			  "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s%d\n"
			  "  namespace: %s\nspec:\n  clusterIPs: [10.96.0.%d%s]\n  ports:\n"
			  "  - {name: http, port: 80, targetPort: http}\n",
			  s, ns_of(s), 10 + s, s == 9 ? ", fd00::9" : "");
		if (s % 3 == 0)
			sb_printf(b, "  - {name: grpc, port: 9090, targetPort: 9091}\n");
		for (int p = 0; p < NPOD; p++) {
			char v6[48];

			snprintf(v6, sizeof(v6), ", {ip: 'fd01::%d:%d'}", s, p);
			sb_printf(b,
				  "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: s%d-p%d\n"
				  "  namespace: %s\n  uid: u-%d-%d\n  labels: {app: s%d, version: "
				  "v%d}\nspec:\n  nodeName: node-%c\n  containers:\n  - name: c\n"
				  "    ports: [{name: http, containerPort: 8080}]\nstatus:\n"
				  "  podIPs: [{ip: 10.1.%d.%d}%s]\n",
				  s, p, ns_of(s), s, p, s, p % 3 ? 1 : 2, p % 2 ? 'a' : 'b', s, p,
				  s == 9 ? v6 : "");
		}
	}
	/* s1: subsets of itself; s3: all of it to s4; s5: split between itself and s6 */
	sb_printf(b,
		  "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n"
		  "  name: s1\n  namespace: b\nspec:\n  host: s1\n  subsets:\n"
		  "  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n");
	sb_printf(b, "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n"
		     "  name: s1\n  namespace: b\nspec:\n  hosts: [s1]\n  http:\n  - route:\n"
		     "    - {destination: {host: s1, subset: v1}, weight: 90}\n"
		     "    - {destination: {host: s1, subset: v2}, weight: 10}\n");
	sb_printf(b, "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n"
		     "  name: s3\n  namespace: b\nspec:\n  hosts: [s3]\n  http:\n  - route:\n"
		     "    - {destination: {host: s4.a.svc.cluster.local, port: {number: 80}}}\n");
	sb_printf(b, "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n"
		     "  name: s5\n  namespace: b\nspec:\n  hosts: [s5]\n  http:\n  - route:\n"
		     "    - {destination: {host: s5}, weight: 70}\n"
		     "    - {destination: {host: s6.a.svc.cluster.local}, weight: 30}\n");
	/* s7: L7 (a header match), to s8 or itself, mirrored to s2 */
	sb_printf(b, "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n"
		     "  name: s7\n  namespace: b\nspec:\n  hosts: [s7]\n  http:\n"
		     "  - match: [{headers: {x-canary: {exact: '1'}}}]\n"
		     "    route: [{destination: {host: s8.a.svc.cluster.local}}]\n"
		     "    mirror: {host: s2.a.svc.cluster.local}\n"
		     "  - route: [{destination: {host: s7}}]\n");
}

static void slice_yaml(struct strbuf *b, int s, int k, const struct slice_state *st)
{
	int owner = st->svc;
	bool any = false;

	sb_printf(b,
		  "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n"
		  "  name: s%d-%d\n  namespace: %s\n  labels: {kubernetes.io/service-name: "
		  "s%d}\naddressType: IPv%d\nports:\n- {name: http, port: 8080}\n"
		  "- {name: grpc, port: 9091}\nendpoints:\n",
		  s, k, ns_of(s), owner, st->v6 ? 6 : 4);
	for (int p = 0; p < NPOD; p++) {
		if (!st->ep[p])
			continue;
		any = true;
		if (st->v6)
			sb_printf(b, "- addresses: ['fd01::%d:%d']\n", s, p);
		else
			sb_printf(b, "- addresses: [10.1.%d.%d]\n", s, p);
		sb_printf(b, "  conditions: {ready: %s}\n  targetRef: {kind: Pod, name: s%d-p%d}\n",
			  st->ep[p] == 1 ? "true" : "false", s, p);
	}
	if (!any)
		sb_printf(b, "  []\n");
}

static char *world_yaml(const struct world *w)
{
	struct strbuf b = {0};

	static_yaml(&b);
	for (int s = 0; s < NSVC; s++)
		for (int k = 0; k < NSL; k++)
			if (w->sl[s][k].present)
				slice_yaml(&b, s, k, &w->sl[s][k]);
	return sb_take(&b);
}

static void full_view(const struct world *w, struct model *m, struct node_view *v)
{
	struct diag d = {0};
	char *y = world_yaml(w);

	assert_int_equal(model_load_string("world.yaml", y, m, &d), 0);
	assert_int_equal(compile_node_view(m, "node-a", fake_cgroup_of, NULL, v, &d), 0);
	free(y);
	diag_free(&d);
}

/* The slices of a world in their first state: every Service one slice, most pods ready. */
static void world_init(struct world *w, unsigned seed)
{
	memset(w, 0, sizeof(*w));
	w->seed = seed;
	for (int s = 0; s < NSVC; s++) {
		w->sl[s][0].present = true;
		w->sl[s][0].svc = s;
		for (int p = 0; p < NPOD; p++)
			w->sl[s][0].ep[p] = rnd(w, 4) ? 1 : (rnd(w, 2) ? 2 : 0);
		w->sl[s][1].svc = s;
		w->sl[s][1].v6 = s == 9;
	}
}

/* One random change to one slice; returns which, and whether it was deleted. */
static void world_step(struct world *w, int *os, int *ok, bool *deleted)
{
	int s = (int)rnd(w, NSVC), k = (int)rnd(w, NSL), p = (int)rnd(w, NPOD);
	struct slice_state *st = &w->sl[s][k];

	*os = s;
	*ok = k;
	*deleted = false;
	switch (rnd(w, 8)) {
	case 0:
		if (st->present) {
			st->present = false;
			*deleted = true;
			return;
		}
		break;
	case 1: /* a slice relabelled to another Service (or one that does not exist) */
		st->svc = (int)rnd(w, NSVC + 1);
		break;
	default:
		st->ep[p] = (int)rnd(w, 3);
		break;
	}
	st->present = true;
}

static void assert_same_view(const struct node_view *x, const struct node_view *y)
{
	assert_int_equal(x->nservices, y->nservices);
	assert_int_equal(x->nbackends, y->nbackends);
	for (size_t i = 0; i < x->nservices; i++) {
		assert_memory_equal(&x->services[i].key, &y->services[i].key,
				    sizeof(x->services[i].key));
		assert_memory_equal(&x->services[i].val, &y->services[i].val,
				    sizeof(x->services[i].val));
		assert_string_equal(x->services[i].name, y->services[i].name);
	}
	for (size_t i = 0; i < x->nbackends; i++) {
		assert_memory_equal(&x->backends[i].key, &y->backends[i].key,
				    sizeof(x->backends[i].key));
		assert_memory_equal(&x->backends[i].val, &y->backends[i].val,
				    sizeof(x->backends[i].val));
		assert_true((!x->backends[i].pod && !y->backends[i].pod) ||
			    (x->backends[i].pod && y->backends[i].pod &&
			     !strcmp(x->backends[i].pod, y->backends[i].pod)));
	}
}

/* The entry and slots of svc_id `id` in `v`, as one comparable string. */
static char *svc_print(const struct node_view *v, uint32_t id)
{
	struct strbuf b = {0};

	sb_printf(&b, "%u %u %u|", v->services[id].val.count, v->services[id].val.weight_total,
		  v->services[id].val.flags);
	for (size_t i = 0; i < v->nbackends; i++)
		if (v->backends[i].key.svc_id == id)
			sb_printf(&b, "%u:%08x:%u:%u ", v->backends[i].key.slot,
				  v->backends[i].val.addr.v6[0], v->backends[i].val.addr.v6[3],
				  v->backends[i].val.weight_end);
	return sb_take(&b);
}

/* Every svc_id whose entry or slots differ between `before` and `after` is in `changed`. */
static void assert_changes_listed(const struct node_view *before, const struct node_view *after,
				  const uint32_t *changed, size_t n)
{
	for (uint32_t id = 0; id < after->nservices; id++) {
		char *x = svc_print(before, id), *y = svc_print(after, id);
		bool listed = false;

		for (size_t i = 0; i < n; i++)
			listed |= changed[i] == id;
		if (strcmp(x, y) && !listed)
			fail_msg("svc_id %u (%s) changed but was not listed: %s -> %s", id,
				 after->services[id].name, x, y);
		free(x);
		free(y);
	}
}

static void copy_view_services(const struct node_view *v, struct node_view *out)
{
	memset(out, 0, sizeof(*out));
	out->nservices = v->nservices;
	out->services = calloc(v->nservices + 1, sizeof(*out->services));
	out->nbackends = v->nbackends;
	out->backends = calloc(v->nbackends + 1, sizeof(*out->backends));
	assert_non_null(out->services);
	assert_non_null(out->backends);
	for (size_t i = 0; i < v->nservices; i++)
		out->services[i] =
		    (struct cv_service){v->services[i].key, v->services[i].val, NULL};
	for (size_t i = 0; i < v->nbackends; i++)
		out->backends[i] =
		    (struct cv_backend){v->backends[i].key, v->backends[i].val, NULL};
}

static void assert_same_dests(const struct l7_dest *x, const struct l7_dest *y, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(x[i].weight, y[i].weight);
		assert_int_equal(x[i].port, y[i].port);
		assert_int_equal(x[i].neps, y[i].neps);
		for (size_t k = 0; k < x[i].neps; k++) {
			const struct l7_endpoint *a = &x[i].eps[k], *b = &y[i].eps[k];

			assert_memory_equal(&a->addr, &b->addr, sizeof(a->addr));
			assert_int_equal(a->local, b->local);
			assert_int_equal(!a->pod, !b->pod);
			if (a->pod)
				assert_string_equal(a->pod->meta.name, b->pod->meta.name);
		}
	}
}

/* The live L7 table against a full compile's: same ports, routes, destinations, endpoints. */
static void assert_same_l7(const struct compile_live *cl, const struct model *full)
{
	struct l7_table x = {0}, y = {0};
	struct diag d = {0};

	assert_int_equal(compile_live_l7_table(cl, "node-a", &x, &d), 0);
	assert_int_equal(compile_l7_table(full, "node-a", &y, &d), 0);
	assert_int_equal(x.n, y.n);
	assert_true(x.n > 0);
	for (size_t i = 0; i < x.n; i++) {
		assert_memory_equal(&x.v[i].vip, &y.v[i].vip, sizeof(x.v[i].vip));
		assert_string_equal(x.v[i].svc->meta.name, y.v[i].svc->meta.name);
		assert_int_equal(x.v[i].nroutes, y.v[i].nroutes);
		for (size_t r = 0; r < x.v[i].nroutes; r++) {
			const struct l7_route *a = &x.v[i].routes[r], *b = &y.v[i].routes[r];

			assert_int_equal(a->ndests, b->ndests);
			assert_int_equal(a->total, b->total);
			assert_int_equal(a->nmirrors, b->nmirrors);
			assert_same_dests(a->dests, b->dests, a->ndests);
			assert_same_dests(a->mirrors, b->mirrors, a->nmirrors);
		}
	}
	l7_table_free(&x);
	l7_table_free(&y);
	diag_free(&d);
}

static void run_sequence(unsigned seed)
{
	struct world w;
	struct model base = {0};
	struct node_view live = {0};
	struct compile_live *cl = NULL;
	struct diag d = {0};

	world_init(&w, seed);
	full_view(&w, &base, &live);
	assert_int_equal(compile_live_new(&base, &cl, &d), 0);
	for (int step = 0; step < STEPS; step++) {
		struct model full_m = {0}, one = {0};
		struct node_view full = {0}, before;
		struct strbuf b = {0};
		uint32_t *changed = NULL;
		size_t nchanged = 0;
		char gone[80];
		const char *gonev[1] = {gone};
		bool deleted;
		int s, k;

		world_step(&w, &s, &k, &deleted);
		snprintf(gone, sizeof(gone), "%s/s%d-%d", ns_of(s), s, k);
		if (!deleted)
			slice_yaml(&b, s, k, &w.sl[s][k]);
		assert_int_equal(model_load_string("slice.yaml", b.s ? b.s : "", &one, &d), 0);
		copy_view_services(&live, &before);
		assert_int_equal(compile_live_slices(cl, &one, gonev, deleted ? 1 : 0, &live,
						     &changed, &nchanged, &d),
				 0);
		full_view(&w, &full_m, &full);
		assert_same_view(&live, &full);
		assert_changes_listed(&before, &full, changed, nchanged);
		assert_same_l7(cl, &full_m);
		for (size_t i = 1; i < nchanged; i++)
			assert_true(changed[i - 1] < changed[i]);
		free(changed);
		node_view_free(&before);
		node_view_free(&full);
		model_free(&full_m);
		sb_free(&b);
	}
	compile_live_free(cl);
	node_view_free(&live);
	model_free(&base);
	diag_free(&d);
}

static void live_matches_full_compile(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed <= 8; seed++)
		run_sequence(seed);
}

/* A Service routed to by another's VirtualService: a change to its endpoints rewrites both. */
static void live_rewrites_routing_services(void **state)
{
	struct world w;
	struct model base = {0}, one = {0};
	struct node_view v = {0};
	struct compile_live *cl = NULL;
	struct diag d = {0};
	struct strbuf b = {0};
	uint32_t *changed = NULL;
	size_t n = 0;
	char *s3 = NULL, *s4 = NULL;

	(void)state;
	world_init(&w, 42);
	full_view(&w, &base, &v);
	assert_int_equal(compile_live_new(&base, &cl, &d), 0);
	w.sl[4][0].ep[0] = w.sl[4][0].ep[0] == 1 ? 2 : 1;
	slice_yaml(&b, 4, 0, &w.sl[4][0]);
	assert_int_equal(model_load_string("slice.yaml", b.s, &one, &d), 0);
	assert_int_equal(compile_live_slices(cl, &one, NULL, 0, &v, &changed, &n, &d), 0);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(v.services[changed[i]].name, "b/s3:80/TCP"))
			s3 = v.services[changed[i]].name;
		if (!strcmp(v.services[changed[i]].name, "a/s4:80/TCP"))
			s4 = v.services[changed[i]].name;
	}
	assert_non_null(s3);
	assert_non_null(s4);
	free(changed);
	compile_live_free(cl);
	node_view_free(&v);
	model_free(&base);
	diag_free(&d);
	sb_free(&b);
}

/* More backend slots than skiff_backends holds for a generation is an error naming the limit,
 * not a map write that fails half way (or a truncated table). */
static void backends_over_the_map_limit_are_an_error(void **state)
{
	struct node_view v = {.nbackends = SKIFF_MAX_BACKENDS};
	struct diag d = {0};

	(void)state;
	assert_int_equal(compile_backends_check(&v, &d), 0);
	v.nbackends++;
	assert_int_equal(compile_backends_check(&v, &d), -E2BIG);
	assert_int_equal(d.errors, 1);
	assert_non_null(strstr(d.v[0].msg, "262145 backend slots"));
	assert_non_null(strstr(d.v[0].msg, "SKIFF_MAX_BACKENDS"));
	diag_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(live_matches_full_compile),
	    cmocka_unit_test(live_rewrites_routing_services),
	    cmocka_unit_test(backends_over_the_map_limit_are_an_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
