/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the configuration tests share: load YAML that must be refused and check the error says
 * what it should (the first failure prints every diagnostic, so a changed message shows whole).
 */
#ifndef SKIFF_TESTS_MODEL_TEST_H
#define SKIFF_TESTS_MODEL_TEST_H

#include "common/diag.h"
#include "model/model.h"

static inline void assert_model_refuses(const char *yaml, const char *want)
{
	struct diag d = {0};
	struct model m;

	if (model_load_string("t.yaml", yaml, &m, &d) == 0)
		fail_msg("accepted:\n%s", yaml);
	if (!diag_contains(&d, want)) {
		diag_print(&d);
		fail_msg("no error with '%s'", want);
	}
	diag_free(&d);
}

#endif
