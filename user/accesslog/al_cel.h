/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The CEL subset of access log filters (Telemetry accessLogging[].filter.expression): what
 * Istio's tests and docs write, and nothing skiffd would have to guess at.
 *
 *   response.code >= 400          request.headers['x-debug'] == 'true'
 *   connection.mTLS && !has(request.headers.foo)        request.path.startsWith('/api')
 *   'x-user' in request.headers   (a || b) && !(c == 'd')
 *
 * Values are strings, integers and booleans. An attribute that is absent (no response on a TCP
 * line, a header not sent) is an error value, combined as CEL combines errors: `false && err`
 * is false, `true || err` is true, anything else with an error is an error, and a filter that
 * ends in an error does not log the line (Envoy's CEL filter does the same). An expression
 * skiffd cannot type-check or does not know is refused at parse time, never ignored.
 */
#ifndef SKIFF_AL_CEL_H
#define SKIFF_AL_CEL_H

#include <stdbool.h>
#include <stddef.h>

/* What a filter can ask about one request or connection. NULL strings are absent. */
struct al_attrs {
	bool http; /* a request (false: a TCP connection) */
	const char *method, *path, *host, *scheme, *protocol, *request_id, *user_agent;
	int response_code; /* < 0: no response (TCP, or the client left first) */
	bool mtls;
	const char *source_address, *destination_address; /* "ip" without the port */
	int source_port, destination_port;
	/* the request's header `name` (lower case), or NULL */
	const char *(*header)(const void *ctx, const char *name);
	const void *ctx;
};

struct al_cel;

/* Parse and type-check `src`. 0, or -EINVAL with "column N: what" in err. */
int al_cel_parse(const char *src, struct al_cel **out, char *err, size_t errlen);
/* True only when the expression evaluates to true (false and errors do not log). */
bool al_cel_eval(const struct al_cel *e, const struct al_attrs *a);
void al_cel_free(struct al_cel *e);

#endif
