// SPDX-License-Identifier: Apache-2.0
/*
 * AuthorizationPolicy paths: a request target normalised both ways Istio offers, forwarded as the
 * pod will see it, and matched against a path template. Input: "TEMPLATE\nTARGET".
 *
 * Beyond not crashing, normalising is checked to be idempotent: skiffd decides on the
 * normalised path and forwards that same path, so a pod that normalises again must find nothing
 * left to change (else it would serve another path than the one decided).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/authz_internal.h"
#include "fuzz/fuzz_util.h"
#include "model/model_istio_common.h"

static void check_idempotent(const char *raw, enum authz_path_norm norm)
{
	char *once = authz_path_forward(raw, norm), *twice;

	if (!once)
		return;
	if (once[0] != '/') {
		fprintf(stderr, "forwarded path %s of %s does not start with '/'\n", once, raw);
		abort();
	}
	twice = authz_path_forward(once, norm);
	if (!twice || strcmp(once, twice)) {
		fprintf(stderr, "normalisation %d not idempotent: %s -> %s -> %s\n", norm, raw,
			once, twice ? twice : "(refused)");
		abort();
	}
	free(twice);
	free(once);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *tmpl, *raw, *path;

	fz_split2(data, size, '\n', &tmpl, &raw);
	for (int norm = AUTHZ_PATH_BASE; norm <= AUTHZ_PATH_MERGE_SLASHES; norm++) {
		path = az_path_normalize(raw, norm);
		if (!path[0]) {
			fprintf(stderr, "empty normalised path for %s\n", raw);
			abort();
		}
		/* a template is matched only when the model accepted it, as in skiffd */
		if (!istio_authz_path_problem(tmpl))
			(void)az_path_template_match(tmpl, path);
		free(path);
		check_idempotent(raw, norm);
	}
	free(tmpl);
	free(raw);
	return 0;
}
