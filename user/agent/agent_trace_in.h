/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SERVER spans of the requests an L7 relay passes to a pod of this node (agent_trace_in.c): one
 * per request, a child of the trace the request carries, else of the HBONE CONNECT's
 * traceparent, else the root of a new trace. The relay's filter calls `begin` with each request
 * (its fields for the pod come back), `queued` when the request takes its place in line, and
 * `end` with the status of its answer, in the same order.
 */
#ifndef SKIFF_AGENT_TRACE_IN_H
#define SKIFF_AGENT_TRACE_IN_H

#include <stdbool.h>

#include "authz/authz.h"
#include "l7/l7_filter.h"
#include "tracing/tracing.h"

struct m_pod;
struct trace_in_conn;

/* Per connection; NULL when out of memory (then nothing is traced). */
struct trace_in_conn *trace_in_new(const struct m_pod *dst, const char *src_ip, uint16_t port);
void trace_in_free(struct trace_in_conn *t);
void trace_in_connect(struct trace_in_conn *t, const char *traceparent);
int trace_in_begin(struct trace_in_conn *t, const struct authz_request *rq, struct l7_buf *fields);
void trace_in_queued(struct trace_in_conn *t);
/* `flags`: Envoy's response flags of its answer (l7_decider.response). */
void trace_in_end(struct trace_in_conn *t, int status, const char *flags);
/* HTTP/2, per stream (l7_decider's stream_begin, stream_end): `field_fn` (NULL for a denied
 * stream) gets the propagation fields for the pod; sid 0 at the end: every stream left. */
int trace_in_stream_begin(struct trace_in_conn *t, uint32_t sid, const struct authz_request *rq,
			  trace_field_fn field_fn, void *arg);
void trace_in_stream_end(struct trace_in_conn *t, uint32_t sid, int status, const char *flags);

#endif
