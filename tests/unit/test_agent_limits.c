// SPDX-License-Identifier: Apache-2.0
/* skiffd's relay limit flags (user/agent/agent_limits.c): values taken, bad ones refused with the
 * flag, the value and what it wants; nothing set when refused. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "agent/agent.h"
#include "common/diag.h"
#include "model/model.h"
#include "unit/model_test.h"

#define IOP                                                                                        \
	"apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata:\n"                  \
	"  name: istio-control-plane\n  namespace: istio-system\nspec:\n  meshConfig:\n"
#define CM_MESH                                                                                    \
	"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\n"      \
	"data:\n  mesh: |-\n"

static void test_values_taken(void **state)
{
	struct agent_opts o = {0};
	char err[160];

	(void)state;
	assert_int_equal(agent_limit_flag(&o, "idle-timeout", "1s", err, sizeof(err)), 0);
	assert_int_equal(agent_limit_flag(&o, "connect-timeout", "1.5s", err, sizeof(err)), 0);
	assert_int_equal(agent_limit_flag(&o, "sniff-timeout", "250ms", err, sizeof(err)), 0);
	assert_int_equal(agent_limit_flag(&o, "head-timeout", "1m", err, sizeof(err)), 0);
	assert_int_equal(agent_limit_flag(&o, "max-conns-per-source", "64", err, sizeof(err)), 0);
	assert_int_equal(o.idle_ms, 1000);
	assert_int_equal(o.connect_ms, 1500);
	assert_int_equal(o.sniff_ms, 250);
	assert_int_equal(o.head_ms, 60000);
	assert_int_equal(o.per_source, 64);
	assert_int_equal(agent_limit_flag(&o, "idle-timeout", "720h", err, sizeof(err)), 0);
	assert_int_equal(o.idle_ms, 720u * 3600 * 1000);
}

static void refused(const char *flag, const char *val, const char *want)
{
	struct agent_opts o = {0};
	char err[160] = "";

	assert_int_equal(agent_limit_flag(&o, flag, val, err, sizeof(err)), -EINVAL);
	if (!strstr(err, want) || !strstr(err, flag))
		fail_msg("--%s=%s: got \"%s\", want it to say \"%s\"", flag, val, err, want);
	assert_int_equal(o.idle_ms + o.connect_ms + o.sniff_ms + o.head_ms + o.per_source, 0);
}

static void test_bad_values_refused(void **state)
{
	(void)state;
	refused("idle-timeout", "soon", "not a duration");
	refused("idle-timeout", "10", "not a duration"); /* a unit is required, as in Istio */
	refused("idle-timeout", "0s", "under 1ms");
	refused("connect-timeout", "0.5ms", "under 1ms");
	refused("sniff-timeout", "1.0005s", "whole number of milliseconds");
	refused("head-timeout", "2h", "over the limit of 1h");
	refused("idle-timeout", "721h", "over the limit of 720h");
	refused("max-conns-per-source", "0", "from 1 to 1048576");
	refused("max-conns-per-source", "12x", "from 1 to 1048576");
	refused("max-conns-per-source", "2000000", "from 1 to 1048576");
	refused("max-conns", "1", "not a relay limit");
}

/* The mesh config's connectTimeout and protocolDetectionTimeout, where the flags are not given. */
static void test_mesh_config_timeouts(void **state)
{
	struct diag d = {0};
	struct model m;

	(void)state;
	assert_int_equal(model_load_string("t.yaml",
					   IOP "    connectTimeout: 3s\n"
					       "    protocolDetectionTimeout: 0s\n",
					   &m, &d),
			 0);
	assert_int_equal(m.mesh.connect_timeout_ms, 3000);
	assert_int_equal(m.mesh.protocol_detection_ms, 0); /* Istio's default: skiffd's own */
	model_free(&m);
	assert_int_equal(
	    model_load_string("t.yaml", CM_MESH "    protocolDetectionTimeout: 250ms\n", &m, &d),
	    0);
	assert_int_equal(m.mesh.protocol_detection_ms, 250);
	assert_int_equal(m.mesh.connect_timeout_ms, 0);
	model_free(&m);
	diag_free(&d);
}

static void test_mesh_config_bad_timeouts(void **state)
{
	static const struct {
		const char *yaml, *want;
	} cases[] = {
	    {IOP "    connectTimeout: 5\n",
	     "spec.meshConfig.connectTimeout \"5\" is not a duration"},
	    {IOP "    protocolDetectionTimeout: 0.5ms\n", "must be at least 1ms"},
	    {IOP "    connectTimeout: 2h\n", "must be at most 1h"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_model_refuses(cases[i].yaml, cases[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_values_taken),
	    cmocka_unit_test(test_bad_values_refused),
	    cmocka_unit_test(test_mesh_config_timeouts),
	    cmocka_unit_test(test_mesh_config_bad_timeouts),
	};

	return cmocka_run_group_tests_name("agent_limits", tests, NULL, NULL);
}
