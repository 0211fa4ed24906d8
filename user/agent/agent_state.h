/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's state, shared by its files (loop, reload, report). Private to user/agent. */
#ifndef SKIFF_AGENT_STATE_H
#define SKIFF_AGENT_STATE_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

#include "admin/admin_http.h"
#include "agent/agent_snap.h"
#include "agent/agent.h"
#include "compile/compile.h"
#include "compile/compile_live.h"
#include "config/config_watch.h"
#include "dataplane/dataplane.h"
#include "dataplane/pod_cgroup.h"
#include "handoff/handoff.h"
#include "kube/kube_source.h"
#include "metrics/metrics_http.h"
#include "model/model.h"
#include "hbone/hbone.h"
#include "proxy/proxy.h"
#include "tracing/tracing.h"

struct agent {
	const struct agent_opts *o;
	struct tracing_config tracing_logged; /* the span exporter's settings last logged */
	bool tracing_said;
	struct dataplane *dp;
	struct config_watch *watch; /* the config directory, or */
	struct kube_source *kube;   /* the Kubernetes API (--kube) */
	struct admin_server admin;
	struct metrics_server metrics;	  /* :15020/metrics */
	struct metrics_table *l7_metrics; /* the L7 relays' request counters (proxy thread) */
	pthread_mutex_t l7_metrics_lock;
	struct agent_scrape *scrape; /* the thread that renders /metrics pages (agent_scrape.c) */
	struct proxy *proxy;	     /* the outbound listener, with --outbound-addr */
	struct l7route *l7route;     /* the L7 router behind it (agent_l7route.c) */
	struct agent_eject
	    *eject; /* the router's outlier ejections, for the loop (agent_eject.c) */
	struct route_table *routes;    /* mesh pod addresses -> here (identity) or a node (HBONE) */
	struct agent_tls *tls;	       /* identities, with --ca-dir */
	struct flows *flows;	       /* the kernel's flow events; NULL when they are off */
	struct handoff_server handoff; /* handoff.sock: a new skiffd asks for the listeners */
	int takeover_conn;	       /* taking over: the channel to the old skiffd, else -1 */
	bool handed_over;	       /* a new skiffd took the listeners: drain and exit */

	struct agent_snap *snap; /* last good snapshot, NULL before the first; see agent_snap_* */
	struct node_view view;	 /* what the kernel holds now */
	bool applied;		 /* the first configuration reached the kernel */
	bool view_unsynced;	 /* an in-place update failed half way: write the next view whole */
	/* API source: the last full compile's tables, for EndpointSlice changes (agent_slices.c),
	 * and whether any were applied since (snap's model then has older slices than the maps) */
	struct compile_live *live;
	bool live_applied;
	struct pod_cgroup_table cgroups;
	struct proxy_limits limits; /* what the proxy was last given (agent_limits.c) */
	struct wl_ids *ids; /* workload ids of this node's pods, kept across reloads and adopted */

	unsigned long reloads, rejected;
	unsigned long applied_reload; /* which of the `reloads` snapshots is in force */
	char *last_error;	      /* why the newest snapshot was refused, or NULL */
	char **warned;		      /* "kind ns/name field" already warned about */
	size_t nwarned;
};

void agent_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The current snapshot, referenced (unref it), or NULL; any thread (agent_authz.c). */
struct agent_snap *agent_snap_current(struct agent *a);
/* Make `s` current (the agent's reference moves into it) and drop the old one. */
void agent_snap_install(struct agent *a, struct agent_snap *s);
/* proxy_opts.authz: AuthorizationPolicy for connections to this node's pods (agent_authz.c). */
enum proxy_verdict agent_authz(void *agent, const char *principal,
			       const struct skiff_sock_origin *src,
			       const struct skiff_sock_origin *dst, struct proxy_l7 *l7);

/* /config_objects: the node, its enrolled pods and every object of the snapshot in force, with
 * the file:line each was read from (JSON; agent_objects.c). */
char *agent_config_objects(struct agent *a);
/* What the STRICT guard did with packets to local pods, by enum skiff_guard_verdict: the names
 * /config_dump and the skiff_guard_verdicts_total metric both use. */
extern const char *const agent_guard_names[SKIFF_GUARD_VERDICTS];
/* Where the config comes from, for messages: the directory, or "the Kubernetes API". */
const char *agent_config_source(const struct agent *a);
/* Load + compile + apply a new snapshot from the config dir or the API. */
void agent_reload(struct agent *a);
/* Only EndpointSlices changed (API source): compile and rewrite just their Services. -EAGAIN
 * when a whole reload is needed instead (anything else changed, or this one failed: the whole
 * reload then reports the error and rewrites the maps). */
int agent_reload_slices(struct agent *a);
/* Rescan pod cgroups; re-apply when enrolled pods changed. */
void agent_rescan(struct agent *a);
/* SHA-256 of the map entries a view writes (agent_view_digest.c): two views with the same digest
 * write the same maps. -ENOMEM on failure. */
#define AGENT_VIEW_DIGEST 32
int agent_view_digest(const struct node_view *v, unsigned char out[AGENT_VIEW_DIGEST]);
/* Warn once per resource field that is parsed but not enforced yet. */
void agent_warn_unenforced(struct agent *a);
/* Where a punted connection goes (agent_routes.c): its source's identity and the destination
 * pod's node, when the client is a local mesh pod and the destination a mesh pod elsewhere. */
struct agent_route {
	struct skiff_sock_origin node; /* the destination node's HBONE address and port */
	char ns[64];		       /* the client pod's namespace and service account */
	char sa[256];
	char baggage[512]; /* the client's workload, as ztunnel describes it in `baggage` */
};
struct route_table;
void agent_routes_update(struct agent *a);
void agent_routes_free(struct agent *a);
int agent_routes_lookup(struct agent *a, const struct skiff_punt_key *client,
			const struct skiff_sock_origin *dst, struct agent_route *r);

/* Identities and TLS (agent_tls.c); all no-ops without --ca-dir. */
struct agent_tls;
int agent_tls_open(struct agent *a);
void agent_tls_close(struct agent *a);
void agent_tls_rotate(struct agent *a);
SSL_CTX *agent_tls_server_ctx(void *agent);
int agent_tls_route(void *agent, const struct skiff_punt_key *client,
		    const struct skiff_sock_origin *dst, struct proxy_route *r);

/* Outlier ejections (agent_eject.c): the router's threads push, the agent loop applies them to
 * the kernel's backends when agent_eject_fd is readable. */
struct agent_eject;
int agent_eject_open(struct agent *a);
void agent_eject_close(struct agent *a);
int agent_eject_fd(const struct agent *a);
void agent_eject_push(void *ctx, const struct skiff_svc_key *svc,
		      const struct skiff_sock_origin *ep, bool out);
void agent_eject_drain(struct agent *a);

/* The L7 router (agent_l7route.c): started with the outbound proxy, fed from the snapshot. */
struct l7route;
int agent_l7route_start(struct agent *a);
void agent_l7route_stop(struct agent *a);
bool agent_l7route_take(void *agent, int fd, const struct skiff_punt_key *client,
			const struct skiff_sock_origin *dst);
/* The punt path (agent_punt.c): outbound proxy + kernel config; off without --outbound-addr. */
int agent_punt_start(struct agent *a);
void agent_punt_stop(struct agent *a);
/* Hand-off and drain (agent_handoff.c). */
/* Before agent_start: take a running skiffd's listeners if one serves the run dir. */
int agent_handoff_begin(struct agent *a);
/* After agent_start: drop inherited listeners nobody took; serve handoff.sock (first start). */
void agent_handoff_started(struct agent *a);
/* Each loop: taking over and the first configuration applied: accept, and tell the old one. */
void agent_handoff_tick(struct agent *a);
/* handoff.sock readable: true when a new skiffd is ready (this one must drain). */
bool agent_handoff_event(struct agent *a);
/* Stop accepting and writing the kernel, then wait until every connection closed, the drain
 * deadline passed, or *stop is set; then, replaced with --hold-after-drain, until *term. */
void agent_drain(struct agent *a, bool handed_over, volatile sig_atomic_t *stop,
		 volatile sig_atomic_t *term);
/* :15020/metrics: Istio's metrics and skiffd's own (agent_metrics.c), rendered in one go. */
void agent_metrics_render(void *ctx, enum metrics_fmt f, struct strbuf *b);
/* The same in two steps: the source (agent loop: the snapshot held, its workload index, skiffd's
 * own counters), then the page from it (any thread; ctx is the source). */
struct agent_scrape_src;
struct agent_scrape_src *agent_scrape_src_new(struct agent *a, enum metrics_fmt f);
void agent_scrape_page(void *ctx, enum metrics_fmt f, struct strbuf *b);
void agent_scrape_src_free(struct agent_scrape_src *s);
/* The scrape thread (agent_scrape.c): started with the listener, stopped before the maps go.
 * agent_scrape_offload is the listener's metrics_server.offload. */
struct agent_scrape;
int agent_scrape_start(struct agent *a);
void agent_scrape_stop(struct agent *a);
bool agent_scrape_offload(void *ctx, int fd, const char *head);
/* CPU time (thread) of the last page the scrape thread served; 0 before the first. */
uint64_t agent_scrape_last_cpu_ns(const struct agent *a);
/* Count one relayed request (any thread; agent_metrics.c). */
void agent_l7_metrics_add(struct agent *a, const struct metrics_key *k,
			  const struct metrics_http *h);
/* Count a connection skiffd carried (any thread; agent_metrics.c). */
void agent_tcp_metrics_add(struct agent *a, const struct metrics_key *k,
			   const struct metrics_tcp *v);
/* Flow events (agent_flows.c): the reader, its names after each apply, GET /flows. */
struct flows;
void agent_flows_start(struct agent *a);
void agent_flows_names(struct agent *a);
/* agent_tracing.c: meshConfig's tracing settings into the span exporter, per snapshot. */
void agent_tracing_apply(struct agent *a, const struct model *m);
/* Access logs (agent_accesslog.c): the writer and the L4 lines at start, the policy of the
 * snapshot in force after each apply, the L7 router's lines. */
int agent_accesslog_start(struct agent *a);
/* The end of each connection skiffd carried (HBONE: cross-node connections' lines). */
struct proxy_opts;
struct proxy_stream_end;
void agent_accesslog_stream_end(void *ctx, const struct proxy_stream_end *se);
/* Ask the proxy for the start and end of each connection it carries for a pod, and file its
 * dials for HBONE streams with the kernel (agent_tcp_metrics.c): istio_tcp_* and the lines. */
void agent_streams_proxy_opts(struct agent *a, struct proxy_opts *po);
void agent_accesslog_apply(struct agent *a);
/* The relay limits of the snapshot in force: skiffd's flags, else the mesh config's
 * connectTimeout and protocolDetectionTimeout, else the defaults (agent_limits.c). */
void agent_limits_apply(struct agent *a);
struct l7r_record;
struct l7_svcport;
/* The L7 relay's lines (agent_accesslog_relay.c): NULL when the pod logs no server side. */
struct agent_al_relay;
struct authz_request;
struct agent_al_relay *agent_al_relay_new(const struct m_pod *dst, const char *src_ip,
					  const char *principal, bool mtls, const char *dst_ip,
					  uint16_t dst_port);
void agent_al_relay_decided(struct agent_al_relay *r, const struct authz_request *rq);
void agent_al_relay_request(struct agent_al_relay *r);
void agent_al_relay_response(struct agent_al_relay *r, int status, const char *flags);
/* HTTP/1.1: the sizes of the exchange just answered, for its line (written then, or at the next
 * answer or the relay's end without them). */
void agent_al_relay_sizes(struct agent_al_relay *r, uint64_t request, uint64_t response);
void agent_al_relay_free(struct agent_al_relay *r);
/* HTTP/2, per stream (the filter's stream_begin, stream_end; sid 0: every stream left). */
void agent_al_relay_stream_begin(struct agent_al_relay *r, uint32_t sid,
				 const struct authz_request *rq);
void agent_al_relay_stream_end(struct agent_al_relay *r, uint32_t sid, int status,
			       const char *flags, uint64_t request, uint64_t response);
void agent_accesslog_l7route(struct agent *a, const struct l7_svcport *sp,
			     const struct l7r_record *rec, const char *flags);
int agent_flows_stream(void *ctx, const char *path, int fd);
/* /status: sync state, programs, map fill levels, pods in and out of the mesh (agent_status.c). */
char *agent_status(const struct agent *a);
/* The same for the metrics listener on the node's address (metrics_server.status). */
char *agent_status_page(void *agent);
/* Admin handler: /config_dump, /status, /config_objects and the health checks. */
int agent_admin_handler(void *ctx, const char *path, char **body, const char **ctype);

#endif
