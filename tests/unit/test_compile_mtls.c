// SPDX-License-Identifier: Apache-2.0
/*
 * PeerAuthentication resolution (user/compile/compile_mtls.c) against Istio's rules: workload
 * over namespace over mesh, UNSET inherits, PERMISSIVE by default, port-level overrides keyed by
 * workload port, a root-namespace policy with a selector is not mesh-wide, ties reported.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/strbuf.h"
#include "compile/compile_mtls.h"
#include "compile_test.h"

static void pod(struct fx *f, const char *ns, const char *name, const char *app)
{
	sb_printf(&f->y,
		  "---\napiVersion: v1\nkind: Pod\nmetadata: {name: %s, namespace: %s, labels: "
		  "{app: %s}}\nspec: {nodeName: node-a, containers: [{name: c, image: x}]}\n",
		  name, ns, app);
}

/* A PeerAuthentication; `selector` NULL for namespace/mesh-wide, `ports` like "8080:DISABLE". */
static void pa(struct fx *f, const char *ns, const char *name, const char *selector,
	       const char *mode, const char *ports)
{
	sb_printf(&f->y,
		  "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: "
		  "{name: %s, namespace: %s}\nspec:\n",
		  name, ns);
	if (selector)
		sb_printf(&f->y, "  selector: {matchLabels: {app: %s}}\n", selector);
	if (mode)
		sb_printf(&f->y, "  mtls: {mode: %s}\n", mode);
	if (ports) {
		char buf[128], *save = NULL, *tok;

		sb_printf(&f->y, "  portLevelMtls:\n");
		snprintf(buf, sizeof(buf), "%s", ports);
		for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			char *colon = strchr(tok, ':');

			*colon = '\0';
			sb_printf(&f->y, "    %s: {mode: %s}\n", tok, colon + 1);
		}
	}
}

static const struct m_pod *load_pod(struct fx *f, const char *ns, const char *name)
{
	if (f->loaded) /* a case may ask twice: the model is loaded afresh each time */
		model_free(&f->m);
	f->loaded = false;
	fx_load(f);
	for (size_t i = 0; i < f->m.npods; i++)
		if (!strcmp(f->m.pods[i].meta.ns, ns) && !strcmp(f->m.pods[i].meta.name, name))
			return &f->m.pods[i];
	fail_msg("no pod %s/%s", ns, name);
	return NULL;
}

static enum m_mtls_mode mode_of(struct fx *f, const char *ns, const char *name, uint16_t port)
{
	struct pod_mtls pm;

	compile_pod_mtls(&f->m, load_pod(f, ns, name), &pm, &f->d);
	return port ? pod_mtls_port(&pm, port) : pm.mode;
}

static void test_default_permissive(void **state)
{
	struct fx *f = *state;

	pod(f, "shop", "web", "web");
	assert_int_equal(mode_of(f, "shop", "web", 0), MTLS_PERMISSIVE);
}

static void test_mesh_strict(void **state)
{
	struct fx *f = *state;

	pa(f, "istio-system", "default", NULL, "STRICT", NULL);
	pod(f, "shop", "web", "web");
	assert_int_equal(mode_of(f, "shop", "web", 0), MTLS_STRICT);
}

static void test_namespace_overrides_mesh(void **state)
{
	struct fx *f = *state;

	pa(f, "istio-system", "default", NULL, "STRICT", NULL);
	pa(f, "shop", "relaxed", NULL, "PERMISSIVE", NULL);
	pod(f, "shop", "web", "web");
	pod(f, "bank", "vault", "vault");
	assert_int_equal(mode_of(f, "shop", "web", 0), MTLS_PERMISSIVE);
	assert_int_equal(mode_of(f, "bank", "vault", 0), MTLS_STRICT);
}

static void test_unset_inherits(void **state)
{
	struct fx *f = *state;

	pa(f, "istio-system", "default", NULL, "STRICT", NULL);
	pa(f, "shop", "ns", NULL, "UNSET", NULL);
	pa(f, "shop", "wl", "web", NULL, NULL); /* no mtls at all: UNSET */
	pod(f, "shop", "web", "web");
	assert_int_equal(mode_of(f, "shop", "web", 0), MTLS_STRICT);
}

static void test_workload_overrides_namespace(void **state)
{
	struct fx *f = *state;

	pa(f, "shop", "ns", NULL, "STRICT", NULL);
	pa(f, "shop", "legacy", "legacy", "DISABLE", NULL);
	pod(f, "shop", "web", "web");
	pod(f, "shop", "old", "legacy");
	assert_int_equal(mode_of(f, "shop", "old", 0), MTLS_DISABLE);
	assert_int_equal(mode_of(f, "shop", "web", 0), MTLS_STRICT);
}

/* The reachability case: STRICT with every port DISABLEd behaves as plaintext on those ports. */
static void test_port_level(void **state)
{
	struct fx *f = *state;

	pa(f, "shop", "wl", "web", "STRICT", "8080:DISABLE 9000:UNSET 9443:PERMISSIVE");
	pod(f, "shop", "web", "web");
	assert_int_equal(mode_of(f, "shop", "web", 8080), MTLS_DISABLE);
	assert_int_equal(mode_of(f, "shop", "web", 9000), MTLS_STRICT); /* UNSET inherits */
	assert_int_equal(mode_of(f, "shop", "web", 9443), MTLS_PERMISSIVE);
	assert_int_equal(mode_of(f, "shop", "web", 7000), MTLS_STRICT);
}

/* A policy with a selector in the root namespace is a workload policy there, not mesh-wide. */
static void test_root_selector_not_mesh_wide(void **state)
{
	struct fx *f = *state;

	pa(f, "istio-system", "gw", "gateway", "STRICT", NULL);
	pod(f, "shop", "web", "gateway");
	pod(f, "istio-system", "gw-0", "gateway");
	assert_int_equal(mode_of(f, "shop", "web", 0), MTLS_PERMISSIVE);
	assert_int_equal(mode_of(f, "istio-system", "gw-0", 0), MTLS_STRICT);
}

/* A policy elsewhere never applies, whatever its selector matches. */
static void test_other_namespace_selector(void **state)
{
	struct fx *f = *state;

	pa(f, "bank", "wl", "web", "STRICT", NULL);
	pod(f, "shop", "web", "web");
	assert_int_equal(mode_of(f, "shop", "web", 0), MTLS_PERMISSIVE);
}

static void test_tie_first_by_name_reported(void **state)
{
	struct fx *f = *state;
	bool warned = false;

	pa(f, "shop", "zz-strict", NULL, "STRICT", NULL);
	pa(f, "shop", "aa-disable", NULL, "DISABLE", NULL);
	pod(f, "shop", "web", "web");
	assert_int_equal(mode_of(f, "shop", "web", 0), MTLS_DISABLE);
	for (size_t i = 0; i < f->d.n; i++)
		warned |=
		    strstr(f->d.v[i].msg, "shop/zz-strict is not used for pod shop/web") != NULL;
	assert_true(warned);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	    T(test_default_permissive),		  T(test_mesh_strict),
	    T(test_namespace_overrides_mesh),	  T(test_unset_inherits),
	    T(test_workload_overrides_namespace), T(test_port_level),
	    T(test_root_selector_not_mesh_wide),  T(test_other_namespace_selector),
	    T(test_tie_first_by_name_reported),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
