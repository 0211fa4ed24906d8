/* SPDX-License-Identifier: Apache-2.0 */
/* The L7 relays' request metrics, per connection (agent_l7_metrics.c). Private to user/agent. */
#ifndef SKIFF_AGENT_L7_METRICS_H
#define SKIFF_AGENT_L7_METRICS_H

#include "agent/agent_state.h"

struct l7_timing {
	struct agent *a;
	struct metrics_key key; /* the connection's labels; response_code set per response */
	double *start;		/* when each request in flight joined the queue (ms) */
	size_t head, n, cap;
	struct l7_stream_timing {
		uint32_t sid;
		bool grpc; /* request_protocol "grpc": content-type application/grpc */
		double start;
	} * streams; /* HTTP/2 streams in flight, in no order */
	size_t nstreams, scap;
};

/* The labels of one relayed connection to the local pod `dst`: the source by its address in the
 * snapshot (a mesh pod on any node), its principal when it has one; `from_cert`: the principal
 * came from an HBONE certificate (connection_security_policy mutual_tls). */
struct l7_timing *l7_timing_new(struct agent *a, const struct model *m, const struct m_pod *dst,
				const char *principal, bool from_cert, const char *src_ip);
void l7_timing_free(struct l7_timing *t);
/* The l7_decider hooks (ctx: the l7_timing). */
void l7_timing_request(void *ctx);
void l7_timing_response(void *ctx, int status, const char *flags);
/* The sizes of the exchange whose response was just counted: Istio's request and response size
 * histograms (the request already counts in istio_requests_total). */
void l7_timing_sizes(void *ctx, uint64_t request, uint64_t response);
/* HTTP/2, per stream: begun when decided, counted with its sizes when it ends (sid 0: every
 * stream left). */
void l7_timing_stream_begin(struct l7_timing *t, uint32_t sid, bool grpc);
void l7_timing_stream_end(struct l7_timing *t, uint32_t sid, int status, const char *flags,
			  uint64_t request, uint64_t response);
/* The mesh pod with this address on any node, from the snapshot (NULL when none). */
const struct m_pod *agent_pod_by_ip(const struct model *m, const char *ip);

#endif
