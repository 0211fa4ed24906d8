// SPDX-License-Identifier: Apache-2.0
/* What the admin ports say about the agent: readiness and a JSON dump of the applied view. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent_state.h"
#include "common/addr.h"
#include "common/strbuf.h"


/* The backend pod's `version` label (Istio's convention for subsets), or NULL. */
static const char *pod_version(const struct model *m, const char *pod)
{
	const char *slash = pod ? strchr(pod, '/') : NULL;
	const struct m_pod *p;
	char ns[256];

	if (!m || !slash || (size_t)(slash - pod) >= sizeof(ns))
		return NULL;
	snprintf(ns, sizeof(ns), "%.*s", (int)(slash - pod), pod);
	p = model_pod(m, ns, slash + 1);
	return p ? labels_get(&p->meta.labels, "version") : NULL;
}

static void dump_services(struct strbuf *b, const struct node_view *v, const struct model *m)
{
	char ip[INET6_ADDRSTRLEN];

	sb_printf(b, "\"services\":[");
	for (size_t i = 0; i < v->nservices; i++) {
		const struct cv_service *s = &v->services[i];

		addr_text(&s->key.addr, s->key.family, ip, sizeof(ip));
		sb_printf(b, "%s{\"name\":", i ? "," : "");
		sb_json_str(b, s->name);
		sb_printf(b, ",\"vip\":\"%s\",\"port\":%u,\"backends\":[", ip, ntohs(s->key.port));
		for (size_t k = 0, first = 1; k < v->nbackends; k++) {
			const struct cv_backend *be = &v->backends[k];
			__u32 prev = be->key.slot ? v->backends[k - 1].val.weight_end : 0;

			if (be->key.svc_id != s->val.svc_id)
				continue;
			addr_text(&be->val.addr, be->val.family, ip, sizeof(ip));
			sb_printf(b, "%s{\"addr\":\"%s\",\"port\":%u,\"weight\":%u,\"pod\":",
				  first ? "" : ",", ip, ntohs(be->val.port),
				  be->val.weight_end - prev);
			sb_json_str(b, be->pod);
			sb_printf(b, ",\"version\":");
			sb_json_str(b, pod_version(m, be->pod));
			sb_printf(b, "}");
			first = 0;
		}
		sb_printf(b, "]}");
	}
	sb_printf(b, "]");
}

/* Each enrolled pod with the keys the kernel knows it by: skiff_enrolled's cgroup id, the
 * workload id skiff_policy and skiff_l4_stats use, and its addresses (skiff_pod_ips). */
static void dump_enrolled(struct strbuf *b, const struct node_view *v)
{
	char ip[INET6_ADDRSTRLEN];

	sb_printf(b, "\"enrolled\":[");
	for (size_t i = 0; i < v->npods; i++) {
		const struct cv_pod *p = &v->pods[i];
		int n = 0;

		sb_printf(b, "%s{\"pod\":", i ? "," : "");
		sb_json_str(b, p->name);
		sb_printf(b, ",\"cgroup_id\":%llu,\"workload_id\":%u,\"flags\":%u,\"addrs\":[",
			  (unsigned long long)p->cgroup_id, p->val.workload_id, p->val.flags);
		for (size_t k = 0; k < v->npod_ips; k++) {
			if (v->pod_ips[k].val.workload_id != p->val.workload_id)
				continue;
			addr_text(&v->pod_ips[k].key.addr, v->pod_ips[k].key.family, ip,
				  sizeof(ip));
			sb_printf(b, "%s\"%s\"", n++ ? "," : "", ip);
		}
		sb_printf(b, "]}");
	}
	sb_printf(b, "],");
}

/* The outbound proxy's counters; null when punting is off. */
static void dump_punt(struct strbuf *b, const struct agent *a)
{
	struct proxy_stats s;

	if (!a->proxy) {
		sb_printf(b, "\"outbound\":null,");
		return;
	}
	proxy_stats_read(a->proxy, &s);
	sb_printf(b,
		  "\"outbound\":{\"accepted\":%llu,\"no_orig\":%llu,\"fast\":%llu,"
		  "\"upstream_failed\":%llu,"
		  "\"relayed\":%llu,\"active\":%llu,\"bytes_out\":%llu,\"bytes_in\":%llu,"
		  "\"hbone_out\":%llu,\"hbone_in\":%llu,\"hbone_refused\":%llu,"
		  "\"hbone_bad_request\":%llu,\"hbone_pod_failed\":%llu,\"tls_failed\":%llu,"
		  "\"hbone_ktls_tx\":%llu,\"hbone_ktls_rx\":%llu,\"hbone_spliced\":%llu,"
		  "\"hbone_records\":%llu},",
		  (unsigned long long)s.accepted, (unsigned long long)s.no_orig,
		  (unsigned long long)s.fast, (unsigned long long)s.upstream_failed,
		  (unsigned long long)s.relayed, (unsigned long long)s.active,
		  (unsigned long long)s.bytes_out, (unsigned long long)s.bytes_in,
		  (unsigned long long)s.hbone_out, (unsigned long long)s.hbone_in,
		  (unsigned long long)s.hbone_refused, (unsigned long long)s.hbone_bad_request,
		  (unsigned long long)s.hbone_pod_failed, (unsigned long long)s.tls_failed,
		  (unsigned long long)s.hbone_ktls_tx, (unsigned long long)s.hbone_ktls_rx,
		  (unsigned long long)s.hbone_spliced, (unsigned long long)s.hbone_records);
}

/* What AuthorizationPolicy decided in skiffd (the kernel's own denials are not counted here). */
static void dump_authz(struct strbuf *b, const struct agent *a)
{
	struct proxy_stats s;

	if (!a->proxy) {
		sb_printf(b, "\"authz\":null,");
		return;
	}
	proxy_stats_read(a->proxy, &s);
	sb_printf(b,
		  "\"authz\":{\"denied\":%llu,\"l7_conns\":%llu,\"l7_requests\":%llu,"
		  "\"l7_denied\":%llu},",
		  (unsigned long long)s.authz_denied, (unsigned long long)s.l7_conns,
		  (unsigned long long)s.l7_requests, (unsigned long long)s.l7_denied);
}

/* What the STRICT guard did with packets to local pods, by enum skiff_guard_verdict. */
const char *const agent_guard_names[SKIFF_GUARD_VERDICTS] = {
    [SKIFF_GUARD_PASS_MODE] = "pass_mode",
    [SKIFF_GUARD_PASS_AGENT] = "pass_agent",
    [SKIFF_GUARD_PASS_FLOW] = "pass_flow",
    [SKIFF_GUARD_PASS_PROBE] = "pass_probe",
    [SKIFF_GUARD_DROP_TC] = "drop_tc",
    [SKIFF_GUARD_DROP_XDP] = "drop_xdp",
    [SKIFF_GUARD_DROP_TC_FRAG] = "drop_tc_frag",
    [SKIFF_GUARD_DROP_XDP_FRAG] = "drop_xdp_frag",
    [SKIFF_GUARD_DROP_TC_UNPARSED] = "drop_tc_unparsed",
    [SKIFF_GUARD_DROP_XDP_UNPARSED] = "drop_xdp_unparsed",
    [SKIFF_GUARD_DROP_SOCK] = "drop_sock",
};

static void dump_guard(struct strbuf *b, const struct agent *a)
{
	__u64 v[SKIFF_GUARD_VERDICTS];

	if (dp_guard_stats(a->dp, v)) {
		sb_printf(b, "\"guard\":null,");
		return;
	}
	sb_printf(b, "\"guard\":{");
	for (int i = 0; i < SKIFF_GUARD_VERDICTS; i++)
		sb_printf(b, "%s\"%s\":%llu", i ? "," : "", agent_guard_names[i],
			  (unsigned long long)v[i]);
	sb_printf(b, "},");
}

static char *config_dump(const struct agent *a)
{
	struct strbuf b = {0};

	sb_printf(&b, "{\"node\":");
	sb_json_str(&b, a->o->node);
	sb_printf(&b, ",\"generation\":%u,\"applied\":%s,\"reloads\":%lu,\"rejected\":%lu,",
		  dp_generation(a->dp), a->applied ? "true" : "false", a->reloads, a->rejected);
	sb_printf(&b, "\"last_error\":");
	sb_json_str(&b, a->last_error);
	sb_printf(&b, ",\"enrolled_pods\":[");
	for (size_t i = 0; i < a->view.npods; i++) {
		sb_printf(&b, "%s", i ? "," : "");
		sb_json_str(&b, a->view.pods[i].name);
	}
	sb_printf(&b, "],\"pods_pending\":%zu,\"remote_pod_addrs\":%zu,", a->view.pods_pending,
		  a->view.nremote_pods);
	dump_enrolled(&b, &a->view);
	dump_punt(&b, a);
	dump_authz(&b, a);
	dump_guard(&b, a);
	dump_services(&b, &a->view, a->snap ? &a->snap->m : NULL);
	sb_printf(&b, "}\n");
	return sb_take(&b);
}

int agent_admin_handler(void *ctx, const char *path, char **body, const char **ctype)
{
	struct agent *a = ctx;

	if (!strcmp(path, "/healthz/ready")) {
		*body =
		    strdup(a->applied ? "ready\n" : "not ready: no configuration applied yet\n");
		return a->applied ? 200 : 503;
	}
	/* the liveness probe: answered by the loop that also applies snapshots, so a stuck loop
	 * fails it; unlike readiness it holds while no configuration could be applied yet */
	if (!strcmp(path, "/healthz/live")) {
		*body = strdup("alive\n");
		return 200;
	}
	if (!strcmp(path, "/config_dump")) {
		*ctype = "application/json";
		*body = config_dump(a);
		return 200;
	}
	if (!strcmp(path, "/status")) {
		*ctype = "application/json";
		*body = agent_status(a);
		return 200;
	}
	if (!strcmp(path, "/config_objects")) {
		*ctype = "application/json";
		*body = agent_config_objects(a);
		return 200;
	}
	*body = strdup(
	    "not found; try /status, /config_dump, /config_objects, /flows, /healthz/ready or "
	    "/healthz/live\n");
	return 404;
}
