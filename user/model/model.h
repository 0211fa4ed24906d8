/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The typed configuration: Kubernetes and Istio resources as skiffd understands them.
 *
 * A `struct model` is one consistent snapshot of the config directory. It is built whole by
 * model_load_dir() and either fully valid (errors == 0) or rejected whole: the caller keeps the
 * previous snapshot in force. A model owns every string and array in it, and the parsed YAML
 * (`src`), so resources may keep pointers into the YAML tree (AuthorizationPolicy rules do).
 */
#ifndef SKIFF_MODEL_H
#define SKIFF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/diag.h"
#include "config/yaml_tree.h"

struct kv {
	char *key;
	char *val;
};

struct labels {
	struct kv *v;
	size_t n;
};

/* Where a resource came from and who it is. */
struct meta {
	char *name;
	char *ns; /* "" for cluster-scoped kinds (Namespace) */
	struct labels labels;
	const char *file; /* points into model->src */
	int line;	  /* line of the document's `kind:` */
	/* the whole document, in model->src, for analyzers that read fields the typed structs
	 * leave out (mirrors, matches, exportTo); NULL in a loaded model, which keeps only the
	 * trees AuthorizationPolicy rules point into */
	const struct ynode *doc;
};

struct m_namespace {
	struct meta meta;
};

struct m_serviceaccount {
	struct meta meta;
};

struct m_container_port {
	char *name; /* may be NULL */
	uint16_t port;
	uint8_t proto; /* IPPROTO_TCP / IPPROTO_UDP */
};

/* A pod's namespace, node name, service account, host addresses (strings and the array), labels (keys, values and the
 * array) and container ports (names and the array) are the model's shared copies (model_pool.h):
 * read them, never free or change them. Its name, addresses and uid are its own, one allocation
 * held by meta.name (k8s_pod_free; the uid through k8s_pod_uid). */
struct m_pod {
	struct meta meta;
	char *node_name;       /* spec.nodeName */
	char *service_account; /* spec.serviceAccountName, "default" when absent */
	char *ips[2];	       /* status.podIPs (IPv4 and/or IPv6 text), NULL when absent */
	/* status.hostIPs: its node's addresses, where that node's skiffd is; one shared array of
	 * nhost_ips for all pods with the same ones (NULL when none), since a node's pods repeat them */
	char **host_ips;
	struct m_container_port *ports;
	/* the counts and flags share a word: a cluster's every pod is held on every node */
	uint16_t nports;
	uint8_t nips;
	uint8_t nhost_ips;
	bool ready;	   /* status.conditions Ready=True, or no conditions at all */
	bool host_network; /* spec.hostNetwork: the node's netns, never a mesh pod */
	bool has_uid;	   /* metadata.uid, after the addresses (k8s_pod_uid) */
};

/* A pod's metadata.uid, or NULL: other nodes' pods have none (kube_trim.c). */
const char *k8s_pod_uid(const struct m_pod *p);

struct m_service_port {
	char *name; /* may be NULL for a single-port service */
	uint16_t port;
	uint8_t proto;
	char *target_port;  /* number or port name as written; NULL means same as port */
	char *app_protocol; /* spec.ports[].appProtocol, NULL when absent */
};

struct m_service {
	struct meta meta;
	char
	    *cluster_ips[2]; /* spec.clusterIPs / clusterIP; "None" (headless) is stored as 0 ips */
	size_t nips;
	struct labels selector;
	struct m_service_port *ports;
	size_t nports;
};

/* addresses is one allocation with the address strings and pod_name after the array, and once
 * its slice is parsed a part of the slice's endpoints array (k8s_endpointslice_free). */
struct m_endpoint {
	char **addresses;
	uint32_t naddresses;
	bool ready;	 /* conditions.ready; absent means ready (Kubernetes' rule) */
	char *pod_name;	 /* targetRef.name when targetRef.kind == Pod, else NULL */
	char *node_name; /* nodeName, may be NULL; the model's shared copy (model_pool.h) */
};

struct m_endpoint_port {
	char *name; /* may be NULL */
	uint16_t port;
	uint8_t proto;
};

struct m_endpointslice {
	struct meta meta;
	char *service_name; /* label kubernetes.io/service-name */
	int family;	    /* 4 or 6, from addressType IPv4/IPv6 (FQDN slices are skipped) */
	bool
	    packed; /* the endpoints' blocks are in the endpoints array's (eps_fit): free only it */
	struct m_endpoint *endpoints;
	size_t nendpoints;
	struct m_endpoint_port *ports;
	size_t nports;
};

/* A VirtualService or DestinationRule field that is parsed and validated but not yet enforced. */
struct m_unenforced {
	char *field; /* e.g. "http[0].retries" */
	int line;
};

struct m_headers;

struct m_destination {
	char *host;	/* as written: short name, name.ns, FQDN */
	char *subset;	/* may be NULL */
	uint32_t port;	/* 0 when not set */
	int64_t weight; /* 0 when not set; validation guarantees >= 0 */
	bool weight_set;
	int line;
	struct m_headers *headers; /* http route[].headers, NULL when none */
};

struct m_http_route;

struct m_route {
	bool has_match; /* http[].match / tcp[].match present: L7 or port-scoped */
	struct m_destination *dests;
	size_t ndests;
	/* tcp routes: the ports of the match entries the kernel can apply (port alone, or none;
	 * 0 = every port). An entry that also names sources or subnets is not enforced. */
	uint16_t *ports;
	size_t nports;
	int line;
	struct m_http_route *h; /* http routes: matches and actions (model_http.h); NULL for tcp */
};

struct m_virtualservice {
	struct meta meta;
	char **hosts;
	size_t nhosts;
	char **gateways;
	size_t ngateways;
	struct m_route *http;
	size_t nhttp;
	struct m_route *tcp;
	size_t ntcp;
	size_t ntls;
	struct m_unenforced *unenforced;
	size_t nunenforced;
};

/*
 * DestinationRule trafficPolicy, typed. A field left out is 0 / false / NULL, as proto3 reads it;
 * model_policy_defaults() turns an effective policy into the values Istio gives Envoy.
 */
enum m_lb_simple {
	M_LB_UNSET = 0,
	M_LB_ROUND_ROBIN,
	M_LB_LEAST_REQUEST, /* LEAST_CONN is Istio's deprecated name for it */
	M_LB_RANDOM,
	M_LB_PASSTHROUGH,
	M_LB_CONSISTENT_HASH, /* consistentHash set instead of simple */
};

enum m_hash_on { M_HASH_NONE = 0, M_HASH_HEADER, M_HASH_COOKIE, M_HASH_SOURCE_IP, M_HASH_QUERY };
enum m_hash_algo { M_HASH_RING = 0, M_HASH_MAGLEV };

struct m_lb_policy {
	bool set;
	enum m_lb_simple simple;
	enum m_hash_on hash_on;
	char *hash_name;       /* header, cookie or query parameter name */
	char *cookie_path;     /* httpCookie.path, NULL when absent */
	int64_t cookie_ttl_ms; /* httpCookie.ttl; 0: a session cookie */
	enum m_hash_algo algo; /* maglev when `maglev:` is set, ring hash otherwise */
	uint64_t ring_min;     /* ringHash.minimumRingSize (or the deprecated top-level field) */
	uint64_t maglev_size;  /* maglev.tableSize */
	int line;
};

struct m_pool_policy {
	bool set;
	uint32_t max_connections;   /* tcp.maxConnections */
	int64_t connect_timeout_ms; /* tcp.connectTimeout */
	bool keepalive;		    /* tcp.tcpKeepalive present */
	uint32_t keepalive_probes;
	int64_t keepalive_time_ms;
	int64_t keepalive_interval_ms;
	uint32_t http1_max_pending;	/* http.http1MaxPendingRequests */
	uint32_t http2_max_requests;	/* http.http2MaxRequests */
	uint32_t max_requests_per_conn; /* http.maxRequestsPerConnection */
	uint32_t max_retries;		/* http.maxRetries */
	int64_t idle_timeout_ms;	/* http.idleTimeout */
	int line;
};

/* consecutive* are wrapper types in Istio: present-with-0 (disabled) differs from absent. */
struct m_outlier_policy {
	bool set;
	bool has_5xx, has_gateway, has_local;
	uint32_t consecutive_5xx;
	uint32_t consecutive_gateway;
	uint32_t consecutive_local;
	bool split_local; /* splitExternalLocalOriginErrors */
	int64_t interval_ms;
	int64_t base_ejection_ms;
	uint32_t max_ejection_pct; /* 0: absent */
	uint32_t min_health_pct;
	int line;
};

/* The four settings a port level or subset may override, each as a whole block. */
struct m_tp_settings {
	struct m_lb_policy lb;
	struct m_pool_policy pool;
	struct m_outlier_policy od;
	bool tls_set;
};

struct m_port_policy {
	uint32_t port;
	struct m_tp_settings s;
	int line;
};

struct m_traffic_policy {
	bool set;
	struct m_tp_settings s;
	struct m_port_policy *ports; /* portLevelSettings */
	size_t nports;
	int line;
};

struct m_subset {
	char *name;
	struct labels labels;
	struct m_traffic_policy tp;
	int line;
};

struct m_destinationrule {
	struct meta meta;
	char *host;
	struct m_traffic_policy tp; /* spec.trafficPolicy */
	struct m_subset *subsets;
	size_t nsubsets;
	struct labels workload_selector;
	struct m_unenforced *unenforced; /* trafficPolicy.* fields */
	size_t nunenforced;
};

enum m_mtls_mode { MTLS_UNSET = 0, MTLS_DISABLE, MTLS_PERMISSIVE, MTLS_STRICT };

struct m_port_mtls {
	uint16_t port;
	enum m_mtls_mode mode;
};

struct m_peerauthentication {
	struct meta meta;
	struct labels selector; /* spec.selector.matchLabels; n == 0 means namespace-wide */
	bool has_selector;
	enum m_mtls_mode mode;
	struct m_port_mtls *ports;
	size_t nports;
};

enum m_authz_action { AUTHZ_ALLOW = 0, AUTHZ_DENY, AUTHZ_AUDIT, AUTHZ_CUSTOM };

struct m_authorizationpolicy {
	struct meta meta;
	struct labels selector;
	bool has_selector;
	enum m_authz_action action;
	char *provider;		   /* CUSTOM only */
	const struct ynode *rules; /* spec.rules as parsed (sequence) or NULL; validated */
	bool has_rules;		   /* `rules:` key present (even empty) */
};

/* Tracing as meshConfig sets it (IstioOperator spec.meshConfig, the form Istio's install
 * guide shows): model_mesh_tracing.c. */
enum m_trace_proto { M_TRACE_NONE, M_TRACE_ZIPKIN, M_TRACE_OTLP };

struct m_trace_provider {
	char *name;
	enum m_trace_proto proto;
	char *service; /* host: a Service's FQDN, "name.ns", or an address */
	uint16_t port;
	char *path; /* opentelemetry http.path; NULL: the protocol's default */
};

struct m_mesh_tracing {
	bool enabled;	      /* meshConfig.enableTracing (default true) */
	double sampling;      /* defaultConfig.tracing.sampling, percent; < 0: unset (1 %) */
	char *zipkin_address; /* defaultConfig.tracing.zipkin.address, "host:port" */
	struct m_trace_provider *providers; /* extensionProviders of kind zipkin/opentelemetry */
	size_t nproviders;
	char *default_provider; /* defaultProviders.tracing[0] */
	char *file;		/* where it was set, for messages; NULL: nowhere */
	int line;
};

/* Telemetry (telemetry.istio.io): only accessLogging is read; tracing and metrics would sit next
 * to it, with the same selection (selector, namespace, root namespace). */
enum m_log_mode { M_LOG_CLIENT_AND_SERVER = 0, M_LOG_CLIENT, M_LOG_SERVER };

struct m_access_logging {
	char **providers; /* providers[].name; none: the mesh's default providers */
	size_t nproviders;
	enum m_log_mode mode; /* match.mode */
	bool disabled;
	char *filter; /* filter.expression (CEL, checked at parse), NULL: none */
	int line;     /* of the entry, for messages after parsing */
};

/* Telemetry spec.tracing's customTags entry. */
enum m_trace_tag_kind { M_TAG_LITERAL, M_TAG_ENV, M_TAG_HEADER };

struct m_trace_tag {
	char *name;
	enum m_trace_tag_kind kind;
	char *value; /* literal.value, environment.name, or header.name */
	char *def;   /* defaultValue (environment, header); NULL: none */
};

/* Telemetry spec.tracing[0] (Istio supports one entry). */
struct m_tel_tracing {
	char **providers; /* providers[].name; none: the level before's */
	size_t nproviders;
	enum m_log_mode mode; /* match.mode */
	double sampling;      /* randomSamplingPercentage; < 0: not set */
	int disable;	      /* disableSpanReporting: -1 not set, 0, 1 */
	struct m_trace_tag *tags;
	size_t ntags;
	int line, providers_line;
};

struct m_telemetry {
	struct meta meta;
	struct labels selector; /* spec.selector.matchLabels */
	bool has_selector;
	/* spec.targetRef(s): names a Gateway or waypoint skiff does not run, so the resource
	 * applies to no pod here (a warning says so) */
	bool has_target_ref;
	struct m_access_logging *logging;
	size_t nlogging;
	bool has_logging; /* `accessLogging:` present (even empty) */
	struct m_tel_tracing tracing;
	bool has_tracing; /* `tracing:` with an entry */
};

struct model;

/* What the Telemetry resources say about tracing for one pod and side, merged as Istio merges
 * them (root namespace, then namespace, then workload selector; model_tel_tracing.c). Pointers
 * into the model. */
struct m_trace_eff {
	bool any;	      /* some Telemetry spoke for the pod */
	double sampling;      /* < 0: meshConfig's */
	bool disable;	      /* disableSpanReporting */
	const char *provider; /* NULL: the mesh's */
	const struct m_trace_tag *tags[16];
	size_t ntags;
};

void model_tel_tracing_for(const struct model *m, const struct m_pod *p, bool server,
			   struct m_trace_eff *out);
/* The provider the root namespace's selector-less Telemetry names, else NULL. */
const char *model_tel_root_provider(const struct model *m);

/* An extensionProviders entry of the mesh config that access logs may name. */
struct m_log_provider {
	char *name;
	char *path; /* envoyFileAccessLog.path; NULL: another kind of provider */
};

/* The mesh config (IstioOperator spec.meshConfig), as far as skiffd applies it. */
struct m_meshconfig {
	bool set;		      /* an IstioOperator with meshConfig was read */
	char *access_log_file;	      /* accessLogFile; NULL or "": off */
	bool access_log_text;	      /* accessLogEncoding: TEXT (JSON otherwise) */
	char **default_log_providers; /* defaultProviders.accessLogging */
	size_t ndefault_log_providers;
	struct m_log_provider *log_providers;
	size_t nlog_providers;
	/* skiffd's relay limits where no flag sets them (0: unset; protocolDetectionTimeout 0s, Istio's
	 * default, leaves skiffd's own sniffing limit) */
	int64_t connect_timeout_ms;    /* connectTimeout */
	int64_t protocol_detection_ms; /* protocolDetectionTimeout */
	const char *file;	       /* where it was read */
	int line;
	struct ydoc_set cm_src; /* the istio ConfigMap's `mesh` text, parsed (fields point in) */
};

struct model {
	struct m_namespace *namespaces;
	size_t nnamespaces;
	struct m_serviceaccount *serviceaccounts;
	size_t nserviceaccounts;
	struct m_pod *pods;
	size_t npods;
	struct m_service *services;
	size_t nservices;
	struct m_endpointslice *endpointslices;
	size_t nendpointslices;
	struct m_virtualservice *virtualservices;
	size_t nvirtualservices;
	struct m_destinationrule *destinationrules;
	size_t ndestinationrules;
	struct m_peerauthentication *peerauthentications;
	size_t npeerauthentications;
	struct m_authorizationpolicy *authorizationpolicies;
	size_t nauthorizationpolicies;
	struct m_telemetry *telemetries;
	size_t ntelemetries;
	struct m_meshconfig mesh;

	char *root_namespace; /* Istio's root namespace, "istio-system" by default */
	struct m_mesh_tracing tracing;
	/* values pods share (namespace, node, service account, labels, ports): model_pool.h */
	struct model_pool *pool;
	struct ydoc_set src; /* the parsed YAML every pointer above may refer into */

	/* Lookup indexes (positions in services[] / pods[] sorted by namespace, name), built by
	 * model_validate() so that model_service()/model_pod() stay fast with 10,000 objects.
	 * Ignored (linear search) while the counts do not match, i.e. during loading. */
	uint32_t *svc_index;
	size_t nsvc_index;
	uint32_t *pod_index;
	size_t npod_index;
};

/*
 * Load every *.yaml / *.yml / *.json file directly in `dir` (sorted by name; hidden files and
 * editor temporaries skipped), parse, and validate. Unknown kinds are skipped with a warning.
 * Returns 0 when the snapshot is valid, -EINVAL when `d` holds errors (then `out` is freed and
 * zeroed: nothing half-applied), or another negative errno for I/O failures.
 */
int model_load_dir(const char *dir, struct model *out, struct diag *d);
/* The documents of those files, parsed but not loaded into a model (what the directory says now,
 * for `/config_objects`); a file that does not parse is reported in `d` and left out. */
int model_read_dir_docs(const char *dir, struct ydoc_set *set, struct diag *d);
/* Same, from explicit files (skiff-lab and tests). */
int model_load_files(const char *const *paths, size_t n, struct model *out, struct diag *d);
/* Same, from one YAML buffer (tests); `name` stands for the file name in messages. */
int model_load_string(const char *name, const char *yaml, struct model *out, struct diag *d);
/* Same, from documents built elsewhere (the Kubernetes API source turns JSON objects into the
 * trees the YAML loader builds); the model takes `docs` over and leaves it empty. */
int model_load_set(struct ydoc_set *docs, struct model *out, struct diag *d);
/*
 * Same, one document at a time, each tree freed once read: what the Kubernetes API source does
 * with a whole cluster, whose trees all at once took hundreds of MB. model_load_start(out); then
 * model_load_one(out, doc, d) for each tree (taken over; its `file` from ydoc_set_add_file on
 * out->src); then model_load_end(out, errors before the first, d), which returns like
 * model_load_set.
 */
void model_load_start(struct model *out);
void model_load_one(struct model *m, struct ynode *doc, struct diag *d);
int model_load_end(struct model *m, size_t errors_before, struct diag *d);
/* Add one parsed document to a model under construction (the loaders use it). */
int model_add_doc(struct model *m, const struct ynode *doc, struct diag *d);
/* Cross-resource checks after all documents are in (duplicate names, VS subset references...). */
int model_validate(struct model *m, struct diag *d);
void model_free(struct model *m);

/* Lookups used by the compiler, skiffd and the lab. NULL when absent. */
const struct m_namespace *model_namespace(const struct model *m, const char *name);
const struct m_pod *model_pod(const struct model *m, const char *ns, const char *name);
const struct m_service *model_service(const struct model *m, const char *ns, const char *name);
const char *labels_get(const struct labels *l, const char *key);
/* True when every key=value of `sel` is in `l` (an empty selector matches everything). */
bool labels_match(const struct labels *sel, const struct labels *l);

/*
 * Resolve an Istio host as written in resource namespace `ns` to a Service: "name",
 * "name.ns", "name.ns.svc", "name.ns.svc.cluster.local". NULL when no such Service.
 */
const struct m_service *model_resolve_host(const struct model *m, const char *ns, const char *host);

/*
 * The DestinationRule for Service `svc` as seen from namespace `client_ns` (NULL: none): Istio's
 * lookup order, the client's namespace, then the Service's, then the root namespace; the first
 * rule (in load order) in the first namespace that has one. NULL when no rule names the Service.
 */
const struct m_destinationrule *model_dr_for(const struct model *m, const struct m_service *svc,
					     const char *client_ns);
/*
 * The policy in force for traffic to (rule `dr`, subset `subset` or NULL, Service port `port`),
 * merged as Istio merges (docs/traffic-policy.md): a matching portLevelSettings entry replaces
 * its level's four settings whole; then each setting the subset level gives (or every one, when
 * the subset matched a port level) replaces the top level's. Strings point into `dr`. Returns
 * -ENOENT when `subset` is not in `dr` (out is then the top level's policy).
 */
int model_traffic_policy(const struct m_destinationrule *dr, const char *subset, uint16_t port,
			 struct m_tp_settings *out);
/* Istio's and Envoy's defaults for every field an effective policy leaves out
 * (docs/traffic-policy.md lists them). */
void model_policy_defaults(struct m_tp_settings *s);
void model_traffic_policy_free(struct m_traffic_policy *tp);

/* Mesh membership: namespace label skiff.io/mesh=enabled or
 * istio.io/dataplane-mode=ambient, unless the pod opts out with skiff.io/mesh=disabled or
 * istio.io/dataplane-mode=none. */
bool model_pod_in_mesh(const struct model *m, const struct m_pod *p);
/* The namespace carries one of the two enrolment labels. */
bool model_namespace_enrolled(const struct model *m, const char *ns);
/* Why a pod of an enrolled namespace is not a mesh pod ("host network", "opted out by label
 * skiff.io/mesh=disabled"), or NULL when it is one (or its namespace is not enrolled). */
const char *model_pod_opt_out(const struct model *m, const struct m_pod *p);

#include "model/model_http.h"

#endif
