/* SPDX-License-Identifier: Apache-2.0 */
/*
 * skiff-lab: a Kubernetes cluster on one machine, made of network namespaces. The lab plays kubelet
 * (pods: netns + veth + cgroup + process) and controller-manager (pod names, ClusterIPs,
 * EndpointSlices) and writes what an API server would show into skiffd's config directory.
 *
 * Everything the lab creates is recorded in <state>/state before it is created, so that `down`
 * removes it also after a crash.
 */
#ifndef SKIFF_LAB_H
#define SKIFF_LAB_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#define LAB_NAME      64  /* namespace, object and port names (DNS labels are 63) */
#define LAB_POD_NAME  128 /* deployment name + hashes */
#define LAB_LABEL     320 /* label key (prefix/name) or value */
#define LAB_IP	      48
#define LAB_MAX_NODES 250

struct lab_kv {
	char key[LAB_LABEL];
	char val[LAB_LABEL];
};

struct lab_labels {
	struct lab_kv *v;
	size_t n;
};

struct lab_namespace {
	char name[LAB_NAME];
	bool declared; /* from a Namespace document, else created on first use */
	struct lab_labels labels;
};

struct lab_sa {
	char ns[LAB_NAME];
	char name[LAB_NAME];
};

/* A containerPort of a Deployment's pod template. */
struct lab_cport {
	char name[LAB_NAME]; /* "" when unnamed */
	int port;
	char proto[8]; /* TCP, UDP, SCTP */
	int container; /* index into the Deployment's containers */
};

struct lab_container {
	char name[LAB_NAME];
	char image[256];
};

struct lab_deploy {
	char ns[LAB_NAME];
	char name[LAB_NAME];
	int replicas;
	char hash[11];	     /* pod-template-hash: 10 hex of the template */
	char sa[LAB_NAME];   /* serviceAccountName, "default" when unset */
	char node[LAB_NAME]; /* pinned node (nodeName / hostname selector), "" = round-robin */
	struct lab_labels labels;
	struct lab_container *containers;
	size_t ncontainers;
	struct lab_cport *ports;
	size_t nports;
};

struct lab_sport {
	char name[LAB_NAME];
	int port;
	char target[LAB_NAME]; /* number or container port name; "" = same as port */
	char proto[8];
};

struct lab_service {
	char ns[LAB_NAME];
	char name[LAB_NAME];
	bool dual;	   /* dual-stack: also an IPv6 ClusterIP and slice */
	bool headless;	   /* clusterIP: None */
	bool has_selector; /* no selector: no EndpointSlices (user-managed) */
	char ip4[LAB_IP];  /* "" until allocated */
	char ip6[LAB_IP];
	struct lab_labels selector;
	struct lab_sport *ports;
	size_t nports;
};

struct lab_pod {
	char name[LAB_POD_NAME];
	char ns[LAB_NAME];
	char deploy[LAB_NAME];
	char hash[11];
	int node; /* 1..N */
	int host; /* n of 198.18.K.n */
	char uid[37];
	char ip4[LAB_IP];
	char ip6[LAB_IP];
	char netns[LAB_POD_NAME + 8];
	char cgroup[PATH_MAX];
	char veth[16];
	char cmd[32]; /* basename of the process's argv[0], checked before a kill */
	int pid;      /* 0 until started */
};

struct lab_agent {
	int node;
	int pid;
};

/* `up --api`: the test API server that holds the lab's objects, and that every skiffd reads. */
struct lab_api {
	int port;	/* 127.0.0.1:port in the root netns and in every node's netns; 0: no API */
	int pid;	/* the server process (python3 .../fake_apiserver.py) */
	char token[33]; /* bearer token in the kubeconfig */
};

/* The whole lab: what the user asked for plus what the lab made. */
struct lab {
	char state_dir[PATH_MAX];
	char bin_dir[PATH_MAX];
	int nodes;     /* 0: no lab */
	unsigned rr;   /* round-robin cursor for pod placement */
	bool no_agent; /* `up --no-agent`, remembered for apply/restart */
	bool topology; /* fabric and node namespaces recorded */
	struct lab_namespace *ns;
	size_t nns;
	struct lab_sa *sa;
	size_t nsa;
	struct lab_deploy *deploy;
	size_t ndeploy;
	struct lab_service *svc;
	size_t nsvc;
	struct lab_pod *pod;
	size_t npod;
	struct lab_agent *agent;
	size_t nagent;
	struct lab_api api;
};

/* What a set of input files asks for (the Kubernetes part). */
struct lab_spec {
	struct lab_namespace *ns;
	size_t nns;
	struct lab_sa *sa;
	size_t nsa;
	struct lab_deploy *deploy;
	size_t ndeploy;
	struct lab_service *svc;
	size_t nsvc;
};

/* --- util (lab_util.c) --- */
void *lab_push(void *arrp, size_t *n, size_t size); /* append a zeroed element, abort on OOM */
void lab_remove_at(void *arr, size_t *n, size_t size, size_t i);
int lab_run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int lab_run_quiet(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int lab_write_atomic(const char *path, const char *data, size_t len);
int lab_write_file(const char *path, const char *data);
int lab_mkdir_p(const char *path);
int lab_rm_rf(const char *path);
void lab_random_hex(char *out, size_t n);
void lab_random_alnum(char *out, size_t n);
void lab_uuid4(char out[37]);
unsigned long lab_hash(const char *s);
const char *lab_label_get(const struct lab_labels *l, const char *key);
void lab_label_set(struct lab_labels *l, const char *key, const char *val);
void lab_label_del(struct lab_labels *l, const char *key);
void lab_labels_copy(struct lab_labels *dst, const struct lab_labels *src);
void lab_labels_free(struct lab_labels *l);
bool lab_selector_matches(const struct lab_labels *sel, const struct lab_labels *labels);
void lab_path(char *out, const struct lab *lab, const char *sub); /* <state>/<sub> */
/* snprintf that reports truncation (returns -ENAMETOOLONG) instead of warning about it. */
int lab_fmt(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* --- state file (lab_state.c) --- */
int lab_state_load(struct lab *lab); /* -ENOENT when there is no lab */
int lab_state_save(const struct lab *lab);
void lab_free(struct lab *lab);
void lab_deploy_free(struct lab_deploy *d);
void lab_service_free(struct lab_service *s);
struct lab_namespace *lab_ns_find(struct lab *lab, const char *name);
struct lab_namespace *lab_ns_ensure(struct lab *lab, const char *name);
struct lab_deploy *lab_deploy_find(struct lab *lab, const char *ns, const char *name);
struct lab_service *lab_svc_find(struct lab *lab, const char *ns, const char *name);

/* --- manifests (lab_manifest.c, lab_istio.c) --- */
int lab_spec_load(struct lab_spec *spec, char **files, int nfiles);
void lab_spec_free(struct lab_spec *spec);
int lab_istio_apply(const struct lab *lab, const char *file);
int lab_istio_delete(const struct lab *lab, const char *file);

/* --- network namespaces (lab_netns.c, lab_topology.c) --- */
int lab_netns_socket(const char *netns, int domain, int type);
int lab_netns_sysctl(const char *netns, const char *path, const char *val);
int lab_netns_enter(const char *netns);
bool lab_netns_exists(const char *netns);
int lab_topology_up(struct lab *lab);
int lab_pod_net_up(const struct lab *lab, const struct lab_pod *p);
void lab_node_netns(char *out, size_t len, int node);

/* --- cgroups (lab_cgroup.c) --- */
#define LAB_CGROUP_ROOT "/sys/fs/cgroup/unified/skiff-lab"
/* The lab's kubelet: skiff-lab probes pods from this cgroup, and skiffd lets it past STRICT. */
#define LAB_KUBELET_CGROUP LAB_CGROUP_ROOT "/kubelet"
#define LAB_BPFFS_ROOT	   "/sys/fs/bpf/skiff-lab"
int lab_cgroup_create(const char *path);
int lab_cgroup_join(const char *path, int pid);
int lab_cgroup_kill(const char *path);
int lab_cgroup_remove_tree(const char *path);

/* --- pods, services, config, agents (lab_pods.c, lab_services.c, lab_config.c, lab_agent.c) --- */
int lab_pods_reconcile(struct lab *lab);
int lab_pod_stop(struct lab *lab, struct lab_pod *p);
const struct lab_deploy *lab_pod_deploy(const struct lab *lab, const struct lab_pod *p);
int lab_pods_wait_ready(const struct lab *lab, int timeout_ms);
bool lab_pid_matches(int pid, const char *cmd);
int lab_services_allocate(struct lab *lab);
int lab_sport_resolve(const struct lab *lab, const struct lab_pod *p, const struct lab_sport *sp);
int lab_hosts_write(const struct lab *lab);
int lab_config_write(const struct lab *lab);
int lab_agents_start(struct lab *lab);
int lab_agent_start(struct lab *lab, int node);
/* A new skiffd on `node` that takes the running one's listeners over (skiffd --takeover). */
int lab_agent_takeover(struct lab *lab, int node);
/* The node's skiffd run dir (--run-dir): handoff.sock and skiffd.pid. */
void lab_agent_run_dir(char *out, size_t len, const struct lab *lab, int node);
/* node 0: every node's skiffd */
int lab_agents_wait_ready(const struct lab *lab, int node, int timeout_ms);

/* --- the API server (lab_api.c, lab_api_objects.c) --- */
#define LAB_API_CGROUP LAB_CGROUP_ROOT "/apiserver"
int lab_api_start(struct lab *lab);
void lab_api_stop(const struct lab *lab);
void lab_api_kubeconfig_path(char *out, const struct lab *lab);
/* POST one JSON operation to the server's /_control; the answer (caller frees) or NULL. */
char *lab_api_control(const struct lab *lab, const char *json);
/* Publish what the lab's controllers derived (<state>/config/lab-*.yaml) as the server's
 * objects of the "skiff-lab" owner. */
int lab_api_publish(const struct lab *lab);
/* Take namespace labels as the API server holds them (kubectl label changes them there). */
int lab_api_pull_namespaces(struct lab *lab);
int lab_api_istio_apply(const struct lab *lab, const char *file);
int lab_api_istio_delete(const struct lab *lab, const char *file);

/* --- commands (lab_cmd_*.c) --- */
int lab_cmd_up(struct lab *lab, int nodes, bool no_agent, bool api, char **files, int nfiles);
int lab_cmd_kubeconfig(struct lab *lab);
int lab_cmd_apply(struct lab *lab, char **files, int nfiles);
int lab_cmd_delete(struct lab *lab, char **files, int nfiles);
int lab_cmd_label(struct lab *lab, const char *ns, const char *change);
int lab_cmd_status(struct lab *lab);
int lab_cmd_down(struct lab *lab);
int lab_cmd_exec_pod(struct lab *lab, const char *ns, const char *target, char **argv);
int lab_cmd_exec_node(struct lab *lab, const char *node, char **argv);
int lab_cmd_restart_agent(struct lab *lab, const char *node);

#endif
