// SPDX-License-Identifier: Apache-2.0
/*
 * The router's requests in Istio's request metrics. The router is the client's proxy, so each
 * request is labelled as Istio's sidecar labels it on the source side: reporter="source", the
 * destination the endpoint actually reached (not the VIP dialled), and the principals only when
 * the hop was mTLS, since a plaintext hop proves no identity to either end. A request answered
 * by the router itself (fault abort, no route, no healthy upstream) has no destination pod: its
 * destination_workload is "unknown" while destination_service still names the Service.
 * Labels come from pods and Services only, never from the request, so series stay bounded by
 * workload pairs x status x flags.
 */
#include <stdio.h>
#include <string.h>

#include "l7route/l7route.h"

void l7r_metrics(const struct l7r_record *rec, const char *trust_domain, struct metrics_key *k,
		 struct metrics_http *h, char *flags, size_t len)
{
	memset(k, 0, sizeof(*k));
	metrics_peer_from_pod(&k->src, rec->src_pod, trust_domain);
	metrics_peer_from_pod(&k->dst, rec->dst_pod, trust_domain);
	metrics_key_service(k, rec->dst_svc);
	k->reporter = "source";
	k->protocol = rec->protocol ? rec->protocol : "http";
	k->response_code = rec->code;
	k->response_flags = l7r_flags_str(rec->flags, flags, len);
	/* Istio's source side reports "unknown" unless it originated mTLS itself */
	k->security = rec->hbone ? "mutual_tls" : "unknown";
	if (!rec->hbone) {
		snprintf(k->src.principal, sizeof(k->src.principal), "unknown");
		snprintf(k->dst.principal, sizeof(k->dst.principal), "unknown");
	}
	memset(h, 0, sizeof(*h));
	h->requests = 1;
	metrics_hist_observe(&h->duration_ms, (double)rec->duration_ns / 1e6);
	metrics_hist_observe(&h->request_bytes, (double)rec->request_bytes);
	metrics_hist_observe(&h->response_bytes, (double)rec->response_bytes);
}
