// SPDX-License-Identifier: Apache-2.0
/* Error text for the identity module: one message per failure, OpenSSL's reason attached. */
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "identity/identity_internal.h"

int id_fail(struct identity_err *err, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return rc;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return rc;
}

int id_fail_ssl(struct identity_err *err, int rc, const char *fmt, ...)
{
	/* OpenSSL queues the innermost reason first; the last one queued is the most specific
	 * one a person can act on ("no start line", "key values mismatch"). */
	unsigned long e = ERR_peek_last_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;
	va_list ap;
	size_t n;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
		n = strlen(err->msg);
		if (why)
			snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", why);
	}
	ERR_clear_error();
	return rc;
}
