// SPDX-License-Identifier: Apache-2.0
/*
 * A config file as skiffd reads it: YAML into trees (yaml_tree.c), the trees into the typed
 * model with Kubernetes' and Istio's validation (user/model/), and, when the model is valid, its
 * AuthorizationPolicies compiled into matchers (user/authz/). Input: one file's bytes.
 *
 * Checked beyond not crashing: a rejected file says why (at least one error), and a file that
 * parses but is rejected leaves nothing behind (the model comes back zeroed).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz.h"
#include "config/yaml_tree.h"
#include "fuzz/fuzz_util.h"
#include "model/model.h"

static void check_empty(const struct model *m)
{
	static const struct model zero;

	if (memcmp(m, &zero, sizeof(zero))) {
		fprintf(stderr, "a rejected model was not left zeroed\n");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ydoc_set set = {0};
	struct diag d = {0};
	struct model m = {0};
	struct authz_set *as = NULL;
	struct authz_options opt = {0};
	int rc;

	rc = yaml_parse_string(&set, "fuzz.yaml", (const char *)data, size, &d);
	if (rc) {
		if (!d.errors) {
			fprintf(stderr, "YAML refused (%d) without an error\n", rc);
			abort();
		}
		ydoc_set_free(&set);
		diag_free(&d);
		return 0;
	}
	rc = model_load_set(&set, &m, &d);
	if (rc) {
		if (!d.errors && rc == -EINVAL) {
			fprintf(stderr, "model refused without an error\n");
			abort();
		}
		check_empty(&m);
	} else {
		if (!authz_compile(&m, &opt, &as, &d))
			authz_set_free(as);
		model_free(&m);
	}
	ydoc_set_free(&set);
	diag_free(&d);
	return 0;
}
